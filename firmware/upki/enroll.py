# SPDX-License-Identifier: MIT
# SCEP enrollment as IOS runs it for a trustpoint: authenticate the CA,
# enroll (PKCSReq or RenewalReq), keep a PENDING transaction in NVRAM and
# poll it at the retry period up to the retry count, GetCert and GetCRL.
# The codec is upki.scep, the transport upki.http; this module moves bytes
# between them and decides what is stored, and only after every check.
#
# For a ~100 KB heap each phase loads only its own code: authenticate runs
# in upki.enrollca (with upki.scepca), the request builds its message with
# upki.scepreq and the CMS writer, and checks the reply with upki.sceprep and
# the CMS reader;
# a module a phase loaded is unloaded when the phase ends (unless it was
# loaded before).  Polling, pending records, enroll_configured, GetCert and
# GetCRL live in upki.enrollpoll; every name still answers here.
#
#   caps = enroll.get_ca_caps(tp)                       # scep.Capabilities
#   certs = enroll.authenticate(tp, router, accept)     # stores ca / ra-sign / ra-encrypt
#   status, result = enroll.request(tp, router, pair, csr_der)   # SUCCESS: Certificate
#   enroll.poll(tp, router)                              # one CertPoll of a pending request
#   der = enroll.get_crl(tp, issuer_cert, serial)        # GetCRL
#   der = enroll.get_cert(tp, issuer_cert, serial)       # GetCert
import time

from micropython import const

from upki import scep
from upki.errors import PKIError, SCEPError

DEFAULT_PATH = "/cgi-bin/pkiclient.exe"  # where IOS looks when the URL has no path
MAX_REPLY = const(32768)  # CertRep, GetCACert: a few KB; more is not a SCEP answer
MAX_CRL_REPLY = const(65536)
TIMEOUT = const(10)  # seconds for one HTTP exchange
BACKGROUND_TIMEOUT = const(5)  # for a poll made by the background task

# phase timings for the benchmark: name -> milliseconds (accumulated)
timings = {}


def _timed(name, t0):
    timings[name] = timings.get(name, 0) + time.ticks_diff(time.ticks_ms(), t0)


def _debug(text, category="transactions"):
    try:
        from upki import log
    except ImportError:
        return
    if log.enabled(category):
        log.debug(category, text)


def _dump(title, data):
    try:
        from upki import log
    except ImportError:
        return
    log.dump("messages", title, data)


def scep_url(tp):
    url = tp.enrollment_url
    if not url:
        raise SCEPError("trustpoint %s has no enrollment url" % tp.name)
    # no path, or "/": where IOS looks (the scheme is checked by upki.http)
    i = url.find("/", url.find("//") + 2) if "//" in url else -1
    if i < 0 or url[i:] == "/":
        url = url.rstrip("/") + DEFAULT_PATH
    return url


def _join(url, query):
    return url + ("&" if "?" in url else "?") + query


def _http(method, url, operation, message=None, body=None, headers=None, max_size=MAX_REPLY,
          timeout=TIMEOUT):
    """One exchange with the SCEP server: url?operation=OPERATION[&message=MESSAGE],
    the message percent-encoded; returns (status, reason, body). upki.http is
    loaded for the exchange only (unless it was already): its code is out of
    the heap while a reply is parsed, which is why no http.Response (whose
    class would hold that code) is handed back."""
    t0 = time.ticks_ms()
    transport = _loaded(("http", "net"))
    from upki import http

    try:
        query = "operation=" + operation
        if message is not None:
            query += "&message=" + http.quote(message)
        message = None
        r = http.request(method, _join(url, query), body=body, headers=headers,
                         timeout=timeout, max_size=max_size)
        return r.status, r.reason, r.body
    except http.HTTPError as e:
        raise SCEPError("SCEP server %s: %s" % (url, e))
    except OSError as e:
        raise SCEPError("SCEP server %s: network error %s" % (url, e))
    finally:
        http = r = None
        _timed("network", t0)
        _unload(transport)


def get_ca_caps(tp):
    """GetCACaps; a CA that does not answer it offers nothing (GET, SHA-1, 3DES)."""
    status, _reason, body = _http("GET", scep_url(tp), "GetCACaps", tp.name, max_size=2048)
    _debug("CRYPTO_PKI: transaction GetCACaps completed (HTTP %d): %s"
           % (status, str(bytes(body or b""), "ascii", "ignore").replace("\n", " ")))
    if status != 200:
        return scep.Capabilities("")
    return scep.Capabilities(body or b"")


