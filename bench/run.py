# SPDX-License-Identifier: MIT
"""upki benchmarks (`make bench`): run bench/bench_*.py and print one table.

    .venv/bin/python bench/run.py [NAME ...]      # e.g. `rsa` runs bench_rsa.py only

A benchmark module is bench/bench_<name>.py with

    TITLE = "RSA"                      # optional
    def run(ctx): ...                  # measure, and report with ctx.report(...)

ctx.report(metric, value, unit="", note="") adds a row to the table; values
are figures measured in this run (times, ratios between two times of this
run, heap sizes), never compared with a fixed threshold: benchmarks print,
tests assert.  ctx also offers:

    ctx.micropython(code, heap=None, mpy=False, timeout=600) -> stdout (str)
        run a snippet on the MicroPython Unix port with firmware/ on the path,
        or (mpy=True) with only the .mpy build of the firmware (as boards run it)
    ctx.micropython_json(code, ...) -> the JSON document its last line prints
    ctx.mpy_dir -> the firmware compiled to .mpy (built once per run)
    ctx.rom_image -> that build packed into a ROMFS image (lib/upki/*.mpy), built once per run
    ctx.heap_fits(code, kb, rom=False) -> bool: the snippet prints OK with -X heapsize=<kb>k
        (.mpy build)
    ctx.smallest_heap(code, lo_kb, hi_kb, rom=False) -> the smallest such kb, by bisection
    ctx.median(values)

Code in ROM (rom=True; also ctx.micropython(..., rom=True)) models a board
that keeps its code in flash, frozen into the firmware or in a ROMFS
partition: the snippet runs after ROM_LOADER, which reads ctx.rom_image into
one buffer allocated first and mounts it at /rom (/rom/lib first on
sys.path), so the .mpy bytecode runs in place from the image; MICROPYPATH
then holds no firmware at all (nothing can come from the .mpy directory or
the sources).  The Unix port cannot map flash, so that buffer sits in the GC
heap: heap_fits passes -X heapsize=<kb + the image size in KB>k, and kb is
the heap *beside* the ROM image -- what a board with its code in flash
needs.  Report such figures as "heap beside the ROM image".

A module that raises is reported as failed and the others still run.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
FIRMWARE = ROOT / "firmware"
sys.path.insert(0, str(ROOT))


# Prefixed to a snippet in ROM mode: first thing in the process, so the image
# buffer is one block at the start of the heap (as a flash mapping costs none).
ROM_LOADER = """import gc, sys, vfs
_rom = bytearray(%(size)d)
_f = open(%(path)r, "rb")
_f.readinto(_rom)
_f.close()
del _f
vfs.mount(vfs.VfsRom(_rom), "/rom")
sys.path.insert(0, "/rom/lib")
"""


def _micropython_bin():
    exe = Path(sys.executable).parent / "micropython"
    return str(exe) if exe.exists() else "micropython"


class Context:
    def __init__(self):
        self.rows = []
        self.module = None
        self._mpy_dir = None
        self._rom_image = None
        self._tmp = tempfile.TemporaryDirectory(prefix="upki-bench-")

    # -- reporting

    def report(self, metric, value, unit="", note=""):
        self.rows.append((self.module, metric, value, unit, note))
        print("  %-46s %s %s" % (metric, _fmt(value), unit), flush=True)

    @staticmethod
    def median(values):
        v = sorted(values)
        n = len(v)
        if not n:
            raise ValueError("median of nothing")
        return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2

    # -- running firmware on the Unix port

    @property
    def mpy_dir(self):
        if self._mpy_dir is None:
            from host_tools.upki_host.mpybuild import build

            d = Path(self._tmp.name) / "mpy"
            build(d, keep_going=True)
            self._mpy_dir = d
        return self._mpy_dir

    @property
    def rom_image(self):
        """The .mpy build (ctx.mpy_dir) as a ROMFS image file; built once per run."""
        if self._rom_image is None:
            from host_tools.upki_host.mpybuild import write_romfs

            path = Path(self._tmp.name) / "upki.romfs"
            write_romfs(sorted((self.mpy_dir / "upki").glob("*.mpy")), path)
            self._rom_image = path
        return self._rom_image

    @property
    def rom_kb(self):
        """The ROM image size in KB (rounded up): what ROM mode adds to -X heapsize."""
        return (self.rom_image.stat().st_size + 1023) // 1024

    def rom_code(self, code):
        """code preceded by the loader that mounts ctx.rom_image at /rom."""
        img = self.rom_image
        return ROM_LOADER % {"size": img.stat().st_size, "path": str(img)} + code

    def _run(self, code, heap=None, mpy=False, timeout=600, rom=False):
        env = dict(os.environ)
        if rom:
            env["MICROPYPATH"] = ".frozen"  # all of upki comes from /rom
            code = self.rom_code(code)
        else:
            path = str(self.mpy_dir) if mpy else str(FIRMWARE)
            env["MICROPYPATH"] = path + ":.frozen"
        cmd = [_micropython_bin()]
        if heap:
            cmd += ["-X", "heapsize=%s" % heap]
        cmd += ["-c", code]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=self._tmp.name
        )

    def micropython(self, code, heap=None, mpy=False, timeout=600, rom=False):
        """rom=True: code in ROM (see above); heap is then passed as given."""
        r = self._run(code, heap, mpy, timeout, rom)
        if r.returncode != 0:
            raise RuntimeError(
                "micropython failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr)
            )
        return r.stdout

    def micropython_json(self, code, heap=None, mpy=False, timeout=600, rom=False):
        out = self.micropython(code, heap, mpy, timeout, rom)
        return json.loads(out.strip().splitlines()[-1])

    def heap_fits(self, code, kb, timeout=600, rom=False):
        """code prints OK with kb KB of heap (.mpy build); rom=True: kb beside the ROM image."""
        heap = kb + self.rom_kb if rom else kb
        r = self._run(code, "%dk" % heap, mpy=True, timeout=timeout, rom=rom)
        return r.returncode == 0 and r.stdout.strip().endswith("OK")

    def smallest_heap(self, code, lo_kb, hi_kb, timeout=600, rom=False):
        """Smallest heap (KB) in (lo_kb, hi_kb] with which code prints OK; None if hi_kb fails.
        rom=True: code in ROM, the heap beside the ROM image."""
        if not self.heap_fits(code, hi_kb, timeout, rom):
            return None
        if self.heap_fits(code, lo_kb, timeout, rom):
            return lo_kb
        while hi_kb - lo_kb > 1:
            mid = (lo_kb + hi_kb) // 2
            if self.heap_fits(code, mid, timeout, rom):
                hi_kb = mid
            else:
                lo_kb = mid
        return hi_kb


def _fmt(v):
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return "%.3g" % v
    return str(v)


def discover(names):
    mods = sorted(p.stem[len("bench_") :] for p in BENCH.glob("bench_*.py"))
    if names:
        unknown = [n for n in names if n not in mods]
        if unknown:
            raise SystemExit("no benchmark %s (have: %s)" % (", ".join(unknown), ", ".join(mods)))
        mods = [m for m in mods if m in names]
    return mods


def load(name):
    spec = importlib.util.spec_from_file_location("bench_" + name, BENCH / ("bench_%s.py" % name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv):
    ctx = Context()
    failed = []
    t0 = time.perf_counter()
    for name in discover(argv):
        mod = load(name)
        ctx.module = getattr(mod, "TITLE", name)
        print("== %s" % ctx.module, flush=True)
        t = time.perf_counter()
        try:
            mod.run(ctx)
        except Exception:
            failed.append(name)
            traceback.print_exc()
            ctx.report("FAILED", "see traceback above")
        print("   (%.0f s)" % (time.perf_counter() - t), flush=True)
    print()
    print("upki benchmarks (%.0f s)" % (time.perf_counter() - t0))
    w = max([len(r[1]) for r in ctx.rows] + [6])
    header = "%-12s %-*s %12s  %-10s %s" % ("module", w, "metric", "value", "unit", "note")
    print(header)
    print("-" * len(header))
    for module, metric, value, unit, note in ctx.rows:
        print("%-12s %-*s %12s  %-10s %s" % (module, w, metric, _fmt(value), unit, note))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
