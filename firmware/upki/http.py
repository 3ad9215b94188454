# SPDX-License-Identifier: MIT
# A small HTTP/1.1 client over plain sockets, for CRL distribution points and
# SCEP: bounded everywhere (one deadline for the whole request, redirects and
# name lookups included; a cap on the header block and on the body; a few
# redirects at most), and able to
# hand the body to a sink chunk by chunk so a large CRL never sits in RAM.
# micropython-lib `requests` reads whole bodies and cannot cap them, hence
# this client.
#
#   r = http.request("GET", "http://127.0.0.1:8080/ca.crl", timeout=10,
#                    max_size=65536, sink=None)
#   r.status, r.reason, r.headers (lower-case names), r.body (bytes-like, or None
#   when a sink took it), r.length (body bytes delivered)
#
# A body to send may be bytes or a list/tuple of bytes-like parts, sent one
# after the other (Content-Length their sum): a DER message built as parts
# needs no joined copy.  A list is emptied once sent, so that a caller that
# hands over its only reference lets the message go before the reply is read.
import time

from micropython import const

from upki import net
from upki.errors import PKIError

_CHUNK = const(1024)
_GROW_STEP = const(2048)  # a body of unknown length grows by at most this
MAX_HEADER = const(4096)
MAX_REDIRECTS = const(3)


class HTTPError(PKIError):
    """A transfer that failed: says which host:port and what went wrong."""

    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


class Response:
    def __init__(self, status, reason, headers, body, length):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.length = length

    def __repr__(self):
        return "<HTTP %d %s, %d bytes>" % (self.status, self.reason, self.length)


def parse_url(url):
    """http://host[:port][/path[?query]] -> (host, port, path-with-query)."""
    if not url.startswith("http://"):
        raise HTTPError("unsupported URL %r (only http:// is spoken here)" % url)
    rest = url[7:]
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    j = hostport.find("#")
    if j >= 0:
        hostport = hostport[:j]
    j = path.find("#")
    if j >= 0:
        path = path[:j]
    if "@" in hostport:
        raise HTTPError("user information in URL %r is not supported" % url)
    port = 80
    if hostport.startswith("["):
        k = hostport.find("]")
        if k < 0:
            raise HTTPError("bad IPv6 host in URL %r" % url)
        host = hostport[1:k]
        tail = hostport[k + 1 :]
        if tail.startswith(":"):
            port = _port(tail[1:], url)
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = _port(p, url)
    else:
        host = hostport
    if not host:
        raise HTTPError("no host in URL %r" % url)
    return host, port, path


def _port(text, url):
    try:
        p = int(text)
    except ValueError:
        p = -1
    if not 0 < p < 65536:
        raise HTTPError("bad port %r in URL %r" % (text, url))
    return p


