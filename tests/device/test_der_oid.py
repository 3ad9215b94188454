# SPDX-License-Identifier: MIT
# upki.oid: the one OID table, its reverse lookup, signature-hash mapping.
import devtest  # first: it puts firmware/ on the path for a bare run
from upki import der, oid
from devtest import raises


def test_names():
    assert oid.name("2.5.4.3") == "CN"
    assert oid.name("1.2.840.113549.1.9.1") == "E"
    assert oid.name("2.16.840.1.113733.1.9.7") == "transID"
    assert oid.name("1.2.3.4.5") == "1.2.3.4.5"


def test_dotted_and_aliases():
    assert oid.dotted("cn") == "2.5.4.3"
    assert oid.dotted("OU") == "2.5.4.11"
    assert oid.dotted("emailAddress") == "1.2.840.113549.1.9.1"
    assert oid.dotted("serialnumber") == "2.5.4.5"
    assert oid.dotted("hostname") == oid.UNSTRUCTURED_NAME
    assert oid.dotted("1.2.3") == "1.2.3"
    assert oid.dotted("KEYUSAGE") == "2.5.29.15"
    raises(ValueError, oid.dotted, "")
    raises(ValueError, oid.dotted, "nosuchthing")


def test_every_oid_encodes_and_decodes():
    lines = oid._TABLE.strip().split("\n")
    assert len(lines) > 90
    for line in lines:
        k, n = line.split(" ")
        assert oid.name(k) == n and oid.dotted(n) == k, line
        b = der.encode_oid(k)
        t, s, e = der.read_single(b)
        assert der.decode_oid(b, s, e) == k


def test_signature_hashes():
    for h in ("sha1", "sha256", "sha384", "sha512", "md5"):
        assert oid.rsa_signature_hash(oid.rsa_signature_oid(h)) == h
        assert oid.name(oid.hash_oid(h)) == h
    assert oid.rsa_signature_hash("1.2.840.10045.4.3.2") is None
    raises(ValueError, oid.rsa_signature_oid, "sha3")


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
