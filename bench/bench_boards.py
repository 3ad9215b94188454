# SPDX-License-Identifier: MIT
"""Boards: flash footprint of the .mpy set per board (mpy-cross with each
board's -march), RAM used by importing what the console imports at boot (the
.mpy build on the Unix port: gc.mem_alloc() difference, and the smallest heap
that boots the console by bisection, also with the code in ROM -- the .mpy
build in a ROMFS image run in place, the heap beside the image, see
bench/run.py), and boot-to-console time of the simulated board (process
start to the `Press RETURN` line), .mpy and .py.

The import RAM rows also give their qstr share (micropython.qstr_info()):
interned names live in qstr pools that grow by doubling, so an import that
crosses a pool boundary pays the whole next pool at once (3 KB and more on
the Unix port). Which of .mpy and .py crosses a boundary first can flip
their order between two versions of the firmware; the rows "less their
qstrs" compare code and objects alone. There .mpy is about 1.2 KB larger:
a loaded .mpy module keeps a table of the qstrs it uses (2 bytes each),
where code compiled on the board holds them inline; .py interns more names
instead (its local variables' too)."""

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

TITLE = "boards"
ROOT = Path(__file__).resolve().parent.parent
BOOTS = 9

IMPORT_RAM = """
import gc, json, micropython
gc.collect()
micropython.qstr_info()
before = gc.mem_alloc()
from upki import cli
cli.load_features()
import upki.config, upki.nvram, upki.clock
gc.collect()
after = gc.mem_alloc()
micropython.qstr_info()
print(json.dumps({"bytes": after - before}))
"""

# micropython.qstr_info()'s line: n_total_bytes is the pools' heap blocks
# (with their unused capacity) plus the interned strings' bytes.
_QSTR_INFO = re.compile(r"qstr pool: n_pool=(\d+), n_qstr=(\d+), n_str_data_bytes=(\d+), "
                        r"n_total_bytes=(\d+)")

# What each module adds to the heap when the boot sequence imports it (the
# first importer of a module pays for it and its imports).
PER_MODULE = """
import gc, json, micropython, sys
from upki import features
out = {}
micropython.qstr_info()
for m in ("upki.cli",) + features.MODULES:
    gc.collect()
    a = gc.mem_alloc()
    __import__(m)
    gc.collect()
    out[m] = gc.mem_alloc() - a
    print("MODULE", m)
    micropython.qstr_info()
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


def _qstr_infos(out):
    """[(pools, qstrs, pool bytes, string bytes)] from each qstr_info() line in out."""
    rows = []
    for m in _QSTR_INFO.finditer(out):
        pools, qstrs, data, total = (int(x) for x in m.groups())
        rows.append((pools, qstrs, total - data, data))
    return rows


def _import_ram(ctx, mpy):
    """(bytes, qstr bytes, new qstrs, new pools) of the boot imports."""
    out = ctx.micropython(IMPORT_RAM, mpy=mpy)
    total = json.loads(out.strip().splitlines()[-1])["bytes"]
    (p0, n0, pool0, data0), (p1, n1, pool1, data1) = _qstr_infos(out)
    return total, (pool1 - pool0) + (data1 - data0), n1 - n0, p1 - p0


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

    ram = {}
    for label, mpy in (("mpy", True), ("py", False)):
        ram[label] = _import_ram(ctx, mpy)
    for label, title in (("mpy", "RAM: import upki.cli + feature modules (.mpy)"),
                         ("py", "RAM: the same imports from .py")):
        total, qstr_bytes, names, pools = ram[label]
        ctx.report(title, total, "bytes",
                   "gc.mem_alloc() after gc.collect(); %d of them qstrs (%d names, %d new pools)"
                   % (qstr_bytes, names, pools))
    for label in ("mpy", "py"):
        total, qstr_bytes, _names, _pools = ram[label]
        ctx.report("RAM: the same imports less their qstrs (.%s)" % label, total - qstr_bytes,
                   "bytes", "code and objects; a .mpy module adds a 2-byte entry per name it uses"
                   if label == "mpy" else "code and objects")

    out = ctx.micropython(PER_MODULE, mpy=True)
    per = json.loads(out.strip().splitlines()[-1])
    infos = _qstr_infos(out)
    step = {}  # module -> bytes of the qstr pool its import allocated
    for m, before, after in zip(re.findall(r"^MODULE (\S+)", out, re.M), infos, infos[1:]):
        if after[0] > before[0]:
            step[m] = after[2] - before[2]
    for m, n in sorted(per.items(), key=lambda kv: -kv[1]):
        ctx.report("RAM: boot import of %s (with what it pulls in)" % m, n, "bytes",
                   ("includes a new qstr pool of %d bytes that later imports fill" % step[m])
                   if m in step else "")

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
