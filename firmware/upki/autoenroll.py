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
# held back (%CRYPTO-4-NOAUTOSAVE) until `write memory`.  The work lives in
# upki.autoenroll_work, loaded only when some is due (about 5 KB of heap for
# this module at rest as .mpy, 11 KB more for the work).
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
        _work()._discard_staged(tp, router)
        st.cycle = None
        return
    st.next_ms = time.ticks_add(time.ticks_ms(), tp.retry_period * 1000)
    st.retry_at = int(router.clock.now()) + tp.retry_period
    router.log("%%CRYPTO-4-AUTOENROLL_FAIL: Auto-enrollment of trustpoint %s failed: %s; "
               "retrying in %d seconds" % (tp.name, why, tp.retry_period))


def _step(tp, router, st):
    """One check of one trustpoint; True when it did work that took time."""
    if tp.has(JOURNAL):
        _work()._roll_forward(tp, router)
    if not tp.has("ca"):
        if tp.fingerprint and tp.enrollment_url:
            return _work()._authenticate(tp, router, st)
        st.next_ms = time.ticks_add(time.ticks_ms(), _WAIT_MS)
        return False
    if tp.has("pending"):
        _work()._ensure_poller()
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
        if not _work()._start(tp, router, st, plan, reason, now):
            return False
    return _work()._advance(tp, router, st, plan)


def _work():
    # the work (key generation, SCEP, the swap) lives in its own module, loaded only
    # when some is due: an enrolled router at rest carries just the checks above
    from upki import autoenroll_work

    return autoenroll_work


def commit(tp, router, st=None):
    """Install the staged certificates (and keys): held while a configuration
    session is open, else written now through the swap journal."""
    return _work().commit(tp, router, st)


def recover(router):
    """At boot: finish a swap a power cut interrupted; drop staged certificates
    no journal covers."""
    for tp in trustpoint.all():
        if tp.has(JOURNAL) or any(tp.has(k + SUFFIX) for k in _KINDS):
            return _work().recover(router)


def _on_save(router):
    for tp in trustpoint.all():
        st = _states.get(tp.name)
        if st is not None and st.held:
            _work().commit(tp, router, st)


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
