# SPDX-License-Identifier: MIT
# Certificate path validation (RFC 5280 section 6, the parts an IOS router
# uses): build the path from the presented chain (any order, intermediates
# possibly missing but held by the trustpoint) to a trust anchor, then check
# signatures, validity on trusted time, name chaining, basicConstraints,
# keyUsage, unknown critical extensions, and revocation of every certificate
# in the path through a CRL provider.  The answer is a Result with a reason
# code; a bad certificate never raises.
#
#   r = verify_chain(chain, anchors, now, intermediates=(), crl_provider=None,
#                    revocation="crl", usage=None)
#   r.ok, r.reason, r.detail, r.cert (the certificate at fault), r.path
#
# Reason codes: ok, expired, not-yet-valid, bad-signature, unknown-issuer,
# revoked, crl-unavailable, clock-not-authoritative, not-a-ca, path-too-long,
# key-usage, unknown-critical-extension, malformed, identity-mismatch, no-chain.
#
# Revocation modes (IOS trustpoint words):
#   "crl"          revocation-check crl: no valid CRL for a certificate -> crl-unavailable
#   "best-effort"  crl best-effort: checked when a CRL can be had, accepted otherwise
#   "optional"     crl optional: only a CRL already cached is used; nothing fetched
#   "none"         revocation-check none
# crl_provider(issuer, cert, fetch) -> an object with lookup(serial octets) ->
# None | (revocationDate, reason code or None), or None when no CRL is to be
# had; it may raise PKIError (a CRL that cannot be used: bad signature, expired).
from upki.errors import PKIError

MAX_DEPTH = 8
MODES = ("crl", "best-effort", "optional", "none")


class Result:
    def __init__(self, reason="ok", detail="", cert=None):
        self.reason = reason
        self.detail = detail
        self.cert = cert
        self.path = []
        self.revoked_at = None
        self.revocation_reason = None
        self.identity = None
        self.notes = []  # e.g. CRLs that could not be had under best-effort

    @property
    def ok(self):
        return self.reason == "ok"

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return "<Result %s%s>" % (self.reason, (": " + self.detail) if self.detail else "")


def _fail(result, reason, detail, cert=None):
    result.reason = reason
    result.detail = detail
    result.cert = cert
    return result


def _load(c):
    from upki import x509

    if isinstance(c, x509.Certificate):
        return c
    return x509.load(c)


def _who(cert):
    try:
        return str(cert.subject)
    except PKIError:
        return "(unreadable subject)"


def _issued_by(cert, ca):
    """Name chaining plus key identifiers when both are present."""
    if not cert.issuer.matches(ca.subject):
        return False
    try:
        aki = cert.authority_key_identifier
        ski = ca.subject_key_identifier
    except PKIError:
        return False
    return aki is None or ski is None or aki == ski


def _pick_leaf(certs):
    """The presented certificate that issued none of the others (the first such)."""
    for c in certs:
        issues_other = False
        for o in certs:
            if o is not c and not o.is_self_issued and _issued_by(o, c):
                issues_other = True
                break
        if not issues_other:
            return c
    return certs[0]


def build_path(leaf, pool, anchors, max_depth=MAX_DEPTH):
    """[leaf, ..., anchor] or (None, reason, detail, cert).  The first
    candidate issuer whose signature checks is taken; an anchor ends the path."""
    path = [leaf]
    cur = leaf
    for _ in range(max_depth):
        for a in anchors:
            if cur.der == a.der:
                return path, None, None, None
        bad = None
        found = None
        for group in (anchors, pool):
            for ca in group:
                if ca in path or not _issued_by(cur, ca):
                    continue
                err = cur.signature_error(ca)
                if err is None:
                    found = ca
                    break
                bad = bad or err
            if found is not None:
                break
        if found is None:
            if bad is not None:
                return None, "bad-signature", "signature of %s: %s" % (_who(cur), bad), cur
            return None, "unknown-issuer", "no certificate of issuer %s" % cur.issuer, cur
        path.append(found)
        if any(found.der == a.der for a in anchors):
            return path, None, None, None
        cur = found
    return None, "path-too-long", "no trust anchor within %d certificates" % max_depth, leaf


