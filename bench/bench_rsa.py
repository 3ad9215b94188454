# SPDX-License-Identifier: MIT
"""RSA on the MicroPython Unix port: RSA-2048 key generation in units of one
1024-bit modular exponentiation (measured in the same process), and as a
ratio to `cryptography` on CPython; sign and verify per operation; the
smallest heaps (bisected, firmware as .mpy) for key generation + a
signature, + a PKCS#8 round trip, and + the IOS certificate request (issue
3's target: 64 KB or less; tests/test_keygen_csr_heap.py holds it there).
Also RSA-2048 sign, verify, CSR build and certificate parse: time per
operation on the port beside `cryptography` on CPython in the same run, and
the smallest heap of each (with the heap its imports and inputs take before
it)."""

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
# the IOS certificate request with that key, as `crypto ca enroll` builds it
from upki import csr, x509
t = []
for i in range(7):
    t0 = time.ticks_us()
    req = csr.ios_request(key, "r1.lab.example.com", subject_name="OU=lab, O=cisco, C=US",
                          serial_number="FTX1234ABCD", ip_address="10.1.1.1",
                          challenge_password="cisco123")
    t.append(ms(t0))
out["csr_ms"] = median(t)
# certificate parse: every field and extension read (upki.x509 parses lazily,
# so reading them is the parse); a committed leaf with SAN, CDP, AKI/SKI...
with open(CERT_PATH, "rb") as f:
    cert_der = f.read()
t = []
for i in range(31):
    t0 = time.ticks_us()
    PARSE_FIELDS
    t.append(ms(t0))
out["parse_ms"] = median(t)
print(json.dumps(out))
"""

# What "certificate parse" reads, on the port and (parse_cryptography) on CPython.
PARSE_FIELDS = (
    "c = x509.Certificate(cert_der); c.serial; c.signature_algorithm_name; "
    "str(c.issuer); str(c.subject); c.not_before; c.not_after; c.modulus; c.exponent; "
    "c.basic_constraints; c.key_usage; c.ext_key_usage; c.subject_alt_names; "
    "c.crl_distribution_points; c.authority_key_identifier; c.subject_key_identifier; "
    "c.unknown_critical_extensions"
)

# Peak heap of one operation as the firmware runs it (.mpy): the smallest
# -X heapsize with which the snippet prints OK.  The key comes in as its
# integers (a text file of hex lines written by the bench), so that loading
# it from DER (the reader, rsacodec) does not set the figure; the "floor"
# snippets stop before the operation, so the operation's own share is the
# difference.  Module code counts (a board with frozen firmware saves it).
HEAP_KEY = """
import gc
from upki import rsa
with open(KEYINTS, "r") as f:
    n, e, d, p, q, dp, dq, qinv = [int(x, 16) for x in f.read().split()]
key = rsa.PrivateKey(n, e, d, p, q, dp, dq, qinv)
n = d = p = q = dp = dq = qinv = None
"""
HEAP_OPS = {
    "sign": (HEAP_KEY, """
gc.collect()
sig = key.sign(b"message", "sha256")
assert len(sig) == 256
"""),
    "verify": ("""
import gc
from binascii import unhexlify
from upki import rsa
with open(KEYINTS, "r") as f:
    pub = rsa.PublicKey(int(f.readline(), 16), int(f.readline(), 16))
sig = unhexlify(SIGHEX)
""", """
gc.collect()
assert pub.verify(b"message", sig, "sha256")
"""),
    "CSR build": (HEAP_KEY + """
from upki import csr
""", """
gc.collect()
req = csr.ios_request(key, "r1.lab.example.com", subject_name="OU=lab, O=cisco, C=US",
                      serial_number="FTX1234ABCD", ip_address="10.1.1.1",
                      challenge_password="cisco123")
assert req[0] == 0x30
"""),
    "certificate parse": ("""
import gc
from upki import x509
with open(CERT_PATH, "rb") as f:
    cert_der = f.read()
