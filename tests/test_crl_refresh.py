# SPDX-License-Identifier: MIT
"""The background refresh of cached CRLs on the simulated board, against the lab CA and
the lab time server (both real, on loopback): a cached CRL whose nextUpdate has passed is
fetched again while the console sits idle, `show crypto ca timers` never shows a negative
CRL timer, and an unreachable CDP makes the board retry later (back-off), without
blocking the console or failing a background task."""

import re

import labca_peer
from autoenroll_board import ca_chain_lines, make_image
from console import Console

from host_tools.upki_host.labca import LabCAServer
from host_tools.upki_host.labca import ca as labca_clock

HOUR = 3600


def _image(tmp_path, server, ts, mode=()):
    lines = ["hostname r1", "ip domain-name lab.test", "!",
             "crypto ca trustpoint lab", " crl query " + server.crl_url, *mode, "!",
             *ca_chain_lines("lab", server.ca.ca_cert),
             # a resync every 16 s: the board follows the time server's travel quickly
             "ntp maxpoll 4", "ntp server 127.0.0.1 port %d" % ts.port, "!", "end"]
    return make_image(tmp_path / "b.img", "\n".join(lines) + "\n")


def _timers(c):
    c.send("show crypto ca timers")
    return c.expect(r"PKI Timers\n(\|.*\n)+").group(0)


def _crl_timer(timers):
    m = re.search(r"^\|\s+(-?)(\S+) CRL (\S+)$", timers, re.MULTILINE)
    assert m, timers
    return m.group(1), m.group(2), m.group(3)


def _crl_gets(server):
    return [line for line in server.log if "/crl/" in line]


def _travel(ts, seconds):
    ts.set_offset(seconds)
    labca_clock.set_clock_offset(seconds)  # the CA lives in the same future


def test_expired_crl_is_fetched_again_while_the_console_is_idle(tmp_path, ts):
    with labca_peer.running(tmp_path, ra=False) as server:
        c = Console(_image(tmp_path, server, ts))
        try:
            c.expect(r"%NTP-5-SYNC: clock synchronized to 127\.0\.0\.1")
            c.send("crypto ca crl request lab")
            c.expect(r"% CRL received for trustpoint lab: 0 revoked, next update")
            sign, left, url = _crl_timer(_timers(c))
            assert not sign and re.match(r"23:5\d:\d\d\.\d{3}$", left), left  # the CA's 24 h
            assert url == server.crl_url
            c.send("debug crypto pki transactions", "show debugging")
            c.expect(r"Crypto PKI Trans debugging is on")
            quiet = c.since()
            fetched = len(_crl_gets(server))
            _travel(ts, 25 * HOUR)  # the cached CRL is now an hour stale
            # nothing is typed: the idle console's background tasks resync the clock
            # (16 s at most) and fetch the CRL again
            c.expect(r"CRYPTO_PKI: CRL of CN = .* expired .*: refreshing it for trustpoint "
                     r"lab", timeout=60)
            c.expect(r"CRYPTO_PKI: Getting CRL of .* from " + re.escape(server.crl_url))
            c.expect(r"CRYPTO_PKI: CRL received from " + re.escape(server.crl_url)
                     + r": 0 entries, next update", timeout=30)
            sign, left, _ = _crl_timer(_timers(c))
            later = c.quiet(3)
        finally:
            _travel(ts, 0)
            out = c.close()
    assert "refreshing" not in quiet  # not before the CRL expired
    assert len(_crl_gets(server)) == fetched + 1, server.log  # one fetch, then quiet
    assert not sign and re.match(r"23:\d\d:\d\d\.\d{3}$", left), left  # the new CRL's 24 h
    assert "Getting CRL" not in later
    assert "%PKI-3-CRL_FETCH_FAIL" not in out


def test_unreachable_cdp_is_retried_later_and_the_timer_is_never_negative(tmp_path, ts):
    with labca_peer.running(tmp_path, ra=False) as server:
        port = server.port
        c = Console(_image(tmp_path, server, ts))
        try:
            c.expect(r"%NTP-5-SYNC: clock synchronized to 127\.0\.0\.1")
            c.send("crypto ca crl request lab")
            c.expect(r"% CRL received for trustpoint lab")
            c.send("write memory")
            c.expect(r"\[OK\]")
            server.stop()  # the CDP goes away
            c.send("debug crypto pki transactions", "show debugging")
            c.expect(r"Crypto PKI Trans debugging is on")
            _travel(ts, 25 * HOUR)
            failed = c.expect(r"%PKI-3-CRL_FETCH_FAIL: CRL fetch for trustpoint lab failed: "
                              r"(.*); retrying in 60 seconds", timeout=60)
            # the console answers, and shows the retry, not a negative timer
            sign, left, _ = _crl_timer(_timers(c))
            idle = c.quiet(6)  # six seconds at the prompt: no new attempt (back-off)
            # after a reboot the stale CRL in NVRAM is found again and tried at once
            c.send("reload", "")  # and confirm
            c.expect("System Bootstrap")
            c.expect(r"%PKI-3-CRL_FETCH_FAIL: CRL fetch for trustpoint lab failed", timeout=60)
            c.send("debug crypto pki transactions", "show debugging")
            c.expect(r"Crypto PKI Trans debugging is on")
            # the CDP comes back; the next retry, a minute later, fetches the CRL
            revived = LabCAServer(server.ca, port=port).start()
            try:
                _travel(ts, 25 * HOUR + 90)
                c.expect(r"CRYPTO_PKI: CRL received from http://127\.0\.0\.1:%d/crl/ca\.crl"
                         % port, timeout=60)
                sign2, left2, _ = _crl_timer(_timers(c))
            finally:
                revived.stop()
        finally:
            _travel(ts, 0)
            out = c.close()
    assert "connect failed" in failed.group(1) or "refused" in failed.group(1), failed.group(0)
    assert not sign and re.match(r"0:[0-5]\d\.\d{3}$", left), left  # the retry, within a minute
    assert "Getting CRL" not in idle and "CRL_FETCH_FAIL" not in idle, idle
    assert not sign2 and re.match(r"23:\d\d:\d\d\.\d{3}$", left2), left2
    assert not re.search(r"\|\s+-\S+ CRL", out), out  # never a negative CRL timer
    assert "%SYS-3-TASK" not in out


def test_crl_optional_trustpoint_fetches_nothing_in_the_background(tmp_path, ts):
    """`crl optional` never fetches a CRL (docs/VALIDATION.md): its expired CRL stays as it
    is, and its timer shows when the board looks again, not a negative time."""
    with labca_peer.running(tmp_path, ra=False) as server:
        c = Console(_image(tmp_path, server, ts, mode=[" crl optional"]))
        try:
            c.expect(r"%NTP-5-SYNC: clock synchronized to 127\.0\.0\.1")
            c.send("crypto ca crl request lab", "debug crypto pki transactions")
            c.expect(r"% CRL received for trustpoint lab")
            fetched = len(_crl_gets(server))
            _travel(ts, 25 * HOUR)
            c.expect(r"CRYPTO_PKI: CRL http://\S+ expired .*: no trustpoint fetching CRLs holds "
                     r"its issuer's certificate; not refreshed", timeout=60)
            sign, left, _ = _crl_timer(_timers(c))
            later = c.quiet(3)
        finally:
            _travel(ts, 0)
            c.close()
    assert len(_crl_gets(server)) == fetched, server.log
    assert not sign and re.match(r"59:\d\d\.\d{3}$", left), left  # the next look, in an hour
    assert "Getting CRL" not in later