def _loaded(names):
    # which of upki.<name> are not loaded yet: the ones a phase may unload after
    import sys

    return [n for n in names if "upki." + n not in sys.modules]


def _preload(names):
    # import upki.<name> (keeping no reference here): what outlives a phase is
    # loaded before the phase's own modules, so that it packs low in the heap
    for name in names:
        __import__("upki." + name)


def _unload(names):
    # forget upki.<name> and collect: the phase's code leaves the heap
    import gc

    from upki import forget

    forget(names)
    gc.collect()


def authenticate(tp, router, accept=None):
    """GetCACaps + GetCACert; check the CA against the configured fingerprint
    or ask accept(certs) -> bool; store the CA and RA certificates.  Returns
    the scep.CACerts, or None when the operator refused."""
    import gc

    # what stays loaded first, packed low in the heap; then the phase's own
    # modules above it, so that unloading them leaves one hole, not many
    _preload(("derwrite", "digest", "keys", "oid", "rsa", "x509"))
    gc.collect()
    phase = _loaded(("enrollca", "scepca", "cms", "cmsbase", "cmsread"))
    try:
        from upki import enrollca

        return enrollca.authenticate(tp, router, accept)
    finally:
        enrollca = None
        _unload(phase)


# ---------------------------------------------------------------- transactions


class Transaction:
    """One SCEP transaction, enough to poll it after a reboot (NVRAM "pending")."""

    FIELDS = ("message_type", "tid", "nonce", "key_label", "hash_name", "cipher", "post",
              "polls", "started", "kind", "signer", "subject", "request", "signer_label",
              "unconfirmed")
    BINARY = ("nonce", "signer", "subject", "request")

    def __init__(self, **kw):
        for f in self.FIELDS:
            setattr(self, f, kw.get(f))
        self.polls = self.polls or 0

    # the record (NVRAM "pending") is read and written by upki.enrollpoll
    def to_record(self):
        from upki import enrollpoll

        return enrollpoll.to_record(self)

    @classmethod
    def from_record(cls, data):
        from upki import enrollpoll

        return enrollpoll.from_record(cls, data)


def _chain(tp):
    chain = tp.ca_certificates()
    if not chain:
        raise SCEPError(
            "You must authenticate the Certificate Authority before you can enroll with it."
        )
    return chain


def _signers(tp, chain):
    # who may sign a CertRep: the RA signing certificate, the issuing CA (the
    # Certificate already loaded, not another copy of its DER).  Read when the
    # reply is in, so that none of it sits in the heap under the message.
    ra = tp.load("ra-sign")
    return [ra, chain[0]] if ra else [chain[0]]


def _recipient(tp, chain):
    ra = tp.load("ra-encrypt")
    return ra if ra else bytes(chain[0].der)


def _send(tp, name, msg, post, timeout, max_size):
    # PKIOperation: the reply's body. A function of its own so that the
    # response, and the http code its class holds, are not left behind in a
    # dead slot of the caller's frame, which the collector scans whole: the
    # caller gets the body alone.
    url = scep_url(tp)
    if post:
        r = _http("POST", url, "PKIOperation", body=msg,
                  headers={"Content-Type": "application/x-pki-message"}, timeout=timeout,
                  max_size=max_size)
    else:
        from binascii import b2a_base64

        b64 = b2a_base64(msg).strip()
        msg = None
        import gc

        gc.collect()
        r = _http("GET", url, "PKIOperation", b64, timeout=timeout, max_size=max_size)
    status, reason, body = r
    if status != 200:
        raise SCEPError("%s: HTTP %d %s from the SCEP server" % (name, status, reason))
    return body


