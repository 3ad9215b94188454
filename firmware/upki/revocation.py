# SPDX-License-Identifier: MIT
# Feature module: peer certificate validation for trustpoints, the CRL cache,
# and the commands around them.
#
#   upki.trustpoint.get(NAME).verify(chain, identity=None) -> upki.validate.Result
#
# CRLs are kept in NVRAM as indexes (upki.crl), one record per issuing CA
# (crl/<16 hex of SHA-1 of the CA's subject>), and used until their
# nextUpdate.  A missing or stale CRL is fetched (upki.crlfetch, loaded only
# for a fetch: HTTP first, then LDAP, then SCEP, the guide's order); a cached
# one is also fetched again in the background when it expires (upki.cli_ca).
#
# Commands: crypto ca crl request NAME | crypto ca verify NAME FILE |
# show crypto ca crls | show crypto ca timers | crypto identity NAME (dn, fqdn) |
# crypto pki certificate map LABEL SEQ (subject-name/issuer-name eq|ne|co|nc VALUE)
from upki import config, identity, log, trustpoint
from upki.cli import CONFIG, EXEC, Incomplete, Invalid, command, submode
from upki.errors import ClockError, ConfigError, PKIError

_STAGED = ("crl/fetch", "crl/fetch-der")  # upki.crlfetch's staging records

# record name -> its size when it was last verified whole. Only the size is
# kept, not the crl.Index, so that the CRL code leaves the heap between
# console commands; ingest replaces a record and forgets it here.
_verified = {}
# As IOS does, the keys of the peers validation accepted join the public-key
# chain: code C of `show crypto key pubkey-chain rsa` (upki.cli_pubkey shows
# them beside its configured M keys). In RAM only, the latest 32; kept here,
# not in cli_pubkey, so that a validation does not load the pubkey-chain
# commands: (name, address or None, usage, SubjectPublicKeyInfo DER).
peer_keys = []
_PEER_KEYS_MAX = 32


def _attach(router):
    _verified.clear()
    del peer_keys[:]
    identity.clear()


def _open(nvram, name):
    """The crl.Index of a stored CRL record: verified whole the first time,
    then opened on its last page alone while its size is unchanged."""
    from upki import crl

    size = _verified.get(name)
    if size is not None and nvram.size(name) == size:
        return crl.Index(nvram, name, verify=False)
    idx = crl.Index(nvram, name)
    _verified[name] = nvram.size(name)
    return idx


config.on_attach(_attach)


def _debug(text):
    log.debug(log.TRANSACTIONS, "CRYPTO_PKI: " + text)


def record_for(issuer):
    import hashlib
    from binascii import hexlify

    return "crl/" + hexlify(hashlib.sha1(issuer.subject.der()).digest()[:8]).decode()


def cached(router, issuer, now):
    """The stored CRL index of issuer, valid at now, or None."""
    name = record_for(issuer)
    if not router.nvram.exists(name):
        return None
    try:
        idx = _open(router.nvram, name)
    except PKIError as e:
        _debug("stored CRL %s unusable: %s" % (name, e))
        return None
    info = idx.info
    if info.issuer_der != issuer.subject.der():
        return None
    if info.this_update > now or (info.next_update is not None and info.next_update < now):
        return None
    return idx


def fetch(router, tp, issuer, cert, now):
    """Fetch, check and store the CRL of issuer; return its crl.Index.
    Raises PKIError naming every source tried when none gave a valid CRL."""
    from upki import crlfetch

    name = record_for(issuer)
    # a stored CRL, even a stale one, sets the oldest cRLNumber accepted
    min_number = None
    try:
        old = _open(router.nvram, name) if router.nvram.exists(name) else None
        if old is not None and old.info.issuer_der == issuer.subject.der():
            min_number = old.info.crl_number_int
    except PKIError:
        pass
    old = None
    crlfetch.fetch(router, tp, issuer, cert, now, name, min_number)
    return _open(router.nvram, name)


def provider(router, tp, now):
    """The crl_provider upki.validate calls for one verification."""

    def get(issuer, cert, may_fetch):
        idx = cached(router, issuer, now)
        if idx is not None or not may_fetch:
            return idx
        return fetch(router, tp, issuer, cert, now)

    return get


