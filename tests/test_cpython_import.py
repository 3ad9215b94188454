# SPDX-License-Identifier: MIT
"""Every firmware module imports on CPython (with tests/shims), for coverage and fuzzing tools."""

import importlib
import subprocess
import sys

from mpy import FIRMWARE, ROOT


def test_every_firmware_module_imports_on_cpython():
    names = sorted(p.stem for p in (FIRMWARE / "upki").glob("*.py") if p.stem != "__init__")
    assert len(names) >= 20
    code = (
        "import sys; sys.path[:0] = [%r, %r]\n"
        "import importlib\n"
        "for n in %r:\n    importlib.import_module('upki.' + n)\n"
        "print('OK', len(%r))\n" % (str(FIRMWARE), str(ROOT / "tests" / "shims"), names, names)
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "OK %d" % len(names)


def test_no_firmware_module_imports_hardware_at_module_level():
    # DESIGN: board specifics live in boards/<name>/board.py; firmware imports
    # machine/network only inside the functions that need them.
    for path in (FIRMWARE / "upki").glob("*.py"):
        for line in path.read_text().splitlines():
            assert not line.startswith(("import machine", "import network", "from machine",
                                        "from network")), "%s: %s" % (path.name, line)
    importlib.invalidate_caches()
