# SPDX-License-Identifier: MIT
"""RSA on the MicroPython Unix port: RSA-2048 key generation in units of one
1024-bit modular exponentiation (measured in the same process), and as a
ratio to `cryptography` on CPython; sign and verify per operation; the
smallest heaps (bisected, firmware as .mpy) for key generation + a
signature, + a PKCS#8 round trip, and + the IOS certificate request (issue
3's target: 64 KB or less; tests/test_keygen_csr_heap.py holds it there)."""

import time
from pathlib import Path

TITLE = "rsa"
SEEDS = 11  # key generations for the median (at least 7)

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"

# Deterministic randbytes (SHA-256 in counter mode), the same on both sides,
# so every run generates the same keys and the times are comparable.
SEEDED = """
import hashlib
class Seeded:
    def __init__(self, seed):
        self.seed = seed
        self.counter = 0
    def __call__(self, n):
        parts = []
        got = 0
        while got < n:
            parts.append(hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest())
            self.counter += 1
            got += 32
        return b"".join(parts)[:n]
"""

PORT_TIMING = SEEDED + """
import json, time, gc
from upki import rsa, primes
def ms(t0):
    return time.ticks_diff(time.ticks_us(), t0) / 1000
def median(v):
    v = sorted(v)
    return v[len(v) // 2]
r = Seeded(b"unit")
out = {}
# the unit: one 1024-bit modular exponentiation (random base, exponent, odd
# modulus); sampled between the key generations too, so that a busy machine
# slows the unit and the thing measured in it alike
unit = []
def sample_unit(k):
    for i in range(k):
        m = int.from_bytes(r(128), "big") | (1 << 1023) | 1
        b = int.from_bytes(r(128), "big") % m
        x = int.from_bytes(r(128), "big") | (1 << 1023)
        t0 = time.ticks_us(); pow(b, x, m); unit.append(ms(t0))
sample_unit(5)
# the base-2 Miller-Rabin round by squaring and doubling, against pow(2, d, n)
t = []; t2 = []
for i in range(7):
    m = int.from_bytes(r(128), "big") | (1 << 1023) | 1
    t0 = time.ticks_us(); primes._pow2_mod(m - 1, m); t.append(ms(t0))
    t0 = time.ticks_us(); pow(2, m - 1, m); t2.append(ms(t0))
out["pow2_ms"] = median(t)
out["pow2_builtin_ms"] = median(t2)
t0 = time.ticks_us()
for p in primes.small_primes():
    pass
out["gaps_ms"] = ms(t0)
# one sieve window of 1024 odd candidates, as random_prime sieves it
c0 = int.from_bytes(r(128), "big") | (3 << 1022) | 1
w = bytearray(1024)
t0 = time.ticks_us()
primes.sieve_window(c0, w)
out["window_ms"] = ms(t0)
out["survivors"] = 1024 - sum(w)
# key generation, one seed after another
t = []
tested = []
orig = primes.is_probable_prime
count = [0]
def counting(*a):
    count[0] += 1
    return orig(*a)
primes.is_probable_prime = counting
# and the time spent sieving, to see whether native/viper code would pay
orig_sieve = primes.sieve_window
sieve_us = [0]
def timed_sieve(*a):
    t0 = time.ticks_us()
    orig_sieve(*a)
    sieve_us[0] += time.ticks_diff(time.ticks_us(), t0)
primes.sieve_window = timed_sieve
for s in range(SEEDS_N):
    sample_unit(3)
    gc.collect()
    count[0] = 0
    t0 = time.ticks_us()
    key = rsa.generate(2048, randbytes=Seeded(b"seed%d" % s))
    t.append(ms(t0))
    tested.append(count[0])
primes.is_probable_prime = orig
primes.sieve_window = orig_sieve
out["sieve_share"] = sieve_us[0] / 1000 / sum(t)
sample_unit(5)
out["unit_ms"] = median(unit)
out["unit_samples"] = len(unit)
out["keygen_ms"] = t
out["candidates"] = tested
# sign and verify with a committed 2048-bit key
with open(KEY_PATH, "rb") as f:
    key = rsa.PrivateKey.from_der(f.read())
pub = key.public_key()
msg = b"x" * 1000
t = []
for i in range(9):
    t0 = time.ticks_us(); sig = key.sign(msg, "sha256"); t.append(ms(t0))
out["sign_ms"] = median(t)
t = []
for i in range(31):
    t0 = time.ticks_us(); ok = pub.verify(msg, sig, "sha256"); t.append(ms(t0))
assert ok
out["verify_ms"] = median(t)
print(json.dumps(out))
"""

# The heap bisections generate the same key each time, from seed b"heap23",
# which finds both primes within 9 candidates so each try is quick (the
# memory a candidate needs does not depend on how many came before it).
HEAP_KEYGEN_SIGN = SEEDED + """
from upki import rsa
key = rsa.generate(2048, randbytes=Seeded(b"heap23"))
sig = key.sign(b"message", "sha256")
assert key.public_key().verify(b"message", sig, "sha256")
print("OK")
"""

