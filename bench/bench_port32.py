# SPDX-License-Identifier: MIT
"""port32: the heap figures on a 32-bit MicroPython.

Every heap figure in the project is measured on the MicroPython Unix port,
which is 64-bit, while the boards (ESP32, RP2040) are 32-bit: pointers and
object headers are half the size there.  This benchmark runs the same import
snippets on a 32-bit MicroPython of the same version -- the WebAssembly port
(npm package @micropython/micropython-webassembly-pyscript@1.29.0-6,
MicroPython 1.29, run by node) -- and on the Unix port in
the same run, both with the .mpy build in the heap and with the code in ROM
(the ROMFS image mounted with vfs.VfsRom, run in place), and reports the
gc.mem_alloc() difference of each and the ratio 32-bit / 64-bit per mode: the
factor to apply to the Unix-port figures for a board.  Also the qstrs the
imports add (micropython.qstr_info()).

The wasm port lacks os.urandom (upki.rsa / upki.cmswrite need it at import
only: a stand-in is set before the measurement), cryptolib, socket, and its
hashlib has only sha256; its gc.mem_free() is meaningless, so only
gc.mem_alloc() differences are used.  Its heap grows instead of collecting and
gc.collect() only takes effect when runPython() returns (see TOPLEVEL): the
driver runs the snippet in chunks so that each gc.mem_alloc() follows a real
collection (before that, garbage of the imports was counted: ratios were
~0.1-0.2 higher).  The wasm qstr count then also holds the ~11 names of the
snippet's later chunks, compiled after the first qstr_info() (on the Unix port
the whole snippet is compiled first).  The console's boot imports (cli and its
features) need none of these; both ports must import the same upki modules.  The package is installed once into
.cache/wasm32 (needs node and npm; without them one "not measured" row).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

TITLE = "port32"
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "wasm32"
PACKAGE = "@micropython/micropython-webassembly-pyscript"
VERSION = "1.29.0-6"
WASM_HEAP_KB = 2048  # honoured by the wasm port (a larger bytearray raises MemoryError)

ENROLL = ("errors,der,oid,x509,digest,rsa,http,net,nvram,clock,config,trustpoint,keys,scep,"
          "enroll,enrollca,scepca,cmsbase,cmsread,csr,scepreq,sceprep,cmswrite,cmsenv").split(",")

# bench_boards.IMPORT_RAM: what the console imports at boot
BOOT = ("from upki import cli\n"
        "cli.load_features()\n"
        "import upki.config, upki.nvram, upki.clock\n")

# The measured snippet: identical text on both ports (so the qstrs its own
# compilation interns are the same), the imports between two gc.mem_alloc(),
# each after a collection (on wasm: at a TOPLEVEL chunk boundary).
SNIPPET = """
import gc, json, micropython, os, sys
if not hasattr(os, "urandom"):
    os.urandom = lambda n: bytes(n)
micropython.qstr_info()
gc.collect()
#@toplevel
_a = gc.mem_alloc()
%s
gc.collect()
#@toplevel
_b = gc.mem_alloc()
micropython.qstr_info()
print(json.dumps({"bytes": _b - _a,
                  "modules": sorted(m for m in sys.modules if m.startswith("upki"))}))
