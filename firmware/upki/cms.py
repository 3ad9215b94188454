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
# The writing half (sign, envelope, certs_only) is upki.cmswrite: cms.sign
# and the others still answer here, loading it on first use.
from micropython import const

from upki import der, digest
from upki.cmsbase import _cert, _line_lookup, attribute_name, attribute_oid  # noqa: F401
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
# The attribute OIDs (CONTENT_TYPE ... FAIL_INFO_TEXT) answer through
# __getattr__ below, from the attribute table: one string object instead of
# ten in the heap of a board reading a CertRep.
_RSA = "1.2.840.113549.1.1.1"
_OAEP = "1.2.840.113549.1.1.7"

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


def _alg_name(dotted):
    from upki import oid

    return oid.name(dotted)


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
    if where == "cmswrite":
        from upki import cmswrite

        return getattr(cmswrite, name)
    if where is not None:
        return attribute_oid(where)
    raise AttributeError(name)
