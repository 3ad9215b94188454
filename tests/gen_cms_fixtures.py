# SPDX-License-Identifier: MIT
"""Regenerate the committed CMS fixtures in tests/data with openssl (and cryptography).

    .venv/bin/python tests/gen_cms_fixtures.py

Uses the committed x509 fixtures (x509_leaf.der, its key x509_key_2048.der,
x509_root.der and its key x509_key_2048b.der) and writes:

  cms_content.bin                 the content every fixture carries (1200 bytes,
                                  about what a SCEP PKCSReq envelope is)
  cms_small_cert.der              self-signed certificate for x509_key_1024.der
  cms_fake_leaf.der               the leaf's issuer and serial on the root's key
  cms_signed_sha256.der           openssl cms -sign -md sha256 (signed attributes)
  cms_signed_sha1.der             ... -md sha1
  cms_signed_sha512.der           ... -md sha512
  cms_signed_noattr.der           ... -noattr (signature over the content itself)
  cms_signed_nocerts.der          ... -nocerts (signer certificate not embedded)
  cms_signed_keyid.der            ... -keyid (signer by subjectKeyIdentifier)
  cms_signed_detached.der         ... without -nodetach (no eContent)
  cms_signed_pss.der / _md5       RSASSA-PSS, MD5: refused as unsupported
  cms_signed_crypto.der           cryptography's PKCS7SignatureBuilder (sha256)
  cms_env_aes128.der / _aes256 / _des3 / _des   openssl cms -encrypt for the leaf
  cms_env_two.der                 -aes128 for the root and the leaf
  cms_env_keyid.der               -aes128 -keyid (recipient by subjectKeyIdentifier)
  cms_env_oaep.der                RSAES-OAEP key transport (unsupported: refused)
  cms_certs_only.der              openssl crl2pkcs7 -nocrl (root, then leaf)

and, from a real exchange between micromdm's scepclient and scepserver (Debian
`scep`) captured through a recording proxy on 127.0.0.1:

  cms_mm_ca.der / cms_mm_ca_key.der        the scepserver CA (key PKCS#8)
  cms_mm_client_key.der                    scepclient's key (PKCS#8)
  cms_mm_pkcsreq.der                       its PKCSReq (Go pkcs7: SignedData by a
                                           self-signed certificate, EnvelopedData
                                           for the CA with a constructed [0])
  cms_mm_certrep.der                       scepserver's CertRep (SUCCESS, signer
                                           info sha1WithRSAEncryption, inner
                                           envelope in single DES)
"""

import datetime
import http.client
import os
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

