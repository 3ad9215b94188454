# SPDX-License-Identifier: MIT
"""enroll32: SCEP authenticate + enroll (RSA-2048 key already in NVRAM) on a
32-bit MicroPython, against the real lab CA on loopback, beside the Unix port.

The 32-bit MicroPython is the WebAssembly port (bench/bench_port32.py installs
and drives it), with the .mpy build in the heap and with the code in ROM (the
ROMFS image mounted with vfs.VfsRom).  What that port lacks, and a board has
in C (lwIP, hardware AES, hashlib), is given by adapters, not mocks -- the CA,
the HTTP exchange, the ciphers and digests are real; the data crosses at its
address (uctypes.addressof), so no copy of it is made in the Python heap:

  socket      connect/send keep the request on the JS side; the first recv
              makes the whole TCP exchange with a child node process
              (synchronously: node has no blocking sockets), and each recv(n)
              hands out at most n bytes of the answer, as a real recv would
  cryptolib   aes(key, mode 1 ECB / 2 CBC, iv).encrypt/decrypt on node crypto
  hashlib     sha1 and md5 on node crypto (sha256 stays the port's C one)
  os.urandom  node crypto.randomBytes

They are .mpy files in the heap on both wasm runs (a few hundred bytes of
bytecode plus their objects), taken before the first checkpoint.

The smallest heap cannot be bisected on this port: the pyscript variant is
built with MICROPY_GC_SPLIT_HEAP_AUTO, so the heap grows in new areas instead
of collecting, and gc.collect() inside a runPython() call only marks a
collection for when the call returns to JS.  The "heapsize bound" row shows it
(a 64 KB heap holding far more).  What is measured instead, on both ports, is
the live heap (gc.mem_alloc() after a real collection: on wasm at a runPython
chunk boundary) at the phase ends of the same run, beyond the heap at the
start (ROM image buffer, shims), and the ratio wasm32 / unix64 -- the factor
for the Unix port's live figures; and, on the Unix port, the smallest heap as
bench_enroll measures it (ctx.smallest_heap), for those figures to be read
against.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_enroll
import bench_port32 as p32

TITLE = "enroll32"
WASM_HEAP_KB = 1024
SHIM = p32.CACHE / "shim"
TOP = "\n" + p32.TOPLEVEL + "\n"

# -- the adapters (Python side: compiled to .mpy into SHIM/lib, copied to /lib)

SHIM_PY = {
    "wasmshim.py": '''# bench/bench_enroll32.py: adapters for what the wasm port lacks
import js, os
from uctypes import addressof as addr
J = js.globalThis.upkiShim
def urandom(n):
    b = bytes(n)
    J.random(addr(b), n)
    return b
os.urandom = urandom
''',
    "socket.py": '''from wasmshim import J, addr
AF_INET = 2
SOCK_STREAM = 1
def getaddrinfo(host, port, *args):
    return [(AF_INET, SOCK_STREAM, 0, "", (host, port))]
class socket:
    def __init__(self, af=AF_INET, kind=SOCK_STREAM, proto=0):
        self.h = J.sock()
    def settimeout(self, t):
        J.timeout(self.h, int(t * 1000) if t else 0)
    def connect(self, where):
        J.connect(self.h, where[0], where[1])
    def send(self, data):
        return J.send(self.h, addr(data), len(data))
    write = send
    def recv(self, n):
        k = J.avail(self.h, n)
        b = bytes(k)
        if k:
            J.take(self.h, addr(b), k)
        return b
    def close(self):
        J.close(self.h)
''',
    "cryptolib.py": '''from wasmshim import J, addr
class aes:
    def __init__(self, key, mode, iv=None):
        n = len(iv) if iv else 0
        self.h = J.aes(addr(key), len(key), mode, addr(iv) if n else 0, n)
    def encrypt(self, src, dst=None):
        return self._run(1, src, dst)
    def decrypt(self, src, dst=None):
        return self._run(0, src, dst)
    def _run(self, enc, src, dst):
        out = bytes(len(src)) if dst is None else dst
        J.crypt(self.h, enc, addr(src), addr(out), len(src))
        if dst is None:
            return out
''',
    "hashlib.py": '''from uhashlib import sha256
from wasmshim import J, addr
class _Hash:
    def __init__(self, data=None):
        self.h = J.hash(self.NAME)
        if data is not None:
            self.update(data)
    def update(self, data):
        J.update(self.h, addr(data), len(data))
    def digest(self):
        b = bytes(self.SIZE)
        J.digest(self.h, addr(b))
        return b
class sha1(_Hash):
    NAME = "sha1"
    SIZE = 20
class md5(_Hash):
    NAME = "md5"
    SIZE = 16
''',
}

# -- the adapters (JS side): globalThis.upkiShim, called with ints and strings
# only (a Python object handed to JS stays referenced until JS collects it,
# which a synchronous run never lets happen); data by address in HEAPU8.

SHIM_JS = r"""// written by bench/bench_enroll32.py: adapters for what the wasm port lacks
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
const TCP = path.join(path.dirname(fileURLToPath(import.meta.url)), "tcp.mjs");
function copyIn(mp, dir) {  // a host directory into the wasm FS, at the same path
  mp.FS.mkdirTree(dir);
  for (const n of fs.readdirSync(dir)) {
    const p = path.join(dir, n);
    if (fs.statSync(p).isDirectory()) copyIn(mp, p);
    else mp.FS.writeFile(p, fs.readFileSync(p));
  }
}
export function install(mp) {
  if (process.env.UPKI_WASM_FLASH) copyIn(mp, process.env.UPKI_WASM_FLASH);
  const M = mp._module;
  const get = (a, n) => Buffer.from(M.HEAPU8.subarray(a, a + n));
  const put = (a, b, n) => {
    if (b.length !== n) throw new Error("shim: " + b.length + " bytes for " + n);
    M.HEAPU8.set(b, a);
  };
  const objs = new Map();
  let next = 1;
  const add = (o) => { objs.set(next, o); return next++; };
  globalThis.upkiShim = {
    random(a, n) { put(a, crypto.randomBytes(n), n); },
    sock() { return add({ out: [], resp: null, pos: 0, ms: 30000 }); },
    timeout(h, ms) { objs.get(h).ms = ms || 30000; },
    connect(h, host, port) { Object.assign(objs.get(h), { host, port }); },
    send(h, a, n) { const s = objs.get(h); s.resp = null; s.out.push(get(a, n)); return n; },
    avail(h, n) {
      const s = objs.get(h);
      if (!s.resp) {
        s.resp = execFileSync(process.execPath, [TCP, s.host, String(s.port)],
          { input: Buffer.concat(s.out), timeout: s.ms, maxBuffer: 1 << 26 });
        s.out = [];
        s.pos = 0;
      }
      return Math.min(n, s.resp.length - s.pos);
    },
    take(h, a, n) { const s = objs.get(h); put(a, s.resp.subarray(s.pos, s.pos + n), n); s.pos += n; },
    close(h) { objs.delete(h); },
    aes(ka, kn, mode, ia, ivn) {
      return add({ key: get(ka, kn), mode, iv: ivn ? get(ia, ivn) : null, c: null });
    },
    crypt(h, enc, src, dst, n) {
      const o = objs.get(h);
      if (!o.c) {
        const alg = "aes-" + o.key.length * 8 + (o.mode === 1 ? "-ecb" : "-cbc");
        const make = enc ? crypto.createCipheriv : crypto.createDecipheriv;
        o.c = make(alg, o.key, o.mode === 1 ? null : o.iv);
        o.c.setAutoPadding(false);
      }
      put(dst, o.c.update(get(src, n)), n);
    },
    hash(name) { return add(crypto.createHash(name)); },
    update(h, a, n) { objs.get(h).update(get(a, n)); },
    digest(h, a) { const d = objs.get(h).digest(); objs.delete(h); put(a, d, d.length); },
  };
}
"""

# one HTTP exchange: the request from stdin, the answer (to EOF, or complete
# per Content-Length) to stdout
TCP_JS = r"""// written by bench/bench_enroll32.py: node tcp.mjs HOST PORT < request > answer
import net from "node:net";
import fs from "node:fs";
const [host, port] = process.argv.slice(2);
const req = fs.readFileSync(0);
const chunks = [];
let done = false;
const finish = () => { if (!done) { done = true; process.stdout.write(Buffer.concat(chunks)); } };
const complete = (b) => {
  const i = b.indexOf("\r\n\r\n");
  if (i < 0) return false;
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(b.subarray(0, i).toString("latin1"));
  return m !== null && b.length >= i + 4 + parseInt(m[1]);
};
const s = net.connect(parseInt(port), host, () => s.write(req));
s.on("data", (d) => { chunks.push(d); if (complete(Buffer.concat(chunks))) { finish(); s.destroy(); } });
s.on("end", finish);
s.on("error", (e) => { process.stderr.write(String(e)); process.exit(1); });
"""

PRELUDE = "import wasmshim\n"

# The measured run: bench_enroll's HEAP snippet cut at its phase ends, each
# followed by a collection and a gc.mem_alloc() (identical text on both ports;
# TOPLEVEL lines are comments on the Unix port).
PHASES = ("board and trustpoint", "authenticate", "key loaded, CSR", "enroll")
LIVE = ("import gc, json\ngc.collect()" + TOP + "_m = [gc.mem_alloc()]\n"
        + bench_enroll.BOARD + "gc.collect()" + TOP + "_m.append(gc.mem_alloc())\n" + """
