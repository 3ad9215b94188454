# SPDX-License-Identifier: MIT
# upki.cipher on the Unix port: NIST known answers (SP 800-38A AES-CBC,
# SP 800-20 / SP 800-67 / CAVP TDES), padding, sizes.
import devtest  # first: it puts firmware/ on the path for a bare run
from devtest import raises, read_data
from binascii import unhexlify
from upki import cipher


def _kat():
    for line in read_data("cipher_kat.txt").decode().split("\n"):
        if line and not line.startswith("#"):
            src, alg, key, iv, pt, ct = line.split()
            yield src, alg, unhexlify(key), unhexlify(iv), unhexlify(pt), unhexlify(ct)


def test_known_answers_encrypt():
    n = 0
    for src, alg, key, iv, pt, ct in _kat():
        got = cipher.encrypt(alg, key, iv, pt, padding=False)
        assert got == ct, "%s %s: %s" % (src, alg, got)
        n += 1
    assert n > 70


def test_known_answers_decrypt():
    for src, alg, key, iv, pt, ct in _kat():
        assert cipher.decrypt(alg, key, iv, ct, padding=False) == pt, src


def test_every_des_block_of_a_chain():
    # SP 800-20 A.1 as one 64-block CBC chain: block i's input is pt_i xor ct_(i-1).
    rows = [r for r in _kat() if r[0] == "SP800-20-A.1" and r[1] == "des-cbc"]
    assert len(rows) == 64
    chain = bytearray()
    prev = bytes(8)
    for _, _, key, _, pt, ct in rows:
        chain.extend(bytes(a ^ b for a, b in zip(pt, prev)))
        prev = ct
    out = cipher.encrypt("des-cbc", rows[0][2], bytes(8), chain, padding=False)
    assert out == b"".join(r[5] for r in rows)
    assert cipher.decrypt("des-cbc", rows[0][2], bytes(8), out, padding=False) == chain


def test_two_key_3des_is_k1_k2_k1():
    key = bytes(range(1, 17))
    iv = b"\x55" * 8
    data = b"two-key triple DES, K3 = K1...!!"
    a = cipher.encrypt("des-ede-cbc", key, iv, data)
    assert a == cipher.encrypt("des-ede3-cbc", key, iv, data)
    assert a == cipher.encrypt("des-ede3-cbc", key + key[:8], iv, data)
    assert cipher.decrypt("des-ede-cbc", key, iv, a) == data


def test_3des_with_equal_keys_is_des():
    key = unhexlify("0123456789abcdef")
    iv = unhexlify("1234567890abcdef")
    data = b"Now is the time for all "
    assert cipher.encrypt("des-ede3-cbc", key * 3, iv, data) == cipher.encrypt(
        "des-cbc", key, iv, data
    )


