# SPDX-License-Identifier: MIT
# upki.scep on the Unix port: the codec's vocabulary, GetCACaps choices,
# GetCACert parsing (single DER, PEM, degenerate PKCS#7), the transactionID,
# the self-signed signer certificate, and refusals of bad input with an
# SCEPError naming it.  CertRep checks against forged replies run on the
# simulated board against the lab CA (tests/test_enroll_labca.py).
# heapsize: 512k
import devtest  # first: it puts firmware/ on the path for a bare run
from upki import cms, der, digest, rsa, scep, x509
from upki.errors import SCEPError
from devtest import raises, read_data

ROOT = read_data("x509_root.der")
LEAF = read_data("x509_leaf.der")  # digitalSignature + keyEncipherment, not a CA
KEY = rsa.PrivateKey.from_der(read_data("rsa_1024_pkcs8.der"))


def test_message_types_and_statuses_are_the_rfc_numbers():
    assert (scep.CERT_REP, scep.RENEWAL_REQ, scep.PKCS_REQ) == (3, 17, 19)
    assert (scep.CERT_POLL, scep.GET_CERT, scep.GET_CRL) == (20, 21, 22)
    assert (scep.SUCCESS, scep.FAILURE, scep.PENDING) == (0, 2, 3)
    assert scep.MESSAGE_NAMES[20] == "CertPoll"


def test_fail_info_in_words():
    names = ["badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId"]
    for i in range(5):
        assert scep.fail_text(i).startswith(names[i] + " (")
        assert scep.fail_text(str(i)) == scep.fail_text(i)
    assert scep.fail_text(9) == "unknown failInfo 9"
    assert "unknown failInfo" in scep.fail_text("x")


def test_caps_every_keyword_case_insensitive_unknown_ignored():
    text = "AES\r\ndes3\nGetNextCACert\nPOSTPKIOperation\nRenewal\nSHA-1\nsha-256\nSHA-512\n" \
           "SCEPStandard\nUpdate\nX-Vendor-Thing\n\n"
    c = scep.Capabilities(text)
    for attr in ("aes", "des3", "get_next_ca_cert", "post_pki_operation", "renewal", "sha1",
                 "sha256", "sha512", "scep_standard", "update"):
        assert getattr(c, attr), attr
    assert c.unknown == ["X-Vendor-Thing"]
    assert (c.post, c.hash_name, c.cipher, c.renewal) == (True, "sha256", "aes128-cbc", True)


def test_caps_choices():
    none = scep.Capabilities(b"")
    assert (none.post, none.hash_name, none.cipher) == (False, "sha1", "des-ede3-cbc")
    std = scep.Capabilities("SCEPStandard")  # implies POST, SHA-256, AES
    assert (std.post, std.hash_name, std.cipher) == (True, "sha256", "aes128-cbc")
    old = scep.Capabilities("DES3\nSHA-1\nGetNextCACert")
    assert (old.post, old.hash_name, old.cipher, old.renewal) == (False, "sha1", "des-ede3-cbc", False)
    assert str(old) == "GET, SHA-1, 3DES"
    # a flood of words is bounded
    many = scep.Capabilities("\n".join(["W%d" % i for i in range(500)]))
    assert len(many.words) == 64


def test_transaction_id_is_the_hash_of_the_public_key():
    from binascii import hexlify

    spki = KEY.public_key().to_spki_der()
    tid = scep.transaction_id(KEY.public_key())
    assert tid == str(hexlify(digest.hash("sha256", spki)), "ascii").upper()
    assert len(scep.transaction_id(KEY.public_key(), "sha1")) == 40
    assert scep.transaction_id(KEY.public_key()) == tid  # stable: a resent request is known


def test_self_signed_signer_certificate():
    from upki import csr

    req = csr.ios_request(KEY, fqdn="r1.lab.test", challenge_password="pw")
    subject, spki = scep.csr_parts(req)
    assert spki == KEY.public_key().to_spki_der()
    der_cert = scep.self_signed(KEY, subject, 1764000000, 1764086400)
    c = x509.Certificate(der_cert)
    assert c.subject.der() == subject and c.issuer.der() == subject
    assert c.verify_signature(c)
    assert c.rsa_public_numbers() == (KEY.n, KEY.e)
    assert c.not_before == 1764000000 and c.not_after == 1764086400


def test_ca_cert_single_der_and_pem():
    certs = scep.parse_ca_certs(ROOT)
    assert len(certs.ca_chain) == 1 and certs.ra_sign is certs.ca and not certs.has_ra()
    pem = b"-----BEGIN CERTIFICATE-----\n"
    from binascii import b2a_base64

    for i in range(0, len(ROOT), 48):
        pem += b2a_base64(ROOT[i : i + 48])
    pem += b"-----END CERTIFICATE-----\n"
    assert scep.parse_ca_certs(pem).ca.der == x509.Certificate(ROOT).der


def test_ca_cert_pkcs7_with_general_purpose_ra_and_fingerprint_override():
    p7 = cms.certs_only([LEAF, ROOT])
    certs = scep.parse_ca_certs(p7)
    assert certs.has_ra()
    assert bytes(certs.ca.der) == ROOT
    assert bytes(certs.ra_sign.der) == LEAF and bytes(certs.ra_encrypt.der) == LEAF
    fp = x509.Certificate(LEAF).fingerprint("sha1")
    certs = scep.parse_ca_certs(p7, ra_sign_fingerprint=fp, ra_encrypt_fingerprint=fp)
    assert bytes(certs.ra_sign.der) == LEAF
    e = raises(SCEPError, scep.parse_ca_certs, p7, "00" * 20)
    assert "no RA certificate has the configured signing fingerprint" in str(e)


