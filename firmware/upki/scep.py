# SPDX-License-Identifier: MIT
# The SCEP codec (RFC 8894): bytes in, bytes out.  No network, no storage:
# upki.enroll moves the bytes and keeps the state.
#
#   caps = scep.Capabilities(text)            # GetCACaps -> .post .hash_name .cipher .renewal
#   ca = scep.parse_ca_certs(body)            # GetCACert -> CACerts(.ca_chain .ra_sign .ra_encrypt)
#   tid = scep.transaction_id(public_key)     # hex of SHA-256 of the SPKI
#   msg = scep.pki_message(scep.PKCS_REQ, csr_der, signer_der, key, recipient_der,
#                          tid, nonce, "sha256", "aes128-cbc", signing_time)
#   rep = scep.parse_cert_rep(body, tid, nonce, rep_signers, key, signer_der)
#   rep.status (SUCCESS/FAILURE/PENDING), rep.fail_info, rep.fail_text,
#   rep.issued(public_key, ca_chain) -> the checked certificate DER
#
# Every check on a CertRep runs before anything reaches the caller: a
# forged, replayed or garbled reply is an SCEPError naming what was wrong.
from micropython import const

from upki import cms, der
from upki.errors import CryptoError, DERError, PKIError, SCEPError

# messageType (RFC 8894 3.2.1.2)
CERT_REP = const(3)
RENEWAL_REQ = const(17)
PKCS_REQ = const(19)
CERT_POLL = const(20)  # GetCertInitial in draft-nourse
GET_CERT = const(21)
GET_CRL = const(22)
MESSAGE_NAMES = {3: "CertRep", 17: "RenewalReq", 19: "PKCSReq", 20: "CertPoll", 21: "GetCert", 22: "GetCRL"}

# pkiStatus (3.2.1.3)
SUCCESS = const(0)
FAILURE = const(2)
PENDING = const(3)
STATUS_NAMES = {0: "SUCCESS", 2: "FAILURE", 3: "PENDING"}

# failInfo (3.2.1.4)
BAD_ALG = const(0)
BAD_MESSAGE_CHECK = const(1)
BAD_REQUEST = const(2)
BAD_TIME = const(3)
BAD_CERT_ID = const(4)
FAIL_NAMES = ("badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId")
FAIL_WORDS = (
    "unrecognized or unsupported algorithm",
    "integrity check (signature) failed",
    "transaction not permitted or supported",
    "the message time was not close enough to the CA's time",
    "no certificate matches the criteria",
)

_SEQUENCE = const(0x30)
_PRINTABLE = const(0x13)

# GetCACaps keywords (RFC 8894 3.5.2) as the server spells them -> attribute
_CAP_WORDS = (
    ("AES", "aes"),
    ("DES3", "des3"),
    ("GetNextCACert", "get_next_ca_cert"),
    ("POSTPKIOperation", "post_pki_operation"),
    ("Renewal", "renewal"),
    ("SHA-1", "sha1"),
    ("SHA-256", "sha256"),
    ("SHA-512", "sha512"),
    ("SCEPStandard", "scep_standard"),
    ("Update", "update"),
)


def fail_text(fail_info):
    """failInfo in words: `badRequest (transaction not permitted or supported)`."""
    try:
        i = int(fail_info)
    except (TypeError, ValueError):
        return "unknown failInfo %r" % (fail_info,)
    if 0 <= i < len(FAIL_NAMES):
        return "%s (%s)" % (FAIL_NAMES[i], FAIL_WORDS[i])
    return "unknown failInfo %d" % i


class Capabilities:
    """What a CA said to GetCACaps, and the choices that follow from it."""

    def __init__(self, text=""):
        if isinstance(text, (bytes, bytearray, memoryview)):
            text = str(bytes(text), "utf-8", "ignore") if text else ""
        self.words = []  # every keyword as sent, known or not
        self.unknown = []
        for attr in _CAP_WORDS:
            setattr(self, attr[1], False)
        for line in text.replace("\r", "\n").split("\n"):
            w = line.strip()
            if not w or len(self.words) >= 64:
                continue
            self.words.append(w)
            for word, attr in _CAP_WORDS:
                # RFC 8894: compare case-insensitively
                if w.lower() == word.lower():
                    setattr(self, attr, True)
                    break
            else:
                self.unknown.append(w)
        std = self.scep_standard  # implies AES, POSTPKIOperation and SHA-256
        self.post = self.post_pki_operation or std
        self.hash_name = "sha256" if (self.sha256 or std) else "sha1"
        # single DES is never sent: without AES the CA gets 3DES
        self.cipher = "aes128-cbc" if (self.aes or std) else "des-ede3-cbc"

    def __str__(self):
        return "%s, %s, %s%s" % (
            "POST" if self.post else "GET",
            "SHA-256" if self.hash_name == "sha256" else "SHA-1",
            "AES-128" if self.cipher == "aes128-cbc" else "3DES",
            ", Renewal" if self.renewal else "",
        )


