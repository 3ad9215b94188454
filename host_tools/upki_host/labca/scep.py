# SPDX-License-Identifier: MIT
"""SCEP (RFC 8894) on the CA side: read a client's pkiMessage, decide, write a CertRep.

Built on asn1crypto (ASN.1/CMS structures) and cryptography (RSA, AES, 3DES), and
independent of the firmware's own upki.cms so that each side checks the other.

    responder = Responder(ca, caps=DEFAULT_CAPS, challenge="s3cret", manual=False)
    status, certrep, summary, _forged = responder.pki_operation(der, forge=None)

The CertRep is signed by the RA signing certificate (or the CA when there is no RA)
with signatureAlgorithm rsaEncryption, the digest the request used, and the signed
attributes contentType, signingTime, messageDigest, messageType (3), pkiStatus,
failInfo + failInfoText (on FAILURE), transactionID (copied), senderNonce (fresh) and
recipientNonce (the request's senderNonce). On SUCCESS the content is an
EnvelopedData, addressed to the request's signer certificate with the content cipher
the request used, around a degenerate certs-only SignedData (or CRL-only for GetCRL).
"""

import datetime
import hashlib
import os

from asn1crypto import cms, core, parser
from asn1crypto import crl as acrl
from asn1crypto import csr as acsr
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.ciphers.algorithms import AES

try:  # cryptography >= 43 keeps 3DES in the "decrepit" module
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

from .ca import LabCAError, name_text, serial_text, utcnow

# message types
CERT_REP = "3"
RENEWAL_REQ = "17"
PKCS_REQ = "19"
CERT_POLL = "20"
GET_CERT = "21"
GET_CRL = "22"
MESSAGE_NAMES = {
    CERT_REP: "CertRep",
    RENEWAL_REQ: "RenewalReq",
    PKCS_REQ: "PKCSReq",
    CERT_POLL: "CertPoll",
    GET_CERT: "GetCert",
    GET_CRL: "GetCRL",
}
# pkiStatus
SUCCESS = "0"
FAILURE = "2"
PENDING = "3"
STATUS_NAMES = {SUCCESS: "SUCCESS", FAILURE: "FAILURE", PENDING: "PENDING"}
# failInfo
BAD_ALG = "0"
BAD_MESSAGE_CHECK = "1"
BAD_REQUEST = "2"
BAD_TIME = "3"
BAD_CERT_ID = "4"
FAIL_NAMES = {
    BAD_ALG: "badAlg",
    BAD_MESSAGE_CHECK: "badMessageCheck",
    BAD_REQUEST: "badRequest",
    BAD_TIME: "badTime",
    BAD_CERT_ID: "badCertId",
}

DEFAULT_CAPS = ("Renewal", "SHA-1", "SHA-256", "AES", "DES3", "SCEPStandard", "POSTPKIOperation")

OID_MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
OID_PKI_STATUS = "2.16.840.1.113733.1.9.3"
OID_FAIL_INFO = "2.16.840.1.113733.1.9.4"
OID_SENDER_NONCE = "2.16.840.1.113733.1.9.5"
OID_RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
OID_TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
OID_FAIL_INFO_TEXT = "1.3.6.1.5.5.7.24.1"
OID_CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"


class _SetOfPrintableString(core.SetOf):
    _child_spec = core.PrintableString


class _SetOfUTF8String(core.SetOf):
    _child_spec = core.UTF8String


# Unknown OIDs stay dotted strings in asn1crypto, so the specs are keyed by OID.
cms.CMSAttribute._oid_specs.update(
    {
        OID_MESSAGE_TYPE: _SetOfPrintableString,
        OID_PKI_STATUS: _SetOfPrintableString,
        OID_FAIL_INFO: _SetOfPrintableString,
        OID_SENDER_NONCE: cms.SetOfOctetString,
        OID_RECIPIENT_NONCE: cms.SetOfOctetString,
        OID_TRANSACTION_ID: _SetOfPrintableString,
        OID_FAIL_INFO_TEXT: _SetOfUTF8String,
    }
)

_HASHES = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# signatureAlgorithm values a SignerInfo may name: rsaEncryption or sha*WithRSAEncryption
_RSA_SIG = {
    "rsassa_pkcs1v15",
    "md5_rsa",
    "sha1_rsa",
    "sha224_rsa",
    "sha256_rsa",
    "sha384_rsa",
    "sha512_rsa",
}
# content-encryption algorithm -> (cipher class, key length)
_CIPHERS = {
    "aes128_cbc": (AES, 16),
    "aes192_cbc": (AES, 24),
    "aes256_cbc": (AES, 32),
    "tripledes_3key": (TripleDES, 24),
    "des": (TripleDES, 8),
}