def test_padding_round_trip_every_length():
    for alg in ("aes128-cbc", "aes256-cbc", "des-ede3-cbc", "des-cbc"):
        key = bytes(range(cipher.key_size(alg)))
        iv = bytes(range(100, 100 + cipher.iv_size(alg)))
        block = cipher.block_size(alg)
        for n in range(0, 3 * block + 2):
            data = bytes(range(n))
            ct = cipher.encrypt(alg, key, iv, data)
            assert len(ct) == (n // block + 1) * block, (alg, n)
            assert cipher.decrypt(alg, key, iv, ct) == data, (alg, n)


def test_inputs_may_be_bytearray_or_memoryview():
    key = bytearray(24)
    iv = memoryview(bytearray(8))
    data = memoryview(b"xxpayloadxx")[2:9]
    ct = cipher.encrypt("des-ede3-cbc", key, iv, data)
    assert cipher.decrypt("des-ede3-cbc", key, iv, memoryview(ct)) == b"payload"
    ct = cipher.encrypt("aes128-cbc", bytearray(16), bytearray(16), data)
    assert cipher.decrypt("aes128-cbc", bytes(16), bytes(16), bytearray(ct)) == b"payload"


def test_pad_and_unpad():
    assert cipher.pad(b"", 8) == b"\x08" * 8
    assert cipher.pad(b"abc", 8) == b"abc" + b"\x05" * 5
    assert cipher.unpad(b"abc" + b"\x05" * 5, 8) == b"abc"
    assert cipher.unpad(b"\x10" * 16, 16) == b""


def _msg(e):
    return str(e.args[0]) if e.args else ""


def test_unpad_strict():
    e = raises(ValueError, cipher.unpad, b"", 8)
    assert "empty" in _msg(e)
    e = raises(ValueError, cipher.unpad, b"abcdefg\x01x", 8)
    assert "multiple of 8" in _msg(e)
    e = raises(ValueError, cipher.unpad, b"abcdefg\x00", 8)
    assert "last byte 0" in _msg(e)
    e = raises(ValueError, cipher.unpad, b"abcdefg\x09", 8)
    assert "last byte 9" in _msg(e)
    e = raises(ValueError, cipher.unpad, b"abcde\x03\x02\x03", 8)
    assert "not all 3" in _msg(e)
    e = raises(ValueError, cipher.unpad, b"\x11" * 16 + b"\x11", 16)
    assert "multiple" in _msg(e)


def test_decrypt_reports_bad_padding():
    key = bytes(16)
    iv = bytes(16)
    bad = cipher.encrypt("aes128-cbc", key, iv, b"0123456789abcd\x02\x03", padding=False)
    e = raises(ValueError, cipher.decrypt, "aes128-cbc", key, iv, bad)
    assert "bad padding" in _msg(e)
    bad = cipher.encrypt("des-cbc", bytes(8), bytes(8), b"0123456\x00", padding=False)
    e = raises(ValueError, cipher.decrypt, "des-cbc", bytes(8), bytes(8), bad)
    assert "bad padding" in _msg(e)
    e = raises(ValueError, cipher.decrypt, "des-cbc", bytes(8), bytes(8), b"")
    assert "positive multiple of 8" in _msg(e)
    e = raises(ValueError, cipher.decrypt, "aes256-cbc", bytes(32), bytes(16), bytes(20))
    assert "multiple of 16" in _msg(e)


def test_sizes_checked():
    e = raises(ValueError, cipher.encrypt, "aes128-cbc", bytes(24), bytes(16), b"x")
    assert "16-byte key" in _msg(e)
    e = raises(ValueError, cipher.encrypt, "des-ede3-cbc", bytes(8), bytes(8), b"x")
    assert "24 or 16-byte key" in _msg(e)
    e = raises(ValueError, cipher.encrypt, "des-cbc", bytes(8), bytes(16), b"x")
    assert "8-byte IV" in _msg(e)
    e = raises(ValueError, cipher.encrypt, "rc2-cbc", bytes(8), bytes(8), b"x")
    assert "unknown cipher" in _msg(e)
    e = raises(ValueError, cipher.encrypt, "des-cbc", bytes(8), bytes(8), b"x", padding=False)
    assert "multiple of 8" in _msg(e)


def test_oids():
    assert cipher.alg_for_oid("1.3.14.3.2.7") == "des-cbc"
    assert cipher.alg_for_oid("1.2.840.113549.3.7") == "des-ede3-cbc"
    assert cipher.alg_for_oid("2.16.840.1.101.3.4.1.2") == "aes128-cbc"
    assert cipher.oid_for_alg("aes256-cbc") == "2.16.840.1.101.3.4.1.42"
    raises(ValueError, cipher.alg_for_oid, "1.2.840.113549.3.2")


def test_decrypt_does_not_touch_input():
    data = bytearray(cipher.encrypt("des-cbc", bytes(8), bytes(8), b"hello"))
    copy = bytes(data)
    cipher.decrypt("des-cbc", bytes(8), bytes(8), data)
    assert bytes(data) == copy


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
