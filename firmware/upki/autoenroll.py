# SPDX-License-Identifier: MIT
# `auto-enroll [PERCENT] [regenerate]`: the trustpoint enrolls and renews
# itself, as IOS does, from the background task list (config.background).
#
# With no certificate it enrolls as soon as the clock is trusted and the CA
# certificate is installed; with one it re-enrolls once PERCENT of the
# certificate's lifetime has passed (at expiry when no PERCENT is given) and
# when it has expired, unless the CA's CRL lists it as revoked.  Same-key
# renewals go as RenewalReq when the CA offers Renewal; `regenerate` (or a
# missing key) makes a new key pair first.
#
# Nothing in use is touched until everything new is at hand.  New keys are
# generated under LABEL.new, granted certificates go to the staged kind
# KIND.new (tp/NAME/cert.new); once every certificate of the trustpoint is
# staged, a journal record tp/NAME/swap lists the moves (LABEL.new -> LABEL,
# cert.new -> cert) and is the commit point: at boot, recover() finishes the
# moves of a journal (each move is an atomic record write, then a delete:
# repeating it is harmless) and drops staged certificates that no journal
# covers.  After a power cut at any instant the board boots with either the
# old key pair and certificate or the new ones.
#
# The check is quick (a record stat, a certificate's dates every few
# seconds); the work (key generation: 2048 bits take 2-4 s on the Unix port,
# one SCEP exchange with the CA's timeout) runs only when due, one trustpoint
# per tick.  While a configuration session is open the new certificate is
# held back (%CRYPTO-4-NOAUTOSAVE) until `write memory`.
#
#   autoenroll.recover(router)        boot: finish or roll back a swap
#   autoenroll.renew_time(tp, cert)   when auto-enroll renews cert (seconds since 1970)
#   autoenroll.status(tp)             what the engine is doing, one line
import time

from micropython import const

from upki import config, log, trustpoint
from upki.errors import PKIError

SUFFIX = ".new"  # staged key labels and certificate kinds
JOURNAL = "swap"
_CHECK_MS = const(10000)  # between checks of an enrolled trustpoint (the clock may jump)
_WAIT_MS = const(2000)  # between checks while waiting (no CA certificate, a pending poll)
_KINDS = ("cert", "cert-sign", "cert-encrypt")


class _State:
    def __init__(self):
        self.next_ms = None  # ticks_ms of the next check; None: now
        self.cycle = None  # "enroll", "renew", "expired" while one runs
        self.waiting = False  # a request of ours is PENDING at the CA
        self.attempts = 0  # failed attempts of this cycle
        self.retry_at = None  # board time of the next retry, for show crypto ca timers
        self.stopped = None  # why auto-enroll gave up (until reboot or reconfiguration)
        self.held = False  # certificates staged, waiting for `write memory`
        self.config = None  # the auto-enroll setting the state was made for
        self.stopped_for = None  # the certificate in use when it gave up


def _identity(tp):
    for kind in _KINDS:
        data = tp.load(kind)
        if data is not None:
            return bytes(data)
    return None


_states = {}


def _attach(router):
    _states.clear()


config.on_attach(_attach)


def _state(tp):
    st = _states.get(tp.name)
    if st is None or st.config != (tp.auto_enroll, tp.rsakeypair):
        st = _State()  # new, or reconfigured: start afresh
        st.config = (tp.auto_enroll, tp.rsakeypair)
        _states[tp.name] = st
    return st


def _debug(text):
    log.debug(log.TRANSACTIONS, "CRYPTO_PKI: " + text)


# ---------------------------------------------------------------- the plan


def slots(tp, router):
    """The trustpoint's key pairs: [(label, usage, bits, certificate kind)]:
    one general-purpose pair, or a signature and an encryption pair
    (`rsakeypair LABEL BITS ENC_BITS`, or LABEL-sign/LABEL-encrypt existing)."""
    label = tp.key_label()
    label_bits, enc_bits = (tp.rsakeypair[1], tp.rsakeypair[2]) if tp.rsakeypair else (None, None)
    nv = router.nvram
    usage = bool(enc_bits)
    if not usage and not label_bits and not nv.exists("rsa/" + label):
        usage = nv.exists("rsa/%s-sign" % label) and nv.exists("rsa/%s-encrypt" % label)
    if usage:
        return [(label + "-sign", "signature", label_bits or 2048, "cert-sign"),
                (label + "-encrypt", "encryption", enc_bits or label_bits or 2048,
                 "cert-encrypt")]
    return [(label, "general", label_bits or 2048, "cert")]


def renew_time(tp, cert):
    """When auto-enroll renews cert: PERCENT of its lifetime, or its expiry."""
    percent = tp.auto_enroll[0] if tp.auto_enroll else None
    nb, na = cert.not_before, cert.not_after
    if not percent:
        return na
    return nb + (na - nb) * percent // 100


