# SPDX-License-Identifier: MIT
# The public-key chain: peers' RSA keys, as IOS keeps them.
#
#   crypto key pubkey-chain rsa
#    named-key peer.example.com [encryption|signature]
#     address 10.0.0.2
#     key-string
#      30819F30 0D06092A ...
#     quit
#    addressed-key 10.0.0.3 [encryption|signature]
#
# Manually configured keys (code M) are configuration: shown in running-config
# and replayed at boot. Keys extracted from validated peer certificates (code
# C) are kept in RAM only, as IOS does: a successful peer validation
# (trustpoint.verify, `crypto ca verify`) adds them to upki.revocation's
# peer_keys (revocation.remember_key), which the show command lists after
# the M keys; this module is not loaded for that.
from upki import config
from upki.cli import CONFIG, EXEC, Invalid, command, hexblock, submode

CHAIN_MODE = "config-pubkey-chain"
KEY_MODE = "config-pubkey-key"
HEX_MODE = "config-pubkey"
submode(CHAIN_MODE, "(config-pubkey-chain)#")
submode(KEY_MODE, "(config-pubkey-key)#", parent=CHAIN_MODE)
submode(HEX_MODE, "(config-pubkey)#", parent=KEY_MODE)

_MAX_KEY_HEX = 2200  # a 4096-bit SubjectPublicKeyInfo is 550 bytes

_keys = []  # PeerKey (code M), in configuration order


class PeerKey:
    def __init__(self, name, address, usage, code):
        self.name = name  # named-key NAME, or None for addressed-key
        self.address = address
        self.usage = usage  # "signature", "encryption" or "general"
        self.code = code  # "M" or "C"
        self.spki = None  # SubjectPublicKeyInfo DER


def _attach(router):
    del _keys[:]


config.on_attach(_attach)


def _certificate_keys():
    """The C keys (PeerKey) validation has kept (upki.revocation.peer_keys)."""
    import sys

    out = []
    for name, address, usage, spki in getattr(sys.modules.get("upki.revocation"),
                                              "peer_keys", ()):
        k = PeerKey(name, address, usage, "C")
        k.spki = spki
        out.append(k)
    return out


def find(name=None, address=None):
    """The peer key (M first, then C) of a name or an address, or None."""
    for k in _keys + _certificate_keys():
        if (name and k.name == name) or (address and k.address == address):
            return k
    return None


@command(CONFIG, "crypto key pubkey-chain rsa")
def _pubkey_chain(s, args):
    args.only(0)
    s.enter(CHAIN_MODE)
    return ""


def _usage_arg(args, i):
    if i >= len(args):
        return "general"
    w = args[i].lower()
    for u in ("encryption", "signature"):
        if u.startswith(w):
            return u
    raise Invalid(i)


@command(CHAIN_MODE, "named-key")
def _named_key(s, args):
    args.need(1)
    args.only(2)
    usage = _usage_arg(args, 1)
    k = _manual_by_name(args[0])
    if k is None:
        k = PeerKey(args[0], None, usage, "M")
        _keys.append(k)
    k.usage = usage
    s.router.modified = True
    s.enter(KEY_MODE, k)
    return ""


def _manual_by_name(name):
    for k in _keys:
        if k.code == "M" and k.name == name:
            return k
    return None


@command(CHAIN_MODE, "addressed-key")
def _addressed_key(s, args):
    from upki.csr import parse_ip

    args.need(1)
    args.only(2)
    try:
        parse_ip(args[0])
    except Exception:
        raise Invalid(0)
    usage = _usage_arg(args, 1)
    k = None
    for x in _keys:
        if x.code == "M" and x.name is None and x.address == args[0]:
            k = x
    if k is None:
        k = PeerKey(None, args[0], usage, "M")
        _keys.append(k)
    k.usage = usage
    s.router.modified = True
    s.enter(KEY_MODE, k)
    return ""


@command(CHAIN_MODE, "no named-key")
def _no_named_key(s, args):
    args.need(1)
    k = _manual_by_name(args[0])
    if k is None:
        return "%% Key %s does not exist\n" % args[0]
    _keys.remove(k)
    s.router.modified = True
    return ""


@command(CHAIN_MODE, "no addressed-key")
def _no_addressed_key(s, args):
    args.need(1)
    for k in _keys:
        if k.code == "M" and k.name is None and k.address == args[0]:
            _keys.remove(k)
            s.router.modified = True
            return ""
    return "%% Key %s does not exist\n" % args[0]


@command(KEY_MODE, "address")
def _address(s, args):
    from upki.csr import parse_ip

    args.need(1)
    args.only(1)
    try:
        parse_ip(args[0])
    except Exception:
        raise Invalid(0)
    s.context.address = args[0]
    s.router.modified = True
    return ""


@command(KEY_MODE, "key-string")
def _key_string(s, args):
    args.only(0)
    k = s.context
    parts = []
    count = [0]

    def collect(sess, line):
        text = line.strip()
        if text.lower() == "quit":
            sess.collector = None
            sess.mode = KEY_MODE
            return _install(sess, k, "".join(parts))
        hexline = text.replace(" ", "")
        count[0] += len(hexline)
        if any(c not in "0123456789abcdefABCDEF" for c in hexline) or count[0] > _MAX_KEY_HEX:
            sess.collector = None
            sess.mode = KEY_MODE
            return "% Bad key-string (not hex, or too long): input ignored\n"
        parts.append(hexline)
        return ""

    s.collector = collect
    s.mode = HEX_MODE
    return "Enter a public key as a hexidecimal number ....\n" if s.emit else ""


def _install(s, k, hextext):
    from binascii import unhexlify

    from upki import rsa
    from upki.errors import PKIError

    try:
        if len(hextext) % 2:
            raise ValueError("odd number of hex digits")
        data = unhexlify(hextext)
        rsa.PublicKey.from_der(data)  # SPKI or PKCS#1: must be a valid RSA key
    except (PKIError, ValueError) as e:
        return "%% Bad key-string: %s; key not changed\n" % e
    k.spki = data
    s.router.modified = True
    return ""


@config.section_at(config.ORDER_PUBKEY_CHAIN)
def _render(router, lines):
    manual = [k for k in _keys if k.code == "M"]
    if not manual:
        return
    lines.append("crypto key pubkey-chain rsa")
    for k in manual:
        usage = "" if k.usage == "general" else " " + k.usage
        if k.name is not None:
            lines.append(" named-key %s%s" % (k.name, usage))
            if k.address:
                lines.append("  address " + k.address)
        else:
            lines.append(" addressed-key %s%s" % (k.address, usage))
        if k.spki:
            lines.append("  key-string")
            lines.extend(hexblock(k.spki, "   "))
            lines.append("  quit")
    lines.append("!")


_USAGE_SHOWN = {"signature": "Signature", "encryption": "Encryption", "general": "General"}


@command(EXEC, "show crypto key pubkey-chain rsa")
def _show(s, args):
    args.only(0)
    out = ["Codes: M - Manually configured, C - Extracted from certificate", "",
           "Code Usage        IP-Address       Name"]
    for k in _keys + _certificate_keys():
        out.append("%-4s %-12s %-16s %s" % (k.code, _USAGE_SHOWN[k.usage], k.address or "", k.name or ""))
    return "\n".join(out) + "\n"
