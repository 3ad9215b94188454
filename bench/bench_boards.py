# SPDX-License-Identifier: MIT
"""Boards: flash footprint of the .mpy set per board (mpy-cross with each
board's -march), RAM used by importing what the console imports at boot (the
.mpy build on the Unix port: gc.mem_alloc() difference, and the smallest heap
that boots the console by bisection, also with the code in ROM -- the .mpy
build in a ROMFS image run in place, the heap beside the image, see
bench/run.py), and boot-to-console time of the simulated board (process
start to the `Press RETURN` line), .mpy and .py."""

import os
import subprocess
import tempfile
import time
from pathlib import Path

TITLE = "boards"
ROOT = Path(__file__).resolve().parent.parent
BOOTS = 9

IMPORT_RAM = """
import gc, json
gc.collect()
before = gc.mem_alloc()
from upki import cli
cli.load_features()
import upki.config, upki.nvram, upki.clock
gc.collect()
print(json.dumps({"bytes": gc.mem_alloc() - before}))
"""

# What each module adds to the heap when the boot sequence imports it (the
# first importer of a module pays for it and its imports).
PER_MODULE = """
import gc, json, sys
from upki import features
out = {}
for m in ("upki.cli",) + features.MODULES:
    gc.collect()
    a = gc.mem_alloc()
    __import__(m)
    gc.collect()
    out[m] = gc.mem_alloc() - a
print(json.dumps(out))
"""

BOOT_FITS = """
import sys
sys.path.append(%r)
from board import Board
from upki import cli
b = Board(%r)
b.mount()
router, session, msgs = cli.boot(b)
assert router.hostname == "bench"
print("OK")
"""


def _boot_ms(code_path, image, env):
    cmd = [str(ROOT / ".venv" / "bin" / "micropython"), str(ROOT / "boards" / "unix" / "main.py"),
           str(image)]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                         cwd=str(code_path))
    seen = b""
    while b"Press RETURN" not in seen:
        chunk = p.stdout.read1(4096) if hasattr(p.stdout, "read1") else p.stdout.read(1)
        if not chunk:
            raise RuntimeError("the board did not reach its console: %r" % seen[-300:])
        seen += chunk
    t = (time.perf_counter() - t0) * 1000
    p.stdin.close()
    p.wait(30)
    return t


def run(ctx):
    from host_tools.upki_host import boards

    tmp = Path(tempfile.mkdtemp(prefix="upki-bench-boards-"))
    for name in sorted(boards.BOARDS):
        written = boards.build(name, tmp / name, log=lambda m: None)
        total = sum(p.stat().st_size for p in written)
        extra = sum((tmp / name / f).stat().st_size for f in boards.BOARDS[name]["files"])
        march = boards.mpybuild.BOARD_MARCH[name] or boards.mpybuild.host_march()
        ctx.report("flash: .mpy set, %s (%s)" % (name, march), total, "bytes",
                   "%d modules; + %d bytes board.py/main.py" % (len(written), extra))
    src = sum(p.stat().st_size for p in (ROOT / "firmware" / "upki").glob("*.py"))
    ctx.report("flash: .py sources (for comparison)", src, "bytes")

    r = ctx.micropython_json(IMPORT_RAM, mpy=True)
    ctx.report("RAM: import upki.cli + feature modules (.mpy)", r["bytes"], "bytes",
               "gc.mem_alloc() after gc.collect()")
    per = ctx.micropython_json(PER_MODULE, mpy=True)
    for m, n in sorted(per.items(), key=lambda kv: -kv[1]):
        ctx.report("RAM: boot import of %s (with what it pulls in)" % m, n, "bytes")
    r = ctx.micropython_json(IMPORT_RAM, mpy=False)
    ctx.report("RAM: the same imports from .py", r["bytes"], "bytes")

    # an image with a startup-config, for the boot measurements
    from host_tools.upki_host.nvimage import Image

    img = Image(size=512 * 1024)
    img.write("startup-config", "hostname bench\nip domain-name lab.example\nend\n")
    image = tmp / "bench.img"
    img.save(image)
    kb = ctx.smallest_heap(BOOT_FITS % (str(ROOT / "boards" / "unix"), str(image)), 16, 512)
    ctx.report("RAM: smallest heap that boots to the console (.mpy)", kb, "KB", "bisection")
    kb = ctx.smallest_heap(BOOT_FITS % (str(ROOT / "boards" / "unix"), str(image)), 8, 512,
                           rom=True)
    ctx.report("RAM: smallest heap that boots to the console, code in ROM", kb, "KB",
               "heap beside the ROM image (%d KB)" % ctx.rom_kb)

    for label, path in (("mpy", tmp / "unix"), ("py", ROOT / "firmware")):
        env = dict(os.environ)
        env["MICROPYPATH"] = "%s:%s:.frozen" % (path, ROOT / "boards" / "unix")
        times = [_boot_ms(tmp, image, env) for _ in range(BOOTS)]
        ctx.report("boot to console, Unix port (.%s), median of %d" % (label, BOOTS),
                   ctx.median(times), "ms", "min %.0f, max %.0f" % (min(times), max(times)))