# forgeries of the issued certificate: they wait for a reply that carries one
CERT_FORGERIES = ("other-key", "foreign-ca")


# the request's algorithms in GetCACaps words, as `labca list` and the records show them
_CAPS_DIGEST = {"sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512", "md5": "MD5"}
_CAPS_CIPHER = {
    "aes128_cbc": "AES-128",
    "aes192_cbc": "AES-192",
    "aes256_cbc": "AES-256",
    "tripledes_3key": "DES3",
    "des": "DES",
}


class SCEPFailure(Exception):
    """A request the CA answers with CertRep FAILURE (fail_info is a failInfo value)."""

    def __init__(self, fail_info, text):
        Exception.__init__(self, text)
        self.fail_info = fail_info
        self.text = text


class BadMessage(Exception):
    """A body that is not a SCEP message at all (answered with HTTP 400)."""


# ---- small helpers ------------------------------------------------------------------------------


def _crypto_cert(acert):
    return x509.load_der_x509_certificate(acert.dump())


def _asn1_cert(cert):
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _issuer_and_serial(cert):
    ac = _asn1_cert(cert)
    return cms.IssuerAndSerialNumber(
        {"issuer": ac["tbs_certificate"]["issuer"], "serial_number": ac.serial_number}
    )


def _same_issuer_serial(ias, cert):
    ac = _asn1_cert(cert)
    return ias["serial_number"].native == ac.serial_number and (
        ias["issuer"].dump() == ac["tbs_certificate"]["issuer"].dump()
        or ias["issuer"] == ac.issuer
    )


def _unpad(data, block):
    if not data or len(data) % block:
        raise SCEPFailure(BAD_MESSAGE_CHECK, "encrypted content is not a whole number of blocks")
    n = data[-1]
    if n < 1 or n > block or data[-n:] != bytes([n]) * n:
        raise SCEPFailure(BAD_MESSAGE_CHECK, "bad padding after decryption (wrong key?)")
    return data[:-n]


def _pad(data, block):
    n = block - len(data) % block
    return data + bytes([n]) * n


def _cipher(name, key, iv):
    cls, _ = _CIPHERS[name]
    if name == "des":
        key = key * 3  # single DES = 3DES with K1 = K2 = K3
    return Cipher(cls(key), modes.CBC(iv))


def encrypt_content(name, plaintext):
    """(key, iv, ciphertext) for one of the content ciphers."""
    cls, klen = _CIPHERS[name]
    block = 16 if cls is AES else 8
    key, iv = os.urandom(klen), os.urandom(block)
    enc = _cipher(name, key, iv).encryptor()
    return key, iv, enc.update(_pad(plaintext, block)) + enc.finalize()


def _attr(oid, value):
    return cms.CMSAttribute({"type": oid, "values": [value]})


def _sorted_attrs(attrs):
    # SET OF must be sorted by encoding in DER; verifiers that re-encode (OpenSSL) sort too.
    return cms.CMSAttributes(sorted(attrs, key=lambda a: a.dump()))


# ---- degenerate certs-only / CRL-only SignedData ---------------------------------------------


def degenerate(certs=(), crls=()):
    """A certs-only (or CRL-only) CMS SignedData ContentInfo, DER (RFC 8894 section 3.4)."""
    sd = {
        "version": "v1",
        "digest_algorithms": [],
        "encap_content_info": {"content_type": "data"},
        "signer_infos": [],
    }
    if certs:
        sd["certificates"] = [
            ax509.Certificate.load(
                c if isinstance(c, bytes) else c.public_bytes(serialization.Encoding.DER)
            )
            for c in certs
        ]
    if crls:
        sd["crls"] = [
            cms.RevocationInfoChoice(
                name="crl",
                value=acrl.CertificateList.load(
                    c if isinstance(c, bytes) else c.public_bytes(serialization.Encoding.DER)
                ),
            )
            for c in crls
        ]
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(sd)}).dump()


def read_degenerate(der):
    """([certificate DER], [crl DER]) from a certs-only SignedData."""
    ci = cms.ContentInfo.load(der)
    sd = ci["content"]
    certs = [c.chosen.dump() for c in (sd["certificates"] or [])]
    crls = [c.chosen.dump() for c in (sd["crls"] or [])]
    return certs, crls


# ---- EnvelopedData ------------------------------------------------------------------------------


