# SPDX-License-Identifier: MIT
# The certificates of trustpoints in the configuration, and their display:
# `crypto ca certificate chain NAME` (shown and accepted as IOS hex),
# `show crypto ca trustpoints` and `show crypto ca certificates`. Loaded on
# first use, or by running-config once a trustpoint holds a certificate.
from upki import trustpoint
from upki.cli import CONFIG, EXEC, Invalid, command, submode

# --- crypto ca certificate chain: the certificates, in the configuration ----------
#
# IOS keeps its certificates in the configuration as hex. upki keeps them in
# NVRAM records (tp/NAME/...) and shows them here the IOS way; replaying the
# block (startup-config, or a chain pasted by an operator) installs any
# certificate that is not already stored, and writes nothing otherwise.

CHAIN_MODE = "config-cert-chain"
HEX_MODE = "config-pubkey"
submode(CHAIN_MODE, "(config-cert-chain)#")
submode(HEX_MODE, "(config-pubkey)#", parent=CHAIN_MODE)
_DEVICE_KINDS = ("cert", "cert-sign", "cert-encrypt")
_MAX_CERT_HEX = 16384  # hex digits: an 8 KB certificate is larger than any we take


def render_chain(tp, lines):
    # One certificate at a time, straight from its NVRAM record: the running
    # configuration shows the serial and the hex, which need the DER reader,
    # not the certificate parser.
    from upki import der
    from upki.cli import hexblock
    from upki.errors import PKIError

    shown = False
    try:
        for kind in _DEVICE_KINDS + ("ra-sign", "ra-encrypt", "ca"):
            data = tp.load(kind)
            if data is None:
                continue
            prefix = "" if kind in _DEVICE_KINDS else kind + " "
            for cert in der.elements(data):  # the "ca" record holds several
                if not shown:
                    lines.append("crypto ca certificate chain " + tp.name)
                    shown = True
                lines.append(" certificate %s%s" % (prefix, _serial_hex(cert)))
                lines.extend(hexblock(cert, "  "))
                lines.append("  quit")
    except PKIError as e:
        lines.append("! crypto ca certificate chain %s: %s" % (tp.name, e))
        return
    if shown:
        lines.append("!")


def _serial_hex(cert):
    # the serial as IOS shows it: uppercase hex of the INTEGER's content octets
    from binascii import hexlify

    from upki import der
    from upki.errors import DERError

    _t, start, end = der.read_tlv(cert, 0, len(cert))  # Certificate
    _t, start, end = der.read_tlv(cert, start, end)  # tbsCertificate
    tag, s, e = der.read_tlv(cert, start, end)
    if tag == 0xA0:  # [0] version
        tag, s, e = der.read_tlv(cert, e, end)
    if tag != 0x02:
        raise DERError("a stored certificate has no serial number")
    return hexlify(cert[s:e]).decode().upper()


@command(CONFIG, "crypto ca certificate chain")
def _chain(s, args):
    args.need(1)
    args.only(1)
    tp = trustpoint.get(args[0])
    if tp is None:
        return "%% Trustpoint %s does not exist; configure it first\n" % args[0]
    s.enter(CHAIN_MODE, tp)
    return ""


command(CONFIG, "crypto pki certificate chain")(_chain)