def exchange(tp, router, txn, message_type, content, key, caps=None, timeout=TIMEOUT,
             max_size=MAX_REPLY):
    """Send one pkiMessage of txn and return the checked scep.CertRep."""
    import gc

    recipient = _recipient(tp, _chain(tp))
    nonce = router.board.urandom(16)
    t0 = time.ticks_ms()
    writer = _loaded(("scepreq", "cmswrite"))  # needed until the message is built
    try:
        from upki import scepreq

        msg = scepreq.pki_message(
            message_type, content, txn.signer, key, recipient, txn.tid, nonce,
            txn.hash_name, txn.cipher, int(router.clock.now()),
        )
    finally:
        recipient = scepreq = None
        _unload(writer)
    _timed("cms build", t0)
    content = None
    gc.collect()
    name = scep.MESSAGE_NAMES[message_type]
    _debug("CRYPTO_PKI: transaction %s: %s by %s, %s, %s, transactionID %s"
           % (name, "sending", "POST" if (txn.post if caps is None else caps.post) else "GET",
              txn.hash_name, txn.cipher, txn.tid[:16]))
    _dump("CRYPTO_PKI: pkiMessage %s sent" % name, msg)
    body = _send(tp, name, msg, txn.post if caps is None else caps.post, timeout, max_size)
    msg = None
    gc.collect()
    _dump("CRYPTO_PKI: CertRep received", body)
    # the CA chain is read again now that the reply is in: it does not sit
    # in the heap under the message and the reply's buffer
    chain = _chain(tp)
    from upki import sceprep

    t0 = time.ticks_ms()
    try:
        rep = sceprep.parse_cert_rep(body, txn.tid, nonce, _signers(tp, chain), key,
                                     txn.signer)
    finally:
        _timed("cms parse", t0)
    _debug("CRYPTO_PKI: transaction %s completed: CertRep %s" % (name, scep.STATUS_NAMES[rep.status]))
    return rep, chain


def cert_kind(pair):
    """The NVRAM record of the certificate for a key pair: cert, cert-sign, cert-encrypt."""
    return {"signature": "cert-sign", "encryption": "cert-encrypt"}.get(pair.usage, "cert")


def request(tp, router, pair, csr_der, caps=None, log=None, kind=None, signer_pair=None):
    """Send the enrollment request for key pair `pair` (a keys.KeyPair) and
    csr_der; returns (status, certificate or Transaction or CertRep).
    kind: the NVRAM record the granted certificate goes to (default
    cert_kind(pair); auto-enroll stages it under another kind).
    signer_pair: the key pair of the current certificate when `pair` is a new
    key replacing it (key rollover): the request is then signed, and the reply
    decrypted, with the current certificate and key (RenewalReq when offered)."""
    import gc

    _preload(("cipher",))  # stays loaded: below the phase's modules
    gc.collect()
    phase = _loaded(("sceprep", "cms", "cmsbase", "cmsread", "cmsenv"))
    try:
        return _request(tp, router, pair, csr_der, caps, log, kind, signer_pair)
    finally:
        _unload(phase)


def _request(tp, router, pair, csr_der, caps, log, kind, signer_pair):
    now = router.clock.require_trusted("enrollment")
    log = log or router.log
    if caps is None:
        caps = get_ca_caps(tp)
    key = pair.key
    current = tp.certificate(cert_kind(pair))
    kind = kind or cert_kind(pair)
    subject_der, _spki = scep.csr_parts(csr_der)
    t0 = time.ticks_ms()
    sign_key, signer_label = key, None
    if current is not None:
        n, e = current.rsa_public_numbers()
        old = signer_pair.key if signer_pair is not None else None
        if not current.valid_at(now):
            current = None  # expired: of no use to sign with
        elif old is not None and n == old.n and e == old.e and (n != key.n or e != key.e):
            sign_key, signer_label = old, signer_pair.label  # rollover to a new key
        elif n != key.n or e != key.e:
            current = None  # issued for another key: of no use to sign with
    if current is not None and caps.renewal:
        mt, signer = scep.RENEWAL_REQ, bytes(current.der)
    elif current is not None:
        mt, signer = scep.PKCS_REQ, bytes(current.der)
    else:
        mt = scep.PKCS_REQ
        builder = _loaded(("scepreq",))
        try:
            from upki import scepreq

            signer = scepreq.self_signed(key, subject_der, now - 300, now + 86400 * 365,
                                         caps.hash_name)
        finally:
            scepreq = None
            _unload(builder)
    _timed("cms build", t0)
    txn = Transaction(
        message_type=mt, tid=scep.transaction_id(key.public_key(), caps.hash_name),
        key_label=pair.label, hash_name=caps.hash_name, cipher=caps.cipher, post=caps.post,
        started=int(now), kind=kind, signer=signer, subject=subject_der, request=csr_der,
        signer_label=signer_label, unconfirmed=1,
    )
    # The transaction is stored before the request goes out: a power cut after
    # the send leaves a record the board resumes by itself at boot, as after a
    # PENDING answer (enrollpoll.poll: a CertPoll with the same transactionID,
    # and the request again if the CA does not know it). A request that fails
    # here (network, a refused reply, a certificate that is not ours) leaves
    # nothing behind.
    saver = _loaded(("enrollpoll",))
    try:
        tp.store("pending", txn.to_record())
    finally:
        _unload(saver)
    try:
        rep, chain = exchange(tp, router, txn, mt, csr_der, sign_key, caps)
        txn.unconfirmed = None
        return _settle(tp, router, txn, rep, chain, key, log)
    except Exception:
        tp.drop("pending")
        raise