# ---------------------------------------------------------------- GetCACert


class CACerts:
    """GetCACert's answer: ca_chain (x509.Certificate, issuing CA first, root
    last), ra_sign and ra_encrypt (the RA's certificates, or the issuing CA
    itself when the CA has no RA), others (certificates left over)."""

    def __init__(self, ca_chain, ra_sign, ra_encrypt, others=()):
        self.ca_chain = ca_chain
        self.ra_sign = ra_sign
        self.ra_encrypt = ra_encrypt
        self.others = list(others)

    @property
    def ca(self):
        return self.ca_chain[0]

    @property
    def root(self):
        return self.ca_chain[-1]

    def has_ra(self):
        return self.ra_sign is not self.ca_chain[0] or self.ra_encrypt is not self.ca_chain[0]


def _load_cert(data, what):
    from upki import x509

    try:
        return x509.Certificate(bytes(data))
    except PKIError as e:
        raise SCEPError("GetCACert: the %s is not a certificate: %s" % (what, e))
    except (ValueError, IndexError, TypeError) as e:
        raise SCEPError("GetCACert: the %s is not a certificate: %s" % (what, e))


def _flag(v):
    # x509 properties (older builds had methods)
    return v() if callable(v) else bool(v)


def _is_ca(c):
    return _flag(c.is_ca)


def _self_issued(c):
    return _flag(c.is_self_issued)


def _fp_matches(cert, fingerprint):
    if not fingerprint:
        return False
    fp = fingerprint.replace(" ", "").replace(":", "").upper()
    h = {32: "md5", 40: "sha1", 64: "sha256"}.get(len(fp))
    return h is not None and cert.fingerprint(h).replace(" ", "") == fp


def parse_ca_certs(body, ra_sign_fingerprint=None, ra_encrypt_fingerprint=None):
    """GetCACert's body: one DER certificate (a CA without RA), a PEM
    certificate, or a degenerate certs-only SignedData with the CA, its
    chain and the RA certificates.  Content-Type is not trusted: the body's
    structure decides.  The RA certificates are chosen by key usage
    (keyEncipherment for encryption, digitalSignature for signing), unless a
    fingerprint names one."""
    if not body:
        raise SCEPError("GetCACert: empty answer")
    data = bytes(body)
    if data[:5] == b"-----":
        from upki import x509

        try:
            data = x509.pem_to_der(data)
        except (PKIError, ValueError) as e:
            raise SCEPError("GetCACert: bad PEM: %s" % e)
    certs = None
    try:
        t, s, e = der.read_single(data)
    except DERError as ex:
        raise SCEPError("GetCACert: the answer is not DER (%s)" % ex)
    if t != _SEQUENCE:
        raise SCEPError("GetCACert: the answer is not a certificate or a PKCS#7")
    # A certificate starts SEQUENCE { SEQUENCE tbs ...; a ContentInfo with an OID.
    t2, _s2, _e2 = der.read_tlv(data, s, e)
    if t2 == 0x06:
        try:
            certs = [_load_cert(c, "PKCS#7 certificate") for c in cms.read_certs_only(data)]
        except PKIError as ex:
            raise SCEPError("GetCACert: bad PKCS#7: %s" % ex)
        if not certs:
            raise SCEPError("GetCACert: the PKCS#7 holds no certificate")
        if len(certs) > 8:
            raise SCEPError("GetCACert: %d certificates is more than a CA sends" % len(certs))
    else:
        certs = [_load_cert(data, "answer")]
    cas = [c for c in certs if _is_ca(c)]
    ras = [c for c in certs if not _is_ca(c)]
    if len(certs) == 1 and not cas:
        cas, ras = certs, []  # a lone certificate is the CA, whatever it says
    if not cas:
        raise SCEPError("GetCACert: none of the %d certificates is a CA certificate" % len(certs))
    # the issuing CA: the one that issued the RA certificates, else the CA no
    # other CA in the set was issued by (the bottom of the chain)
    issuing = None
    for ra in ras:
        for c in cas:
            if ra.issuer == c.subject:
                issuing = c
                break
        if issuing:
            break
    if issuing is None:
        for c in cas:
            if not any(o is not c and o.issuer == c.subject and not _self_issued(o) for o in cas):
                issuing = c
                break
        if issuing is None:
            issuing = cas[0]
    chain = [issuing]
    while not _self_issued(chain[-1]) and len(chain) < 8:
        up = [c for c in cas if c.subject == chain[-1].issuer and c not in chain]
        if not up:
            break
        chain.append(up[0])
    others = [c for c in certs if c not in chain and c not in ras]

    def pick(fingerprint, usage, what):
        if fingerprint:
            for c in ras:
                if _fp_matches(c, fingerprint):
                    return c
            raise SCEPError("GetCACert: no RA certificate has the configured %s fingerprint" % what)
        hits = [c for c in ras if not c.key_usage or usage in c.key_usage]
        return hits[0] if hits else None

    ra_sign = pick(ra_sign_fingerprint, "digitalSignature", "signing")
    ra_enc = pick(ra_encrypt_fingerprint, "keyEncipherment", "encryption")
    if ras and (ra_sign is None or ra_enc is None):
        missing = "encryption (keyEncipherment)" if ra_enc is None else "signing (digitalSignature)"
        raise SCEPError("GetCACert: RA certificates given but none is usable for %s" % missing)
    return CACerts(chain, ra_sign or issuing, ra_enc or issuing, others)


