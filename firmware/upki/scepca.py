# SPDX-License-Identifier: MIT
# GetCACert's answer (RFC 8894 3.5.1), the authenticate half of upki.scep:
# loaded while a CA is authenticated, not while a request is sent.
#
#   ca = scepca.parse_ca_certs(body)   # -> CACerts(.ca_chain .ra_sign .ra_encrypt)
from upki import der
from upki.errors import DERError, PKIError, SCEPError

_SEQUENCE = 0x30


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
            from upki import cms

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
