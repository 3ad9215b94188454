# SPDX-License-Identifier: MIT
# RSA keys generated on the Unix port, checked by `cryptography` (OpenSSL):
# they load, their DER/PEM is byte-equal to what cryptography writes for the
# same key, signatures cross-verify both ways and PKCS#1 v1.5 encryption
# round-trips both ways.  Also: the same seeded key generation gives the same
# key on the port and on CPython.
import math
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import padding

from mpy import run_json

ROOT = Path(__file__).resolve().parent.parent
MESSAGE = b"a certificate request, say"
SECRET = b"0123456789abcdef0123456789abcdef"

from bench.bench_rsa import SEEDED  # noqa: E402  (the bench's deterministic randbytes)


def _is_probable_prime(n, rounds=32):
    # An independent Miller-Rabin on CPython (random bases from the secrets module)
    import secrets

    if n < 4 or n % 2 == 0:
        return n in (2, 3)
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(2 + secrets.randbelow(n - 3), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _generate_on_port(bits):
    code = (
        "import json, binascii\n"
        "from upki import rsa\n"
        "dots = []\n"
        "key = rsa.generate(%d, progress=dots.append)\n"
        "pub = key.public_key()\n"
        "h = lambda b: binascii.hexlify(b).decode()\n"
        "m = binascii.unhexlify(%r)\n"
        "print(json.dumps({'pkcs1': h(key.to_pkcs1_der()), 'pkcs8': h(key.to_pkcs8_der()),\n"
        "  'pem1': key.to_pem(pkcs8=False), 'pem8': key.to_pem(), 'spki': h(pub.to_spki_der()),\n"
        "  'pub_pem': pub.to_pem(), 'pub_pkcs1': h(pub.to_pkcs1_der()),\n"
        "  'sig256': h(key.sign(m, 'sha256')), 'sig1': h(key.sign(m, 'sha1')),\n"
        "  'enc': h(pub.encrypt(binascii.unhexlify(%r))), 'dots': ''.join(dots)}))\n"
    ) % (bits, MESSAGE.hex(), SECRET.hex())
    return run_json(code, timeout=120)


@pytest.mark.parametrize("bits", [1024, 2048])
def test_key_generated_on_port_checked_by_cryptography(bits):
    out = _generate_on_port(bits)
    pkcs1 = bytes.fromhex(out["pkcs1"])
    # load_der_private_key runs OpenSSL's RSA key check (primes, d, CRT values)
    key = ser.load_der_private_key(pkcs1, None)
    assert key.key_size == bits
    nums = key.private_numbers()
    pn = nums.public_numbers
    assert pn.e == 65537
    p, q = nums.p, nums.q
    assert p.bit_length() == q.bit_length() == bits // 2
    assert _is_probable_prime(p) and _is_probable_prime(q)
    assert p * q == pn.n and pn.n.bit_length() == bits
    assert abs(p - q) > 1 << (bits // 2 - 100)
    assert nums.d > 1 << (bits // 2)
    assert (p - 1) % 65537 and (q - 1) % 65537
    # '.' every 8 candidates (none when both primes come quickly), '+' per prime
    assert out["dots"].count("+") == 2 and out["dots"].endswith("+")
    assert set(out["dots"]) <= {".", "+"}
    none = ser.NoEncryption()
    # encodings byte-equal to cryptography's for the same key
    assert key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL, none) == pkcs1
    assert key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, none) == bytes.fromhex(
        out["pkcs8"]
    )
    assert key.private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL, none
    ) == out["pem1"].encode()
    assert key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, none) == out[
        "pem8"
    ].encode()
    pub = key.public_key()
    assert pub.public_bytes(
        ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo
    ) == bytes.fromhex(out["spki"])
    assert pub.public_bytes(ser.Encoding.DER, ser.PublicFormat.PKCS1) == bytes.fromhex(
        out["pub_pkcs1"]
    )
    assert pub.public_bytes(
        ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo
    ) == out["pub_pem"].encode()
    # board signs -> cryptography verifies (raises on failure)
    pub.verify(bytes.fromhex(out["sig256"]), MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    pub.verify(bytes.fromhex(out["sig1"]), MESSAGE, padding.PKCS1v15(), hashes.SHA1())
    # board encrypts -> cryptography decrypts
    assert key.decrypt(bytes.fromhex(out["enc"]), padding.PKCS1v15()) == SECRET

    # cryptography signs and encrypts -> the board verifies and decrypts, with
    # the key it generated read back from its own PKCS#8
    sig = key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    sig512 = key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA512())
    enc = pub.encrypt(SECRET, padding.PKCS1v15())
    code = (
        "import json, binascii\n"
        "from upki import rsa\n"
        "u = binascii.unhexlify\n"
        "key = rsa.PrivateKey.from_der(u(%r))\n"
        "pub = rsa.PublicKey.from_spki_der(u(%r))\n"
        "m = u(%r)\n"
        "print(json.dumps([pub.verify(m, u(%r), 'sha256'), pub.verify(m, u(%r), 'sha512'),\n"
        "  pub.verify(m + b'!', u(%r), 'sha256'), pub.verify(m, u(%r), 'sha1'),\n"
        "  binascii.hexlify(key.decrypt(u(%r))).decode()]))\n"
    ) % (
        out["pkcs8"],
        out["spki"],
        MESSAGE.hex(),
        sig.hex(),
        sig512.hex(),
        sig.hex(),
        sig.hex(),
        enc.hex(),
    )
    ok256, ok512, tampered, wrong_hash, dec = run_json(code)
    assert ok256 is True and ok512 is True
    assert tampered is False and wrong_hash is False
    assert bytes.fromhex(dec) == SECRET


