# SPDX-License-Identifier: MIT
# `crypto ca authenticate` and `crypto ca enroll` with IOS 12.2T's words (a
# pending request is polled by enroll.poll_due; `show crypto ca certificates`
# is in cli_chain, so that a show loads no enrollment code).
from upki import enroll, scep, trustpoint
from upki.cli import CONFIG, EXEC, command
from upki.errors import PKIError, SCEPError


def _yes(answer):
    a = answer.strip().lower()
    return bool(a) and "yes".startswith(a)


def _no(answer):
    a = answer.strip().lower()
    return bool(a) and "no".startswith(a)


def _say(s, text, out):
    # output that must precede a question goes out at once on a console
    if s.emit:
        s.emit(text)
    else:
        out.append(text)


def _trustpoint_arg(args):
    args.need(1)
    args.only(1)
    tp = trustpoint.get(args[0])
    if tp is None:
        raise PKIError("Trustpoint %s does not exist" % args[0])
    return tp


def fingerprint_lines(cert, indent=""):
    return [
        "%sFingerprint MD5: %s" % (indent, cert.fingerprint("md5")),
        "%sFingerprint SHA1: %s" % (indent, cert.fingerprint("sha1")),
    ]


def _authenticate(s, args):
    tp = _trustpoint_arg(args)
    s.router.clock.require_trusted("authentication")
    out = []

    def accept(certs):
        lines = ["Certificate has the following attributes:"]
        for c in reversed(certs.ca_chain):  # the root first: that is the anchor
            if len(certs.ca_chain) > 1:
                lines.append("Subject: %s" % c.subject)
            lines += fingerprint_lines(c, "       ")
        _say(s, "\n".join(lines) + "\n", out)
        ans = s.ask("% Do you accept this certificate? [yes/no]: ", "no")
        return _yes(ans)

    try:
        certs = enroll.authenticate(tp, s.router, accept)
    except SCEPError as e:
        return "".join(out) + "%% %s\n" % e
    if certs is None:
        return "".join(out) + "% Certificate not accepted.\n"
    if tp.fingerprint:
        lines = ["Certificate has the following attributes:"]
        lines += fingerprint_lines(certs.root, "       ")
        lines.append("% Certificate matches the configured fingerprint.")
        out.append("\n".join(lines) + "\n")
    out.append("Trustpoint CA certificate accepted.\n")
    if certs.has_ra():
        out.append("%% RA certificates: ra-sign %s, ra-encrypt %s\n" % (
            certs.ra_sign.subject, certs.ra_encrypt.subject))
    return "".join(out)


def _keys_for(s, tp, out):
    """The trustpoint's key pairs: [general] or, for usage keys, [signature,
    encryption] (LABEL-sign, LABEL-encrypt); generated IOS style when missing
    (usage keys when `rsakeypair LABEL BITS ENC_BITS` gives two sizes)."""
    from upki.keys import KeyStore

    label = tp.key_label()
    store = KeyStore(s.router.nvram)
    if store.exists(label):
        return [store.load(label)]
    if store.exists(label + "-sign") and store.exists(label + "-encrypt"):
        return [store.load(label + "-sign"), store.load(label + "-encrypt")]
    rsak = tp.rsakeypair or (label, None, None)
    bits = rsak[1] or 2048
    if rsak[2]:
        plan = [(label + "-sign", "signature", bits), (label + "-encrypt", "encryption", rsak[2])]
    else:
        plan = [(label, "general", bits)]
    _say(s, "%% The key pair %s does not exist: generating it\n" % label, out)
    from upki.cli_keys import generate_pair

    pairs = []
    for name, usage, size in plan:
        ok, text = generate_pair(s, name, usage, size, False)
        if text:
            _say(s, text, out)
        if not ok:
            raise PKIError("Enrollment aborted: no key pair")
        pairs.append(store.load(name))
    return pairs


_CSR_USAGE = {"general": "general-purpose", "signature": "signature", "encryption": "encryption"}


