# SPDX-License-Identifier: MIT
"""The lab CA's HTTP service on 127.0.0.1: SCEP at /scep (and /cgi-bin/pkiclient.exe,
IOS's default path) and CRLs at /crl/ca.crl (and /crl/root.crl with a sub-CA).

State is re-read from the CA directory on every request, so `labca approve` from
another shell takes effect on the next poll. Every request is logged in one line.
"""

import base64
import binascii
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import serialization

from .ca import LabCA
from .scep import DEFAULT_CAPS, BadMessage, Responder, degenerate

SCEP_PATHS = ("/scep", "/cgi-bin/pkiclient.exe")
MAX_BODY = 1 << 20

# Forged replies a test can ask for (see the package docstring).
CMS_FORGERIES = (
    "bad-signature",
    "wrong-signer",
    "transaction-id",
    "recipient-nonce",
    "stale-nonce",
    "no-recipient-nonce",
    "message-type",
    "other-key",
    "foreign-ca",
)
HTTP_FORGERIES = (
    "garbage",
    "truncated",
    "short-read",
    "empty",
    "oversize",
    "http-500",
    "hang",
)
FORGERIES = CMS_FORGERIES + HTTP_FORGERIES


class LabCAServer:
    """SCEP + CRL over HTTP for one LabCA directory, in a background thread.

    caps: the GetCACaps list; manual: queue PKCSReqs for `approve` (PENDING meanwhile);
    challenge: the challenge password (None = none required); cdp_url: the CRL
    distribution point written into issued certificates (default: this server's
    /crl/ca.crl); days: validity of issued certificates; echo: print the log lines.
    """

    def __init__(
        self,
        directory,
        port=0,
        caps=DEFAULT_CAPS,
        manual=False,
        challenge=None,
        cdp_url=None,
        days=365,
        echo=False,
        hang_seconds=120.0,
        strict_caps=True,
    ):
        self.ca = directory if isinstance(directory, LabCA) else LabCA(directory)
        self.ca.state()  # fail now, with a clear message, when there is no CA there
        self.requested_port = port
        self.echo = echo
        self.hang_seconds = hang_seconds
        self.log = []  # one line per request
        self.responder = Responder(
            self.ca,
            caps=caps,
            challenge=challenge,
            manual=manual,
            days=days,
            cdp_url=cdp_url,
            strict_caps=strict_caps,
        )
        self._cdp_url = cdp_url
        self._forgeries = []  # [kind, operation, remaining or None]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = None
        self._thread = None

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self):
        self._stopping.clear()
        handler = type("Handler", (_Handler,), {"app": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.requested_port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        if self._cdp_url is None:
            self.responder.cdp_url = self.crl_url
        self.ca.set_serve_config(self.responder.cdp_url, self.responder.days)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self):
        self.start()
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self):
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- addresses ----------------------------------------------------------------------------

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def url(self):
        return self.base_url + "/scep"

    @property
    def crl_url(self):
        return self.base_url + "/crl/ca.crl"

    # ---- operator actions (the same as the CLI's) ---------------------------------------------

    def pending(self):
        return self.ca.pending()

    def approve(self, request_id):
        return self.ca.approve(request_id)

    def deny(self, request_id):
        return self.ca.deny(request_id)

    def revoke(self, serial, reason="unspecified"):
        return self.ca.revoke(serial, reason)

    @property
    def caps(self):
        return self.responder.caps

    @caps.setter
    def caps(self, caps):
        self.responder.caps = tuple(caps)

    @property
    def manual(self):
        return self.responder.manual

    @manual.setter
    def manual(self, value):
        self.responder.manual = bool(value)

    # ---- test hooks ---------------------------------------------------------------------------

    def forge(self, kind, count=1, operation="PKIOperation"):
        """Make the next `count` answers to `operation` forged (count None: until cleared)."""
        if kind not in FORGERIES:
            raise ValueError("unknown forgery %r (one of: %s)" % (kind, ", ".join(FORGERIES)))
        with self._lock:
            self._forgeries.append([kind, operation, count])

    def clear_forgeries(self):
        with self._lock:
            self._forgeries = []

    def _take_forgery(self, operation):
        with self._lock:
            for f in self._forgeries:
                if f[1] == operation or f[1] is None:
                    if f[2] is not None:
                        f[2] -= 1
                        if f[2] <= 0:
                            self._forgeries.remove(f)
                    return f[0]
        return None

    def _log(self, line):
        line = "%s labca: %s" % (time.strftime("%H:%M:%S"), line)
        self.log.append(line)
        if self.echo:
            print(line, flush=True)

    # ---- request handling ---------------------------------------------------------------------

    def handle(self, method, path, query, body):
        """(HTTP status, content type, body bytes, summary)."""
        if path in ("/crl/ca.crl", "/crl/root.crl", "/crl/ca.der"):
            name = "root" if path == "/crl/root.crl" else "ca"
            return 200, "application/pkix-crl", self.ca.crl_der(name), "CRL " + name
        if path not in SCEP_PATHS:
            return 404, "text/plain", b"no such path\n", "not found"
        operation = _param(query, "operation")
        if operation is None:
            return 400, "text/plain", b"missing operation parameter\n", "no operation"
        if operation == "GetCACaps":
            text = "\n".join(self.responder.caps).encode()
            return 200, "text/plain", text, "GetCACaps"
        if operation == "GetCACert":
            certs = self.ca.ca_chain()
            if len(certs) == 1:
                der = certs[0].public_bytes(serialization.Encoding.DER)
                return 200, "application/x-x509-ca-cert", der, "GetCACert CA"
            return (
                200,
                "application/x-x509-ca-ra-cert",
                degenerate(certs),
                "GetCACert CA+%d" % (len(certs) - 1),
            )
        if operation == "GetNextCACert":
            return 501, "text/plain", b"GetNextCACert is not supported\n", "GetNextCACert"
        if operation != "PKIOperation":
            return 400, "text/plain", b"unknown operation\n", "unknown operation %s" % operation
        if method == "POST":
            if not self.responder.allows_post():
                return (
                    405,
                    "text/plain",
                    b"POST is not offered in GetCACaps; use GET\n",
                    "PKIOperation by POST refused (not in caps)",
                )
            der = body
            if der[:1] != b"\x30":  # some clients POST base64
                der = _b64(der)
        else:
            message = _param(query, "message")
            if message is None:
                return 400, "text/plain", b"missing message parameter\n", "no message"
            der = _b64(message.encode())
        forge = self._take_forgery("PKIOperation")
        if not der:
            text = b"message is not base64 DER\n"
            return 400, "text/plain", text, "PKIOperation undecodable", forge
        cms_forge = forge if forge in CMS_FORGERIES else None
        try:
            _status, rep, summary, applied = self.responder.pki_operation(der, forge=cms_forge)
            if cms_forge and not applied:
                # a certificate forgery waits for the reply that carries a certificate
                with self._lock:
                    self._forgeries.insert(0, [cms_forge, "PKIOperation", 1])
                forge = None
        except BadMessage as e:
            text = ("%s\n" % e).encode()
            return 400, "text/plain", text, "PKIOperation rejected: %s" % e, forge
        return 200, "application/x-pki-message", rep, "PKIOperation %s" % summary, forge

    def _answer(self, handler, method):
        parsed = urllib.parse.urlsplit(handler.path)
        body = b""
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(handler, 413, "text/plain", b"body too large\n")
                self._log("%s %s -> 413 body of %d bytes" % (method, handler.path[:60], length))
                return
            body = handler.rfile.read(length)
        try:
            result = self.handle(method, parsed.path, parsed.query, body)
        except Exception as e:  # a lab tool: report, never die
            result = (500, "text/plain", ("error: %s\n" % e).encode(), "error: %r" % e)
        code, ctype, data, summary = result[:4]
        forge = result[4] if len(result) > 4 else None
        if forge is None and code == 200 and summary.split()[0] in ("GetCACaps", "GetCACert"):
            forge = self._take_forgery(summary.split()[0])
        if forge in HTTP_FORGERIES:
            summary += " [forged: %s]" % forge
        where = parsed.path
        self._log(
            "%s %s %s -> %d %s %dB"
            % (
                handler.client_address[0],
                method,
                where,
                code if forge != "http-500" else 500,
                summary,
                len(data),
            )
        )
        if forge == "hang":
            self._stopping.wait(self.hang_seconds)
            return
        if forge == "http-500":
            self._reply(handler, 500, "text/plain", b"internal server error (forged)\n")
            return
        if forge in HTTP_FORGERIES:
            code, ctype = (
                200,
                ("application/x-pki-message" if "PKIOperation" in summary else ctype),
            )
        if forge == "garbage":
            data = os.urandom(max(64, len(data)))
        elif forge == "truncated":
            data = data[: len(data) // 2]
        elif forge == "empty":
            data = b""
        elif forge == "short-read":
            self._reply(handler, code, ctype, data[: len(data) // 2], length=len(data))
            return
        elif forge == "oversize":
            self._reply_stream(handler, ctype, 4 << 20)
            return
        self._reply(handler, code, ctype, data)

    def _reply(self, handler, code, ctype, data, length=None):
        try:
            handler.send_response(code)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(data) if length is None else length))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _reply_stream(self, handler, ctype, size):
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            chunk = b"\x30" + b"\x00" * 65535
            sent = 0
            while sent < size and not self._stopping.is_set():
                handler.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Handler(BaseHTTPRequestHandler):
    app = None
    server_version = "upki-labca/1"

    def do_GET(self):
        self.app._answer(self, "GET")

    def do_POST(self):
        self.app._answer(self, "POST")

    def log_message(self, fmt, *args):  # the app logs one line of its own
        pass


def _param(query, name):
    # '+' must stay '+' (base64); unquote, never unquote_plus
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == name:
            return urllib.parse.unquote(value)
    return None


def _b64(text):
    t = bytes(text).strip().replace(b"\n", b"").replace(b"\r", b"").replace(b" ", b"+")
    t = t.replace(b"-", b"+").replace(b"_", b"/")
    t += b"=" * (-len(t) % 4)
    try:
        return base64.b64decode(t, validate=True)
    except (binascii.Error, ValueError):
        return b""


def serve_main(directory, port, **options):
    server = LabCAServer(directory, port=port, echo=True, **options)
    server.start()
    print(
        "labca: serving SCEP at %s (also /cgi-bin/pkiclient.exe), CRL at %s; Ctrl-C stops"
        % (server.url, server.crl_url),
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("labca: stopped", file=sys.stderr)
    return 0
