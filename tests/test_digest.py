# SPDX-License-Identifier: MIT
# upki.digest cross-checked against CPython's hashlib: on the Unix port over
# random messages of every length around the block edges, and the pure-Python
# SHA-384/512 on CPython too.
import hashlib
import random
import sys
from pathlib import Path

from mpy import run_json

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT / "firmware", ROOT / "tests" / "shims"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from upki import digest  # noqa: E402

NAMES = ("md5", "sha1", "sha256", "sha384", "sha512")


def _messages():
    rng = random.Random(1234)
    lengths = list(range(0, 260, 7)) + [55, 56, 63, 64, 65, 111, 112, 119, 120, 1000, 4097]
    return [bytes(rng.getrandbits(8) for _ in range(n)) for n in lengths]


def test_port_matches_hashlib():
    msgs = _messages()
    code = (
        "import json, binascii\n"
        "from upki import digest\n"
        "msgs = [binascii.unhexlify(m) for m in %r]\n"
        "print(json.dumps({n: [binascii.hexlify(digest.hash(n, m)).decode() for m in msgs]"
        " for n in %r}))\n" % ([m.hex() for m in msgs], NAMES)
    )
    got = run_json(code)
    for name in NAMES:
        want = [hashlib.new(name, m).hexdigest() for m in msgs]
        assert got[name] == want, name


def test_pure_sha512_on_cpython():
    for m in _messages():
        for is384, name in ((False, "sha512"), (True, "sha384")):
            h = digest.SHA512(is384)
            h.update(m[: len(m) // 3])
            h.update(m[len(m) // 3 :])
            assert h.digest() == hashlib.new(name, m).digest()


def test_digest_info_parses_as_der():
    # The prefix + digest must be the exact DigestInfo OpenSSL puts in a
    # PKCS#1 v1.5 signature: recover it from a signature made by cryptography.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(65537, 1024)
    nums = key.private_numbers()
    for name, algo in (
        ("md5", hashes.MD5()),
        ("sha1", hashes.SHA1()),
        ("sha256", hashes.SHA256()),
        ("sha384", hashes.SHA384()),
        ("sha512", hashes.SHA512()),
    ):
        sig = key.sign(b"msg", padding.PKCS1v15(), algo)
        em = pow(int.from_bytes(sig, "big"), nums.public_numbers.e, nums.public_numbers.n)
        em = em.to_bytes(128, "big")
        want = digest.digest_info(name, hashlib.new(name, b"msg").digest())
        assert em.endswith(b"\x00" + want), name
