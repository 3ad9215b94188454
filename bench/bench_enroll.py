# SPDX-License-Identifier: MIT
"""SCEP enrollment against the lab CA on loopback (RA, auto-grant, POST, SHA-256,
AES-128): wall time split into key generation, CSR, CMS build, network and CMS
parse; and the smallest -X heapsize (firmware as .mpy, bisected) with which
authenticate + enroll succeeds when the key pair is already in NVRAM, both
with the .mpy files loaded into the heap and with the code in ROM (the .mpy
build in a ROMFS image run in place, as frozen or ROMFS code runs on a board:
the figure is then the heap beside the ROM image; see bench/run.py)."""

import re
import sys
import tempfile
import time
from pathlib import Path

TITLE = "enroll"
RUNS = 5
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# A minimal board for the port: NVRAM in a host directory, a settable clock,
# and the collector threshold the console sets at boot (cli.GC_THRESHOLD).
GC_THRESHOLD = int(re.search(r"^GC_THRESHOLD = const\((\d+)\)",
                             (ROOT / "firmware" / "upki" / "cli.py").read_text(), re.M).group(1))
BOARD = """
import gc, time
gc.threshold(%d)
class Board:""" % GC_THRESHOLD + """
    name = "bench"
    def __init__(self, root):
        self.flash_root = root
        self.base = 0
        self.t0 = time.ticks_ms()
    def rtc_time(self):
        return self.base + time.ticks_diff(time.ticks_ms(), self.t0) / 1000
    def set_rtc(self, t):
        self.base = t
        self.t0 = time.ticks_ms()
    def unique_id(self):
        return b"bench123"
    def urandom(self, n):
        import os
        return os.urandom(n)
from upki.config import Router
from upki import trustpoint
router = Router(Board(%(root)r))
router.clock.set(%(now)d, "bench")
trustpoint.attach(router)
tp = trustpoint.create("lab")
tp.enrollment_url = %(url)r
tp.enrollment_mode_ra = True
tp.password = "s3cret"
tp.serial_number = False
tp.ip_address = "none"
tp.fqdn = "r1.lab.test"
tp.rsakeypair = ("r1.lab.test", %(bits)d, None)
gc.collect()
"""

TIMED = BOARD + """
import json
from upki import csr, enroll, rsa, scep
from upki.keys import KeyPair, KeyStore
out = {"keygen": [], "csr": [], "cms build": [], "network": [], "cms parse": [], "total": [],
       "authenticate": []}
for i in range(%(runs)d):
    t0 = time.ticks_ms()
    key = rsa.generate(%(bits)d)
    out["keygen"].append(time.ticks_diff(time.ticks_ms(), t0))
    pair = KeyPair("r1.lab.test", key, "general", False, %(now)d, True)
    KeyStore(router.nvram).save(pair)
    for kind in ("cert", "ca", "ra-sign", "ra-encrypt"):
        tp.drop(kind)
    enroll.timings.clear()
    t0 = time.ticks_ms()
    assert enroll.authenticate(tp, router, lambda c: True)
    out["authenticate"].append(time.ticks_diff(time.ticks_ms(), t0))
    enroll.timings.clear()
    t1 = time.ticks_ms()
    caps = enroll.get_ca_caps(tp)
    t0 = time.ticks_ms()
    req = csr.ios_request(key, fqdn="r1.lab.test", challenge_password="s3cret", hash_name=caps.hash_name)
    out["csr"].append(time.ticks_diff(time.ticks_ms(), t0))
    status, cert = enroll.request(tp, router, pair, req, caps, log=lambda line: None)
    assert status == scep.SUCCESS
    out["total"].append(time.ticks_diff(time.ticks_ms(), t1))
    for k in ("cms build", "network", "cms parse"):
        out[k].append(enroll.timings.get(k, 0))
print(json.dumps(out))
"""

# authenticate + enroll with the key already in NVRAM: the heap figure
HEAP = BOARD + """
tp.drop("cert")
from upki import enroll
from upki.keys import KeyStore
assert enroll.authenticate(tp, router, lambda c: True)
gc.collect()
pair = KeyStore(router.nvram).load("r1.lab.test")
caps = enroll.get_ca_caps(tp)
# the CSR writer for the request only, as `crypto ca enroll` loads it
from upki import csr
req = csr.ios_request(pair.key, fqdn="r1.lab.test", challenge_password="s3cret", hash_name=caps.hash_name)
csr = None
enroll._unload(["csr"])
status, cert = enroll.request(tp, router, pair, req, caps, log=lambda line: None)
assert status == 0, status
print("OK")
"""


