# SPDX-License-Identifier: MIT
"""upki.x509 in a board-sized heap: the firmware precompiled to .mpy (as boards
run it), the malformed-DER corpus of tests/device/test_x509_malformed.py run
in 96 KB (parsing only) and 128 KB (with signature checks, which bring in
upki.rsa and upki.digest), and the smallest heap that imports x509, parses a
certificate and verifies it, found by bisection (printed; asserted <= 96 KB)."""

import subprocess

import pytest

from host_tools.upki_host.mpybuild import build, mpy_cross
from mpy import DEVICE_TESTS, ROOT, run_micropython

DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def mpy_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpy")
    build(d, keep_going=True)
    for name in ("devtest", "test_x509_malformed"):
        subprocess.run(
            [mpy_cross(), "-o", str(d / (name + ".mpy")), str(DEVICE_TESTS / (name + ".py"))],
            check=True,
        )
    return d


def _run(mpy_dir, code, heap):
    # devtest puts firmware/ (the .py sources) first on the path: drop it so
    # that only the .mpy build is imported
    prelude = (
        "import sys\n"
        "sys.path.insert(0, %r)\n"
        "import devtest\n"
        "sys.path[:] = [p for p in sys.path if not p.endswith('/firmware')]\n"
        "devtest.DATA = %r\n" % (str(mpy_dir), str(DATA))
    )
    return run_micropython(
        ["-c", prelude + code], heap=heap, timeout=120, env={"MICROPYPATH": "%s:.frozen" % mpy_dir}
    )


def test_build_has_the_modules(mpy_dir):
    for m in ("der", "oid", "x509", "rsa", "digest", "errors"):
        assert (mpy_dir / "upki" / (m + ".mpy")).exists(), m


@pytest.mark.parametrize("heap,verify", [("96k", False), ("128k", True)])
def test_malformed_corpus_in_small_heap(mpy_dir, heap, verify):
    r = _run(
        mpy_dir,
        "import upki.x509\nassert upki.x509.__file__.endswith('.mpy'), upki.x509.__file__\n"
        "import test_x509_malformed as t\nt.VERIFY = %s\ndevtest.main(t.__dict__)\n" % verify,
        heap,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "10 passed, 0 failed" in r.stdout, r.stdout


PARSE = """
from upki import x509
leaf = x509.Certificate(devtest.read_data('x509_leaf.der'))
root = x509.Certificate(devtest.read_data('x509_root.der'))
str(leaf.subject); leaf.subject_alt_names; leaf.key_usage; leaf.crl_distribution_points
leaf.fingerprint('sha256')
assert leaf.verify_signature(root)
print('OK')
"""


def test_smallest_heap_for_parse_and_verify(mpy_dir):
    def works(kb):
        r = _run(mpy_dir, PARSE, "%dk" % kb)
        return r.returncode == 0 and "OK" in r.stdout

    assert works(96), "parse + verify does not fit in 96 KB"
    lo, hi = 8, 96  # lo fails, hi works
    assert not works(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if works(mid):
            hi = mid
        else:
            lo = mid
    print(
        "\nsmallest heap to import x509 (.mpy), parse a 2048-bit certificate and verify it: %d KB"
        % hi
    )
