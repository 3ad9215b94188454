# SPDX-License-Identifier: MIT
# upki.x509 on the Unix port, from the committed chain (tests/gen_x509_fixtures.py).
# Expected values were read with openssl from the same files.
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


def test_pem_round_trip():
    pem = x509.der_to_pem(LEAF)
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n")
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
    for text in ("2001:db8::1", "::", "::1", "fe80::1:0:0:1", "2001:db8:0:1:1:1:1:1", "1::", "1:0:0:2::3"):
        assert x509.format_ip(x509.parse_ip(text)) == text, text
    raises(ValueError, x509.parse_ip, "1.2.3")
    raises(ValueError, x509.parse_ip, "1.2.3.256")
    raises(ValueError, x509.parse_ip, "1::2::3")


def test_dn_text_round_trip():
    rdns = x509.parse_dn("CN=r1.lab.example, OU=lab + L=boulder, O=cisco, C=US")
    assert rdns[0] == [("2.5.4.6", "US")]
    assert rdns[2] == [("2.5.4.11", "lab"), ("2.5.4.7", "boulder")]
    assert x509.format_name(rdns) == "CN = r1.lab.example, OU = lab + L = boulder, O = cisco, C = US"
    assert x509.parse_dn(r"O=a\, b") == [[("2.5.4.10", "a, b")]]
    raises(ValueError, x509.parse_dn, "nonsense")
    raises(ValueError, x509.parse_dn, "XYZ=1")


def test_encode_name_round_trip():
    rdns = [[("2.5.4.6", "US")], [("2.5.4.10", "caf\u00e9")], [("1.2.840.113549.1.9.1", "a@b.c"), ("2.5.4.3", "x")]]
    b = x509.encode_name(rdns)
    t, s, e = der.read_single(b)
    got = x509.parse_name(b, s, e)
    assert got[0] == rdns[0] and got[1] == rdns[1]
    assert sorted(got[2]) == sorted(rdns[2])
    # C is a PrintableString, café a UTF8String, E an IA5String
    assert b"\x13\x02US" in b and b"\x0c\x05caf\xc3\xa9" in b and b"\x16\x05a@b.c" in b


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
