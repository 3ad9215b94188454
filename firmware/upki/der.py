# SPDX-License-Identifier: MIT
# DER (X.690) in two layers, as asn1crypto does it: a TLV reader that knows no
# types and copies nothing (offsets into the caller's buffer, which should be
# a memoryview), value decoders on top, and a writer that builds lists of
# parts joined once.  Only what X.509, PKCS#1/#8/#10, CMS and CRLs use.
from micropython import const

from upki.errors import DERError

# Universal tags (public: the object modules name their fields with them).
BOOLEAN = const(0x01)
INTEGER = const(0x02)
BIT_STRING = const(0x03)
OCTET_STRING = const(0x04)
NULL = const(0x05)
OID = const(0x06)
ENUMERATED = const(0x0A)
UTF8_STRING = const(0x0C)
NUMERIC_STRING = const(0x12)
PRINTABLE_STRING = const(0x13)
TELETEX_STRING = const(0x14)  # also T61String
IA5_STRING = const(0x16)
UTC_TIME = const(0x17)
GENERALIZED_TIME = const(0x18)
VISIBLE_STRING = const(0x1A)
UNIVERSAL_STRING = const(0x1C)
BMP_STRING = const(0x1E)
SEQUENCE = const(0x30)
SET = const(0x31)

_CONSTRUCTED = const(0x20)
_CONTEXT = const(0x80)
MAX_DEPTH = const(32)

# "hex name" lines, searched with str.find (a dict costs more heap on a board)
_TAG_NAMES = """
01 BOOLEAN
02 INTEGER
03 BIT STRING
04 OCTET STRING
05 NULL
06 OBJECT IDENTIFIER
0a ENUMERATED
0c UTF8String
12 NumericString
13 PrintableString
14 TeletexString
16 IA5String
17 UTCTime
18 GeneralizedTime
1a VisibleString
1c UniversalString
1e BMPString
30 SEQUENCE
31 SET
"""


def tag_name(tag):
    i = _TAG_NAMES.find("\n%02x " % tag)
    if i >= 0:
        return _TAG_NAMES[i + 4 : _TAG_NAMES.find("\n", i + 4)]
    if tag & 0xC0 == _CONTEXT:
        return "[%d]%s" % (tag & 0x1F, " constructed" if tag & _CONSTRUCTED else "")
    return "tag 0x%02x" % tag


# ---------------------------------------------------------------- reading


def read_tlv(buf, pos=0, end=None):
    """Read the TLV at pos; return (tag, content_start, content_end).

    Checks that the element fits before end (default len(buf)); copies nothing.
    """
    if end is None:
        end = len(buf)
    if pos >= end:
        raise DERError("expected a tag at offset %d, found the end of the data" % pos)
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise DERError("high tag number form at offset %d is not supported" % pos)
    if pos + 1 >= end:
        raise DERError("missing length after %s at offset %d" % (tag_name(tag), pos))
    first = buf[pos + 1]
    start = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DERError("indefinite length at offset %d is not DER" % (pos + 1))
    else:
        nbytes = first & 0x7F
        if nbytes > 4:
            raise DERError("length field of %d bytes at offset %d is too long" % (nbytes, pos + 1))
        if start + nbytes > end:
            raise DERError("length field at offset %d runs past the end of the data" % (pos + 1))
        if buf[start] == 0:
            raise DERError("non-minimal length (leading zero) at offset %d" % (pos + 1))
        length = 0
        for i in range(start, start + nbytes):
            length = (length << 8) | buf[i]
        if length < 0x80:
            raise DERError("non-minimal length %d in long form at offset %d" % (length, pos + 1))
        start += nbytes
    if length > end - start:
        raise DERError(
            "length %d at offset %d exceeds the %d bytes left" % (length, pos + 1, end - start)
        )
    return tag, start, start + length


def expect(buf, pos, end, tag):
    """Read the TLV at pos, which must carry tag; return (content_start, content_end)."""
    t, s, e = read_tlv(buf, pos, end)
    if t != tag:
        raise DERError("expected %s at offset %d, found %s" % (tag_name(tag), pos, tag_name(t)))
    return s, e


