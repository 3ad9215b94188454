# SPDX-License-Identifier: MIT
# Fetching CRLs into the NVRAM cache, and refreshing the cached ones in the
# background when they expire. Transient: loaded for a fetch (a certificate
# presented, `crypto ca crl request`, auto-enroll's check before a renewal,
# a refresh due) and dropped after it, so the code of the transports stays
# out of the heap of a board at rest.
#
# A CRL is fetched HTTP first, then LDAP, then SCEP (the guide's order): the
# certificate's http:// CRL distribution points and an http:// `crl query`,
# then the ldap:// ones, then SCEP GetCRL from the enrollment URL. Each fetch
# streams into a staging record, which upki.crl checks and indexes under the
# issuer's record (crl/<16 hex>, see upki.revocation.record_for).
#
# As IOS does, a cached CRL is downloaded again when its nextUpdate comes:
# upki.cli_ca keeps when the next one is due (a number and a small table of
# back-offs) and its background task loads this module only then; refresh()
# fetches one CRL per tick, on a trusted clock, for trustpoints that fetch
# CRLs (not `revocation-check none`, not `crl optional`), and a failed fetch
# is tried again after 1, 2, 4 ... 60 minutes.
from micropython import const

from upki import log
from upki.errors import PKIError

MAX_CRL = 8 << 20  # bytes: a fetched CRL larger than this is refused
STAGING = "crl/fetch"
STAGING_PEM = "crl/fetch-der"
TIMEOUT = 10  # s per source for a fetch someone waits for
_MAX_URLS = const(4)  # CDP and crl query URLs tried per fetch, then SCEP GetCRL
BACKGROUND_TIMEOUT = const(5)  # s per source for a background refresh (as a background poll)
_BACKGROUND_BUDGET_MS = const(8000)  # no further source once a refresh has taken this long
_RETRY_FIRST = const(60)  # s before the first retry of a failed refresh
_RETRY_MAX = const(3600)  # the longest back-off
_RESCAN = const(3600)  # s between looks at the records with nothing due (a clock may jump)


def _debug(text):
    log.debug(log.TRANSACTIONS, "CRYPTO_PKI: " + text)


def _date(t):
    from upki.clock import format_date

    return "none" if t is None else format_date(t)


def crl_urls(tp, cert):
    """Where to look for the CRL covering cert: HTTP URLs (its CDPs, then the
    trustpoint's `crl query`), then LDAP URLs in the same order."""
    cdp = []
    if cert is not None:
        try:
            cdp = cert.crl_distribution_points or []
        except PKIError:
            cdp = []
    out = [u for u in cdp if u.lower().startswith("http://")]
    server = None
    if tp is not None and tp.crl_query and tp.crl_query.lower().startswith("ldap://"):
        rest = tp.crl_query[7:]
        server = rest.split("/", 1)[0]
    for u in cdp:
        if u.lower().startswith("ldap:///"):
            # a CDP without a server (Active Directory writes these): IOS takes the
            # server from `crl query ldap://host[:port]`
            if server:
                out.append("ldap://" + server + u[7:])
        elif u.lower().startswith("ldap://"):
            out.append(u)
    q = tp.crl_query if tp is not None else None
    if q and q.lower().startswith("ldap://") and not q[7:].partition("/")[2]:
        q = None  # a server only: used above for CDPs without one
    if q and q not in out:
        if q.lower().startswith("http://"):
            out.insert(len([u for u in out if u.lower().startswith("http://")]), q)
        else:
            out.append(q)
    return out


def _stage(router, source, tp, issuer, cert, timeout):
    """Fetch one CRL into the staging record. Only the transport of this
    source is loaded, and it is dropped again after the fetch: a fallback to
    the next source (LDAP, then SCEP GetCRL) does not carry the code of the
    last one."""
    from upki import cli

    before = cli.mark()
    w = router.nvram.writer(STAGING)
    try:
        if source == "scep":
            from upki import enroll

            w.write(enroll.get_crl(tp, issuer, cert.serial if cert is not None else 0))
        elif source.lower().startswith("ldap://"):
            from upki import ldap

            ldap.fetch(source, timeout=timeout, max_size=MAX_CRL, sink=w)
        else:
            from upki import http

            r = http.request("GET", source, timeout=timeout, max_size=MAX_CRL, sink=w)
            if r.status != 200:
                raise PKIError("HTTP %d %s from %s" % (r.status, r.reason, source))
    except BaseException:
        w.abort()
        raise
    finally:
        enroll = ldap = http = r = None
        cli.release(before)
    w.close()


