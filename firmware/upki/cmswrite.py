# SPDX-License-Identifier: MIT
# Writing CMS (RFC 5652) as SCEP (RFC 8894) sends it: SignedData with one
# signer and signed attributes, EnvelopedData with one RSA key-transport
# recipient, the degenerate certs-only SignedData.  The reader is upki.cms;
# a board building a request loads only this half (cms.sign and friends
# still answer, loading this module).
#
#   der = cmswrite.sign(content, signer_cert_der, key, "sha256", attributes=[(oid, value_der)])
#   env = cmswrite.envelope(content, ra_cert_der, "aes128-cbc")
#   cmswrite.certs_only([ca_der, ra_der])
import os

from micropython import const

from upki import der, digest
from upki.cmsbase import _cert, attribute_name, attribute_oid
from upki.errors import CryptoError, DERError, PKIError

_SEQUENCE = const(0x30)
_OCTET_STRING = const(0x04)
_CTX0 = const(0xA0)  # [0] constructed
_CTX0_PRIM = const(0x80)  # [0] IMPLICIT primitive

DATA = "1.2.840.113549.1.7.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
ENVELOPED_DATA = "1.2.840.113549.1.7.3"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_TIME = "1.2.840.113549.1.9.5"

_RSA = "1.2.840.113549.1.1.1"
# AlgorithmIdentifier { rsaEncryption, NULL }
_ALG_RSA = b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00"

_HASHES = ("sha256", "sha1", "sha384", "sha512")


## Output is built as a list of parts joined once; the content (which may be
# the biggest piece) is copied only into the final join.


def _hdr(tag, length):
    return bytes((tag,)) + der.encode_length(length)


def _wrap(tag, parts):
    # prepend a header to a list of parts in place; return its new total length
    n = 0
    for p in parts:
        n += len(p)
    parts.insert(0, _hdr(tag, n))
    return n + len(parts[0])


def _alg_id(dotted, null=False):
    return der.encode_sequence(der.encode_oid(dotted), b"\x05\x00" if null else b"")


def sign(
    content,
    signer_cert_der,
    private_key,
    hash_name="sha256",
    attributes=(),
    signature_alg="rsaEncryption",
    certificates=None,
    signing_time=None,
    content_type=DATA,
    detached=False,
    as_parts=False,
):
    """A SignedData (in a ContentInfo, DER bytes) over content by one signer.
    as_parts: return the DER as a list of parts instead (their concatenation;
    content is one of them, not copied): http.request sends such a list as
    it is, so the message is never joined.

    signer_cert_der: the signer's certificate (DER or x509.Certificate): it
    names the signer (issuerAndSerialNumber) and goes into `certificates`,
    followed by the extra certificates given (DER).  hash_name: 'sha256' or
    'sha1' (sha384/sha512 too).  signature_alg: 'rsaEncryption' (what most
    SCEP servers expect) or 'sha256WithRSAEncryption' style (the hash must
    match).  Signed attributes: contentType, messageDigest, signingTime
    (epoch seconds, omitted when None: a clockless board has no time to
    sign) and attributes, a sequence of (name or dotted OID, DER of the one
    value); all DER-sorted as a SET OF."""
    if hash_name not in _HASHES:
        raise CryptoError("unsupported digest %s (sha256, sha1, sha384, sha512)" % hash_name)
    if signature_alg == "rsaEncryption":
        sig_oid = _RSA
    else:
        want = hash_name + "WithRSAEncryption"
        if signature_alg != want:
            raise CryptoError(
                "signature algorithm %s does not go with digest %s (use rsaEncryption or %s)"
                % (signature_alg, hash_name, want)
            )
        from upki import oid

        sig_oid = oid.rsa_signature_oid(hash_name)
    cert = _cert(signer_cert_der, "signer")
    try:
        n, e = cert.rsa_public_numbers()
    except (ValueError, PKIError) as ex:
        raise CryptoError("signer certificate key unusable: %s" % ex)
    if n != private_key.n or e != private_key.e:
        raise CryptoError("the private key does not match the signer certificate")

    digest_alg = _alg_id(digest.OIDS[hash_name])
    # signed attributes, each Attribute ::= SEQUENCE { type, SET OF value }
    attrs = [
        der.encode_sequence(
            der.encode_oid(CONTENT_TYPE), der.encode_set(der.encode_oid(content_type))
        ),
        der.encode_sequence(
            der.encode_oid(MESSAGE_DIGEST),
            der.encode_set(der.encode_octet_string(digest.hash(hash_name, content))),
        ),
    ]
    if signing_time is not None:
        attrs.append(
            der.encode_sequence(
                der.encode_oid(SIGNING_TIME), der.encode_set(der.encode_time(int(signing_time)))
            )
        )
    seen = [CONTENT_TYPE, MESSAGE_DIGEST, SIGNING_TIME]
    for a, value in attributes:
        dotted = attribute_oid(a)
        if dotted in seen:
            raise CryptoError(
                "attribute %s given twice (or set by sign itself)" % attribute_name(dotted)
            )
        seen.append(dotted)
        value = bytes(value)
        try:
            der.read_single(value)
        except DERError as ex:
            raise DERError(
                "value of attribute %s is not one DER element: %s" % (attribute_name(dotted), ex)
            )
        attrs.append(der.encode_sequence(der.encode_oid(dotted), der.encode_set(value)))
    signed_attrs = der.encode_set(*attrs)  # DER SET OF: sorted encodings
    attrs = None
    signature = private_key.sign_digest(digest.hash(hash_name, signed_attrs), hash_name)

    signer_info = der.encode_sequence(
        b"\x02\x01\x01",  # version 1: issuerAndSerialNumber
        cert.issuer_and_serial(),
        digest_alg,
        b"\xa0" + signed_attrs[1:],  # [0] IMPLICIT SignedAttributes
        _alg_id(sig_oid, True),
        der.encode_octet_string(signature),
    )
    signed_attrs = None
    certs = [bytes(cert.der)]
    for c in certificates or ():
        c = bytes(c.der) if hasattr(c, "der") else bytes(c)
        if c not in certs:
            certs.append(c)
    certs.sort()  # SET OF in DER order
    # SignedData, then ContentInfo around it, built from the inside out
    encap = [der.encode_oid(content_type)]
    if not detached:
        econtent = [content if isinstance(content, (bytes, bytearray)) else bytes(content)]
        _wrap(_OCTET_STRING, econtent)
        _wrap(_CTX0, econtent)
        encap.extend(econtent)
    _wrap(_SEQUENCE, encap)
    certs_part = [c for c in certs]
    _wrap(_CTX0, certs_part)
    version = b"\x02\x01\x01" if content_type == DATA else b"\x02\x01\x03"
    parts = [version, der.encode_set(digest_alg)] + encap + certs_part
    parts.append(der.encode_set(signer_info))
    _wrap(_SEQUENCE, parts)
    _wrap(_CTX0, parts)
    parts.insert(0, der.encode_oid(SIGNED_DATA))
    _wrap(_SEQUENCE, parts)
    return parts if as_parts else b"".join(parts)