def envelope(plaintext, recipient_cert, cipher_name):
    """EnvelopedData ContentInfo DER, KeyTransRecipientInfo by issuerAndSerialNumber."""
    key, iv, ciphertext = encrypt_content(cipher_name, plaintext)
    encrypted_key = recipient_cert.public_key().encrypt(key, padding.PKCS1v15())
    ed = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [
                cms.RecipientInfo(
                    name="ktri",
                    value=cms.KeyTransRecipientInfo(
                        {
                            "version": "v0",
                            "rid": cms.RecipientIdentifier(
                                name="issuer_and_serial_number",
                                value=_issuer_and_serial(recipient_cert),
                            ),
                            "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"},
                            "encrypted_key": encrypted_key,
                        }
                    ),
                )
            ],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {"algorithm": cipher_name, "parameters": iv},
                "encrypted_content": ciphertext,
            },
        }
    )
    return cms.ContentInfo({"content_type": "enveloped_data", "content": ed}).dump()


def _children(data):
    """(class, method, tag, contents) of each BER TLV in data, in order."""
    pointer = 0
    while pointer < len(data):
        cls_, method, tag, header, contents, trailer = parser.parse(data[pointer:])
        pointer += len(header) + len(contents) + len(trailer)
        yield cls_, method, tag, contents


def _octets(data):
    """The bytes of OCTET STRING segments (BER constructed, as Go's pkcs7 writes)."""
    return b"".join(
        _octets(contents) if method == 1 else contents
        for _c, method, _t, contents in _children(data)
    )


def _encrypted_content(eci_der):
    """encryptedContent [0] of an EncryptedContentInfo, primitive or constructed."""
    _c, _m, _t, _h, contents, _tr = parser.parse(eci_der)
    for index, (cls_, method, tag, inner) in enumerate(_children(contents)):
        if index == 2 and cls_ == 2 and tag == 0:
            return _octets(inner) if method == 1 else inner
    return b""


def open_envelope(der, keys):
    """(plaintext, cipher name) of an EnvelopedData addressed to one of keys [(cert, key)]."""
    try:
        ci = cms.ContentInfo.load(der)
        if ci["content_type"].native != "enveloped_data":
            raise SCEPFailure(
                BAD_MESSAGE_CHECK,
                "pkcsPKIEnvelope is %s, not envelopedData" % ci["content_type"].native,
            )
        ed = ci["content"]
        recipients = list(ed["recipient_infos"])
        eci = ed["encrypted_content_info"]
        alg = eci["content_encryption_algorithm"]
        cipher_name = alg["algorithm"].native
        ciphertext = _encrypted_content(eci.dump())
    except (ValueError, TypeError, KeyError) as e:
        raise SCEPFailure(BAD_MESSAGE_CHECK, "malformed EnvelopedData: %s" % e) from None
    if cipher_name not in _CIPHERS:
        raise SCEPFailure(BAD_ALG, "content cipher %s is not supported" % cipher_name)
    session_key = None
    for ri in recipients:
        if ri.name != "ktri":
            continue
        rid = ri.chosen["rid"]
        if rid.name != "issuer_and_serial_number":
            continue
        for cert, key in keys:
            if _same_issuer_serial(rid.chosen, cert):
                try:
                    session_key = key.decrypt(
                        ri.chosen["encrypted_key"].native, padding.PKCS1v15()
                    )
                except ValueError:
                    raise SCEPFailure(
                        BAD_MESSAGE_CHECK, "the encrypted content key does not decrypt"
                    ) from None
                break
        if session_key is not None:
            break
    if session_key is None:
        raise SCEPFailure(
            BAD_MESSAGE_CHECK, "the request is not encrypted to the RA or CA certificate"
        )
    cls, klen = _CIPHERS[cipher_name]
    if len(session_key) != klen:
        raise SCEPFailure(
            BAD_MESSAGE_CHECK,
            "content key is %d bytes, %s needs %d" % (len(session_key), cipher_name, klen),
        )
    iv = alg["parameters"].native
    block = 16 if cls is AES else 8
    if not isinstance(iv, bytes) or len(iv) != block:
        raise SCEPFailure(BAD_MESSAGE_CHECK, "the content cipher's IV is not %d bytes" % block)
    dec = _cipher(cipher_name, session_key, iv).decryptor()
    plaintext = dec.update(ciphertext) + dec.finalize()
    return _unpad(plaintext, block), cipher_name


# ---- reading a request -------------------------------------------------------------------------


class Request:
    """A parsed, signature-checked client pkiMessage."""

    message_type = None
    transaction_id = None  # str
    transaction_id_value = None  # the asn1 value, copied into the reply as it came
    sender_nonce = None
    digest = "sha256"
    cipher = None
    signer_cert = None  # cryptography Certificate
    content = None  # decrypted messageData (DER) or None
    signature_ok = False
    failure = None  # SCEPFailure found while reading (answered as FAILURE)

    @property
    def name(self):
        return MESSAGE_NAMES.get(self.message_type, "messageType %s" % self.message_type)


