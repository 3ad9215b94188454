# SPDX-License-Identifier: MIT
"""Trusted time against chronyd on loopback (-x: it serves the host clock,
which is also the Unix port's clock, so the true offset is known).

offset accuracy: |offset error| of single upki.sntp exchanges, with the
port's own clock (true offset 0) and with a board clock started in 2000 (true
offset = host time - board time); sync time: one exchange, unauthenticated
and per MAC type, and a whole upki.ntp round (query, majority, floor write)
with one and with three servers."""

import shutil
import sys
import tempfile
from pathlib import Path

TITLE = "time"
N = 25
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

PORT = """
import json, time
from upki import sntp
port = %(port)d
keys = %(keys)r
def ms(t0):
    return time.ticks_diff(time.ticks_us(), t0) / 1000
out = {"err0": [], "err2000": [], "delay": []}
for i in range(%(n)d):
    s = sntp.query("127.0.0.1", port, timeout=1)
    out["err0"].append(abs(s.offset_us) / 1000)
    out["delay"].append(s.delay_us / 1000)
for i in range(%(n)d):
    real = time.time_ns() // 1000
    t0 = time.ticks_us()
    now = lambda: 946684800000000 + time.ticks_diff(time.ticks_us(), t0)
    s = sntp.query("127.0.0.1", port, timeout=1, now=now)
    out["err2000"].append(abs(s.offset_us - (real - 946684800000000)) / 1000)
for name, (kid, alg, hexkey) in [("none", (None, None, None))] + sorted(keys.items()):
    key = None if kid is None else (kid, alg, bytes.fromhex(hexkey))
    t = []
    for i in range(%(n)d):
        t0 = time.ticks_us()
        sntp.query("127.0.0.1", port, key=key, timeout=1)
        t.append(ms(t0))
    out["query_" + name] = t
print(json.dumps(out))
"""

ROUND = """
import json, time
from upki import cli, ntp
cli.load_features()  # the NTP commands (cli_ntp), as a board boots
from upki.config import Router
class Board:
    name = "bench"
    flash_root = %(root)r
    def __init__(self):
        self.base = 946684800.0
        self.t0 = time.ticks_us()
    def rtc_time(self):
        return self.base + time.ticks_diff(time.ticks_us(), self.t0) / 1e6
    def set_rtc(self, t):
        self.base = t
        self.t0 = time.ticks_us()
    def unique_id(self):
        return b"bench123"
out = {}
for servers in (1, 3):
    t = []
    for i in range(%(n)d):
        r = Router(Board())
        s = cli.Session(r)
        s.execute("configure terminal")
        s.execute("ntp authentication-key 11 sha1 %(sha1)s")
        s.execute("ntp trusted-key 11")
        # chronyd under two names and the lab time server: three exchanges, one majority
        for addr, port in (("127.0.0.1", %(port)d), ("localhost", %(port)d),
                           ("127.0.0.1", %(lab)d))[:servers]:
            s.execute("ntp server %%s port %%d key 11" %% (addr, port))
        s.execute("end")
        t0 = time.ticks_us()
        ntp.sync_round(r, 1, 0)
        t.append(time.ticks_diff(time.ticks_us(), t0) / 1000)
        assert r.clock.trusted
        assert [x.error for x in ntp.state(r).servers] == [None] * servers
    out["round_%%d" %% servers] = t
print(json.dumps(out))
"""

HEAP = """
import gc, time
from upki import cli, ntp
cli.load_features()  # the NTP commands (cli_ntp), as a board boots
from upki.config import Router
class Board:
    name = "bench"
    flash_root = %(root)r
    def __init__(self):
        self.base = 946684800.0
        self.t0 = time.ticks_ms()
    def rtc_time(self):
        return self.base + time.ticks_diff(time.ticks_ms(), self.t0) / 1000
    def set_rtc(self, t):
        self.base = t
        self.t0 = time.ticks_ms()
    def unique_id(self):
        return b"bench123"
r = Router(Board())
s = cli.Session(r)
for line in ("configure terminal", "ntp authentication-key 11 sha1 %(sha1)s",
             "ntp trusted-key 11", "ntp authenticate",
             "ntp server 127.0.0.1 port %(port)d key 11", "end"):
    s.execute(line)
gc.collect()
ntp.sync_round(r, 1, 0)
s.execute("show ntp associations")
s.execute("show ntp status")
print("OK" if r.clock.trusted else "untrusted")
"""


