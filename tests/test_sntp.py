# SPDX-License-Identifier: MIT
# upki.sntp on the Unix port against a real chronyd (PEERS.md) and against a
# scripted fake server that forges, truncates, kisses and stays silent.
import json
import socket
import struct
import threading
import time

import pytest

import chrony_peer
from conftest import require_command
from mpy import run_json

NTP_UNIX = 2208988800


@pytest.fixture(scope="module")
def chrony(tmp_path_factory):
    path = require_command("chronyd")
    with chrony_peer.running(tmp_path_factory.mktemp("chrony"), path) as peer:
        yield peer


_QUERY = """
import json, time
from upki import sntp
from upki.errors import ClockError
out = []
KISSED = {}  # the kiss-o'-death memory, kept across the queries as upki.ntp keeps it
for kw in json.loads(%r):
    kw = dict(kw)
    if kw.pop('board_2000', False):
        real = time.time_ns() // 1000
        t0 = time.ticks_us()
        kw['now'] = lambda: 946684800000000 + time.ticks_diff(time.ticks_us(), t0)
        expect = real - 946684800000000
    elif kw.pop('float_now', False):
        kw['now'] = time.time
        expect = 0
    else:
        expect = 0
    if 'key' in kw:
        kw['key'] = (kw['key'][0], kw['key'][1], bytes.fromhex(kw['key'][2]))
    if kw.pop('reset', False):
        sntp.reset(KISSED)
    start = time.ticks_us()
    try:
        s = sntp.query(kissed=KISSED, **kw)
        r = {'offset_us': s.offset_us, 'delay_us': s.delay_us, 'stratum': s.stratum,
             'refid': s.refid, 'leap': s.leap, 'key_id': s.key_id, 'server': s.server,
             'expect': expect}
    except ClockError as e:
        r = {'error': e.reason, 'message': str(e), 'kiss': e.kiss}
    r['elapsed_us'] = time.ticks_diff(time.ticks_us(), start)
    out.append(r)
print(json.dumps(out))
"""


def port_queries(*queries):
    """Run sntp.query(**kw) for each kw in one MicroPython process; return results."""
    qs = []
    for q in queries:
        q = dict(q)
        if "key" in q:
            q["key"] = [q["key"][0], q["key"][1], q["key"][2].hex()]
        qs.append(q)
    return run_json(_QUERY % json.dumps(qs), timeout=60)


def port_query(**kw):
    return port_queries(kw)[0]


# --- against chrony ---


def test_chrony_unauthenticated(chrony):
    r = port_query(addr="127.0.0.1", port=chrony.port, timeout=1)
    assert "error" not in r, r
    assert r["stratum"] == 8 and r["refid"] == "127.127.1.1" and r["leap"] == 0
    assert r["key_id"] is None
    assert r["server"] == "127.0.0.1:%d" % chrony.port
    # chronyd -x serves the host clock, which is also the port's clock
    assert abs(r["offset_us"]) < 20000, r
    assert 0 <= r["delay_us"] < 50000, r


@pytest.mark.parametrize("name", ["sha1", "md5", "aes128cmac", "sha256"])
def test_chrony_authenticated(chrony, name):
    key = chrony.keys[name]
    r = port_query(addr="127.0.0.1", port=chrony.port, key=key, timeout=1)
    assert "error" not in r, r
    assert r["key_id"] == key[0]
    assert abs(r["offset_us"]) < 20000, r


def test_chrony_wrong_secret_gets_no_reply(chrony):
    kid, alg, secret = chrony.keys["sha1"]
    bad = bytes(b ^ 0xFF for b in secret)
    r = port_query(addr="127.0.0.1", port=chrony.port, key=(kid, alg, bad), timeout=0.3, retries=1)
    assert "no usable reply to 2 requests" in r["error"], r
    assert "no valid reply within 0.3 s" in r["error"]
    assert 550000 <= r["elapsed_us"] < 1500000, r


def test_chrony_unknown_key_and_wrong_algorithm_get_no_reply(chrony):
    kid, alg, secret = chrony.keys["aes128cmac"]
    rs = port_queries(
        dict(addr="127.0.0.1", port=chrony.port, key=(4242, alg, secret), timeout=0.3, retries=0),
        # the right id and secret under the wrong MAC algorithm
        dict(addr="127.0.0.1", port=chrony.port, key=(kid, "md5", secret), timeout=0.3, retries=0),
    )
    for r in rs:
        assert "no usable reply to 1 request " in r["error"], r
        assert r["elapsed_us"] < 1000000