def revocation_mode(tp):
    if tp.revocation == "none":
        return "none"
    return tp.crl_mode or "crl"


def anchors_of(tp):
    """(anchors, intermediates) from the trustpoint's CA certificates: the
    root is the anchor; a subordinate trustpoint's own CA is trusted as it is."""
    cas = tp.ca_certificates()
    if not cas:
        return [], []
    top = cas[-1]
    return [top], cas[:-1]


def verify(tp, chain, ident=None, now=None, usage=None):
    """The trustpoint verifier (installed as upki.trustpoint.verifier); usage:
    the keyUsage the caller's policy needs of the peer (validate.verify_chain)."""
    from upki import validate

    router = trustpoint.router()
    if now is None:
        try:
            now = int(router.clock.require_trusted("certificate validation"))
        except ClockError as e:
            return validate.Result("clock-not-authoritative", str(e))
    try:
        anchors, inter = anchors_of(tp)
    except PKIError as e:
        return validate.Result("malformed", "trustpoint %s CA certificates: %s" % (tp.name, e))
    if not anchors:
        return validate.Result("unknown-issuer", "trustpoint %s is not authenticated" % tp.name)
    r = validate.verify_chain(chain, anchors, now, intermediates=inter,
                              crl_provider=provider(router, tp, now),
                              revocation=revocation_mode(tp), usage=usage)
    if r.ok and ident:
        matched, how = identity.match(r.path[0], ident)
        if matched:
            r.identity = how
        else:
            r.reason = "identity-mismatch"
            r.detail = how
            r.cert = r.path[0]
    if r.ok:
        try:
            remember_key(r.path[0])
        except PKIError:
            pass  # a key the chain cannot show is no reason to refuse the peer
    _debug("Certificate validation %s (trustpoint %s)%s" % (
        "succeeded" if r.ok else "failed: " + r.reason, tp.name,
        (": " + r.detail) if r.detail else ""))
    return r


trustpoint.verifier[0] = verify


def remember_key(cert, address=None):
    """Keep a validated peer certificate's key (code C); bounded, oldest dropped
    first. Named as IOS names the peer: its FQDN (unstructuredName, else a
    dNSName), else its CN; its address from the certificate (an iPAddress, else
    unstructuredAddress) when none is given."""
    spki = bytes(cert.public_key_info)
    for k in peer_keys:
        if k[3] == spki:
            return k
    alt = cert.subject_alt_names or []
    names = (cert.subject.get("1.2.840.113549.1.9.2") or [v for t, v in alt if t == "DNS"]
             or cert.subject.get("CN"))
    if address is None:
        ips = [v for t, v in alt if t == "IP"] or cert.subject.get("1.2.840.113549.1.9.8")
        address = ips[0] if ips else None
    usage = {"Signature": "signature", "Encryption": "encryption"}.get(cert.ios_usage, "general")
    k = (names[-1] if names else str(cert.subject), address, usage, spki)
    peer_keys.append(k)
    if len(peer_keys) > _PEER_KEYS_MAX:
        del peer_keys[0]
    return k


def _date(t):
    from upki.clock import format_date

    return "none" if t is None else format_date(t)


# ---------------------------------------------------------------- exec commands


def _tp(args):
    args.need(1)
    tp = trustpoint.get(args[0])
    if tp is None:
        raise Invalid(0, "Trustpoint %s not found" % args[0])
    return tp


@command(EXEC, "crypto ca crl request")
def _crl_request(s, args):
    tp = _tp(args)
    args.only(1)
    try:
        now = int(s.router.clock.require_trusted("a CRL request"))
    except ClockError as e:
        return "%s\n" % e
    cas = tp.ca_certificates()
    if not cas:
        return "%% Trustpoint %s has no CA certificate: authenticate it first\n" % tp.name
    own = tp.certificate("cert")
    try:
        idx = fetch(s.router, tp, cas[0], own, now)
    except PKIError as e:
        return "%% CRL request for trustpoint %s failed: %s\n" % (tp.name, e)
    return "%% CRL received for trustpoint %s: %d revoked, next update %s\n" % (
        tp.name, idx.info.count, _date(idx.info.next_update))


command(EXEC, "crypto pki crl request")(_crl_request)


