# SPDX-License-Identifier: MIT
# heapsize: 256k
# Malformed DER corpus on the Unix port (256 KB heap as .py source; 64 KB as
# .mpy, as boards run it: tests/test_x509_heap.py): truncations at every
# offset of a real certificate, mutated length octets of every TLV, huge and
# indefinite lengths, deep nesting and random byte corruption.  Parsing every
# field must end in DERError or ValueError (or a parse that holds together),
# never another exception, a MemoryError or a hang.
import devtest  # first: it puts firmware/ on the path for a bare run
from upki import der, x509
from upki.errors import DERError
from devtest import raises, read_data

LEAF = read_data("x509_leaf.der")
ROOT = x509.Certificate(read_data("x509_root.der"))
# Signature checks need upki.rsa (16 KB more heap as .mpy); the 64 KB run of
# tests/test_x509_heap.py turns them off, the run here keeps them.
VERIFY = True


def _touch_everything(data):
    """Parse data as a certificate and read every field; return the outcome
    ('ok' or 'rejected'); any other exception propagates and fails the test."""
    try:
        c = x509.Certificate(data)
        c.version, c.serial, c.serial_hex, c.signature_algorithm_name, c.signature
        str(c.issuer), str(c.subject), c.issuer.rdns(), c.subject.rdns()
        c.not_before, c.not_after
        c.rsa_public_numbers(), c.key_bits
        c.basic_constraints, c.key_usage, c.ext_key_usage, c.subject_alt_names
        c.crl_distribution_points, c.subject_key_identifier, c.authority_key_identifier
        c.unknown_critical_extensions, c.fingerprint("sha1")
        reason = c.signature_error(ROOT) if VERIFY else "not checked"
        if VERIFY and bytes(data) != LEAF:
            # a changed certificate may still parse, but never verify
            assert reason is not None, "corrupted certificate verified"
        return "ok"
    except (DERError, ValueError):
        return "rejected"


def _tlv_headers(buf):
    """Offsets of every TLV header in buf (walking constructed elements)."""
    out = []
    stack = [len(buf)]
    pos = 0
    while stack:
        if pos == stack[-1]:
            stack.pop()
            continue
        t, s, e = der.read_tlv(buf, pos, stack[-1])
        out.append((pos, s))
        if t & 0x20:
            stack.append(e)
            pos = s
        else:
            pos = e
    return out


def test_original_parses_and_verifies():
    assert _touch_everything(LEAF) == "ok"
    if VERIFY:
        assert x509.Certificate(LEAF).verify_signature(ROOT)


def test_truncation_at_every_offset():
    buf = bytearray(LEAF)
    for n in range(len(LEAF)):
        assert _touch_everything(memoryview(buf)[:n]) == "rejected", n


def test_truncation_with_outer_length_fixed():
    # shorten the content but rewrite the outer length so the first check passes
    for n in range(4, len(LEAF) - 4, 7):
        body = LEAF[4:n]
        data = der.encode_tlv(der.SEQUENCE, body)
        assert _touch_everything(data) == "rejected", n


def test_mutated_length_octets():
    headers = _tlv_headers(memoryview(LEAF))
    assert len(headers) > 60
    rejected = 0
    total = 0
    for pos, content in headers:
        for i in range(pos + 1, content):  # every octet of the length field
            for delta in (1, -1, 0x80, 0x40, 0x7F):
                buf = bytearray(LEAF)
                buf[i] = (buf[i] + delta) & 0xFF
                total += 1
                if _touch_everything(buf) == "rejected":
                    rejected += 1
    # a few changes can leave well-formed DER behind; nearly all must fail
    assert rejected * 100 >= total * 95, (rejected, total)


def test_huge_and_indefinite_lengths():
    for pos, content in _tlv_headers(memoryview(LEAF))[:40]:
        for field in (
            b"\x84\xff\xff\xff\xff",
            b"\x84\x7f\xff\xff\xff",
            b"\x80",
            b"\x85\x01\x00\x00\x00\x00",
            b"\x89\x01\x02\x03\x04\x05\x06\x07\x08\x09",
            b"\x81\x05",
            b"\x82\x00\xff",
        ):
            buf = b"".join((LEAF[: pos + 1], field, LEAF[content:]))
            assert _touch_everything(buf) == "rejected", (pos, field)


def _nested(depth):
    # depth SEQUENCEs around a NULL, each header 30 82 hi lo, built in place
    size = 4 * depth + 2
    buf = bytearray(size)
    for level in range(depth):
        length = size - 4 * (level + 1)
        i = 4 * level
        buf[i] = 0x30
        buf[i + 1] = 0x82
        buf[i + 2] = length >> 8
        buf[i + 3] = length & 0xFF
    buf[size - 2] = 0x05
    return buf


def test_deep_nesting():
    inner = _nested(1500)
    e = raises(DERError, x509.Certificate, inner)
    assert "nesting" in str(e)
    raises(DERError, der.check, inner)
    # nested inside a real certificate field (an extension-sized blob)
    nested = b"\x05\x00"
    for _ in range(200):
        nested = der.encode_tlv(der.SET, nested)
    cert = der.encode_sequence(
        der.encode_sequence(der.encode_context(0, der.encode_int(2)), nested),
        der.encode_sequence(der.encode_oid("1.2.840.113549.1.1.11")),
        der.encode_bit_string(b"\x00"),
    )
    raises(DERError, x509.Certificate, cert)


def test_indefinite_length_cert():
    buf = bytearray(LEAF)
    # outer SEQUENCE as BER indefinite length with end-of-contents octets
    data = b"\x30\x80" + bytes(buf[4:]) + b"\x00\x00"
    e = raises(DERError, x509.Certificate, data)
    assert "indefinite" in str(e)


def test_random_corruption():
    seed = 12345
    buf = bytearray(LEAF)
    outcomes = {"ok": 0, "rejected": 0}
    for round_ in range(1500):
        data = bytearray(buf)
        for _ in range(1 + round_ % 3):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            i = seed % len(data)
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            data[i] = seed >> 16 & 0xFF
        outcomes[_touch_everything(data)] += 1
    assert outcomes["rejected"] > 0 and outcomes["ok"] > 0, outcomes


def test_corrupted_issuer():
    # a broken issuer certificate gives a reason (or DERError when it is
    # read), never another exception, and never a good signature
    leaf = x509.Certificate(LEAF)
    raw = read_data("x509_root.der")
    seed = 99
    reasons = 0
    for round_ in range(300):
        data = bytearray(raw)
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        data[seed % len(data)] ^= 1 << (round_ % 8)
        try:
            issuer = x509.Certificate(data)
        except (DERError, ValueError):
            continue
        try:
            numbers = issuer.rsa_public_numbers()
        except (DERError, ValueError):
            numbers = None
        if not VERIFY:
            continue
        reason = leaf.signature_error(issuer)
        if numbers != ROOT.rsa_public_numbers():
            assert reason is not None, round_
            reasons += 1
    assert reasons > 0 or not VERIFY


def test_garbage_inputs():
    for data in (
        b"",
        b"\x00",
        b"\x30",
        b"\x30\x00",
        b"\x30\x03\x02\x01\x00",
        b"\xff" * 64,
        b"\x30\x82\x00\x05\x00\x00\x00\x00\x00",
        bytes(range(256)),
    ):
        assert _touch_everything(data) == "rejected", data


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
