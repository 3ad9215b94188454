#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make demo: the main job of upki, end to end, on the simulated board.

A lab CA (SCEP with an RA and manual approval, CRLs over HTTP) and a lab
time server (authenticated NTP) run on 127.0.0.1. The board boots in the
year 2000, is configured from its console, sets its clock over NTP,
generates its key, authenticates the CA by fingerprint, enrolls and waits
while the operator approves on the host, stores the certificate in NVRAM,
survives a reboot, then validates peer certificates against the CA's CRL
(a good one, and one the operator revoked).

Every board line below is the board's own console output; host actions are
marked `== host:`.
"""

import hashlib
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from host_tools.upki_host.labca import LabCA, LabCAServer  # noqa: E402
from host_tools.upki_host.nvimage import Image  # noqa: E402
from host_tools.upki_host.timeserver import TimeServer  # noqa: E402

NTP_KEY = bytes.fromhex("6b2f1e0a9c4d3b2a59687766554433221100ffee")
CHALLENGE = "s3cret"
STEP_TIMEOUT = 120  # seconds any one console step may take


def host(text):
    print("\n== host: " + text, flush=True)


class Board:
    """The simulated board on a flash image, driven line by line like a console."""

    def __init__(self, image):
        env = dict(os.environ)
        env["MICROPYPATH"] = "%s:%s:.frozen" % (ROOT / "firmware", ROOT / "boards" / "unix")
        self.proc = subprocess.Popen(
            [str(ROOT / "boards" / "unix" / "run"), str(image)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            bufsize=0,
        )
        self.seen = ""
        self.wait_for("Press RETURN to get started!")

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return False
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            raise SystemExit("demo: the board stopped unexpectedly:\n" + self.seen[-2000:])
        text = data.decode(errors="replace")
        self.seen += text
        sys.stdout.write(text)
        sys.stdout.flush()
        return True

    def wait_for(self, marker, timeout=STEP_TIMEOUT):
        start = len(self.seen) - len(marker) if len(self.seen) > len(marker) else 0
        deadline = time.time() + timeout
        while marker not in self.seen[start:]:
            if time.time() > deadline:
                raise SystemExit("demo: no %r from the board within %d s" % (marker, timeout))
            self._read(min(1.0, max(0.05, deadline - time.time())))
        self.mark = self.seen.index(marker, start) + len(marker)

    def run(self, *lines, expect="#"):
        """Type lines, one prompt at a time; return what the board printed."""
        begin = len(self.seen)
        for line in lines:
            self.proc.stdin.write((line + "\n").encode())
            # wait until the echo of this line and the next prompt have come back
            self.wait_for(line + "\n")
            self.wait_for(expect)
        return self.seen[begin:]

    def idle(self, seconds):
        """Let the board sit at its prompt (background work runs)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            self._read(0.2)

    def off(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=STEP_TIMEOUT)


