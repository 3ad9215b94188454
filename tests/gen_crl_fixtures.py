# SPDX-License-Identifier: MIT
"""CRL and validation fixtures: certificate hierarchies made with
`cryptography`, CRLs written as DER here (fast enough for 100,000 entries:
cryptography's CertificateRevocationListBuilder takes minutes for that) and
signed with cryptography.

    .venv/bin/python tests/gen_crl_fixtures.py     # rewrite tests/data/val_* and crl_*

The committed fixtures are read by the tests; make_crl() is imported by the
tests and benchmarks to build large CRLs on the fly.  Keys are the committed
tests/data/x509_key_*.der, so regenerating changes only dates and signatures.

Hierarchy (validation time NOW = 2026-06-01):
    val_root (self-signed, pathlen none) -> val_int1 (pathlen 1) -> val_int2 (pathlen 0)
        -> val_leaf (good), val_leaf_revoked, val_leaf_expired, val_leaf_future,
           val_leaf_badsig (signature bit flipped)
    val_root -> val_leaf2 (depth 2)
CRLs (thisUpdate 2026-05-01, nextUpdate 2026-07-01 unless named otherwise):
    crl_root.der (empty, v2), crl_int1.der, crl_int2.der (revokes val_leaf_revoked,
    keyCompromise), crl_int2_expired.der (nextUpdate 2026-05-15), crl_int2_badsig.der,
    crl_int2_v1.der (version 1, no extensions), crl_int2_older.der (cRLNumber 3 < 7,
    without the keyCompromise entry: what a replayed older CRL looks like),
    crl_int2_critical.der (an unknown critical extension),
    crl_root_revokes_int1.der (revokes val_int1, cACompromise).
"""

import datetime
import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID

DATA = Path(__file__).resolve().parent / "data"
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 6, 1, tzinfo=UTC)
THIS_UPDATE = datetime.datetime(2026, 5, 1, tzinfo=UTC)
NEXT_UPDATE = datetime.datetime(2026, 7, 1, tzinfo=UTC)
REVOKED_SERIAL = 0x1D0C
REVOKED_AT = datetime.datetime(2026, 4, 2, 3, 4, 5, tzinfo=UTC)


def load_key(name):
    return serialization.load_der_private_key((DATA / name).read_bytes(), None)


# ---------------------------------------------------------------- DER writer


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def der_int(v):
    return tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big", signed=True))


def der_time(t):
    if isinstance(t, (int, float)):
        t = datetime.datetime.fromtimestamp(t, UTC)
    if 1950 <= t.year < 2050:
        return tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())
    return tlv(0x18, t.strftime("%Y%m%d%H%M%SZ").encode())


def der_oid(dotted):
    parts = [int(x) for x in dotted.split(".")]
    out = bytearray([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(enc))
    return tlv(0x06, bytes(out))


def extension(oid, value, critical=False):
    return tlv(0x30, der_oid(oid) + (b"\x01\x01\xff" if critical else b"") + tlv(0x04, value))


SHA256_RSA = tlv(0x30, der_oid("1.2.840.113549.1.1.11") + b"\x05\x00")


def make_crl(
    issuer_cert,
    issuer_key,
    entries,
    this_update=THIS_UPDATE,
    next_update=NEXT_UPDATE,
    number=1,
    version=2,
    extra_exts=(),
    entry_bytes=None,
    bad_signature=False,
):
    """DER of a CRL.  entries: iterable of (serial int, revocation time, reason code or None);
    entry_bytes: already-encoded entries (bytes) used instead (fast path for big lists)."""
    if entry_bytes is None:
        parts = []
        for serial, when, reason in entries:
            body = der_int(serial) + der_time(when)
            if reason is not None:
                body += tlv(0x30, extension("2.5.29.21", tlv(0x0A, bytes([reason]))))
            parts.append(tlv(0x30, body))
        entry_bytes = b"".join(parts)
    tbs = b""
    if version == 2:
        tbs += der_int(1)
    tbs += SHA256_RSA + issuer_cert.subject.public_bytes() + der_time(this_update)
    if next_update is not None:
        tbs += der_time(next_update)
    if entry_bytes:
        tbs += tlv(0x30, entry_bytes)
    if version == 2:
        ski = hashlib.sha1(
            issuer_cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.PKCS1
            )
        ).digest()
        exts = extension("2.5.29.35", tlv(0x30, tlv(0x80, ski)))
        exts += extension("2.5.29.20", der_int(number))
        for e in extra_exts:
            exts += e
        tbs += tlv(0xA0, tlv(0x30, exts))
    tbs = tlv(0x30, tbs)
    sig = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    if bad_signature:
        sig = sig[:-1] + bytes([sig[-1] ^ 1])
    return tlv(0x30, tbs + SHA256_RSA + tlv(0x03, b"\x00" + sig))