def parse_request(der, keys):
    """Read a pkiMessage. Raises BadMessage when there is nothing to answer; otherwise
    returns a Request whose .failure is set when the reply must be FAILURE."""
    req = Request()
    try:
        ci = cms.ContentInfo.load(der)
        if ci["content_type"].native != "signed_data":
            raise BadMessage("pkiMessage is %s, not signedData" % ci["content_type"].native)
        sd = ci["content"]
        signer_infos = list(sd["signer_infos"])
        if len(signer_infos) != 1:
            raise BadMessage("pkiMessage has %d signerInfos, not 1" % len(signer_infos))
        si = signer_infos[0]
        econtent = sd["encap_content_info"]["content"]
        econtent = econtent.native if econtent.native is not None else b""
        attrs = {}
        for a in si["signed_attrs"]:
            attrs[a["type"].dotted] = a["values"][0]
        certs = [c.chosen for c in (sd["certificates"] or []) if c.name == "certificate"]
        sid = si["sid"]
        digest_name = si["digest_algorithm"]["algorithm"].native
        sig_alg = si["signature_algorithm"]["algorithm"].native
        signature = si["signature"].native
        signed_attrs_der = b"\x31" + si["signed_attrs"].dump()[1:]
    except BadMessage:
        raise
    except Exception as e:  # asn1crypto raises many types on malformed input
        raise BadMessage(
            "not a CMS SignedData pkiMessage: %s: %s" % (type(e).__name__, e)
        ) from None
    for oid, label in (
        (OID_MESSAGE_TYPE, "messageType"),
        (OID_TRANSACTION_ID, "transactionID"),
        (OID_SENDER_NONCE, "senderNonce"),
    ):
        if oid not in attrs:
            raise BadMessage("pkiMessage has no %s attribute" % label)
    req.message_type = str(attrs[OID_MESSAGE_TYPE].native)
    req.transaction_id_value = attrs[OID_TRANSACTION_ID]
    req.transaction_id = str(attrs[OID_TRANSACTION_ID].native)
    req.sender_nonce = attrs[OID_SENDER_NONCE].native
    req.digest = digest_name if digest_name in _HASHES else "sha256"
    # the signer certificate travels in the message (RFC 8894 3.2.1)
    signer = None
    try:
        if sid.name == "issuer_and_serial_number":
            for c in certs:
                if (
                    c.serial_number == sid.chosen["serial_number"].native
                    and c.issuer == sid.chosen["issuer"]
                ):
                    signer = c
                    break
        elif sid.name == "subject_key_identifier":
            for c in certs:
                if c.key_identifier == sid.chosen.native:
                    signer = c
                    break
    except Exception as e:  # asn1crypto parses the certificates lazily, here
        raise BadMessage("a certificate in the pkiMessage is malformed: %s" % e) from None
    if signer is None:
        raise BadMessage("the pkiMessage does not carry its signer's certificate")
    try:
        req.signer_cert = _crypto_cert(signer)
        req.signer_cert.public_key()
        req.signer_cert.subject  # noqa: B018 (parse them now, not halfway through)
        req.signer_cert.issuer  # noqa: B018
    except Exception as e:  # ValueError, InvalidVersion, UnsupportedAlgorithm, ...
        raise BadMessage("the signer certificate is malformed: %s" % e) from None
    try:
        if digest_name not in _HASHES:
            raise SCEPFailure(BAD_ALG, "digest algorithm %s is not supported" % digest_name)
        if sig_alg not in _RSA_SIG:
            raise SCEPFailure(BAD_ALG, "signature algorithm %s is not supported" % sig_alg)
        h = hashlib.new(digest_name, econtent).digest()
        md = attrs.get("1.2.840.113549.1.9.4")
        if md is None or md.native != h:
            raise SCEPFailure(BAD_MESSAGE_CHECK, "messageDigest does not match the content")
        pub = req.signer_cert.public_key()
        if not isinstance(pub, rsa.RSAPublicKey):
            raise SCEPFailure(BAD_ALG, "the signer key is not RSA")
        try:
            pub.verify(signature, signed_attrs_der, padding.PKCS1v15(), _HASHES[digest_name]())
        except InvalidSignature:
            raise SCEPFailure(
                BAD_MESSAGE_CHECK, "the pkiMessage signature does not verify"
            ) from None
        req.signature_ok = True
        if econtent:
            req.content, req.cipher = open_envelope(econtent, keys)
    except SCEPFailure as f:
        req.failure = f
    return req


