# SPDX-License-Identifier: MIT
# upki.x509 on the Unix port, from the committed chain (tests/gen_x509_fixtures.py).
# Expected values were read with openssl from the same files.
import devtest  # first: it puts firmware/ on the path for a bare run
from upki import der, x509
from upki.errors import DERError
from devtest import raises, read_data

LEAF = read_data("x509_leaf.der")
ROOT = read_data("x509_root.der")


def test_fields():
    c = x509.Certificate(LEAF)
    assert c.version == 3
    assert c.serial == 0x611BE2BA000000000005
    assert c.serial_hex == "611BE2BA000000000005"
    assert c.signature_algorithm == "1.2.840.113549.1.1.11"
    assert c.signature_algorithm_name == "sha256WithRSAEncryption"
    assert c.not_before == 1704067200  # 2024-01-01 00:00:00Z
    assert c.not_after == 2666433600  # 2054-06-30 12:00:00Z (GeneralizedTime)
    assert c.key_bits == 2048 and c.exponent == 65537
    assert len(c.signature) == 256
    assert c.valid_at(2000000000) and not c.valid_at(1700000000)


def test_names_ios_order():
    c = x509.Certificate(LEAF)
    assert str(c.subject) == "CN = boulder, O = cisco, L = boulder, ST = colorado, C = US"
    assert str(c.issuer) == "CN = lab-root, O = cisco, C = US"
    assert c.subject.rdns()[0] == [("2.5.4.6", "US")]
    assert c.subject.get("CN") == ["boulder"]
    assert c.issuer == x509.Certificate(ROOT).subject
    assert c.issuer != c.subject
    assert x509.Certificate(ROOT).is_self_issued and not c.is_self_issued


def test_name_matching():
    def name(rdns_der):
        t, s, e = der.read_single(rdns_der)
        return x509.Name(rdns_der, 0, e)

    def enc(*rdns):
        return der.encode_tlv(
            der.SEQUENCE,
            [
                der.encode_set(
                    *[
                        der.encode_sequence(der.encode_oid(o), der.encode_string(t, v))
                        for o, v, t in rdn
                    ]
                )
                for rdn in rdns
            ],
        )

    a = name(
        enc([("2.5.4.6", "US", der.PRINTABLE_STRING)], [("2.5.4.3", "Lab  Root", der.UTF8_STRING)])
    )
    b = name(
        enc(
            [("2.5.4.6", "us", der.PRINTABLE_STRING)],
            [("2.5.4.3", " lab root ", der.PRINTABLE_STRING)],
        )
    )
    c = name(
        enc(
            [("2.5.4.6", "US", der.PRINTABLE_STRING)], [("2.5.4.3", "Lab Root 2", der.UTF8_STRING)]
        )
    )
    d = name(
        enc([("2.5.4.3", "Lab Root", der.UTF8_STRING)], [("2.5.4.6", "US", der.PRINTABLE_STRING)])
    )
    assert a != b and a.matches(b) and b.matches(a)
    assert not a.matches(c) and not a.matches(d)
    assert a.matches(a)


def test_extensions():
    c = x509.Certificate(LEAF)
    assert c.basic_constraints == (False, None)
    assert not c.is_ca
    assert c.key_usage == {"digitalSignature", "keyEncipherment"}
    assert c.ext_key_usage == ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]
    assert c.subject_alt_names == [
        ("DNS", "boulder.cisco.com"),
        ("IP", "10.1.1.1"),
        ("IP", "2001:db8::1"),
        ("email", "admin@cisco.com"),
        ("URI", "http://boulder.cisco.com/"),
    ]
    assert c.crl_distribution_points == ["http://127.0.0.1/lab-root.crl"]
    r = x509.Certificate(ROOT)
    assert r.basic_constraints == (True, 1)
    assert r.key_usage == {"keyCertSign", "cRLSign"}
    assert len(r.subject_key_identifier) == 20
    assert c.authority_key_identifier == r.subject_key_identifier
    assert r.authority_key_identifier is None and r.subject_alt_names is None
    assert c.unknown_critical_extensions == [] and r.unknown_critical_extensions == []
    assert c.extension("keyUsage")[0] is True
    assert c.ios_usage == "General Purpose" and r.ios_usage == "Signature"


