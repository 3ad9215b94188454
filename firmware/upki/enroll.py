# SPDX-License-Identifier: MIT
# SCEP enrollment as IOS runs it for a trustpoint: authenticate the CA,
# enroll (PKCSReq or RenewalReq), keep a PENDING transaction in NVRAM and
# poll it at the retry period up to the retry count, GetCert and GetCRL.
# The codec is upki.scep, the transport upki.http; this module moves bytes
# between them and decides what is stored, and only after every check.
#
#   caps = enroll.get_ca_caps(tp)                       # scep.Capabilities
#   certs = enroll.authenticate(tp, router, accept)     # stores ca / ra-sign / ra-encrypt
#   status, result = enroll.request(tp, router, pair, csr_der)   # SUCCESS: Certificate
#   enroll.poll(tp, router)                              # one CertPoll of a pending request
#   der = enroll.get_crl(tp, issuer_cert, serial)        # GetCRL
#   der = enroll.get_cert(tp, issuer_cert, serial)       # GetCert
import time

from micropython import const

from upki import http, scep
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
    _host, _port, path = http.parse_url(url)
    if path in ("", "/"):
        url = url.rstrip("/") + DEFAULT_PATH
    return url


def _join(url, query):
    return url + ("&" if "?" in url else "?") + query


def _http(method, url, body=None, headers=None, max_size=MAX_REPLY, timeout=TIMEOUT):
    t0 = time.ticks_ms()
    try:
        return http.request(method, url, body=body, headers=headers, timeout=timeout, max_size=max_size)
    except http.HTTPError as e:
        raise SCEPError("SCEP server %s: %s" % (url.split("?")[0], e))
    except OSError as e:
        raise SCEPError("SCEP server %s: network error %s" % (url.split("?")[0], e))
    finally:
        _timed("network", t0)


def get_ca_caps(tp):
    """GetCACaps; a CA that does not answer it offers nothing (GET, SHA-1, 3DES)."""
    url = _join(scep_url(tp), "operation=GetCACaps&message=" + http.quote(tp.name))
    r = _http("GET", url, max_size=2048)
    _debug("CRYPTO_PKI: transaction GetCACaps completed (HTTP %d): %s"
           % (r.status, str(bytes(r.body or b""), "ascii", "ignore").replace("\n", " ")))
    if r.status != 200:
        return scep.Capabilities("")
    return scep.Capabilities(r.body or b"")


def get_ca_cert(tp):
    url = _join(scep_url(tp), "operation=GetCACert&message=" + http.quote(tp.name))
    _debug("CRYPTO_PKI: Sending CA Certificate Request:\nGET %s HTTP/1.1" % url)
    r = _http("GET", url)
    _debug("CRYPTO_PKI: transaction GetCACert completed (HTTP %d, %d bytes)" % (r.status, r.length))
    if r.status != 200:
        raise SCEPError("GetCACert: HTTP %d %s from the SCEP server" % (r.status, r.reason))
    # RA certificates are chosen by key usage unless the trustpoint names them by
    # fingerprint (attributes a trustpoint may carry; none by default)
    return scep.parse_ca_certs(r.body, getattr(tp, "ra_sign_fingerprint", None),
                               getattr(tp, "ra_encrypt_fingerprint", None))


def fingerprint_matches(cert, fingerprint):
    return scep._fp_matches(cert, fingerprint)


def check_ca_certs(certs, now):
    """The CA chain and RA certificates must be valid now and signed as they claim."""
    chain = certs.ca_chain
    for i in range(len(chain)):
        c = chain[i]
        if not c.valid_at(now):
            raise SCEPError("CA certificate %s is not valid now (%s)" % (c.subject, _validity(c)))
        issuer = chain[i + 1] if i + 1 < len(chain) else c
        if i + 1 == len(chain) and not scep._self_issued(c):
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


def authenticate(tp, router, accept=None):
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


# ---------------------------------------------------------------- transactions