def test_seeded_generation_same_on_port_and_cpython():
    # Same seed, same key, twice on the port and once on CPython: the
    # firmware is deterministic given its randbytes, and runs the same on both.
    code = SEEDED + (
        "import binascii\n"
        "from upki import rsa\n"
        "a = rsa.generate(1024, randbytes=Seeded(b'upki'))\n"
        "b = rsa.generate(1024, randbytes=Seeded(b'upki'))\n"
        "c = rsa.generate(1024, randbytes=Seeded(b'other'))\n"
        "print('%x %x %x' % (a.n, b.n, c.n))\n"
    )
    from mpy import run_code

    na, nb, nc = run_code(code, timeout=120).split()[-3:]
    assert na == nb and na != nc
    for p in (ROOT / "firmware", ROOT / "tests" / "shims"):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    ns = {}
    exec(SEEDED, ns)
    from upki import rsa

    key = rsa.generate(1024, randbytes=ns["Seeded"](b"upki"))
    assert "%x" % key.n == na


def test_cpython_import_and_fixture_signature():
    # The module also runs on CPython (host tools use it): sign with a
    # committed key and compare with cryptography's signature.
    for p in (ROOT / "firmware", ROOT / "tests" / "shims"):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    from upki import rsa

    data = ROOT / "tests" / "data"
    key = rsa.PrivateKey.from_der((data / "rsa_2048_pkcs1.der").read_bytes())
    msg = (data / "rsa_message.bin").read_bytes()
    assert key.sign(msg, "sha256") == (data / "rsa_2048_sig_sha256.bin").read_bytes()
    assert key.public_key().verify(msg, (data / "rsa_2048_sig_sha512.bin").read_bytes(), "sha512")


# 3072 and 4096 bits from fixed seeds: time to a prime varies a lot with the
# random start (4096-bit keys from os.urandom take 5-40 s on the Unix port),
# so these seeds were picked for CI: measured on the Unix port, b"k3072-7"
# gives its key in ~1.2 s and b"k4096-9" in ~3.3 s (vs 0.2-1.5 s and 1-8 s
# for other seeds, measured on CPython with the same firmware code); under
# 15 s each even on a busy machine.  The seed fixes the start, not what is
# checked: primality, sizes and CRT values are judged by cryptography/OpenSSL.
@pytest.mark.parametrize("bits,seed", [(3072, b"k3072-7"), (4096, b"k4096-9")],
                         ids=["3072", "4096"])
def test_large_keys_generated_on_port_checked_by_cryptography(bits, seed):
    code = SEEDED + (
        "import json, binascii\n"
        "from upki import rsa\n"
        "dots = []\n"
        "key = rsa.generate(%d, progress=dots.append, randbytes=Seeded(%r))\n"
        "h = lambda b: binascii.hexlify(b).decode()\n"
        "m = binascii.unhexlify(%r)\n"
        "print(json.dumps({'pkcs1': h(key.to_pkcs1_der()), 'spki': h(key.public_key().to_spki_der()),\n"
        "  'sig': h(key.sign(m, 'sha256')), 'dots': ''.join(dots)}))\n"
    ) % (bits, seed, MESSAGE.hex())
    out = run_json(code, timeout=120)
    pkcs1 = bytes.fromhex(out["pkcs1"])
    key = ser.load_der_private_key(pkcs1, None)  # OpenSSL's RSA key check runs here
    assert key.key_size == bits
    nums = key.private_numbers()
    pn = nums.public_numbers
    p, q, d = nums.p, nums.q, nums.d
    assert pn.e == 65537
    assert p.bit_length() == q.bit_length() == bits // 2
    assert _is_probable_prime(p) and _is_probable_prime(q)
    assert p * q == pn.n and pn.n.bit_length() == bits
    assert abs(p - q) > 1 << (bits // 2 - 100) and d > 1 << (bits // 2)
    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    assert pn.e * d % lam == 1
    assert nums.dmp1 == d % (p - 1) and nums.dmq1 == d % (q - 1)
    assert nums.iqmp * q % p == 1
    assert out["dots"].count("+") == 2
    assert key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL,
                             ser.NoEncryption()) == pkcs1
    pub = key.public_key()
    assert pub.public_bytes(ser.Encoding.DER,
                            ser.PublicFormat.SubjectPublicKeyInfo) == bytes.fromhex(out["spki"])
    # board signs -> cryptography verifies; cryptography signs -> the board verifies
    pub.verify(bytes.fromhex(out["sig"]), MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    sig = key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    ok, bad = run_json(
        "import json, binascii\nfrom upki import rsa\nu = binascii.unhexlify\n"
        "pub = rsa.PublicKey.from_spki_der(u(%r))\n"
        "print(json.dumps([pub.verify(u(%r), u(%r), 'sha256'), pub.verify(u(%r) + b'!', u(%r), 'sha256')]))\n"
        % (out["spki"], MESSAGE.hex(), sig.hex(), MESSAGE.hex(), sig.hex()))
    assert ok is True and bad is False
