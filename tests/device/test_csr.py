# SPDX-License-Identifier: MIT
# upki.csr on the Unix port: X.500 strings, subject as IOS builds it, names
# and addresses encoded, requests that read back (upki.x509's Name parser)
# and whose signature checks with upki.rsa.  openssl and cryptography check
# the same requests in tests/test_csr_openssl.py.
import devtest  # first: it puts firmware/ on the path for a bare run
from upki import csr, der, oid, rsa, x509
from devtest import raises, read_data

KEY = rsa.PrivateKey.from_der(read_data("x509_key_1024.der"))


def test_parse_dn():
    rdns = csr.parse_dn("CN=r1.lab.example, OU=lab + L=boulder, O=cisco, C=US")
    assert rdns[0] == [("2.5.4.6", "US")]
    assert rdns[2] == [("2.5.4.11", "lab"), ("2.5.4.7", "boulder")]
    assert (
        x509.format_name(rdns) == "CN = r1.lab.example, OU = lab + L = boulder, O = cisco, C = US"
    )
    assert csr.parse_dn(r"O=a\, b") == [[("2.5.4.10", "a, b")]]
    assert csr.parse_dn("e=a@b.c, serialnumber=123, hostname=x.y")[0] == [
        ("1.2.840.113549.1.9.2", "x.y")
    ]
    assert csr.parse_dn('O="cisco, inc" + OU=a\\+b, C=US') == [
        [("2.5.4.6", "US")],
        [("2.5.4.10", "cisco, inc"), ("2.5.4.11", "a+b")],
    ]
    assert csr.parse_dn('O="cisco, inc", C=US') == [
        [("2.5.4.6", "US")],
        [("2.5.4.10", "cisco, inc")],
    ]
    raises(ValueError, csr.parse_dn, 'O="open')
    raises(ValueError, csr.parse_dn, "nonsense")
    raises(ValueError, csr.parse_dn, "XYZ=1")


def test_encode_name_round_trip():
    rdns = [
        [("2.5.4.6", "US")],
        [("2.5.4.10", "caf\u00e9")],
        [("1.2.840.113549.1.9.1", "a@b.c"), ("2.5.4.3", "x")],
    ]
    b = csr.encode_name(rdns)
    t, s, e = der.read_single(b)
    got = x509.parse_name(b, s, e)
    assert got[0] == rdns[0] and got[1] == rdns[1]
    assert sorted(got[2]) == sorted(rdns[2])
    # C is a PrintableString, café a UTF8String, E an IA5String
    assert b"\x13\x02US" in b and b"\x0c\x05caf\xc3\xa9" in b and b"\x16\x05a@b.c" in b
    assert b"\x0c\x03\xc3\xa9x" in csr.encode_name([[(oid.UNSTRUCTURED_NAME, "\u00e9x")]])
    raises(ValueError, csr.encode_name, [[("E", "\u00e9@x")]])
    raises(ValueError, csr.encode_general_names, [("DNS", "r\u00fcter.example")])


def test_parse_ip():
    assert csr.parse_ip("10.1.2.3") == b"\x0a\x01\x02\x03"
    for text in (
        "2001:db8::1",
        "::",
        "::1",
        "fe80::1:0:0:1",
        "2001:db8:0:1:1:1:1:1",
        "1::",
        "1:0:0:2::3",
    ):
        assert x509.format_ip(csr.parse_ip(text)) == text, text
    for bad in ("1.2.3", "1.2.3.256", "1::2::3", "1:2:3", "12345::", "a.b.c.d", "g::1"):
        raises(ValueError, csr.parse_ip, bad)


def test_ios_subject():
    rdns = csr.ios_subject("r1.example.com", "OU=lab, O=cisco, C=US", "FTX1234", "10.0.0.1")
    text = x509.format_name(rdns)
    assert text.startswith(
        "unstructuredName = r1.example.com + unstructuredAddress = 10.0.0.1 + "
        "serialNumber = FTX1234, CN = r1.example.com, OU = lab"
    ), text
    assert text.endswith("O = cisco, C = US")
    # a configured CN wins over the FQDN
    rdns = csr.ios_subject("r1.example.com", "CN=vpn-gw, O=cisco")
    assert [a for rdn in rdns for a in rdn if a[0] == oid.CN] == [(oid.CN, "vpn-gw")]
    assert csr.ios_subject("r1.example.com") == [
        [(oid.CN, "r1.example.com")],
        [(oid.UNSTRUCTURED_NAME, "r1.example.com")],
    ]
    raises(ValueError, csr.ios_subject)
    raises(ValueError, csr.ios_subject, "r1", None, None, "10.0.0.300")


