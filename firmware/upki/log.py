# SPDX-License-Identifier: MIT
# `debug crypto pki transactions|messages` output and syslog-style messages.
#
#   from upki import log
#   log.debug("transactions", "CRYPTO_PKI: Sending CA Certificate Request:")
#   log.message("%CRYPTO-6-CERTRET: Certificate received from Certificate Authority")
#
# Debug lines carry IOS's default `service timestamps debug uptime` stamp
# (hh:mm:ss since boot) and reach the console only while that debug is on.
import time

TRANSACTIONS = "transactions"
MESSAGES = "messages"
CATEGORIES = (TRANSACTIONS, MESSAGES)

_enabled = set()
_router = [None]
_boot_ms = [0]  # set by attach() on the board (CPython has no ticks_ms)


def attach(router):
    _router[0] = router
    _enabled.clear()
    _boot_ms[0] = time.ticks_ms()


def enable(category):
    _enabled.add(category)


def disable(category=None):
    if category is None:
        _enabled.clear()
    else:
        _enabled.discard(category)


def enabled(category):
    return category in _enabled


def _stamp():
    s = time.ticks_diff(time.ticks_ms(), _boot_ms[0]) // 1000
    return "%02d:%02d:%02d: " % (s // 3600, s // 60 % 60, s % 60)


def debug(category, text):
    """One debug line (or several, split on newlines) when category is on."""
    if category not in _enabled:
        return
    r = _router[0]
    for line in text.split("\n"):
        line = _stamp() + line
        if r is not None:
            r.log(line)
        else:
            print(line)


def dump(category, title, data):
    """A DER object in hex, as `debug crypto pki messages` shows what goes on the wire."""
    if category not in _enabled:
        return
    from binascii import hexlify

    h = hexlify(bytes(data[:512])).decode()
    lines = [title + " (%d bytes)" % len(data)]
    for i in range(0, len(h), 64):
        lines.append(" " + h[i : i + 64])
    if len(data) > 512:
        lines.append(" ...")
    debug(category, "\n".join(lines))


def message(text):
    """A syslog-style console message (%FACILITY-SEV-MNEMONIC: ...), always shown."""
    r = _router[0]
    if r is not None:
        r.log(text)
    else:
        print(text)
