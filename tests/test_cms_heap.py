# SPDX-License-Identifier: MIT
"""upki.cms in a board-sized heap, with the firmware precompiled to .mpy as
boards run it: the board's half of a SCEP exchange (PKCSReq: envelope a
1000-byte request for the RA with AES-128, sign it with SCEP attributes;
CertRep: verify the RA's signature, open the 3DES envelope, read the
certs-only reply) is run in bisected heaps and timed.  Figures are printed
(pytest -s); the asserts are bounds that catch a regression."""

import json
import subprocess

import pytest

from host_tools.upki_host.mpybuild import build
from mpy import ROOT, run_micropython

DATA = ROOT / "tests" / "data"

PRELUDE = """
import gc, time
from upki import cms, der, rsa
D = %r
def rd(n):
    with open(n if n[:1] == '/' else D + '/' + n, 'rb') as f:
        return f.read()
PS = lambda s: der.encode_string(0x13, s)
"""

MAKE_CERTREP = """
mine = rd('x509_leaf.der')
ra_key = rsa.PrivateKey.from_der(rd('x509_key_2048b.der'))
env = cms.envelope(cms.certs_only([mine]), mine, 'des-ede3-cbc')
rep = cms.sign(env, rd('x509_root.der'), ra_key, 'sha256', [('messageType', PS('3')),
    ('pkiStatus', PS('0')), ('recipientNonce', der.encode_octet_string(b'n' * 16)),
    ('transactionID', PS('A' * 64)), ('senderNonce', der.encode_octet_string(b'r' * 16))])
with open(%r, 'wb') as f:
    f.write(rep)
"""

# the board's side: key and certificates loaded, then build, then parse
CYCLE = """
key = rsa.PrivateKey.from_der(rd('x509_key_2048.der'))
mine = rd('x509_leaf.der')
ra = rd('x509_root.der')
csr = rd('cms_content.bin')[:1000]
T = {}
gc.collect()
t0 = time.ticks_us()
env = cms.envelope(csr, ra, 'aes128-cbc')
t1 = time.ticks_us()
req = cms.sign(env, mine, key, 'sha256', [('messageType', PS('19')),
    ('transactionID', PS('A' * 64)), ('senderNonce', der.encode_octet_string(b'n' * 16))])
t2 = time.ticks_us()
T['pkcsreq_bytes'] = len(req)
env = req = None
gc.collect()
rep = rd(%r)
t3 = time.ticks_us()
s = cms.verify(rep, (ra,))
assert s.attributes['pkiStatus'] == '0' and s.attributes['recipientNonce'] == b'n' * 16
t4 = time.ticks_us()
plain = cms.open_envelope(s.content, key, mine)
t5 = time.ticks_us()
certs = cms.read_certs_only(plain)
t6 = time.ticks_us()
assert bytes(certs[0]) == mine
T['envelope_ms'] = time.ticks_diff(t1, t0) / 1000
T['sign_ms'] = time.ticks_diff(t2, t1) / 1000
T['verify_ms'] = time.ticks_diff(t4, t3) / 1000
T['open_envelope_ms'] = time.ticks_diff(t5, t4) / 1000
T['read_certs_only_ms'] = time.ticks_diff(t6, t5) / 1000
T['certrep_bytes'] = len(rep)
print(json.dumps(T))
print('OK')
"""

IMPORT_COST = """
import json
from upki import der, digest, oid, rsa, cipher, x509
gc.collect()
f0 = gc.mem_free()
from upki import cms
gc.collect()
assert cms.__file__.endswith('.mpy'), cms.__file__
print(json.dumps({'cms_import_bytes': f0 - gc.mem_free()}))
"""


@pytest.fixture(scope="module")
def mpy_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpy")
    build(d, keep_going=True)
    assert (d / "upki" / "cms.mpy").exists()
    return d


def _run(mpy_dir, code, heap=None):
    return run_micropython(
        ["-c", "import json\n" + PRELUDE % str(DATA) + code],
        heap=heap,
        timeout=120,
        env={"MICROPYPATH": "%s:.frozen" % mpy_dir},
    )


@pytest.fixture(scope="module")
def certrep(mpy_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("rep") / "certrep.der"
    r = _run(mpy_dir, MAKE_CERTREP % str(path))
    assert r.returncode == 0, r.stderr
    return path


def test_cms_import_cost(mpy_dir):
    r = run_micropython(
        ["-c", "import gc\n" + IMPORT_COST],
        timeout=120,
        env={"MICROPYPATH": "%s:.frozen" % mpy_dir},
    )
    assert r.returncode == 0, r.stderr
    cost = json.loads(r.stdout.strip().splitlines()[-1])["cms_import_bytes"]
    print("\nheap taken by importing upki.cms (.mpy, its imports already loaded): %d bytes" % cost)
    assert cost < 28000


def test_scep_cycle_time(mpy_dir, certrep):
    r = _run(mpy_dir, CYCLE % str(certrep))
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr
    t = json.loads(r.stdout.strip().splitlines()[-2])
    print("\nboard side of PKCSReq/CertRep (2048-bit keys, .mpy): %s" % t)
    assert 2500 < t["pkcsreq_bytes"] < 4500 and 2500 < t["certrep_bytes"] < 4500
    # a private-key operation each for sign and open_envelope (~0.1 s here); the
    # rest is hashing, AES/3DES and public-key checks
    assert t["sign_ms"] < 3000 and t["open_envelope_ms"] < 3000
    assert t["envelope_ms"] < 1000 and t["verify_ms"] < 1000


def test_scep_cycle_smallest_heap(mpy_dir, certrep):
    def works(kb):
        r = _run(mpy_dir, CYCLE % str(certrep), "%dk" % kb)
        return r.returncode == 0 and "OK" in r.stdout

    # code dominates: der, x509, rsa, digest, cipher and cms as .mpy take
    # about 98 KB of a Unix-port heap before any data (frozen on a board, far less)
    assert works(192), "the board's half of a SCEP exchange does not fit in 192 KB"
    lo, hi = 64, 192
    assert not works(lo)
    while hi - lo > 4:
        mid = (lo + hi) // 2
        if works(mid):
            hi = mid
        else:
            lo = mid
    print("\nsmallest heap for PKCSReq build + CertRep parse (.mpy, code included): %d KB" % hi)
    assert hi <= 160


def test_sweep_runs_in_the_small_heap(mpy_dir):
    # a failure path in a tight heap is still a clean CryptoError, not a crash
    r = _run(
        mpy_dir,
        "from upki.errors import PKIError\n"
        "data = rd('cms_signed_sha256.der')\n"
        "n = 0\n"
        "for i in range(0, len(data), 7):\n"
        "    b = bytearray(data); b[i] ^= 0x40\n"
        "    try:\n"
        "        cms.verify(bytes(b))\n"
        "    except PKIError:\n"
        "        n += 1\n"
        "print('refused', n)\n",
        "160k",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert int(r.stdout.split()[-1]) > 100


def test_mpy_build_compiles_for_board_archs(tmp_path):
    # cms has no native code, but must compile for the boards' archs too
    for arch in ("xtensawin", "armv6m"):
        from host_tools.upki_host.mpybuild import mpy_cross

        out = tmp_path / ("cms_%s.mpy" % arch)
        subprocess.run(
            [mpy_cross(), "-march=" + arch, "-o", str(out), str(ROOT / "firmware/upki/cms.py")],
            check=True,
        )
        assert out.stat().st_size > 1000