def _pem_to_der(nv):
    """A CDP that serves PEM (`-----BEGIN X509 CRL-----`): decode the staged
    record into DER in bounded memory (1 KB reads, base64 in 4-character
    groups) and stage that instead."""
    from binascii import a2b_base64

    nv.delete(STAGING_PEM)
    f, length = nv.open(STAGING)
    der_w = nv.writer(STAGING_PEM)
    try:
        state = 0  # 0: before BEGIN, 1: inside, 2: after END
        carry = b""  # base64 characters not yet in a group of 4
        pending = b""  # a line not yet ended
        left = length
        while state < 2 and (left or pending):
            chunk = f.read(min(1024, left)) if left else b""
            left -= len(chunk)
            pending += chunk
            if len(pending) > 4096:
                raise PKIError("PEM CRL with a line longer than 4096 characters")
            lines = pending.split(b"\n")
            pending = lines.pop() if left else b""
            for text in lines:
                text = text.strip()
                if state == 0:
                    if text == b"-----BEGIN X509 CRL-----":
                        state = 1
                elif text.startswith(b"-----END"):
                    state = 2
                    break
                elif text:
                    data = carry + text
                    cut = len(data) - len(data) % 4
                    carry = data[cut:]
                    try:
                        der_w.write(a2b_base64(data[:cut]))
                    except ValueError:
                        raise PKIError("bad base64 in PEM CRL")
        if state != 2 or carry:
            raise PKIError("PEM CRL without a complete X509 CRL block")
    except BaseException:
        der_w.abort()
        f.close()
        raise
    f.close()
    der_w.close()
    # the DER becomes the staged record
    w = nv.writer(STAGING)
    try:
        g, n = nv.open(STAGING_PEM)
        try:
            while n:
                chunk = g.read(min(1024, n))
                if not chunk:
                    raise PKIError("short read of the decoded PEM CRL")
                n -= len(chunk)
                w.write(chunk)
        finally:
            g.close()
    except BaseException:
        w.abort()
        raise
    w.close()


def fetch(router, tp, issuer, cert, now, name, min_number=None, first=None, timeout=TIMEOUT,
          budget_ms=None):
    """Fetch, check and store the CRL of issuer (an x509.Certificate) as record
    name; return its crl.Index (opened without verifying the record again).
    cert: the certificate whose CDPs name the CRL, or None; min_number: the
    oldest cRLNumber accepted (that of the CRL stored before); first: a URL to
    try before the others (where the cached CRL came from); budget_ms: no
    further source is tried once the fetch has taken this long.
    Raises PKIError naming every source tried when none gave a valid CRL."""
    import sys
    import time

    from upki import crl

    sources = crl_urls(tp, cert)
    if first and (first.lower().startswith("http://") or first.lower().startswith("ldap://")):
        if first in sources:
            sources.remove(first)
        sources.insert(0, first)
    if len(sources) > _MAX_URLS:
        # a certificate may name any number of CDPs: a bounded number are tried
        _debug("CRL of %s: %d URLs, trying the first %d" % (issuer.subject, len(sources), _MAX_URLS))
        del sources[_MAX_URLS:]
    if tp is not None and tp.enrollment_url:
        sources.append("scep")
    if not sources:
        raise PKIError("no CRL distribution point, crl query or enrollment URL for %s"
                       % issuer.subject)
    errors = []
    started = time.ticks_ms()
    for src in sources:
        where = "SCEP GetCRL at %s" % tp.enrollment_url if src == "scep" else src
        if errors and budget_ms is not None and \
                time.ticks_diff(time.ticks_ms(), started) >= budget_ms:
            errors.append("%s: not tried (time is up)" % where)
            break
        _debug("Getting CRL of %s from %s" % (issuer.subject, where))
        try:
            _stage(router, src, tp, issuer, cert, timeout)
            f, length = router.nvram.open(STAGING)
            if length and f.read(1) != b"\x30":  # not DER: perhaps PEM
                f.close()
                _pem_to_der(router.nvram)
                f, length = router.nvram.open(STAGING)
            else:
                f.seek(0)
            try:
                crl.ingest(router.nvram, name, f, length, issuer, now=now, source=where,
                           min_number=min_number)
            finally:
                f.close()
        except PKIError as e:
            _debug("CRL from %s refused: %s" % (where, e))
            errors.append("%s: %s" % (where, e))
            continue
        except OSError as e:
            errors.append("%s: error %s" % (where, e))
            continue
        finally:
            router.nvram.delete(STAGING)
            router.nvram.delete(STAGING_PEM)
        # the record changed: the validation cache forgets it, the refresh looks again
        rev = sys.modules.get("upki.revocation")
        if rev is not None:
            rev._verified.pop(name, None)
        sched = sys.modules.get("upki.cli_ca")
        if sched is not None:
            sched.crl_retry.pop(name, None)
            sched.crl_due[0] = None
        idx = crl.Index(router.nvram, name, verify=False)
        _debug("CRL received from %s: %d entries, next update %s" % (
            where, idx.info.count, _date(idx.info.next_update)))
        return idx
    raise PKIError("no valid CRL: " + "; ".join(errors))