def read_single(buf, tag=None):
    """The one TLV that fills buf exactly (no trailing bytes); return (tag, start, end)."""
    t, s, e = read_tlv(buf, 0, len(buf))
    if e != len(buf):
        raise DERError("%d bytes of trailing data at offset %d" % (len(buf) - e, e))
    if tag is not None and t != tag:
        raise DERError("expected %s at offset 0, found %s" % (tag_name(tag), tag_name(t)))
    return t, s, e


def children(buf, start, end):
    """Iterate (tag, content_start, content_end) over the TLVs in buf[start:end]."""
    pos = start
    while pos < end:
        t, s, e = read_tlv(buf, pos, end)
        yield t, s, e
        pos = e


def elements(buf):
    """Iterate over the TLVs back to back in buf (certificates in a record),
    each whole, as a memoryview slice."""
    mv = memoryview(buf)
    pos = 0
    for _t, _s, end in children(mv, 0, len(mv)):
        yield mv[pos:end]
        pos = end


def check(buf, start=0, end=None, max_depth=MAX_DEPTH):
    """Check that buf[start:end] is exactly a sequence of well-formed TLVs.

    Walks constructed elements (no recursion: a stack of ends bounded by
    max_depth), so a later lazy read of any field cannot meet a bad length.
    """
    if end is None:
        end = len(buf)
    ends = [end]
    pos = start
    while ends:
        limit = ends[-1]
        if pos == limit:
            ends.pop()
            continue
        t, s, e = read_tlv(buf, pos, limit)
        if t & _CONSTRUCTED:
            if len(ends) > max_depth:
                raise DERError("nesting deeper than %d at offset %d" % (max_depth, pos))
            ends.append(e)
            pos = s
        else:
            pos = e


# ---------------------------------------------------------------- decoders


def decode_int(buf, start, end):
    """A signed INTEGER content (DER: minimal two's complement)."""
    n = end - start
    if n == 0:
        raise DERError("empty INTEGER at offset %d" % start)
    b0 = buf[start]
    if n > 1:
        b1 = buf[start + 1]
        if (b0 == 0 and b1 < 0x80) or (b0 == 0xFF and b1 >= 0x80):
            raise DERError("non-minimal INTEGER at offset %d" % start)
    v = int.from_bytes(buf[start:end], "big")
    if b0 & 0x80:
        v -= 1 << (8 * n)
    return v


def decode_uint_bytes(buf, start, end):
    """The magnitude bytes of a non-negative INTEGER (sign octet dropped), a slice of buf."""
    if end == start:
        raise DERError("empty INTEGER at offset %d" % start)
    if buf[start] & 0x80:
        raise DERError("negative INTEGER at offset %d" % start)
    if end - start > 1 and buf[start] == 0:
        if buf[start + 1] < 0x80:
            raise DERError("non-minimal INTEGER at offset %d" % start)
        start += 1
    return buf[start:end]


def decode_bool(buf, start, end):
    if end - start != 1 or buf[start] not in (0, 0xFF):
        raise DERError("bad BOOLEAN at offset %d" % start)
    return buf[start] == 0xFF


def decode_bit_string(buf, start, end):
    """Return (unused_bits, bytes slice of buf)."""
    if end == start:
        raise DERError("empty BIT STRING at offset %d" % start)
    unused = buf[start]
    if unused > 7 or (unused and end - start == 1):
        raise DERError("bad unused-bits count %d in BIT STRING at offset %d" % (unused, start))
    if unused and buf[end - 1] & ((1 << unused) - 1):
        raise DERError("BIT STRING at offset %d has non-zero padding bits" % start)
    return unused, buf[start + 1 : end]


def decode_bit_string_bytes(buf, start, end):
    """A BIT STRING that must hold whole octets (keys, signatures)."""
    unused, data = decode_bit_string(buf, start, end)
    if unused:
        raise DERError("BIT STRING at offset %d is not a whole number of octets" % start)
    return data


def decode_named_bits(buf, start, end):
    """A BIT STRING as the list of bit numbers that are set (bit 0 = first, MSB)."""
    unused, data = decode_bit_string(buf, start, end)
    out = []
    for i in range(len(data)):
        b = data[i]
        for j in range(8):
            if b & (0x80 >> j):
                out.append(i * 8 + j)
    return out


def decode_octet_string(buf, start, end):
    return buf[start:end]


def decode_null(buf, start, end):
    if end != start:
        raise DERError("NULL with %d content bytes at offset %d" % (end - start, start))
    return None


