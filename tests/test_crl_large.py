# SPDX-License-Identifier: MIT
"""Large CRLs on the Unix port, judged by `cryptography`: a 100,000-entry CRL
ingested and looked up with the firmware as .mpy in a 64 KB heap (the issue's
bound), lookups reading at most one page per B-tree level; a 3,000-entry CRL
with tiny runs (several merge passes) where every entry and as many absent
serials are looked up and compared with cryptography's answer."""

import datetime
import random
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from host_tools.upki_host.mpybuild import build, mpy_cross
from mpy import ROOT, run_micropython

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_crl_fixtures as gen  # noqa: E402

DATA = ROOT / "tests" / "data"
NOW = 1780272000


@pytest.fixture(scope="module")
def mpy_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpy")
    build(d, keep_going=True)
    return d


def _issuer():
    cert = x509.load_der_x509_certificate((DATA / "val_int2.der").read_bytes())
    return cert, gen.load_key("x509_key_1024.der")


def _make(tmp_path, count):
    cert, key = _issuer()
    entries, serials = gen.big_entries(count)
    blob = gen.make_crl(cert, key, None, entry_bytes=entries)
    p = tmp_path / ("crl_%d.der" % count)
    p.write_bytes(blob)
    return p, blob, serials, cert


LOOKUP = """
import gc, time
from upki import crl
from upki.nvram import NVRAM
assert crl.__file__.endswith(%(mpy)r), crl.__file__
nv = NVRAM(%(nv)r)
gc.collect()
f = open(%(crl)r, 'rb')
length = f.seek(0, 2)
f.seek(0)
t0 = time.ticks_ms()
info = crl.ingest(nv, 'crl/big', f, length, (%(name)r, (%(n)d, 65537)), now=%(now)d%(extra)s)
f.close()
ms = time.ticks_diff(time.ticks_ms(), t0)
idx = crl.Index(nv, 'crl/big')
worst = 0
q = open(%(queries)r)
for line in q:
    b0 = idx.blocks_read
    r = idx.lookup(int(line, 16))
    worst = max(worst, idx.blocks_read - b0)
    print('R', '-' if r is None else '%%d %%s' %% (r[0], r[1]))
q.close()
print('S', info.count, ms, worst, len(idx.levels))
"""


def _run(tmp_path, crl_path, cert, queries, heap=None, mpy_dir=None, extra=""):
    nv = tmp_path / "nv"
    nv.mkdir(exist_ok=True)
    qf = tmp_path / "queries.txt"
    qf.write_text("".join("%x\n" % s for s in queries))
    code = LOOKUP % {
        "mpy": ".mpy" if mpy_dir else ".py",
        "nv": str(nv),
        "crl": str(crl_path),
        "name": cert.subject.public_bytes(),
        "n": cert.public_key().public_numbers().n,
        "now": NOW,
        "queries": str(qf),
        "extra": extra,
    }
    env = None
    args = ["-c", code]
    if mpy_dir:
        # the driver precompiled too: a board would not compile it in its heap
        driver = tmp_path / "crl_driver.py"
        driver.write_text(code)
        subprocess.run(
            [mpy_cross(), "-o", str(mpy_dir / "crl_driver.mpy"), str(driver)], check=True
        )
        env = {"MICROPYPATH": "%s:.frozen" % mpy_dir}
        args = ["-c", "import crl_driver"]
    r = run_micropython(args, heap=heap, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    results = []
    for line in r.stdout.splitlines():
        if line.startswith("R -"):
            results.append(None)
        elif line.startswith("R "):
            when, reason = line.split()[1:]
            results.append([int(when), None if reason == "None" else int(reason)])
        elif line.startswith("S "):
            count, ms, worst, levels = (int(x) for x in line.split()[1:])
    return {"count": count, "ms": ms, "worst_blocks": worst, "levels": levels,
            "results": results}


def _expected(blob, queries):
    c = x509.load_der_x509_crl(blob)
    out = []
    for s in queries:
        rc = c.get_revoked_certificate_by_serial_number(s)
        if rc is None:
            out.append(None)
            continue
        try:
            reason = rc.extensions.get_extension_for_class(x509.CRLReason).value.reason
            code = list(x509.ReasonFlags).index(reason)
            code = {
                x509.ReasonFlags.unspecified: 0,
                x509.ReasonFlags.key_compromise: 1,
                x509.ReasonFlags.ca_compromise: 2,
                x509.ReasonFlags.affiliation_changed: 3,
                x509.ReasonFlags.superseded: 4,
                x509.ReasonFlags.cessation_of_operation: 5,
                x509.ReasonFlags.certificate_hold: 6,
                x509.ReasonFlags.remove_from_crl: 8,
                x509.ReasonFlags.privilege_withdrawn: 9,
                x509.ReasonFlags.aa_compromise: 10,
            }[reason]
        except x509.ExtensionNotFound:
            code = None
        when = rc.revocation_date_utc.replace(tzinfo=datetime.timezone.utc)
        out.append([int(when.timestamp()), code])
    return out


def test_100k_entries_in_64k_heap(tmp_path, mpy_dir):
    crl_path, blob, serials, cert = _make(tmp_path, 100_000)
    rnd = random.Random(6)
    queries = rnd.sample(serials, 150) + [s ^ 0x10 for s in rnd.sample(serials, 50)]
    queries += [serials[0], serials[-1], min(serials), max(serials), 1, (1 << 80) + 3]
    got = _run(tmp_path, crl_path, cert, queries, heap="64k", mpy_dir=mpy_dir)
    assert got["count"] == 100_000
    assert got["results"] == _expected(blob, queries)
    assert sum(r is not None for r in got["results"]) >= 154
    # 4,000 leaf pages -> 118 -> 4 -> root: one page per level, never more
    assert got["levels"] == 4
    assert got["worst_blocks"] == 4


def test_every_entry_and_absent_serials_with_many_merge_passes(tmp_path):
    crl_path, blob, serials, cert = _make(tmp_path, 3000)
    queries = serials + [s + 1 for s in serials[:500]] + [0, 1, 0x7F, 0x80, 0xFFFF]
    # runs of 5 records merged 3 at a time: 600 runs -> 7 merge passes
    got = _run(tmp_path, crl_path, cert, queries, extra=", run_records=5, fan_in=3")
    assert got["count"] == 3000
    assert got["results"] == _expected(blob, queries)
    assert got["worst_blocks"] <= 3