def test_chrony_offset_for_a_board_in_2000(chrony):
    r, f = port_queries(
        dict(addr="127.0.0.1", port=chrony.port, key=chrony.keys["sha1"], board_2000=True),
        dict(addr="127.0.0.1", port=chrony.port, float_now=True),
    )
    assert "error" not in r, r
    # 26 years and some, to within a few milliseconds
    assert r["offset_us"] > 25 * 365 * 86400 * 10**6
    assert abs(r["offset_us"] - r["expect"]) < 20000, r
    assert abs(f["offset_us"]) < 20000, f


# --- against a scripted fake server ---


def ntp_ts(t):
    sec = int(t)
    return struct.pack(">II", (sec + NTP_UNIX) & 0xFFFFFFFF, int((t - sec) * 2**32))


def make_reply(req, leap=0, stratum=3, refid=b"\x0a\x00\x00\x01", mode=4, origin=None, mac=None):
    now = time.time()
    pkt = bytearray(48)
    pkt[0] = (leap << 6) | (4 << 3) | mode
    pkt[1] = stratum
    pkt[12:16] = refid
    pkt[16:24] = ntp_ts(now - 10)
    pkt[24:32] = req[40:48] if origin is None else origin
    pkt[32:40] = ntp_ts(now)
    pkt[40:48] = ntp_ts(now)
    if mac:
        pkt += mac(bytes(pkt))
    return bytes(pkt)


class FakeServer:
    """UDP server on 127.0.0.1; handler(req) -> list of (packet, use_other_socket)."""

    def __init__(self, handler):
        self.handler = handler
        self.requests = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                req, addr = self.sock.recvfrom(512)
            except OSError:
                continue
            self.requests.append(req)
            for pkt, other in self.handler(req):
                (self.other if other else self.sock).sendto(pkt, addr)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
        self.other.close()


@pytest.fixture
def fake():
    servers = []

    def start(handler):
        s = FakeServer(handler)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def q(server, **kw):
    kw.setdefault("timeout", 0.3)
    kw.setdefault("retries", 0)
    return dict(addr="127.0.0.1", port=server.port, **kw)


def test_fake_good_reply_accepted(fake):
    srv = fake(lambda req: [(make_reply(req), False)])
    r = port_query(**q(srv))
    assert "error" not in r and r["stratum"] == 3 and r["refid"] == "10.0.0.1", r


def test_reply_from_another_port_refused(fake):
    srv = fake(lambda req: [(make_reply(req), True)])
    r = port_query(**q(srv))
    assert "unexpected address 127.0.0.1:" in r["error"], r


def test_forgery_ignored_when_genuine_reply_follows(fake):
    def handler(req):
        return [
            (make_reply(req, refid=b"EVIL"), True),  # from elsewhere
            (make_reply(req, origin=b"12345678"), False),  # stale origin
            (make_reply(req)[:30], False),  # truncated
            (make_reply(req), False),  # the real one
        ]

    srv = fake(handler)
    r = port_query(**q(srv))
    assert "error" not in r and r["refid"] == "10.0.0.1", r


@pytest.mark.parametrize(
    "kw, reason",
    [
        (dict(origin=bytes(8)), "origin timestamp does not match"),
        (dict(leap=3), "leap indicator 3"),
        (dict(stratum=16), "stratum 16"),
        (dict(mode=3), "mode 3"),
        (dict(mode=5), "mode 5"),
    ],
)
def test_fake_bad_replies_refused(fake, kw, reason):
    srv = fake(lambda req: [(make_reply(req, **kw), False)])
    r = port_query(**q(srv))
    assert reason in r["error"], r
    assert r["elapsed_us"] < 1000000


def test_echoed_request_refused(fake):
    srv = fake(lambda req: [(req, False)])  # a reflector: mode 3, origin zero
    r = port_query(**q(srv))
    assert "mode 3" in r["error"], r


def test_truncated_and_oversized_refused(fake):
    srv = fake(lambda req: [(make_reply(req)[:47], False)])
    assert "short packet (47 bytes" in port_query(**q(srv))["error"]
    srv = fake(lambda req: [(make_reply(req) + bytes(400), False)])
    assert "oversized packet" in port_query(**q(srv))["error"]


