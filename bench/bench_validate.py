# SPDX-License-Identifier: MIT
"""Chain validation on the MicroPython Unix port (firmware as .mpy): depth 2
(leaf -> root) and depth 4 (leaf -> int2 -> int1 -> root), without
revocation checks and with every CRL already indexed in NVRAM; beside
`openssl verify` of the same chain in the same run (process start included,
so the openssl figure is an upper bound)."""

import subprocess
import time
from pathlib import Path

TITLE = "validate"
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
ROUNDS = 20

DRIVER = """
import time, os, gc
from upki import crl, validate, x509
from upki.nvram import NVRAM
D = %(data)r
def cert(n):
    f = open(D + '/val_' + n + '.der', 'rb'); c = x509.Certificate(f.read()); f.close(); return c
nv = NVRAM(%(nv)r)
idx = {}
for cn, fx, issuer in (('val-root', 'crl_root.der', 'root'), ('val-int1', 'crl_int1.der', 'int1'),
                       ('val-int2', 'crl_int2.der', 'int2')):
    f = open(D + '/' + fx, 'rb')
    crl.ingest(nv, 'crl/' + cn, f, os.stat(D + '/' + fx)[6], cert(issuer), now=1780272000)
    f.close()
    idx[cn] = crl.Index(nv, 'crl/' + cn)
def provider(issuer, c, fetch):
    return idx[issuer.subject.get('CN')[0]]
for depth, names in ((2, ['leaf2']), (4, ['leaf', 'int2', 'int1'])):
    for mode in ('none', 'crl'):
        times = []
        for i in range(%(rounds)d):
            # parse from DER every round, as a presented chain would be
            ders = [bytes(cert(n).der) for n in names]
            anchor = [bytes(cert('root').der)]
            gc.collect()
            t0 = time.ticks_us()
            r = validate.verify_chain(ders, anchor, 1780272000, crl_provider=provider,
                                      revocation=mode)
            times.append(time.ticks_diff(time.ticks_us(), t0))
            assert r.ok, r
        times.sort()
        print('R', depth, mode, times[len(times) // 2])
"""

HEAP = """
import gc
from upki import validate, x509
D = %(data)r
def cert(n):
    f = open(D + '/val_' + n + '.der', 'rb'); c = f.read(); f.close(); return c
gc.collect()
r = validate.verify_chain([cert('leaf'), cert('int2'), cert('int1')], [cert('root')],
                          1780272000, revocation='none')
assert r.ok
print('OK')
"""

IMPORTS = """
import gc, json
gc.collect()
f = gc.mem_free()
import upki.x509, upki.validate, upki.rsa, upki.digest, upki.clock
gc.collect()
print(json.dumps({"bytes": f - gc.mem_free()}))
"""


def run(ctx):
    nv = Path(ctx._tmp.name) / "nv-validate"
    nv.mkdir(exist_ok=True)
    out = ctx.micropython(DRIVER % {"data": str(DATA), "nv": str(nv), "rounds": ROUNDS},
                          mpy=True)
    for line in out.splitlines():
        if line.startswith("R "):
            _, depth, mode, us = line.split()
            what = "no revocation check" if mode == "none" else "CRLs cached in NVRAM"
            ctx.report("depth %s verify (port), %s" % (depth, what), int(us) / 1000, "ms",
                       "median of %d" % ROUNDS)
    # heap: the smallest that verifies depth 4 (no revocation), and what the
    # loaded .mpy code takes of it (on a board with frozen firmware, code costs no heap)
    heap_code = HEAP % {"data": str(DATA)}
    kb = ctx.smallest_heap(heap_code, 48, 192)
    ctx.report("depth 4 smallest heap (port, .mpy)", kb, "KB", "code of the modules included")
    code_kb = ctx.micropython_json(IMPORTS, mpy=True)["bytes"] / 1024
    ctx.report("  of which module code (x509, rsa, validate...)", code_kb, "KB",
               "what freezing the firmware saves")
    # openssl verify on the same chains (one process per verification)
    tmp = Path(ctx._tmp.name)

    def pem(name, ders):
        import base64

        p = tmp / name
        p.write_text("".join("-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n"
                             % base64.encodebytes(d).decode() for d in ders))
        return str(p)

    root = pem("root.pem", [(DATA / "val_root.der").read_bytes()])
    for depth, leaf, ints in ((2, "leaf2", []), (4, "leaf", ["int2", "int1"])):
        lf = pem("leaf%d.pem" % depth, [(DATA / ("val_%s.der" % leaf)).read_bytes()])
        cmd = ["openssl", "verify", "-attime", "1780272000", "-CAfile", root]
        if ints:
            cmd += ["-untrusted", pem("ints.pem", [(DATA / ("val_%s.der" % n)).read_bytes()
                                                   for n in ints])]
        times = []
        for _ in range(ROUNDS // 2):
            t0 = time.perf_counter()
            subprocess.run(cmd + [lf], check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
        ctx.report("depth %d openssl verify (process)" % depth, ctx.median(times) * 1000, "ms",
                   "includes process start")