# The same with the DER codec loaded first and the key written out as PKCS#8
# and read back, as `crypto key generate` does before saving it to NVRAM.
HEAP_KEYGEN_SIGN_STORE = SEEDED + """
from upki import der, rsa
key = rsa.generate(2048, randbytes=Seeded(b"heap23"))
sig = key.sign(b"message", "sha256")
blob = key.to_pkcs8_der()
key = None
key = rsa.PrivateKey.from_der(blob)
assert key.public_key().verify(b"message", sig, "sha256")
print("OK")
"""

# The heap figure: key generation, then the IOS certificate request
# (csr imported after key generation, as `crypto ca enroll` comes after
# `crypto key generate`).  Which modules are loaded decides the figure:
# upki.der's reader, upki.rsacodec, upki.sha512 and upki.primes are not.
HEAP_KEYGEN_CSR = SEEDED + """
from upki import rsa
key = rsa.generate(2048, randbytes=Seeded(b"heap23"))
from upki import csr
req = csr.ios_request(key, "r1.lab.example.com", subject_name="OU=lab, O=cisco, C=US",
                      serial_number="FTX1234ABCD", ip_address="10.1.1.1",
                      challenge_password="cisco123")
assert req[0] == 0x30
print("OK")
"""


def _cryptography_keygen_ms(n):
    from cryptography.hazmat.primitives.asymmetric import rsa

    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        rsa.generate_private_key(65537, 2048)
        t.append((time.perf_counter() - t0) * 1000)
    return t


def _firmware_on_cpython_keygen_ms(n):
    import sys

    root = Path(__file__).resolve().parent.parent
    for p in (root / "firmware", root / "tests" / "shims"):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    from upki import rsa

    ns = {}
    exec(SEEDED, ns)
    t = []
    for s in range(n):
        t0 = time.perf_counter()
        rsa.generate(2048, randbytes=ns["Seeded"](b"seed%d" % s))
        t.append((time.perf_counter() - t0) * 1000)
    return t


def run(ctx):
    out = ctx.micropython_json(
        PORT_TIMING.replace("SEEDS_N", str(SEEDS)).replace(
            "KEY_PATH", repr(str(DATA / "rsa_2048_pkcs8.der"))
        )
    )
    unit = out["unit_ms"]
    keygen = ctx.median(out["keygen_ms"])
    ctx.report(
        "1024-bit modexp on the port (the unit)", unit, "ms", "median of %d" % out["unit_samples"]
    )
    ctx.report(
        "RSA-2048 keygen, median of %d seeds" % SEEDS,
        keygen,
        "ms",
        "range %.0f-%.0f" % (min(out["keygen_ms"]), max(out["keygen_ms"])),
    )
    ctx.report("RSA-2048 keygen in 1024-bit modexp units", keygen / unit, "units", "target <= 100")
    crypto = ctx.median(_cryptography_keygen_ms(SEEDS))
    ctx.report("cryptography RSA-2048 keygen (CPython)", crypto, "ms")
    ctx.report("port keygen / cryptography keygen", keygen / crypto, "x")
    fw_cpython = ctx.median(_firmware_on_cpython_keygen_ms(3))
    ctx.report("upki.rsa keygen on CPython, median of 3", fw_cpython, "ms")
    ctx.report(
        "Miller-Rabin candidates per key, median",
        ctx.median(out["candidates"]),
        "",
        "two primes",
    )
    ctx.report(
        "base-2 round by doubling / pow(2, d, n)",
        out["pow2_ms"] / out["pow2_builtin_ms"],
        "x",
        "%.1f vs %.1f ms" % (out["pow2_ms"], out["pow2_builtin_ms"]),
    )
    ctx.report(
        "sieve: one window of 1024 odd candidates",
        out["window_ms"],
        "ms",
        "%d survivors; making the small primes: %.1f ms" % (out["survivors"], out["gaps_ms"]),
    )
    ctx.report(
        "share of keygen time spent sieving",
        100 * out["sieve_share"],
        "%",
        "native/viper could save at most this",
    )
    ctx.report("RSA-2048 sign (CRT, blinded, checked), SHA-256", out["sign_ms"], "ms/op")
    ctx.report("RSA-2048 verify, SHA-256, 1000-byte message", out["verify_ms"], "ms/op")
    ctx.report("expected RSA-2048 keygen on an ESP32 (~40x)", keygen * 40 / 1000, "s", "estimate")

    kb = ctx.smallest_heap(HEAP_KEYGEN_SIGN, 24, 96)
    ctx.report(
        "smallest heap: keygen 2048 + sign (.mpy)", kb if kb else ">96", "KB", "target <= 64"
    )
    kb = ctx.smallest_heap(HEAP_KEYGEN_SIGN_STORE, 24, 96)
    ctx.report(
        "smallest heap: same + der, PKCS#8 out and in", kb if kb else ">96", "KB", "target <= 64"
    )
    if (Path(__file__).resolve().parent.parent / "firmware" / "upki" / "csr.py").exists():
        kb = ctx.smallest_heap(HEAP_KEYGEN_CSR, 24, 128)
        ctx.report(
            "smallest heap: keygen 2048, then IOS CSR (.mpy)", kb if kb else ">128", "KB",
            "target <= 64",
        )
        kb = ctx.smallest_heap(HEAP_KEYGEN_CSR, 8, 128, rom=True)
        ctx.report("smallest heap: keygen 2048, then IOS CSR, code in ROM", kb, "KB",
                   "heap beside the ROM image (see bench/run.py)")