def verify_chain(chain, anchors, now, intermediates=(), crl_provider=None, revocation="crl",
                 usage=None, max_depth=MAX_DEPTH):
    """Validate a presented chain (DER bytes or x509.Certificate; the peer's
    certificate is the one that issued none of the others) against anchors
    (the trustpoint's CA certificates; reaching any of them ends the path).
    now: trusted UNIX time, or None when the clock is not authoritative.
    usage: a keyUsage name the peer's certificate must carry (when it has
    the extension), e.g. "digitalSignature"; one of x509.KEY_USAGE_NAMES."""
    result = Result()
    if revocation not in MODES:
        raise ValueError("revocation mode %r is not one of %s" % (revocation, ", ".join(MODES)))
    if usage is not None:
        from upki.x509 import KEY_USAGE_NAMES

        # a misspelt name would refuse every peer that has keyUsage: a caller's error
        if usage not in KEY_USAGE_NAMES:
            raise ValueError("key usage %r is not one of %s" % (usage, ", ".join(KEY_USAGE_NAMES)))
    if now is None:
        return _fail(result, "clock-not-authoritative",
                     "the clock is not authoritative: certificates cannot be validated")
    if not chain:
        return _fail(result, "no-chain", "no certificate presented")
    try:
        certs = [_load(c) for c in chain]
        anchor_certs = [_load(c) for c in anchors]
        pool = certs + [_load(c) for c in intermediates]
    except (PKIError, ValueError) as e:
        return _fail(result, "malformed", "unreadable certificate: %s" % e)
    if not certs:
        return _fail(result, "no-chain", "no certificate presented")
    if not anchor_certs:
        return _fail(result, "unknown-issuer", "the trustpoint holds no CA certificate")
    try:
        return _verify(result, certs, anchor_certs, pool, now, crl_provider, revocation, usage,
                       max_depth)
    except PKIError as e:
        # a malformed extension found while checking: the certificate is unusable
        return _fail(result, "malformed", str(e), result.cert)


def _verify(result, certs, anchors, pool, now, crl_provider, revocation, usage, max_depth):
    leaf = _pick_leaf(certs)
    path, reason, detail, bad = build_path(leaf, pool, anchors, max_depth)
    if path is None:
        return _fail(result, reason, detail, bad)
    result.path = path
    n = len(path)
    for i in range(n):
        c = path[i]
        result.cert = c
        if now < c.not_before:
            return _fail(result, "not-yet-valid", "%s is not valid before %s" % (
                _who(c), _date(c.not_before)), c)
        if now > c.not_after:
            return _fail(result, "expired", "%s expired on %s" % (_who(c), _date(c.not_after)), c)
        crit = c.unknown_critical_extensions
        if crit:
            return _fail(result, "unknown-critical-extension", "%s carries the unknown critical "
                         "extension %s" % (_who(c), crit[0]), c)
        if i > 0:
            bc = c.basic_constraints
            if not (bc and bc[0]) and not (i == n - 1 and c.version == 1):
                return _fail(result, "not-a-ca", "%s is not a CA (basicConstraints)" % _who(c), c)
            if bc and bc[1] is not None:
                # CA certificates below this one, self-issued ones not counted
                below = 0
                for j in range(1, i):
                    if not path[j].is_self_issued:
                        below += 1
                if below > bc[1]:
                    return _fail(result, "path-too-long", "%s allows %d CA certificates below "
                                 "it, the path has %d" % (_who(c), bc[1], below), c)
            ku = c.key_usage
            if ku is not None and "keyCertSign" not in ku:
                return _fail(result, "key-usage", "%s may not sign certificates (keyUsage)"
                             % _who(c), c)
        elif usage:
            ku = c.key_usage
            if ku is not None and usage not in ku:
                return _fail(result, "key-usage", "%s lacks the %s key usage" % (_who(c), usage),
                             c)
    result.cert = None
    if revocation == "none" or crl_provider is None and revocation != "crl":
        return result
    for i in range(n - 1):
        c = path[i]
        issuer = path[i + 1]
        r = _check_revocation(result, c, issuer, crl_provider, revocation)
        if r is not None:
            return r
    return result


def _check_revocation(result, cert, issuer, crl_provider, revocation):
    why = None
    index = None
    ku = issuer.key_usage
    if ku is not None and "cRLSign" not in ku:
        why = "%s may not sign CRLs (keyUsage)" % _who(issuer)
    elif crl_provider is None:
        why = "no CRL source"
    else:
        try:
            index = crl_provider(issuer, cert, revocation != "optional")
        except PKIError as e:
            why = str(e)
        if index is None and why is None:
            why = "no CRL of %s could be had" % issuer.subject
    if index is None:
        if revocation == "crl":
            return _fail(result, "crl-unavailable", "%s: %s" % (_who(cert), why), cert)
        result.notes.append("%s not checked for revocation: %s" % (_who(cert), why))
        return None
    s, e = cert._serial
    hit = index.lookup(bytes(cert.der[s:e]))
    if hit is None:
        return None
    from upki import crl

    result.revoked_at = hit[0]
    result.revocation_reason = crl.reason_name(hit[1])
    return _fail(result, "revoked", "%s (serial %s) was revoked on %s%s" % (
        _who(cert), cert.serial_hex, _date(hit[0]),
        (", reason " + result.revocation_reason) if result.revocation_reason else ""), cert)


def _date(t):
    from upki.clock import format_date

    return format_date(t)