def test_unauthenticated_reply_refused_when_key_required(fake):
    srv = fake(lambda req: [(make_reply(req), False)])
    r = port_query(**q(srv, key=(5, "sha1", b"k" * 20)))
    assert "unauthenticated reply, key 5 required" in r["error"], r
    assert len(srv.requests[0]) == 48 + 4 + 20


def test_kiss_deny_stops_queries(fake):
    srv = fake(lambda req: [(make_reply(req, stratum=0, refid=b"DENY"), False)])
    first, second, third = port_queries(q(srv, retries=2), q(srv), q(srv, reset=True))
    assert first["kiss"] == "DENY" and "kiss-o'-death DENY" in first["error"], first
    assert second["kiss"] == "DENY" and "not asking it again" in second["error"], second
    assert second["elapsed_us"] < 50000
    assert third["kiss"] == "DENY"
    # the kiss ended the first query at once (no retries); the second sent nothing
    assert len(srv.requests) == 2


def test_kiss_rstr_stops_queries(fake):
    srv = fake(lambda req: [(make_reply(req, stratum=0, refid=b"RSTR"), False)])
    first, second = port_queries(q(srv), q(srv))
    assert first["kiss"] == "RSTR" and "not asking it again" in second["error"]
    assert len(srv.requests) == 1


def test_kiss_rate_backs_off(fake):
    srv = fake(lambda req: [(make_reply(req, stratum=0, refid=b"RATE"), False)])
    first, second = port_queries(q(srv, retries=3), q(srv))
    assert first["kiss"] == "RATE", first
    assert "slow down" in second["error"] and "next try in 64 s" in second["error"], second
    assert len(srv.requests) == 1


def test_other_kiss_codes_are_just_refused(fake):
    srv = fake(lambda req: [(make_reply(req, stratum=0, refid=b"INIT"), False)])
    first, second = port_queries(q(srv), q(srv))
    assert "kiss-o'-death INIT" in first["error"]
    assert "kiss-o'-death INIT" in second["error"]
    assert len(srv.requests) == 2


def test_silent_server_bounded_retries(fake):
    srv = fake(lambda req: [])
    r = port_query(**q(srv, timeout=0.2, retries=2))
    assert "no usable reply to 3 requests" in r["error"], r
    assert 550000 <= r["elapsed_us"] < 1500000, r
    assert len(srv.requests) == 3
    # every retry carries a fresh random transmit timestamp
    assert len({req[40:48] for req in srv.requests}) == 3


def test_answer_to_an_earlier_attempt_refused(fake):
    # the server answers the first request only after the client gave up on it
    held = []

    def handler(req):
        out = [(make_reply(held[0]), False)] if held else []
        held.append(req)
        return out

    srv = fake(handler)
    r = port_query(**q(srv, timeout=0.2, retries=1))
    assert "origin timestamp" in r["error"], r
    assert len(srv.requests) == 2


def test_cpython_import_parses_and_signs(monkeypatch):
    # Host tools (the lab time server) may reuse the packet layer on CPython.
    import hashlib
    import sys
    from pathlib import Path

    from cryptography.hazmat.primitives.ciphers import algorithms
    from cryptography.hazmat.primitives.cmac import CMAC

    from mpy import FIRMWARE

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent / "shims"))
    monkeypatch.syspath_prepend(str(FIRMWARE))
    monkeypatch.delitem(sys.modules, "upki.sntp", raising=False)
    from upki import sntp

    req = bytearray(48)
    ts = sntp.build_request(req)
    pkt = make_reply(req)
    t = time.time_ns() // 1000
    s = sntp.parse_reply(pkt, ts, None, t, t + 100)
    assert abs(s.offset_us) < 1000000 and s.stratum == 3
    head = bytes(range(48))
    assert sntp.mac((1, "sha1", b"k"), head) == hashlib.sha1(b"k" + head).digest()
    assert sntp.mac((1, "md5", b"k"), head) == hashlib.md5(b"k" + head).digest()
    assert sntp.mac((1, "sha256", b"k"), head) == hashlib.sha256(b"k" + head).digest()[:20]
    c = CMAC(algorithms.AES(bytes(16)))
    c.update(head)
    assert sntp.mac((1, "aes128cmac", bytes(16)), head) == c.finalize()
