# SPDX-License-Identifier: MIT
# The parts of upki.enroll a plain enrollment does not run, loaded on first
# use: the NVRAM record of a pending transaction, CertPoll, enrollment from
# the trustpoint's answers (auto-enroll), GetCert and GetCRL.  Their names
# still answer in upki.enroll (enroll.poll, enroll.enroll_configured ...).
from upki import scep
from upki.enroll import (
    MAX_CRL_REPLY,
    MAX_REPLY,
    TIMEOUT,
    Transaction,
    _debug,
    _due,
    _settle,
    cert_kind,
    exchange,
    get_ca_caps,
    request,
)
from upki.errors import SCEPError


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


def from_record(cls, data):
    try:  # not ASCII, odd hex, a count that is not a number
        return _from_record(cls, data)
    except ValueError:  # UnicodeError and binascii.Error too
        raise SCEPError("the pending SCEP transaction record is not readable")


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
        elif k in ("message_type", "polls", "started", "unconfirmed"):
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
    if rep.status == scep.FAILURE and txn.unconfirmed and txn.request:
        # stored before the request went out and never answered (a power cut):
        # the CA that does not know the transaction never got the request. It
        # goes again, with the same transactionID and request
        _debug("CRYPTO_PKI: the CA does not know transaction %s (%s): re-sending the request"
               % (txn.tid[:16], rep.fail_text))
        rep = chain = content = None
        import gc

        gc.collect()
        rep, chain = exchange(tp, router, txn, txn.message_type, txn.request, sign_key,
                              timeout=timeout)
    txn.unconfirmed = None
    return _settle(tp, router, txn, rep, chain, pair.key, log)


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