def test_ca_cert_refusals():
    assert "empty" in str(raises(SCEPError, scep.parse_ca_certs, b""))
    assert "not DER" in str(raises(SCEPError, scep.parse_ca_certs, b"\x30\x82\xff\xff junk"))
    assert "not a certificate" in str(raises(SCEPError, scep.parse_ca_certs, b"\x04\x01\x00"))
    e = raises(SCEPError, scep.parse_ca_certs, ROOT[: len(ROOT) // 2])
    assert "GetCACert" in str(e)
    # a PKCS#7 of end-entity certificates only names no CA
    e = raises(SCEPError, scep.parse_ca_certs, cms.certs_only([LEAF, read_data("val_leaf.der")]))
    assert "none of the 2 certificates is a CA certificate" in str(e)


def test_requests_never_single_des_and_only_request_types():
    e = raises(SCEPError, scep.pki_message, scep.PKCS_REQ, b"x", LEAF, KEY, ROOT, "T", b"n" * 16,
               "sha256", "des-cbc")
    assert "single DES" in str(e)
    e = raises(SCEPError, scep.pki_message, scep.CERT_REP, b"x", LEAF, KEY, ROOT, "T", b"n" * 16)
    assert "not a request" in str(e)


def test_pki_message_attributes_read_back():
    from upki import csr

    req = csr.ios_request(KEY, fqdn="r1.lab.test")
    subject, _spki = scep.csr_parts(req)
    signer = scep.self_signed(KEY, subject, 1764000000, 1764086400)
    nonce = b"\x07" * 16
    msg = scep.pki_message(scep.PKCS_REQ, req, signer, KEY, LEAF, "ABC123", nonce, "sha256",
                           "des-ede3-cbc", 1764000100)
    s = cms.verify(msg)
    assert s.get("messageType") == "19" and s.get("transactionID") == "ABC123"
    assert s.get("senderNonce") == nonce and s.get("signingTime") == 1764000100
    assert bytes(s.signer.der) == signer


def test_content_builders():
    name = x509.Certificate(ROOT).subject.der()
    ias = scep.issuer_and_serial(name, 0x1234)
    t, s, e = der.read_single(ias)
    kids = list(der.children(ias, s, e))
    assert bytes(memoryview(ias)[kids[0][1] - 2 : kids[0][2]]) == name or kids[0][0] == 0x30
    assert der.decode_int(ias, kids[1][1], kids[1][2]) == 0x1234
    ias2 = scep.issuer_and_subject(name, name)
    assert ias2 == der.encode_sequence(name, name)


def test_pending_transaction_record_round_trip():
    from upki import enroll

    t = enroll.Transaction(message_type=19, tid="ABCD", nonce=b"\x01" * 16, key_label="r1.lab.test",
                           hash_name="sha256", cipher="aes128-cbc", post=True, polls=2,
                           started=1764000000, kind="cert", signer=LEAF, subject=b"\x30\x00",
                           request=b"\x30\x03\x02\x01\x00")
    back = enroll.Transaction.from_record(t.to_record())
    for f in enroll.Transaction.FIELDS:
        assert getattr(back, f) == getattr(t, f), f
    assert "not readable" in str(raises(SCEPError, enroll.Transaction.from_record, b"junk"))
    e = raises(SCEPError, enroll.Transaction.from_record, b"upki-scep-pending 1\ntid=AB\n")
    assert "lacks" in str(e)


def test_micromdm_certrep_fixture_and_each_check():
    # a real scepserver CertRep (single-DES inner envelope, sha1WithRSAEncryption
    # signer info, BER encryptedContent) for a real scepclient PKCSReq
    ca = read_data("cms_mm_ca.der")
    key = rsa.PrivateKey.from_der(read_data("cms_mm_client_key.der"))
    req = cms.verify(read_data("cms_mm_pkcsreq.der"))
    tid, nonce = req.get("transactionID"), req.get("senderNonce")
    signer = bytes(req.signer.der)
    req = None
    body = read_data("cms_mm_certrep.der")
    rep = scep.parse_cert_rep(body, tid, nonce, [ca], key, signer)
    assert rep.status == scep.SUCCESS
    cert = rep.issued(key.public_key(), [x509.Certificate(ca)])
    assert cert.rsa_public_numbers() == (key.n, key.e)
    e = raises(SCEPError, scep.parse_cert_rep, body, tid, b"\x00" * 16, [ca], key, signer)
    assert "recipientNonce does not echo our senderNonce" in str(e)
    e = raises(SCEPError, scep.parse_cert_rep, body, "OTHER", nonce, [ca], key, signer)
    assert "transactionID" in str(e) and "is not ours" in str(e)
    e = raises(SCEPError, scep.parse_cert_rep, body, tid, nonce, [ROOT], key, signer)
    assert "neither the RA nor the CA" in str(e)
    e = raises(SCEPError, scep.parse_cert_rep, body[: len(body) - 40], tid, nonce, [ca], key, signer)
    assert "CertRep: malformed reply" in str(e)
    e = raises(SCEPError, rep.issued, KEY.public_key(), [x509.Certificate(ca)])
    assert "a certificate for another key" in str(e)
    e = raises(SCEPError, rep.issued, key.public_key(), [x509.Certificate(ROOT)])
    assert "not our CA" in str(e)
    e = raises(SCEPError, scep.parse_cert_rep, body, tid, nonce, [ca], KEY, signer)
    assert "cannot open the reply's envelope" in str(e)


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
