# SPDX-License-Identifier: MIT
# upki.cms on the Unix port: SignedData, EnvelopedData and certs-only made by
# openssl and cryptography (tests/gen_cms_fixtures.py) read here; objects
# built here read back; tampered, truncated and wrong inputs refused with a
# PKIError naming what is wrong.  openssl and cryptography check what the
# board builds in tests/test_cms_openssl.py.  The whole file runs in a 256 KB
# heap with the firmware as .py source (compiled on the board); the heap of
# a PKCSReq/CertRep cycle with the firmware as .mpy is in tests/test_cms_heap.py.
# heapsize: 512k
import devtest  # first: it puts firmware/ on the path for a bare run
from upki import cms, der, rsa, x509
from upki.errors import CryptoError, DERError, PKIError
from devtest import raises, read_data

KEY = rsa.PrivateKey.from_der(read_data("x509_key_2048.der"))
LEAF = read_data("x509_leaf.der")
ROOT = read_data("x509_root.der")
CONTENT = read_data("cms_content.bin")
SMALL_KEY = rsa.PrivateKey.from_der(read_data("x509_key_1024.der"))
SMALL_CERT = read_data("cms_small_cert.der")


def _ps(s):
    return der.encode_string(der.PRINTABLE_STRING, s)


SCEP_ATTRS = [
    ("messageType", _ps("19")),
    ("transactionID", _ps("3F2504E04F8911D39A0C0305E82C3301")),
    ("senderNonce", der.encode_octet_string(b"\x01" * 16)),
    (cms.RECIPIENT_NONCE, der.encode_octet_string(b"\x02" * 16)),
    ("pkiStatus", _ps("3")),
    ("failInfo", _ps("2")),
]


def _flip(data, i, mask=0x01):
    b = bytearray(data)
    b[i] ^= mask
    return bytes(b)


def _encrypted_key(env):
    # ContentInfo -> [0] -> EnvelopedData -> recipientInfos -> KTRI -> encryptedKey
    buf = memoryview(env)
    _, s, e = der.read_single(buf)
    _, s, e = der.read_tlv(buf, s + 11, e)
    _, s, e = der.read_tlv(buf, s, e)
    _, rs, re = list(der.children(buf, s, e))[1]
    _, ks, ke = list(der.children(buf, rs, re))[0]
    t, os_, oe = list(der.children(buf, ks, ke))[-1]
    assert t == der.OCTET_STRING
    return bytes(buf[os_:oe])


def _msg(e):
    return e.args[0] if e.args else ""


# ---------------------------------------------------------------- SignedData from openssl


def test_verify_openssl_signed():
    for name, h in (("sha256", "sha256"), ("sha1", "sha1"), ("sha512", "sha512")):
        s = cms.verify(read_data("cms_signed_%s.der" % name))
        assert s.hash_name == h, name
        assert isinstance(s.content, memoryview)
        assert s.content == CONTENT, name
        assert s.content_type == cms.DATA
        assert s.attributes["contentType"] == cms.DATA
        assert len(s.attributes["messageDigest"]) == {"sha1": 20, "sha256": 32, "sha512": 64}[h]
        assert isinstance(s.attributes["signingTime"], int)
        assert s.attributes["signingTime"] > 1700000000
        assert s.signer.subject.get("CN") == ["boulder"]
        assert len(s.certificates) == 1 and s.certificates[0] == LEAF


def test_verify_cryptography_signed():
    s = cms.verify(read_data("cms_signed_crypto.der"))
    assert s.content == CONTENT and s.hash_name == "sha256"
    assert s.signer.der == LEAF


def test_verify_without_signed_attributes():
    s = cms.verify(read_data("cms_signed_noattr.der"))
    assert s.content == CONTENT and s.attributes == {}


def test_verify_signer_from_given_list():
    data = read_data("cms_signed_nocerts.der")
    e = raises(CryptoError, cms.verify, data)
    assert "no signer" in _msg(e), e
    e = raises(CryptoError, cms.verify, data, [ROOT, SMALL_CERT])
    assert "no signer" in _msg(e) and "2 given" in _msg(e), e
    s = cms.verify(data, [ROOT, LEAF])
    assert s.signer.der == LEAF and s.certificates == []
    s = cms.verify(data, [x509.Certificate(LEAF)])
    assert s.content == CONTENT