def quote(text, safe=""):
    """Percent-encode text (str or bytes) for a query value (RFC 3986 unreserved kept)."""
    if isinstance(text, str):
        text = text.encode()
    out = []
    for b in text:
        c = chr(b)
        if c.isalpha() and b < 128 or c.isdigit() or c in "-._~" or c in safe:
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def unquote(text):
    """Percent-decode a URL part to str (UTF-8)."""
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "%" and i + 2 < n:
            try:
                out.append(int(text[i + 1 : i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.extend(c.encode())
        i += 1
    return bytes(out).decode()


# ---------------------------------------------------------------- connection


class _Conn:
    """A socket held to an overall deadline (ticks_ms; default now + timeout)
    for the name lookup, connect and every send and read; reads at most
    _CHUNK bytes at a time. cache: the operation's name lookups (upki.net)."""

    def __init__(self, host, port, timeout, proto="HTTP", error=None, deadline=None, cache=None):
        import socket

        self.where = "%s:%d" % (host, port)
        self.proto = proto
        self.error = error or HTTPError
        self.timeout = timeout
        if deadline is None:
            deadline = time.ticks_add(time.ticks_ms(), int(timeout * 1000))
        self.deadline = deadline
        self.buf = b""
        self.mv = memoryview(self.buf)
        self.start = 0
        self.end = 0
        self.sock = None
        try:
            af, addr = net.address(host, port, deadline, cache, self._err)
        except OSError as e:
            raise self._err("cannot resolve host (%s)" % _errno(e))
        s = socket.socket(af, socket.SOCK_STREAM)
        self.sock = s
        try:
            self._wait()
            s.connect(addr)
        except OSError as e:
            self.close()
            raise self._err("connect failed (%s)" % _errno(e))
        except Exception:  # the deadline passed (self.error)
            self.close()
            raise

    def _wait(self):
        # the socket timeout is what is left of the deadline, never more
        left = time.ticks_diff(self.deadline, time.ticks_ms())
        if left <= 0:
            raise self._late()
        self.sock.settimeout(left / 1000)

    def _late(self):
        return self._err("no complete answer within %s s" % self.timeout)

    def _err(self, text):
        return self.error("%s %s: %s" % (self.proto, self.where, text))

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def send(self, data):
        mv = memoryview(data)
        try:
            while len(mv):
                self._wait()
                n = self.sock.send(mv)
                if not n:
                    raise OSError(32)
                mv = mv[n:]
        except OSError as e:
            if _timed_out(e):
                raise self._late()
            raise self._err("send failed (%s)" % _errno(e))

    def _fill(self):
        """Refill the buffer when it is empty; return False at end of stream."""
        self._wait()
        try:
            # recv, not readinto: a stream readinto waits for a full buffer
            data = self.sock.recv(_CHUNK)
        except OSError as e:
            if _timed_out(e):
                raise self._late()
            raise self._err("receive failed (%s)" % _errno(e))
        if data is None:  # non-blocking read with nothing there (MicroPython)
            raise self._late()
        n = len(data)
        self.buf = data
        self.mv = memoryview(data)
        self.start = 0
        self.end = n
        return n > 0

    def readline(self, limit, what):
        """One CRLF (or LF) terminated line without its terminator, at most limit bytes."""
        parts = []
        total = 0
        while True:
            if self.start == self.end and not self._fill():
                raise self._err("connection closed inside the %s" % what)
            i = self.buf.find(b"\n", self.start, self.end)
            stop = self.end if i < 0 else i + 1
            total += stop - self.start
            if total > limit:
                raise self._err("%s longer than %d bytes" % (what, limit))
            parts.append(bytes(self.mv[self.start : stop]))
            self.start = stop
            if i >= 0:
                line = b"".join(parts)
                return line[:-2] if line.endswith(b"\r\n") else line[:-1]

    def read_some(self, maximum):
        """A memoryview of up to maximum buffered bytes (refilling when empty);
        an empty one at end of stream."""
        if self.start == self.end and not self._fill():
            return self.mv[:0]
        n = min(maximum, self.end - self.start)
        out = self.mv[self.start : self.start + n]
        self.start += n
        return out


def _timed_out(e):
    code = e.args[0] if e.args else None
    return code in (11, 110, "timed out") or type(e).__name__ == "timeout"


def _errno(e):
    code = e.args[0] if e.args else None
    names = {111: "connection refused", 104: "connection reset", 113: "no route to host",
             110: "timed out", 11: "timed out", 101: "network unreachable", 32: "broken pipe",
             -2: "name not known", -3: "name lookup failed", 22: "bad address"}
    return names.get(code, "error %s" % (code,))


# ---------------------------------------------------------------- request


def request(method, url, body=None, headers=None, timeout=10, max_size=65536, sink=None,
            max_redirects=MAX_REDIRECTS, max_header=MAX_HEADER, log=None):
    """One HTTP exchange.  body: None, bytes, or a list/tuple of bytes-like
    parts sent one after the other (a list is cleared once sent, so the
    message is not held while the reply is read).  sink: None (body returned
    as bytes, at most max_size), or a callable / object with write() taking
    each body chunk (a memoryview, valid only during the call); max_size
    still caps the total.
    Redirects (301/302/303/307/308) are followed up to max_redirects times
    for GET; other statuses are returned as they are.  timeout (s) bounds the
    whole request, redirects included: each name lookup (made once per host),
    connect, send and read waits only for what is left of that one deadline."""
    deadline = time.ticks_add(time.ticks_ms(), int(timeout * 1000))
    cache = {}
    for hop in range(max_redirects + 1):
        r = _exchange(method, url, body, headers, timeout, max_size, sink, max_header, log,
                      (deadline, cache))
        if r[0] in (301, 302, 303, 307, 308) and method in ("GET", "HEAD"):
            loc = r[2].get("location")
            if not loc:
                raise HTTPError("HTTP %d from %s without a Location" % (r[0], url), r[0])
            if loc.startswith("/"):
                host, port, path = parse_url(url)
                loc = "http://%s:%d%s" % (host, port, loc)
            if log:
                log("redirected to %s" % loc)
            url = loc
            continue
        return Response(*r)
    raise HTTPError("HTTP %s: more than %d redirects" % (url, max_redirects))


def _exchange(method, url, body, headers, timeout, max_size, sink, max_header, log, dc):
    host, port, path = parse_url(url)
    if log:
        log("HTTP %s %s:%d%s" % (method, host, port, path))
    c = _Conn(host, port, timeout, "HTTP", None, *dc)
    try:
        hostfield = host if port == 80 else "%s:%d" % (host, port)
        if ":" in host:
            hostfield = "[%s]:%d" % (host, port)
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + hostfield,
                 "Connection: close", "User-Agent: upki"]
        parts = body if isinstance(body, (list, tuple)) else (body or b"",)
        if body is not None:
            n = 0
            for p in parts:
                n += len(p)
            lines.append("Content-Length: %d" % n)
        if headers:
            for k in headers:
                v = str(headers[k])
                if "\r" in v or "\n" in v or "\r" in k or "\n" in k:
                    raise HTTPError("HTTP header %s carries a line break" % k)
                lines.append("%s: %s" % (k, v))
        lines.append("\r\n")
        c.send("\r\n".join(lines).encode())
        for p in parts:
            c.send(p)
        if isinstance(body, list):
            body.clear()  # the caller's message can go before the reply comes
        body = parts = p = lines = None
        status, reason = _status_line(c, max_header)
        hdrs = {}
        used = 0
        while True:
            line = c.readline(max_header, "header block")
            used += len(line) + 2
            if used > max_header:
                raise c._err("header block longer than %d bytes" % max_header)
            if not line:
                break
            k, sep, v = line.partition(b":")
            if not sep:
                raise HTTPError("HTTP %s: malformed header line %r" % (c.where, bytes(line[:40])))
            k = _text(k).strip().lower()
            v = _text(v).strip()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return status, reason, hdrs, (None if sink else b""), 0
        if status in (301, 302, 303, 307, 308):
            return status, reason, hdrs, None, 0
        if hdrs.get("transfer-encoding", "identity").lower() not in ("identity",):
            if hdrs["transfer-encoding"].lower() != "chunked":
                raise HTTPError("HTTP %s: unsupported Transfer-Encoding %s" % (
                    c.where, hdrs["transfer-encoding"]))
            body_out, n = _read_chunked(c, max_size, sink)
        else:
            cl = hdrs.get("content-length")
            length = None
            if cl is not None:
                try:
                    length = int(cl)
                except ValueError:
                    length = -1
                if length < 0:
                    raise HTTPError("HTTP %s: bad Content-Length %r" % (c.where, cl))
                if length > max_size:
                    raise HTTPError("HTTP %s: body of %d bytes exceeds the %d-byte cap" % (
                        c.where, length, max_size))
            body_out, n = _read_body(c, length, max_size, sink)
        return status, reason, hdrs, body_out, n
    finally:
        c.close()


def _text(b):
    # Header text is UTF-8 or, as RFC 9110 5.5 allows (obs-text), bytes taken
    # one for one: a stray high byte is not worth refusing a CRL for.
    try:
        return b.decode()
    except UnicodeError:
        return "".join([chr(x) for x in b])


def _status_line(c, max_header):
    line = c.readline(256, "status line")
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3:
        raise HTTPError("HTTP %s: garbage status line %r" % (c.where, bytes(line[:40])))
    try:
        status = int(parts[1])
    except ValueError:
        status = 0
    if not 100 <= status <= 599:
        raise HTTPError("HTTP %s: garbage status line %r" % (c.where, bytes(line[:40])))
    reason = _text(parts[2]) if len(parts) > 2 else ""
    return status, reason


class _Collect:
    # One buffer, sized from Content-Length when there is one and grown (up to
    # the cap) otherwise: a server sending one-byte chunks must cost the
    # body's size in heap, not a bytes object per chunk (~30 times that), nor
    # a reallocation per chunk (bytearray.extend on MicroPython).  It doubles
    # up to _GROW_STEP, then grows by _GROW_STEP: doubling a large buffer
    # wants one piece twice its size beside it, which a fragmented heap lacks.
    def __init__(self, size, cap):
        self.buf = bytearray(min(size, cap))
        self.n = 0
        self.cap = cap

    def write(self, mv):
        need = self.n + len(mv)
        if need > len(self.buf):
            size = len(self.buf)
            size += min(size, _GROW_STEP) if size else _CHUNK
            grown = bytearray(min(max(need, size), max(need, self.cap)))
            grown[: self.n] = memoryview(self.buf)[: self.n]
            self.buf = grown
        self.buf[self.n : need] = mv
        self.n = need

    def body(self):
        # the buffer itself when it is exactly full (a Content-Length was
        # given): a copy would want the body's size again, beside it
        if self.n == len(self.buf):
            return self.buf
        return bytes(memoryview(self.buf)[: self.n])


def _deliver(sink):
    if sink is None:
        return None
    return sink.write if hasattr(sink, "write") else sink


def _read_body(c, length, max_size, sink):
    collect = _Collect(_CHUNK if length is None else length, max_size) if sink is None else None
    put = collect.write if collect else _deliver(sink)
    got = 0
    while length is None or got < length:
        want = _CHUNK if length is None else min(_CHUNK, length - got)
        mv = c.read_some(want)
        if not len(mv):
            if length is not None:
                raise c._err("body truncated at %d of %d bytes" % (got, length))
            break
        got += len(mv)
        if got > max_size:
            raise HTTPError("HTTP %s: body exceeds the %d-byte cap" % (c.where, max_size))
        put(mv)
    return (collect.body() if collect else None), got


def _read_chunked(c, max_size, sink):
    collect = _Collect(_CHUNK, max_size) if sink is None else None
    put = collect.write if collect else _deliver(sink)
    got = 0
    for _ in range(1 << 20):  # chunks; ends well before at the cap
        line = c.readline(64, "chunk size line")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            size = -1
        if size < 0:
            raise HTTPError("HTTP %s: bad chunk size %r" % (c.where, bytes(line[:20])))
        if size == 0:
            for _ in range(32):  # trailer lines
                if not c.readline(MAX_HEADER, "chunked trailer"):
                    break
            break
        if got + size > max_size:
            raise HTTPError("HTTP %s: body exceeds the %d-byte cap" % (c.where, max_size))
        left = size
        while left:
            mv = c.read_some(min(left, _CHUNK))
            if not len(mv):
                raise HTTPError("HTTP %s: body truncated inside a chunk" % c.where)
            left -= len(mv)
            put(mv)
        got += size
        if c.readline(2, "chunk terminator"):
            raise HTTPError("HTTP %s: missing CRLF after a chunk" % c.where)
    return (collect.body() if collect else None), got
