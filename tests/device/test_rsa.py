# SPDX-License-Identifier: MIT
# upki.rsa on the Unix port against keys, signatures and ciphertexts written
# by `cryptography` (tests/data/rsa_*, from tests/gen_rsa_fixtures.py).  No key
# generation here: that is tests/device/test_rsa_keygen.py.
import devtest
from devtest import raises, read_data

from upki import der, rsa
from upki.errors import CryptoError

SIZES = (1024, 2048, 4096)
HASHES = ("md5", "sha1", "sha256", "sha384", "sha512")
MESSAGE = read_data("rsa_message.bin")
SECRET = read_data("rsa_secret.bin")


def _f(bits, name):
    return read_data("rsa_%d_%s" % (bits, name))


def _key(bits):
    return rsa.PrivateKey.from_der(_f(bits, "pkcs8.der"))


def test_private_key_encodings_round_trip_byte_equal():
    for bits in SIZES:
        p1 = _f(bits, "pkcs1.der")
        p8 = _f(bits, "pkcs8.der")
        for data in (p1, p8):
            k = rsa.PrivateKey.from_der(data)
            assert k.bits == bits and k.e == 65537
            assert k.to_pkcs1_der() == p1, bits
            assert k.to_pkcs8_der() == p8, bits
        assert rsa.PrivateKey.from_pkcs1_der(p1).d == rsa.PrivateKey.from_pkcs8_der(p8).d
        k = rsa.PrivateKey.from_pem(_f(bits, "pkcs1.pem"))
        assert k.to_pem(pkcs8=False).encode() == _f(bits, "pkcs1.pem")
        k = rsa.PrivateKey.from_pem(_f(bits, "pkcs8.pem").decode())
        assert k.to_pem().encode() == _f(bits, "pkcs8.pem")


def test_public_key_encodings_round_trip_byte_equal():
    for bits in SIZES:
        spki = _f(bits, "spki.der")
        pk1 = _f(bits, "pub_pkcs1.der")
        pub = rsa.PublicKey.from_spki_der(spki)
        assert pub == _key(bits).public_key()
        assert pub.bits == bits and pub.size == bits // 8
        assert pub.to_spki_der() == spki
        assert pub.to_pkcs1_der() == pk1
        assert rsa.PublicKey.from_pkcs1_der(pk1) == pub
        assert rsa.PublicKey.from_der(pk1) == pub == rsa.PublicKey.from_der(spki)
        assert pub.to_pem().encode() == _f(bits, "spki.pem")
        assert rsa.PublicKey.from_pem(_f(bits, "spki.pem")) == pub


def test_verify_signatures_made_by_cryptography():
    for bits in SIZES:
        pub = rsa.PublicKey.from_spki_der(_f(bits, "spki.der"))
        for h in HASHES:
            sig = _f(bits, "sig_%s.bin" % h)
            assert pub.verify(MESSAGE, sig, h) is True, (bits, h)
            assert pub.verify(MESSAGE + b"x", sig, h) is False, (bits, h)
            # the right signature under another hash name must fail
            other = "sha1" if h != "sha1" else "sha256"
            assert pub.verify(MESSAGE, sig, other) is False, (bits, h)


def test_sign_matches_cryptography_byte_for_byte():
    # PKCS#1 v1.5 is deterministic: the board's signature must be the same bytes
    for bits in (1024, 2048):
        key = _key(bits)
        for h in HASHES:
            assert key.sign(MESSAGE, h) == _f(bits, "sig_%s.bin" % h), (bits, h)


def test_bad_signatures_rejected_without_raising():
    pub = rsa.PublicKey.from_spki_der(_f(2048, "spki.der"))
    sig = _f(2048, "sig_sha256.bin")
    assert pub.verify(MESSAGE, sig, "sha256")
    bad = [
        sig[:-1],  # short
        b"\x00" + sig,  # long, even though the value is the same
        sig[1:],
        b"",
        bytes(len(sig)),  # zero
        b"\xff" * len(sig),  # >= n
        pub.n.to_bytes(256, "big"),  # == n
    ]
    flipped = bytearray(sig)
    flipped[100] ^= 1
    bad.append(bytes(flipped))
    for s in bad:
        assert pub.verify(MESSAGE, s, "sha256") is False, len(s)
    # a 1024-bit signature does not verify under the 2048-bit key
    assert pub.verify(MESSAGE, _f(1024, "sig_sha256.bin"), "sha256") is False
    raises(ValueError, pub.verify, MESSAGE, sig, "sha3-256")