# ---------------------------------------------------------------- requests


def transaction_id(public_key, hash_name="sha256"):
    """The transactionID of requests for a key: uppercase hex of the hash of
    its SubjectPublicKeyInfo (the same key always gives the same ID, so a
    CA recognises a resent request)."""
    from binascii import hexlify

    from upki import digest

    return str(hexlify(digest.hash(hash_name, public_key.to_spki_der())), "ascii").upper()


def _printable(text):
    return der.encode_string(_PRINTABLE, text)


def pki_message(
    message_type,
    content,
    signer_cert_der,
    private_key,
    recipient_cert_der,
    tid,
    sender_nonce,
    hash_name="sha256",
    cipher="aes128-cbc",
    signing_time=None,
):
    """A pkiMessage: SignedData (by the signer certificate's key) over the
    EnvelopedData (for the RA/CA encryption certificate) of content, with
    the SCEP attributes messageType, transactionID and senderNonce."""
    if message_type not in (RENEWAL_REQ, PKCS_REQ, CERT_POLL, GET_CERT, GET_CRL):
        raise SCEPError("messageType %r is not a request" % (message_type,))
    if cipher == "des-cbc":
        raise SCEPError("single DES is never sent: use aes128-cbc or des-ede3-cbc")
    import gc

    gc.collect()
    envelope = cms.envelope(content, recipient_cert_der, cipher)
    gc.collect()
    return cms.sign(
        envelope,
        signer_cert_der,
        private_key,
        hash_name,
        attributes=(
            ("messageType", _printable(str(message_type))),
            ("transactionID", _printable(tid)),
            ("senderNonce", der.encode_octet_string(sender_nonce)),
        ),
        signing_time=signing_time,
    )


def issuer_and_subject(issuer_name_der, subject_name_der):
    """CertPoll's messageData (IssuerAndSubject)."""
    return der.encode_sequence(bytes(issuer_name_der), bytes(subject_name_der))


def issuer_and_serial(issuer_name_der, serial):
    """GetCert's and GetCRL's messageData (IssuerAndSerialNumber)."""
    return der.encode_sequence(bytes(issuer_name_der), der.encode_int(serial))


def csr_parts(csr_der):
    """(subject Name DER, SubjectPublicKeyInfo DER) of a PKCS#10 request."""
    buf = memoryview(csr_der)
    _t, s, e = der.read_single(buf, _SEQUENCE)
    _t, cs, ce = der.read_tlv(buf, s, e)  # CertificationRequestInfo
    _t, vs, ve = der.read_tlv(buf, cs, ce)  # version
    _t, ns, ne = der.read_tlv(buf, ve, ce)
    name_start = ve
    _t, ks, ke = der.read_tlv(buf, ne, ce)
    return bytes(buf[name_start:ne]), bytes(buf[ne:ke])


def self_signed(private_key, subject_der, not_before, not_after, hash_name="sha256", serial=None):
    """The throwaway self-signed certificate that signs a PKCSReq for a new
    key (RFC 8894 2.3): version 1, subject = issuer = the request's subject."""
    from upki import oid

    if serial is None:
        import os

        serial = int.from_bytes(os.urandom(8), "big") >> 1 or 1
    alg = der.encode_sequence(der.encode_oid(oid.rsa_signature_oid(hash_name)), der.encode_null())
    tbs = der.encode_sequence(
        der.encode_int(serial),
        alg,
        bytes(subject_der),
        der.encode_sequence(der.encode_time(int(not_before)), der.encode_time(int(not_after))),
        bytes(subject_der),
        private_key.public_key().to_spki_der(),
    )
    return der.encode_sequence(tbs, alg, der.encode_bit_string(private_key.sign(tbs, hash_name)))


# ---------------------------------------------------------------- CertRep


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
    signer_der = s.signer.der
    if not any(bytes(signer_der) == bytes(c.der if hasattr(c, "der") else c) for c in signers):
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
    s = None
    import gc

    gc.collect()
    try:
        plain = cms.open_envelope(content, private_key, my_cert_der)
    except PKIError as e:
        raise SCEPError("CertRep: cannot open the reply's envelope: %s" % e)
    return CertRep(SUCCESS, None, None, plain, signer, None)
