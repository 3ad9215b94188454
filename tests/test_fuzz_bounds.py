# SPDX-License-Identifier: MIT
"""Resource bounds of the network readers (issue 9 point 4), on the Unix port
against loopback servers that never stop: an endless body streamed into a
sink in a 32 KB heap (firmware as .mpy), an endless run of one-byte chunks,
endless chunked trailers, an NTP server that floods every request with bad
replies, an NTP socket that poll calls readable with nothing to read, an LDAP
server that answers a search with references forever. Each ends within its
time bound, with a clear error or a bounded result."""

import socket
import threading
import time

from host_tools.upki_host.mpybuild import build
from mpy import run_code, run_micropython


class Endless:
    """A TCP server on 127.0.0.1 that writes head, then body_part until the
    client goes away (or 20 s pass)."""

    def __init__(self, head, body_part, read_first=True):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self.head, self.part, self.read_first = head, body_part, read_first
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        conn.settimeout(5)
        end = time.monotonic() + 20
        try:
            if self.read_first:
                conn.recv(65536)
            conn.sendall(self.head)
            while time.monotonic() < end:
                conn.sendall(self.part)
                self.sent += len(self.part)
        except OSError:
            pass
        finally:
            conn.close()
            self.sock.close()


def _timed(code, **kw):
    t = time.monotonic()
    out = run_code(code, **kw)
    return out.strip(), time.monotonic() - t


def test_endless_body_into_a_sink_in_a_32k_heap(tmp_path):
    build(tmp_path, keep_going=True)
    srv = Endless(b"HTTP/1.0 200 OK\r\n\r\n", b"z" * 4096)
    code = (
        "import gc\nfrom upki import http\nassert http.__file__.endswith('.mpy')\n"
        "n = [0]\ndef sink(mv):\n    n[0] += len(mv)\n"
        "gc.collect()\n"
        "try:\n"
        "    http.request('GET', 'http://127.0.0.1:%d/ca.crl', sink=sink, max_size=1 << 20,"
        " timeout=10)\n"
        "    print('NOERROR')\n"
        "except http.HTTPError as e:\n"
        "    print(n[0], e)\n" % srv.port
    )
    t = time.monotonic()
    r = run_micropython(["-c", code], heap="32k", timeout=60,
                        env={"MICROPYPATH": "%s:.frozen" % tmp_path})
    took = time.monotonic() - t
    assert r.returncode == 0, r.stdout + r.stderr
    delivered, msg = r.stdout.strip().split(" ", 1)
    assert msg == "HTTP 127.0.0.1:%d: body exceeds the 1048576-byte cap" % srv.port
    assert int(delivered) <= 1 << 20
    assert took < 10


