# SPDX-License-Identifier: MIT
"""Peer validation on the simulated board against the lab CA
(host_tools/upki_host/labca): the board authenticates and enrolls over SCEP,
then judges peer certificates the lab CA issued, one of them revoked.  The
CRL comes from the certificate's HTTP CRL distribution point when it answers,
or from its ldap:// distribution point on a real slapd holding the lab CA's
CRL, else by SCEP GetCRL (the fetch order IOS follows); openssl verify
-crl_check_all on the same certificates with the lab CA's CRL agrees."""

import re
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import labca_peer
from conftest import require_command
from host_tools.upki_host.nvimage import Image
from mpy import BOARD_RUN, DEVICE_TESTS, mpy_env

DATA = DEVICE_TESTS.parent / "data"


def clock_line():
    return "clock set " + time.strftime("%H:%M:%S %d %b %Y", time.gmtime())


def fresh_image(path):
    """A flash image holding the board's RSA key pair (the record upki.keys writes)."""
    image = Image()
    head = b"upki-key usage=general exportable=0 generated=0 trusted=0\n"
    image.write("rsa/r1.lab.test", head + (DATA / "rsa_1024_pkcs8.der").read_bytes())
    image.save(path)
    return path


def trustpoint_lines(url):
    return ["conf t", "hostname r1", "ip domain-name lab.test", "crypto ca trustpoint lab",
            " enrollment mode ra", " enrollment url " + url, " password s3cret",
            " serial-number none", " ip-address none", " exit", "end"]


def run_board(image, lines, timeout=120):
    r = subprocess.run([str(BOARD_RUN), str(image)], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, timeout=timeout, env=mpy_env())
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "Internal error" not in out, out[-3000:]
    return r.stdout


def _peers(server, cdp_url):
    key = labca_peer.generated_key("peer")
    good = server.ca.issue(labca_peer.make_csr(key, "peer-good.lab.test"), cdp_url=cdp_url)
    bad = server.ca.issue(labca_peer.make_csr(key, "peer-revoked.lab.test"), cdp_url=cdp_url)
    server.revoke(bad.serial_number, "keyCompromise")
    return good, bad


def _image(tmp_path, good, bad):
    path = fresh_image(tmp_path / "b.img")
    img = Image.load(path)
    img.put_file("good.pem", good.public_bytes(serialization.Encoding.PEM))
    img.put_file("revoked.pem", bad.public_bytes(serialization.Encoding.PEM))
    img.save(path)
    return path