tp.drop("cert")
from upki import enroll
from upki.keys import KeyStore
assert enroll.authenticate(tp, router, lambda c: True)
gc.collect()""" + TOP + """_m.append(gc.mem_alloc())
from upki import csr
pair = KeyStore(router.nvram).load("r1.lab.test")
caps = enroll.get_ca_caps(tp)
req = csr.ios_request(pair.key, fqdn="r1.lab.test", challenge_password="s3cret", hash_name=caps.hash_name)
gc.collect()""" + TOP + """_m.append(gc.mem_alloc())
status, cert = enroll.request(tp, router, pair, req, caps, log=lambda line: None)
assert status == 0, status
del status, cert
gc.collect()""" + TOP + """_m.append(gc.mem_alloc())
print(json.dumps(_m))
""")

# Does the heapsize bound the heap?  (1 MB of live data in a 64 KB heap)
BOUND_KB = 64
BOUND = """
keep = []
try:
    for i in range(1024):
        keep.append(bytearray(1024))
except MemoryError:
    pass
print(len(keep))
"""


def _shim():
    """SHIM/: shim.mjs, tcp.mjs and lib/*.mpy (the Python adapters compiled with mpy-cross)."""
    from host_tools.upki_host.mpybuild import mpy_cross

    lib = SHIM / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    (SHIM / "shim.mjs").write_text(SHIM_JS)
    (SHIM / "tcp.mjs").write_text(TCP_JS)
    with tempfile.TemporaryDirectory(prefix="upki-shim-") as d:
        for name, text in SHIM_PY.items():
            src = Path(d) / name
            src.write_text(text)
            subprocess.run([mpy_cross(), "-o", str(lib / (src.stem + ".mpy")), str(src)],
                           check=True, capture_output=True, text=True)
    return SHIM


def _wasm_enroll(ctx, driver, shim, args, rom):
    """LIVE on the wasm port; its NVRAM (the key record) copied into the wasm FS."""
    os.environ["UPKI_WASM_FLASH"] = args["root"]
    try:
        return p32._wasm(ctx, driver, LIVE % args, rom, heap_kb=WASM_HEAP_KB + ctx.rom_kb,
                         shim=shim, prelude=PRELUDE, timeout=600)
    finally:
        del os.environ["UPKI_WASM_FLASH"]


def _json(out):
    import json

    return json.loads(out.strip().splitlines()[-1])


def run(ctx):
    import labca_peer

    if not (p32.shutil.which("node") and p32.shutil.which("npm")):
        ctx.report("wasm32 MicroPython", "not measured", "",
                   "needs node and npm (apt-get install nodejs npm)")
        return
    driver = p32._install()
    shim = _shim()

    held = int(p32._wasm(ctx, driver, BOUND, False, heap_kb=BOUND_KB).split()[-1])
    ctx.report("wasm32 heapsize bound", "%d KB held" % held, "",
               "in a %d KB heap: heap grows, no smallest heap to bisect" % BOUND_KB
               if held > BOUND_KB else "in a %d KB heap" % BOUND_KB)

    with tempfile.TemporaryDirectory(prefix="upki-bench-enroll32-") as d:
        d = Path(d)
        with labca_peer.running(d / "ca", ra=True, challenge="s3cret") as server:
            from cryptography.hazmat.primitives import serialization

            key = serialization.load_der_private_key(
                (bench_enroll.ROOT / "tests" / "data" / "x509_key_2048b.der").read_bytes(), None)
            der = key.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())

            def args(name):
                root = d / name
                root.mkdir()
                bench_enroll._key_record(root, "r1.lab.test", der)
                return {"root": str(root), "now": int(time.time()), "url": server.url,
                        "bits": 2048}

            heap = bench_enroll.HEAP % args("heap")
            kb = ctx.smallest_heap(heap, 32, 512)
            ctx.report("unix64 smallest heap (.mpy in heap)", kb, "KB",
                       "authenticate+enroll, RSA-2048 key in NVRAM")
            rom_kb = ctx.smallest_heap(heap, 16, 512, rom=True)
            ctx.report("unix64 smallest heap (code in ROM)", rom_kb, "KB",
                       "heap beside the ROM image (%d KB)" % ctx.rom_kb)

            for mode, rom in ((".mpy", False), ("ROM", True)):
                t = time.perf_counter()
                w = _json(_wasm_enroll(ctx, driver, shim, args("w" + mode), rom))
                secs = time.perf_counter() - t
                u = _json(ctx.micropython(LIVE % args("u" + mode), mpy=True, rom=rom))
                for i, phase in enumerate(PHASES, 1):
                    ub, wb = u[i] - u[0], w[i] - w[0]
                    ctx.report("live after %s (%s): unix64 / wasm32" % (phase, mode),
                               "%.1f / %.1f" % (ub / 1024, wb / 1024), "KB",
                               "gc.mem_alloc() after a collection, beyond the start")
                    ctx.report("live after %s (%s): wasm32 / unix64" % (phase, mode),
                               wb / ub, "ratio", "measured in this run")
                ctx.report("wasm32 authenticate+enroll run (%s)" % mode, secs, "s",
                           "node, incl. start; the CA is real (status SUCCESS)")