# ---- writing a CertRep -------------------------------------------------------------------------


def cert_rep(
    req,
    status,
    signer_cert,
    signer_key,
    fail_info=None,
    fail_text=None,
    payload=None,
    transaction_id=None,
    recipient_nonce=None,
    message_type=CERT_REP,
    omit_recipient_nonce=False,
):
    """CertRep DER. payload: degenerate SignedData DER (SUCCESS only), enveloped here to
    the request's signer certificate with the request's cipher (3DES if it had none)."""
    digest = req.digest if req is not None and req.digest in _HASHES else "sha256"
    content = None
    if status == SUCCESS and payload is not None:
        cipher_name = (req.cipher if req.cipher else None) or "tripledes_3key"
        content = envelope(payload, req.signer_cert, cipher_name)
    sender_nonce = os.urandom(16)
    attrs = [
        _attr("content_type", cms.ContentType("data")),
        _attr("signing_time", cms.Time(name="utc_time", value=core.UTCTime(utcnow()))),
        _attr("message_digest", hashlib.new(digest, content or b"").digest()),
        _attr(OID_MESSAGE_TYPE, core.PrintableString(message_type)),
        _attr(OID_PKI_STATUS, core.PrintableString(status)),
        _attr(
            OID_TRANSACTION_ID,
            core.PrintableString(transaction_id)
            if transaction_id is not None
            else req.transaction_id_value,
        ),
        _attr(OID_SENDER_NONCE, core.OctetString(sender_nonce)),
    ]
    if not omit_recipient_nonce:
        rn = recipient_nonce if recipient_nonce is not None else req.sender_nonce
        attrs.append(_attr(OID_RECIPIENT_NONCE, core.OctetString(rn)))
    if status == FAILURE:
        attrs.append(_attr(OID_FAIL_INFO, core.PrintableString(fail_info or BAD_REQUEST)))
        if fail_text:
            attrs.append(_attr(OID_FAIL_INFO_TEXT, core.UTF8String(fail_text)))
    signed_attrs = _sorted_attrs(attrs)
    tbs = signed_attrs.dump()
    signature = signer_key.sign(tbs, padding.PKCS1v15(), _HASHES[digest]())
    si = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number", value=_issuer_and_serial(signer_cert)
            ),
            "digest_algorithm": {"algorithm": digest},
            "signed_attrs": signed_attrs,
            # rsaEncryption, not sha256WithRSAEncryption: strongSwan verifies only that
            "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
            "signature": signature,
        }
    )
    eci = {"content_type": "data"}
    if content is not None:
        eci["content"] = content
    sd = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest}],
            "encap_content_info": eci,
            "certificates": [_asn1_cert(signer_cert)],
            "signer_infos": [si],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()


def cert_rep_fields(der):
    """The signed attributes of a CertRep by name (for tests and the log), unverified."""
    ci = cms.ContentInfo.load(der)
    si = ci["content"]["signer_infos"][0]
    names = {
        OID_MESSAGE_TYPE: "message_type",
        OID_PKI_STATUS: "pki_status",
        OID_FAIL_INFO: "fail_info",
        OID_FAIL_INFO_TEXT: "fail_info_text",
        OID_SENDER_NONCE: "sender_nonce",
        OID_RECIPIENT_NONCE: "recipient_nonce",
        OID_TRANSACTION_ID: "transaction_id",
    }
    out = {}
    for a in si["signed_attrs"]:
        key = names.get(a["type"].dotted, a["type"].native)
        out[key] = a["values"][0].native
    return out


# ---- the CA's decisions -------------------------------------------------------------------------