def test_verify_signer_by_key_identifier():
    s = cms.verify(read_data("cms_signed_keyid.der"))
    assert s.signer.der == LEAF and s.content == CONTENT


def test_verify_detached():
    data = read_data("cms_signed_detached.der")
    e = raises(CryptoError, cms.verify, data)
    assert "no content" in _msg(e), e
    s = cms.verify(data, content=CONTENT)
    assert s.content == CONTENT
    e = raises(CryptoError, cms.verify, data, (), CONTENT[:-1] + b"x")
    assert "messageDigest mismatch" in _msg(e), e
    e = raises(CryptoError, cms.verify, read_data("cms_signed_sha256.der"), (), CONTENT)
    assert "carries its own" in _msg(e)


def test_verify_fake_certificate():
    # the leaf's issuer and serial on another key: named, but the signature fails
    data = read_data("cms_signed_nocerts.der")
    e = raises(CryptoError, cms.verify, data, [read_data("cms_fake_leaf.der")])
    assert "bad signature" in _msg(e), e


def test_verify_refuses_unsupported_algorithms():
    e = raises(CryptoError, cms.verify, read_data("cms_signed_pss.der"))
    assert "unsupported signature algorithm rsassaPss" in _msg(e), e
    e = raises(CryptoError, cms.verify, read_data("cms_signed_md5.der"))
    assert "unsupported digest algorithm md5" in _msg(e), e


def test_forged_embedded_certificate_loses_to_the_given_one():
    # signed with another key, carrying a certificate that names the leaf's
    # issuer and serial: with the real leaf given, that one is checked
    fake = read_data("cms_fake_leaf.der")
    root_key = rsa.PrivateKey.from_der(read_data("x509_key_2048b.der"))
    data = cms.sign(CONTENT, fake, root_key)
    assert cms.verify(data).signer.der == fake  # alone, it verifies ...
    e = raises(CryptoError, cms.verify, data, [LEAF])  # ... not against the leaf
    assert "bad signature" in _msg(e), e


# ---------------------------------------------------------------- SignedData built here


def test_sign_verify_scep_attributes():
    for h, alg in (
        ("sha256", "rsaEncryption"),
        ("sha1", "rsaEncryption"),
        ("sha256", "sha256WithRSAEncryption"),
        ("sha1", "sha1WithRSAEncryption"),
    ):
        data = cms.sign(
            CONTENT, LEAF, KEY, h, SCEP_ATTRS, signature_alg=alg, signing_time=1767225600
        )
        s = cms.verify(data)
        assert s.hash_name == h and s.content == CONTENT
        a = s.attributes
        assert a["messageType"] == "19"
        assert a["transactionID"] == "3F2504E04F8911D39A0C0305E82C3301"
        assert a["senderNonce"] == b"\x01" * 16 and a["recipientNonce"] == b"\x02" * 16
        assert a["pkiStatus"] == "3" and a["failInfo"] == "2"
        assert a["signingTime"] == 1767225600
        assert s.require("messageType") == "19"
        e = raises(CryptoError, s.require, "failInfoText")
        assert "failInfoText is missing" in _msg(e)


def test_signed_attributes_are_der_sorted():
    data = cms.sign(CONTENT, LEAF, KEY, "sha256", SCEP_ATTRS)
    # find the [0] IMPLICIT signedAttrs of the SignerInfo: the last 0xA0 ... 0x30
    buf = memoryview(data)
    _, s, e = der.read_single(buf)
    _, cs, ce = der.read_tlv(buf, s + 11, e)  # [0] around SignedData (after the OID)
    _, s, e = der.read_tlv(buf, cs, ce)
    fields = list(der.children(buf, s, e))
    sis = fields[-1]
    _, si_s, si_e = list(der.children(buf, sis[1], sis[2]))[0]
    si = list(der.children(buf, si_s, si_e))
    assert si[3][0] == 0xA0
    encodings = []
    pos = si[3][1]
    while pos < si[3][2]:
        t, a, b = der.read_tlv(buf, pos, si[3][2])
        encodings.append(bytes(buf[pos:b]))
        pos = b
    assert len(encodings) == 8
    assert encodings == sorted(encodings)


def test_sign_without_signing_time_and_extra_certs():
    data = cms.sign(b"", LEAF, KEY, certificates=[ROOT, LEAF])
    s = cms.verify(data)
    assert "signingTime" not in s.attributes
    assert s.content == b""
    assert sorted(bytes(c) for c in s.certificates) == sorted([LEAF, ROOT])
    d2 = cms.sign(CONTENT, LEAF, KEY, detached=True)
    assert cms.verify(d2, content=CONTENT).content == CONTENT


