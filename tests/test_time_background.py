# SPDX-License-Identifier: MIT
"""upki.ntp's boot hook and background task on the Unix port, with a board
clock the test controls (its rate, too) and the lab time server: the
background keeps trying after a failed boot sync, returns at once when
nothing is due, stays out of a configuration session, resyncs silently with
the drift shown, and writes the floor only at syncs."""

import re
import threading
import time


from host_tools.upki_host.timeserver import TimeServer
from mpy import run_json

_SETUP = """
import json, time
from upki import cli, ntp
from upki.config import Router

class Board:
    name = "fake"
    flash_root = %(root)r
    def __init__(self, rate):
        self.base = 946684800.0
        self.t0 = time.ticks_us()
        self.rate = rate
    def rtc_time(self):
        return self.base + time.ticks_diff(time.ticks_us(), self.t0) / 1e6 * self.rate
    def set_rtc(self, t):
        self.base = t
        self.t0 = time.ticks_us()
    def unique_id(self):
        return b"12345678"

cli.load_features()  # the NTP commands are a feature module (cli_ntp), as on a board
r = Router(Board(%(rate)r))
logs = []
r.log_sink = logs.append
s = cli.Session(r)
for line in %(config)r:
    out = s.execute(line)
    assert not out.strip() or out.startswith("Enter"), out
st = ntp.state(r)
res = {}

def timed(fn, *a):
    t0 = time.ticks_ms()
    fn(*a)
    return time.ticks_diff(time.ticks_ms(), t0)
"""


def port(tmp_path, code, rate=1.0, config=()):
    setup = _SETUP % {"root": str(tmp_path), "rate": rate, "config": list(config)}
    return run_json(setup + code, timeout=60)


def server_lines(ts):
    return ["configure terminal", "ntp server 127.0.0.1 port %d" % ts.port, "end"]


def test_background_keeps_trying_after_a_failed_boot_sync(ts, tmp_path):
    ts.misbehave(None, drop=2)  # the two requests of the boot sync go unanswered
    res = port(tmp_path, """
res["boot_ms"] = timed(ntp._boot_sync, r)
res["after_boot"] = r.clock.trusted
res["idle_ms"] = timed(ntp._background, r)  # not due for 16 s: returns at once
res["after_idle"] = r.clock.trusted
st.next_ms = None  # as if the retry interval had passed
res["retry_ms"] = timed(ntp._background, r)
res["trusted"] = r.clock.trusted
res["source"] = r.clock.source
res["logs"] = logs
print(json.dumps(res))
""", config=server_lines(ts))
    assert not res["after_boot"] and not res["after_idle"]
    assert 1800 <= res["boot_ms"] < 4000, res  # 2 requests of 1 s each
    assert res["idle_ms"] < 50, res
    assert res["trusted"] and res["source"] == "NTP", res
    assert res["retry_ms"] < 1100, res
    assert len(ts.requests) == 3
    assert res["logs"][0].startswith("%NTP-4-NOSYNC: no trusted time: 0 of 1 NTP server answered")
    assert res["logs"][0].rstrip().endswith("retrying in the background")
    assert res["logs"][1].startswith("%%NTP-5-SYNC: clock synchronized to 127.0.0.1:%d (stratum 2)"
                                     % ts.port), res


def test_resync_shows_drift_and_writes_floor_only_at_syncs(ts, tmp_path):
    # the board's crystal runs 1 % fast (big enough to see over a loaded machine's jitter)
    res = port(tmp_path, """
ntp._background(r)
res["first"] = r.clock.trusted
writes = r.nvram.records_written
for i in range(20):
    ntp._background(r)
res["idle_writes"] = r.nvram.records_written - writes
time.sleep(3)  # the longer, the less a stall of the loaded machine moves the drift
st.next_ms = None
ntp._background(r)
res["drift"] = r.clock.drift
res["syncs"] = r.clock.syncs
res["writes"] = r.nvram.records_written - writes
res["status"] = s.execute("show ntp status")
res["logs"] = logs
print(json.dumps(res))
""", rate=1.01, config=server_lines(ts))
    assert res["first"] and res["syncs"] == 2
    assert res["idle_writes"] == 0
    assert res["writes"] == 1  # the resync wrote the floor once
    assert abs(res["drift"] - 0.01) < 0.004, res  # gains 10 ms per second
    assert "drift is +0.0" in res["status"] and "2 syncs since boot" in res["status"]
    assert "Clock is synchronized, stratum 3" in res["status"], res["status"]
    assert len([x for x in res["logs"] if "%NTP-5-SYNC" in x]) == 1, res["logs"]  # resync is quiet