def certs_only(cert_ders):
    """The degenerate certs-only SignedData (ContentInfo DER) of GetCACert and
    CertRep: the certificates, no content, no signers."""
    certs = []
    for c in cert_ders:
        c = bytes(c.der) if hasattr(c, "der") else bytes(c)
        der.read_single(c, _SEQUENCE)
        certs.append(c)
    certs.sort()
    _wrap(_CTX0, certs)
    parts = [b"\x02\x01\x01", b"\x31\x00", der.encode_sequence(der.encode_oid(DATA))]
    parts.extend(certs)
    parts.append(b"\x31\x00")
    _wrap(_SEQUENCE, parts)
    _wrap(_CTX0, parts)
    parts.insert(0, der.encode_oid(SIGNED_DATA))
    _wrap(_SEQUENCE, parts)
    return b"".join(parts)


_CONTENT_CIPHERS = ("aes128-cbc", "aes256-cbc", "des-ede3-cbc")


def _des_parity(key):
    # DES keys carry odd parity in the low bit of each byte; some peers check it
    out = bytearray(key)
    for i in range(len(out)):
        b = out[i] & 0xFE
        ones = 0
        x = b
        while x:
            ones += x & 1
            x >>= 1
        out[i] = b | (0 if ones & 1 else 1)
    return bytes(out)


def envelope(content, recipient_cert_der, alg="aes128-cbc", randbytes=os.urandom):
    """An EnvelopedData (in a ContentInfo, DER bytes) of content for one
    recipient (its certificate, DER or x509.Certificate): RSA PKCS#1 v1.5 key
    transport of a fresh key for alg, 'aes128-cbc', 'aes256-cbc' or
    'des-ede3-cbc' (single DES is read, never written)."""
    from upki import cipher

    if alg not in _CONTENT_CIPHERS:
        if alg == "des-cbc":
            raise CryptoError("single DES is too weak to send: use aes128-cbc or des-ede3-cbc")
        raise CryptoError(
            "unsupported content encryption %s (%s)" % (alg, ", ".join(_CONTENT_CIPHERS))
        )
    cert = _cert(recipient_cert_der, "recipient")
    try:
        pub = cert.public_key()
    except (ValueError, PKIError) as ex:
        raise CryptoError("recipient certificate key unusable: %s" % ex)
    key = randbytes(cipher.key_size(alg))
    if alg == "des-ede3-cbc":
        key = _des_parity(key)
    iv = randbytes(cipher.iv_size(alg))
    try:
        encrypted_key = pub.encrypt(key, randbytes)
    except ValueError as ex:
        raise CryptoError("cannot encrypt for the recipient: %s" % ex)
    recipient = der.encode_sequence(
        b"\x02\x01\x00",  # version 0: issuerAndSerialNumber
        cert.issuer_and_serial(),
        _ALG_RSA,
        der.encode_octet_string(encrypted_key),
    )
    body = [cipher.encrypt(alg, key, iv, content)]
    key = None
    _wrap(_CTX0_PRIM, body)  # encryptedContent [0] IMPLICIT OCTET STRING
    body.insert(
        0,
        der.encode_sequence(der.encode_oid(cipher.oid_for_alg(alg)), der.encode_octet_string(iv)),
    )
    body.insert(0, der.encode_oid(DATA))
    _wrap(_SEQUENCE, body)  # EncryptedContentInfo
    body.insert(0, der.encode_set(recipient))
    body.insert(0, b"\x02\x01\x00")
    _wrap(_SEQUENCE, body)
    _wrap(_CTX0, body)
    body.insert(0, der.encode_oid(ENVELOPED_DATA))
    _wrap(_SEQUENCE, body)
    return b"".join(body)