DATA = Path(__file__).resolve().parent / "data"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def pem_files(tmp):
    out = {}
    for name, key in (("leaf", "x509_key_2048.der"), ("root", "x509_key_2048b.der")):
        cert = x509.load_der_x509_certificate((DATA / ("x509_%s.der" % name)).read_bytes())
        (tmp / (name + ".pem")).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        k = serialization.load_der_private_key((DATA / key).read_bytes(), None)
        (tmp / (name + ".key")).write_bytes(
            k.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        out[name] = (cert, k)
    return out


def small_cert():
    k = serialization.load_der_private_key((DATA / "x509_key_1024.der").read_bytes(), None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "small")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(k.public_key())
        .serial_number(7)
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
        .not_valid_after(datetime.datetime(2044, 1, 1, tzinfo=datetime.timezone.utc))
        .sign(k, hashes.SHA256())
    )
    (DATA / "cms_small_cert.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))


def fake_leaf():
    # the leaf's issuer and serial number on another key (the root's): a
    # signer certificate that names the signer but cannot check its signature
    leaf = x509.load_der_x509_certificate((DATA / "x509_leaf.der").read_bytes())
    k = serialization.load_der_private_key((DATA / "x509_key_2048b.der").read_bytes(), None)
    cert = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(leaf.issuer)
        .public_key(k.public_key())
        .serial_number(leaf.serial_number)
        .not_valid_before(leaf.not_valid_before_utc)
        .not_valid_after(leaf.not_valid_after_utc)
        .sign(k, hashes.SHA256())
    )
    (DATA / "cms_fake_leaf.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pkcs8(pem_path):
    # scepserver writes its CA key PEM-encrypted under the empty password
    pem = subprocess.run(
        ["openssl", "pkey", "-in", str(pem_path), "-passin", "pass:"],
        check=True,
        capture_output=True,
    ).stdout
    k = serialization.load_pem_private_key(pem, None)
    return k.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def micromdm():
    """One PKCSReq/CertRep exchange of scepclient with scepserver, recorded."""
    captured = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        depot = tmp / "depot"
        subprocess.run(
            [
                "scepserver",
                "ca",
                "-init",
                "-depot",
                str(depot),
                "-keySize",
                "2048",
                "-years",
                "10",
                "-organization",
                "upki-test",
                "-country",
                "DE",
            ],
            check=True,
            capture_output=True,
        )
        port, proxy_port = _free_port(), _free_port()
        server = subprocess.Popen(
            [
                "scepserver",
                "-depot",
                str(depot),
                "-port",
                str(port),
                "-challenge",
                "s3cret",
                "-allowrenew",
                "0",
                "-crtvalid",
                "365",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        class Proxy(BaseHTTPRequestHandler):
            def _forward(self, body=None):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request(self.command, self.path, body=body)
                r = conn.getresponse()
                data = r.read()
                if "PKIOperation" in self.path:
                    captured.append((body, data))
                self.send_response(r.status)
                self.send_header("Content-Type", r.getheader("Content-Type", ""))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._forward()

            def do_POST(self):
                self._forward(self.rfile.read(int(self.headers["Content-Length"])))

            def log_message(self, *args):
                pass

        proxy = ThreadingHTTPServer(("127.0.0.1", proxy_port), Proxy)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            for _ in range(50):  # until scepserver listens
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            subprocess.run(
                [
                    "scepclient",
                    "-server-url",
                    "http://127.0.0.1:%d/scep" % proxy_port,
                    "-private-key",
                    str(tmp / "client.key"),
                    "-certificate",
                    str(tmp / "client.crt"),
                    "-challenge",
                    "s3cret",
                    "-cn",
                    "upki-cms-test",
                    "-keySize",
                    "2048",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
        finally:
            proxy.shutdown()
            server.terminate()
            server.wait(10)
        if len(captured) != 1 or not captured[0][0]:
            raise SystemExit("expected one PKIOperation POST, captured %d" % len(captured))
        ca = x509.load_pem_x509_certificate((depot / "ca.pem").read_bytes())
        (DATA / "cms_mm_ca.der").write_bytes(ca.public_bytes(serialization.Encoding.DER))
        (DATA / "cms_mm_ca_key.der").write_bytes(_pkcs8(depot / "ca.key"))
        (DATA / "cms_mm_client_key.der").write_bytes(_pkcs8(tmp / "client.key"))
        (DATA / "cms_mm_pkcsreq.der").write_bytes(captured[0][0])
        (DATA / "cms_mm_certrep.der").write_bytes(captured[0][1])


def main():
    content = DATA / "cms_content.bin"
    content.write_bytes(os.urandom(1200))
    small_cert()
    fake_leaf()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        keys = pem_files(tmp)
        leaf, leaf_key = str(tmp / "leaf.pem"), str(tmp / "leaf.key")
        root = str(tmp / "root.pem")
        sign = ["cms", "-sign", "-binary", "-in", str(content), "-signer", leaf]
        sign += ["-inkey", leaf_key, "-outform", "DER"]
        for name, extra in (
            ("sha256", ["-md", "sha256", "-nodetach"]),
            ("sha1", ["-md", "sha1", "-nodetach"]),
            ("sha512", ["-md", "sha512", "-nodetach"]),
            ("noattr", ["-md", "sha256", "-nodetach", "-noattr"]),
            ("nocerts", ["-md", "sha256", "-nodetach", "-nocerts"]),
            ("keyid", ["-md", "sha256", "-nodetach", "-keyid"]),
            ("detached", ["-md", "sha256"]),
            ("pss", ["-md", "sha256", "-nodetach", "-keyopt", "rsa_padding_mode:pss"]),
            ("md5", ["-md", "md5", "-nodetach"]),
        ):
            openssl(*sign, *extra, "-out", str(DATA / ("cms_signed_%s.der" % name)))
        cert, key = keys["leaf"]
        signed = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(content.read_bytes())
            .add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
        )
        (DATA / "cms_signed_crypto.der").write_bytes(signed)
        enc = ["cms", "-encrypt", "-binary", "-in", str(content), "-outform", "DER"]
        for name, extra in (
            ("aes128", ["-aes128"]),
            ("aes256", ["-aes256"]),
            ("des3", ["-des3"]),
            ("des", ["-des", "-provider", "legacy", "-provider", "default"]),
        ):
            openssl(*enc, *extra, "-out", str(DATA / ("cms_env_%s.der" % name)), leaf)
        openssl(*enc, "-aes128", "-out", str(DATA / "cms_env_two.der"), root, leaf)
        openssl(*enc, "-aes128", "-keyid", "-out", str(DATA / "cms_env_keyid.der"), leaf)
        openssl(
            *enc,
            "-aes128",
            "-recip",
            leaf,
            "-keyopt",
            "rsa_padding_mode:oaep",
            "-out",
            str(DATA / "cms_env_oaep.der"),
        )
        openssl(
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            root,
            "-certfile",
            leaf,
            "-outform",
            "DER",
            "-out",
            str(DATA / "cms_certs_only.der"),
        )


if __name__ == "__main__":
    main()