def big_entries(count, seed=b"upki"):
    """count encoded entries (random 9-byte positive serials, every third with a
    reasonCode) and the list of their serials; about 0.2 s for 100,000."""
    serials = []
    parts = []
    when = der_time(REVOKED_AT)
    reason_ext = tlv(0x30, extension("2.5.29.21", tlv(0x0A, b"\x01")))
    for i in range(count):
        s = int.from_bytes(hashlib.sha256(seed + i.to_bytes(4, "big")).digest()[:9], "big") >> 1
        s |= 1 << 64
        serials.append(s)
        body = der_int(s) + when + (reason_ext if i % 3 == 0 else b"")
        parts.append(tlv(0x30, body))
    return b"".join(parts), serials


# ---------------------------------------------------------------- hierarchy


def _name(cn):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "upki lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _cert(
    subject, key, issuer_cert, issuer_key, serial, nb, na, ca, path_len=None, ku=None, extra=()
):
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer_cert is not None:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    if ku is None:
        ku = ("ca",) if ca else ("leaf",)
    if ku == ("ca",):
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    elif ku == ("leaf",):
        b = b.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), True
        )
    for ext, crit in extra:
        b = b.add_extension(ext, crit)
    return b.sign(issuer_key, hashes.SHA256())


def hierarchy():
    """dict name -> (certificate, key) of the validation hierarchy."""
    d = datetime.datetime
    k_root = load_key("x509_key_2048b.der")
    k_int1 = load_key("x509_key_2048.der")
    k_int2 = load_key("x509_key_1024.der")
    k_leaf = load_key("x509_key_3072.der")
    out = {}
    root = _cert(
        _name("val-root"),
        k_root,
        None,
        k_root,
        1,
        d(2024, 1, 1, tzinfo=UTC),
        d(2044, 1, 1, tzinfo=UTC),
        True,
    )
    out["root"] = (root, k_root)
    int1 = _cert(
        _name("val-int1"),
        k_int1,
        root,
        k_root,
        0x11,
        d(2024, 1, 1, tzinfo=UTC),
        d(2040, 1, 1, tzinfo=UTC),
        True,
        1,
    )
    out["int1"] = (int1, k_int1)
    int2 = _cert(
        _name("val-int2"),
        k_int2,
        int1,
        k_int1,
        0x12,
        d(2024, 1, 1, tzinfo=UTC),
        d(2040, 1, 1, tzinfo=UTC),
        True,
        0,
    )
    out["int2"] = (int2, k_int2)
    good = (d(2025, 1, 1, tzinfo=UTC), d(2030, 1, 1, tzinfo=UTC))
    san = (x509.SubjectAlternativeName([x509.DNSName("r1.lab.test")]), False)
    leaf_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "upki lab"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "vpn"),
            x509.NameAttribute(NameOID.COMMON_NAME, "r1.lab.test"),
        ]
    )
    out["leaf"] = (
        _cert(leaf_name, k_leaf, int2, k_int2, 0x1D01, *good, False, extra=(san,)),
        k_leaf,
    )
    out["leaf_revoked"] = (
        _cert(_name("revoked.lab.test"), k_leaf, int2, k_int2, REVOKED_SERIAL, *good, False),
        k_leaf,
    )
    out["leaf_expired"] = (
        _cert(
            _name("expired.lab.test"),
            k_leaf,
            int2,
            k_int2,
            0x1D02,
            d(2024, 1, 1, tzinfo=UTC),
            d(2025, 1, 1, tzinfo=UTC),
            False,
        ),
        k_leaf,
    )
    out["leaf_future"] = (
        _cert(
            _name("future.lab.test"),
            k_leaf,
            int2,
            k_int2,
            0x1D03,
            d(2030, 1, 1, tzinfo=UTC),
            d(2031, 1, 1, tzinfo=UTC),
            False,
        ),
        k_leaf,
    )
    out["leaf2"] = (
        _cert(_name("r2.lab.test"), k_leaf, root, k_root, 0x2D01, *good, False),
        k_leaf,
    )
    # a CA certificate under int2 despite pathLenConstraint 0, and its leaf
    out["int3_pathlen"] = (
        _cert(
            _name("val-int3"),
            k_int1,
            int2,
            k_int2,
            0x13,
            d(2024, 1, 1, tzinfo=UTC),
            d(2040, 1, 1, tzinfo=UTC),
            True,
        ),
        k_int1,
    )
    out["leaf_pathlen"] = (
        _cert(
            _name("deep.lab.test"), k_leaf, out["int3_pathlen"][0], k_int1, 0x1D04, *good, False
        ),
        k_leaf,
    )
    # a leaf with an unknown critical extension
    out["leaf_critical"] = (
        _cert(
            _name("crit.lab.test"),
            k_leaf,
            int2,
            k_int2,
            0x1D05,
            *good,
            False,
            extra=(
                (
                    x509.UnrecognizedExtension(
                        x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"
                    ),
                    True,
                ),
            ),
        ),
        k_leaf,
    )
    # an intermediate that is not a CA (basicConstraints CA false) issuing a leaf
    out["notca"] = (
        _cert(
            _name("not-a-ca"),
            k_int1,
            int2,
            k_int2,
            0x14,
            d(2024, 1, 1, tzinfo=UTC),
            d(2040, 1, 1, tzinfo=UTC),
            False,
            ku=("ca",),
        ),
        k_int1,
    )
    out["leaf_notca"] = (
        _cert(
            _name("under-notca.lab.test"), k_leaf, out["notca"][0], k_int1, 0x1D06, *good, False
        ),
        k_leaf,
    )
    return out