class Transaction:
    """One SCEP transaction, enough to poll it after a reboot (NVRAM "pending")."""

    FIELDS = ("message_type", "tid", "nonce", "key_label", "hash_name", "cipher", "post",
              "polls", "started", "kind", "signer", "subject", "request", "signer_label")
    BINARY = ("nonce", "signer", "subject", "request")

    def __init__(self, **kw):
        for f in self.FIELDS:
            setattr(self, f, kw.get(f))
        self.polls = self.polls or 0

    def to_record(self):
        from binascii import hexlify

        lines = ["upki-scep-pending 1"]
        for f in self.FIELDS:
            v = getattr(self, f)
            if v is None:
                continue  # absent, as it was read ("started=None" would not read back)
            if f in self.BINARY:
                v = str(hexlify(v), "ascii") if v else ""
            lines.append("%s=%s" % (f, v))
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def from_record(cls, data):
        try:  # not ASCII, odd hex, a count that is not a number
            return cls._from_record(data)
        except ValueError:  # UnicodeError and binascii.Error too
            raise SCEPError("the pending SCEP transaction record is not readable")

    @classmethod
    def _from_record(cls, data):
        from binascii import unhexlify

        text = str(bytes(data), "ascii")
        if not text.startswith("upki-scep-pending 1\n"):
            raise SCEPError("the pending SCEP transaction record is not readable")
        kw = {}
        for line in text.split("\n")[1:]:
            k, sep, v = line.partition("=")
            if not sep or k not in cls.FIELDS:
                continue
            if k in cls.BINARY:
                v = unhexlify(v) if v else None
            elif k in ("message_type", "polls", "started"):
                v = int(v)
            elif k == "post":
                v = v == "True"
            kw[k] = v
        for need in ("tid", "signer", "subject", "key_label", "message_type"):
            if not kw.get(need):
                raise SCEPError("the pending SCEP transaction record lacks %s" % need)
        return cls(**kw)


def pending(tp):
    """The pending Transaction of a trustpoint, or None."""
    data = tp.load("pending")
    return None if data is None else Transaction.from_record(data)


def _signers(tp):
    # who may sign a CertRep: the RA signing certificate, the issuing CA
    out = []
    ra = tp.load("ra-sign")
    if ra:
        out.append(ra)
    chain = tp.ca_certificates()
    if not chain:
        raise SCEPError(
            "You must authenticate the Certificate Authority before you can enroll with it."
        )
    out.append(bytes(chain[0].der))
    return out, chain


def _recipient(tp, chain):
    ra = tp.load("ra-encrypt")
    return ra if ra else bytes(chain[0].der)


def exchange(tp, router, txn, message_type, content, key, caps=None, timeout=TIMEOUT,
             max_size=MAX_REPLY):
    """Send one pkiMessage of txn and return the checked scep.CertRep."""
    import gc

    signers, chain = _signers(tp)
    nonce = router.board.urandom(16)
    t0 = time.ticks_ms()
    msg = scep.pki_message(
        message_type, content, txn.signer, key, _recipient(tp, chain), txn.tid, nonce,
        txn.hash_name, txn.cipher, int(router.clock.now()),
    )
    _timed("cms build", t0)
    content = None
    gc.collect()
    name = scep.MESSAGE_NAMES[message_type]
    _debug("CRYPTO_PKI: transaction %s: %s by %s, %s, %s, transactionID %s"
           % (name, "sending", "POST" if (txn.post if caps is None else caps.post) else "GET",
              txn.hash_name, txn.cipher, txn.tid[:16]))
    _dump("CRYPTO_PKI: pkiMessage %s sent" % name, msg)
    url = scep_url(tp)
    post = txn.post if caps is None else caps.post
    if post:
        r = _http("POST", _join(url, "operation=PKIOperation"), body=msg,
                  headers={"Content-Type": "application/x-pki-message"}, timeout=timeout,
                  max_size=max_size)
    else:
        from binascii import b2a_base64

        b64 = b2a_base64(msg).strip()
        msg = None
        gc.collect()
        q = "operation=PKIOperation&message=" + http.quote(b64)
        b64 = None
        r = _http("GET", _join(url, q), timeout=timeout, max_size=max_size)
    msg = None
    if r.status != 200:
        raise SCEPError("%s: HTTP %d %s from the SCEP server" % (scep.MESSAGE_NAMES[message_type], r.status, r.reason))
    body = r.body
    r = None
    gc.collect()
    _dump("CRYPTO_PKI: CertRep received", body)
    t0 = time.ticks_ms()
    try:
        rep = scep.parse_cert_rep(body, txn.tid, nonce, signers, key, txn.signer)
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
        signer = scep.self_signed(key, subject_der, now - 300, now + 86400 * 365, caps.hash_name)
    _timed("cms build", t0)
    txn = Transaction(
        message_type=mt, tid=scep.transaction_id(key.public_key(), caps.hash_name),
        key_label=pair.label, hash_name=caps.hash_name, cipher=caps.cipher, post=caps.post,
        started=int(now), kind=kind, signer=signer, subject=subject_der, request=csr_der,
        signer_label=signer_label,
    )
    rep, chain = exchange(tp, router, txn, mt, csr_der, sign_key, caps)
    return _settle(tp, router, txn, rep, chain, key, log)


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
    log("CRYPTO_PKI: status = 102: certificate request pending")
    return scep.PENDING, txn


