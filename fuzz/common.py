# SPDX-License-Identifier: MIT
"""Shared harness of the fuzz targets (fuzz/fuzz_<parser>.py).

A target module defines:

    ALLOWED = (PKIError, ...)   # the documented exceptions a parser may raise
    def one(data): ...          # feed one input; let anything else escape

and ends with `if __name__ == "__main__": common.main(one)`. Run as a script
it fuzzes with atheris (libFuzzer options on the command line, see run.py);
imported (tests/test_fuzz_smoke.py) it is plain Python.

The firmware runs here on CPython with tests/shims on the path, as the design
promises of every firmware module. Only upki modules are instrumented, so the
coverage figures are edges inside the firmware, not inside the stdlib.
"""

import contextlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
DATA = ROOT / "tests" / "data"

for _p in (str(ROOT / "tests" / "shims"), str(ROOT / "firmware")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

if not hasattr(os, "ilistdir"):
    # MicroPython's os.ilistdir (name, type, inode[, size]); type 0x4000 = directory.
    def _ilistdir(path="."):
        for entry in os.scandir(path):
            yield (entry.name, 0x4000 if entry.is_dir() else 0x8000, 0)

    os.ilistdir = _ilistdir

if not hasattr(time, "ticks_ms"):
    # MicroPython's tick counters (upki.http keeps its deadline with them)
    time.ticks_ms = lambda: time.monotonic_ns() // 1000000
    time.ticks_us = lambda: time.monotonic_ns() // 1000
    time.ticks_diff = lambda a, b: a - b
    time.ticks_add = lambda a, b: a + b


def _fuzzing():
    main = sys.modules.get("__main__")
    name = os.path.basename(getattr(main, "__file__", "") or "")
    return name.startswith("fuzz_")


def instrumented():
    """Context for the target's upki imports: atheris-instrumented when the
    target runs as the fuzzer, a no-op when the smoke test imports it."""
    if _fuzzing():
        import atheris

        return atheris.instrument_imports(include=["upki"])
    return contextlib.nullcontext()


class Finding(Exception):
    """A parser broke its contract without raising (e.g. the console reported
    an internal error, or an output that must be bytes was something else)."""


def main(one):
    import atheris

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


def scratch(name):
    """A scratch directory for a target's flash, removed when the process ends."""
    import atexit
    import shutil
    import tempfile

    d = tempfile.mkdtemp(prefix="upki-fuzz-%s-" % name)
    atexit.register(shutil.rmtree, d, True)
    return d


def seeds(target):
    """The seed corpus of a target: a list of bytes (sorted by file name)."""
    d = CORPUS / target
    return [p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()]


def split(data, n):
    """Cut data in n pieces at the first n-1 NUL-free separators b'\\n--\\n'
    (used by targets that take more than one input); missing pieces are b''."""
    parts = data.split(b"\n--\n", n - 1)
    return parts + [b""] * (n - len(parts))
