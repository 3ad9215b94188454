# SPDX-License-Identifier: MIT
# The work of auto-enroll (upki.autoenroll holds the checks and the state):
# CA authentication by fingerprint, the start of a cycle (CRL check), key
# generation under LABEL.new, one SCEP request at a time with the granted
# certificate staged as KIND.new, and the swap through the journal
# tp/NAME/swap (see upki.autoenroll for the design).  Loaded only when work
# is due.
import time

from micropython import const

from upki import trustpoint
from upki.autoenroll import (JOURNAL, SUFFIX, _KINDS, _debug, _identity, _state, renew_time,
                             slots)
from upki.errors import PKIError

_WAIT_MS = const(2000)  # as upki.autoenroll's: the next check while a request is pending


def _authenticate(tp, router, st):
    """A pre-shipped trustpoint names its CA by `fingerprint`: fetch the CA
    certificate and install it when it matches (no operator to ask)."""
    from upki import enroll
    from upki.errors import SCEPError

    try:
        certs = enroll.authenticate(tp, router)
    except SCEPError as e:
        if not str(e).startswith("Fingerprint mismatch"):
            raise
        st.stopped = "fingerprint mismatch"
        st.stopped_for = _identity(tp)
        router.log("%%PKI-3-CA_AUTH_FAIL: Trustpoint %s: %s; auto-enrollment stops"
                   % (tp.name, e))
        return True
    router.log("%%PKI-6-CA_AUTHENTICATED: Trustpoint %s: CA certificate %s accepted: it matches "
               "the configured fingerprint" % (tp.name, certs.root.subject))
    st.next_ms = None  # enroll at the next tick
    return True


def _start(tp, router, st, plan, reason, now):
    """Begin a cycle: the revocation check and the log lines; False when it must not run."""
    if reason != "enroll":
        for _label, _usage, _bits, kind in plan:
            cert = tp.certificate(kind)
            revoked = _revoked(tp, router, cert, now)
            if revoked:
                st.stopped = "revoked"
                st.stopped_for = _identity(tp)
                router.log("%%PKI-3-CERTIFICATE_REVOKED: Certificate (serial %s) of trustpoint "
                           "%s is revoked by its CA (CRL); it will not be renewed"
                           % (cert.serial_hex, tp.name))
                return False
        cert = tp.certificate(plan[0][3])
        _debug("trustpoint %s: certificate (serial %s) %s; renewing" % (
            tp.name, cert.serial_hex,
            "has expired" if reason == "expired" else
            "reached %d%% of its lifetime" % (tp.auto_enroll[0] or 100)))
        router.log("%%PKI-6-CERTRENEWAUTO: Renewing the router certificate for trustpoint %s"
                   % tp.name)
    else:
        router.log("%%CRYPTO-6-AUTOENROLL: Certificate enrollment started for trustpoint %s"
                   % tp.name)
    st.cycle = reason
    st.attempts = 0
    st.waiting = False
    return True


def _revoked(tp, router, cert, now):
    """True when the CA's CRL lists cert; None when no CRL could be had (the
    CA still decides: a revoked certificate cannot sign a RenewalReq it accepts)."""
    if tp.revocation == "none":
        return None
    from upki import revocation

    try:
        cas = tp.ca_certificates()
        issuer = cas[0]
        idx = revocation.cached(router, issuer, now)
        if idx is None:
            idx = revocation.fetch(router, tp, issuer, cert, now)
        return idx.lookup(cert.serial) is not None
    except PKIError as e:
        _debug("trustpoint %s: revocation status of the certificate unknown (%s); "
               "renewing anyway" % (tp.name, e))
        return None


def _advance(tp, router, st, plan):
    """Stage what is missing (keys, then one request at a time); commit when all is staged."""
    from upki import enroll
    from upki.keys import KeyStore

    nv = router.nvram
    if st.waiting:
        # our PENDING request is gone: granted (staged) or given up / rejected
        st.waiting = False
        if not any(tp.has(k + SUFFIX) for _l, _u, _b, k in plan):
            st.stopped = "not granted"
            st.stopped_for = _identity(tp)
            st.cycle = None
            router.log("%%CRYPTO-4-AUTOENROLL_FAIL: The certificate request of trustpoint %s "
                       "was not granted; auto-enrollment stops until `crypto ca enroll %s`, "
                       "a reload or a change of auto-enroll" % (tp.name, tp.name))
            _discard_staged(tp, router)
            return False
    regenerate = tp.auto_enroll[1] and st.cycle != "enroll"
    store = KeyStore(nv)
    pairs, kinds, signers = [], [], []
    for label, usage, bits, kind in plan:
        if tp.has(kind + SUFFIX):
            continue
        use = label
        if nv.exists("rsa/" + label + SUFFIX):
            use = label + SUFFIX  # made by an earlier try: use it
        elif regenerate or not nv.exists("rsa/" + label):
            if tp.has(kind) or nv.exists("rsa/" + label):
                use = label + SUFFIX  # the pair in use stays until the swap
            _generate(router, use, usage, bits)
        pairs.append(store.load(use))
        kinds.append(kind + SUFFIX)
        # a new key replacing a certified one: the request is signed by the pair in use
        rollover = use != label and tp.has(kind) and nv.exists("rsa/" + label)
        signers.append(store.load(label) if rollover else None)
    if pairs:
        # one request per step: a pending one holds the others back
        results = enroll.enroll_configured(tp, router, pairs=pairs[:1], kinds=kinds[:1],
                                           signers=signers[:1])
        status, result = results[-1]
        from upki import scep

        if status == scep.PENDING:
            st.waiting = True
            _ensure_poller()
            st.next_ms = time.ticks_add(time.ticks_ms(), _WAIT_MS)
            return True
        if status == scep.FAILURE:
            st.stopped = "rejected"
            st.stopped_for = _identity(tp)
            st.cycle = None
            _discard_staged(tp, router)
            return True
        if len(pairs) > 1:
            st.next_ms = None  # the next key's request at the next tick
            return True
    commit(tp, router, st)
    return True