@command(CHAIN_MODE, "certificate")
def _certificate(s, args):
    # certificate [ca|ra-sign|ra-encrypt] SERIAL, then hex lines until "quit"
    args.need(1)
    kind = "device"
    if len(args) > 1:
        w = args[0].lower()
        for k in ("ca", "ra-sign", "ra-encrypt"):
            if k == w or (len(w) > 2 and k.startswith(w)):
                kind = k
                break
        else:
            raise Invalid(0)
        args.only(2)
        serial = args[1]
    else:
        serial = args[0]
    serial = serial.upper()
    if any(c not in "0123456789ABCDEF" for c in serial):
        raise Invalid(len(args) - 1)
    tp = s.context
    parts = []
    count = [0]

    def collect(sess, line):
        text = line.strip()
        if text.lower() == "quit":
            sess.collector = None
            sess.mode = CHAIN_MODE
            return _install(sess, tp, kind, serial, "".join(parts))
        hexline = text.replace(" ", "")
        if any(c not in "0123456789abcdefABCDEF" for c in hexline):
            sess.collector = None
            sess.mode = CHAIN_MODE
            return "%% Bad hex in certificate %s: input ignored\n" % serial
        count[0] += len(hexline)
        if count[0] > _MAX_CERT_HEX:
            sess.collector = None
            sess.mode = CHAIN_MODE
            return "%% Certificate %s is larger than %d bytes: input ignored\n" % (serial, _MAX_CERT_HEX // 2)
        parts.append(hexline)
        return ""

    s.collector = collect
    s.mode = HEX_MODE
    return ""


def _install(s, tp, kind, serial, hextext):
    from binascii import unhexlify

    from upki import x509
    from upki.errors import PKIError

    try:
        if len(hextext) % 2:
            raise ValueError("odd number of hex digits")
        data = unhexlify(hextext)
        cert = x509.Certificate(data)
        got = cert.serial_hex
    except (PKIError, ValueError) as e:
        return "%% Certificate %s not installed: %s\n" % (serial, e)
    if got.lstrip("0") != serial.lstrip("0"):
        return "%% Certificate serial number %s does not match the %s typed: not installed\n" % (got, serial)
    if kind == "ca":
        current = tp.ca_certificates()
        if any(bytes(c.der) == data for c in current):
            return ""
        tp.store_ca_certificates([c.der for c in current] + [data])
        return ""
    if kind == "device":
        kind = _device_kind(s.router, tp, cert)
    if tp.load(kind) == data:
        return ""
    tp.store(kind, data)
    return ""


def _device_kind(router, tp, cert):
    """cert, cert-sign or cert-encrypt: by which of our key pairs the certificate carries."""
    from upki.errors import PKIError
    from upki.keys import KeyStore

    ks = KeyStore(router.nvram)
    label = tp.key_label() or ""
    n = cert.modulus
    for kind, lb in (("cert", label), ("cert-sign", label + "-sign"), ("cert-encrypt", label + "-encrypt")):
        try:
            if ks.exists(lb) and ks.load(lb).key.n == n:
                return kind
        except PKIError:
            pass
    usage = cert.ios_usage
    return "cert-sign" if usage == "Signature" else "cert-encrypt" if usage == "Encryption" else "cert"


@command(CHAIN_MODE, "no certificate")
def _no_certificate(s, args):
    args.need(1)
    args.only(1)
    tp = s.context
    serial = args[0].upper().lstrip("0")
    cas = tp.ca_certificates()
    keep = [c.der for c in cas if c.serial_hex.lstrip("0") != serial]
    if len(keep) != len(cas):
        if keep:
            tp.store_ca_certificates(keep)
        else:
            tp.drop("ca")
        return ""
    for kind in _DEVICE_KINDS + ("ra-sign", "ra-encrypt"):
        c = tp.certificate(kind)
        if c is not None and c.serial_hex.lstrip("0") == serial:
            tp.drop(kind)
            return ""
    return "%% Certificate %s is not in this chain\n" % args[0]


@command(EXEC, "show crypto ca trustpoints")
def _show_trustpoints(s, args):
    # IOS layout: the CA's subject one attribute a line, right-aligned names.
    from upki.errors import PKIError

    args.only(1)
    out = []
    for tp in trustpoint.all():
        if args and tp.name != args[0]:
            continue
        out.append("Trustpoint %s:" % tp.name)
        try:
            cas = tp.ca_certificates()
        except PKIError as e:
            cas = []
            out.append("    %% CA certificate record unreadable: %s" % e)
        if cas:
            ca = cas[0]  # the issuing CA
            out.append("    Subject Name:")
            attrs = str(ca.subject).split(", ")
            width = max(len(a.split(" = ")[0]) for a in attrs) if attrs else 0
            for a in attrs:
                name, _, value = a.partition(" = ")
                out.append("    " + " " * (width - len(name)) + name + " = " + value)
            out.append("          Serial Number: %s" % ca.serial_hex)
            out.append("    Certificate configured.")
        else:
            out.append("    Not authenticated: no CA certificate (use crypto ca authenticate %s)" % tp.name)
        if tp.enrollment_url:
            out.append("    CEP URL: %s" % tp.enrollment_url)
        if tp.crl_query:
            out.append("    CRL query url: %s" % tp.crl_query)
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


command(EXEC, "show crypto pki trustpoints")(_show_trustpoints)


# --- show crypto ca certificates ----------------------------------------------------

_NAME_LABELS = {
    "1.2.840.113549.1.9.2": "Name",  # unstructuredName: IOS shows the hostname so
    "1.2.840.113549.1.9.8": "IP Address",
    "2.5.4.5": "Serial Number",
}


def _name_lines(name, indent):
    from upki import oid
    from upki.errors import PKIError

    out = []
    try:
        rdns = name.rdns()
    except PKIError:
        return [indent + "(unreadable)"]
    for i in range(len(rdns) - 1, -1, -1):
        for o, v in rdns[i]:
            label = _NAME_LABELS.get(o)
            if label:
                out.append("%s%s: %s" % (indent, label, v))
            else:
                out.append("%s%s = %s" % (indent, oid.name(o), v))
    return out


def cert_block(title, cert, tp_name, status="Available"):
    from upki.clock import format_date
    from upki.errors import PKIError

    lines = [title, "  Status: %s" % status,
             "  Certificate Serial Number: %s" % cert.serial_hex,
             "  Key Usage: %s" % cert.ios_usage,
             "  Issuer Name:"]
    lines += _name_lines(cert.issuer, "    ")
    lines.append("  Subject Name:")
    lines += _name_lines(cert.subject, "    ")
    try:
        cdps = cert.crl_distribution_points
    except PKIError:
        cdps = None
    if cdps:
        lines.append("  CRL Distribution Point:")
        lines += ["    " + u for u in cdps]
    lines += ["  Validity Date:",
              "    start date: %s" % format_date(cert.not_before),
              "    end   date: %s" % format_date(cert.not_after),
              "  Associated Trustpoints: %s" % tp_name, ""]
    return lines


def _show_certificates(s, args):
    from upki import der, x509
    from upki.errors import PKIError

    args.only(0)
    out = []

    def put(lines):
        # a block at a time: on a console it goes out at once, so neither the
        # certificates nor the text of all of them are held together
        text = "\n".join(lines) + "\n"
        if s.emit:
            s.emit(text)
        else:
            out.append(text)

    for tp in trustpoint.all():
        try:
            txn = None
            if tp.has("pending"):  # the enrollment code only for a pending request
                from upki import enrollpoll

                txn = enrollpoll.pending(tp)
            if txn is not None:
                put(["Certificate", "  Status: Pending",
                     "  Key Usage: General Purpose",
                     "  Certificate Request Transaction ID: %s" % txn.tid[:32],
                     "  Polls: %d" % txn.polls,
                     "  Associated Trustpoints: %s" % tp.name, ""])
            for kind in ("cert", "cert-sign", "cert-encrypt"):
                c = tp.certificate(kind)
                if c is not None:
                    put(cert_block("Certificate", c, tp.name))
            data = tp.load("ca")
            for cert in der.elements(data) if data is not None else ():
                put(cert_block("CA Certificate", x509.Certificate(bytes(cert)), tp.name))
            data = None
            ra_s = tp.load("ra-sign")
            ra_e = tp.load("ra-encrypt")
            if ra_s is not None:
                put(cert_block("RA Signature Certificate", x509.Certificate(ra_s), tp.name))
            if ra_e is not None and ra_e != ra_s:
                put(cert_block("RA KeyEncipher Certificate", x509.Certificate(ra_e), tp.name))
        except PKIError as e:
            put(["%% Trustpoint %s: %s" % (tp.name, e), ""])
    return "".join(out)


command(EXEC, "show crypto ca certificates")(_show_certificates)
command(EXEC, "show crypto pki certificates")(_show_certificates)