def crls(h):
    root, k_root = h["root"]
    int1, k_int1 = h["int1"]
    int2, k_int2 = h["int2"]
    revoked = [(REVOKED_SERIAL, REVOKED_AT, 1), (0x77, REVOKED_AT, None)]
    return {
        "crl_root.der": make_crl(root, k_root, []),
        "crl_int1.der": make_crl(int1, k_int1, [(0x999, REVOKED_AT, 4)]),
        "crl_int2.der": make_crl(int2, k_int2, revoked, number=7),
        "crl_int2_older.der": make_crl(int2, k_int2, revoked[1:], number=3),
        "crl_int2_expired.der": make_crl(
            int2, k_int2, revoked, next_update=datetime.datetime(2026, 5, 15, tzinfo=UTC)
        ),
        "crl_int2_badsig.der": make_crl(int2, k_int2, revoked, bad_signature=True),
        "crl_int2_v1.der": make_crl(int2, k_int2, [(REVOKED_SERIAL, REVOKED_AT, None)], version=1),
        "crl_int2_critical.der": make_crl(
            int2,
            k_int2,
            revoked,
            extra_exts=(extension("1.3.6.1.4.1.99999.2", b"\x05\x00", critical=True),),
        ),
        "crl_root_revokes_int1.der": make_crl(root, k_root, [(0x11, REVOKED_AT, 2)]),
    }


def main():
    h = hierarchy()
    for name, (cert, _key) in h.items():
        (DATA / ("val_%s.der" % name)).write_bytes(cert.public_bytes(serialization.Encoding.DER))
    # the bad-signature leaf: the good leaf with the last signature bit flipped
    good = bytearray(h["leaf"][0].public_bytes(serialization.Encoding.DER))
    good[-1] ^= 1
    (DATA / "val_leaf_badsig.der").write_bytes(bytes(good))
    for name, blob in crls(h).items():
        (DATA / name).write_bytes(blob)


if __name__ == "__main__":
    main()
