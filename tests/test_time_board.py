# SPDX-License-Identifier: MIT
"""Trusted time end to end on the simulated board: `ntp ...` configured at the
console, saved, reloaded; the boot sync against chronyd (each MAC type, and
without authentication) and against the lab time server with offsets; the
floor across reboots; servers that disagree; the ntp CLI and its config."""

import datetime
import re
import time

import pytest

import chrony_peer
from conftest import require_command
from host_tools.upki_host.timeserver import TimeServer
from mpy import board

SHA1 = (11, "sha1", bytes(range(1, 21)))
CMAC = (13, "cmac-aes128", bytes(range(100, 116)))
CLI_ALG = {"sha1": "sha1", "md5": "md5", "aes128cmac": "cmac-aes128", "sha256": "sha256"}
SYNC = re.compile(
    r"%NTP-5-SYNC: clock synchronized to 127\.0\.0\.1:(\d+) \(stratum (\d+)(?:, key (\d+))?\), "
    r"offset ([+-]\d+\.\d{3}) s"
)
CLOCK = re.compile(r"\n(\*?)(\d\d:\d\d:\d\d\.\d{3}) UTC \w{3} (\w{3}) (\d+) (\d{4})\n")


def run(image, *lines, **kw):
    r = board(image, "\n".join(lines) + "\n", **kw)
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "Internal error" not in out, out
    return r


def key_lines(*keys):
    out = []
    for kid, alg, secret in keys:
        out.append("ntp authentication-key %d %s %s" % (kid, CLI_ALG.get(alg, alg), secret.hex()))
        out.append("ntp trusted-key %d" % kid)
    return out


def configure(image, *config, extra=()):
    """Configure, save, reload; return the output of the boot after the reload."""
    r = run(image, "configure terminal", *config, "end", "write memory", "reload", "",
            "show clock detail", "show ntp associations", "show ntp status", *extra)
    assert "[OK]" in r.stdout, r.stdout
    boots = r.stdout.split("System Bootstrap, upki simulated board: reloading")
    assert len(boots) == 2, r.stdout
    return boots[1]


def shown_clock(out):
    """(trusted, datetime) of the first `show clock` in out."""
    m = CLOCK.search(out)
    assert m, out
    mark, hms, mon, day, year = m.groups()
    t = datetime.datetime.strptime("%s %s %s %s" % (hms, day, mon, year), "%H:%M:%S.%f %d %b %Y")
    return mark == "", t.replace(tzinfo=datetime.timezone.utc)


def utcnow(offset=0.0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)


def assert_untrusted_2000(out):
    trusted, t = shown_clock(out)
    assert not trusted and t.year == 2000, out
    assert "\nNo time source\n" in out, out


@pytest.fixture(scope="module")
def chrony(tmp_path_factory):
    path = require_command("chronyd")
    with chrony_peer.running(tmp_path_factory.mktemp("chrony"), path) as peer:
        yield peer


@pytest.fixture
def timeserver():
    servers = []

    def start(**kw):
        ts = TimeServer(**kw).start()
        servers.append(ts)
        return ts

    yield start
    for ts in servers:
        ts.stop()


# --- against chrony ---------------------------------------------------------------


@pytest.mark.parametrize("name", [None, "sha1", "md5", "aes128cmac", "sha256"])
def test_boot_sync_against_chrony(chrony, tmp_path, name):
    img = tmp_path / "b.img"
    lines = []
    server = "ntp server 127.0.0.1 port %d" % chrony.port
    if name:
        key = chrony.keys[name]
        lines = key_lines(key) + ["ntp authenticate"]
        server += " key %d" % key[0]
    out = configure(img, *lines, server)
    m = SYNC.search(out)
    assert m, out
    assert int(m.group(1)) == chrony.port and m.group(2) == "8"
    assert m.group(3) == (str(chrony.keys[name][0]) if name else None)
    # the board woke up in 2000: the step is the 26-odd years since
    step = float(m.group(4))
    expect = time.time() - 946684800
    assert abs(step - expect) < 60, (step, expect)
    # the sync came before the console opened, and the clock is authoritative
    assert out.index("%NTP-5-SYNC") < out.index("Press RETURN to get started!")
    assert "%CLOCK-4-NOT_AUTHORITATIVE" not in out
    trusted, t = shown_clock(out)
    assert trusted, out
    assert abs((t - utcnow()).total_seconds()) < 5, (t, out)
    assert "\nTime source is NTP\n" in out
    row = re.search(r"\n\*~127\.0\.0\.1:%d +127\.127\.1\.1 +8 .*\n" % chrony.port, out)
    assert row, out
    assert row.group(0).rstrip().endswith("key %d ok" % key[0] if name else "none")
    assert "Clock is synchronized, stratum 9, reference is 127.0.0.1:%d" % chrony.port in out
    assert ("authentication key %d" % key[0] if name else "authentication none") in out