@command(EXEC, "show crypto ca crls")
def _show_crls(s, args):
    from upki import x509

    out = []
    for name in s.router.nvram.names("crl"):
        if name in _STAGED:
            continue
        try:
            idx = _open(s.router.nvram, name)
        except PKIError as e:
            out.append("%% CRL record %s unusable: %s" % (name, e))
            continue
        info = idx.info
        issuer = x509.Name(memoryview(info.issuer_der), 0, len(info.issuer_der))
        out.append("CRL Issuer Name:")
        out.append("    " + str(issuer))
        out.append("    LastUpdate: " + _date(info.this_update))
        out.append("    NextUpdate: " + _date(info.next_update))
        out.append("    Retrieved from CRL Distribution Point:")
        out.append("      " + (info.source or "(unknown)"))
        out.append("    Revoked certificates: %d" % info.count)
        out.append("")
    if not out:
        return "% No CRLs present\n"
    return "\n".join(out) + "\n"


command(EXEC, "show crypto pki crls")(_show_crls)


@command(EXEC, "show crypto ca timers")
def _show_timers(s, args):
    import sys

    retry = getattr(sys.modules.get("upki.cli_ca"), "crl_retry", {})  # the background refresh
    now = s.router.clock.now()
    lines = ["PKI Timers"]
    timers = []
    for name in s.router.nvram.names("crl"):
        if name in _STAGED:
            continue
        try:
            idx = _open(s.router.nvram, name)
        except PKIError:
            continue
        due = idx.info.next_update
        if due is not None:
            # the background refresh (cli_ca) fetches it then, or at its retry
            # time after a failed fetch; an overdue one is due now, never negative
            r = retry.get(name)
            if r is not None and r[0] == due:
                due = r[1]
            timers.append((max(due - now, 0), "CRL " + (idx.info.source or name)))
    auto = sys.modules.get("upki.autoenroll")  # loaded once a trustpoint has auto-enroll
    for tp in trustpoint.all():
        timers.extend(_cert_timers(tp, now))
        if auto is not None:
            timers.extend(auto.timers(tp, now))  # RETRY
    timers.sort()
    if timers:
        lines.append("|%s" % _left(timers[0][0]))  # the tree's head: the next to fire
    for left, what in timers:
        lines.append("|%s %s" % (_left(left), what))
    return "\n".join(lines) + "\n"


command(EXEC, "show crypto pki timers")(_show_timers)


