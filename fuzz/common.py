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

Every upki module is instrumented, whenever it is imported: the firmware loads
much of its code late (rsa loads rsacodec to read a key, sceprep loads cms and
cmsenv, the console loads a command's module when it runs) and unloads it again
(upki.forget), so an import hook active only around the target's own imports
would miss most of what a target reaches. instrumented() installs, for the whole
process, a finder that serves every upki module from one code object per module,
compiled and instrumented at its first import (atheris registers the counters
of code instrumented while it fuzzes): a module unloaded and imported again
runs the same instrumented code, and so counts on the same coverage counters
(instrumenting it again would give it new counters, new "coverage" at every
re-import, and leak). The smoke run (fuzz/smoke.py, without atheris) installs
the same finder with nothing instrumented and checks that every upki module a
target loaded came through it (uninstrumented()).
"""

import contextlib
import importlib.machinery
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


_CODE = {}  # module name -> its code object, compiled (and instrumented) once per process
_patch = None  # atheris.patch_code when fuzzing


def _code(fullname, path):
    code = _CODE.get(fullname)
    if code is None:
        code = compile(Path(path).read_bytes(), str(path), "exec", dont_inherit=True)
        if _patch is not None:
            code = _patch(code, True)  # as atheris.instrument_imports does (trace_dataflow)
        _CODE[fullname] = code
    return code


class _Loader(importlib.machinery.SourceFileLoader):
    """A upki module's loader: its code comes from _CODE (see the module docstring)."""

    def get_code(self, fullname):
        return _code(fullname, self.path)


class _Finder:
    """First on sys.meta_path: every upki module is loaded by _Loader."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "upki" and not fullname.startswith("upki."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _Loader(fullname, spec.origin)
        return spec

    def invalidate_caches(self):
        pass


def instrumented():
    """Install the upki finder for the whole process (once), instrumenting when
    the target runs as the fuzzer; returns a no-op context (the targets import
    their upki modules inside it)."""
    global _patch
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        loaded = sorted(m for m in sys.modules if m == "upki" or m.startswith("upki."))
        if loaded and _fuzzing():
            raise RuntimeError("upki modules imported before the fuzz harness: %s" % loaded)
        if _fuzzing():
            import atheris

            _patch = atheris.patch_code
        sys.meta_path.insert(0, _Finder())
    return contextlib.nullcontext()


def instrumented_modules():
    """The names of the upki modules compiled by the harness so far."""
    return sorted(_CODE)


def uninstrumented():
    """The upki modules loaded now that did not come through the harness's
    finder (their code is not instrumented): must be empty."""
    return sorted(name for name, mod in list(sys.modules.items())
                  if (name == "upki" or name.startswith("upki."))
                  and not isinstance(getattr(mod, "__loader__", None), _Loader))


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