def _enroll(s, args):
    from binascii import hexlify

    tp = _trustpoint_arg(args)
    router = s.router
    router.clock.require_trusted("enrollment")
    if not tp.has("ca"):
        return "% You must authenticate the Certificate Authority before you can enroll with it.\n"
    if tp.has("pending"):
        txn = enroll.pending(tp)
        return ("%% A certificate request for trustpoint %s is pending (%d polls so far); "
                "`no crypto ca enroll %s` cancels it.\n" % (tp.name, txn.polls, tp.name))
    out = []
    pairs = _keys_for(s, tp, out)
    missing = [p for p in pairs if not tp.has(enroll.cert_kind(p))]
    if not missing:
        _say(s, "% You already have a certificate from this CA.\n"
             "% Re-enrolling replaces it when the new one is granted.\n", out)
        if not _yes(s.ask("% Do you want to continue with re-enrollment? [yes/no]: ", "no")):
            return "".join(out)
        missing = pairs
    _say(s, "%\n% Start certificate enrollment .. \n", out)
    password = tp.password
    if password is None:
        _say(s, "% Create a challenge password. You will need to verbally provide this\n"
                "   password to the CA Administrator in order to revoke your certificate.\n"
                "   For security reasons your password will not be saved in the configuration.\n"
                "   Please make a note of it.\n\n", out)
        password = s.ask("Password: ", "")
        again = s.ask("Re-enter password: ", "")
        if password != again:
            return "".join(out) + "% Passwords do not match. Enrollment aborted.\n"
    fqdn = tp.fqdn or router.fqdn()
    _say(s, "\n%% The subject name in the certificate will be: %s\n" % (tp.subject_name or fqdn), out)
    serial = None
    asked = tp.password is None
    want_serial = tp.serial_number
    if want_serial is None:
        asked = True
        want_serial = _yes(s.ask("% Include the router serial number in the subject name? [yes/no]: ", "no"))
    if want_serial:
        serial = str(hexlify(router.board.unique_id()), "ascii").upper()
        _say(s, "%% The serial number in the certificate will be: %s\n" % serial, out)
    ip = tp.ip_address
    if ip is None:
        asked = True
        ans = s.ask("% Include an IP address in the subject name? [no]: ", "no").strip()
        if _yes(ans):
            ans = s.ask("Enter IP Address[]: ", "").strip()
        ip = None if (not ans or _no(ans)) else ans
    elif ip == "none":
        ip = None
    if ip:
        checker = enroll._loaded(("csr",))
        try:
            from upki.csr import parse_ip

            parse_ip(ip)
        except Exception:
            return "".join(out) + "%% %s is not an IP address. Enrollment aborted.\n" % ip
        finally:
            parse_ip = None
            enroll._unload(checker)
    # A trustpoint that answers every question itself (password, serial-number,
    # ip-address) enrolls without asking: scripts and auto-enroll need no prompts.
    if asked and not _yes(s.ask("Request certificate from CA? [yes/no]: ", "no")):
        return "".join(out) + "% Enrollment aborted.\n"
    try:
        caps = enroll.get_ca_caps(tp)
    except PKIError as e:
        return "".join(out) + "%% Enrollment failed: %s\n" % e
    for i in range(len(missing)):
        pair = missing[i]
        if len(pairs) > 1:
            _say(s, "%% Requesting the %s certificate (key %s)\n" % (
                pair.usage, pair.label), out)
        status, result = _request_one(s, tp, pair, caps, fqdn, serial, ip, password, out)
        if status is None:
            return "".join(out) + result
        if status == scep.SUCCESS:
            out.append("% The 'show crypto ca certificate' command will also show the fingerprint.\n")
            out += [x + "\n" for x in fingerprint_lines(result, "   ")]
        elif status == scep.FAILURE:
            out.append("%% Certificate request rejected by the CA: %s\n" % result.fail_text)
            break
        else:
            out.append("%% Certificate request pending: the CA administrator must approve it.\n"
                       "%% Polling every %d seconds%s.\n" % (
                           tp.retry_period,
                           (", %d times at most" % tp.retry_count) if tp.retry_count else ""))
            if i + 1 < len(missing):
                # one pending transaction per trustpoint: the next key waits for it
                out.append("%% The %s key's request will be sent by `crypto ca enroll %s` "
                           "once this one is granted.\n" % (missing[i + 1].usage, tp.name))
            break
    return "".join(out)


def _request_one(s, tp, pair, caps, fqdn, serial, ip, password, out):
    # (status, result) of one request; (None, message) when it could not be made
    import gc

    # the CSR writer is loaded to build the request and unloaded before it is
    # sent: its code is not in the heap while the reply is parsed
    builder = enroll._loaded(("csr",))
    try:
        gc.collect()
        from upki import csr

        try:
            request = csr.ios_request(
                pair.key, fqdn=fqdn, subject_name=tp.subject_name, serial_number=serial,
                ip_address=ip, challenge_password=password or None, hash_name=caps.hash_name,
                usage=_CSR_USAGE.get(pair.usage, "general-purpose"),
            )
        finally:
            csr = None
            enroll._unload(builder)
        _say(s, "% Certificate request sent to Certificate Authority\n", out)
        return enroll.request(tp, s.router, pair, request, caps)
    except ValueError as e:
        return None, "%% Enrollment aborted: %s\n" % e
    except PKIError as e:
        msg = str(e)
        return None, ("%s\n" % msg if msg.startswith("%") else "%% Enrollment failed: %s\n" % msg)


def _no_enroll(s, args):
    tp = _trustpoint_arg(args)
    if enroll.cancel(tp):
        return "%% Pending certificate request of trustpoint %s cancelled.\n" % tp.name
    return "%% No pending certificate request for trustpoint %s.\n" % tp.name


for _mode in (CONFIG, EXEC):
    command(_mode, "crypto ca authenticate")(_authenticate)
    command(_mode, "crypto pki authenticate")(_authenticate)
    command(_mode, "crypto ca enroll")(_enroll)
    command(_mode, "crypto pki enroll")(_enroll)
    command(_mode, "no crypto ca enroll")(_no_enroll)
