# SPDX-License-Identifier: MIT
"""upki.der: the TLV reader and every value decoder, over every element of
the input (walked without recursion). Only DERError may escape."""

import common

with common.instrumented():
    from upki import der
    from upki.errors import PKIError

ALLOWED = (PKIError,)

_DECODERS = {
    der.INTEGER: der.decode_int,
    der.BOOLEAN: der.decode_bool,
    der.BIT_STRING: der.decode_named_bits,
    der.NULL: der.decode_null,
    der.OID: der.decode_oid,
    der.OCTET_STRING: der.decode_octet_string,
}
_MAX_ELEMENTS = 4096


def _decode(buf, t, s, e):
    if t in _DECODERS:
        _DECODERS[t](buf, s, e)
    if t == der.INTEGER:
        der.decode_uint_bytes(buf, s, e)
    elif t == der.BIT_STRING:
        der.decode_bit_string_bytes(buf, s, e)
    elif t in (der.UTC_TIME, der.GENERALIZED_TIME):
        der.epoch_to_tuple(der.decode_time(t, buf, s, e))
    elif t in (0x0C, 0x12, 0x13, 0x14, 0x16, 0x1A, 0x1C, 0x1E):
        s_ = der.decode_string(t, buf, s, e)
        assert isinstance(s_, str)
    der.tag_name(t)


def one(data):
    buf = memoryview(data)
    try:
        der.check(buf)
    except ALLOWED:
        pass
    try:
        der.read_single(buf)
    except ALLOWED:
        pass
    # walk every element (a stack, like der.check), decoding what each tag says
    stack = [(0, len(buf))]
    seen = 0
    while stack and seen < _MAX_ELEMENTS:
        pos, end = stack.pop()
        try:
            for t, s, e in der.children(buf, pos, end):
                seen += 1
                if t & 0x20:
                    stack.append((s, e))
                else:
                    try:
                        _decode(buf, t, s, e)
                    except ALLOWED:
                        pass
        except ALLOWED:
            pass


if __name__ == "__main__":
    common.main(one)