def test_sign_refuses():
    e = raises(CryptoError, cms.sign, CONTENT, LEAF, SMALL_KEY)
    assert "does not match the signer certificate" in _msg(e)
    e = raises(CryptoError, cms.sign, CONTENT, LEAF, KEY, "md5")
    assert "unsupported digest md5" in _msg(e)
    e = raises(CryptoError, cms.sign, CONTENT, LEAF, KEY, "sha1", (), "sha256WithRSAEncryption")
    assert "does not go with digest sha1" in _msg(e)
    e = raises(CryptoError, cms.sign, CONTENT, LEAF, KEY, "sha256", [("contentType", _ps("x"))])
    assert "contentType given twice" in _msg(e)
    e = raises(DERError, cms.sign, CONTENT, LEAF, KEY, "sha256", [("messageType", b"\x13\x05ab")])
    assert "messageType is not one DER element" in _msg(e)
    raises(CryptoError, cms.sign, CONTENT, LEAF, KEY, "sha256", [("noSuchAttribute", _ps("x"))])
    raises(DERError, cms.sign, CONTENT, b"\x30\x03\x02\x01\x00", KEY)


# ---------------------------------------------------------------- tampering


def _small_signed():
    return cms.sign(b"PKCSReq", SMALL_CERT, SMALL_KEY, "sha256", SCEP_ATTRS[:3])


def test_tampered_signed_data():
    data = cms.sign(CONTENT, LEAF, KEY, "sha256", SCEP_ATTRS)
    # content
    i = data.find(CONTENT[:32]) + 100
    e = raises(CryptoError, cms.verify, _flip(data, i))
    assert "messageDigest mismatch" in _msg(e), e
    # signature: the last bytes of the message
    e = raises(CryptoError, cms.verify, _flip(data, len(data) - 5))
    assert "bad signature" in _msg(e), e
    # a signed attribute value (transactionID), same length
    i = data.find(b"3F2504E04F8911D3")
    e = raises(CryptoError, cms.verify, _flip(data, i, 0x02))
    assert "bad signature" in _msg(e), e
    # the signer's key in the embedded certificate
    i = data.find(bytes(x509.Certificate(LEAF).public_key_info)[40:60])
    e = raises(CryptoError, cms.verify, _flip(data, i))
    assert "bad signature" in _msg(e), e
    # trailing garbage
    e = raises(DERError, cms.verify, data + b"\x00")
    assert "trailing data" in _msg(e)


def test_truncated_at_every_offset():
    data = _small_signed()
    assert cms.verify(data).content == b"PKCSReq"
    for n in range(len(data)):
        raises(DERError, cms.verify, data[:n])
    env = cms.envelope(b"x" * 40, SMALL_CERT)
    assert cms.open_envelope(env, SMALL_KEY) == b"x" * 40
    for n in range(len(env)):
        raises(DERError, cms.open_envelope, env[:n], SMALL_KEY)
    co = cms.certs_only([SMALL_CERT])
    for n in range(len(co)):
        raises(DERError, cms.read_certs_only, co[:n])


def test_every_flipped_byte():
    # a flipped bit anywhere: refused with a PKIError, or (in parts no
    # signature covers, such as the embedded certificate's own signature)
    # accepted with the very same content and attributes
    data = _small_signed()
    good = cms.verify(data)
    cert_start = data.find(SMALL_CERT)
    cert_end = cert_start + len(SMALL_CERT)
    accepted = 0
    for i in range(len(data)):
        try:
            s = cms.verify(_flip(data, i, 0x10))
        except PKIError:
            continue
        accepted += 1
        # only bytes of the embedded certificate that do not name the signer
        # nor carry its key (its validity, subject, own signature)
        assert cert_start <= i < cert_end, i
        assert s.content == b"PKCSReq" and s.attributes == good.attributes, i
    assert 0 < accepted < len(SMALL_CERT) // 2, accepted


