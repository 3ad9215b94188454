# SPDX-License-Identifier: MIT
"""upki.http's response reader (status line, headers, Content-Length, chunked
bodies, trailers, redirects) on whatever a server sends. The socket is a
stand-in that serves the input: the first byte sets how many bytes each recv
returns (so lines and chunk sizes split across reads) and whether the body
goes to a sink; the rest is the server's byte stream, replayed on every
connection (redirects). When the stream ends the connection is closed, or,
with bit 0x40, the read times out. Only HTTPError (a PKIError) may escape."""

import sys
import types

import common

with common.instrumented():
    from upki import http
    from upki.errors import PKIError

ALLOWED = (PKIError,)
MAX_SIZE = 4096


class _Sock:
    def __init__(self, stream, step, hang):
        self.stream = stream
        self.pos = 0
        self.step = step
        self.hang = hang
        self.sent = 0

    def settimeout(self, t):
        if t is not None and t <= 0:
            raise common.Finding("settimeout(%r)" % (t,))

    def connect(self, addr):
        pass

    def send(self, data):
        self.sent += len(data)
        return len(data)

    def recv(self, n):
        if self.pos >= len(self.stream):
            if self.hang:
                raise OSError(11)
            return b""
        out = self.stream[self.pos : self.pos + min(n, self.step)]
        self.pos += len(out)
        return out

    def close(self):
        pass


def _fake_socket(stream, step, hang):
    mod = types.ModuleType("socket")
    mod.SOCK_STREAM = 1
    mod.AF_INET = 2
    mod.getaddrinfo = lambda host, port, *a: [(2, 1, 0, "", ("127.0.0.1", port))]
    mod.socket = lambda *a: _Sock(stream, step, hang)
    return mod


def one(data):
    if not data:
        return
    sel = data[0]
    step = (sel & 0x3F) * 16 or 1
    stream = bytes(data[1:])
    use_sink = bool(sel & 0x80)
    got = []
    saved = sys.modules.get("socket")
    sys.modules["socket"] = _fake_socket(stream, step, bool(sel & 0x40))
    try:
        r = http.request("GET", "http://127.0.0.1:8080/ca.crl", timeout=5, max_size=MAX_SIZE,
                         sink=(lambda mv: got.append(len(mv))) if use_sink else None)
    except ALLOWED:
        return
    finally:
        if saved is not None:
            sys.modules["socket"] = saved
        else:
            del sys.modules["socket"]
    n = sum(got) if use_sink else len(r.body or b"")
    if n > MAX_SIZE or (not use_sink and r.body is not None and n != r.length):
        raise common.Finding("body of %d bytes (length %r) past the cap" % (n, r.length))
    if not 100 <= r.status <= 599 or not isinstance(r.headers, dict):
        raise common.Finding("bad response %r" % (r,))


if __name__ == "__main__":
    common.main(one)