def poll(tp, router, log=None, timeout=TIMEOUT):
    """One CertPoll (GetCertInitial) of the trustpoint's pending request;
    returns (status, result) as request() does, or (None, reason) when the
    poll could not be made (counted against the retry count)."""
    from upki.keys import KeyStore

    log = log or router.log
    router.clock.require_trusted("enrollment")
    txn = pending(tp)
    if txn is None:
        return None, "no pending request"
    txn.polls += 1
    if tp.retry_count and txn.polls > tp.retry_count:
        tp.drop("pending")
        _due.pop(tp.name, None)
        _debug("CRYPTO_PKI: status = 101: certificate request is rejected")
        log("%%CRYPTO-6-CERTREJ: Certificate enrollment for trustpoint %s gave up: no answer "
            "from the CA after %d polls (enrollment retry count)" % (tp.name, tp.retry_count))
        return scep.FAILURE, "retry count exhausted"
    tp.store("pending", txn.to_record())
    store = KeyStore(router.nvram)
    pair = store.load(txn.key_label)
    # a key rollover is signed (and answered) with the current certificate's key
    sign_key = store.load(txn.signer_label).key if txn.signer_label else pair.key
    chain = tp.ca_certificates()
    if not chain:
        raise SCEPError("the CA certificate of trustpoint %s is gone" % tp.name)
    content = scep.issuer_and_subject(chain[0].subject.der(), txn.subject)
    rep, chain = exchange(tp, router, txn, scep.CERT_POLL, content, sign_key, timeout=timeout)
    return _settle(tp, router, txn, rep, chain, pair.key, log)


def cancel(tp):
    _due.pop(tp.name, None)
    return tp.drop("pending")


def enroll_configured(tp, router, log=None, pairs=None, kinds=None, signers=None):
    """Enroll without a prompt (auto-enroll, scripts): every answer comes from
    the trustpoint (password, serial-number, ip-address; fqdn or
    hostname.domain), the key pairs must exist (general, or LABEL-sign and
    LABEL-encrypt).  Returns [(status, result)] for the requests sent, in
    order, stopping at the first one not granted (one pending per trustpoint).
    pairs: the keys.KeyPairs to enroll instead of the trustpoint's; kinds:
    the NVRAM record each certificate goes to (auto-enroll stages them);
    signers: for each pair, the key pair it replaces (key rollover) or None."""
    from binascii import hexlify

    from upki import csr
    from upki.keys import KeyStore

    router.clock.require_trusted("enrollment")
    if tp.password is None or tp.serial_number is None or tp.ip_address is None:
        raise SCEPError("trustpoint %s does not answer every enrollment question "
                        "(password, serial-number, ip-address): use crypto ca enroll" % tp.name)
    if tp.has("pending"):
        raise SCEPError("a certificate request for trustpoint %s is already pending" % tp.name)
    store = KeyStore(router.nvram)
    label = tp.key_label()
    if pairs is not None:
        pass
    elif store.exists(label):
        pairs = [store.load(label)]
    else:
        pairs = [store.load(label + "-sign"), store.load(label + "-encrypt")]
    serial = str(hexlify(router.board.unique_id()), "ascii").upper() if tp.serial_number else None
    ip = None if tp.ip_address == "none" else tp.ip_address
    caps = get_ca_caps(tp)
    usage = {"general": "general-purpose", "signature": "signature", "encryption": "encryption"}
    out = []
    for i in range(len(pairs)):
        import gc

        pair = pairs[i]

        gc.collect()
        request_der = csr.ios_request(
            pair.key, fqdn=tp.fqdn or router.fqdn(), subject_name=tp.subject_name,
            serial_number=serial, ip_address=ip, challenge_password=tp.password or None,
            hash_name=caps.hash_name, usage=usage.get(pair.usage, "general-purpose"))
        status, result = request(tp, router, pair, request_der, caps, log,
                                 kinds[i] if kinds else None,
                                 signers[i] if signers else None)
        out.append((status, result))
        if status != scep.SUCCESS:
            break
    return out


