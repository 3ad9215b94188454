# SPDX-License-Identifier: MIT
"""Interop: the simulated board enrolls with micromdm's SCEP server (Debian `scep`),
a server nobody here wrote, over POST and over GET, and renews; `openssl verify`
accepts what it issued. micromdm's quirks are on the path: the reply's inner
envelope is single DES whatever was asked, its signer info names
sha1WithRSAEncryption, its encryptedContent is BER (constructed), and it has no
PENDING.
"""

import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509

import labca_peer
from conftest import require_command
from test_enroll_labca import (
    assert_issued_for_board,
    board_key,
    clock_line,
    fresh_image,
    openssl_verify,
    record,
    records,
    run_board,
)


class MicroMDM:
    def __init__(self, tmp_path):
        exe = require_command("scepserver")
        self.depot = tmp_path / "depot"
        subprocess.run([exe, "ca", "-init", "-depot", str(self.depot), "-keySize", "2048",
                        "-years", "10", "-organization", "upki interop", "-country", "DE"],
                       check=True, capture_output=True, timeout=60)
        self.port = labca_peer.free_port()
        self.log = open(tmp_path / "scepserver.log", "wb")
        # no bind-address option: it listens on every interface; we use 127.0.0.1 only
        self.proc = subprocess.Popen(
            [exe, "-depot", str(self.depot), "-port", str(self.port), "-challenge", "s3cret",
             "-allowrenew", "0", "-crtvalid", "365", "-debug"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.url = "http://127.0.0.1:%d/scep" % self.port
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(self.url + "?operation=GetCACaps", timeout=1) as r:
                    self.caps = r.read().decode()
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    pytest.fail("scepserver did not start:\n" + (tmp_path / "scepserver.log").read_text())
                time.sleep(0.05)

    def ca_cert(self):
        return x509.load_pem_x509_certificate((self.depot / "ca.pem").read_bytes())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def micromdm(tmp_path):
    server = MicroMDM(tmp_path)
    yield server
    server.stop()


class CapsFilter:
    """A loopback HTTP relay to a SCEP server that drops POST from GetCACaps (so the
    board must use GET) and passes everything else through unchanged."""

    def __init__(self, upstream, drop=("POSTPKIOperation", "SCEPStandard")):
        relay = self
        self.upstream = upstream
        self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                relay.seen.append(("GET", self.path))
                try:
                    with urllib.request.urlopen(upstream + self.path[self.path.index("?"):],
                                                timeout=10) as r:
                        status, body, ctype = r.status, r.read(), r.headers.get("Content-Type")
                except urllib.error.HTTPError as e:
                    status, body, ctype = e.code, e.read(), e.headers.get("Content-Type")
                if "operation=GetCACaps" in self.path:
                    body = b"\n".join(w for w in body.split(b"\n") if w.decode() not in drop)
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                relay.seen.append(("POST", self.path))
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/scep" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def mdm_lines(url):
    return [
        clock_line(), "conf t", "hostname r1", "ip domain-name lab.test",
        "crypto ca trustpoint mdm", " enrollment url " + url, " password s3cret",
        " serial-number none", " ip-address none", " exit",
        "crypto ca authenticate mdm", "yes", "crypto ca enroll mdm",
    ]


class _CA:
    def __init__(self, cert):
        self.ca_cert = cert


def test_enroll_by_post_then_renew(micromdm, tmp_path):
    assert "POSTPKIOperation" in micromdm.caps and "Renewal" in micromdm.caps
    img = fresh_image(tmp_path / "b.img")
    out = run_board(img, mdm_lines(micromdm.url) + ["end", "write memory"])
    assert "%CRYPTO-6-CERTRET: Certificate received from Certificate Authority" in out, out
    ca = micromdm.ca_cert()
    first = assert_issued_for_board(record(img, "tp/mdm/cert"), _CA(ca))
    assert first.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value == "r1.lab.test"
    openssl_verify(tmp_path, record(img, "tp/mdm/cert"), [ca])

    # renewal: the CA offers Renewal, so a RenewalReq signed with the current certificate
    out = run_board(img, [clock_line(), "crypto ca enroll mdm", "yes", "show crypto ca certificates"])
    assert "% You already have a certificate" in out
    assert "%CRYPTO-6-CERTRET" in out, out
    second = assert_issued_for_board(record(img, "tp/mdm/cert"), _CA(ca))
    assert second.serial_number != first.serial_number
    assert "Certificate Serial Number: %X" % second.serial_number in out.replace(
        "Number: 0", "Number: ")
    openssl_verify(tmp_path, record(img, "tp/mdm/cert"), [ca])
    log = (tmp_path / "scepserver.log").read_text(errors="replace")
    assert 'scep_message_type="PKCSReq (19)"' in log
    assert 'scep_message_type="RenewalReq (17)"' in log


def test_enroll_by_get(micromdm, tmp_path):
    relay = CapsFilter(micromdm.url)
    try:
        img = fresh_image(tmp_path / "b.img")
        out = run_board(img, mdm_lines(relay.url))
    finally:
        relay.stop()
    assert "%CRYPTO-6-CERTRET" in out, out
    ops = [p for m, p in relay.seen if "PKIOperation" in p]
    assert ops and all(m == "GET" for m, p in relay.seen), relay.seen
    # the message went as percent-encoded base64 (an unescaped '+' gets HTTP 500 there)
    assert all("+" not in p for p in ops)
    ca = micromdm.ca_cert()
    assert_issued_for_board(record(img, "tp/mdm/cert"), _CA(ca))
    openssl_verify(tmp_path, record(img, "tp/mdm/cert"), [ca])


def test_wrong_challenge_is_a_clear_failure(micromdm, tmp_path):
    img = fresh_image(tmp_path / "b.img")
    lines = [x.replace("password s3cret", "password wrong") for x in mdm_lines(micromdm.url)]
    out = run_board(img, lines)
    assert "%CRYPTO-6-CERTREJ: Certificate enrollment request was rejected by Certificate " \
           "Authority: badRequest" in out, out
    assert "tp/mdm/cert" not in records(img)
    assert board_key() is not None and os.path.exists(img)