# ---------------------------------------------------------------- background refresh


def refresh(router):
    """The work of upki.cli_ca's background task: look at the cached CRLs,
    fetch the first whose nextUpdate (or retry time) has come, and note in
    cli_ca when the next one is due."""
    from upki import cli_ca, crl

    now = int(router.clock.now())
    nv = router.nvram
    retry = cli_ca.crl_retry
    due = None
    soonest = now + _RESCAN
    seen = []
    for name in nv.names("crl"):
        if name == STAGING or name == STAGING_PEM:
            continue
        try:
            info = crl.Index(nv, name, verify=False).info  # its dates only: no check
        except PKIError:
            continue  # unusable: validation says so when it needs it
        seen.append(name)
        if info.next_update is None:
            continue  # a CRL without nextUpdate is never stale
        r = retry.get(name)
        if r is not None and r[0] != info.next_update:
            r = None  # replaced since (a validation fetched it): its own dates now
            del retry[name]
        at = info.next_update if r is None else r[1]
        if at <= now and due is None:
            due = (name, info)
        elif at < soonest:
            soonest = at  # another one due now is taken at the next tick
    for name in [n for n in retry if n not in seen]:
        del retry[name]  # the record is gone
    if due is not None:
        at = _refresh_one(router, due[0], due[1], now)
        if at < soonest:
            soonest = at
    cli_ca.crl_due[0] = soonest


def _owner(issuer_der):
    """(trustpoint, issuer certificate, the certificate whose CDPs name its
    CRL or None) of the first trustpoint that fetches CRLs (`revocation-check
    crl`, `crl best-effort`; `crl optional` never fetches) and holds the
    issuer's certificate; None when there is none."""
    from upki import trustpoint

    for tp in trustpoint.all():
        if tp.revocation == "none" or tp.crl_mode == "optional":
            continue
        try:
            cas = tp.ca_certificates()
            for i in range(len(cas)):
                if cas[i].subject.der() != issuer_der:
                    continue
                if i:  # the CA certificates go issuing CA first, root last
                    return tp, cas[i], cas[i - 1]
                for kind in ("cert", "cert-sign", "cert-encrypt"):
                    c = tp.certificate(kind)
                    if c is not None and c.issuer.der() == issuer_der:
                        return tp, cas[i], c
                return tp, cas[i], None
        except PKIError:
            continue
    return None


def _refresh_one(router, name, info, now):
    """Fetch the CRL of record name again; the board time of its next refresh."""
    from upki import cli_ca, crl

    retry = cli_ca.crl_retry
    owner = _owner(info.issuer_der)
    if owner is None:
        # a peer's CA that no trustpoint fetching CRLs holds: fetched again when a
        # peer certificate needs it; looked at again in an hour (configuration changes)
        retry[name] = [info.next_update, now + _RESCAN, 0]
        _debug("CRL %s expired %s: no trustpoint fetching CRLs holds its issuer's "
               "certificate; not refreshed" % (info.source or name, _date(info.next_update)))
        return now + _RESCAN
    tp, issuer, cert = owner
    _debug("CRL of %s expired %s: refreshing it for trustpoint %s" % (
        issuer.subject, _date(info.next_update), tp.name))
    try:
        # the CRL in NVRAM, checked whole this time, sets the oldest cRLNumber accepted
        min_number = crl.Index(router.nvram, name).info.crl_number_int
    except PKIError:
        min_number = None
    try:
        idx = fetch(router, tp, issuer, cert, now, name, min_number, first=info.source,
                    timeout=BACKGROUND_TIMEOUT, budget_ms=_BACKGROUND_BUDGET_MS)
    except PKIError as e:
        r = retry.get(name)
        wait = _RETRY_FIRST if r is None or not r[2] else min(r[2] * 2, _RETRY_MAX)
        retry[name] = [info.next_update, now + wait, wait]
        _debug("CRL refresh for trustpoint %s failed: %s; retrying in %d seconds" % (
            tp.name, e, wait))
        if r is None:  # the first failure of a run is news; the retries are debug lines
            router.log("%%PKI-3-CRL_FETCH_FAIL: CRL fetch for trustpoint %s failed: %s; "
                       "retrying in %d seconds" % (tp.name, e, wait))
        return now + wait
    nxt = idx.info.next_update
    return now + _RESCAN if nxt is None else max(nxt, now + 1)
