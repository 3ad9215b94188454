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
#
# The writing half (sign, envelope, certs_only) is upki.cmswrite, opening an
# envelope upki.cmsenv, what reading both need upki.cmsread: cms.sign,
# cms.open_envelope and the others still answer here, loading them on first
# use.  A CertRep is verified with this module, and its envelope opened with
# upki.cmsenv once this one is unloaded.
from micropython import const

from upki import der, digest
from upki.cmsbase import _cert, _line_lookup, attribute_name, attribute_oid  # noqa: F401
from upki.cmsread import (  # noqa: F401
    _alg_name,
    _check_null_params,
    _content_info,
    _expect,
    _join_pieces,
    _read_alg,
    _read_rid,
    _rid_matches,
)
from upki.errors import CryptoError, DERError, PKIError

_SEQUENCE = const(0x30)
_SET = const(0x31)
_OID = const(0x06)
_INTEGER = const(0x02)
_OCTET_STRING = const(0x04)
_CTX0 = const(0xA0)  # [0] constructed
_CTX1 = const(0xA1)

DATA = "1.2.840.113549.1.7.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
ENVELOPED_DATA = "1.2.840.113549.1.7.3"
# The attribute OIDs (CONTENT_TYPE ... FAIL_INFO_TEXT) answer through
# __getattr__ below, from the attribute table: one string object instead of
# ten in the heap of a board reading a CertRep.

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


def _hash_for_oid(dotted):
    for h in _HASHES:
        if digest.OIDS[h] == dotted:
            return h
    return None


# ---------------------------------------------------------------- reading


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


# module attributes answered on first use: "NAME where" lines; where is the
# writer (upki.cmswrite) or an attribute name of the table in upki.cmsbase
_LAZY = """
sign cmswrite
envelope cmswrite
certs_only cmswrite
_des_parity cmswrite
_wrap cmswrite
_hdr cmswrite
_alg_id cmswrite
_CONTENT_CIPHERS cmswrite
open_envelope cmsenv
_open_envelope cmsenv
CONTENT_TYPE contentType
MESSAGE_DIGEST messageDigest
SIGNING_TIME signingTime
MESSAGE_TYPE messageType
PKI_STATUS pkiStatus
FAIL_INFO failInfo
SENDER_NONCE senderNonce
RECIPIENT_NONCE recipientNonce
TRANSACTION_ID transactionID
FAIL_INFO_TEXT failInfoText
"""


def __getattr__(name):
    where = _line_lookup(_LAZY, name)
    if where in ("cmswrite", "cmsenv"):
        return getattr(__import__("upki." + where, None, None, (where,)), name)
    if where is not None:
        return attribute_oid(where)
    raise AttributeError(name)
