# SPDX-License-Identifier: MIT
# The reply half of upki.scep: a CertRep (RFC 8894 3.3.2) checked, its
# envelope opened, the certificates or CRLs it carries.  Loaded once the
# reply is in (with the CMS reader).
#
#   rep = sceprep.parse_cert_rep(body, tid, nonce, rep_signers, key, signer_der)
from upki import der
from upki.errors import CryptoError, DERError, PKIError, SCEPError
from upki.scep import CERT_REP, FAILURE, PENDING, STATUS_NAMES, SUCCESS, fail_text

_SEQUENCE = 0x30


class CertRep:
    """A checked CertRep: status, fail_info (int or None), fail_text (words),
    content (the decrypted degenerate SignedData, on SUCCESS), signer."""

    def __init__(self, status, fail_info, fail_text, content, signer, hash_name):
        self.status = status
        self.fail_info = fail_info
        self.fail_text = fail_text
        self.content = content
        self.signer = signer
        self.hash_name = hash_name

    def certificates(self):
        """The certificates of a SUCCESS reply (memoryviews)."""
        from upki import cms

        try:
            return cms.read_certs_only(self.content)
        except PKIError as e:
            raise SCEPError("CertRep: the decrypted content is not a certs-only PKCS#7: %s" % e)

    def crls(self):
        """The CRLs of a GetCRL SUCCESS reply (bytes each)."""
        try:
            return _read_crls(memoryview(self.content))
        except (PKIError, ValueError, IndexError) as e:
            raise SCEPError("CertRep: the decrypted content is not a CRL-only PKCS#7: %s" % e)

    def issued(self, public_key, ca_chain):
        """The issued certificate (x509.Certificate) after checking that it
        carries public_key and was signed by the issuing CA (ca_chain[0])."""
        from upki import x509

        mine = None
        count = 0
        for c in self.certificates():
            count += 1
            try:
                cert = x509.Certificate(bytes(c))
                n, e = cert.rsa_public_numbers()
            except (PKIError, ValueError) as ex:
                raise SCEPError("CertRep: a returned certificate does not decode: %s" % ex)
            if n == public_key.n and e == public_key.e:
                mine = cert
                break
        if mine is None:
            raise SCEPError(
                "CertRep: none of the %d returned certificates carries our public key "
                "(a certificate for another key)" % count
            )
        ca = ca_chain[0]
        if mine.issuer != ca.subject:
            raise SCEPError(
                "CertRep: the issued certificate names issuer %s, not our CA %s" % (mine.issuer, ca.subject)
            )
        why = mine.signature_error(ca)
        if why is not None:
            raise SCEPError("CertRep: the issued certificate does not chain to the CA: %s" % why)
        return mine


def _read_crls(buf):
    # the crls [1] field of a degenerate SignedData
    _t, s, e = der.read_single(buf, _SEQUENCE)
    t, s2, e2 = der.read_tlv(buf, s, e)
    if t == 0x06:  # ContentInfo
        _t, s, e = der.read_tlv(buf, e2, e)  # [0]
        _t, s, e = der.read_tlv(buf, s, e)  # SignedData SEQUENCE
    out = []
    for t, cs, ce in der.children(buf, s, e):
        if t == 0xA1:
            for t2, s3, e3 in der.children(buf, cs, ce):
                hdr = 1 + len(der.encode_length(e3 - s3))
                out.append(bytes(buf[s3 - hdr : e3]))
    return out


def parse_cert_rep(body, tid, sender_nonce, signers, private_key, my_cert_der):
    """Check a CertRep and return a CertRep object.  signers: the
    certificates allowed to sign it (RA signing certificate, CA); tid and
    sender_nonce: those of our request; private_key and my_cert_der: the key
    and certificate our request was signed with (the reply's envelope is for
    them).  Raises SCEPError naming the first check that failed."""
    if not body:
        raise SCEPError("CertRep: empty answer")
    import sys

    # the verifier is unloaded before the envelope is opened (unless it was
    # loaded before): the two need not sit in the heap together
    unload = "upki.cms" not in sys.modules
    from upki import cms

    buf = body if isinstance(body, memoryview) else memoryview(body)
    try:
        try:
            s = cms.verify(buf, certificates=signers)
        except CryptoError as e:
            # FAILURE and PENDING replies carry no pkcsPKIEnvelope: the
            # messageDigest is then over empty content (RFC 8894 3.3.2)
            if "no content" not in str(e):
                raise
            s = cms.verify(buf, certificates=signers, content=b"")
    except DERError as e:
        raise SCEPError("CertRep: malformed reply (%s)" % e)
    except CryptoError as e:
        raise SCEPError("CertRep: signature check failed: %s" % e)
    if not _among(s.signer, signers):
        raise SCEPError(
            "CertRep: signed by %s, which is neither the RA nor the CA certificate" % s.signer.subject
        )
    mt = s.get("messageType")
    if mt is None or str(mt) != str(CERT_REP):
        raise SCEPError("CertRep: messageType is %s, expected CertRep (3)" % (mt,))
    if s.get("transactionID") != tid:
        raise SCEPError(
            "CertRep: transactionID %s is not ours (%s)" % (s.get("transactionID"), tid[:16] + "...")
        )
    rn = s.get("recipientNonce")
    if rn is None:
        raise SCEPError("CertRep: recipientNonce is missing")
    if bytes(rn) != bytes(sender_nonce):
        raise SCEPError("CertRep: recipientNonce does not echo our senderNonce (a replayed or forged reply)")
    try:
        status = int(s.get("pkiStatus"))
    except (TypeError, ValueError):
        raise SCEPError("CertRep: pkiStatus %r is not a status" % (s.get("pkiStatus"),))
    if status not in STATUS_NAMES:
        raise SCEPError("CertRep: unknown pkiStatus %d" % status)
    if status == FAILURE:
        fi = s.get("failInfo")
        try:
            fi = int(fi)
        except (TypeError, ValueError):
            fi = None
        text = fail_text(fi) if fi is not None else "no failInfo given"
        extra = s.get("failInfoText")
        if extra:
            text += ": " + str(extra)[:200]
        return CertRep(FAILURE, fi, text, None, s.signer, s.hash_name)
    if status == PENDING:
        return CertRep(PENDING, None, None, None, s.signer, s.hash_name)
    content = s.content
    signer = s.signer
    s = cms = None
    if unload:
        _unload("cms")
    unload = "upki.cmsenv" not in sys.modules
    from upki import cmsenv

    try:
        plain = cmsenv.open_envelope(content, private_key, my_cert_der)
    except PKIError as e:
        raise SCEPError("CertRep: cannot open the reply's envelope: %s" % e)
    finally:
        cmsenv = None
        if unload:
            _unload("cmsenv")
    return CertRep(SUCCESS, None, None, plain, signer, None)


def _unload(name):
    import gc

    from upki import forget

    forget((name,))
    gc.collect()


def _among(cert, certs):
    # cert (x509.Certificate) is one of certs (objects or DER), compared
    # without a certificate-sized copy (x509 keeps its DER as a memoryview)
    der = cert.der
    for c in certs:
        if c is cert or _same(c.der if hasattr(c, "der") else c, der):
            return True
    return False


def _same(a, b):
    if len(a) != len(b):
        return False
    a = memoryview(a)
    b = memoryview(b)
    for i in range(0, len(a), 64):
        if bytes(a[i : i + 64]) != bytes(b[i : i + 64]):
            return False
    return True