def test_endless_one_byte_chunks_end_at_the_deadline_or_the_cap():
    srv = Endless(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\nx\r\n" * 64)
    out, took = _timed(
        "from upki import http\n"
        "try:\n"
        "    http.request('GET', 'http://127.0.0.1:%d/', timeout=2)\n"
        "    print('NOERROR')\n"
        "except http.HTTPError as e:\n"
        "    print(e)\n" % srv.port, timeout=60)
    assert out in ("HTTP 127.0.0.1:%d: no complete answer within 2 s" % srv.port,
                   "HTTP 127.0.0.1:%d: body exceeds the 65536-byte cap" % srv.port)
    assert took < 6


def test_endless_chunked_trailers_stop_after_32_lines():
    srv = Endless(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n",
                  b"X-Trailer: more\r\n" * 16)
    out, took = _timed(
        "from upki import http\n"
        "r = http.request('GET', 'http://127.0.0.1:%d/', timeout=5)\n"
        "print(r.status, r.body.decode())\n" % srv.port, timeout=60)
    assert out == "200 ok"
    assert took < 6


def test_ntp_flood_of_bad_replies_ends_at_the_timeout():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    port = s.getsockname()[1]
    stop = threading.Event()
    flooded = [0]

    def serve():
        while not stop.is_set():
            try:
                req, addr = s.recvfrom(512)
            except OSError:
                continue
            bad = bytearray(48)
            bad[0] = 0x24  # server mode, but the origin timestamp is not ours
            for _ in range(2000):
                if stop.is_set():
                    break
                s.sendto(bytes(bad), addr)
                flooded[0] += 1

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        out, took = _timed(
            "from upki import sntp\n"
            "try:\n"
            "    sntp.query('127.0.0.1', %d, timeout=1, retries=1)\n"
            "    print('NOERROR')\n"
            "except sntp.ClockError as e:\n"
            "    print(e)\n" % port, timeout=60)
    finally:
        stop.set()
        t.join(2)
        s.close()
    assert flooded[0] > 100
    assert out == ("NTP server 127.0.0.1:%d: no usable reply to 2 requests (origin timestamp "
                   "does not match our request (stale or forged reply))" % port)
    assert took < 4.5


# select.poll standing in for one that reports a datagram the kernel then drops (on
# Linux a UDP datagram with a bad checksum is seen by poll, then discarded by recvfrom):
# every poll says "readable" whether or not anything arrived
_LYING_POLL = """
import sys, time
import select as real

class Poll:
    calls = 0

    def __init__(self):
        self.p = real.poll()

    def register(self, s, mask):
        self.p.register(s, mask)

    def poll(self, timeout):
        Poll.calls += 1
        return [(None, real.POLLIN)]

class Select:
    poll = Poll
    POLLIN = real.POLLIN

sys.modules["select"] = Select  # what upki.sntp imports when it queries
from upki import sntp
t0 = time.ticks_ms()
try:
    sntp.query("127.0.0.1", %d, timeout=1, retries=1)
    print("NOERROR")
except sntp.ClockError as e:
    print(e)
print(time.ticks_diff(time.ticks_ms(), t0), Poll.calls > 2)
"""


def test_ntp_read_after_poll_never_blocks():
    """sntp.query reads only what poll reported, and never waits in the read: a poll
    that says readable with nothing to read (the server here never answers) is
    "no reply yet" until the deadline, not a recvfrom that blocks for ever."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))  # a server that reads and never answers
    port = s.getsockname()[1]
    try:
        out, took = _timed(_LYING_POLL % port, timeout=20)
    finally:
        s.close()
    error, line = out.splitlines()
    assert error == ("NTP server 127.0.0.1:%d: no usable reply to 2 requests (no valid "
                     "reply within 1 s)" % port), out
    ms, polled = line.split()
    assert 1900 <= int(ms) < 3000 and polled == "True", out
    assert took < 6


def _tlv(tag, body):
    n = len(body)
    return bytes([tag, n]) + body if n < 0x80 else bytes([tag, 0x82, n >> 8, n & 0xFF]) + body


def test_ldap_endless_references_stop_at_64_messages():
    bind = _tlv(0x30, b"\x02\x01\x01" + _tlv(0x61, b"\x0a\x01\x00\x04\x00\x04\x00"))
    ref = _tlv(0x30, b"\x02\x01\x02" + _tlv(0x73, _tlv(0x04, b"ldap://127.0.0.1/dc=x")))

    class LDAP(Endless):
        def _serve(self):
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(5)
            end = time.monotonic() + 20
            try:
                conn.recv(4096)
                conn.sendall(bind)
                conn.recv(4096)
                while time.monotonic() < end:
                    conn.sendall(ref * 32)
                    self.sent += 32
            except OSError:
                pass
            finally:
                conn.close()
                self.sock.close()

    srv = LDAP(b"", b"")
    out, took = _timed(
        "from upki import ldap\n"
        "try:\n"
        "    ldap.fetch('ldap://127.0.0.1:%d/cn%%3Da?cACertificate;binary', timeout=5)\n"
        "    print('NOERROR')\n"
        "except ldap.LDAPError as e:\n"
        "    print(e)\n" % srv.port, timeout=60)
    assert out == "LDAP 127.0.0.1:%d: too many answers to one search" % srv.port
    assert took < 6
