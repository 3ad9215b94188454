# SPDX-License-Identifier: MIT
"""A pre-shipped trustpoint that names its CA by fingerprint only: once the clock is
trusted the board fetches the CA certificate, installs it when the fingerprint matches
and enrolls, with `debug crypto pki transactions` lines in IOS's words; a wrong
fingerprint stops auto-enrollment with nothing stored."""

import hashlib
import time

import labca_peer
from autoenroll_board import (
    Console,
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
from cryptography.hazmat.primitives import serialization


def clock_line():
    return "clock set " + time.strftime("%H:%M:%S %d %b %Y", time.gmtime())


def image(tmp_path, server, fingerprint):
    cfg = startup_config(None, [(
        trustpoint_lines("lab", server.url, keypair="r1key 1024",
                         extra=[" enrollment mode ra", " fingerprint " + fingerprint]), [])])
    return make_image(tmp_path / "b.img", cfg, [("r1key", key_record())])


def sha1(cert):
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def test_fingerprint_authenticates_and_enrolls_with_debug_lines(tmp_path):
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret") as server:
        img = image(tmp_path, server, sha1(server.ca.root_cert))
        c = Console(img)
        try:
            c.expect(r"%CLOCK-4-NOT_AUTHORITATIVE")
            idle = c.quiet(1)  # no trusted time: auto-enroll waits
            asked_before = list(server.log)
            c.send("debug crypto pki transactions", clock_line())
            c.expect(r"CRYPTO_PKI: Sending CA Certificate Request:\n.*GET http://127\.0\.0\.1:\d+"
                     r"/scep\?operation=GetCACert")
            c.expect(r"%PKI-6-CA_AUTHENTICATED: Trustpoint lab: CA certificate "
                     r"CN = upki Lab Root CA, O = upki lab accepted: it matches the configured "
                     r"fingerprint")
            c.expect(r"%CRYPTO-6-AUTOENROLL: Certificate enrollment started for trustpoint lab")
            c.expect(r"CRYPTO_PKI: transaction PKCSReq completed: CertRep SUCCESS")
            c.expect(r"CRYPTO_PKI: status = 100: certificate is granted")
            c.expect(r"CRYPTO_PKI: All enrollment requests completed for trustpoint lab\.")
        finally:
            c.close()
        assert asked_before == [], asked_before  # nothing asked of the CA before trusted time
        assert "AUTOENROLL" not in idle
        assert {"tp/lab/ca", "tp/lab/ra-sign", "tp/lab/ra-encrypt", "tp/lab/cert"} <= records(img)
        assert same_key(cert_of(img), key_of(img, "r1key"))


def test_wrong_fingerprint_stops_auto_enrollment(tmp_path):
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret") as server:
        img = image(tmp_path, server, "0123456789ABCDEF0123456789ABCDEF01234567")
        c = Console(img)
        try:
            c.send(clock_line())
            c.expect(r"%PKI-3-CA_AUTH_FAIL: Trustpoint lab: Fingerprint mismatch: the configured "
                     r"fingerprint 0123456789ABCDEF0123456789ABCDEF01234567 does not match the "
                     r"CA certificate \(MD5 [0-9A-F ]+, SHA1 [0-9A-F ]+\); certificate not "
                     r"accepted; auto-enrollment stops")
            later = c.quiet(2)
        finally:
            c.close()
        assert "PKI" not in later and "CRYPTO" not in later
        assert len(scep_ops(server, "GetCACert")) == 1
        assert not scep_ops(server, "PKCSReq")
        assert not [n for n in records(img) if n.startswith("tp/")]
