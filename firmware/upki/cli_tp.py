# SPDX-License-Identifier: MIT
# `crypto ca trustpoint NAME` and its configuration submode, as IOS 12.2T has it.
# Loaded for the commands and dropped again once the session leaves the
# submode; the trustpoints' running-config section and hooks stay loaded in
# upki.cli_ca, which this module brings in.
from upki import cli_ca, trustpoint  # noqa: F401 (cli_ca: the section and hooks)
from upki.cli import CONFIG, Invalid, command, integer, submode

TP_MODE = "ca-trustpoint"
submode(TP_MODE, "(ca-trustpoint)#")


def _yes(answer):
    a = answer.strip().lower()
    return bool(a) and "yes".startswith(a)


@command(CONFIG, "crypto ca trustpoint")
def _trustpoint(s, args):
    args.need(1)
    args.only(1)
    name = args[0]
    if not trustpoint.valid_name(name):
        raise Invalid(0, "Invalid trustpoint name")
    tp = trustpoint.create(name)
    s.router.modified = True
    s.enter(TP_MODE, tp)
    return ""


# IOS 12.3 renamed `crypto ca` to `crypto pki`; accept both.
command(CONFIG, "crypto pki trustpoint")(_trustpoint)


@command(CONFIG, "no crypto ca trustpoint")
def _no_trustpoint(s, args):
    args.need(1)
    args.only(1)
    tp = trustpoint.get(args[0])
    if tp is None:
        return "%% Trustpoint %s does not exist\n" % args[0]
    enrolled = tp.has("ca") or tp.has("cert")
    if enrolled:
        ans = s.ask(
            "% Removing an enrolled trust point will destroy all certificates\n"
            "received from the related Certificate Authority.\n\n"
            "Are you sure you want to do this? [yes/no]: ",
            "no",
        )
        if not _yes(ans):
            return ""
    trustpoint.remove(args[0])
    s.router.modified = True
    if enrolled:
        return "% Be sure to ask the CA administrator to revoke your certificates.\n"
    return ""


def tp_command(words):
    """Register a trustpoint-submode command: handler(tp, session, args)."""

    def register(fn):
        def handler(s, args):
            out = fn(s.context, s, args)
            s.router.modified = True
            return out or ""

        command(TP_MODE, words)(handler)
        return fn

    return register


@tp_command("enrollment url")
def _enroll_url(tp, s, args):
    args.need(1)
    args.only(1)
    url = args[0]
    if not (url.startswith("http://") or url.startswith("https://")) or len(url) < 8:
        raise Invalid(0, "enrollment url must be http://host[:port][/path]")
    tp.enrollment_url = url


@tp_command("enrollment mode ra")
def _enroll_mode_ra(tp, s, args):
    args.only(0)
    tp.enrollment_mode_ra = True


@tp_command("enrollment retry period")
def _retry_period(tp, s, args):
    # minutes, as IOS; "Ns" gives seconds for lab use
    args.need(1)
    args.only(1)
    w = args[0]
    if w.endswith("s") and w[:-1].isdigit():
        v = int(w[:-1])
        if not 1 <= v <= 3600:
            raise Invalid(0)
        tp.retry_period = v
    else:
        tp.retry_period = integer(args, 0, 1, 60) * 60


@tp_command("enrollment retry count")
def _retry_count(tp, s, args):
    args.only(1)
    tp.retry_count = integer(args, 0, 0, 100)


@tp_command("crl query")
def _crl_query(tp, s, args):
    args.need(1)
    args.only(1)
    url = args[0]
    if not (url.startswith("http://") or url.startswith("ldap://")):
        raise Invalid(0, "crl query takes an http:// or ldap:// URL")
    tp.crl_query = url


@tp_command("revocation-check")
def _revocation_check(tp, s, args):
    args.need(1)
    args.only(1)
    w = args[0].lower()
    # the last revocation command wins, as on IOS: `revocation-check crl`
    # after `crl best-effort` fails closed again, and `revocation-check none`
    # drops a crl mode set before
    if "crl".startswith(w):
        tp.revocation = "crl"
    elif "none".startswith(w):
        tp.revocation = "none"
    else:
        raise Invalid(0, "revocation-check takes crl or none")
    tp.crl_mode = None


@tp_command("crl best-effort")
def _crl_best_effort(tp, s, args):
    args.only(0)
    tp.revocation = "crl"  # a crl mode checks CRLs: it ends `revocation-check none`
    tp.crl_mode = "best-effort"


