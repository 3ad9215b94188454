# SPDX-License-Identifier: MIT
# CMS (RFC 5652) as SCEP (RFC 8894) uses it: SignedData with one signer and
# signed attributes, EnvelopedData with one RSA key-transport recipient, and
# the degenerate certs-only SignedData of GetCACert and CertRep.
#
#   der = cms.sign(content, signer_cert_der, key, "sha256", attributes=[(oid, value_der)])
#   s = cms.verify(der, certificates=(ra_cert_der,))   # -> Signed
#   s.signer (x509.Certificate), s.content (memoryview into der), s.attributes (dict)
#   env = cms.envelope(content, ra_cert_der, "aes128-cbc")
#   plain = cms.open_envelope(env, key, my_cert_der)    # -> bytearray
#   cms.certs_only([ca_der, ra_der]) / cms.read_certs_only(der) -> [memoryview, ...]
#
# Reading keeps offsets into the caller's buffer (a memoryview): a CertRep of
# a few KB is never copied whole.  Every failure is a DERError (malformed) or
# a CryptoError (well-formed but wrong: no signer, digest mismatch, bad
# signature, unsupported algorithm, missing attribute), never anything else.
#
# verify() proves only that the holder of the signer certificate's key signed
# the message: whether that certificate is the RA or CA we trust is the
# caller's decision (compare s.signer.der with the certificate you expect).
import os

from micropython import const

from upki import der, digest
from upki.errors import CryptoError, DERError, PKIError

_SEQUENCE = const(0x30)
_SET = const(0x31)
_OID = const(0x06)
_INTEGER = const(0x02)
_OCTET_STRING = const(0x04)
_CTX0 = const(0xA0)  # [0] constructed
_CTX1 = const(0xA1)
_CTX0_PRIM = const(0x80)  # [0] IMPLICIT primitive

DATA = "1.2.840.113549.1.7.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
ENVELOPED_DATA = "1.2.840.113549.1.7.3"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_TIME = "1.2.840.113549.1.9.5"
# SCEP (RFC 8894 3.2.1)
MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
PKI_STATUS = "2.16.840.1.113733.1.9.3"
FAIL_INFO = "2.16.840.1.113733.1.9.4"
SENDER_NONCE = "2.16.840.1.113733.1.9.5"
RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
FAIL_INFO_TEXT = "1.3.6.1.5.5.7.24.1"

_RSA = "1.2.840.113549.1.1.1"
_OAEP = "1.2.840.113549.1.1.7"
# AlgorithmIdentifier { rsaEncryption, NULL }
_ALG_RSA = b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00"

# Names of the attributes as RFC 5652 and RFC 8894 spell them: the keys of
# Signed.attributes.  ("dotted name" lines, searched with str.find.)
_ATTR_NAMES = """
1.2.840.113549.1.9.3 contentType
1.2.840.113549.1.9.4 messageDigest
1.2.840.113549.1.9.5 signingTime
2.16.840.1.113733.1.9.2 messageType
2.16.840.1.113733.1.9.3 pkiStatus
2.16.840.1.113733.1.9.4 failInfo
2.16.840.1.113733.1.9.5 senderNonce
2.16.840.1.113733.1.9.6 recipientNonce
2.16.840.1.113733.1.9.7 transactionID
1.3.6.1.5.5.7.24.1 failInfoText
1.2.840.113549.1.9.7 challengePassword
1.2.840.113549.1.9.52 cmsAlgorithmProtection
1.2.840.113549.1.9.15 smimeCapabilities
"""

# RSA signature algorithms accepted in a SignerInfo -> hash ("" = take the
# digestAlgorithm's: plain rsaEncryption, what most SCEP servers write)
_SIG_ALGS = """
1.2.840.113549.1.1.1 -
1.2.840.113549.1.1.5 sha1
1.2.840.113549.1.1.11 sha256
1.2.840.113549.1.1.12 sha384
1.2.840.113549.1.1.13 sha512
"""

_HASHES = ("sha256", "sha1", "sha384", "sha512")