def peer_chain(ca, name, cdp_url):
    """A peer's certificate from the lab CA, as a PEM chain file (leaf, issuing CA)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    cert = ca.issue(csr, days=30, cdp_url=cdp_url)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    pem += ca.ca_cert.public_bytes(serialization.Encoding.PEM)
    return cert, pem


def main():
    work = Path(tempfile.mkdtemp(prefix="upki-demo-"))
    image = ROOT / "build" / "demo.img"
    image.parent.mkdir(exist_ok=True)
    for p in (image, Path(str(image) + ".uid")):
        if p.exists():
            p.unlink()
    try:
        run_demo(work, image)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_demo(work, image):
    host("start a lab CA (root + issuing sub-CA, NDES-style RA, manual approval) and an "
         "authenticated NTP server on 127.0.0.1")
    import socket

    with socket.socket() as probe:  # the CA's certificates name its CRL URLs: pick the port first
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = "http://127.0.0.1:%d" % port
    ca = LabCA(work / "ca").init(sub_ca=True, ra=True, key_size=2048, cn="Demo Lab Root CA",
                                 cdp_base=base)
    server = LabCAServer(ca, port=port, manual=True, challenge=CHALLENGE)
    server.start()
    ntp = TimeServer(port=0, keys={1: ("sha1", NTP_KEY)})
    ntp.start()
    root_fp = hashlib.sha256(
        ca.root_cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    print("lab CA: %s   CRL: %s" % (server.url, server.crl_url))
    print("root CA fingerprint (SHA-256): %s" % root_fp)
    print("time server: 127.0.0.1 port %d, key 1 (SHA-1)" % ntp.port)
    try:
        demo_board(work, image, ca, server, ntp, root_fp)
    finally:
        server.stop()
        ntp.stop()


def demo_board(work, image, ca, server, ntp, root_fp):
    host("power on a blank board: it wakes up in the year 2000")
    b = Board(image)
    b.run("show clock")
    b.run(
        "configure terminal",
        "hostname branch1",
        "ip domain-name lab.example",
        "ntp authentication-key 1 sha1 %s" % NTP_KEY.hex(),
        "ntp trusted-key 1",
        "ntp authenticate",
        "ntp server 127.0.0.1 port %d key 1" % ntp.port,
        "crypto ca trustpoint lab",
        "enrollment mode ra",
        "enrollment url %s" % server.base_url,
        "enrollment retry period 2s",
        "enrollment retry count 60",
        "password %s" % CHALLENGE,
        "serial-number none",
        "ip-address none",
        "fingerprint %s" % root_fp,
        "exit",
        "end",
        "write memory",
    )
    host("reload: at boot the board syncs its clock over authenticated NTP")
    b.run("reload", expect="[confirm]")
    b.run("", expect="Press RETURN to get started!")
    b.wait_for("#")
    b.run("show clock detail", "show ntp associations")
    b.run("configure terminal", "crypto key generate rsa modulus 2048")
    b.run("crypto ca authenticate lab")
    b.run("crypto ca enroll lab", expect="#")
    b.run("end")

    host("the CA operator lists the pending request and approves it")
    pending = ca.pending()
    for req in pending:
        print("request %s: %s" % (req.get("id"), req.get("subject")))
        ca.approve(req["id"])
        print("approved request %s" % req["id"])
    b.idle(0.5)
    b.wait_for("%CRYPTO-6-CERTRET", timeout=60)
    b.wait_for("#")
    b.run("show crypto ca certificates", "write memory")

    host("power cycle: the certificate and keys are in NVRAM")
    b.off()
    b = Board(image)
    b.wait_for("#")
    b.run("show crypto ca trustpoints", "show crypto key mypubkey rsa", "show flash")
    b.off()

    host("a peer presents its certificate chain: one good, one that the operator revokes; "
         "the chains are copied to the board's flash with littlefs-python")
    good, good_pem = peer_chain(ca, "peer-good.lab.example", server.crl_url)
    bad, bad_pem = peer_chain(ca, "peer-stolen.lab.example", server.crl_url)
    ca.revoke(bad.serial_number, "keyCompromise")
    print("revoked serial %X (keyCompromise)" % bad.serial_number)
    img = Image.load(image)
    img.put_file("peer-good.pem", good_pem)
    img.put_file("peer-stolen.pem", bad_pem)
    img.save(image)

    b = Board(image)
    b.wait_for("#")
    b.run("debug crypto pki transactions",
          "crypto ca verify lab flash:peer-good.pem",
          "crypto ca verify lab flash:peer-stolen.pem",
          "undebug all",
          "show crypto ca crls")

    host("the operator turns on auto-enrollment: renew at 70% of the lifetime, with a new key")
    b.run("configure terminal", "crypto ca trustpoint lab", "auto-enroll 70 regenerate", "end",
          "write memory", "show crypto ca timers")
    b.off()

    host("time travel: the NTP server (and the CA's clock) now say it is 260 days later, "
         "and the CA grants renewals without waiting for the operator")
    from host_tools.upki_host.labca import ca as labca_clock

    ntp.set_offset(260 * 86400)
    labca_clock.set_clock_offset(260 * 86400)  # the CA lives in the same future
    server.manual = False
    b = Board(image)
    b.wait_for("%PKI-6-CERT_INSTALL", timeout=90)
    b.wait_for("#")
    b.run("show clock", "show crypto ca certificates", "show crypto ca timers")
    b.off()
    print("\n== demo complete: the board enrolled with the lab CA, checks peers against its CRL,"
          " and renews itself before its certificate expires.")


if __name__ == "__main__":
    main()