def _need(tp, router, plan, now):
    """(reason, seconds until the next renewal or None): reason is None,
    "enroll" (a key pair or certificate missing), "renew" or "expired"."""
    nv = router.nvram
    soonest = None
    reason = None
    for label, _usage, _bits, kind in plan:
        if not tp.has(kind) or not nv.exists("rsa/" + label):
            return "enroll", None
        cert = tp.certificate(kind)
        if now >= cert.not_after:
            reason = "expired"
        elif now >= renew_time(tp, cert) and reason is None:
            reason = "renew"
        left = renew_time(tp, cert) - now
        soonest = left if soonest is None or left < soonest else soonest
    return reason, soonest


# ---------------------------------------------------------------- the background task


def _tick(router):
    clock = router.clock
    if not clock.trusted:
        return
    now_ms = time.ticks_ms()
    for tp in trustpoint.all():
        if tp.auto_enroll is None:
            continue
        st = _state(tp)
        if st.next_ms is not None and time.ticks_diff(st.next_ms, now_ms) > 0:
            continue
        st.next_ms = time.ticks_add(now_ms, _CHECK_MS)
        if st.stopped:
            if _identity(tp) == st.stopped_for:
                continue
            st = _states[tp.name] = _State()  # a new certificate (crypto ca enroll): go on
            st.config = (tp.auto_enroll, tp.rsakeypair)
        try:
            worked = _step(tp, router, st)
        except PKIError as e:
            _failed(tp, router, st, str(e))
            worked = True
        except MemoryError:
            import gc

            gc.collect()
            _failed(tp, router, st, "not enough memory")
            worked = True
        if worked:
            return  # one trustpoint's work per tick: the console gets its turn


def _failed(tp, router, st, why):
    st.attempts += 1
    if tp.retry_count and st.attempts >= tp.retry_count:
        st.stopped = why
        st.stopped_for = _identity(tp)
        router.log("%%CRYPTO-3-AUTOENROLL_FAIL: Auto-enrollment of trustpoint %s failed %d "
                   "times (enrollment retry count): %s; giving up until a new certificate "
                   "(crypto ca enroll %s), a reload or a change of auto-enroll"
                   % (tp.name, st.attempts, why, tp.name))
        _discard_staged(tp, router)
        st.cycle = None
        return
    st.next_ms = time.ticks_add(time.ticks_ms(), tp.retry_period * 1000)
    st.retry_at = int(router.clock.now()) + tp.retry_period
    router.log("%%CRYPTO-4-AUTOENROLL_FAIL: Auto-enrollment of trustpoint %s failed: %s; "
               "retrying in %d seconds" % (tp.name, why, tp.retry_period))


def _step(tp, router, st):
    """One check of one trustpoint; True when it did work that took time."""
    if tp.has(JOURNAL):
        _roll_forward(tp, router)
    if not tp.has("ca"):
        if tp.fingerprint and tp.enrollment_url:
            return _authenticate(tp, router, st)
        st.next_ms = time.ticks_add(time.ticks_ms(), _WAIT_MS)
        return False
    if tp.has("pending"):
        _ensure_poller()
        st.waiting = True
        st.next_ms = time.ticks_add(time.ticks_ms(), _WAIT_MS)
        return False
    if st.held:
        return False
    plan = slots(tp, router)
    now = int(router.clock.now())
    if st.cycle is None:
        reason, left = _need(tp, router, plan, now)
        if reason is None:
            if left is not None and left * 1000 < _CHECK_MS:
                st.next_ms = time.ticks_add(time.ticks_ms(), max(left, 1) * 1000)
            return False
        if not _start(tp, router, st, plan, reason, now):
            return False
    return _advance(tp, router, st, plan)


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

    if enroll.poll_due not in config.background:
        config.background.append(enroll.poll_due)


# ---------------------------------------------------------------- the swap


def commit(tp, router, st=None):
    """Install the staged certificates (and keys): held while a configuration
    session is open, else written now through the swap journal."""
    st = st or _state(tp)
    if router.config_sessions > 0 and not st.held:
        st.held = True
        router.log('%CRYPTO-4-NOAUTOSAVE: Configuration was modified.  Issue "write memory" '
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
        # a CA that issues certificates already due for renewal: no tight loop
        st.next_ms = time.ticks_add(time.ticks_ms(), tp.retry_period * 1000)
        router.log("%%PKI-4-AUTOENROLL: Trustpoint %s: the new certificate is already due for "
                   "renewal (its lifetime is %d s); next try in %d seconds"
                   % (tp.name, cert.not_after - cert.not_before, tp.retry_period))
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


def _on_save(router):
    for tp in trustpoint.all():
        st = _states.get(tp.name)
        if st is not None and st.held:
            commit(tp, router, st)


# ---------------------------------------------------------------- timers and status


def timers(tp, now):
    """(seconds left, what) for `show crypto ca timers`: the auto-enroll retry."""
    st = _states.get(tp.name)
    if st is None or st.retry_at is None or st.stopped or not st.cycle:
        return []
    return [(st.retry_at - now, "RETRY " + tp.name)]


def status(tp):
    st = _states.get(tp.name)
    if st is None:
        return "idle"
    if st.stopped:
        return "stopped: " + st.stopped
    if st.held:
        return "new certificate held until write memory"
    if st.waiting:
        return "request pending at the CA"
    return st.cycle or "idle"


config.background.append(_tick)
config.save_hooks.append(_on_save)