def run(ctx):
    import chrony_peer

    chronyd = shutil.which("chronyd") or shutil.which("chronyd", path="/usr/sbin:/sbin")
    if not chronyd:
        raise RuntimeError("chronyd is missing: make setup installs the Debian package chrony")
    with tempfile.TemporaryDirectory(prefix="upki-bench-chrony-") as d:
        with chrony_peer.running(Path(d) / "chrony", chronyd) as peer:
            keys = {name: (kid, alg, key.hex()) for name, (kid, alg, key) in peer.keys.items()}
            r = ctx.micropython_json(PORT % {"port": peer.port, "keys": keys, "n": N})
            root = Path(d) / "flash"
            root.mkdir()
            from host_tools.upki_host.timeserver import TimeServer

            kid, _alg, key = peer.keys["sha1"]
            with TimeServer(keys={kid: ("sha1", key)}) as lab:
                rounds = ctx.micropython_json(ROUND % {
                    "port": peer.port, "lab": lab.port, "n": 9, "root": str(root),
                    "sha1": key.hex()})
            boots = board_boots(Path(d), peer)
            heap_kb = ctx.smallest_heap(HEAP % {"port": peer.port, "root": str(root),
                                                "sha1": peer.keys["sha1"][2].hex()}, 48, 192)
    med = ctx.median
    ctx.report("|offset error|, port clock, median", med(r["err0"]), "ms", "%d exchanges" % N)
    ctx.report("|offset error|, port clock, max", max(r["err0"]), "ms")
    ctx.report("|offset error|, board clock in 2000, median", med(r["err2000"]), "ms",
               "true offset ~26 years")
    ctx.report("|offset error|, board clock in 2000, max", max(r["err2000"]), "ms")
    ctx.report("round-trip delay, median", med(r["delay"]), "ms")
    for name in ("none", "sha1", "md5", "sha256", "aes128cmac"):
        ctx.report("one exchange (%s), median" % name, med(r["query_" + name]), "ms")
    ctx.report("sync round, 1 server (sha1), median", med(rounds["round_1"]), "ms",
               "query + majority + floor write")
    ctx.report("sync round, 3 servers (sha1), median", med(rounds["round_3"]), "ms",
               "chronyd twice + lab time server")
    ctx.report("smallest heap: console + ntp, one sync round", heap_kb, "KB",
               "firmware as .mpy (frozen needs less)")
    ctx.report("board boot to prompt, no NTP, median", med(boots["plain"]), "ms",
               "simulated board, %d boots" % BOOTS)
    ctx.report("board boot to prompt, NTP sync (sha1), median", med(boots["ntp"]), "ms",
               "the clock trusted before the console opens")


BOOTS = 7


def board_boots(d, peer):
    """Wall time of booting the simulated board to its prompt and exiting,
    without and with an authenticated NTP server in startup-config."""
    import subprocess
    import time

    from mpy import BOARD_RUN, mpy_env

    kid, _alg, key = peer.keys["sha1"]
    config = {
        "plain": [],
        "ntp": ["ntp authentication-key %d sha1 %s" % (kid, key.hex()), "ntp trusted-key %d" % kid,
                "ntp authenticate", "ntp server 127.0.0.1 port %d key %d" % (peer.port, kid)],
    }
    out = {}
    for name, lines in config.items():
        img = d / ("%s.img" % name)
        script = "\n".join(["configure terminal"] + lines + ["end", "write memory", ""])
        r = subprocess.run([str(BOARD_RUN), str(img)], input=script, capture_output=True,
                           text=True, timeout=120, env=mpy_env())
        if r.returncode:
            raise RuntimeError("board setup failed:\n" + r.stdout + r.stderr)
        times = []
        for _ in range(BOOTS):
            t0 = time.perf_counter()
            r = subprocess.run([str(BOARD_RUN), str(img)], input="show clock\n",
                               capture_output=True, text=True, timeout=120, env=mpy_env())
            times.append((time.perf_counter() - t0) * 1000)
            trusted = "\n*" not in r.stdout.split("#show clock")[1]
            if trusted != (name == "ntp"):
                raise RuntimeError("unexpected clock state after boot:\n" + r.stdout)
        out[name] = times
    return out