def test_no_sync_while_configuration_is_being_typed(ts, tmp_path):
    res = port(tmp_path, """
s.execute("configure terminal")
ntp._background(r)
res["in_config"] = r.clock.trusted
s.execute("end")
ntp._background(r)
res["after_end"] = r.clock.trusted
print(json.dumps(res))
""", config=server_lines(ts))
    assert res == {"in_config": False, "after_end": True}
    assert len(ts.requests) == 1


def test_refused_resync_is_logged_once_and_clock_kept(ts, tmp_path):
    # after the first sync the server turns a year back (the host flips it when
    # the board says so): resyncs are refused by the floor, the clock runs on
    def flip():
        for _ in range(400):
            if (tmp_path / "synced").exists():
                ts.set_offset(-365 * 86400)
                (tmp_path / "go").write_text("")
                return
            time.sleep(0.05)

    flipper = threading.Thread(target=flip)
    flipper.start()
    res = port(tmp_path, """
import os
ntp._background(r)
res["first"] = r.clock.trusted
open(%r, "w").close()
for i in range(400):
    try:
        os.stat(%r)
        break
    except OSError:
        time.sleep(0.05)
before = r.clock.now()
for i in range(2):
    st.next_ms = None
    ntp._background(r)
res["moved"] = r.clock.now() - before
res["trusted"] = r.clock.trusted
res["syncs"] = r.clock.syncs
res["logs"] = logs
res["status"] = s.execute("show ntp status")
print(json.dumps(res))
""" % (str(tmp_path / "synced"), str(tmp_path / "go")), config=server_lines(ts))
    flipper.join()
    assert res["first"] and res["trusted"] and res["syncs"] == 1
    assert 0 <= res["moved"] < 3, res
    refused = [x for x in res["logs"] if "%NTP-3-FLOOR" in x]
    assert len(refused) == 1, res["logs"]  # the same refusal is not repeated
    assert "last sync refused: %NTP-3-FLOOR" in res["status"]
    assert len(ts.requests) == 3


def test_background_round_is_bounded_whatever_the_number_of_servers(tmp_path):
    silent = [TimeServer().start() for _ in range(5)]
    try:
        for server in silent:
            server.misbehave("silent")
        lines = ["configure terminal"] + ["ntp server 127.0.0.1 port %d" % x.port
                                          for x in silent] + ["end"]
        res = port(tmp_path, """
res["ms"] = timed(ntp._background, r)
res["trusted"] = r.clock.trusted
res["asked"] = [x.error for x in st.servers]
print(json.dumps(res))
""", config=lines)
    finally:
        for server in silent:
            server.stop()
    assert not res["trusted"]
    assert 1500 <= res["ms"] < 2600, res  # 2 s shared by five servers, not 5 s
    assert all(len(x.requests) == 1 for x in silent)
    assert all(re.search(r"no valid reply within 0\.(3\d*|4) s", e) for e in res["asked"]), res


def test_a_background_round_leaves_the_ntp_client_out_of_the_heap(ts, tmp_path):
    # the console drops upki.sntp after each round (it keeps no state); what
    # stays -- the chosen sample, the kiss-o'-death memory -- is the ntp and
    # clock modules' own, so nothing keeps sntp's code alive either
    res = port(tmp_path, """
import sys
cli._background(r)
res["trusted"] = r.clock.trusted
res["loaded"] = "upki.sntp" in sys.modules
smp = r.clock.last_sample
res["sample_is_clock_s"] = type(smp) is sys.modules["upki.clock"].Sample
res["server"] = smp.server
res["kissed"] = st.kissed
res["show"] = s.execute("show ntp status")
print(json.dumps(res))
""", config=server_lines(ts))
    assert res["trusted"], res
    assert not res["loaded"], "upki.sntp stayed loaded after the round"
    assert res["sample_is_clock_s"], res
    assert res["server"] == "127.0.0.1:%d" % ts.port
    assert res["kissed"] == {}
    assert "Clock is synchronized" in res["show"], res["show"]
