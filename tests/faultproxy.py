# SPDX-License-Identifier: MIT
"""A small fault-injecting proxy on 127.0.0.1 for the network-fault campaign (issue 9).

    with FaultProxy(("127.0.0.1", upstream_port), "tcp") as p:   # or "udp"
        p.port                       # where the board connects instead
        p.set_fault("truncate")      # every connection/datagram from now on
        p.schedule(["drop", None])   # the next two; then `default` (None: pass through)
        p.events                     # [(fault or None, detail)] one per connection/datagram

Faults (TCP: per connection, applied to the upstream's reply; UDP: per request datagram):

    None / "pass"   forward unchanged
    "drop"          TCP: close the client connection at once, nothing read or sent;
                    UDP: the request is never forwarded (no reply)
    "delay:S"       hold the reply S seconds, then forward it whole
    "hang"          TCP: read the request, never answer (the connection stays open
                    until the client gives up or the proxy stops); UDP: as drop
    "truncate"      forward the first half of the reply, then close (UDP: half a datagram)
    "truncate:N"    forward the first N bytes of the reply, then close
    "corrupt"       flip bytes of the reply: one in every 7 of its second half (so an
                    HTTP status line and headers stay readable and the body is damaged)
    "trickle:S"     TCP: the reply one byte every S seconds (default 0.05): a slow
                    server that never stops answering, for overall deadlines
    "reset"         TCP: read the request, then abort with a RST (SO_LINGER 0);
                    UDP: reply with nothing at all (as drop)

A TCP fault applies to the first burst of the reply: read to the upstream's end (the
HTTP servers here close after each answer) or to a pause of BURST_PAUSE s (an LDAP
server keeps its connection for the next operation), capped at MAX_REPLY bytes; what
follows passes unchanged.
"""

import contextlib
import socket
import struct
import threading
import time

MAX_REPLY = 4 * 1024 * 1024
IO_TIMEOUT = 30
BURST_PAUSE = 0.3


def corrupt(data):
    b = bytearray(data)
    start = len(b) // 2
    for i in range(start, len(b), 7):
        b[i] ^= 0x5A
    return bytes(b)