def _openssl(tmp_path, cert, root, crl_der):
    openssl = require_command("openssl")
    (tmp_path / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    crl = x509.load_der_x509_crl(crl_der)
    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    r = subprocess.run([openssl, "verify", "-CAfile", str(tmp_path / "root.pem"), "-CRLfile",
                        str(tmp_path / "crl.pem"), "-crl_check_all", str(tmp_path / "leaf.pem")],
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0


def _verdicts(out):
    """(good, revoked): the console output of verifying good.pem, then revoked.pem,
    checked to be accepted and refused as revoked (keyCompromise)."""
    i = out.index("#crypto ca verify lab good.pem")
    j = out.index("#crypto ca verify lab revoked.pem")
    good_out, bad_out = out[i:j], out[j:]
    assert "Certificate chain is valid (trustpoint lab, 2 certificates in the path)" in good_out
    assert "% Certificate chain is not valid: revoked" in bad_out
    assert "reason keyCompromise" in bad_out
    return good_out, bad_out


@pytest.mark.parametrize("cdp", ["live", "dead"])
def test_peers_judged_with_crl_from_cdp_or_scep_getcrl(tmp_path, cdp):
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret") as server:
        url = server.crl_url if cdp == "live" else "http://127.0.0.1:%d/crl/ca.crl" % (
            labca_peer.free_port())
        good, bad = _peers(server, url)
        img = _image(tmp_path, good, bad)
        out = run_board(img, [clock_line(), *trustpoint_lines(server.url),
                              "crypto ca authenticate lab", "yes", "crypto ca enroll lab",
                              "debug crypto pki transactions",
                              "crypto ca verify lab good.pem", "crypto ca verify lab revoked.pem",
                              "show crypto ca crls", "show crypto ca timers"])
        log = list(server.log)
        crl_der = server.ca.crl_der("ca")
        root = server.ca.ca_cert
    assert "%CRYPTO-6-CERTRET" in out
    good_out, bad_out = _verdicts(out)
    assert "Getting CRL of CN = " in good_out and "from " + url in good_out
    if cdp == "live":
        assert "CRL received from %s" % url in good_out
        assert not any("GetCRL" in line for line in log)
        assert "      " + url in bad_out  # show crypto ca crls
    else:
        # the dead CDP first, then SCEP GetCRL from the enrollment URL
        assert "CRL from %s refused" % url in good_out and "connection refused" in good_out
        assert "CRL received from SCEP GetCRL at %s" % server.url in good_out
        assert any("GetCRL" in line for line in log)
        assert "      SCEP GetCRL at " + server.url in bad_out
    timers = out[out.index("#show crypto ca timers"):]
    assert "PKI Timers" in timers
    # the board's own certificate (365 days) and the lab CA's CRL (24 hours)
    assert re.search(r"\|\s+36[45]d\d\d:\d\d:\d\d\.\d{3} EXPIRE lab\n", timers), timers
    assert re.search(r"\|\s+2[34]:\d\d:\d\d\.\d{3} CRL ", timers), timers
    # fetched once, reused for the second peer
    assert out.count("CRL received from") == 1
    assert _openssl(tmp_path, good, root, crl_der)
    assert not _openssl(tmp_path, bad, root, crl_der)


@pytest.mark.parametrize("case", ["ldap", "ldap-fails"])
def test_peers_judged_with_crl_from_slapd_or_scep_getcrl(tmp_path, case):
    # the lab CA names an ldap:// CRL distribution point on slapd; slapd holds
    # the lab CA's CRL ("ldap"), or the entry has no CRL, so the board falls
    # back to SCEP GetCRL from the enrollment URL (HTTP, LDAP, then SCEP)
    from slapd_peer import Slapd

    with labca_peer.running(tmp_path, ra=True, challenge="s3cret") as server:
        slapd = Slapd(tmp_path / "ldap", {}, port=labca_peer.free_port())
        url = slapd.url("cn=labca")
        good, bad = _peers(server, url)
        crl_der = server.ca.crl_der("ca")  # after the revocation
        root = server.ca.ca_cert
        slapd.entries = {"cn=labca": {
            "crl": crl_der if case == "ldap" else None,
            "ca": root.public_bytes(serialization.Encoding.DER)}}
        img = _image(tmp_path, good, bad)
        with slapd:
            if case == "ldap":  # OpenLDAP's own client reads the same CRL
                held = slapd.ldapsearch("cn=labca", "certificateRevocationList;binary")
                assert "certificateRevocationList;binary:: " in held
            out = run_board(img, [clock_line(), *trustpoint_lines(server.url),
                                  "crypto ca authenticate lab", "yes", "crypto ca enroll lab",
                                  "debug crypto pki transactions",
                                  "crypto ca verify lab good.pem",
                                  "crypto ca verify lab revoked.pem", "show crypto ca crls"])
        log = list(server.log)
    good_out, bad_out = _verdicts(out)
    got = [line.split(" from ", 1)[1] for line in good_out.splitlines()
           if "CRYPTO_PKI: Getting CRL of" in line]
    if case == "ldap":
        assert got == [url], good_out
        assert "CRL received from %s" % url in good_out
        assert not any("GetCRL" in line for line in log)
        assert "      " + url in bad_out  # show crypto ca crls
    else:
        assert got == [url, "SCEP GetCRL at " + server.url], good_out
        assert "CRL from %s refused: LDAP 127.0.0.1:%d: cn=labca,dc=lab,dc=test has no " \
               "certificateRevocationList;binary" % (url, slapd.port) in good_out, good_out
        assert "CRL received from SCEP GetCRL at %s" % server.url in good_out
        assert any("GetCRL" in line for line in log)
        assert "      SCEP GetCRL at " + server.url in bad_out
    assert out.count("CRL received from") == 1  # cached for the second peer
    assert _openssl(tmp_path, good, root, crl_der)
    assert not _openssl(tmp_path, bad, root, crl_der)
