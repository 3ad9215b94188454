# SPDX-License-Identifier: MIT
"""Auto-enrollment on the simulated board against the lab CA and the lab time server
(both real, on loopback): the first enrollment after boot once NTP syncs, renewal at
PERCENT of the lifetime after time travel (RenewalReq), an expired certificate
re-enrolled, a revoked one not renewed, NOAUTOSAVE while a configuration session is
open, and the retry period and count against a CA that answers PENDING."""

import re

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


HOUR = 3600


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
            assert re.search(r"\|\s+16:4\d:\d\d\.\d{3} RENEW lab", m.group(0)), m.group(0)
            assert re.search(r"\|\s+23:5\d:\d\d\.\d{3} EXPIRE lab", m.group(0)), m.group(0)
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
        assert not [n for n in records(img) if n.endswith((".new", "/swap"))]
        # no prompt was ever shown: auto-enrollment asks nothing
        assert "[yes/no]" not in out


def _enroll_then_travel(tmp_path, ts, server, hours, auto="auto-enroll 70", before_travel=None):
    """Boot, let auto-enroll get the first certificate (1 day), then move the lab time
    server `hours` ahead, make the CA issue 30-day certificates, and reload: the board's
    trusted clock is now there. Returns (console, image, first certificate)."""
    img = lab_image(tmp_path, server, ts, auto=auto)
    c = Console(img)
    c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate")
    c.send("write memory")
    c.expect(r"\[OK\]")
    first = c.text
    server.responder.days = 30
    if before_travel:
        before_travel()
    ts.set_offset(hours * HOUR)
    c.send("reload")
    c.expect("System Bootstrap")
    c.expect(r"%NTP-5-SYNC: clock synchronized")
    return c, img, first


def _serial(text):
    return re.findall(r"new certificate \(serial (\w+)\) installed", text)[-1]


def test_renewal_at_percent_after_time_travel_is_a_renewal_request(tmp_path, ts):
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", days=1) as server:
        c, img, first = _enroll_then_travel(tmp_path, ts, server, 17.5)
        try:
            c.expect(r"%PKI-6-CERTRENEWAUTO: Renewing the router certificate for trustpoint lab")
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate \(serial (\w+)\) "
                     r"installed\n")
            c.send("show crypto ca timers")
            m = c.expect(r"PKI Timers\n(\|.*\n)+")
            later = c.quiet(2)
        finally:
            out = c.close()
        assert "with a new key pair" not in out
        assert len(scep_ops(server, "RenewalReq")) == 1, server.log
        assert len(scep_ops(server, "PKCSReq")) == 1, server.log  # the first enrollment only
        cert = cert_of(img)
        assert "%X" % cert.serial_number == _serial(out).lstrip("0")
        assert _serial(out) != _serial(first)
        assert same_key(cert, key_of(img, "r1key"))  # renewed for the same key
        life = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert life.days == 30
        # 70 % of 30 days less the 17.5 h the board's clock is ahead: about 20d
        assert re.search(r"\|\s+20d\d\d:\d\d:\d\d\.\d{3} RENEW lab", m.group(0)), m.group(0)
        assert "AUTOENROLL" not in later and "CERTRENEWAUTO" not in later


def test_regenerate_makes_a_new_key_and_swaps_it_in(tmp_path, ts):
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", days=1) as server:
        c, img, _first = _enroll_then_travel(tmp_path, ts, server, 17.5,
                                             auto="auto-enroll 70 regenerate")
        old_key = key_of(img, "r1key")
        try:
            c.expect(r"%PKI-6-CERTRENEWAUTO: Renewing the router certificate for trustpoint lab")
            c.expect(r"%CRYPTO-6-AUTOGEN: Generating a new 1024 bit RSA key pair r1key\.new")
            c.expect(r"% Generating 1024 bit RSA keys, keys will be non-exportable\.\.\.[.+]*"
                     r"\[OK\] \(elapsed time was \d+ seconds\)")
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate \(serial \w+\) "
                     r"installed with a new key pair")
            c.send("show crypto key mypubkey rsa")
            c.expect(r"Key name: r1key\n")
        finally:
            c.close()
        new_key = key_of(img, "r1key")
        assert new_key.private_numbers() != old_key.private_numbers()
        cert = cert_of(img)
        assert same_key(cert, new_key)
        assert not [n for n in records(img) if n.endswith((".new", "/swap"))]
        # the new key's request is signed by the certificate and key in use (rollover)
        assert len(scep_ops(server, "RenewalReq")) == 1, server.log
        assert len(scep_ops(server, "PKCSReq")) == 1, server.log  # the first enrollment only


def test_expired_certificate_is_re_enrolled(tmp_path, ts):
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", days=1) as server:
        c, img, first = _enroll_then_travel(tmp_path, ts, server, 25)
        try:
            c.expect(r"%PKI-6-CERTRENEWAUTO: Renewing the router certificate for trustpoint lab")
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate")
        finally:
            out = c.close()
        assert _serial(out) != _serial(first)
        # an expired certificate cannot sign a RenewalReq: a PKCSReq with the same key
        assert len(scep_ops(server, "PKCSReq")) == 2 and not scep_ops(server, "RenewalReq")
        assert same_key(cert_of(img), key_of(img, "r1key"))


def test_revoked_certificate_is_not_renewed(tmp_path, ts):
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", days=1) as server:
        def revoke():
            serial = next(r for r in server.ca.requests() if r.get("serial"))["serial"]
            server.revoke(serial, "keyCompromise")

        c, _img, _first = _enroll_then_travel(tmp_path, ts, server, 17.5,
                                              before_travel=revoke)
        try:
            c.expect(r"%PKI-3-CERTIFICATE_REVOKED: Certificate \(serial 02\) of trustpoint lab "
                     r"is revoked by its CA \(CRL\); it will not be renewed")
            later = c.quiet(3)
        finally:
            c.close()
        assert "CERTRENEWAUTO" not in later and "CERT_INSTALL" not in later
        assert not scep_ops(server, "RenewalReq") and len(scep_ops(server, "PKCSReq")) == 1
        assert scep_ops(server, "CRL"), server.log


def test_bare_auto_enroll_renews_only_at_expiry(tmp_path, ts):
    """`auto-enroll` with no PERCENT: IOS asks for a new certificate when the old one
    expires, not before; the RENEW timer is the EXPIRE timer."""
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", days=1) as server:
        c, img, first = _enroll_then_travel(tmp_path, ts, server, 20, auto="auto-enroll")
        try:
            c.send("show crypto ca timers")
            m = c.expect(r"PKI Timers\n(\|.*\n)+")
            before = c.quiet(3)  # 20 h into a 24 h life: nothing to do yet
            ts.set_offset(25 * HOUR)
            c.send("reload")
            c.expect("System Bootstrap")
            c.expect(r"%PKI-6-CERTRENEWAUTO: Renewing the router certificate for trustpoint lab")
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint lab: new certificate")
        finally:
            out = c.close()
        timers = m.group(0)
        renew = re.search(r"\|\s+([\dd:.]+) RENEW lab", timers)
        expire = re.search(r"\|\s+([\dd:.]+) EXPIRE lab", timers)
        assert renew and expire and renew.group(1) == expire.group(1), timers
        assert re.match(r"3:5\d:\d\d\.\d{3}$", renew.group(1)), timers
        assert "CERTRENEWAUTO" not in before and "AUTOENROLL" not in before
        assert _serial(out) != _serial(first)
        assert len(scep_ops(server, "PKCSReq")) == 2, server.log  # expired: a new request
        assert same_key(cert_of(img), key_of(img, "r1key"))
