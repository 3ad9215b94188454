# SPDX-License-Identifier: MIT
"""upki.cli: the IOS command parser and every registered command, on a
freshly booted Router per input (CPython, flash in a scratch directory).
The input is console lines (UTF-8 with replacement, at most 12 lines of 200
characters); an input starting `!boot` is written as startup-config and
replayed by boot, as a reload would. Network and key generation are stand-ins
that answer at once (an unreachable peer; a committed test key), so the
fuzzer spends its time in the parser. Session.execute catches every
exception and reports `% Internal error`: that line is the finding here."""

import os
import shutil

import common

with common.instrumented():
    from upki import cli, http, rsa, sntp
    from upki.errors import ClockError, PKIError

ALLOWED = (PKIError,)
_ROOT = common.scratch("cli")
_KEY = rsa.PrivateKey.from_der((common.DATA / "rsa_1024_pkcs8.der").read_bytes())


class Board:
    name = "fuzz"
    flash_root = _ROOT

    def __init__(self):
        self.t = 946684800.0

    def unique_id(self):
        return b"\x01\x02\x03\x04\x05\x06"

    def urandom(self, n):
        return os.urandom(n)

    def rtc_time(self):
        self.t += 0.001
        return self.t

    def set_rtc(self, t):
        self.t = t

    def reset(self):
        pass


def _no_network(*args, **kw):
    raise http.HTTPError("HTTP 127.0.0.1:9: connect failed (connection refused)")


def _no_ntp(*args, **kw):
    raise ClockError("NTP server 127.0.0.1: no usable reply to 1 request (timed out)")


http.request = _no_network
sntp.query = _no_ntp
rsa.generate = lambda *a, **kw: _KEY
cli.load_features()


def _wipe():
    for name in os.listdir(_ROOT):
        p = os.path.join(_ROOT, name)
        if os.path.isdir(p):
            shutil.rmtree(p)
        else:
            os.remove(p)


def _check(line, out):
    if not isinstance(out, str):
        raise common.Finding("%r printed %r" % (line, out))
    if "Internal error" in out:
        raise common.Finding(out.strip())


def one(data):
    text = data.decode("utf-8", "replace")
    lines = [ln[:200] for ln in text.split("\n")[:12]]
    _wipe()
    board = Board()
    if lines and lines[0].startswith("!boot"):
        from upki.nvram import NVRAM

        NVRAM(_ROOT).write("startup-config", "\n".join(lines[1:]))
        lines = ["show running-config"]
    router, session, msgs = cli.boot(board)
    for m in msgs:
        _check("boot", m)
    session.ask = lambda prompt, default="": "no"
    for line in lines:
        _check(line, session.execute(line))
        if session.exit_requested:
            break
    session.end()


if __name__ == "__main__":
    common.main(one)
