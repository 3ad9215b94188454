# SPDX-License-Identifier: MIT
"""Auto-enrollment on the simulated board against the lab CA and the lab time server
(both real, on loopback): the first enrollment after boot once NTP syncs, renewal at
PERCENT of the lifetime after time travel (RenewalReq), an expired certificate
re-enrolled, a revoked one not renewed, NOAUTOSAVE while a configuration session is
open, and the retry period and count against a CA that answers PENDING."""

import re
import time

import pytest

import labca_peer
from autoenroll_board import (Console, ca_chain_lines, cert_of, key_of, key_record, make_image,
                              records, same_key, scep_ops, startup_config, trustpoint_lines)
from host_tools.upki_host.timeserver import TimeServer

HOUR = 3600


@pytest.fixture
def ts():
    with TimeServer() as server:
        yield server


def lab_image(tmp_path, server, ts, auto="auto-enroll 70", count=None, extra=(),
              with_key=True):
    cfg = startup_config(ts.port, [(
        trustpoint_lines("lab", server.url, auto=auto, keypair="r1key 1024", count=count,
                         extra=extra),
        ca_chain_lines("lab", server.ca.ca_cert))])
    keys = [("r1key", key_record())] if with_key else []
    return make_image(tmp_path / "b.img", cfg, keys)


def test_first_enrollment_after_boot_once_ntp_syncs(tmp_path, ts):
    """A pre-shipped startup-config (NTP, trustpoint with auto-enroll, CA certificate in
    `crypto ca certificate chain`): the board enrolls by itself, saves the certificate,
    and keeps it across a reload; nobody types a command."""
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", days=1) as server:
        img = lab_image(tmp_path, server, ts)
        c = Console(img)
        try:
            c.expect(r"%NTP-5-SYNC: clock synchronized to 127\.0\.0\.1")
            c.expect(r"%CRYPTO-6-AUTOENROLL: Certificate enrollment started for trustpoint lab")
            c.expect(r"%CRYPTO-6-CERTRET: Certificate received from Certificate Authority")
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate \(serial \w+\) "
                     r"installed")
            c.send("show crypto ca timers")
            m = c.expect(r"PKI Timers\n(\|.*\n)+")
            assert re.search(r"\|\s+16:4\d:\d\d RENEW lab", m.group(0)), m.group(0)
            assert re.search(r"\|\s+23:5\d:\d\d EXPIRE lab", m.group(0)), m.group(0)
            c.send("reload")
            c.expect("System Bootstrap")
            c.send("show crypto ca certificates")
            c.expect(r"Certificate\n  Status: Available")
            later = c.quiet(2)
        finally:
            out = c.close()
        assert "AUTOENROLL" not in later  # enrolled: nothing more to do after the reload
        assert len(scep_ops(server, "PKCSReq")) == 1, server.log
        cert = cert_of(img)
        assert same_key(cert, key_of(img, "r1key"))
        assert cert.issuer == server.ca.ca_cert.subject
        assert {"tp/lab/cert", "tp/lab/ca", "rsa/r1key"} <= records(img)
        assert not [n for n in records(img) if n.endswith(".new") or n.endswith("/swap")]
        # no prompt was ever shown: auto-enrollment asks nothing
        assert "[yes/no]" not in out