def test_every_flipped_byte_of_an_envelope():
    # refused with a PKIError, or (CBC is not authenticated: the IV and the
    # ciphertext) decrypted to something else; never another exception
    env = cms.envelope(b"certs-only reply", SMALL_CERT, "aes128-cbc")
    changed = []
    for i in range(len(env)):
        try:
            out = cms.open_envelope(_flip(env, i, 0x08), SMALL_KEY, SMALL_CERT)
        except PKIError:
            continue
        assert out != b"certs-only reply", i
        changed.append(i)
    # A flipped IV byte always decrypts to other content (CBC malleability);
    # a flip in the last ciphertext block (the end of the envelope) garbles
    # the padding block, which still ends in a valid pad about 1 time in 256.
    # Nothing else may decrypt.
    early = [i for i in changed if i < len(env) - 16]
    assert len(early) == 16 and early[-1] - early[0] == 15, early


def test_verify_refuses_wrong_objects():
    env = read_data("cms_env_aes128.der")
    e = raises(CryptoError, cms.verify, env)
    assert "holds envelopedData, expected signedData" in _msg(e), e
    e = raises(CryptoError, cms.verify, read_data("cms_certs_only.der"))
    assert "no signer" in _msg(e), e
    for junk in (b"", b"\x30\x00", b"\x30\x03\x06\x01\x00", b"\x04\x02ab", b"\xff" * 40, LEAF):
        raises(PKIError, cms.verify, junk)
        raises(PKIError, cms.open_envelope, junk, KEY)
        raises(PKIError, cms.read_certs_only, junk)


# ---------------------------------------------------------------- EnvelopedData


def test_open_openssl_envelopes():
    for name in ("aes128", "aes256", "des3", "des"):
        data = read_data("cms_env_%s.der" % name)
        assert cms.open_envelope(data, KEY) == CONTENT, name
        assert cms.open_envelope(data, KEY, LEAF) == CONTENT, name
        assert cms.open_envelope(memoryview(data), KEY, x509.Certificate(LEAF)) == CONTENT


def test_open_envelope_recipient_by_key_identifier():
    data = read_data("cms_env_keyid.der")
    assert cms.open_envelope(data, KEY, LEAF) == CONTENT
    assert cms.open_envelope(data, KEY) == CONTENT
    e = raises(CryptoError, cms.open_envelope, data, KEY, ROOT)
    assert "not for us" in _msg(e), e


def test_open_envelope_two_recipients():
    data = read_data("cms_env_two.der")
    assert cms.open_envelope(data, KEY, LEAF) == CONTENT
    e = raises(CryptoError, cms.open_envelope, data, KEY)
    assert "2 recipients and no certificate" in _msg(e)
    e = raises(CryptoError, cms.open_envelope, data, KEY, ROOT)
    assert "cannot decrypt the content-encryption key" in _msg(e), e
    e = raises(CryptoError, cms.open_envelope, read_data("cms_env_aes128.der"), KEY, ROOT)
    assert "not for us" in _msg(e), e


def test_open_envelope_refuses():
    e = raises(CryptoError, cms.open_envelope, read_data("cms_env_oaep.der"), KEY)
    assert "RSAES-OAEP" in _msg(e)
    e = raises(CryptoError, cms.open_envelope, read_data("cms_env_aes128.der"), SMALL_KEY)
    assert "cannot decrypt" in _msg(e)
    e = raises(CryptoError, cms.open_envelope, read_data("cms_signed_sha1.der"), KEY)
    assert "holds signedData, expected envelopedData" in _msg(e)


def test_envelope_round_trip():
    for alg in ("aes128-cbc", "aes256-cbc", "des-ede3-cbc"):
        for size in (0, 1, 15, 16, 17, 1200):
            data = cms.envelope(CONTENT[:size], LEAF, alg)
            assert cms.open_envelope(data, KEY, LEAF) == CONTENT[:size], (alg, size)
    e = raises(CryptoError, cms.envelope, CONTENT, LEAF, "des-cbc")
    assert "single DES" in _msg(e)
    raises(CryptoError, cms.envelope, CONTENT, LEAF, "rc2-cbc")


def test_envelope_des3_key_has_odd_parity():
    import os

    drawn = []

    def rnd(n):
        b = os.urandom(n)
        drawn.append(b)
        return b

    data = cms.envelope(b"abc", LEAF, "des-ede3-cbc", rnd)
    key = KEY.decrypt(_encrypted_key(data))
    assert len(key) == 24
    for b in key:
        ones = 0
        while b:
            ones += b & 1
            b >>= 1
        assert ones & 1