def test_fingerprint_layout():
    c = x509.Certificate(LEAF)
    for name, groups in (("md5", 4), ("sha1", 5), ("sha256", 8)):
        f = c.fingerprint(name)
        parts = f.split(" ")
        assert len(parts) == groups, f
        for p in parts:
            assert len(p) == 8 and p == p.upper()
    raises(ValueError, c.fingerprint, "sha512")
    assert x509.fingerprint_text(bytes(range(16))) == "00010203 04050607 08090A0B 0C0D0E0F"


def test_signature_results():
    c = x509.Certificate(LEAF)
    r = x509.Certificate(ROOT)
    assert c.signature_error(r) is None and c.verify_signature(r)
    assert c.verify_signature(r.public_key()) and c.verify_signature(r.rsa_public_numbers())
    assert c.signature_error(c) == "signature does not match the sha256 key"
    assert not c.verify_signature(c)
    # a broken issuer key is a reason, not an exception
    n, e = r.rsa_public_numbers()
    assert c.signature_error((n + 1, e)).startswith("bad signature")
    assert c.signature_error((n, 2)).startswith("bad signature")
    assert x509.check_signature("1.2.840.10045.4.3.2", b"x", b"y", r) == (
        "unsupported signature algorithm ecdsa-with-SHA256"
    )


def test_issuer_and_serial():
    c = x509.Certificate(LEAF)
    ias = c.issuer_and_serial()
    t, s, e = der.read_single(ias, der.SEQUENCE)
    t2, s2, e2 = der.read_tlv(ias, s, e)
    assert bytes(ias[s:e2]) == c.issuer.der() == x509.Certificate(ROOT).subject.der()
    vs, ve = der.expect(ias, e2, e, der.INTEGER)
    assert ve == e and der.decode_int(ias, vs, ve) == c.serial


def test_tbs_span():
    c = x509.Certificate(LEAF)
    tbs = c.tbs_bytes
    t, s, e = der.read_tlv(tbs, 0)
    assert t == der.SEQUENCE and e == len(tbs)
    assert bytes(LEAF[4 : 4 + len(tbs)]) == bytes(tbs)


def test_public_key_info():
    c = x509.Certificate(LEAF)
    alg, n, e = x509.parse_rsa_public_key_info(c.public_key_info, 0, len(c.public_key_info))
    assert alg == "1.2.840.113549.1.1.1" and n == c.modulus and e == 65537
    assert c.public_key_algorithm == alg
    assert c.public_key().n == n


def test_pem_round_trip():
    from binascii import b2a_base64

    body = str(b2a_base64(LEAF), "ascii").strip()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    assert bytes(x509.pem_to_der(pem)) == LEAF
    assert bytes(x509.load(pem.encode()).der) == LEAF
    assert bytes(x509.load(LEAF).der) == LEAF
    raises(ValueError, x509.pem_to_der, "no pem here")


def test_rejects_trailing_and_truncated():
    raises(DERError, x509.Certificate, LEAF + b"\x00")
    raises(DERError, x509.Certificate, LEAF[:-1])
    raises(DERError, x509.Certificate, b"")


def test_ip_formatting():
    assert x509.format_ip(bytes([192, 168, 0, 1])) == "192.168.0.1"
    cases = (
        ("20010db8000000000000000000000001", "2001:db8::1"),
        ("00000000000000000000000000000000", "::"),
        ("00000000000000000000000000000001", "::1"),
        ("fe800000000000000001000000000001", "fe80::1:0:0:1"),
        ("20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"),
        ("00010000000000000000000000000000", "1::"),
        ("00010000000000020000000000000003", "1:0:0:2::3"),
    )
    from binascii import unhexlify

    for hx, text in cases:
        assert x509.format_ip(unhexlify(hx)) == text, text
    assert x509.format_ip(b"\x01\x02\x03") == "010203"


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
