# SPDX-License-Identifier: MIT
"""upki.csr in a board-sized heap: with the firmware precompiled to .mpy (as
boards run it), the smallest -X heapsize that loads a 2048-bit key and builds
the full IOS request (subject-name, serial number, IP address, password,
SAN, keyUsage) is found by bisection; printed, and asserted <= 96 KB."""

import pytest

from host_tools.upki_host.mpybuild import build
from mpy import ROOT, run_micropython

# gc.collect() after the key load, as enrollment does after key generation:
# without it, garbage of the key check pinned by the conservative collector
# decides the figure, not the request.
BUILD = """
import gc
from upki import csr, rsa
key = rsa.PrivateKey.from_der(open(%r, 'rb').read())
gc.collect()
req = csr.ios_request(key, 'r1.lab.example.com', subject_name='OU=lab, O=cisco, C=US',
                      serial_number='FTX1234ABCD', ip_address='10.1.1.1',
                      challenge_password='cisco123')
assert req[0] == 0x30 and len(req) > 600
print('OK')
""" % str(ROOT / "tests" / "data" / "x509_key_2048.der")


@pytest.fixture(scope="module")
def mpy_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpy")
    build(d, keep_going=True)
    return d


def test_smallest_heap_for_csr_build(mpy_dir):
    def works(kb):
        r = run_micropython(
            ["-c", BUILD], heap="%dk" % kb, timeout=60, env={"MICROPYPATH": str(mpy_dir)}
        )
        return r.returncode == 0 and "OK" in r.stdout

    assert works(96), "key load + CSR build does not fit in 96 KB"
    lo, hi = 8, 96  # lo fails, hi works
    assert not works(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if works(mid):
            hi = mid
        else:
            lo = mid
    print("\nsmallest heap to load a 2048-bit key and build the IOS CSR (.mpy): %d KB" % hi)