def decode_oid(buf, start, end):
    """An OBJECT IDENTIFIER content as a dotted string."""
    if end == start:
        raise DERError("empty OBJECT IDENTIFIER at offset %d" % start)
    if buf[end - 1] & 0x80:
        raise DERError("OBJECT IDENTIFIER at offset %d ends inside a subidentifier" % start)
    arcs = []
    v = 0
    fresh = True
    for i in range(start, end):
        b = buf[i]
        if fresh and b == 0x80:
            raise DERError("non-minimal subidentifier in OBJECT IDENTIFIER at offset %d" % i)
        v = (v << 7) | (b & 0x7F)
        fresh = not (b & 0x80)
        if fresh:
            if not arcs:
                if v < 40:
                    arcs.append("0")
                elif v < 80:
                    arcs.append("1")
                    v -= 40
                else:
                    arcs.append("2")
                    v -= 80
            arcs.append(str(v))
            v = 0
    return ".".join(arcs)


def _put_utf8(out, j, c):
    # code point c as UTF-8 into out at j; the index after it
    if c < 0x80:
        out[j] = c
        return j + 1
    if c < 0x800:
        out[j] = 0xC0 | (c >> 6)
        out[j + 1] = 0x80 | (c & 0x3F)
        return j + 2
    if c < 0x10000:
        out[j] = 0xE0 | (c >> 12)
        out[j + 1] = 0x80 | ((c >> 6) & 0x3F)
        out[j + 2] = 0x80 | (c & 0x3F)
        return j + 3
    out[j] = 0xF0 | (c >> 18)
    out[j + 1] = 0x80 | ((c >> 12) & 0x3F)
    out[j + 2] = 0x80 | ((c >> 6) & 0x3F)
    out[j + 3] = 0x80 | (c & 0x3F)
    return j + 4


# Strings are built as UTF-8 bytes and decoded once: a list of one-character
# strings costs a word per character and regrows as it fills, which a 96 KB
# heap feels on a long (or length-corrupted) name.
def _latin1(buf, start, end):
    high = 0
    for i in range(start, end):
        if buf[i] & 0x80:
            high += 1
    if not high:
        return str(bytes(buf[start:end]), "utf-8")
    out = bytearray(end - start + high)
    j = 0
    for i in range(start, end):
        j = _put_utf8(out, j, buf[i])
    return str(out, "utf-8")


def _ucs(buf, start, end, width, what):
    if (end - start) % width:
        raise DERError("%s at offset %d has an odd length" % (what, start))
    # UTF-8 never takes more than 3 bytes per UCS-2 unit (a surrogate pair,
    # 4 bytes of input, becomes 4) nor more than 4 per UCS-4 character
    out = bytearray((end - start) * 3 // 2 if width == 2 else end - start)
    j = 0
    i = start
    while i < end:
        c = 0
        for k in range(width):
            c = (c << 8) | buf[i + k]
        i += width
        if width == 2 and 0xD800 <= c < 0xDC00 and i + 2 <= end:
            lo = (buf[i] << 8) | buf[i + 1]
            if 0xDC00 <= lo < 0xE000:
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00)
                i += 2
        if c > 0x10FFFF or 0xD800 <= c < 0xE000:
            raise DERError("%s at offset %d holds invalid character 0x%x" % (what, start, c))
        j = _put_utf8(out, j, c)
    return str(memoryview(out)[:j], "utf-8")


def decode_string(tag, buf, start, end):
    """A character string of any of the X.520 types as a str."""
    if tag == UTF8_STRING:
        try:
            return str(bytes(buf[start:end]), "utf-8")
        except UnicodeError:
            raise DERError("invalid UTF-8 in UTF8String at offset %d" % start)
    if tag == BMP_STRING:
        return _ucs(buf, start, end, 2, "BMPString")
    if tag == UNIVERSAL_STRING:
        return _ucs(buf, start, end, 4, "UniversalString")
    if tag == TELETEX_STRING:
        # T61 in the wild is UTF-8 (what cryptography writes) or latin-1 (what
        # OpenSSL shows): UTF-8 when it decodes, latin-1 otherwise.
        try:
            return str(bytes(buf[start:end]), "utf-8")
        except UnicodeError:
            return _latin1(buf, start, end)
    if tag in (PRINTABLE_STRING, IA5_STRING, VISIBLE_STRING, NUMERIC_STRING):
        # ASCII types; a stray high byte is kept as latin-1 rather than refused
        return _latin1(buf, start, end)
    raise DERError("expected a string at offset %d, found %s" % (start, tag_name(tag)))


