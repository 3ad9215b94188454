# SPDX-License-Identifier: MIT
"""Attacks on the board's time, each refused with the clock left as it was.

One board session per case below: the lab time server (shifted 400 days into
the future, so an accepted answer would show) misbehaves one way per port;
the board is pointed at it, the background sync runs, and the clock must be
what it was, untrusted in 2000 or trusted at the operator's `clock set`."""

import datetime
import re

import pytest

from host_tools.upki_host.timeserver import TimeServer
from test_time_board import run, shown_clock, utcnow

SHA1 = bytes(range(1, 21))
MD5 = b"upki-md5-secret!"
OTHER = bytes(20)
FUTURE = 400 * 86400

# (name, misbehaviour of the server, board key id, reason the board gives)
ATTACKS = [
    ("unsigned reply when a key is required", "unsigned", 11,
     "unauthenticated reply, key 11 required"),
    ("wrong MAC", "bad-mac", 11, "bad MAC (key 11)"),
    ("signed with another key", "wrong-key", 11, "reply signed with key 99, not 11"),
    ("key unknown to the server", None, 99, "no valid reply within 1 s"),
    ("wrong origin timestamp", "wrong-origin", 11, "origin timestamp does not match"),
    ("reply from another port", "other-port", 11, "reply from an unexpected address 127.0.0.1:"),
    ("kiss-o'-death DENY", "kod:DENY", 11, "kiss-o'-death DENY"),
    ("kiss-o'-death RSTR", "kod:RSTR", 11, "kiss-o'-death RSTR"),
    ("kiss-o'-death RATE", "kod:RATE", 11, "kiss-o'-death RATE"),
    ("leap indicator 3", "leap3", 11, "server not synchronised (leap indicator 3)"),
    ("stratum 16", "stratum16", 11, "server not synchronised (stratum 16)"),
    ("truncated packet", "truncated", 11, "short packet (40 bytes, need 48)"),
    ("oversized packet", "oversized", 11, "oversized packet"),
    ("client-mode packet", "mode3", 11, "mode 3, not a server reply"),
    ("server that never answers", "silent", 11, "no valid reply within 1 s"),
    ("unauthenticated server under ntp authenticate", None, None,
     "no key configured; `ntp authenticate` requires a trusted key"),
    ("key defined but not trusted", None, 12, "key 12 is not trusted"),
]


@pytest.fixture(scope="module")
def servers():
    started = []
    for _name, mode, _kid, _reason in ATTACKS:
        ts = TimeServer(offset=FUTURE, keys={11: ("sha1", SHA1), 12: ("md5", MD5),
                                             99: ("sha1", OTHER)} if mode else
                        {11: ("sha1", SHA1), 12: ("md5", MD5)})
        ts.misbehave(mode)
        started.append(ts.start())
    yield started
    for ts in started:
        ts.stop()


def attack_session(image, servers, prelude=()):
    lines = list(prelude) + [
        "configure terminal",
        "ntp authentication-key 11 sha1 " + SHA1.hex(),
        "ntp authentication-key 12 md5 " + MD5.hex(),
        "ntp authentication-key 99 sha1 " + bytes(range(50, 70)).hex(),
        "ntp trusted-key 11",
        "ntp trusted-key 99",
        "ntp authenticate",
        "end",
    ]
    for ts, (_name, _mode, kid, _reason) in zip(servers, ATTACKS):
        server = "ntp server 127.0.0.1 port %d" % ts.port + (" key %d" % kid if kid else "")
        lines += ["configure terminal", "no ntp server 127.0.0.1", server, "end",
                  "show clock detail", "show ntp associations detail"]
    r = run(image, *lines)
    out = r.stdout
    parts = {}
    for ts, attack in zip(servers, ATTACKS):
        start = out.index("#ntp server 127.0.0.1 port %d" % ts.port)
        end = out.find("#no ntp server", start)
        parts[attack[0]] = out[start : end if end > 0 else len(out)]
    return parts


def check_all_refused(parts, servers, clock_ok, nosync="no trusted time"):
    failures = []
    for ts, (name, mode, kid, reason) in zip(servers, ATTACKS):
        part = parts[name]
        ok = (
            "%NTP-5-SYNC" not in part
            and "%%NTP-4-NOSYNC: %s: 0 of 1 NTP server answered" % nosync in part
            and reason in part
            and "last result: " in part
            and reason in part.split("last result: ")[1]
            and clock_ok(part)
        )
        if not ok:
            failures.append("%s:\n%s" % (name, part))
    assert not failures, "\n\n".join(failures)
    # the board really asked every server it was allowed to ask
    asked = [name for ts, (name, _m, _k, _r) in zip(servers, ATTACKS) if ts.requests]
    assert len(asked) == len(ATTACKS) - 2, asked


def test_attacks_on_an_untrusted_clock(servers, tmp_path):
    parts = attack_session(tmp_path / "b.img", servers)

    def clock_ok(part):
        trusted, t = shown_clock(part)
        return not trusted and t.year == 2000 and "\nNo time source\n" in part

    check_all_refused(parts, servers, clock_ok)


def test_attacks_on_a_clock_set_by_the_operator(servers, tmp_path):
    now = utcnow()
    setting = now.strftime("clock set %H:%M:%S %d %b %Y")

    def clock_ok(part):
        trusted, t = shown_clock(part)
        return (trusted and abs((t - utcnow()).total_seconds()) < 120
                and "\nTime source is user configuration\n" in part)

    parts = attack_session(tmp_path / "b.img", servers, prelude=[setting])
    # the operator's time stands, and the message says so
    check_all_refused(parts, servers, clock_ok, nosync="sync failed, clock kept")


def test_kiss_of_death_deny_stops_further_queries(tmp_path):
    with TimeServer() as ts:
        ts.misbehave("kod:DENY")
        r = run(tmp_path / "b.img", "conf t", "ntp server 127.0.0.1 port %d" % ts.port, "end",
                "show ntp associations detail", "conf t", "ntp maxpoll 4", "end",
                "show ntp associations detail", "show clock detail")
        trusted, t = shown_clock(r.stdout.split("#show clock detail")[1])
        assert not trusted and t.year == 2000
        assert len(ts.requests) == 1, r.stdout  # refused service: never asked again
        assert "not asking it again" in r.stdout, r.stdout
        assert "%NTP-5-SYNC" not in r.stdout
        assert "last result: NTP server refused" not in r.stdout
        assert r.stdout.count("kiss-o'-death DENY") >= 2, r.stdout


def test_an_accepted_server_proves_the_setup(tmp_path):
    # the same session shape with a well-behaved server does move the clock,
    # so the refusals above are the attacks' doing, not the harness's
    with TimeServer(offset=FUTURE, keys={11: ("sha1", SHA1)}) as ts:
        r = run(tmp_path / "b.img", "conf t", "ntp authentication-key 11 sha1 " + SHA1.hex(),
                "ntp trusted-key 11", "ntp authenticate",
                "ntp server 127.0.0.1 port %d key 11" % ts.port, "end", "show clock detail")
    assert re.search(r"%%NTP-5-SYNC: clock synchronized to 127\.0\.0\.1:%d \(stratum 2, key 11\)"
                     % ts.port, r.stdout), r.stdout
    trusted, t = shown_clock(r.stdout.split("#show clock detail")[1])
    assert trusted
    expect = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=FUTURE)
    assert abs((t - expect).total_seconds()) < 5
