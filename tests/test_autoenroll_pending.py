# SPDX-License-Identifier: MIT
"""Auto-enrollment against a lab CA that answers PENDING: the certificate held back
(%CRYPTO-4-NOAUTOSAVE) while a configuration session is open, installed by `write
memory`; the retry period and count of the polls honoured, then auto-enroll stops."""

import itertools
import re
import time

import labca_peer
from autoenroll_board import (
    Console,
    ca_chain_lines,
    cert_of,
    key_of,
    key_record,
    make_image,
    records,
    same_key,
    scep_ops,
    startup_config,
    trustpoint_lines,
)


def lab_image(tmp_path, server, ts, count=None):
    cfg = startup_config(ts.port, [(
        trustpoint_lines("lab", server.url, keypair="r1key 1024", count=count),
        ca_chain_lines("lab", server.ca.ca_cert))])
    return make_image(tmp_path / "b.img", cfg, [("r1key", key_record())])


def test_noautosave_while_a_configuration_session_is_open(tmp_path, ts):
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", manual=True) as server:
        img = lab_image(tmp_path, server, ts)
        c = Console(img)
        try:
            c.expect(r"CRYPTO_PKI: status = 102: certificate request pending")
            c.send("configure terminal")
            c.expect(r"\(config\)#")
            server.approve(server.pending()[0]["id"])
            c.expect(r"%CRYPTO-6-CERTRET: Certificate received from Certificate Authority")
            c.expect(r'%CRYPTO-4-NOAUTOSAVE: Configuration was modified. Issue "write memory" '
                     r'to save new certificate')
            c.send("end")
            held = c.quiet(1.5)
            c.send("show crypto ca certificates")
            shown = c.expect(r"show crypto ca certificates\n((.*\n)*?)r1#").group(1)
            c.send("write memory")
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate \(serial \w+\) "
                     r"installed")
            c.expect(r"\[OK\]")
            c.send("show crypto ca certificates")
            c.expect(r"Certificate\n  Status: Available\n")
        finally:
            c.close()
        assert "NOAUTOSAVE" not in held and "CERT_INSTALL" not in held  # held until saved
        assert not shown.startswith("Certificate\n"), shown  # only the CA certificate
        assert "CA Certificate" in shown
        assert same_key(cert_of(img), key_of(img, "r1key"))
        assert not [n for n in records(img) if n.endswith(".new")]
        assert len(scep_ops(server, "PKCSReq")) == 1


def test_retry_period_and_count_against_a_pending_ca(tmp_path, ts):
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", manual=True) as server:
        stamps = []
        log = server._log

        def stamped(line):
            stamps.append((time.monotonic(), line))
            log(line)

        server._log = stamped
        img = lab_image(tmp_path, server, ts, count=3)
        c = Console(img)
        try:
            c.expect(r"CRYPTO_PKI: status = 102: certificate request pending")
            c.expect(r"%CRYPTO-6-CERTREJ: Certificate enrollment for trustpoint lab gave up: "
                     r"no answer from the CA after 3 polls", timeout=30)
            c.expect(r"%CRYPTO-4-AUTOENROLL_FAIL: The certificate request of trustpoint lab "
                     r"was not granted; auto-enrollment stops")
            later = c.quiet(3)
        finally:
            c.close()
        assert "PKCSReq" not in later and "AUTOENROLL" not in later
        ops = [(t, line) for t, line in stamps if "PKCSReq" in line or "CertPoll" in line]
        assert [("PKCSReq" in line) for t, line in ops] == [True, False, False, False], ops
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(ops)]
        assert all(1.8 <= g < 4.5 for g in gaps), gaps  # enrollment retry period 2s
        assert "tp/lab/cert" not in records(img) and "tp/lab/pending" not in records(img)


