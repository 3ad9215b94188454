# SPDX-License-Identifier: MIT
# upki.der on the Unix port: TLV reading, decoders, writer round-trips, and
# the rejections DER demands (X.690 section 10).
import devtest  # first: it puts firmware/ on the path for a bare run
from upki import der
from upki.errors import DERError
from devtest import raises


def _single(b):
    m = memoryview(b)
    t, s, e = der.read_single(m)
    return t, m, s, e


def test_int_round_trip():
    for v in (
        0,
        1,
        127,
        128,
        255,
        256,
        -1,
        -128,
        -129,
        -32768,
        -32769,
        1 << 64,
        (1 << 159) + 5,
        -(1 << 200),
        0x7FFFFFFF,
        0x80000000,
    ):
        t, m, s, e = _single(der.encode_int(v))
        assert t == der.INTEGER
        assert der.decode_int(m, s, e) == v, v


def test_int_known_encodings():
    assert der.encode_int(0) == b"\x02\x01\x00"
    assert der.encode_int(128) == b"\x02\x02\x00\x80"
    assert der.encode_int(-128) == b"\x02\x01\x80"
    assert der.encode_int(-129) == b"\x02\x02\xff\x7f"
    assert der.encode_int(65537) == b"\x02\x03\x01\x00\x01"


def test_int_rejects_non_minimal_and_empty():
    for bad in (b"\x02\x02\x00\x01", b"\x02\x02\xff\x80", b"\x02\x00"):
        t, m, s, e = _single(bad)
        raises(DERError, der.decode_int, m, s, e)


def test_uint_bytes():
    t, m, s, e = _single(der.encode_int(0x80FF))
    assert bytes(der.decode_uint_bytes(m, s, e)) == b"\x80\xff"
    t, m, s, e = _single(der.encode_int(-5))
    raises(DERError, der.decode_uint_bytes, m, s, e)


def test_lengths():
    assert der.encode_length(0) == b"\x00"
    assert der.encode_length(127) == b"\x7f"
    assert der.encode_length(128) == b"\x81\x80"
    assert der.encode_length(256) == b"\x82\x01\x00"
    body = bytes(300)
    t, m, s, e = _single(der.encode_octet_string(body))
    assert (t, s, e) == (der.OCTET_STRING, 4, 304)
    assert bytes(der.decode_octet_string(m, s, e)) == body


def test_rejects_indefinite_length():
    e = raises(DERError, der.read_tlv, b"\x30\x80\x00\x00", 0)
    assert "indefinite" in str(e)


def test_rejects_non_minimal_length():
    e = raises(DERError, der.read_tlv, b"\x04\x81\x05abcde", 0)
    assert "non-minimal" in str(e)
    e = raises(DERError, der.read_tlv, b"\x04\x82\x00\x81" + bytes(0x81), 0)
    assert "non-minimal" in str(e)


def test_rejects_length_past_end():
    e = raises(DERError, der.read_tlv, b"\x30\x83\x01\x11\x70" + bytes(512), 0)
    assert str(e) == "length 70000 at offset 1 exceeds the 512 bytes left", str(e)
    raises(DERError, der.read_tlv, b"\x30\x85\x01\x00\x00\x00\x00", 0)
    raises(DERError, der.read_tlv, b"\x30", 0)
    raises(DERError, der.read_tlv, b"", 0)
    raises(DERError, der.read_tlv, b"\x30\x82\x01", 0)


def test_rejects_trailing_data():
    e = raises(DERError, der.read_single, b"\x05\x00\x00")
    assert "trailing" in str(e)


def test_rejects_high_tag_number():
    raises(DERError, der.read_tlv, b"\x1f\x81\x01\x00", 0)


def test_check_depth_bound():
    inner = b"\x05\x00"
    for _ in range(der.MAX_DEPTH):
        inner = der.encode_sequence(inner)
    der.check(inner)
    deeper = der.encode_sequence(inner)
    e = raises(DERError, der.check, deeper)
    assert "nesting" in str(e)


def test_check_finds_inner_errors():
    good = der.encode_sequence(der.encode_int(5), der.encode_sequence(der.encode_null()))
    der.check(good)
    bad = bytearray(good)
    bad[-1] = 1  # NULL with length 1 now runs past its SEQUENCE
    raises(DERError, der.check, bad)


def test_expect():
    b = der.encode_sequence(der.encode_null())
    assert der.expect(b, 0, len(b), der.SEQUENCE) == (2, 4)
    e = raises(DERError, der.expect, b, 0, len(b), der.SET)
    assert "expected SET at offset 0, found SEQUENCE" in str(e)


def test_children():
    b = der.encode_sequence(der.encode_int(1), der.encode_null(), der.encode_oid("2.5.4.3"))
    t, s, e = der.read_single(b)
    assert [k[0] for k in der.children(b, s, e)] == [der.INTEGER, der.NULL, der.OID]


def test_oid_round_trip():
    for o in (
        "1.2.840.113549.1.1.11",
        "2.5.29.17",
        "2.16.840.1.113733.1.9.7",
        "0.9.2342.19200300.100.1.25",
        "2.999.3",
        "1.3.6.1.4.1.311.20.2",
        "2.5.4.3",
    ):
        t, m, s, e = _single(der.encode_oid(o))
        assert der.decode_oid(m, s, e) == o, o
    assert der.encode_oid("1.2.840.113549") == b"\x06\x06\x2a\x86\x48\x86\xf7\x0d"


