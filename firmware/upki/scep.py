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
#
# Each phase loads only its part: GetCACert's parsing is upki.scepca, the
# request (pkiMessage) upki.scepreq, the reply (CertRep) upki.sceprep.  Their names
# still answer here (scep.parse_ca_certs, scep.pki_message ...), loading
# the half on first use.
from micropython import const

from upki import der

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
# their meaning, one line each (one string: a constant longer than a qstr
# is an object in the heap, even with the code in ROM)
_FAIL_WORDS = """unrecognized or unsupported algorithm
integrity check (signature) failed
transaction not permitted or supported
the message time was not close enough to the CA's time
no certificate matches the criteria"""

_SEQUENCE = const(0x30)
_PRINTABLE = const(0x13)

# GetCACaps keywords (RFC 8894 3.5.2) as the server spells them -> attribute
_CAP_WORDS = """AES aes
DES3 des3
GetNextCACert get_next_ca_cert
POSTPKIOperation post_pki_operation
Renewal renewal
SHA-1 sha1
SHA-256 sha256
SHA-512 sha512
SCEPStandard scep_standard
Update update"""


def fail_text(fail_info):
    """failInfo in words: `badRequest (transaction not permitted or supported)`."""
    try:
        i = int(fail_info)
    except (TypeError, ValueError):
        return "unknown failInfo %r" % (fail_info,)
    if 0 <= i < len(FAIL_NAMES):
        return "%s (%s)" % (FAIL_NAMES[i], _FAIL_WORDS.split("\n")[i])
    return "unknown failInfo %d" % i


class Capabilities:
    """What a CA said to GetCACaps, and the choices that follow from it."""

    def __init__(self, text=""):
        if isinstance(text, (bytes, bytearray, memoryview)):
            text = str(bytes(text), "utf-8", "ignore") if text else ""
        self.words = []  # every keyword as sent, known or not
        self.unknown = []
        known = [line.split() for line in _CAP_WORDS.split("\n")]  # [word, attribute]
        for word_attr in known:
            setattr(self, word_attr[1], False)
        for line in text.replace("\r", "\n").split("\n"):
            w = line.strip()
            if not w or len(self.words) >= 64:
                continue
            self.words.append(w)
            for word, attr in known:
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


# ---------------------------------------------------------------- requests


def transaction_id(public_key, hash_name="sha256"):
    """The transactionID of requests for a key: uppercase hex of the hash of
    its SubjectPublicKeyInfo (the same key always gives the same ID, so a
    CA recognises a resent request)."""
    from binascii import hexlify

    from upki import digest

    return str(hexlify(digest.hash(hash_name, public_key.to_spki_der())), "ascii").upper()


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


# names answered by the parts, loaded on first use: "name module" lines
_PARTS = """
CACerts scepca
parse_ca_certs scepca
_load_cert scepca
_flag scepca
_is_ca scepca
_self_issued scepca
_fp_matches scepca
pki_message scepreq
self_signed scepreq
_printable scepreq
CertRep sceprep
parse_cert_rep sceprep
_read_crls sceprep
"""


def __getattr__(name):
    from upki.cmsbase import forward

    return forward(_PARTS, name)