def load_csr(der):
    """A signature-checked PKCS#10 request as a cryptography CSR.

    Some clients (strongSwan) write the attributes SET unsorted, which cryptography
    refuses to parse: then the signature is checked here over the bytes as sent and
    the request is re-encoded with its attributes in DER order for field access.
    """
    try:
        csr = x509.load_der_x509_csr(der)
    except Exception as e:  # ValueError, InvalidVersion
        first_error = e
    else:
        if not csr.is_signature_valid and not _csr_signature_ok(csr):
            raise SCEPFailure(BAD_MESSAGE_CHECK, "the PKCS#10 request's signature does not verify")
        return csr
    try:
        req = acsr.CertificationRequest.load(der)
        cri = req["certification_request_info"]
        tbs = cri.dump()
        hash_name = req["signature_algorithm"].hash_algo
        sig_name = req["signature_algorithm"].signature_algo
        pub = serialization.load_der_public_key(cri["subject_pk_info"].dump())
        signature = req["signature"].native
        attrs = sorted(list(cri["attributes"]), key=lambda a: a.dump())
    except Exception:
        raise SCEPFailure(
            BAD_REQUEST, "the messageData is not a PKCS#10 request: %s" % first_error
        ) from None
    if sig_name != "rsassa_pkcs1v15" or hash_name not in _HASHES:
        raise SCEPFailure(BAD_ALG, "CSR signature %s/%s is not supported" % (sig_name, hash_name))
    try:
        pub.verify(signature, tbs, padding.PKCS1v15(), _HASHES[hash_name]())
    except InvalidSignature:
        raise SCEPFailure(
            BAD_MESSAGE_CHECK, "the PKCS#10 request's signature does not verify"
        ) from None
    fixed = acsr.CertificationRequest(
        {
            "certification_request_info": acsr.CertificationRequestInfo(
                {
                    "version": cri["version"],
                    "subject": cri["subject"],
                    "subject_pk_info": cri["subject_pk_info"],
                    "attributes": acsr.CRIAttributes(attrs),
                }
            ),
            "signature_algorithm": req["signature_algorithm"],
            "signature": req["signature"],
        }
    ).dump()
    try:
        return x509.load_der_x509_csr(fixed)
    except ValueError as e:
        raise SCEPFailure(BAD_REQUEST, "the PKCS#10 request is malformed: %s" % e) from None


def _csr_signature_ok(csr):
    """cryptography's is_signature_valid says no to SHA-1 (OpenSSL 3 policy), which old
    SCEP clients and IOS still use: check an RSA PKCS#1 v1.5 signature directly."""
    pub = csr.public_key()
    hash_alg = csr.signature_hash_algorithm
    if not isinstance(pub, rsa.RSAPublicKey) or hash_alg is None:
        return False
    try:
        pub.verify(csr.signature, csr.tbs_certrequest_bytes, padding.PKCS1v15(), hash_alg)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _csr_challenge(csr):
    try:
        for attr in csr.attributes:
            if attr.oid.dotted_string == OID_CHALLENGE_PASSWORD:
                v = attr.value
                return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    except ValueError:
        pass
    return None


def _same_key(a, b):
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


