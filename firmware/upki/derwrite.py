# SPDX-License-Identifier: MIT
# The DER writer half of upki.der: TLVs built as lists of parts joined once.
# Its own module so that a certificate request (upki.csr) and a public key
# (rsa to_spki_der) can be written right after key generation on a small heap
# without loading the reader and decoders; upki.der re-exports every name
# here, so `der.encode_sequence(...)` keeps working everywhere.
from micropython import const

_INTEGER = const(0x02)
_BIT_STRING = const(0x03)
_OCTET_STRING = const(0x04)
_OID = const(0x06)
_SEQUENCE = const(0x30)
_SET = const(0x31)
_BMP_STRING = const(0x1E)
_PRINTABLE_STRING = const(0x13)
_IA5_STRING = const(0x16)
_TELETEX_STRING = const(0x14)
_VISIBLE_STRING = const(0x1A)
_NUMERIC_STRING = const(0x12)
_CONSTRUCTED = const(0x20)
_CONTEXT = const(0x80)


def encode_length(n):
    if n < 0x80:
        return bytes((n,))
    out = []
    while n:
        out.append(n & 0xFF)
        n >>= 8
    out.append(0x80 | len(out))
    out.reverse()
    return bytes(out)


def encode_tlv(tag, body):
    """One TLV; body is bytes-like or a list of bytes-like parts, joined once
    (MicroPython's join refuses memoryviews: those are copied first)."""
    if isinstance(body, (list, tuple)):
        try:
            body = b"".join(body)
        except TypeError:  # a memoryview among the parts
            body = b"".join([bytes(p) for p in body])
    elif isinstance(body, memoryview):
        body = bytes(body)
    return b"".join((bytes((tag,)), encode_length(len(body)), body))


def encode_sequence(*parts):
    return encode_tlv(_SEQUENCE, parts)


def encode_set(*parts):
    # DER: the elements of a _SET OF sorted by their encodings
    return encode_tlv(_SET, sorted(bytes(p) for p in parts))


def _uint_to_bytes(n):
    if n < 0:
        raise ValueError("negative integer")
    return n.to_bytes((len("%x" % n) + 1) // 2, "big")


def int_to_bytes(n, length=None):
    """Unsigned big-endian bytes of n >= 0 (minimal, or left-padded to length)."""
    b = _uint_to_bytes(n)
    if length is not None:
        if len(b) > length:
            raise ValueError("integer does not fit in %d bytes" % length)
        b = bytes(length - len(b)) + b
    return b


def encode_int(n):
    if n >= 0:
        b = _uint_to_bytes(n)
        if b[0] & 0x80:
            b = b"\x00" + b
    else:
        # smallest L with -2**(8L-1) <= n
        length = 1
        while n < -(1 << (8 * length - 1)):
            length += 1
        b = _uint_to_bytes(n + (1 << (8 * length)))
    return encode_tlv(_INTEGER, b)


def encode_bool(v):
    return b"\x01\x01\xff" if v else b"\x01\x01\x00"


def encode_null():
    return b"\x05\x00"


def encode_octet_string(data):
    return encode_tlv(_OCTET_STRING, data)


def encode_bit_string(data, unused=0):
    return encode_tlv(_BIT_STRING, (bytes((unused,)), data))


def encode_named_bits(bits):
    """A named BIT STRING (keyUsage) from the set bit numbers; trailing zeros dropped."""
    if not bits:
        return b"\x03\x01\x00"
    top = max(bits)
    data = bytearray(top // 8 + 1)
    for b in bits:
        data[b // 8] |= 0x80 >> (b % 8)
    unused = 7 - top % 8
    return encode_bit_string(bytes(data), unused)


def encode_oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError("bad _OID %s" % dotted)
    arcs = [arcs[0] * 40 + arcs[1]] + arcs[2:]
    out = []
    for v in arcs:
        chunk = [v & 0x7F]
        v >>= 7
        while v:
            chunk.append(0x80 | (v & 0x7F))
            v >>= 7
        chunk.reverse()
        out.extend(chunk)
    return encode_tlv(_OID, bytes(out))


def encode_string(tag, s):
    """A character string of type tag from a str."""
    if tag == _BMP_STRING:
        out = []
        for ch in s:
            c = ord(ch)
            if c >= 0x10000:
                c -= 0x10000
                hi = 0xD800 + (c >> 10)
                lo = 0xDC00 + (c & 0x3FF)
                out.extend((hi >> 8, hi & 0xFF, lo >> 8, lo & 0xFF))
            else:
                out.extend((c >> 8, c & 0xFF))
        return encode_tlv(tag, bytes(out))
    if tag in (_PRINTABLE_STRING, _IA5_STRING, _TELETEX_STRING, _VISIBLE_STRING, _NUMERIC_STRING):
        data = bytes(ord(c) for c in s)  # ValueError past 255 on both ports
        return encode_tlv(tag, data)
    return encode_tlv(tag, s.encode("utf-8"))


def encode_context(n, body, constructed=True):
    """A context-specific [n] tag: constructed (EXPLICIT, or IMPLICIT of a
    _SEQUENCE/_SET) or primitive (IMPLICIT of a primitive type)."""
    return encode_tlv(_CONTEXT | (_CONSTRUCTED if constructed else 0) | n, body)