def test_chrony_wrong_secret_never_syncs(chrony, tmp_path):
    kid, alg, secret = chrony.keys["md5"]
    t0 = time.monotonic()
    out = configure(tmp_path / "b.img", *key_lines((kid, alg, bytes(16))), "ntp authenticate",
                    "ntp server 127.0.0.1 port %d key %d" % (chrony.port, kid))
    assert "%NTP-5-SYNC" not in out
    assert "%NTP-4-NOSYNC: no trusted time: 0 of 1 NTP server answered" in out, out
    assert "no valid reply within" in out and "retrying in the background" in out
    assert_untrusted_2000(out)
    assert time.monotonic() - t0 < 30


# --- against the lab time server -----------------------------------------------------


@pytest.mark.parametrize("days", [400, -3000])
def test_time_travel_with_the_lab_time_server(timeserver, tmp_path, days):
    key = CMAC
    ts = timeserver(offset=days * 86400, keys={key[0]: ("aes128cmac", key[2])})
    out = configure(tmp_path / "b.img", *key_lines(key), "ntp authenticate",
                    "ntp server 127.0.0.1 port %d key %d" % (ts.port, key[0]))
    assert SYNC.search(out), out
    trusted, t = shown_clock(out)
    assert trusted
    assert abs((t - utcnow(days * 86400)).total_seconds()) < 5, (t, out)
    assert "Clock is synchronized, stratum 3" in out
    # requests carried the key and a fresh random transmit timestamp each
    reqs = [r for r, reply in ts.requests]
    assert all(len(r) == 48 + 4 + 16 for r in reqs) and len({r[40:48] for r in reqs}) == len(reqs)


def test_floor_survives_reboot_and_refuses_the_past(timeserver, tmp_path):
    img = tmp_path / "b.img"
    ts = timeserver(keys={SHA1[0]: ("sha1", SHA1[2])})
    out = configure(img, *key_lines(SHA1), "ntp server 127.0.0.1 port %d key 11" % ts.port)
    assert SYNC.search(out) and shown_clock(out)[0]
    floor_day = utcnow().strftime("UTC %a %b ") + str(utcnow().day)
    assert "clock floor is " in out and floor_day in out, out

    # an attacker (or a wrong server) now answers with a time a year back
    ts.set_offset(-365 * 86400)
    r = run(img, "show clock detail", "show ntp status", "show ntp associations")
    out = r.stdout
    assert "%NTP-5-SYNC" not in out
    assert "%NTP-3-FLOOR: refused time " in out and "before the clock floor" in out, out
    assert_untrusted_2000(out)
    assert re.search(r"clock floor is \d\d:\d\d:\d\d " + floor_day, out), out
    assert "last sync refused: %NTP-3-FLOOR" in out
    assert re.search(r"\n#~127\.0\.0\.1:%d " % ts.port, out), out  # answered, not followed

    # a reboot with the server silent keeps the floor and starts untrusted
    ts.misbehave("silent")
    out = run(img, "show clock detail", "show ntp status").stdout
    assert_untrusted_2000(out)
    assert "Clock is unsynchronized" in out and floor_day in out

    # forwards is fine: a later time passes the floor and moves it
    ts.misbehave(None)
    ts.set_offset(30 * 86400)
    out = run(img, "show clock detail", "show ntp status").stdout
    assert SYNC.search(out) and shown_clock(out)[0], out
    later = utcnow(30 * 86400)
    assert "clock floor is" in out and later.strftime("%b ") + str(later.day) in out, out


def test_servers_that_disagree_leave_the_clock(timeserver, tmp_path):
    a = timeserver()
    b = timeserver(offset=7200)
    out = configure(tmp_path / "b.img", "ntp server 127.0.0.1 port %d" % a.port,
                    "ntp server 127.0.0.1 port %d" % b.port)
    assert "%NTP-5-SYNC" not in out
    assert "%NTP-4-NOSYNC: no trusted time: NTP servers disagree: offsets " in out, out
    assert "2 must agree within 1.0 s" in out
    assert_untrusted_2000(out)
    assert len(a.requests) >= 1 and len(b.requests) >= 1


def test_majority_of_three_outvotes_one_liar(timeserver, tmp_path):
    good1, good2 = timeserver(stratum=3), timeserver(stratum=2)
    liar = timeserver(offset=-40 * 86400, stratum=1)
    out = configure(tmp_path / "b.img", *["ntp server 127.0.0.1 port %d" % s.port
                                          for s in (liar, good1, good2)])
    m = SYNC.search(out)
    assert m and int(m.group(1)) == good2.port, out  # the lowest stratum of the majority
    trusted, t = shown_clock(out)
    assert trusted and abs((t - utcnow()).total_seconds()) < 5
    assert re.search(r"\n-~127\.0\.0\.1:%d " % liar.port, out), out
    assert re.search(r"\n\+~127\.0\.0\.1:%d " % good1.port, out), out
    assert re.search(r"\n\*~127\.0\.0\.1:%d " % good2.port, out), out