# ---------------------------------------------------------------- GetCert / GetCRL


def _query(tp, router, message_type, issuer_cert, serial, max_size):
    # GetCert/GetCRL are signed with our certificate and key (RFC 8894 3.3.4)
    from upki.keys import KeyStore

    router = router or _router()
    router.clock.require_trusted(scep.MESSAGE_NAMES[message_type])
    store = KeyStore(router.nvram)
    label = tp.key_label()
    if not store.exists(label) and store.exists(label + "-sign"):
        label += "-sign"  # usage keys: the signature key signs requests
    pair = store.load(label)
    mine = tp.certificate(cert_kind(pair))
    if mine is None:
        raise SCEPError("%s needs this board's certificate for trustpoint %s: enroll first"
                        % (scep.MESSAGE_NAMES[message_type], tp.name))
    caps = get_ca_caps(tp)
    txn = Transaction(message_type=message_type,
                      tid=scep.transaction_id(pair.key.public_key(), caps.hash_name),
                      hash_name=caps.hash_name, cipher=caps.cipher, post=caps.post,
                      signer=bytes(mine.der), key_label=pair.label, subject=b"")
    content = scep.issuer_and_serial(issuer_cert.subject.der(), serial)
    rep, _chain = exchange(tp, router, txn, message_type, content, pair.key, caps,
                           max_size=max_size)
    if rep.status == scep.FAILURE:
        raise SCEPError("%s refused by the CA: %s" % (scep.MESSAGE_NAMES[message_type], rep.fail_text), rep.fail_info)
    if rep.status != scep.SUCCESS:
        raise SCEPError("%s: the CA answered PENDING" % scep.MESSAGE_NAMES[message_type])
    return rep


def _router():
    from upki import trustpoint

    return trustpoint.router()


def get_crl(tp, issuer_cert, serial, router=None):
    """GetCRL: the DER CRL of issuer_cert (x509.Certificate) covering the
    certificate `serial`, from the trustpoint's SCEP server.  Not checked
    here beyond the CertRep checks: the caller verifies the CRL's signature."""
    rep = _query(tp, router, scep.GET_CRL, issuer_cert, serial, MAX_CRL_REPLY)
    crls = rep.crls()
    if not crls:
        raise SCEPError("GetCRL: the CA's answer holds no CRL")
    return crls[0]


def get_cert(tp, issuer_cert, serial, router=None):
    """GetCert: the DER certificate issuer_cert issued with `serial`."""
    rep = _query(tp, router, scep.GET_CERT, issuer_cert, serial, MAX_REPLY)
    certs = rep.certificates()
    if not certs:
        raise SCEPError("GetCert: the CA's answer holds no certificate")
    return bytes(certs[0])


# ---------------------------------------------------------------- background polling

_due = {}  # trustpoint name -> ticks_ms when its next poll is due


def poll_due(router):
    """Background task: poll each trustpoint's pending request when due.
    One bounded HTTP exchange per due trustpoint; nothing else."""
    from upki import trustpoint

    if not router.clock.trusted:
        return
    now = time.ticks_ms()
    for tp in trustpoint.all():
        due = _due.get(tp.name)
        if not tp.has("pending"):
            _due.pop(tp.name, None)
            continue
        if due is None:
            due = now  # after a reboot: poll at once
        if time.ticks_diff(due, now) > 0:
            continue
        _due[tp.name] = time.ticks_add(now, tp.retry_period * 1000)
        try:
            # the console waits while a poll runs: keep a dead CA from holding it long
            poll(tp, router, timeout=BACKGROUND_TIMEOUT)
        except PKIError as e:
            router.log("%%CRYPTO-4-CERTPOLL: trustpoint %s: poll failed: %s" % (tp.name, e))
