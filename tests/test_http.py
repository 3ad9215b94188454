# SPDX-License-Identifier: MIT
"""upki.http on the Unix port against `python3 -m http.server` (a real HTTP
server) and small misbehaving servers on 127.0.0.1: chunked bodies, truncated
bodies, a huge Content-Length, a slowloris, a server that never answers, a
garbage status line, redirect loops, oversized headers; streaming into a sink
in a 32 KB heap with the firmware as .mpy."""

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from host_tools.upki_host.mpybuild import build
from mpy import run_code, run_micropython


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture(scope="module")
def http_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("www")
    (d / "hello.txt").write_bytes(b"hello upki\n")
    big = os.urandom(300_000)
    (d / "big.bin").write_bytes(big)
    port = _free_port()
    p = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(d),
         str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port, hashlib.sha256(big).hexdigest()
    p.terminate()
    p.wait(5)


class Misbehaving:
    """A one-thread TCP server answering every connection with handler(conn)."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.stop = False
        self.requests = []
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(5)
            try:
                req = b""
                while b"\r\n\r\n" not in req:
                    got = conn.recv(4096)
                    if not got:
                        break
                    req += got
                head, _, rest = req.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                        while len(rest) < n:
                            rest += conn.recv(4096)
                self.requests.append((head, rest))
                self.handler(conn, self)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        self.stop = True
        self.t.join(2)
        self.sock.close()


def _serve(handler):
    return Misbehaving(handler)


def _req(code):
    return run_code("from upki import http\n" + code, timeout=60)


def _expect_error(port, path="/", timeout=3, max_size=65536, extra=""):
    out = _req(
        "try:\n"
        "    r = http.request('GET', 'http://127.0.0.1:%d%s', timeout=%s, max_size=%d%s)\n"
        "    print('NOERROR', r.status, r.length)\n"
        "except http.HTTPError as e:\n"
        "    print('ERR', e)\n" % (port, path, timeout, max_size, extra)
    )
    return out.strip()


def test_get_from_http_server(http_server):
    port, _ = http_server
    out = _req(
        "r = http.request('GET', 'http://127.0.0.1:%d/hello.txt')\n"
        "print(r.status, bytes(r.body), r.headers['content-length'], r.length)\n" % port
    )
    assert out.strip() == "200 b'hello upki\\n' 11 11"


def test_404_is_a_response_not_an_error(http_server):
    port, _ = http_server
    out = _req("print(http.request('GET', 'http://127.0.0.1:%d/nope').status)" % port)
    assert out.strip() == "404"


def test_stream_into_sink_hashes_whole_body(http_server):
    port, digest = http_server
    out = _req(
        "import hashlib\nfrom binascii import hexlify\nh = hashlib.sha256()\nsizes = []\n"
        "def sink(mv):\n    sizes.append(len(mv)); h.update(mv)\n"
        "r = http.request('GET', 'http://127.0.0.1:%d/big.bin', sink=sink, max_size=400000)\n"
        "print(r.body, r.length, max(sizes), hexlify(h.digest()).decode())\n" % port
    )
    body, length, biggest, hexd = out.split()
    assert body == "None" and length == "300000" and int(biggest) <= 1024
    assert hexd == digest


def test_cap_names_the_cap(http_server):
    port, _ = http_server
    assert _expect_error(port, "/big.bin") == (
        "ERR HTTP 127.0.0.1:%d: body of 300000 bytes exceeds the 65536-byte cap" % port
    )


def test_connection_refused_names_host_and_port():
    port = _free_port()
    expected = "ERR HTTP 127.0.0.1:%d: connect failed (connection refused)" % port
    assert _expect_error(port) == expected


def _chunked(body, size=7):
    parts = []
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        parts.append(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
    return b"".join(parts) + b"0\r\nX-Trailer: 1\r\n\r\n"


def test_chunked_body():
    body = bytes(range(256)) * 20
    srv = _serve(lambda c, s: c.sendall(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(body, 333)))
    try:
        out = _req(
            "import hashlib\nfrom binascii import hexlify\n"
            "r = http.request('GET', 'http://127.0.0.1:%d/x')\n"
            "print(r.length, hexlify(hashlib.sha256(r.body).digest()).decode())" % srv.port
        )
    finally:
        srv.close()
    assert out.split() == [str(len(body)), hashlib.sha256(body).hexdigest()]


def test_chunked_over_cap():
    body = b"x" * 5000
    srv = _serve(lambda c, s: c.sendall(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(body, 1000)))
    try:
        out = _expect_error(srv.port, max_size=3000)
    finally:
        srv.close()
    assert out == "ERR HTTP 127.0.0.1:%d: body exceeds the 3000-byte cap" % srv.port


def test_truncated_body():
    srv = _serve(lambda c, s: c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\nshort"))
    try:
        out = _expect_error(srv.port)
    finally:
        srv.close()
    assert out == "ERR HTTP 127.0.0.1:%d: body truncated at 5 of 1000 bytes" % srv.port


def test_huge_content_length_refused_before_reading():
    srv = _serve(lambda c, s: c.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nabc"))
    try:
        out = _expect_error(srv.port)
    finally:
        srv.close()
    assert "body of 99999999999 bytes exceeds the 65536-byte cap" in out


def test_body_without_length_capped():
    srv = _serve(lambda c, s: c.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"y" * 70000))
    try:
        out = _expect_error(srv.port)
    finally:
        srv.close()
    assert out == "ERR HTTP 127.0.0.1:%d: body exceeds the 65536-byte cap" % srv.port


def _slowloris(c, s):
    c.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(40):  # one byte every 0.1 s: each read succeeds, the whole never ends
        if s.stop:
            return
        c.sendall(b"X")
        time.sleep(0.1)


def test_slowloris_hits_the_overall_deadline():
    srv = _serve(_slowloris)
    try:
        t = time.monotonic()
        out = _expect_error(srv.port, timeout=1)
        took = time.monotonic() - t
    finally:
        srv.close()
    assert out == "ERR HTTP 127.0.0.1:%d: no complete answer within 1 s" % srv.port
    assert took < 3.5


def test_never_answers():
    srv = _serve(lambda c, s: time.sleep(2.5))
    try:
        out = _expect_error(srv.port, timeout=1)
    finally:
        srv.close()
    assert out == "ERR HTTP 127.0.0.1:%d: no complete answer within 1 s" % srv.port


@pytest.mark.parametrize("line", [b"SSH-2.0-OpenSSH_9.2\r\n\r\n", b"HTTP/1.1 2000 OK\r\n\r\n",
                                  b"\x00\x01\x02\r\n"])
def test_garbage_status_line(line):
    srv = _serve(lambda c, s: c.sendall(line))
    try:
        out = _expect_error(srv.port)
    finally:
        srv.close()
    assert out.startswith("ERR HTTP 127.0.0.1:%d: garbage status line" % srv.port)


def test_header_block_bounded():
    srv = _serve(lambda c, s: c.sendall(
        b"HTTP/1.1 200 OK\r\n" + b"X-Junk: " + b"a" * 100 + b"\r\n" + b"X-More: b\r\n" * 500))
    try:
        out = _expect_error(srv.port)
    finally:
        srv.close()
    assert out == "ERR HTTP 127.0.0.1:%d: header block longer than 4096 bytes" % srv.port


def test_redirect_followed_then_loop_refused(http_server):
    port, _ = http_server
    srv = _serve(lambda c, s: c.sendall(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/hello.txt\r\n\r\n" % port))
    loop = _serve(lambda c, s: c.sendall(b"HTTP/1.1 301 Moved\r\nLocation: /again\r\n\r\n"))
    try:
        out = _req("print(bytes(http.request('GET', 'http://127.0.0.1:%d/crl').body))" % srv.port)
        err = _expect_error(loop.port)
    finally:
        srv.close()
        loop.close()
    assert out.strip() == "b'hello upki\\n'"
    assert err == "ERR HTTP http://127.0.0.1:%d/again: more than 3 redirects" % loop.port
    assert len(loop.requests) == 4


def test_post_sends_body_and_headers():
    srv = _serve(lambda c, s: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    try:
        out = _req(
            "r = http.request('POST', 'http://127.0.0.1:%d/scep?operation=PKIOperation', "
            "body=b'\\x30\\x03abc', headers={'Content-Type': 'application/x-pki-message'})\n"
            "print(r.status, bytes(r.body))" % srv.port
        )
    finally:
        srv.close()
    assert out.strip() == "200 b'ok'"
    head, body = srv.requests[0]
    assert head.startswith(b"POST /scep?operation=PKIOperation HTTP/1.1\r\n")
    assert b"Content-Length: 5" in head and b"Content-Type: application/x-pki-message" in head
    assert body == b"\x30\x03abc"


def test_post_body_as_parts_is_sent_unjoined_and_the_list_cleared():
    srv = _serve(lambda c, s: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes"))
    try:
        out = _req(
            "parts = [b'\\x30\\x06', bytearray(b'ab'), memoryview(b'xcdx')[1:3], b'', b'ef']\n"
            "r = http.request('POST', 'http://127.0.0.1:%d/scep', body=parts)\n"
            "print(r.status, bytes(r.body), len(parts))\n"
            "r = http.request('POST', 'http://127.0.0.1:%d/scep', body=(b'tu', b'ple'))\n"
            "print(r.status, bytes(r.body))" % (srv.port, srv.port)
        )
    finally:
        srv.close()
    # the list is emptied once sent (the caller's message can go before the reply)
    assert out.strip().splitlines() == ["200 b'yes' 0", "200 b'yes'"]
    head, body = srv.requests[0]
    assert b"Content-Length: 8" in head
    assert body == b"\x30\x06abcdef"
    head, body = srv.requests[1]
    assert b"Content-Length: 5" in head and body == b"tuple"


def test_bad_urls():
    out = _req(
        "for u in ('https://x/', 'http://:80/', 'http://h:99999/', 'ldap://h/'):\n"
        "    try:\n        http.parse_url(u); print('accepted', u)\n"
        "    except http.HTTPError as e:\n        print(e)\n"
        "print(http.parse_url('http://[::1]:8080/a?b=c'))\n"
        "print(http.quote('a+b/c='), http.unquote('cn%3DLab%20CA'))\n"
    )
    lines = out.strip().splitlines()
    assert lines[0].startswith("unsupported URL 'https://x/'")
    assert lines[1] == "no host in URL 'http://:80/'"
    assert lines[2] == "bad port '99999' in URL 'http://h:99999/'"
    assert lines[3].startswith("unsupported URL 'ldap://h/'")
    assert lines[4] == "('::1', 8080, '/a?b=c')"
    assert lines[5] == "a%2Bb%2Fc%3D cn=Lab CA"


def test_streaming_in_40k_heap_as_mpy(http_server, tmp_path):
    # 300 KB through a 40 KB heap, most of which the .mpy code takes: the
    # smallest heap that passes is 32 KB, so 40 leaves room for the heap
    # layout to move with the paths (CI's differ from a developer's)
    port, digest = http_server
    build(tmp_path, keep_going=True)
    code = (
        "import gc, hashlib\nfrom binascii import hexlify\nfrom upki import http\n"
        "assert http.__file__.endswith('.mpy')\n"
        "h = hashlib.sha256()\ngc.collect()\n"
        "r = http.request('GET', 'http://127.0.0.1:%d/big.bin', sink=h.update, max_size=1<<20)\n"
        "print(r.length, hexlify(h.digest()).decode())\n" % port
    )
    r = run_micropython(["-c", code], heap="40k", timeout=60,
                        env={"MICROPYPATH": "%s:.frozen" % tmp_path})
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["300000", digest]
