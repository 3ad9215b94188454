# SPDX-License-Identifier: MIT
# upki.digest on the Unix port: FIPS 180-4 / RFC 1321 known answers (the NIST
# example messages), incremental updates across block edges, DigestInfo.
import devtest  # first: it puts firmware/ on the path for a bare run
from binascii import hexlify, unhexlify

from upki import digest

_M448 = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
_M896 = (
    b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
    b"ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
)

VECTORS = {
    "md5": (
        "d41d8cd98f00b204e9800998ecf8427e",
        "900150983cd24fb0d6963f7d28e17f72",
        "8215ef0796a20bcaaae116d3876c664a",
        "03dd8807a93175fb062dfb55dc7d359c",
    ),
    "sha1": (
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "a9993e364706816aba3e25717850c26c9cd0d89d",
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
        "a49b2446a02c645bf419f995b67091253a04a259",
    ),
    "sha256": (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
    ),
    "sha384": (
        "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da"
        "274edebfe76f65fbd51ad2f14898b95b",
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
        "8086072ba1e7cc2358baeca134c825a7",
        "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6"
        "b0455a8520bc4e6f5fe95b1fe3c8452b",
        "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712"
        "fcc7c71a557e2db966c3e9fa91746039",
    ),
    "sha512": (
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
        "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445",
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
        "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909",
    ),
}
MESSAGES = (b"", b"abc", _M448, _M896)


def _hex(b):
    return hexlify(b).decode()


def test_known_answers_one_shot():
    for name, expected in VECTORS.items():
        for msg, want in zip(MESSAGES, expected):
            got = _hex(digest.hash(name, msg))
            assert got == want, "%s(%r...) = %s" % (name, msg[:8], got)


def test_known_answers_incremental_and_sizes():
    for name, expected in VECTORS.items():
        for step in (1, 3, 55, 64, 127, 200):
            h = digest.new(name)
            for i in range(0, len(_M896), step):
                h.update(_M896[i : i + step])
            assert _hex(h.digest()) == expected[3], (name, step)
            # digest() may be asked twice and gives the same answer
            assert _hex(h.digest()) == expected[3]
            assert len(h.digest()) == digest.SIZES[name] == h.digest_size


def test_sha512_pure_python_on_the_port():
    # The port's hashlib has no sha512: make sure the Python one is in use
    # and right, including messages that end right at the padding edges.
    import hashlib

    assert not hasattr(hashlib, "sha512")
    assert isinstance(digest.new("sha512")._impl, digest.SHA512)
    lengths = (111, 112, 113, 127, 128, 129, 239, 240, 256)
    # SHA-512 of b"a" * n, from CPython's hashlib
    want = {
        111: "fa9121c7b32b9e01733d034cfc78cbf67f926c7ed83e82200ef8681819692176"
        "0b4beff48404df811b953828274461673c68d04e297b0eb7b2b4d60fc6b566a2",
        112: "c01d080efd492776a1c43bd23dd99d0a2e626d481e16782e75d54c2503b5dc32"
        "bd05f0f1ba33e568b88fd2d970929b719ecbb152f58f130a407c8830604b70ca",
        128: "b73d1929aa615934e61a871596b3f3b33359f42b8175602e89f7e06e5f658a24"
        "3667807ed300314b95cacdd579f3e33abdfbe351909519a846d465c59582f321",
    }
    for n in lengths:
        h = digest.SHA512()
        h.update(b"a" * n)
        d = _hex(h.digest())
        if n in want:
            assert d == want[n], n
        # one byte at a time gives the same
        h2 = digest.new("sha512")
        for _ in range(n):
            h2.update(b"a")
        assert _hex(h2.digest()) == d, n


def test_sha384_truncates_different_iv():
    h = digest.SHA512(True)
    h.update(b"abc")
    assert _hex(h.digest()) == VECTORS["sha384"][1]


def test_digest_info_prefixes():
    for name, size in digest.SIZES.items():
        d = bytes(range(size))
        info = digest.digest_info(name, d)
        # SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING } of the right length
        assert info[0] == 0x30 and info[1] == len(info) - 2, name
        assert info[-size - 2] == 0x04 and info[-size - 1] == size, name
        assert info.endswith(d)
    assert digest.DIGEST_INFO_PREFIX["sha256"] == unhexlify(
        "3031300d060960864801650304020105000420"
    )


def test_bad_names_and_sizes():
    import devtest

    e = devtest.raises(ValueError, digest.new, "sha3")
    assert "sha3" in str(e)
    devtest.raises(ValueError, digest.digest_info, "sha256", b"x" * 20)
    h = digest.new("sha1", b"x")
    h.digest()
    devtest.raises(ValueError, h.update, b"y")


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
