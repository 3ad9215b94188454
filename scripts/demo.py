#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make demo: the main job of upki, end to end, on the simulated board.

A lab CA (SCEP with an RA and manual approval, CRLs over HTTP) and a lab
time server (authenticated NTP) run on 127.0.0.1. The board's flash image is
made as a factory would (`upki-host image`), with a startup-config and no key
or certificate. The board boots in the year 2000 and trusts nothing until the
time server answers; then its trustpoint enrolls by itself (key generation,
CA certificate checked against the shipped fingerprint, a request the CA
operator approves on the host), saves the certificate, survives a power cycle,
validates peer certificates against the CA's CRL (a good one, and one the
operator revoked), and renews itself with a new key when time has moved to
75% of the certificate's life.

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


# The router's startup-config as it ships from the factory (`upki-host image`):
# its name, the time server and its key, and a trustpoint that enrolls and
# renews by itself. The fingerprint is how the board knows the CA is the right
# one before it trusts anything the CA sends.
STARTUP = """\
hostname branch1
ip domain-name lab.example
ntp authentication-key 1 sha1 %(ntp_key)s
ntp trusted-key 1
ntp authenticate
ntp server 127.0.0.1 port %(ntp_port)d key 1
crypto ca trustpoint lab
 enrollment mode ra
 enrollment url %(url)s
 enrollment retry period 2s
 enrollment retry count 60
 password %(challenge)s
 serial-number none
 ip-address none
 fingerprint %(fingerprint)s
 auto-enroll %(percent)d regenerate
end
"""
RENEW_AT = 75  # percent of the certificate's lifetime


def _ios_date(text):
    # "05:34:38 UTC Nov 29 2026" -> seconds since the epoch
    import calendar

    return calendar.timegm(time.strptime(text.strip(), "%H:%M:%S UTC %b %d %Y"))


def validity(shown):
    """(start, end) in epoch seconds of the first certificate in a `show crypto ca certificates`."""
    import re

    m = re.search(r"start date: (.*)\n\s+end   date: (.*)\n", shown)
    return _ios_date(m.group(1)), _ios_date(m.group(2))


def demo_board(work, image, ca, server, ntp, root_fp):
    started = time.time()
    host("the factory writes a flash image with the router's startup-config (upki-host image); "
         "the board ships with it and no key, no certificate")
    cfg = work / "router.cfg"
    cfg.write_text(STARTUP % {"ntp_key": NTP_KEY.hex(), "ntp_port": ntp.port, "url": server.base_url,
                              "challenge": CHALLENGE, "fingerprint": root_fp, "percent": RENEW_AT})
    sys.stdout.write(cfg.read_text())
    subprocess.run([sys.executable, "-c", "from host_tools.upki_host.cli import main; main()",
                    "image", "--board", "unix", "--config", str(cfg), "-o", str(image)],
                   check=True, cwd=str(ROOT))
    sys.stdout.flush()

    host("power on at the branch: the uplink is not up yet, so the time server does not answer; "
         "the board wakes up in the year 2000 and trusts no certificate")
    ntp.misbehave(drop=10**9)
    b = Board(image)
    b.run("show clock", "show crypto ca timers")

    host("the uplink comes up: the time server answers")
    ntp.misbehave(None)
    b.wait_for("%NTP-5-SYNC", timeout=60)
    host("on trusted time the trustpoint enrolls by itself: key pair, CA certificate checked "
         "against the shipped fingerprint, request to the CA; the CA holds it for approval")
    b.wait_for("status = 102", timeout=60)
    b.wait_for("#")

    host("the CA operator lists the pending request and approves it")
    for req in ca.pending():
        print("request %s: %s" % (req.get("id"), req.get("subject")))
        ca.approve(req["id"])
        print("approved request %s" % req["id"])
    host("the board polls the CA, receives its certificate and saves it to NVRAM by itself")
    b.wait_for("%PKI-6-CERT_INSTALL", timeout=60)
    b.wait_for("#")
    b.run("show crypto ca timers")

    host("power cycle: the keys and certificates are in NVRAM, nobody typed `write memory`")
    b.off()
    b = Board(image)
    b.wait_for("#")
    shown = b.run("show crypto ca certificates")
    b.run("show crypto key mypubkey rsa", "show flash")
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
    b.off()

    start, end = validity(shown)
    travel = start + (end - start) * RENEW_AT // 100 + 60 - int(time.time())
    host("time travel: the time server (and the CA's clock) now say it is %d days later, "
         "%d%% of the way through the certificate's life; the CA grants renewals without "
         "waiting for the operator" % (round(travel / 86400), RENEW_AT))
    from host_tools.upki_host.labca import ca as labca_clock

    ntp.set_offset(travel)
    labca_clock.set_clock_offset(travel)  # the CA lives in the same future
    server.manual = False
    b = Board(image)
    b.wait_for("%PKI-6-CERT_INSTALL", timeout=90)
    b.wait_for("#")
    b.run("show clock", "show crypto ca certificates", "show crypto ca timers")
    b.off()
    print("\n== demo complete in %d s: the board enrolled with the lab CA by itself, checks "
          "peers against its CRL, and renews itself before its certificate expires."
          % (time.time() - started))


if __name__ == "__main__":
    main()