""", """
gc.collect()
PARSE_FIELDS
"""),
}

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


def _cryptography_ops_ms():
    """cryptography (OpenSSL) on CPython doing what PORT_TIMING times on the port."""
    import ipaddress

    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.x509.oid import NameOID

    key = serialization.load_der_private_key((DATA / "rsa_2048_pkcs8.der").read_bytes(), None)
    pub = key.public_key()
    msg = b"x" * 1000

    def timed(f, n):
        t = []
        for _ in range(n):
            t0 = time.perf_counter()
            f()
            t.append((time.perf_counter() - t0) * 1000)
        return sorted(t)[n // 2]

    sig = key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    out = {
        "sign_ms": timed(lambda: key.sign(msg, padding.PKCS1v15(), hashes.SHA256()), 31),
        "verify_ms": timed(lambda: pub.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256()), 101),
    }

    def build_csr():
        # the same request as csr.ios_request above: subject, SAN, keyUsage, password
        name = cx509.Name([
            cx509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "lab"),
            cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "cisco"),
            cx509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            cx509.NameAttribute(NameOID.COMMON_NAME, "r1.lab.example.com"),
            cx509.NameAttribute(NameOID.SERIAL_NUMBER, "FTX1234ABCD"),
        ])
        b = (cx509.CertificateSigningRequestBuilder().subject_name(name)
             .add_extension(cx509.SubjectAlternativeName([
                 cx509.DNSName("r1.lab.example.com"),
                 cx509.IPAddress(ipaddress.ip_address("10.1.1.1"))]), False)
             .add_extension(cx509.KeyUsage(True, False, True, False, False, False, False,
                                           False, False), True)
             .add_attribute(cx509.oid.AttributeOID.CHALLENGE_PASSWORD, b"cisco123"))
        return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    out["csr_ms"] = timed(build_csr, 15)
    cert_der = (DATA / "x509_leaf.der").read_bytes()

    def parse():
        c = cx509.load_der_x509_certificate(cert_der)
        c.serial_number, c.signature_hash_algorithm, c.issuer.rfc4514_string()
        c.subject.rfc4514_string(), c.not_valid_before_utc, c.not_valid_after_utc
        c.public_key().public_numbers()
        for ext in c.extensions:
            ext.value

    out["parse_ms"] = timed(parse, 101)
    return out


def _heap_inputs(ctx):
    """The committed RSA-2048 key as hex integers in a file, and a signature
    of b"message" by it (cryptography), for the HEAP_OPS snippets."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_der_private_key((DATA / "rsa_2048_pkcs8.der").read_bytes(), None)
    nums = key.private_numbers()
    path = Path(ctx._tmp.name) / "rsa2048.ints"
    path.write_text("\n".join("%x" % v for v in (
        nums.public_numbers.n, nums.public_numbers.e, nums.d, nums.p, nums.q,
        nums.dmp1, nums.dmq1, nums.iqmp)) + "\n")
    sig = key.sign(b"message", padding.PKCS1v15(), hashes.SHA256())
    return {"KEYINTS": repr(str(path)), "SIGHEX": repr(sig.hex()),
            "CERT_PATH": repr(str(DATA / "x509_leaf.der")), "PARSE_FIELDS": PARSE_FIELDS}


def _fill(code, values):
    for k, v in values.items():
        code = code.replace(k, v)
    return code


def run(ctx):
    out = ctx.micropython_json(
        PORT_TIMING.replace("SEEDS_N", str(SEEDS)).replace(
            "KEY_PATH", repr(str(DATA / "rsa_2048_pkcs8.der"))
        ).replace("CERT_PATH", repr(str(DATA / "x509_leaf.der"))).replace(
            "PARSE_FIELDS", PARSE_FIELDS
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
    ctx.report("IOS CSR build (RSA-2048, SHA-256)", out["csr_ms"], "ms/op",
               "subject-name, serial, IP, password, SAN, keyUsage")
    ctx.report("certificate parse, every field read", out["parse_ms"], "ms/op",
               "tests/data/x509_leaf.der, 1056 bytes")
    ref = _cryptography_ops_ms()
    for what, k in (("sign", "sign_ms"), ("verify", "verify_ms"), ("CSR build", "csr_ms"),
                    ("certificate parse", "parse_ms")):
        ctx.report("  port/cryptography (CPython): %s" % what, out[k] / ref[k], "x",
                   "cryptography %.3f ms; %.2f units" % (ref[k], out[k] / unit))
    ctx.report("expected RSA-2048 keygen on an ESP32 (~40x)", keygen * 40 / 1000, "s", "estimate")

    values = _heap_inputs(ctx)
    for what, (setup, op) in HEAP_OPS.items():
        floor = ctx.smallest_heap(_fill(setup, values) + 'print("OK")\n', 4, 96)
        kb = ctx.smallest_heap(_fill(setup + op, values) + 'print("OK")\n', 4, 96)
        ctx.report("smallest heap: %s (.mpy)" % what, kb if kb else ">96", "KB",
                   "%s KB before it (imports and inputs)" % floor)

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