def _line_lookup(table, key):
    i = table.find("\n" + key + " ")
    if i < 0:
        return None
    i += len(key) + 2
    return table[i : table.find("\n", i)]


def attribute_name(dotted):
    """The RFC name of a CMS/SCEP attribute OID, or the upki.oid name, or the OID."""
    n = _line_lookup(_ATTR_NAMES, dotted)
    if n is None:
        from upki import oid

        n = oid.name(dotted)
    return n


def attribute_oid(label):
    """The dotted OID of an attribute name (RFC 8894/5652 spelling) or dotted text."""
    if label[:1].isdigit():
        return label
    i = _ATTR_NAMES.find(" " + label + "\n")
    if i >= 0:
        return _ATTR_NAMES[_ATTR_NAMES.rfind("\n", 0, i) + 1 : i]
    from upki import oid

    try:
        return oid.dotted(label)
    except ValueError:
        raise CryptoError("unknown attribute %s" % label)


def _hash_for_oid(dotted):
    for h in _HASHES:
        if digest.OIDS[h] == dotted:
            return h
    return None


def _alg_name(dotted):
    from upki import oid

    return oid.name(dotted)


# ---------------------------------------------------------------- writing
#
# Output is built as a list of parts joined once; the content (which may be
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


def _cert(obj, what):
    from upki import x509

    if isinstance(obj, x509.Certificate):
        return obj
    try:
        return x509.Certificate(obj)
    except PKIError as e:
        raise DERError("%s certificate: %s" % (what, e))


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
):
    """A SignedData (in a ContentInfo, DER bytes) over content by one signer.

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
    return b"".join(parts)


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


# ---------------------------------------------------------------- reading


def _expect(buf, pos, end, tag, what):
    t, s, e = der.read_tlv(buf, pos, end)
    if t != tag:
        raise DERError(
            "%s: expected %s at offset %d, found %s"
            % (what, der.tag_name(tag), pos, der.tag_name(t))
        )
    return s, e


def _read_alg(buf, pos, end, what):
    # AlgorithmIdentifier at pos -> (dotted OID, (params tag, start, end) or None, next pos)
    s, e = _expect(buf, pos, end, _SEQUENCE, what)
    os_, oe = _expect(buf, s, e, _OID, what)
    params = None
    if oe < e:
        params = der.read_tlv(buf, oe, e)
        if params[2] != e:
            raise DERError(
                "%s: trailing data in AlgorithmIdentifier at offset %d" % (what, params[2])
            )
    return der.decode_oid(buf, os_, oe), params, e


def _check_null_params(params, alg, what):
    if params is not None and (params[0] != 0x05 or params[1] != params[2]):
        raise DERError("%s: %s parameters must be NULL or absent" % (what, alg))


def _content_info(buf, expected_type):
    # A ContentInfo of expected_type -> (start, end) of the inner structure's
    # content; a bare inner SEQUENCE (no ContentInfo) is accepted too.
    t, s, e = der.read_single(buf)
    if t != _SEQUENCE:
        raise DERError("expected a ContentInfo SEQUENCE at offset 0, found %s" % der.tag_name(t))
    t2, s2, e2 = der.read_tlv(buf, s, e)
    if t2 != _OID:
        return s, e  # the inner SEQUENCE itself (starts with its version INTEGER)
    ctype = der.decode_oid(buf, s2, e2)
    if ctype != expected_type:
        raise CryptoError(
            "ContentInfo holds %s, expected %s" % (_alg_name(ctype), _alg_name(expected_type))
        )
    if e2 == e:
        raise DERError("ContentInfo of %s has no content" % _alg_name(ctype))
    cs, ce = _expect(buf, e2, e, _CTX0, "ContentInfo")
    if ce != e:
        raise DERError("trailing data in ContentInfo at offset %d" % ce)
    is_, ie = _expect(buf, cs, ce, _SEQUENCE, _alg_name(ctype))
    if ie != ce:
        raise DERError("trailing data after %s at offset %d" % (_alg_name(ctype), ie))
    return is_, ie


def _join_pieces(buf, s, e, what):
    # the content of a constructed OCTET STRING: its primitive pieces joined
    out = bytearray()
    for t, ps, pe in der.children(buf, s, e):
        if t != _OCTET_STRING:
            raise DERError(
                "%s piece at offset %d is %s, not an OCTET STRING" % (what, ps, der.tag_name(t))
            )
        out.extend(buf[ps:pe])
    return out


class _SignedDataParts:
    # offsets of the fields of a SignedData
    def __init__(self, buf):
        self.buf = buf
        s, e = _content_info(buf, SIGNED_DATA)
        vs, ve = _expect(buf, s, e, _INTEGER, "SignedData version")
        self.version = der.decode_int(buf, vs, ve)
        if not 1 <= self.version <= 5:
            raise DERError("SignedData version %d is not 1..5" % self.version)
        self.digest_algs = _expect(buf, ve, e, _SET, "SignedData digestAlgorithms")
        pos = self.digest_algs[1]
        es, ee = _expect(buf, pos, e, _SEQUENCE, "SignedData encapContentInfo")
        ts, te = _expect(buf, es, ee, _OID, "encapContentInfo eContentType")
        self.content_type = der.decode_oid(buf, ts, te)
        self.content = None
        if te < ee:
            cs, ce = _expect(buf, te, ee, _CTX0, "encapContentInfo eContent")
            if ce != ee:
                raise DERError("trailing data in encapContentInfo at offset %d" % ce)
            t, os_, oe = der.read_tlv(buf, cs, ce)
            if oe != ce:
                raise DERError("eContent at offset %d is not one OCTET STRING" % cs)
            if t == _OCTET_STRING:
                self.content = buf[os_:oe]
            elif t == _OCTET_STRING | 0x20:
                # BER constructed form (definite length): the pieces joined, a copy
                self.content = _join_pieces(buf, os_, oe, "eContent")
            else:
                raise DERError("eContent at offset %d is not one OCTET STRING" % cs)
        pos = ee
        self.certificates = None
        t, s2, e2 = der.read_tlv(buf, pos, e)
        if t == _CTX0:
            self.certificates = (s2, e2)
            pos = e2
            t, s2, e2 = der.read_tlv(buf, pos, e)
        if t == _CTX1:  # crls: not used here
            pos = e2
            t, s2, e2 = der.read_tlv(buf, pos, e)
        if t != _SET:
            raise DERError(
                "SignedData: expected signerInfos SET at offset %d, found %s"
                % (pos, der.tag_name(t))
            )
        if e2 != e:
            raise DERError("trailing data in SignedData at offset %d" % e2)
        self.signer_infos = (s2, e2)

    def cert_spans(self):
        out = []
        if self.certificates is None:
            return out
        buf = self.buf
        for t, s, e in der.children(buf, self.certificates[0], self.certificates[1]):
            if t == _SEQUENCE:  # a Certificate; other CertificateChoices are skipped
                hdr = 1 + len(der.encode_length(e - s))
                out.append(buf[s - hdr : e])
        return out


def read_certs_only(data):
    """The certificates of a (degenerate certs-only) SignedData, DER or in a
    ContentInfo: a list of memoryviews into data (no copies), in the order
    they appear.  Signers and content, if any, are ignored."""
    buf = data if isinstance(data, memoryview) else memoryview(data)
    try:
        return _SignedDataParts(buf).cert_spans()
    except (ValueError, IndexError, TypeError) as ex:
        raise DERError("malformed SignedData: %s" % ex)


class Signed:
    """What verify() found: signer (x509.Certificate), content (memoryview, or
    what the caller passed for detached content), content_type (dotted),
    attributes (dict by name: contentType, messageDigest, signingTime,
    messageType, pkiStatus, failInfo, senderNonce, recipientNonce,
    transactionID ... -> str, bytes, int (times, INTEGER), dotted str (OID) or
    the value's DER bytes), hash_name, certificates (memoryviews of the
    certificates the message carries)."""

    def __init__(self, signer, content, content_type, attributes, hash_name, certificates):
        self.signer = signer
        self.content = content
        self.content_type = content_type
        self.attributes = attributes
        self.hash_name = hash_name
        self.certificates = certificates

    def get(self, name, default=None):
        return self.attributes.get(name, default)

    def require(self, name):
        """The value of attribute name; CryptoError when it is absent."""
        if name not in self.attributes:
            raise CryptoError("signed attribute %s is missing" % name)
        return self.attributes[name]


def _decode_value(buf, t, s, e, tlv_start):
    if t == _OCTET_STRING:
        return bytes(buf[s:e])
    if t == _OID:
        return der.decode_oid(buf, s, e)
    if t in (der.UTC_TIME, der.GENERALIZED_TIME):
        return der.decode_time(t, buf, s, e)
    if t == _INTEGER:
        return der.decode_int(buf, s, e)
    if t in (0x0C, 0x12, 0x13, 0x14, 0x16, 0x1A, 0x1C, 0x1E):
        return der.decode_string(t, buf, s, e)
    return bytes(buf[tlv_start:e])


def _read_attributes(buf, s, e):
    out = {}
    for t, as_, ae in der.children(buf, s, e):
        if t != _SEQUENCE:
            raise DERError("expected an Attribute SEQUENCE at offset %d" % as_)
        os_, oe = _expect(buf, as_, ae, _OID, "Attribute type")
        dotted = der.decode_oid(buf, os_, oe)
        name = attribute_name(dotted)
        vs, ve = _expect(buf, oe, ae, _SET, "values of attribute %s" % name)
        if ve != ae:
            raise DERError("trailing data in attribute %s at offset %d" % (name, ve))
        if name in out:
            raise CryptoError("signed attribute %s appears twice" % name)
        values = list(der.children(buf, vs, ve))
        if len(values) != 1:
            raise CryptoError(
                "signed attribute %s has %d values, expected 1" % (name, len(values))
            )
        vt, vvs, vve = values[0]
        out[name] = _decode_value(buf, vt, vvs, vve, vs)
    return out


def _find_signer(buf, sid, candidates):
    # the candidate certificate named by the SignerIdentifier sid: ("ias",
    # issuer_start, issuer_end, serial_start, serial_end) or ("ski", start, end)
    from upki import x509

    for c in candidates:
        try:
            cert = c if isinstance(c, x509.Certificate) else x509.Certificate(c)
        except PKIError:
            continue  # an unreadable certificate cannot be the signer
        if _rid_matches(buf, sid, cert):
            return cert
    return None


def _read_rid(buf, t, s, e, what):
    # issuerAndSerialNumber (SEQUENCE) or subjectKeyIdentifier ([0] IMPLICIT)
    if t == _SEQUENCE:
        nt, ns, ne = der.read_tlv(buf, s, e)
        if nt != _SEQUENCE:
            raise DERError("%s: issuer is %s, not a Name" % (what, der.tag_name(nt)))
        ss, se = _expect(buf, ne, e, _INTEGER, what + " serialNumber")
        if se != e:
            raise DERError("%s: trailing data in issuerAndSerialNumber at offset %d" % (what, se))
        return ("ias", s, ne, ss, se)
    if t == _CTX0_PRIM:
        return ("ski", s, e)
    raise DERError("%s: unknown identifier %s" % (what, der.tag_name(t)))


def _rid_matches(buf, rid, cert):
    if rid[0] == "ias":
        i0, i1 = cert._issuer
        c0, c1 = cert._serial
        return buf[rid[1] : rid[2]] == cert.der[i0:i1] and buf[rid[3] : rid[4]] == cert.der[c0:c1]
    try:
        ski = cert.subject_key_identifier
    except PKIError:
        return False
    return ski is not None and buf[rid[1] : rid[2]] == ski


def verify(data, certificates=(), content=None):
    """Check a SignedData (DER, bare or in a ContentInfo) signed by one RSA
    signer; return a Signed.  The signer certificate is looked for among
    `certificates` (DER or x509.Certificate), then among those the message
    carries.  content: the content of a detached signature, or b"" for a
    SCEP CertRep FAILURE/PENDING without content (whose messageDigest is that
    of the empty string).  Raises DERError or CryptoError naming what is
    wrong; the error for absent content says "no content"."""
    buf = data if isinstance(data, memoryview) else memoryview(data)
    try:
        return _verify(buf, certificates, content)
    except (ValueError, IndexError, TypeError, KeyError) as ex:
        raise DERError("malformed SignedData: %s" % ex)


def _verify(buf, certificates, content):
    sd = _SignedDataParts(buf)
    s, e = sd.signer_infos
    if s == e:
        raise CryptoError("SignedData has no signer (certs-only?)")
    if sd.content is not None:
        if content is not None:
            raise CryptoError("content given for a SignedData that carries its own")
        content = sd.content
    elif content is None:
        raise CryptoError("SignedData has no content (detached) and none was given")
    embedded = sd.cert_spans()
    # the caller's certificates first: a forged embedded certificate naming
    # the same issuer and serial number is then never the one checked
    candidates = list(certificates) + embedded
    last_error = None
    for t, si_s, si_e in der.children(buf, s, e):
        if t != _SEQUENCE:
            raise DERError("expected a SignerInfo SEQUENCE at offset %d" % si_s)
        try:
            return _verify_signer(buf, sd, si_s, si_e, content, candidates, embedded)
        except CryptoError as ex:
            last_error = ex  # another SignerInfo may be ours
    raise last_error


def _verify_signer(buf, sd, s, e, content, candidates, embedded):
    vs, ve = _expect(buf, s, e, _INTEGER, "SignerInfo version")
    version = der.decode_int(buf, vs, ve)
    sid_tag, sid_s, sid_e = der.read_tlv(buf, ve, e)
    sid = _read_rid(buf, sid_tag, sid_s, sid_e, "SignerInfo sid")
    if version != (1 if sid[0] == "ias" else 3):
        raise DERError("SignerInfo version %d does not go with its signer identifier" % version)
    digest_oid, params, pos = _read_alg(buf, sid_e, e, "SignerInfo digestAlgorithm")
    hash_name = _hash_for_oid(digest_oid)
    if hash_name is None:
        raise CryptoError("unsupported digest algorithm %s" % _alg_name(digest_oid))
    _check_null_params(params, hash_name, "SignerInfo digestAlgorithm")
    attrs_span = None
    t, as_, ae = der.read_tlv(buf, pos, e)
    if t == _CTX0:
        attrs_span = (pos, as_, ae)
        pos = ae
    sig_oid, params, pos = _read_alg(buf, pos, e, "SignerInfo signatureAlgorithm")
    sig_hash = _line_lookup(_SIG_ALGS, sig_oid)
    if sig_hash is None:
        raise CryptoError("unsupported signature algorithm %s" % _alg_name(sig_oid))
    _check_null_params(params, _alg_name(sig_oid), "SignerInfo signatureAlgorithm")
    if sig_hash != "-" and sig_hash != hash_name:
        raise CryptoError(
            "signature algorithm %s does not match digest algorithm %s"
            % (_alg_name(sig_oid), hash_name)
        )
    ss, se = _expect(buf, pos, e, _OCTET_STRING, "SignerInfo signature")
    if se < e:
        t, _, ue = der.read_tlv(buf, se, e)
        if t != _CTX1 or ue != e:
            raise DERError("trailing data in SignerInfo at offset %d" % se)
    # the digest algorithm must be one the SignedData announces (RFC 5652 5.1)
    listed = False
    for t, a_s, a_e in der.children(buf, sd.digest_algs[0], sd.digest_algs[1]):
        if t == _SEQUENCE:
            t2, os_, oe = der.read_tlv(buf, a_s, a_e)
            if t2 == _OID and der.decode_oid(buf, os_, oe) == digest_oid:
                listed = True
    if not listed:
        raise CryptoError(
            "digest algorithm %s is not listed in SignedData digestAlgorithms" % hash_name
        )

    signer = _find_signer(buf, sid, candidates)
    if signer is None:
        raise CryptoError(
            "no signer: the signer certificate is neither in the message (%d certificates) "
            "nor among the %d given" % (len(embedded), len(candidates) - len(embedded))
        )
    content_digest = digest.hash(hash_name, content)
    attributes = {}
    h = digest.new(hash_name)
    if attrs_span is None:
        if sd.content_type != DATA:
            raise CryptoError(
                "signed attributes are missing (required for content type %s)"
                % _alg_name(sd.content_type)
            )
        signed_digest = content_digest
    else:
        pos0, as_, ae = attrs_span
        attributes = _read_attributes(buf, as_, ae)
        if "contentType" not in attributes:
            raise CryptoError("signed attribute contentType is missing")
        ctype = attributes["contentType"]
        if not isinstance(ctype, str) or ctype != sd.content_type:
            raise CryptoError(
                "signed contentType %s differs from the content's %s" % (ctype, sd.content_type)
            )
        md = attributes.get("messageDigest")
        if md is None:
            raise CryptoError("signed attribute messageDigest is missing")
        if not isinstance(md, bytes) or md != content_digest:
            raise CryptoError("messageDigest mismatch: the content is not what was signed")
        # the signature covers the attributes with their SET OF tag (RFC 5652 5.4)
        h.update(b"\x31")
        h.update(buf[pos0 + 1 : ae])
        signed_digest = h.digest()
    try:
        pub = signer.public_key()
    except (ValueError, PKIError) as ex:
        raise CryptoError("signer certificate key unusable: %s" % ex)
    if not pub.verify_digest(signed_digest, bytes(buf[ss:se]), hash_name):
        raise CryptoError(
            "bad signature: the SignerInfo signature does not match the signer's key"
        )
    return Signed(signer, content, sd.content_type, attributes, hash_name, embedded)


# ---------------------------------------------------------------- EnvelopedData


def open_envelope(data, private_key, my_cert_der=None):
    """Decrypt an EnvelopedData (DER, bare or in a ContentInfo) with our RSA
    private key: our KeyTransRecipientInfo is the one naming my_cert_der
    (DER or x509.Certificate) or, without it, the only one.  Content
    encryption aes128-cbc, aes256-cbc, des-ede3-cbc or des-cbc (micromdm
    answers in single DES).  Returns the content as a bytearray; raises
    DERError or CryptoError naming what is wrong."""
    buf = data if isinstance(data, memoryview) else memoryview(data)
    try:
        return _open_envelope(buf, private_key, my_cert_der)
    except (ValueError, IndexError, TypeError, KeyError) as ex:
        raise DERError("malformed EnvelopedData: %s" % ex)


def _open_envelope(buf, private_key, my_cert_der):
    from upki import cipher, rsa

    s, e = _content_info(buf, ENVELOPED_DATA)
    vs, ve = _expect(buf, s, e, _INTEGER, "EnvelopedData version")
    version = der.decode_int(buf, vs, ve)
    if not 0 <= version <= 4:
        raise DERError("EnvelopedData version %d is not 0..4" % version)
    t, rs, re = der.read_tlv(buf, ve, e)
    if t == _CTX0:  # originatorInfo
        t, rs, re = der.read_tlv(buf, re, e)
    if t != _SET:
        raise DERError("EnvelopedData: expected recipientInfos SET, found %s" % der.tag_name(t))
    ktris = []
    for t, ks, ke in der.children(buf, rs, re):
        if t == _SEQUENCE:  # KeyTransRecipientInfo; kari/kekri/pwri/ori are tagged
            ktris.append((ks, ke))
    if not ktris:
        raise CryptoError("no RSA key-transport recipient in the EnvelopedData")
    me = _cert(my_cert_der, "our") if my_cert_der is not None else None
    if me is not None:
        mine = None
        for ks, ke in ktris:
            vs2, ve2 = _expect(buf, ks, ke, _INTEGER, "KeyTransRecipientInfo version")
            rt, r_s, r_e = der.read_tlv(buf, ve2, ke)
            if _rid_matches(buf, _read_rid(buf, rt, r_s, r_e, "RecipientInfo rid"), me):
                mine = (ks, ke)
                break
        if mine is None:
            raise CryptoError(
                "the EnvelopedData is not for us: none of its %d recipients names our certificate"
                % len(ktris)
            )
    elif len(ktris) == 1:
        mine = ktris[0]
    else:
        raise CryptoError("%d recipients and no certificate to find ours" % len(ktris))
    ks, ke = mine
    vs2, ve2 = _expect(buf, ks, ke, _INTEGER, "KeyTransRecipientInfo version")
    rt, r_s, pos = der.read_tlv(buf, ve2, ke)  # rid
    rid = _read_rid(buf, rt, r_s, pos, "RecipientInfo rid")
    if der.decode_int(buf, vs2, ve2) != (0 if rid[0] == "ias" else 2):
        raise DERError("KeyTransRecipientInfo version does not go with its recipient identifier")
    kalg, params, pos = _read_alg(buf, pos, ke, "keyEncryptionAlgorithm")
    if kalg != _RSA:
        if kalg == _OAEP:
            raise CryptoError("unsupported key transport RSAES-OAEP (PKCS#1 v1.5 only)")
        raise CryptoError("unsupported key transport %s" % _alg_name(kalg))
    _check_null_params(params, "rsaEncryption", "keyEncryptionAlgorithm")
    eks, eke = _expect(buf, pos, ke, _OCTET_STRING, "encryptedKey")
    if eke != ke:
        raise DERError("trailing data in KeyTransRecipientInfo at offset %d" % eke)

    # EncryptedContentInfo (read before the RSA work: bad structure fails fast)
    es, ee = _expect(buf, re, e, _SEQUENCE, "EncryptedContentInfo")
    ts, te = _expect(buf, es, ee, _OID, "EncryptedContentInfo contentType")
    ctype = der.decode_oid(buf, ts, te)
    if ctype != DATA:
        raise CryptoError("encrypted content of type %s, expected data" % _alg_name(ctype))
    calg, params, pos = _read_alg(buf, te, ee, "contentEncryptionAlgorithm")
    try:
        alg = cipher.alg_for_oid(calg)
    except ValueError:
        raise CryptoError("unsupported content encryption %s" % _alg_name(calg))
    if params is None or params[0] != _OCTET_STRING:
        raise DERError("%s parameters must be the IV as an OCTET STRING" % alg)
    iv = buf[params[1] : params[2]]
    if len(iv) != cipher.iv_size(alg):
        raise CryptoError("%s IV of %d bytes, expected %d" % (alg, len(iv), cipher.iv_size(alg)))
    if pos == ee:
        raise CryptoError("EncryptedContentInfo has no encryptedContent")
    t, cs, ce = der.read_tlv(buf, pos, ee)
    if t not in (_CTX0_PRIM, _CTX0) or ce != ee:
        raise DERError("EncryptedContentInfo: expected encryptedContent [0] at offset %d" % pos)
    if t == _CTX0:
        # BER constructed form, as Go's pkcs7 (micromdm) writes it: OCTET
        # STRING pieces, joined into the buffer that is decrypted in place
        ciphertext = _join_pieces(buf, cs, ce, "encryptedContent")
    else:
        ciphertext = buf[cs:ce]
    if ee < e:  # unprotectedAttrs [1]
        t, _, ue = der.read_tlv(buf, ee, e)
        if t != _CTX1 or ue != e:
            raise DERError("trailing data in EnvelopedData at offset %d" % ee)

    try:
        key = private_key.decrypt(bytes(buf[eks:eke]))
    except rsa.DecryptionError:
        raise CryptoError("cannot decrypt the content-encryption key: not encrypted for our key")
    if len(key) not in cipher.ALGORITHMS[alg][0]:
        raise CryptoError("content-encryption key of %d bytes does not fit %s" % (len(key), alg))
    import gc

    gc.collect()
    try:
        return cipher.decrypt(alg, key, iv, ciphertext)
    except ValueError as ex:
        raise CryptoError("%s decryption failed (wrong key or damaged content): %s" % (alg, ex))