def test_tampered_envelope():
    data = cms.envelope(CONTENT, LEAF, "aes128-cbc")
    # the last ciphertext block decrypts to noise: refused, or other content
    # (noise still ends in a valid pad about 1 time in 256, so how many of
    # these are refused is left to chance)
    for i in range(1, 9):
        try:
            out = cms.open_envelope(_flip(data, len(data) - i), KEY)
        except CryptoError as e:
            assert "decryption failed" in _msg(e), e
        else:
            assert out != CONTENT
    # the block before it: CBC carries each flip into the same byte of the
    # padding block (a whole block of 16s: the content is 1200 bytes), so the
    # padding never checks, whatever the key and IV
    assert len(CONTENT) % 16 == 0
    for i in range(17, 25):
        e = raises(CryptoError, cms.open_envelope, _flip(data, len(data) - i), KEY)
        assert "decryption failed" in _msg(e), e
    # the encrypted key
    i = data.find(_encrypted_key(data)) + 50
    e = raises(CryptoError, cms.open_envelope, _flip(data, i), KEY)
    assert "cannot decrypt the content-encryption key" in _msg(e)


# ---------------------------------------------------------------- micromdm (Go pkcs7)

_DES_CBC_OID = b"\x06\x05\x2b\x0e\x03\x02\x07"


def test_micromdm_pkcsreq():
    # scepclient's request: signed by a self-signed certificate, sha1, the
    # EnvelopedData's encryptedContent as a constructed [0] (BER)
    s = cms.verify(read_data("cms_mm_pkcsreq.der"))
    assert s.signer.is_self_issued and s.signer.subject.get("CN") == ["SCEP SIGNER"]
    assert s.hash_name == "sha1"
    assert s.attributes["messageType"] == "19"
    assert len(s.attributes["senderNonce"]) == 16
    assert s.attributes["transactionID"]
    ca_key = rsa.PrivateKey.from_der(read_data("cms_mm_ca_key.der"))
    csr = cms.open_envelope(s.content, ca_key, read_data("cms_mm_ca.der"))
    _, a, b = der.read_single(csr, der.SEQUENCE)
    assert b"upki-cms-test" in csr


def test_micromdm_certrep():
    # scepserver's reply: signer info naming sha1WithRSAEncryption, the inner
    # envelope in single DES whatever was asked, constructed [0] content
    req = cms.verify(read_data("cms_mm_pkcsreq.der"))
    ca = read_data("cms_mm_ca.der")
    data = read_data("cms_mm_certrep.der")
    s = cms.verify(data, [ca])
    assert s.signer.der == ca
    a = s.attributes
    assert a["messageType"] == "3" and a["pkiStatus"] == "0"
    assert a["recipientNonce"] == req.attributes["senderNonce"]
    assert a["transactionID"] == req.attributes["transactionID"]
    assert _DES_CBC_OID in bytes(s.content)
    key = rsa.PrivateKey.from_der(read_data("cms_mm_client_key.der"))
    plain = cms.open_envelope(s.content, key, req.signer)
    certs = cms.read_certs_only(plain)
    assert len(certs) == 1
    issued = x509.Certificate(certs[0])
    assert issued.modulus == key.n and issued.subject.get("CN") == ["upki-cms-test"]
    assert issued.verify_signature(x509.Certificate(ca))
    # micromdm embeds its CA certificate: the signer is found without any
    # list, so trusting it is the caller's comparison (scep does it)
    assert cms.verify(data).signer.der == ca
    assert ca in [bytes(c) for c in s.certificates]


# ---------------------------------------------------------------- certs-only


def test_read_openssl_certs_only():
    certs = cms.read_certs_only(read_data("cms_certs_only.der"))
    assert [bytes(c) for c in certs] == [ROOT, LEAF]
    assert all(isinstance(c, memoryview) for c in certs)
    assert x509.Certificate(certs[1]).verify_signature(x509.Certificate(certs[0]))


def test_certs_only_round_trip():
    data = cms.certs_only([LEAF, ROOT])
    assert sorted(bytes(c) for c in cms.read_certs_only(data)) == sorted([LEAF, ROOT])
    assert cms.read_certs_only(cms.certs_only([])) == []
    assert [bytes(c) for c in cms.read_certs_only(cms.sign(b"x", LEAF, KEY))] == [LEAF]
    raises(DERError, cms.certs_only, [b"\x04\x00"])


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
