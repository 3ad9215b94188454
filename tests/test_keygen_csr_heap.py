# SPDX-License-Identifier: MIT
"""Issue 3's heap target on the Unix port: with the firmware precompiled to
.mpy (as boards run it), key generation followed by the IOS certificate
request (csr.ios_request with subject-name, serial number, IP address,
password, SAN and keyUsage) succeeds in `-X heapsize=64k`.

The 2048-bit key comes from a fixed seed (bench_rsa's b"heap23", which finds
both primes within a few candidates, so the run is quick; the memory one
candidate needs does not depend on how many came before); the 1024-bit key
from os.urandom.  The control: the same script fails for want of heap in
24 KB, so the heapsize flag does bind.  bench/bench_rsa.py bisects the
smallest heap (docs/KEYS.md has the figure)."""

import pytest

from host_tools.upki_host.mpybuild import build
from mpy import run_micropython

from bench.bench_rsa import SEEDED  # noqa: E402  (the bench's deterministic randbytes)

# as `crypto key generate` then `crypto ca enroll`: csr imported after keygen
KEYGEN_CSR = SEEDED + """
import os, sys
from upki import rsa
key = rsa.generate(BITS, randbytes=RANDBYTES)
assert key.bits == BITS
assert "upki.primes" not in sys.modules  # generate() unloads what it loaded
from upki import csr
req = csr.ios_request(key, "r1.lab.example.com", subject_name="OU=lab, O=cisco, C=US",
                      serial_number="FTX1234ABCD", ip_address="10.1.1.1",
                      challenge_password="cisco123")
assert req[0] == 0x30 and len(req) > 300
assert "upki.der" not in sys.modules and "upki.sha512" not in sys.modules
assert "upki.rsacodec" not in sys.modules
print("OK", req.hex())
"""


@pytest.fixture(scope="module")
def mpy_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpy")
    build(d, keep_going=True)
    return d


def _run(mpy_dir, bits, randbytes, heap):
    code = KEYGEN_CSR.replace("BITS", str(bits)).replace("RANDBYTES", randbytes)
    return run_micropython(
        ["-c", code], heap=heap, timeout=300, env={"MICROPYPATH": str(mpy_dir)}
    )


@pytest.mark.parametrize(
    "bits,randbytes", [(2048, 'Seeded(b"heap23")'), (1024, "os.urandom")], ids=["2048", "1024"]
)
def test_keygen_then_csr_in_64k(mpy_dir, bits, randbytes):
    r = _run(mpy_dir, bits, randbytes, "64k")
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr
    req = bytes.fromhex(r.stdout.split("OK", 1)[1].strip())
    # the request is a real one: cryptography reads it and its signature checks
    from cryptography import x509

    csr = x509.load_der_x509_csr(req)
    assert csr.is_signature_valid
    assert csr.public_key().key_size == bits
    cn = csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert [a.value for a in cn] == ["r1.lab.example.com"]


def test_heap_limit_binds(mpy_dir):
    r = _run(mpy_dir, 2048, 'Seeded(b"heap23")', "24k")
    assert r.returncode != 0 and "MemoryError" in r.stdout + r.stderr