def test_verify_rejects_forged_padding():
    # Encodings a lax parser might accept: build them, "sign" them with the
    # private key (raw), and check verify refuses them.
    from upki import digest

    key = _key(2048)
    pub = key.public_key()
    d = digest.hash("sha256", MESSAGE)
    t = digest.digest_info("sha256", d)
    k = 256

    def raw_sign(em):
        assert len(em) == k
        return pow(int.from_bytes(em, "big"), key.d, key.n).to_bytes(k, "big")

    good = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    assert pub.verify(MESSAGE, raw_sign(good), "sha256")
    forgeries = [
        b"\x00\x02" + b"\xff" * (k - len(t) - 3) + b"\x00" + t,  # block type 2
        b"\x00\x01" + b"\xff" * (k - len(t) - 4) + b"\x00" + t + b"\x00",  # trailing garbage
        b"\x00\x01" + b"\xff" * (k - len(t) - 4) + b"\x00\x00" + t,  # PS not all 0xff
        b"\x00\x01" + b"\xfe" + b"\xff" * (k - len(t) - 4) + b"\x00" + t,
        b"\x01\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t[:-1] + b"\x00",
    ]
    # DigestInfo without the NULL parameters (not what we sign: refused)
    t2 = b"\x30\x2f\x30\x0b\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x04\x20" + d
    forgeries.append(b"\x00\x01" + b"\xff" * (k - len(t2) - 3) + b"\x00" + t2)
    for em in forgeries:
        assert len(em) == k
        assert pub.verify(MESSAGE, raw_sign(em), "sha256") is False


def test_decrypt_ciphertext_from_cryptography():
    for bits in SIZES:
        assert _key(bits).decrypt(_f(bits, "enc.bin")) == SECRET, bits


def test_encrypt_decrypt_round_trip_and_randomised():
    key = _key(2048)
    pub = key.public_key()
    for msg in (b"", b"x", SECRET, bytes(range(245))):
        c1 = pub.encrypt(msg)
        assert len(c1) == 256
        assert key.decrypt(c1) == msg
        if msg:
            assert pub.encrypt(msg) != c1  # random padding
    e = raises(ValueError, pub.encrypt, bytes(246))
    assert "245" in str(e)


def test_decrypt_rejects_bad_padding_with_one_message():
    key = _key(2048)
    pub = key.public_key()
    k = 256

    def raw_encrypt(em):
        assert len(em) == k, len(em)
        return pow(int.from_bytes(em, "big"), pub.e, pub.n).to_bytes(k, "big")

    msg = b"key"
    ps = b"\x5a" * (k - len(msg) - 3)
    assert key.decrypt(raw_encrypt(b"\x00\x02" + ps + b"\x00" + msg)) == msg
    bad = [
        b"\x00\x01" + ps + b"\x00" + msg,  # signature block type
        b"\x01\x02" + ps + b"\x00" + msg,  # leading byte not zero
        b"\x00\x02" + ps + b"\x5a" + msg,  # no separator
        b"\x00\x02" + b"\x5a" * 7 + b"\x00" + b"\x5a" * (k - 10),  # PS of 7 bytes
        b"\x00\x02" + b"\x00" + b"\x5a" * (k - 3),  # empty PS
    ]
    for em in bad:
        e = raises(CryptoError, key.decrypt, raw_encrypt(em))
        assert str(e) == "decryption error"
    # wrong lengths and out-of-range ciphertexts
    c = raw_encrypt(b"\x00\x02" + ps + b"\x00" + msg)
    for c_bad in (c[1:], b"\x00" + c, b"", b"\xff" * k):
        e = raises(CryptoError, key.decrypt, c_bad)
        assert str(e) == "decryption error"


