# SPDX-License-Identifier: MIT
"""`make demo` does what the README says: the main job, end to end, on the simulated board,
with nobody at the board's console for the enrollment, the save or the renewal."""

import re
import subprocess
import sys

from conftest import require_command
from mpy import ROOT

KEYGEN = r"% Generating 2048 bit RSA keys, keys will be non-exportable\.\.\.[.+]*\+\[OK\]"


def _after(out, marker):
    assert marker in out, marker
    return out[out.index(marker):]


def test_make_demo_runs_the_main_job():
    require_command("openssl")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], capture_output=True,
                       text=True, timeout=600, cwd=str(ROOT))
    out = r.stdout
    assert r.returncode == 0, out[-3000:] + r.stderr[-3000:]
    assert "Traceback" not in out and "Internal error" not in out
    # the factory image: a startup-config with a trustpoint that enrolls by itself
    assert re.search(r"image: OK: branch1 \(unix\) written to .*demo\.img", out)
    assert " auto-enroll 75 regenerate\n" in out and " fingerprint " in out
    # boots clockless, and the time server is not answering yet
    assert "%CLOCK-4-NOT_AUTHORITATIVE" in out
    assert re.search(r"branch1#show clock\n\*00:00:0\d\.\d{3} UTC Sat Jan 1 2000", out)
    # the first enrollment, unattended, once NTP has synced
    first = _after(out, "== host: the uplink comes up")
    steps = ["%NTP-5-SYNC: clock synchronized to 127.0.0.1",
             "%PKI-6-CA_AUTHENTICATED: Trustpoint lab: CA certificate CN = Demo Lab Root CA, "
             "O = upki lab accepted: it matches the configured fingerprint",
             "%CRYPTO-6-AUTOENROLL: Certificate enrollment started for trustpoint lab",
             "%CRYPTO-6-AUTOGEN: Generating a new 2048 bit RSA key pair branch1.lab.example",
             "CRYPTO_PKI: status = 102: certificate request pending",
             "== host: the CA operator lists the pending request",
             "approved request 1",
             "%CRYPTO-6-CERTRET: Certificate received from Certificate Authority",
             "%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate (serial 02) installed"]
    at = 0
    for step in steps:  # each one, in this order
        i = first.find(step, at)
        assert i >= 0, "%r missing (or out of order) after %r" % (step, first[at - 80:at])
        at = i + len(step)
    assert re.search(KEYGEN, first), "key generation progress on one line"
    # saved by itself: nobody typed write memory, and the power cycle keeps the identity
    assert "#write memory" not in out and "#crypto ca enroll" not in out
    assert "#crypto ca authenticate" not in out and "#crypto key generate" not in out
    assert re.search(r"\|\s+273d\d\d:\d\d:\d\d\.\d{3} RENEW lab", first)  # 75% of 365 days
    cycled = _after(out, "== host: power cycle")
    assert cycled.count("Associated Trustpoints: lab") >= 3
    assert "Key name: branch1.lab.example" in cycled and "tp/lab/cert" in cycled
    # peers: one accepted, one refused as revoked
    assert "Certificate chain is valid (trustpoint lab, 3 certificates in the path)" in out
    assert "% Certificate chain is not valid: revoked" in out and "keyCompromise" in out
    # time travel to 75% of the certificate's life: a renewal with a new key, unattended
    travel = _after(out, "== host: time travel")
    assert "75% of the way through the certificate's life" in travel
    assert "%PKI-6-CERTRENEWAUTO: Renewing the router certificate for trustpoint lab" in travel
    assert re.search(KEYGEN, travel)
    assert "new certificate (serial 05) installed with a new key pair" in travel
    assert "already due for renewal" not in out
    assert re.search(r"== demo complete in \d+ s", out)