# days between 1970-01-01 and y-m-d (proleptic Gregorian; H. Hinnant's algorithm)
def days_from_civil(y, m, d):
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return y, m, d


_MDAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _digits(buf, i, n, where):
    v = 0
    for k in range(i, i + n):
        c = buf[k]
        if c < 0x30 or c > 0x39:
            raise DERError("non-digit in time at offset %d" % where)
        v = v * 10 + c - 0x30
    return v


def decode_time(tag, buf, start, end):
    """UTCTime or GeneralizedTime content as UNIX epoch seconds (RFC 5280 form:
    seconds present, Z, no fractions; UTCTime YY >= 50 means 19YY)."""
    n = end - start
    if tag == UTC_TIME:
        if n != 13:
            raise DERError("UTCTime at offset %d is not YYMMDDHHMMSSZ" % start)
        y = _digits(buf, start, 2, start)
        y += 1900 if y >= 50 else 2000
        i = start + 2
    elif tag == GENERALIZED_TIME:
        if n != 15:
            raise DERError("GeneralizedTime at offset %d is not YYYYMMDDHHMMSSZ" % start)
        y = _digits(buf, start, 4, start)
        i = start + 4
    else:
        raise DERError("expected a time at offset %d, found %s" % (start, tag_name(tag)))
    if buf[end - 1] != 0x5A:  # 'Z'
        raise DERError("time at offset %d does not end in Z" % start)
    mo = _digits(buf, i, 2, start)
    d = _digits(buf, i + 2, 2, start)
    hh = _digits(buf, i + 4, 2, start)
    mi = _digits(buf, i + 6, 2, start)
    ss = _digits(buf, i + 8, 2, start)
    if not (1 <= mo <= 12 and 1 <= d <= _MDAYS[mo - 1] and hh < 24 and mi < 60 and ss < 60):
        raise DERError("time out of range at offset %d" % start)
    if mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        raise DERError("February 29 in a common year at offset %d" % start)
    return days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss


def epoch_to_tuple(t):
    """(year, month, day, hour, minute, second) of UNIX epoch seconds (UTC)."""
    days, secs = divmod(t, 86400)
    y, m, d = civil_from_days(days)
    return y, m, d, secs // 3600, (secs // 60) % 60, secs % 60


# ---------------------------------------------------------------- writing

# The writer lives in upki.derwrite (csr and rsa load it alone); its names
# are served from here on first use, so that readers that never write DER
# (CRL ingest, certificate validation) do not keep the writer in the heap.
def __getattr__(name):
    from upki import derwrite

    v = getattr(derwrite, name)
    globals()[name] = v
    return v


def _two(v):
    return ("0" + str(v)) if v < 10 else str(v)


def encode_utc_time(t):
    from upki.derwrite import encode_tlv

    y, mo, d, hh, mi, ss = epoch_to_tuple(t)
    if not 1950 <= y < 2050:
        raise ValueError("UTCTime holds 1950-2049 only, not %d" % y)
    s = "".join((_two(y % 100), _two(mo), _two(d), _two(hh), _two(mi), _two(ss), "Z"))
    return encode_tlv(UTC_TIME, s.encode())


def encode_generalized_time(t):
    from upki.derwrite import encode_tlv

    y, mo, d, hh, mi, ss = epoch_to_tuple(t)
    if not 0 <= y <= 9999:
        raise ValueError("year %d out of range" % y)
    ys = str(y)
    ys = "0" * (4 - len(ys)) + ys
    s = "".join((ys, _two(mo), _two(d), _two(hh), _two(mi), _two(ss), "Z"))
    return encode_tlv(GENERALIZED_TIME, s.encode())


def encode_time(t):
    """RFC 5280 Time: UTCTime through 2049, GeneralizedTime from 2050."""
    if -631152000 <= t < 2524608000:  # 1950-01-01 .. 2050-01-01
        return encode_utc_time(t)
    return encode_generalized_time(t)