@tp_command("crl optional")
def _crl_optional(tp, s, args):
    args.only(0)
    tp.revocation = "crl"
    tp.crl_mode = "optional"


@tp_command("subject-name")
def _subject_name(tp, s, args):
    args.need(1)
    text = args.rest(0)
    try:
        from upki.csr import parse_dn

        parse_dn(text)
    except Exception:
        raise Invalid(0, "subject-name must be an X.500 name such as OU=lab, O=example, C=US")
    tp.subject_name = text


@tp_command("serial-number")
def _serial_number(tp, s, args):
    args.only(1)
    if args:
        if not "none".startswith(args[0].lower()):
            raise Invalid(0)
        tp.serial_number = False
    else:
        tp.serial_number = True


@tp_command("ip-address")
def _ip_address(tp, s, args):
    args.need(1)
    args.only(1)
    w = args[0]
    if "none".startswith(w.lower()) and not w[0].isdigit():
        tp.ip_address = "none"
        return
    from upki.csr import parse_ip

    try:
        parse_ip(w)
    except Exception:
        raise Invalid(0)
    tp.ip_address = w


@tp_command("fqdn")
def _fqdn(tp, s, args):
    args.need(1)
    args.only(1)
    tp.fqdn = args[0]


@tp_command("password")
def _password(tp, s, args):
    args.need(1)
    tp.password = args.rest(0)


@tp_command("usage")
def _usage(tp, s, args):
    args.need(1)
    args.only(1)
    for u in ("ike", "ssl-client", "ssl-server"):
        if u.startswith(args[0].lower()):
            tp.usage = u
            return
    raise Invalid(0)


@tp_command("rsakeypair")
def _rsakeypair(tp, s, args):
    from upki.keys import valid_label

    args.need(1)
    args.only(3)
    if not valid_label(args[0]):
        raise Invalid(0, "Invalid key label")
    bits = integer(args, 1, 1024, 4096) if len(args) > 1 else None
    enc = integer(args, 2, 1024, 4096) if len(args) > 2 else None
    tp.rsakeypair = (args[0], bits, enc)


@tp_command("auto-enroll")
def _auto_enroll(tp, s, args):
    args.only(2)
    percent, regenerate = None, False
    for i in range(len(args)):
        w = args[i].lower()
        if w.isdigit() and percent is None and not regenerate:
            percent = integer(args, i, 1, 100)
        elif "regenerate".startswith(w):
            regenerate = True
        else:
            raise Invalid(i)
    tp.auto_enroll = (percent, regenerate)
    __import__("upki.autoenroll")  # the engine runs from the background task list


@tp_command("fingerprint")
def _fingerprint(tp, s, args):
    args.need(1)
    hexstr = "".join(args[i] for i in range(len(args))).replace(":", "").upper()
    if len(hexstr) not in (32, 40, 64) or any(c not in "0123456789ABCDEF" for c in hexstr):
        raise Invalid(0, "fingerprint: 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hex digits")
    tp.fingerprint = hexstr


# `no` forms: back to the default (revocation-check and the crl modes below).
_DEFAULTS = (
    ("enrollment url", "enrollment_url", None),
    ("enrollment mode ra", "enrollment_mode_ra", False),
    ("enrollment retry period", "retry_period", 60),
    ("enrollment retry count", "retry_count", 0),
    ("crl query", "crl_query", None),
    ("subject-name", "subject_name", None),
    ("serial-number", "serial_number", None),
    ("ip-address", "ip_address", None),
    ("fqdn", "fqdn", None),
    ("password", "password", None),
    ("usage", "usage", None),
    ("rsakeypair", "rsakeypair", None),
    ("auto-enroll", "auto_enroll", None),
    ("fingerprint", "fingerprint", None),
)


def _make_no(attr, default):
    def handler(tp, s, args):
        setattr(tp, attr, default)

    return handler


for _words, _attr, _default in _DEFAULTS:
    tp_command("no " + _words)(_make_no(_attr, _default))


@tp_command("no revocation-check")
def _no_revocation_check(tp, s, args):
    tp.revocation = "crl"  # the default: fail closed
    tp.crl_mode = None


def _make_no_crl_mode(mode):
    def handler(tp, s, args):
        if tp.crl_mode == mode:  # `no crl optional` leaves best-effort alone
            tp.crl_mode = None

    return handler


tp_command("no crl best-effort")(_make_no_crl_mode("best-effort"))
tp_command("no crl optional")(_make_no_crl_mode("optional"))