"""

# A line that ends a runPython() chunk on the wasm port (a comment elsewhere).
# The pyscript variant is built with MICROPY_GC_SPLIT_HEAP_AUTO: gc.collect()
# inside a runPython() call only marks a collection pending, done when the
# call returns to JS (the C stack is not scanned), and the heap grows in new
# areas instead of collecting -- so heapsize is no bound, and garbage made
# within a chunk stays counted until the chunk ends.
TOPLEVEL = "#@toplevel"

DRIVER = r"""// written by bench/bench_port32.py: run a snippet on the wasm32 MicroPython
// node driver.mjs HEAP_KB mpy|rom PATH CODEFILE [SHIMDIR]
// CODEFILE is run in chunks split at TOPLEVEL lines, one runPython() each: the
// port collects garbage only between them (a chunk that called gc.collect()).
// SHIMDIR: its shim.mjs install(mp) runs first and its lib/ is copied to /lib.
import { loadMicroPython } from "%s";
import fs from "node:fs";
import path from "node:path";
import url from "node:url";
const [heapKb, mode, src, codeFile, shimDir] = process.argv.slice(2);
const out = (l) => console.log(l);
const mp = await loadMicroPython({ heapsize: parseInt(heapKb) * 1024, stdout: out, stderr: out });
function copy(dir, dest) {
  mp.FS.mkdirTree(dest);
  for (const n of fs.readdirSync(dir)) {
    const p = path.join(dir, n);
    if (fs.statSync(p).isDirectory()) copy(p, dest + "/" + n);
    else mp.FS.writeFile(dest + "/" + n, fs.readFileSync(p));
  }
}
if (mode === "mpy") copy(src, "/lib");
else mp.FS.writeFile("/upki.romfs", fs.readFileSync(src));
if (shimDir) {
  (await import(url.pathToFileURL(path.join(shimDir, "shim.mjs")).href)).install(mp);
  copy(path.join(shimDir, "lib"), "/lib");
}
try {
  for (const chunk of fs.readFileSync(codeFile, "utf8").split("\n%s\n")) mp.runPython(chunk);
} catch (e) {
  console.log("ERROR " + String(e).slice(-1500));
  process.exitCode = 1;
}
""" % (PACKAGE, TOPLEVEL)

# as bench/run.py ROM_LOADER: the image in one buffer allocated first, mounted at /rom
ROM_LOADER = """import gc, sys, vfs
_rom = bytearray(%d)
_f = open("/upki.romfs", "rb")
_f.readinto(_rom)
_f.close()
del _f
vfs.mount(vfs.VfsRom(_rom), "/rom")
sys.path.insert(0, "/rom/lib")
"""

QSTR_RE = re.compile(r"n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)")


def _installed():
    pkg = CACHE / "node_modules" / PACKAGE / "package.json"
    try:
        return json.loads(pkg.read_text()).get("version") == VERSION
    except (OSError, ValueError):
        return False


def _install():
    if not _installed():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(CACHE), "--no-audit", "--no-fund",
             "--loglevel=error", "--save-exact", "%s@%s" % (PACKAGE, VERSION)],
            check=True, capture_output=True, text=True, timeout=300)
        if not _installed():
            raise RuntimeError("npm did not install %s@%s in %s" % (PACKAGE, VERSION, CACHE))
    driver = CACHE / "driver.mjs"
    if not driver.exists() or driver.read_text() != DRIVER:
        driver.write_text(DRIVER)
    return driver


def _parse(out):
    """(heap bytes, qstrs added, qstr pool bytes added, upki modules) from a snippet's stdout."""
    q = [tuple(int(x) for x in m.groups()) for m in QSTR_RE.finditer(out)]
    if len(q) != 2:
        raise RuntimeError("no qstr_info() pair in:\n" + out)
    r = json.loads(out.strip().splitlines()[-1])
    return r["bytes"], q[1][0] - q[0][0], q[1][2] - q[0][2], r["modules"]


def _wasm(ctx, driver, code, rom, heap_kb=WASM_HEAP_KB, shim=None, prelude="", timeout=120):
    """stdout of code on the wasm port (raises on failure). shim: a SHIMDIR for the
    driver; prelude: code run before (after the ROM loader, which comes first)."""
    code = prelude + code
    if rom:
        code = ROM_LOADER % ctx.rom_image.stat().st_size + code
        src = ctx.rom_image
    else:  # the driver copies the build to /lib, on the port's default sys.path
        src = ctx.mpy_dir  # ('', '.frozen', '/lib'; keep .frozen: its os is a Python package)
    f = CACHE / "snippet.py"
    f.write_text(code)
    cmd = ["node", str(driver), str(heap_kb), "rom" if rom else "mpy", str(src), str(f)]
    if shim:
        cmd.append(str(shim))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(CACHE),
                       check=False)
    if r.returncode != 0:
        raise RuntimeError("wasm32 MicroPython failed (%d):\n%s%s"
                           % (r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout


def _measure(ctx, driver, label, imports):
    code = SNIPPET % imports
    for mode, rom in ((".mpy in heap", False), ("code in ROM", True)):
        u_bytes, u_q, u_qb, u_mods = _parse(ctx.micropython(code, mpy=True, rom=rom))
        w_bytes, w_q, w_qb, w_mods = _parse(_wasm(ctx, driver, code, rom))
        if u_mods != w_mods:  # a ratio of different module sets means nothing
            raise RuntimeError("%s, %s: the ports imported different modules: %s"
                               % (label, mode, sorted(set(u_mods) ^ set(w_mods))))
        ctx.report("%s, %s: unix64" % (label, mode), u_bytes / 1024, "KB",
                   "gc.mem_alloc() difference")
        ctx.report("%s, %s: wasm32" % (label, mode), w_bytes / 1024, "KB",
                   "%d upki modules; wasm heap %d KB" % (len(w_mods), WASM_HEAP_KB))
        ctx.report("%s, %s: wasm32 / unix64" % (label, mode), w_bytes / u_bytes, "ratio",
                   "measured in this run")
        ctx.report("%s, %s: qstrs added" % (label, mode), "%d / %d" % (u_q, w_q), "qstrs",
                   "unix64 / wasm32; pool bytes %d / %d" % (u_qb, w_qb))


def run(ctx):
    if not (shutil.which("node") and shutil.which("npm")):
        ctx.report("wasm32 MicroPython", "not measured", "",
                   "needs node and npm (apt-get install nodejs npm)")
        return
    driver = _install()
    _measure(ctx, driver, "enroll imports", "import " + ", ".join("upki." + m for m in ENROLL))
    _measure(ctx, driver, "console boot imports", BOOT)