def test_oid_rejects_bad():
    for bad in (b"", b"\x2a\x86", b"\x2a\x80\x01"):
        raises(DERError, der.decode_oid, bad, 0, len(bad))


def test_bit_strings():
    t, m, s, e = _single(der.encode_named_bits([0, 2]))
    assert bytes(m[s:e]) == b"\x05\xa0"
    assert der.decode_named_bits(m, s, e) == [0, 2]
    t, m, s, e = _single(der.encode_named_bits([8]))
    assert der.decode_named_bits(m, s, e) == [8]
    raises(DERError, der.decode_bit_string, b"\x08\x00", 0, 2)
    raises(DERError, der.decode_bit_string, b"\x01", 0, 1)
    raises(DERError, der.decode_bit_string, b"\x01\x01", 0, 2)  # padding bit set
    raises(DERError, der.decode_bit_string_bytes, b"\x01\x02", 0, 2)
    assert bytes(der.decode_bit_string_bytes(b"\x00ab", 0, 3)) == b"ab"


def test_null_and_bool():
    assert der.decode_null(b"", 0, 0) is None
    raises(DERError, der.decode_null, b"\x00", 0, 1)
    assert der.decode_bool(b"\xff", 0, 1) is True
    assert der.decode_bool(b"\x00", 0, 1) is False
    raises(DERError, der.decode_bool, b"\x01", 0, 1)


def test_strings():
    for tag, s in (
        (der.UTF8_STRING, "h\u00e9llo \u4e16\u754c"),
        (der.PRINTABLE_STRING, "Cisco Lab"),
        (der.IA5_STRING, "a@b.c"),
        (der.BMP_STRING, "\u00e9t\u00e9 \U0001f600"),
        (der.TELETEX_STRING, "M\u00fcnchen"),
    ):
        t, m, st, e = _single(der.encode_string(tag, s))
        assert t == tag
        assert der.decode_string(t, m, st, e) == s, s
    assert der.decode_string(der.TELETEX_STRING, b"M\xfcx", 0, 3) == "M\u00fcx"  # latin-1
    assert der.decode_string(der.TELETEX_STRING, b"M\xc3\xbcx", 0, 4) == "M\u00fcx"  # UTF-8
    assert der.decode_string(der.UNIVERSAL_STRING, b"\x00\x01\xf6\x00", 0, 4) == "\U0001f600"
    raises(DERError, der.decode_string, der.UTF8_STRING, b"\xc3", 0, 1)
    raises(DERError, der.decode_string, der.BMP_STRING, b"\x00a\x00", 0, 3)
    raises(DERError, der.decode_string, der.INTEGER, b"a", 0, 1)


def _time(tag, text):
    b = text.encode()
    return der.decode_time(tag, b, 0, len(b))


def test_times_known_values():
    assert _time(der.UTC_TIME, "700101000000Z") == 0
    assert _time(der.UTC_TIME, "491231235959Z") == 2524607999
    assert _time(der.UTC_TIME, "500101000000Z") == -631152000
    assert _time(der.GENERALIZED_TIME, "20500101000000Z") == 2524608000
    assert _time(der.GENERALIZED_TIME, "99991231235959Z") == 253402300799
    assert _time(der.UTC_TIME, "000229120000Z") == 951825600


def test_times_reject_bad():
    for tag, text in (
        (der.UTC_TIME, "7001010000Z"),
        (der.UTC_TIME, "700101000000+0100"),
        (der.UTC_TIME, "701301000000Z"),
        (der.UTC_TIME, "700132000000Z"),
        (der.UTC_TIME, "010229000000Z"),
        (der.UTC_TIME, "7001010000a0Z"),
        (der.GENERALIZED_TIME, "20500101000000.5Z"),
        (der.GENERALIZED_TIME, "205001010000Z"),
    ):
        raises(DERError, _time, tag, text)


def test_time_writer_pivot():
    assert der.encode_time(2524607999) == b"\x17\x0d491231235959Z"
    assert der.encode_time(2524608000) == b"\x18\x0f20500101000000Z"
    assert der.encode_time(0) == b"\x17\x0d700101000000Z"
    for t in (0, 951825600, 2524607999, 2524608000, 253402300799, 1700000000):
        b = der.encode_time(t)
        t2, m, s, e = _single(b)
        assert der.decode_time(t2, m, s, e) == t


def test_set_is_sorted():
    b = der.encode_set(der.encode_int(5), der.encode_int(1))
    assert b == b"\x31\x06\x02\x01\x01\x02\x01\x05"


def test_memoryview_bodies():
    m = memoryview(b"xxabcxx")[2:5]
    assert der.encode_tlv(der.OCTET_STRING, m) == b"\x04\x03abc"
    assert der.encode_octet_string(m) == b"\x04\x03abc"
    assert der.encode_bit_string(m) == b"\x03\x04\x00abc"
    assert der.encode_sequence(m, b"", bytearray(b"d")) == b"\x30\x04abcd"


def test_context_tags():
    assert der.encode_context(0, der.encode_int(2)) == b"\xa0\x03\x02\x01\x02"
    assert der.encode_context(2, b"ab", False) == b"\x82\x02ab"


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