def _read_request(data):
    """(subject RDNs, SPKI bytes, {attribute oid: value TLV bytes}, sig oid, tbs, signature)."""
    buf = memoryview(data)
    t, s, e = der.read_single(buf, der.SEQUENCE)
    der.check(buf)
    is_, ie = der.expect(buf, s, e, der.SEQUENCE)
    info = bytes(buf[s:ie])
    vs, ve = der.expect(buf, is_, ie, der.INTEGER)
    assert der.decode_int(buf, vs, ve) == 0
    ns, ne = der.expect(buf, ve, ie, der.SEQUENCE)
    subject = x509.parse_name(buf, ns, ne)
    t, ks, ke = der.read_tlv(buf, ne, ie)
    spki_start = ne
    spki = bytes(buf[spki_start:ke])
    as_, ae = der.expect(buf, ke, ie, 0xA0)
    assert ae == ie
    attrs = {}
    for t, s2, e2 in der.children(buf, as_, ae):
        os_, oe = der.expect(buf, s2, e2, der.OID)
        vs2, ve2 = der.expect(buf, oe, e2, der.SET)
        attrs[der.decode_oid(buf, os_, oe)] = bytes(buf[vs2:ve2])
    sig_alg, params, pos = x509.parse_algorithm(buf, ie, e)
    bs, be = der.expect(buf, pos, e, der.BIT_STRING)
    return subject, spki, attrs, sig_alg, info, bytes(der.decode_bit_string_bytes(buf, bs, be))


def test_request_reads_back_and_verifies():
    data = csr.ios_request(
        KEY,
        "r1.example.com",
        "O=cisco, C=US",
        "SN42",
        "192.0.2.7",
        challenge_password="s3cret",
        usage="signature",
        hash_name="sha1",
    )
    subject, spki, attrs, sig_alg, info, sig = _read_request(data)
    assert subject[0] == [("2.5.4.6", "US")] and subject[2] == [(oid.CN, "r1.example.com")]
    assert spki == KEY.public_key().to_spki_der()
    assert attrs[oid.CHALLENGE_PASSWORD] == b"\x13\x06s3cret"
    ext = attrs[oid.EXTENSION_REQUEST]
    assert b"\x82\x0er1.example.com" in ext and b"\x87\x04\xc0\x00\x02\x07" in ext
    assert (
        b"\x06\x03\x55\x1d\x0f\x01\x01\xff\x04\x04\x03\x02\x07\x80" in ext
    )  # critical, digitalSignature
    assert sig_alg == "1.2.840.113549.1.1.5"
    assert KEY.public_key().verify(info, sig, "sha1")
    assert not KEY.public_key().verify(info + b"x", sig, "sha1")


def test_usages():
    def ku(usage):
        subject, spki, attrs, sig_alg, info, sig = _read_request(
            csr.build(KEY, [[(oid.CN, "x")]], usage=usage)
        )
        return attrs.get(oid.EXTENSION_REQUEST)

    assert b"\x03\x02\x05\xa0" in ku("general-purpose")  # digitalSignature + keyEncipherment
    assert b"\x03\x02\x07\x80" in ku("signature")
    assert b"\x03\x02\x05\x20" in ku("encryption")
    assert ku(None) is None
    raises(ValueError, csr.build, KEY, [[(oid.CN, "x")]], None, None, "both")
    raises(ValueError, csr.build, KEY, [[(oid.CN, "x")]], None, None, None, None, "sha3")


def test_no_attributes_gives_empty_set():
    data = csr.build(KEY, [[(oid.CN, "x")]])
    subject, spki, attrs, sig_alg, info, sig = _read_request(data)
    assert attrs == {} and info.endswith(b"\xa0\x00")
    assert sig_alg == "1.2.840.113549.1.1.11"
    assert KEY.public_key().verify(info, sig, "sha256")


def test_pem():
    data = csr.build(KEY, [[(oid.CN, "x")]])
    pem = csr.der_to_pem(data)
    assert pem.startswith("-----BEGIN CERTIFICATE REQUEST-----\n")
    assert pem.endswith("-----END CERTIFICATE REQUEST-----\n")
    assert bytes(x509.pem_to_der(pem, "CERTIFICATE REQUEST")) == data
    for line in pem.split("\n")[1:-2]:
        assert len(line) <= 64


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