def test_fault_in_crt_is_caught():
    # A corrupted CRT exponent gives a wrong signature; it must never leave
    # the board (a faulty CRT signature reveals a factor of n).
    key = _key(1024)
    key.dp ^= 2
    e = raises(CryptoError, key.sign, MESSAGE, "sha256")
    assert "check" in str(e)
    raises(CryptoError, key.check)


def test_private_operation_blinds_with_a_fresh_factor_each_call():
    # sign(), as used: the CRT exponentiations (pow(base, dp, p), pow(base, dq, q))
    # must see c * r^e mod n with a fresh r each call, never c itself, while the
    # signature stays the deterministic PKCS#1 v1.5 one. upki.rsa's pow is watched
    # by a module global that shadows the builtin.
    key = _key(1024)
    bases = []
    builtin_pow = pow

    def watching_pow(b, e, m=None):
        if m is None:
            return builtin_pow(b, e)
        if e in (key.dp, key.dq) and m in (key.p, key.q):
            bases.append((m, b))
        return builtin_pow(b, e, m)

    em = int.from_bytes(_f(1024, "sig_sha256.bin"), "big")
    c = builtin_pow(em, key.e, key.n)  # the encoded message block the signature is of
    rsa.pow = watching_pow
    try:
        sigs = [key.sign(MESSAGE, "sha256") for _ in range(3)]
    finally:
        del rsa.pow
    assert sigs == [_f(1024, "sig_sha256.bin")] * 3
    assert len(bases) == 6, len(bases)
    for m in (key.p, key.q):
        seen = [b for mod, b in bases if mod == m]
        assert len(seen) == 3
        assert c % m not in seen  # never the unblinded input
        assert len(set(seen)) == 3  # a fresh factor each call
    # and the blinding factor comes from the random source: the same bytes give the
    # same blinded base, other bytes another, and the result is right either way
    draws = []

    def fixed(fill):
        def randbytes(n):
            draws.append(n)
            return bytes([fill]) * n
        return randbytes

    bases.clear()
    rsa.pow = watching_pow
    try:
        m1 = key._private_op(c, fixed(0x5A))
        m2 = key._private_op(c, fixed(0x5A))
        m3 = key._private_op(c, fixed(0xA5))
    finally:
        del rsa.pow
    assert m1 == m2 == m3 == em
    assert draws == [key.size + 8] * 3  # one draw per operation, 64 bits beyond n
    dp_bases = [b for mod, b in bases if mod == key.p]
    assert dp_bases[0] == dp_bases[1] != dp_bases[2], dp_bases


def test_malformed_key_der_rejected():
    p8 = _f(1024, "pkcs8.der")
    p1 = _f(1024, "pkcs1.der")
    for cut in (1, 2, 10, len(p8) // 2, len(p8) - 1):
        raises(der.DERError, rsa.PrivateKey.from_der, p8[:cut])
    raises(der.DERError, rsa.PrivateKey.from_der, p8 + b"\x00")
    raises(der.DERError, rsa.PublicKey.from_spki_der, _f(1024, "spki.der")[:-3])
    # version 1 (multi-prime) refused
    raises(der.DERError, rsa.PrivateKey.from_pkcs1_der, p1[:4] + b"\x02\x01\x01" + p1[7:])
    # a key whose numbers disagree (qinv changed) is refused
    k = rsa.PrivateKey.from_der(p1)
    bad = rsa.PrivateKey(k.n, k.e, k.d, k.p, k.q, k.dp, k.dq, k.qinv + 1)
    raises(CryptoError, rsa.PrivateKey.from_der, bad.to_pkcs1_der())
    # another algorithm in PKCS#8 (id-ecPublicKey) is refused
    rsa_oid = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"
    ec = p8.replace(rsa_oid, b"\x06\x09\x2a\x86\x48\xce\x3d\x02\x01\x01\x01")
    raises(der.DERError, rsa.PrivateKey.from_der, ec)
    raises(ValueError, rsa.PrivateKey.from_pem, "no pem here")


def test_inverse_helper():
    assert rsa.inverse(3, 7) == 5
    assert rsa.inverse(65537, 2**1024 + 1) * 65537 % (2**1024 + 1) == 1
    raises(ValueError, rsa.inverse, 6, 9)


if __name__ == "__main__":
    devtest.main(globals())
