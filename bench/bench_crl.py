# SPDX-License-Identifier: MIT
"""CRLs on the MicroPython Unix port (firmware as .mpy) beside `cryptography`
on CPython, same CRL, same run: ingest rate (parse + hash + signature + sort
+ index to flash) for 1k, 10k and 100k entries, the smallest heap that
ingests and looks up (bisected; for 100k also with the code in ROM -- the
.mpy build in a ROMFS image run in place, the heap beside the image, see
bench/run.py), lookup cost in flash pages (512 bytes) read and
microseconds; cryptography's load and lookup of the same DER."""

import random
import subprocess
import sys
import time
from pathlib import Path

TITLE = "crl"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
SIZES = (1000, 10_000, 100_000)
LOOKUPS = 2000

DRIVER = """
import gc, time
from upki import crl
from upki.nvram import NVRAM
nv = NVRAM(%(nv)r)
gc.collect()
f = open(%(crl)r, 'rb')
length = f.seek(0, 2)
f.seek(0)
t0 = time.ticks_us()
info = crl.ingest(nv, 'crl/b', f, length, (%(name)r, (%(n)d, 65537)), now=1780272000)
t1 = time.ticks_us()
f.close()
idx = crl.Index(nv, 'crl/b')
q = open(%(queries)r)
serials = [int(x, 16) for x in q.read().split()] if %(lookups)d else []
q.close()
b0 = idx.blocks_read
hits = 0
t2 = time.ticks_us()
for s in serials:
    if idx.lookup(s) is not None:
        hits += 1
t3 = time.ticks_us()
print('R', info.count, time.ticks_diff(t1, t0), time.ticks_diff(t3, t2), idx.blocks_read - b0,
      hits, len(idx.levels))
print('OK')
"""


def _write_driver(ctx, tag, crl_path, cert, queries, lookups):
    nv = Path(ctx._tmp.name) / ("nv-" + tag)
    nv.mkdir(exist_ok=True)
    code = DRIVER % {
        "nv": str(nv),
        "crl": str(crl_path),
        "name": cert.subject.public_bytes(),
        "n": cert.public_key().public_numbers().n,
        "queries": str(queries),
        "lookups": lookups,
    }
    src = Path(ctx._tmp.name) / ("drv_%s.py" % tag)
    src.write_text(code)
    from host_tools.upki_host.mpybuild import mpy_cross

    # the drivers live apart from the firmware build, so code in ROM (where
    # the .mpy directory is off the path) reaches them too
    drv = Path(ctx._tmp.name) / "drivers"
    drv.mkdir(exist_ok=True)
    subprocess.run([mpy_cross(), "-o", str(drv / ("drv_%s.mpy" % tag)), str(src)], check=True)
    return "import sys\nsys.path.append(%r)\nimport drv_%s\n" % (str(drv), tag)


def run(ctx):
    import gen_crl_fixtures as gen
    from cryptography import x509

    cert = x509.load_der_x509_certificate((ROOT / "tests/data/val_int2.der").read_bytes())
    key = gen.load_key("x509_key_1024.der")
    tmp = Path(ctx._tmp.name)
    rnd = random.Random(1)
    for count in SIZES:
        entries, serials = gen.big_entries(count)
        blob = gen.make_crl(cert, key, None, entry_bytes=entries)
        crl_path = tmp / ("crl_%d.der" % count)
        crl_path.write_bytes(blob)
        half = LOOKUPS // 2
        queries = rnd.sample(serials, half) + [s ^ 0x10 for s in rnd.sample(serials, half)]
        qf = tmp / ("q_%d.txt" % count)
        qf.write_text("".join("%x\n" % s for s in queries))
        label = "%dk" % (count // 1000)
        # ingest + lookups with a roomy heap (times), then the smallest heap (no lookups)
        code = _write_driver(ctx, label, crl_path, cert, qf, 1)
        out = ctx.micropython(code, mpy=True, timeout=900)
        r = [line for line in out.splitlines() if line.startswith("R ")][0].split()
        n, ingest_us, lookup_us, blocks, hits, levels = (int(x) for x in r[1:])
        assert n == count and hits == half, (n, hits)
        ctx.report("%s ingest time (port, .mpy)" % label, ingest_us / 1e6, "s")
        ctx.report("%s ingest rate (port)" % label, count / (ingest_us / 1e6), "entries/s",
                   "%d bytes of DER" % len(blob))
        ctx.report("%s lookup (port)" % label, lookup_us / len(queries), "us",
                   "mean of %d, half present" % len(queries))
        ctx.report("%s lookup flash pages read" % label, blocks / len(queries), "pages",
                   "%d levels of 512-byte pages" % levels)
        code_heap = _write_driver(ctx, label + "h", crl_path, cert, qf, 0)
        kb = ctx.smallest_heap(code_heap, 32, 96, timeout=900)
        ctx.report("%s smallest heap, ingest + open (port)" % label, kb, "KB",
                   "firmware code loaded as .mpy included")
        if count == SIZES[-1]:
            kb = ctx.smallest_heap(code_heap, 8, 96, timeout=900, rom=True)
            ctx.report("%s smallest heap, ingest + open, code in ROM" % label, kb, "KB",
                       "heap beside the ROM image (%d KB)" % ctx.rom_kb)
        t0 = time.perf_counter()
        c = x509.load_der_x509_crl(blob)
        n_py = len(c)  # forces parsing of the entries
        t1 = time.perf_counter()
        c.is_signature_valid(cert.public_key())
        t2 = time.perf_counter()
        for s in queries:
            c.get_revoked_certificate_by_serial_number(s)
        t3 = time.perf_counter()
        assert n_py == count
        ctx.report("%s cryptography load + count" % label, t1 - t0, "s")
        ctx.report("%s cryptography signature check" % label, (t2 - t1) * 1e3, "ms")
        ctx.report("%s cryptography lookup" % label, (t3 - t2) / len(queries) * 1e6, "us",
                   "in RAM, linear scan")