def _settle(tp, router, txn, rep, chain, key, log):
    if rep.status == scep.SUCCESS:
        t0 = time.ticks_ms()
        cert = rep.issued(key.public_key(), chain)
        _timed("cms parse", t0)
        tp.store(txn.kind, bytes(cert.der))
        tp.drop("pending")
        _due.pop(tp.name, None)
        _debug("CRYPTO_PKI: status = 100: certificate is granted")
        log("%CRYPTO-6-CERTRET: Certificate received from Certificate Authority")
        return scep.SUCCESS, cert
    if rep.status == scep.FAILURE:
        tp.drop("pending")
        _due.pop(tp.name, None)
        _debug("CRYPTO_PKI: status = 101: certificate request is rejected")
        log("%%CRYPTO-6-CERTREJ: Certificate enrollment request was rejected by Certificate "
            "Authority: %s" % rep.fail_text)
        return scep.FAILURE, rep
    tp.store("pending", txn.to_record())
    _due[tp.name] = time.ticks_add(time.ticks_ms(), tp.retry_period * 1000)
    watch()
    log("CRYPTO_PKI: status = 102: certificate request pending")
    return scep.PENDING, txn


def cancel(tp):
    _due.pop(tp.name, None)
    return tp.drop("pending")


# what moved to upki.enrollca / upki.enrollpoll, loaded on first use: "name module" lines
_LAZY = """
get_ca_cert enrollca
fingerprint_matches enrollca
check_ca_certs enrollca
_validity enrollca
pending enrollpoll
poll enrollpoll
enroll_configured enrollpoll
get_crl enrollpoll
get_cert enrollpoll
_query enrollpoll
_router enrollpoll
"""


def __getattr__(name):
    from upki.cmsbase import forward

    return forward(_LAZY, name)


# ---------------------------------------------------------------- background polling

_due = {}  # trustpoint name -> ticks_ms when its next poll is due


def watch():
    """Have the background task poll pending requests (a request went PENDING,
    or one was found in NVRAM at boot). It stops itself when none is left, so
    that the console can drop this module again (upki.cli._drop)."""
    from upki import config

    if poll_due not in config.background:
        config.background.append(poll_due)


def poll_due(router):
    """Background task: poll each trustpoint's pending request when due.
    One bounded HTTP exchange per due trustpoint; nothing else."""
    from upki import config, trustpoint

    if not router.clock.trusted:
        return
    now = time.ticks_ms()
    waiting = False
    for tp in trustpoint.all():
        due = _due.get(tp.name)
        if not tp.has("pending"):
            _due.pop(tp.name, None)
            continue
        waiting = True
        if due is None:
            due = now  # after a reboot: poll at once
        if time.ticks_diff(due, now) > 0:
            continue
        _due[tp.name] = time.ticks_add(now, tp.retry_period * 1000)
        try:
            # the console waits while a poll runs: keep a dead CA from holding it long
            from upki import enrollpoll

            enrollpoll.poll(tp, router, timeout=BACKGROUND_TIMEOUT)
        except PKIError as e:
            router.log("%%CRYPTO-4-CERTPOLL: trustpoint %s: poll failed: %s" % (tp.name, e))
        finally:
            # the next poll is counted from the end of this one: a CA that hangs
            # longer than the retry period is not polled again at once
            now = time.ticks_ms()
            if tp.name in _due:
                _due[tp.name] = time.ticks_add(now, tp.retry_period * 1000)
    if not waiting and poll_due in config.background:
        config.background.remove(poll_due)  # nothing left to poll: see watch()