def _generate(router, label, usage, bits):
    from upki.cli_keys import generate_pair

    class _Console:  # what generate_pair needs of a session: the router, an output
        pass

    s = _Console()
    s.router = router
    sink = router.log_sink
    s.emit = sink
    router.log("%%CRYPTO-6-AUTOGEN: Generating a new %d bit RSA key pair %s for auto-enrollment"
               % (bits, label))
    ok, text = generate_pair(s, label, usage, bits, False)
    if text:
        for line in text.rstrip("\n").split("\n"):
            router.log(line)
    if not ok:
        raise PKIError("key generation for %s failed" % label)


def _ensure_poller():
    from upki import enroll

    enroll.watch()


# ---------------------------------------------------------------- the swap


def commit(tp, router, st=None):
    """Install the staged certificates (and keys): held while a configuration
    session is open, else written now through the swap journal."""
    st = st or _state(tp)
    if router.config_sessions > 0 and not st.held:
        st.held = True
        router.log('%CRYPTO-4-NOAUTOSAVE: Configuration was modified. Issue "write memory" '
                   'to save new certificate')
        return False
    plan = slots(tp, router)
    nv = router.nvram
    moves = []
    for label, _usage, _bits, kind in plan:
        if not tp.has(kind + SUFFIX):
            return False
        if nv.exists("rsa/" + label + SUFFIX):
            moves.append(("rsa/" + label + SUFFIX, "rsa/" + label))
        moves.append((tp.record(kind + SUFFIX), tp.record(kind)))
    text = "upki-swap 1\n" + "".join("%s %s\n" % m for m in moves)
    tp.store(JOURNAL, text)  # the commit point
    _roll_forward(tp, router)
    st.held = False
    st.cycle = None
    st.attempts = 0
    st.retry_at = None
    st.next_ms = None
    cert = tp.certificate(plan[0][3])
    now = int(router.clock.now())
    if renew_time(tp, cert) <= now:
        # A CA that issues certificates already due for renewal (its clock is
        # behind ours, or its lifetimes are short): renewing again at once would
        # load the CA and wear the flash for nothing. Wait half the remaining
        # lifetime (at least the retry period, at most a day) before trying again.
        wait = max(tp.retry_period, min(86400, (cert.not_after - now) // 2))
        st.next_ms = time.ticks_add(time.ticks_ms(), wait * 1000)
        router.log("%%PKI-4-AUTOENROLL: Trustpoint %s: the new certificate is already due for "
                   "renewal (its lifetime is %d s, the CA's clock may be behind); next try in "
                   "%d seconds" % (tp.name, cert.not_after - cert.not_before, wait))
    router.log("%%PKI-6-CERT_INSTALL: Trustpoint %s: new certificate (serial %s) installed%s"
               % (tp.name, cert.serial_hex,
                  " with a new key pair" if any(m[0].startswith("rsa/") for m in moves) else ""))
    _debug("All enrollment requests completed for trustpoint %s." % tp.name)
    return True


def _roll_forward(tp, router):
    nv = router.nvram
    data = tp.load(JOURNAL)
    lines = str(bytes(data), "ascii").split("\n")
    if lines[0] != "upki-swap 1":
        raise PKIError("the swap journal of trustpoint %s is not readable" % tp.name)
    for line in lines[1:]:
        if not line:
            continue
        src, dst = line.split(" ")
        if nv.exists(src):
            nv.write(dst, nv.read(src, 16384))
            nv.delete(src)
    tp.drop(JOURNAL)


def _discard_staged(tp, router):
    nv = router.nvram
    for kind in _KINDS:
        tp.drop(kind + SUFFIX)
    pending = tp.load("pending")
    for label, _usage, _bits, _kind in slots(tp, router):
        name = "rsa/" + label + SUFFIX
        if nv.exists(name) and not (pending and (label + SUFFIX).encode() in pending):
            nv.delete(name)


def recover(router):
    """At boot: finish a swap a power cut interrupted; staged certificates no
    journal covers were never installed (or held for `write memory`): drop them."""
    for tp in trustpoint.all():
        try:
            if tp.has(JOURNAL):
                _roll_forward(tp, router)
                router.log("%%PKI-6-CERT_INSTALL: Trustpoint %s: the certificate swap "
                           "interrupted by a power loss was completed" % tp.name)
            elif any(tp.has(k + SUFFIX) for k in _KINDS):
                _discard_staged(tp, router)
                router.log("%%PKI-4-AUTOENROLL: Trustpoint %s: a new certificate that was "
                           "not installed before the reload was dropped" % tp.name)
        except PKIError as e:
            router.log("%%PKI-3-AUTOENROLL: Trustpoint %s: swap recovery failed: %s"
                       % (tp.name, e))