class Responder:
    """Answers PKIOperation messages for one LabCA with the serve options."""

    def __init__(
        self,
        ca,
        caps=DEFAULT_CAPS,
        challenge=None,
        manual=False,
        days=365,
        cdp_url=None,
        strict_caps=True,
    ):
        self.ca = ca
        self.caps = tuple(caps)
        self.challenge = challenge
        self.manual = manual
        self.days = days
        self.cdp_url = cdp_url
        self.strict_caps = strict_caps
        self.last_sender_nonce = None  # for the stale-nonce forgery

    def has(self, cap):
        return cap in self.caps

    def allows_post(self):
        return self.has("POSTPKIOperation") or self.has("SCEPStandard")

    def _check_caps(self, req):
        if not self.strict_caps:
            return
        std = self.has("SCEPStandard")
        if req.digest == "sha256" and not (self.has("SHA-256") or std):
            raise SCEPFailure(BAD_ALG, "SHA-256 is not offered in GetCACaps")
        if req.digest == "sha512" and not self.has("SHA-512"):
            raise SCEPFailure(BAD_ALG, "SHA-512 is not offered in GetCACaps")
        if req.digest == "sha1" and not self.has("SHA-1") and (std or self.has("SHA-256")):
            raise SCEPFailure(BAD_ALG, "SHA-1 is not offered in GetCACaps")
        if req.cipher and req.cipher.startswith("aes") and not (self.has("AES") or std):
            raise SCEPFailure(BAD_ALG, "AES is not offered in GetCACaps")
        if req.message_type == RENEWAL_REQ and not self.has("Renewal"):
            raise SCEPFailure(BAD_REQUEST, "Renewal is not offered in GetCACaps")

    def pki_operation(self, der, forge=None):
        """(pkiStatus name, CertRep DER, one-line summary, whether forge was applied).

        Raises BadMessage for a body that cannot be answered with a CertRep.
        """
        req = parse_request(der, self.ca.decryption_keys())
        signer_cert, signer_key = self.ca.signer()
        payload = None
        extra = ""
        status, fail_info, fail_text = SUCCESS, None, None
        try:
            if req.failure is not None:
                raise req.failure
            self._check_caps(req)
            if req.message_type in (PKCS_REQ, RENEWAL_REQ):
                status, payload, extra = self._enroll(req, forge)
            elif req.message_type == CERT_POLL:
                status, payload, extra = self._poll(req, forge)
            elif req.message_type == GET_CERT:
                payload, extra = self._get_cert(req)
            elif req.message_type == GET_CRL:
                payload, extra = self._get_crl(req)
            else:
                raise SCEPFailure(
                    BAD_REQUEST, "messageType %s is not a request" % req.message_type
                )
        except SCEPFailure as f:
            status, fail_info, fail_text, payload = FAILURE, f.fail_info, f.text, None
        except LabCAError as e:
            status, fail_info, fail_text, payload = FAILURE, BAD_REQUEST, str(e), None
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:  # found late: still answer
            text = "malformed request: %s" % e
            status, fail_info, fail_text, payload = FAILURE, BAD_MESSAGE_CHECK, text, None
        kwargs = {}
        if forge == "transaction-id":
            kwargs["transaction_id"] = "forged-" + os.urandom(8).hex()
        elif forge == "recipient-nonce":
            kwargs["recipient_nonce"] = os.urandom(16)
        elif forge == "stale-nonce":
            kwargs["recipient_nonce"] = self.last_sender_nonce or os.urandom(16)
        elif forge == "no-recipient-nonce":
            kwargs["omit_recipient_nonce"] = True
        elif forge == "message-type":
            kwargs["message_type"] = PKCS_REQ
        if forge == "wrong-signer":
            signer_cert, signer_key = _throwaway_ca("upki lab impostor RA")
        self.last_sender_nonce = req.sender_nonce
        rep = cert_rep(
            req,
            status,
            signer_cert,
            signer_key,
            fail_info=fail_info,
            fail_text=fail_text,
            payload=payload,
            **kwargs,
        )
        if forge == "bad-signature":
            rep = _flip_signature(rep)
        summary = "%s tid=%s -> %s" % (req.name, req.transaction_id, STATUS_NAMES[status])
        if status == FAILURE:
            summary += " %s (%s)" % (FAIL_NAMES.get(fail_info, fail_info), fail_text)
        if extra:
            summary += " " + extra
        # a certificate forgery only shows in a reply that carries a certificate
        applied = forge not in CERT_FORGERIES or (
            status == SUCCESS and req.message_type in (PKCS_REQ, RENEWAL_REQ, CERT_POLL)
        )
        if forge and applied:
            summary += " [forged: %s]" % forge
        return STATUS_NAMES[status], rep, summary, applied

    # -- PKCSReq / RenewalReq / CertPoll

    def _csr(self, req):
        return load_csr(req.content or b"")

    def _valid_issued(self, cert, state):
        """True when cert is a certificate this CA issued, unexpired and not revoked."""
        ca = self.ca.ca_cert
        if cert.issuer != ca.subject:
            return False
        stored = self.ca.issued_cert(cert.serial_number)
        if stored is None or stored != cert:
            return False
        now = utcnow()
        if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
            return False
        return not self.ca.is_revoked(cert.serial_number, state)

    def _enroll(self, req, forge):
        csr = self._csr(req)
        state = self.ca.state()
        renewing = self._valid_issued(req.signer_cert, state) and (
            req.signer_cert.subject == csr.subject
        )
        if req.message_type == RENEWAL_REQ:
            if not renewing:
                raise SCEPFailure(
                    BAD_REQUEST,
                    "RenewalReq must be signed by a current certificate of the same subject",
                )
        elif not renewing and not _same_key(req.signer_cert.public_key(), csr.public_key()):
            raise SCEPFailure(
                BAD_MESSAGE_CHECK, "PKCSReq signer certificate is not for the requested key"
            )
        # a re-sent PKCSReq while its transaction is open is a poll (RFC 8894 3.3.3)
        prev = self.ca.find_request(req.transaction_id, state)
        if prev is not None and req.message_type == PKCS_REQ:
            if prev["status"] == "pending":
                return PENDING, None, "id=%d (resent)" % prev["id"]
            if prev["status"] == "issued" and not prev.get("delivered"):
                return self._deliver(req, prev, forge)
        if not renewing and self.challenge is not None:
            given = _csr_challenge(csr)
            if given is None:
                raise SCEPFailure(BAD_REQUEST, "the request carries no challenge password")
            if given != self.challenge:
                raise SCEPFailure(BAD_REQUEST, "wrong challenge password")
        csr_der = csr.public_bytes(serialization.Encoding.DER)
        kind = MESSAGE_NAMES[req.message_type]
        subject = name_text(csr.subject)
        seen = {
            "digest": _CAPS_DIGEST.get(req.digest, req.digest),
            "cipher": _CAPS_CIPHER.get(req.cipher, req.cipher),
        }
        if self.manual:
            rid = self.ca.add_request(req.transaction_id, csr_der, subject, kind, **seen)
            return PENDING, None, "id=%d queued for approval" % rid
        cert = self.ca.issue(csr, days=self.days, cdp_url=self.cdp_url)
        rid = self.ca.add_request(
            req.transaction_id,
            csr_der,
            subject,
            kind,
            status="issued",
            serial=cert.serial_number,
            **seen,
        )
        return (
            SUCCESS,
            self._payload(req, cert, csr, forge),
            "id=%d serial=%s"
            % (
                rid,
                serial_text(cert.serial_number),
            ),
        )

    def _deliver(self, req, rec, forge):
        cert = self.ca.issued_cert(int(rec["serial"], 16))
        if cert is None:
            raise SCEPFailure(BAD_CERT_ID, "issued certificate %s is missing" % rec["serial"])
        self.ca.mark_delivered(rec["id"])
        csr = x509.load_der_x509_csr(bytes.fromhex(rec["csr"]))
        return (
            SUCCESS,
            self._payload(req, cert, csr, forge),
            "id=%d serial=%s"
            % (
                rec["id"],
                rec["serial"],
            ),
        )

    def _poll(self, req, forge):
        rec = self.ca.find_request(req.transaction_id)
        if rec is None:
            raise SCEPFailure(BAD_CERT_ID, "no request with this transactionID")
        if rec["status"] == "pending":
            return PENDING, None, "id=%d" % rec["id"]
        if rec["status"] == "denied":
            raise SCEPFailure(BAD_REQUEST, "request %d was denied by the CA operator" % rec["id"])
        return self._deliver(req, rec, forge)

    def _payload(self, req, cert, csr, forge):
        if forge == "other-key":
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            cert = self.ca.issue(
                csr, days=self.days, cdp_url=self.cdp_url, public_key=other.public_key()
            )
        elif forge == "foreign-ca":
            fca_cert, fca_key = _throwaway_ca(self.ca.ca_cert.subject)
            cert = (
                x509.CertificateBuilder()
                .subject_name(cert.subject)
                .issuer_name(fca_cert.subject)
                .public_key(cert.public_key())
                .serial_number(cert.serial_number)
                .not_valid_before(cert.not_valid_before_utc)
                .not_valid_after(cert.not_valid_after_utc)
                .sign(fca_key, hashes.SHA256())
            )
        return degenerate([cert])

    # -- GetCert / GetCRL

    def _issuer_serial(self, req):
        try:
            ias = cms.IssuerAndSerialNumber.load(req.content or b"")
            ias.native  # parse it all now
        except Exception as e:
            raise SCEPFailure(BAD_REQUEST, "messageData is not IssuerAndSerialNumber: %s" % e)
        return ias

    def _get_cert(self, req):
        ias = self._issuer_serial(req)
        serial = ias["serial_number"].native
        for c in (self.ca.ca_cert, self.ca.root_cert, self.ca.ra_sign_cert, self.ca.ra_enc_cert):
            if c is not None and _same_issuer_serial(ias, c):
                return degenerate([c]), "serial=%s" % serial_text(serial)
        cert = self.ca.issued_cert(serial) if serial > 0 else None
        if cert is None or not _same_issuer_serial(ias, cert):
            raise SCEPFailure(
                BAD_CERT_ID, "no certificate with serial %X from that issuer" % serial
            )
        return degenerate([cert]), "serial=%s" % serial_text(serial)

    def _get_crl(self, req):
        ias = self._issuer_serial(req)
        name = ax509.Name.load(ias["issuer"].dump())
        ca = self.ca.ca_cert
        if name == _asn1_cert(ca).subject:
            return degenerate(crls=[self.ca.crl_der("ca")]), "crl=ca"
        if self.ca.issuing_role == "sub" and name == _asn1_cert(self.ca.root_cert).subject:
            return degenerate(crls=[self.ca.crl_der("root")]), "crl=root"
        raise SCEPFailure(BAD_CERT_ID, "this CA keeps no CRL for that issuer")


def _flip_signature(rep):
    sig = cms.ContentInfo.load(rep)["content"]["signer_infos"][0]["signature"].native
    bad = sig[:-1] + bytes([sig[-1] ^ 0x01])
    return rep.replace(sig, bad)


def _throwaway_ca(name):
    """A self-signed CA certificate and key named name (x509.Name or a common name)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if not isinstance(name, x509.Name):
        name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)])
    now = utcnow() - datetime.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


__all__ = [
    "Responder",
    "Request",
    "SCEPFailure",
    "BadMessage",
    "parse_request",
    "cert_rep",
    "cert_rep_fields",
    "degenerate",
    "read_degenerate",
    "envelope",
    "open_envelope",
    "DEFAULT_CAPS",
]