# The modules loaded at the enrollment's peak (the CertRep's signature check,
# enroll.exchange), with what config and trustpoint load: the code and state
# no work space can do without -- the floor under the smallest heap.
PEAK = ("errors, log, nvram, clock, config, trustpoint, keys, der, oid, derwrite, digest, "
        "cipher, rsa, x509, scep, enroll, cmsbase, cmsread, sceprep, cms")

IMPORTS = """
import gc
gc.threshold(%d)
from upki import %s
gc.collect()
print(gc.mem_alloc())
""" % (GC_THRESHOLD, PEAK)


# the same imports, what they add to the heap (code in ROM: the image buffer
# is allocated before the first gc.mem_alloc, so it is not counted)
IMPORTS_DELTA = """
import gc
gc.threshold(%d)
gc.collect()
a = gc.mem_alloc()
from upki import %s
gc.collect()
print(gc.mem_alloc() - a)
""" % (GC_THRESHOLD, PEAK)


def _key_record(root, label, der):
    from host_tools.upki_host.nvimage import encode_record

    d = Path(root) / "rsa"
    d.mkdir(parents=True, exist_ok=True)
    head = b"upki-key usage=general exportable=0 generated=0 trusted=0\n"
    (d / label).write_bytes(encode_record(head + der))


def run(ctx):
    import labca_peer

    with tempfile.TemporaryDirectory(prefix="upki-bench-enroll-") as d:
        d = Path(d)
        with labca_peer.running(d / "ca", ra=True, challenge="s3cret") as server:
            for bits in (2048,):
                root = d / ("flash%d" % bits)
                root.mkdir()
                args = {"root": str(root), "now": int(time.time()), "url": server.url,
                        "bits": bits, "runs": RUNS}
                r = ctx.micropython_json(TIMED % args, mpy=True)
                for k in ("keygen", "csr", "cms build", "network", "cms parse"):
                    ctx.report("RSA-%d %s (median of %d)" % (bits, k, RUNS),
                               ctx.median(r[k]), "ms")
                ctx.report("RSA-%d enroll, key in NVRAM (median)" % bits,
                           ctx.median(r["total"]), "ms", "GetCACaps+CSR+PKCSReq+CertRep")
                ctx.report("RSA-%d authenticate (median)" % bits, ctx.median(r["authenticate"]),
                           "ms", "GetCACert, CA+RA checks")
            for bits, keyfile in ((2048, "x509_key_2048b.der"), (1024, "rsa_1024_pkcs8.der")):
                from cryptography.hazmat.primitives import serialization

                key = serialization.load_der_private_key(
                    (ROOT / "tests" / "data" / keyfile).read_bytes(), None)
                der = key.private_bytes(serialization.Encoding.DER,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
                root = d / ("heap%d" % bits)
                root.mkdir()
                _key_record(root, "r1.lab.test", der)
                code = HEAP % {"root": str(root), "now": int(time.time()), "url": server.url,
                               "bits": bits}
                kb = ctx.smallest_heap(code, 32, 512)
                ctx.report("RSA-%d authenticate+enroll smallest heap" % bits, kb, "KB",
                           ".mpy, key in NVRAM; target <= 96")
                rom_kb = ctx.smallest_heap(code, 16, 512, rom=True)
                ctx.report("RSA-%d authenticate+enroll, code in ROM" % bits, rom_kb, "KB",
                           "heap beside the ROM image (%d KB), key in NVRAM" % ctx.rom_kb)
                if bits == 2048:
                    loaded = ctx.micropython_json(IMPORTS, mpy=True)
                    ctx.report("code and module state at the peak, loaded (.mpy)",
                               loaded // 1024, "KB", "gc.mem_alloc after the peak's imports")
                    for rom, label in ((False, ".mpy"), (True, "code in ROM")):
                        added = ctx.micropython_json(IMPORTS_DELTA, mpy=True, rom=rom)
                        ctx.report("heap the peak's imports take (%s)" % label,
                                   added // 1024, "KB", "gc.mem_alloc difference: the floor")
                    imports_kb = ctx.smallest_heap(IMPORTS + 'print("OK")\n', 32, 512)
                    ctx.report("smallest heap for those imports alone", imports_kb, "KB", ".mpy")
                    rom_imports_kb = ctx.smallest_heap(IMPORTS + 'print("OK")\n', 8, 512,
                                                       rom=True)
                    ctx.report("smallest heap for those imports, code in ROM", rom_imports_kb,
                               "KB", "heap beside the ROM image")
                    ctx.report("RSA-2048 authenticate+enroll work space", kb - imports_kb, "KB",
                               "beyond the imports: what frozen code would leave to the heap")
