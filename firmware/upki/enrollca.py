# SPDX-License-Identifier: MIT
# The authenticate half of upki.enroll: GetCACert, the checks on the CA and
# RA certificates, storing them.  enroll.authenticate loads it (and the
# GetCACert parser, upki.scepca) for the exchange and unloads both after, so
# that none of this sits in the heap while a request is built.
from upki import scepca
from upki.enroll import _debug, _http, _join, scep_url
from upki.errors import SCEPError


def get_ca_cert(tp):
    url = scep_url(tp)
    # (a trustpoint name needs no percent-encoding: letters, digits, "-_.")
    _debug("CRYPTO_PKI: Sending CA Certificate Request:\nGET %s HTTP/1.1"
           % _join(url, "operation=GetCACert&message=" + tp.name))
    status, reason, body = _http("GET", url, "GetCACert", tp.name)
    _debug("CRYPTO_PKI: transaction GetCACert completed (HTTP %d, %d bytes)"
           % (status, len(body or b"")))
    if status != 200:
        raise SCEPError("GetCACert: HTTP %d %s from the SCEP server" % (status, reason))
    # RA certificates are chosen by key usage unless the trustpoint names them by
    # fingerprint (attributes a trustpoint may carry; none by default)
    return scepca.parse_ca_certs(body, getattr(tp, "ra_sign_fingerprint", None),
                               getattr(tp, "ra_encrypt_fingerprint", None))


def fingerprint_matches(cert, fingerprint):
    return scepca._fp_matches(cert, fingerprint)


def check_ca_certs(certs, now):
    """The CA chain and RA certificates must be valid now and signed as they claim."""
    chain = certs.ca_chain
    for i in range(len(chain)):
        c = chain[i]
        if not c.valid_at(now):
            raise SCEPError("CA certificate %s is not valid now (%s)" % (c.subject, _validity(c)))
        issuer = chain[i + 1] if i + 1 < len(chain) else c
        if i + 1 == len(chain) and not scepca._self_issued(c):
            continue  # the top of what the CA sent is not a root: it is the anchor we pin
        why = c.signature_error(issuer)
        if why is not None:
            raise SCEPError("CA certificate %s: signature check failed: %s" % (c.subject, why))
    for ra in (certs.ra_sign, certs.ra_encrypt):
        if ra is chain[0]:
            continue
        if not ra.valid_at(now):
            raise SCEPError("RA certificate %s is not valid now (%s)" % (ra.subject, _validity(ra)))
        why = ra.signature_error(chain[0])
        if why is not None:
            raise SCEPError("RA certificate %s is not signed by the CA: %s" % (ra.subject, why))


def _validity(c):
    from upki.clock import format_date

    return "%s to %s" % (format_date(c.not_before), format_date(c.not_after))


def authenticate(tp, router, accept=None):  # enroll.authenticate: see there
    """GetCACaps + GetCACert; check the CA against the configured fingerprint
    or ask accept(certs) -> bool; store the CA and RA certificates.  Returns
    the scep.CACerts, or None when the operator refused."""
    now = router.clock.require_trusted("authentication")
    certs = get_ca_cert(tp)
    check_ca_certs(certs, now)
    if tp.fingerprint:
        if not any(fingerprint_matches(c, tp.fingerprint) for c in certs.ca_chain):
            raise SCEPError(
                "Fingerprint mismatch: the configured fingerprint %s does not match the CA "
                "certificate (MD5 %s, SHA1 %s); certificate not accepted"
                % (tp.fingerprint, certs.root.fingerprint("md5"), certs.root.fingerprint("sha1"))
            )
    elif accept is None or not accept(certs):
        return None
    tp.store_ca_certificates([c.der for c in certs.ca_chain])
    if certs.has_ra():
        tp.store("ra-sign", bytes(certs.ra_sign.der))
        tp.store("ra-encrypt", bytes(certs.ra_encrypt.der))
    else:
        tp.drop("ra-sign")
        tp.drop("ra-encrypt")
    return certs