class FaultProxy:
    def __init__(self, upstream, proto="tcp", default=None):
        self.upstream = upstream  # (host, port); may be set after start
        self.proto = proto
        self.default = default
        self._queue = []
        self.events = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._conns = []
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        if proto == "tcp":
            self.sock.listen(16)
        self.sock.settimeout(0.2)
        self._thread = None

    # ---- the schedule

    def set_fault(self, fault):
        """Apply fault to every connection/datagram from now on (None: pass through)."""
        with self.lock:
            self._queue = []
            self.default = fault

    def schedule(self, faults):
        """Apply faults[0] to the next connection/datagram, faults[1] to the one after...;
        then the default."""
        with self.lock:
            self._queue = list(faults)

    def _next(self, detail=""):
        with self.lock:
            fault = self._queue.pop(0) if self._queue else self.default
            if fault == "pass":
                fault = None
            self.events.append((fault, detail))
            return fault

    def count(self):
        with self.lock:
            return len(self.events)

    # ---- running

    def start(self):
        target = self._serve_tcp if self.proto == "tcp" else self._serve_udp
        self._thread = threading.Thread(target=target, name="faultproxy", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        for c in list(self._conns):
            with contextlib.suppress(OSError):
                c.close()
        self.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _sleep(self, seconds):
        return self._stop.wait(seconds)

    # ---- TCP

    def _serve_tcp(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self._conns.append(conn)
            fault = self._next("tcp")
            threading.Thread(target=self._tcp_one, args=(conn, fault), daemon=True).start()

    def _read_request(self, conn):
        """The client's request: what arrives until it pauses (HTTP and LDAP clients
        send a whole request, then wait for the answer)."""
        conn.settimeout(IO_TIMEOUT)
        data = b""
        chunk = conn.recv(65536)
        while chunk:
            data += chunk
            conn.settimeout(0.15)
            try:
                chunk = conn.recv(65536)
            except (TimeoutError, socket.timeout):
                break
        conn.settimeout(IO_TIMEOUT)
        return data

    def _tcp_one(self, conn, fault):
        try:
            if fault == "drop":
                conn.close()
                return
            kind, _, arg = (fault or "").partition(":")
            if kind == "hang":
                self._read_request(conn)
                while not self._stop.is_set():
                    try:
                        conn.settimeout(0.2)
                        if not conn.recv(4096):
                            break
                    except (TimeoutError, socket.timeout):
                        continue
                conn.close()
                return
            if kind == "reset":
                self._read_request(conn)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            up = socket.create_connection(self.upstream, timeout=IO_TIMEOUT)
            try:
                self._relay(conn, up, kind, arg)
            finally:
                up.close()
        except OSError:
            pass
        finally:
            # shutdown first: a close() alone sends no FIN while the pump thread is in recv()
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def _relay(self, conn, up, kind, arg):
        # client -> upstream as it comes, in a thread; the reply back, with the fault
        def pump():
            try:
                conn.settimeout(IO_TIMEOUT)
                while True:
                    data = conn.recv(65536)
                    if not data:
                        with contextlib.suppress(OSError):
                            up.shutdown(socket.SHUT_WR)
                        return
                    up.sendall(data)
            except OSError:
                return

        threading.Thread(target=pump, daemon=True).start()
        up.settimeout(IO_TIMEOUT)
        if kind == "":
            self._stream(up, conn)
            return
        # the first burst of the reply (to the upstream's end, or a pause of BURST_PAUSE
        # s: an LDAP server keeps its connection), with the fault; the rest as it comes
        reply = b""
        while len(reply) < MAX_REPLY:
            try:
                data = up.recv(65536)
            except (TimeoutError, socket.timeout):
                break
            except OSError:
                break
            if not data:
                break
            reply += data
            up.settimeout(BURST_PAUSE)
        up.settimeout(IO_TIMEOUT)
        if kind == "delay":
            if self._sleep(float(arg or 1)):
                return
        elif kind == "truncate":
            conn.sendall(reply[: int(arg) if arg else len(reply) // 2])
            return
        elif kind == "corrupt":
            reply = corrupt(reply)
        elif kind == "trickle":
            step = float(arg or 0.05)
            while reply:
                for i in range(len(reply)):
                    if self._sleep(step):
                        return
                    conn.sendall(reply[i:i + 1])
                try:
                    reply = up.recv(65536)  # what follows (LDAP's next answers), as slowly
                except OSError:
                    return
            return
        conn.sendall(reply)
        self._stream(up, conn)

    def _stream(self, up, conn):
        while True:
            try:
                data = up.recv(65536)
            except OSError:
                return
            if not data:
                return
            conn.sendall(data)

    # ---- UDP

    def _serve_udp(self):
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.bind(("127.0.0.1", 0))
        up.settimeout(2)
        while not self._stop.is_set():
            try:
                data, client = self.sock.recvfrom(2048)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                break
            fault = self._next("udp %d bytes" % len(data))
            kind, _, arg = (fault or "").partition(":")
            if kind in ("drop", "hang", "reset"):
                continue
            try:
                up.sendto(data, self.upstream)
                reply, _ = up.recvfrom(2048)
            except OSError:
                continue
            if kind == "delay":
                threading.Thread(target=self._late, args=(reply, client, float(arg or 1)),
                                 daemon=True).start()
                continue
            if kind == "truncate":
                reply = reply[: int(arg) if arg else len(reply) // 2]
            elif kind == "corrupt":
                reply = corrupt(reply)
            with contextlib.suppress(OSError):
                self.sock.sendto(reply, client)
        up.close()

    def _late(self, reply, client, seconds):
        if not self._sleep(seconds):
            with contextlib.suppress(OSError):
                self.sock.sendto(reply, client)


def wait_port(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False