def _cert_timers(tp, now):
    """RENEW (auto-enroll at its percentage of the lifetime) and certificate
    expiry timers of a trustpoint's own certificates."""
    out = []
    for kind in ("cert", "cert-sign", "cert-encrypt"):
        try:
            c = tp.certificate(kind)
            if c is None:
                continue
            nb, na = c.not_before, c.not_after
        except PKIError:
            continue
        label = tp.name if kind == "cert" else "%s (%s)" % (tp.name, kind[5:])
        if tp.auto_enroll:
            percent = tp.auto_enroll[0] or 100  # IOS: no PERCENT renews at expiry
            out.append((nb + (na - nb) * percent // 100 - now, "RENEW " + label))
        out.append((na - now, "EXPIRE " + label))
    return out


def _left(sec):
    """Time left as IOS prints its managed timers: 46:49.207, 1:02:03.004,
    2d03:04:05.006 (a timer already due shows as a negative time)."""
    sign = "-" if sec < 0 else ""
    ms = int(abs(sec) * 1000 + 0.5)
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    if d:
        t = "%dd%02d:%02d:%02d.%03d" % (d, h, m, s, ms)
    elif h:
        t = "%d:%02d:%02d.%03d" % (h, m, s, ms)
    else:
        t = "%d:%02d.%03d" % (m, s, ms)
    return " %15s" % (sign + t)  # at least one space after the tree's bar


def read_chain(data):
    """Certificates from PEM blocks or back-to-back DER: a list of DER bytes."""
    from upki import der

    out = []
    if b"-----BEGIN" in data:
        from binascii import a2b_base64

        text = data.decode()
        pos = 0
        while True:
            i = text.find("-----BEGIN CERTIFICATE-----", pos)
            if i < 0:
                break
            j = text.find("-----END CERTIFICATE-----", i)
            if j < 0:
                raise PKIError("unterminated PEM certificate")
            out.append(a2b_base64("".join(text[i + 27 : j].split())))
            pos = j + 25
        return out
    return [bytes(c) for c in der.elements(data)]


_CHAIN_MAX = 16384  # a chain of a handful of certificates; bounded for the heap


@command(EXEC, "crypto ca verify")
def _verify_cmd(s, args):
    tp = _tp(args)
    args.need(2)
    path = args[1]
    if path.startswith("flash:"):
        path = path[6:]
    path = path.lstrip("/")
    if ".." in path.split("/"):
        return "%%Error opening flash:%s (Invalid path: no .. outside flash)\n" % path
    full = s.router.board.flash_root.rstrip("/") + "/" + path
    try:
        with open(full, "rb") as f:
            data = f.read(_CHAIN_MAX + 1)
    except OSError:
        return "%%Error opening flash:%s (No such file)\n" % path
    if len(data) > _CHAIN_MAX:
        return "%% flash:%s: larger than %d bytes, not a certificate chain\n" % (path, _CHAIN_MAX)
    ident = args[2] if len(args) > 2 else None
    try:
        chain = read_chain(data)
    except (PKIError, ValueError) as e:
        return "%% %s: not a certificate chain: %s\n" % (path, e)
    r = tp.verify(chain, ident)
    if r.ok:
        out = ["Certificate chain is valid (trustpoint %s, %d certificates in the path)"
               % (tp.name, len(r.path))]
        for i, c in enumerate(r.path):
            out.append("  %d: %s" % (i, c.subject))
        if r.identity:
            out.append("  Identity: matched %s" % r.identity)
        for n in r.notes:
            out.append("  Note: %s" % n)
        return "\n".join(out) + "\n"
    return "%% Certificate chain is not valid: %s\n%% %s\n" % (r.reason, r.detail)


command(EXEC, "crypto pki verify")(_verify_cmd)


# ---------------------------------------------------------------- identities

ID_MODE = "crypto-identity"
MAP_MODE = "ca-certificate-map"
submode(ID_MODE, "(crypto-identity)#")
submode(MAP_MODE, "(ca-certificate-map)#")


@command(CONFIG, "crypto identity")
def _identity(s, args):
    args.need(1)
    args.only(1)
    s.router.modified = True
    s.enter(ID_MODE, identity.identity(args[0], create=True))
    return ""


@command(CONFIG, "no crypto identity")
def _no_identity(s, args):
    args.need(1)
    args.only(1)
    if not identity.remove_identity(args[0]):
        return "%% Identity %s does not exist\n" % args[0]
    s.router.modified = True
    return ""


@command(ID_MODE, "dn")
def _id_dn(s, args):
    args.need(1)
    try:
        s.context.add_dn(args.rest(0))
    except ConfigError as e:
        raise Invalid(0, str(e))
    s.router.modified = True
    return ""


@command(ID_MODE, "fqdn")
def _id_fqdn(s, args):
    args.need(1)
    args.only(1)
    s.context.add_fqdn(args[0])
    s.router.modified = True
    return ""


@command(CONFIG, "crypto pki certificate map")
def _cert_map(s, args):
    args.need(2)
    args.only(2)
    from upki.cli import integer

    seq = integer(args, 1, 1, 65535)
    s.router.modified = True
    s.enter(MAP_MODE, identity.certificate_map(args[0], seq, create=True))
    return ""


command(CONFIG, "crypto ca certificate map")(_cert_map)


@command(CONFIG, "no crypto pki certificate map")
def _no_cert_map(s, args):
    args.need(1)
    from upki.cli import integer

    seq = integer(args, 1, 1, 65535) if len(args) > 1 else None
    if not identity.remove_map(args[0], seq):
        return "%% Certificate map %s does not exist\n" % args[0]
    s.router.modified = True
    return ""


def _map_rule(field):
    def handler(s, args):
        if len(args) < 2:
            raise Incomplete()
        op = args[0].lower()
        if op not in identity.OPS:
            raise Invalid(0, "operator must be eq, ne, co or nc")
        s.context.add_rule(field, op, args.rest(1))
        s.router.modified = True
        return ""

    command(MAP_MODE, field)(handler)


_map_rule("subject-name")
_map_rule("issuer-name")


@config.section_at(config.ORDER_IDENTITIES)
def _render(router, lines):
    out = identity.all_lines()
    if out:
        lines.extend(out)