def test_unreachable_ca_retries_at_the_period_then_gives_up(tmp_path, ts):
    """The CA certificate is installed but its SCEP server is down: each try fails
    clearly, the next one waits the retry period (RETRY in show crypto ca timers), and
    after `enrollment retry count` tries auto-enrollment stops."""
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret") as server:
        ca_cert = server.ca.ca_cert
    dead = "http://127.0.0.1:%d" % labca_peer.free_port()
    cfg = startup_config(ts.port, [(
        trustpoint_lines("lab", dead, keypair="r1key 1024", count=3),
        ca_chain_lines("lab", ca_cert))])
    img = make_image(tmp_path / "b.img", cfg, [("r1key", key_record())])
    c = Console(img)
    try:
        t0 = time.monotonic()
        c.expect(r"%CRYPTO-4-AUTOENROLL_FAIL: Auto-enrollment of trustpoint lab failed: SCEP "
                 r"server http://127\.0\.0\.1:\d+/cgi-bin/pkiclient\.exe: .*connect failed "
                 r"\(connection refused\); "
                 r"retrying in 2 seconds")
        c.send("show crypto ca timers")
        timers = c.expect(r"PKI Timers\n(\|.*\n)+").group(0)
        c.expect(r"%CRYPTO-4-AUTOENROLL_FAIL: .*retrying in 2 seconds")
        c.expect(r"%CRYPTO-3-AUTOENROLL_FAIL: Auto-enrollment of trustpoint lab failed 3 times "
                 r"\(enrollment retry count\): .*; giving up")
        took = time.monotonic() - t0
        later = c.quiet(2.5)
    finally:
        c.close()
    assert re.search(r"\|\s+0:0\d\.\d{3} RETRY lab", timers), timers
    assert took >= 3.5, took  # two waits of the 2 s retry period between the three tries
    assert "AUTOENROLL" not in later
    assert "tp/lab/cert" not in records(img)


def test_key_rollover_pending_across_a_reload(tmp_path, ts):
    """regenerate against a CA that queues requests: the new key's RenewalReq (signed
    with the certificate in use) waits across a reload, the board keeps polling with
    the old key, and the approved certificate is swapped in with the new key."""
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", manual=True,
                            days=1) as server:
        cfg = startup_config(ts.port, [(
            trustpoint_lines("lab", server.url, auto="auto-enroll 70 regenerate",
                             keypair="r1key 1024"),
            ca_chain_lines("lab", server.ca.ca_cert))])
        img = make_image(tmp_path / "b.img", cfg, [("r1key", key_record())])
        c = Console(img)
        try:
            c.expect(r"status = 102: certificate request pending")
            server.approve(server.pending()[0]["id"])
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate \(serial 02\)")
            server.responder.days = 30
            ts.set_offset(17.5 * 3600)
            c.send("reload")
            c.expect("System Bootstrap")
            c.expect(r"%CRYPTO-6-AUTOGEN: Generating a new 1024 bit RSA key pair r1key\.new")
            c.expect(r"status = 102: certificate request pending")
            c.send("reload")
            c.expect("System Bootstrap")
            c.expect(r"Press RETURN to get started!")
            c.expect(r"CertPoll|status = 102: certificate request pending")
            server.approve(server.pending()[0]["id"])
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate \(serial 03\) "
                     r"installed with a new key pair")
        finally:
            out = c.close()
        assert out.count("%CRYPTO-6-AUTOGEN") == 1  # the staged key survived the reload
        assert len(scep_ops(server, "RenewalReq")) == 1, server.log
        assert len(scep_ops(server, "CertPoll")) >= 1, server.log
        key = key_of(img, "r1key")
        assert key.private_numbers() != key_record_key().private_numbers()
        assert same_key(cert_of(img), key)
        assert not [n for n in records(img) if n.endswith((".new", "/swap", "/pending"))]


def key_record_key():
    from autoenroll_board import DATA
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key((DATA / "rsa_1024_pkcs8.der").read_bytes(), None)


def test_held_certificate_is_dropped_by_a_reload_before_write_memory(tmp_path, ts):
    """As on IOS, a certificate not saved before a reload is lost: the board boots with
    what NVRAM held (no certificate here), drops the staged one, and enrolls again."""
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", manual=True) as server:
        img = lab_image(tmp_path, server, ts)
        c = Console(img)
        try:
            c.expect(r"status = 102: certificate request pending")
            c.send("configure terminal")
            server.approve(server.pending()[0]["id"])
            c.expect(r"%CRYPTO-4-NOAUTOSAVE")
            c.send("end", "reload")
            c.expect("System Bootstrap")
            c.expect(r"%PKI-4-AUTOENROLL: Trustpoint lab: a new certificate that was not "
                     r"installed before the reload was dropped")
            c.expect(r"%CRYPTO-6-AUTOENROLL: Certificate enrollment started for trustpoint lab")
            c.expect(r"status = 102: certificate request pending")
            server.approve(server.pending()[0]["id"])
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate \(serial 03\) "
                     r"installed")
        finally:
            c.close()
        assert len(scep_ops(server, "PKCSReq")) == 2, server.log
        assert "%X" % cert_of(img).serial_number == "3"
        assert not [n for n in records(img) if n.endswith(".new")]