def test_silent_servers_hold_the_boot_for_bounded_time(timeserver, tmp_path):
    s1, s2, s3 = timeserver(), timeserver(), timeserver()
    for s in (s1, s2, s3):
        s.misbehave("silent")
    img = tmp_path / "b.img"
    run(img, "conf t", *["ntp server 127.0.0.1 port %d" % s.port for s in (s1, s2, s3)], "end",
        "write memory")
    t0 = time.monotonic()
    out = run(img, "show clock detail").stdout
    took = time.monotonic() - t0
    assert "%NTP-4-NOSYNC: no trusted time: 0 of 3 NTP servers answered, 2 needed" in out, out
    assert "retrying in the background" in out
    assert_untrusted_2000(out)
    assert took < 9, took  # the boot budget is 5 s whatever the number of servers


def test_clock_set_is_authoritative_and_sets_the_floor(timeserver, tmp_path):
    img = tmp_path / "b.img"
    r = run(img, "clock set 10:00:00 1 Jun 2030", "show clock detail", "show ntp status")
    assert "\n10:00:0" in r.stdout and "Time source is user configuration" in r.stdout
    assert "clock floor is 10:00:0" in r.stdout and "Jun 1 2030" in r.stdout
    # NTP now (2026) would move time four years before that floor: refused
    ts = timeserver()
    out = configure(img, "ntp server 127.0.0.1 port %d" % ts.port)
    assert "%NTP-3-FLOOR" in out and "%NTP-5-SYNC" not in out, out
    assert_untrusted_2000(out)


# --- the CLI ----------------------------------------------------------------------


def test_ntp_configuration_renders_in_ios_order_and_survives_reload(tmp_path):
    img = tmp_path / "b.img"
    r = run(img, "conf t", "ntp server 10.0.0.1 prefer", "ntp trusted-key 7",
            "ntp authentication-key 7 md5 00112233445566778899AABBCCDDEEFF",
            "ntp authentication-key 3 sha256 HEX:0A0B0C", "ntp authenticate", "ntp maxpoll 6",
            "ntp server 127.0.0.1 port 1234 key 7", "ntp server 10.0.0.2 key 3",
            "no ntp server 10.0.0.2",
            "end", "write memory", "show running-config")
    section = (
        "ntp authentication-key 3 sha256 0A0B0C\n"
        "ntp authentication-key 7 md5 00112233445566778899AABBCCDDEEFF\n"
        "ntp authenticate\n"
        "ntp trusted-key 7\n"
        "ntp maxpoll 6\n"
        "ntp server 10.0.0.1 prefer\n"
        "ntp server 127.0.0.1 port 1234 key 7\n"
        "!\n"
    )
    assert section in r.stdout, r.stdout
    r = run(img, "show running-config", "show ntp associations detail")
    assert section in r.stdout, r.stdout
    assert "%PARSER" not in r.stdout
    assert "10.0.0.1 configured, unauthenticated, last result: no key configured; " \
           "`ntp authenticate` requires a trusted key" in r.stdout
    assert "127.0.0.1:1234 configured, authenticated by key 7" in r.stdout
    assert re.search(r"\n ~10\.0\.0\.1 +\.INIT\. +16 +- +64 +0 ", r.stdout), r.stdout


def test_ntp_bad_input_is_marked_not_stored(tmp_path):
    img = tmp_path / "b.img"
    bad = [
        "ntp authentication-key 5 cmac-aes128 0011",  # not 16 bytes
        "ntp authentication-key 5 sha1 XYZ",  # not hex
        "ntp authentication-key 5 sha512 0011",  # unknown algorithm
        "ntp authentication-key 0 sha1 0011",  # key ids start at 1
        "ntp authentication-key 5 md5 " + "00" * 65,  # too long
        "ntp server 127.0.0.1 port 70000",
        "ntp server 127.0.0.1 key",
        "ntp server 127.0.0.1 banana",
        "ntp server bad/addr",
        "ntp trusted-key x",
        "ntp maxpoll 30",
    ]
    r = run(img, "conf t", *bad, "end", "show running-config", "show ntp associations")
    assert r.stdout.count("% Invalid input detected at '^' marker.") == len(bad) - 1, r.stdout
    assert "% Incomplete command." in r.stdout  # `key` without its id
    assert "cmac-aes128 needs a 16-byte key" in r.stdout
    assert "Key must be given in hexadecimal" in r.stdout
    assert "\nntp " not in r.stdout.split("Current configuration")[1]
    assert "%NTP is not enabled." in r.stdout
    # the marker sits under the offending word
    lines = r.stdout.splitlines()
    i = lines.index("Router(config)#ntp server 127.0.0.1 banana")
    assert lines[i + 1].index("^") == lines[i].index("banana")
