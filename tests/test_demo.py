# SPDX-License-Identifier: MIT
"""`make demo` does what the README says: the main job, end to end, on the simulated board."""

import subprocess
import sys

from conftest import require_command
from mpy import ROOT


def test_make_demo_runs_the_main_job():
    require_command("openssl")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], capture_output=True,
                       text=True, timeout=600, cwd=str(ROOT))
    out = r.stdout
    assert r.returncode == 0, out[-3000:] + r.stderr[-3000:]
    assert "*00:00:00" in out and "Sat Jan 1 2000" in out  # boots clockless
    assert "%NTP-5-SYNC: clock synchronized to 127.0.0.1" in out
    assert "Time source is NTP" in out
    assert "% Certificate matches the configured fingerprint." in out
    assert "status = 102: certificate request pending" in out
    assert "%CRYPTO-6-CERTRET: Certificate received from Certificate Authority" in out
    assert out.count("Associated Trustpoints: lab") >= 3
    assert "tp/lab/cert" in out  # stored in NVRAM, seen after a power cycle
    assert "Certificate chain is valid (trustpoint lab, 3 certificates in the path)" in out
    assert "% Certificate chain is not valid: revoked" in out and "keyCompromise" in out
    # auto-enrollment: after time travel past 70% of the lifetime, a new key and certificate
    assert "255d" in out and "RENEW lab" in out
    assert "%PKI-6-CERTRENEWAUTO: Renewing the router certificate for trustpoint lab" in out
    assert "installed with a new key pair" in out
    assert "already due for renewal" not in out
    assert "Traceback" not in out and "Internal error" not in out
    assert "== demo complete" in out
