# SPDX-License-Identifier: MIT
"""The lab CA (upki-host labca): init, SCEP answers, approval queue, revocation, CRLs,
GetCert/GetCRL/RenewalReq, capability enforcement and the forged-reply hooks.

Replies are judged by openssl (cms -verify / -decrypt, verify, crl) and cryptography;
the requests come from tests/labca_peer.SCEPClient (asn1crypto + cryptography).
"""

import base64
import json
import subprocess
import sys
import time

import pytest
from asn1crypto import cms as acms
from asn1crypto import crl as acrl
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

import labca_peer
from conftest import require_command
from host_tools.upki_host.labca import DEFAULT_CAPS, LabCA, LabCAError, LabCAServer
from labca_peer import SCEPClient, http, run

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER


@pytest.fixture
def openssl():
    return require_command("openssl")


def labca_cli(*args, check=True):
    r = subprocess.run(
        [sys.executable, "-m", "host_tools.upki_host.cli", "labca", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(labca_peer.ROOT),
    )
    if check and r.returncode != 0:
        raise AssertionError(
            "labca %s failed (%d): %s%s" % (args, r.returncode, r.stdout, r.stderr)
        )
    return r


def write_pem(path, *certs):
    path.write_bytes(b"".join(c.public_bytes(PEM) for c in certs))
    return path


def certs_of(p7_der):
    return pkcs7.load_der_pkcs7_certificates(p7_der)


def openssl_verify(tmp_path, ca, leaf, crl_check=False, crls=()):
    roots = write_pem(tmp_path / "roots.pem", ca.root_cert)
    untrusted = [ca.sub_cert] if ca.sub_cert is not None else []
    cmd = ["openssl", "verify", "-CAfile", roots]
    if untrusted:
        cmd += ["-untrusted", write_pem(tmp_path / "untrusted.pem", *untrusted)]
    if crl_check:
        cmd += ["-crl_check_all" if untrusted else "-crl_check"]
        for i, der in enumerate(crls):
            p = tmp_path / ("crl%d.pem" % i)
            p.write_bytes(x509.load_der_x509_crl(der).public_bytes(PEM))
            cmd += ["-CRLfile", p]
    cmd.append(write_pem(tmp_path / "leaf.pem", leaf))
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=30)


# ---- init ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sub_ca", [False, True])
def test_init_makes_ca_ra_certificates_that_openssl_verifies(tmp_path, openssl, sub_ca):
    ca = labca_peer.make_ca(tmp_path / "ca", sub_ca=sub_ca)
    assert ca.root_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (ca.sub_cert is not None) == sub_ca
    assert ca.ca_cert == (ca.sub_cert if sub_ca else ca.root_cert)
    ku_sign = ca.ra_sign_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    ku_enc = ca.ra_enc_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku_sign.digital_signature and not ku_sign.key_encipherment
    assert ku_enc.key_encipherment and not ku_enc.digital_signature
    for c in (ca.ra_sign_cert, ca.ra_enc_cert):
        assert c.issuer == ca.ca_cert.subject
        r = openssl_verify(tmp_path, ca, c)
        assert r.returncode == 0, r.stdout + r.stderr
    state = json.loads((tmp_path / "ca" / "state.json").read_text())
    assert state["requests"] == {} and state["revoked"] == {}
    assert (tmp_path / "ca" / "crl" / "ca.crl").exists()
    assert oct((tmp_path / "ca" / "root.key").stat().st_mode & 0o777) == "0o600"


def test_init_refuses_to_overwrite_and_cli_init_no_ra(tmp_path):
    labca_peer.make_ca(tmp_path / "ca")
    with pytest.raises(LabCAError, match="already holds a lab CA"):
        LabCA(tmp_path / "ca").init()
    r = labca_cli("init", "--dir", tmp_path / "ca2", "--no-ra", "--cn", "Test Root CA")
    assert "root CA" in r.stdout and "RA" not in r.stdout
    ca = LabCA(tmp_path / "ca2")
    assert ca.ra_sign_cert is None and ca.ra_enc_cert is None
    assert ca.root_cert.subject.rfc4514_string() == "CN=Test Root CA,O=upki lab"
    r = labca_cli("init", "--dir", tmp_path / "ca2", check=False)
    assert r.returncode == 1 and "already holds a lab CA" in r.stderr
    r = labca_cli("list", "--dir", tmp_path / "nothing", check=False)
    assert r.returncode == 1 and "no lab CA in" in r.stderr


# ---- GetCACaps / GetCACert ----------------------------------------------------------------------


def test_getcacaps_default_and_configured(tmp_path):
    with labca_peer.running(tmp_path) as server:
        status, ctype, body = http("GET", server.url + "?operation=GetCACaps")
        assert status == 200 and ctype == "text/plain"
        assert body.decode().split("\n") == list(DEFAULT_CAPS)
        assert "GetNextCACert" not in body.decode()
        server.caps = ("SHA-1", "DES3")
        _s, _c, body = http("GET", server.base_url + "/cgi-bin/pkiclient.exe?operation=GetCACaps")
        assert body == b"SHA-1\nDES3"
        status, _c, body = http("GET", server.url + "?operation=Bogus")
        assert status == 400
        status, _c, _b = http("GET", server.base_url + "/elsewhere?operation=GetCACaps")
        assert status == 404
        assert any("GetCACaps" in line for line in server.log)


@pytest.mark.parametrize(
    "sub_ca,ra,count", [(False, False, 1), (False, True, 3), (True, True, 4), (True, False, 2)]
)
def test_getcacert_single_or_ca_ra_chain(tmp_path, openssl, sub_ca, ra, count):
    with labca_peer.running(tmp_path, sub_ca=sub_ca, ra=ra) as server:
        status, ctype, body = http("GET", server.url + "?operation=GetCACert&message=upki")
        assert status == 200
        ca = server.ca
        if count == 1:
            assert ctype == "application/x-x509-ca-cert"
            assert x509.load_der_x509_certificate(body) == ca.root_cert
            return
        assert ctype == "application/x-x509-ca-ra-cert"
        (tmp_path / "p7.der").write_bytes(body)
        out = run(
            [
                "openssl",
                "pkcs7",
                "-inform",
                "DER",
                "-in",
                tmp_path / "p7.der",
                "-print_certs",
                "-noout",
            ]
        ).decode()
        assert out.count("subject=") == count
        got = certs_of(body)  # a SET: DER order, not ours
        want = {ca.ca_cert, ca.root_cert}
        if ra:
            want |= {ca.ra_sign_cert, ca.ra_enc_cert}
        assert set(got) == want


# ---- enrollment with the small client -----------------------------------------------------------


@pytest.mark.parametrize(
    "method,cipher,digest",
    [
        ("POST", "aes128_cbc", "sha256"),
        ("GET", "tripledes_3key", "sha1"),
        ("POST", "aes256_cbc", "sha256"),
    ],
)
def test_pkcsreq_success_is_a_faithful_certrep(tmp_path, openssl, method, cipher, digest):
    with labca_peer.running(tmp_path, sub_ca=True, challenge="s3cret") as server:
        client = SCEPClient(server, method=method, cipher=cipher, digest=digest)
        rep = client.enroll("board1", san="board1.lab.test")
        assert rep.http_status == 200 and rep.content_type == "application/x-pki-message"
        f = rep.fields
        assert f["message_type"] == "3" and rep.pki_status == "SUCCESS"
        assert f["transaction_id"] == client.transaction_id
        assert f["recipient_nonce"] == client.last_nonce
        assert len(f["sender_nonce"]) == 16 and f["sender_nonce"] != client.last_nonce
        outer = acms.ContentInfo.load(rep.body)["content"]
        si = outer["signer_infos"][0]
        assert si["signature_algorithm"]["algorithm"].dotted == "1.2.840.113549.1.1.1"
        assert si["digest_algorithm"]["algorithm"].native == digest
        env = acms.ContentInfo.load(outer["encap_content_info"]["content"].native)
        eci = env["content"]["encrypted_content_info"]
        assert eci["content_encryption_algorithm"]["algorithm"].native == cipher
        p7 = client.unwrap(rep, tmp_path / "u")
        (cert,) = certs_of(p7)
        assert cert.subject.rfc4514_string() == "CN=board1,O=upki lab"
        assert cert.public_key().public_numbers() == client.key.public_key().public_numbers()
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["board1.lab.test"]
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert cdp[0].full_name[0].value == server.crl_url
        r = openssl_verify(tmp_path, server.ca, cert)
        assert r.returncode == 0, r.stdout + r.stderr
        line = [entry for entry in server.log if "PKIOperation" in entry][-1]
        assert "PKCSReq" in line and "SUCCESS" in line and method in line


def test_wrong_or_missing_challenge_is_failure_badrequest(tmp_path):
    with labca_peer.running(tmp_path, challenge="s3cret") as server:
        client = SCEPClient(server)
        rep = client.enroll(challenge="wrong")
        assert rep.http_status == 200
        assert rep.pki_status == "FAILURE" and rep.fail_info == "badRequest"
        assert rep.fields["fail_info_text"] == "wrong challenge password"
        assert rep.fields["recipient_nonce"] == client.last_nonce
        assert client.enroll(challenge=None).fields["fail_info_text"] == (
            "the request carries no challenge password"
        )
        assert server.ca.state()["issued"] == {}


def test_keyusage_from_extension_request_and_validity_days(tmp_path):
    with labca_peer.running(tmp_path, days=30) as server:
        client = SCEPClient(server)
        ku = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        csr = labca_peer.make_csr(client.key, "sig-only", challenge=None, key_usage=ku)
        rep = client.send("19", csr.public_bytes(DER))
        assert rep.pki_status == "SUCCESS"
        (cert,) = certs_of(client.unwrap(rep, tmp_path / "u"))
        got = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert got.digital_signature and not got.key_encipherment
        days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
        assert days == 30


def test_pkcsreq_signed_by_another_key_is_badmessagecheck(tmp_path):
    with labca_peer.running(tmp_path) as server:
        client = SCEPClient(server)
        other = labca_peer.generated_key("other")
        rep = client.enroll(signer=labca_peer.self_signed(other), signer_key=other)
        assert rep.pki_status == "FAILURE" and rep.fail_info == "badMessageCheck"
        # and a signature that does not verify at all
        der = bytearray(
            labca_peer.pki_message(
                "19", b"x", client.signer, client.key, client.recipient, "T1", b"n" * 16
            )
        )
        sig = acms.ContentInfo.load(bytes(der))["content"]["signer_infos"][0]["signature"].native
        i = bytes(der).find(sig)
        der[i + 10] ^= 0xFF
        rep = client.send_raw(bytes(der))
        assert rep.pki_status == "FAILURE" and rep.fail_info == "badMessageCheck"
        assert rep.fields["fail_info_text"] == "the pkiMessage signature does not verify"


def test_garbage_request_is_http_400_and_get_plus_encoding(tmp_path):
    with labca_peer.running(tmp_path) as server:
        status, _c, body = http(
            "POST", server.url + "?operation=PKIOperation", b"\x30\x03\x02\x01"
        )
        assert status == 400 and b"not a CMS SignedData" in body
        status, _c, _b = http("GET", server.url + "?operation=PKIOperation&message=%%%")
        assert status == 400
        client = SCEPClient(server, method="GET")
        csr = labca_peer.make_csr(client.key, "plus", challenge=None)
        der = labca_peer.pki_message(
            "19",
            csr.public_bytes(DER),
            client.signer,
            client.key,
            client.recipient,
            client.transaction_id,
            b"n" * 16,
        )
        # an unescaped '+' (as sscep sends) must not turn into a space
        b64 = base64.b64encode(der).decode()
        raw = b64.replace("/", "%2F").replace("=", "%3D")
        status, _c, body = http("GET", server.url + "?operation=PKIOperation&message=" + raw)
        assert status == 200
        assert labca_peer.Reply(status, "", body).pki_status == "SUCCESS"


# ---- capabilities -------------------------------------------------------------------------------


def test_caps_are_enforced_get_only_3des_sha1(tmp_path):
    with labca_peer.running(tmp_path, caps=("SHA-1", "DES3")) as server:
        post = SCEPClient(server, method="POST", cipher="tripledes_3key", digest="sha1")
        status, _c, body = http("POST", server.url + "?operation=PKIOperation", b"\x30\x00")
        assert status == 405 and b"POST is not offered" in body
        rep = SCEPClient(server, method="GET", cipher="aes128_cbc", digest="sha1").enroll(
            challenge=None
        )
        assert rep.fail_info == "badAlg" and "AES" in rep.fields["fail_info_text"]
        rep = SCEPClient(server, method="GET", cipher="tripledes_3key", digest="sha256").enroll(
            challenge=None
        )
        assert rep.fail_info == "badAlg" and "SHA-256" in rep.fields["fail_info_text"]
        post.method = "GET"
        rep = post.enroll(challenge=None)
        assert rep.pki_status == "SUCCESS"
        si = acms.ContentInfo.load(rep.body)["content"]["signer_infos"][0]
        assert si["digest_algorithm"]["algorithm"].native == "sha1"


# ---- manual approval ----------------------------------------------------------------------------


def test_manual_queue_pending_poll_approve_from_cli(tmp_path, openssl):
    with labca_peer.running(tmp_path, manual=True, challenge="s3cret") as server:
        client = SCEPClient(server)
        rep = client.enroll("board2")
        assert rep.pki_status == "PENDING" and "fail_info" not in rep.fields
        assert (
            "content"
            not in acms.ContentInfo.load(rep.body)["content"]["encap_content_info"].native
            or not acms.ContentInfo.load(rep.body)["content"]["encap_content_info"][
                "content"
            ].native
        )
        subject = labca_peer.make_csr(client.key, "board2").subject
        assert client.poll(subject).pki_status == "PENDING"
        # the same PKCSReq sent again while pending is a poll, not a second request
        assert client.enroll("board2").pki_status == "PENDING"
        (pending,) = server.pending()
        assert pending["subject"] == "CN=board2,O=upki lab"
        out = labca_cli("list", "--dir", server.ca.dir).stdout
        assert "pending" in out and "CN=board2" in out
        out = labca_cli("approve", pending["id"], "--dir", server.ca.dir).stdout
        assert "approved" in out
        rep = client.poll(subject)
        assert rep.pki_status == "SUCCESS"
        (cert,) = certs_of(client.unwrap(rep, tmp_path / "u"))
        assert cert.subject == subject
        assert openssl_verify(tmp_path, server.ca, cert).returncode == 0
        assert server.pending() == []
        r = labca_cli("approve", pending["id"], "--dir", server.ca.dir, check=False)
        assert r.returncode == 1 and "is issued, not pending" in r.stderr


def test_manual_deny_from_cli_gives_failure(tmp_path):
    with labca_peer.running(tmp_path, manual=True) as server:
        client = SCEPClient(server)
        assert client.enroll("board3", challenge=None).pki_status == "PENDING"
        (pending,) = server.pending()
        labca_cli("deny", pending["id"], "--dir", server.ca.dir)
        rep = client.poll(labca_peer.make_csr(client.key, "board3").subject)
        assert rep.pki_status == "FAILURE" and rep.fail_info == "badRequest"
        assert "denied" in rep.fields["fail_info_text"]
        unknown = SCEPClient(server, key="other")
        rep = unknown.poll(labca_peer.make_csr(unknown.key, "x").subject)
        assert rep.fail_info == "badCertId"


# ---- renewal, GetCert, GetCRL, revocation -------------------------------------------------------


def _enrolled(server, tmp_path, cn="board1", key="client"):
    client = SCEPClient(server, key=key)
    rep = client.enroll(cn, challenge=server.responder.challenge)
    assert rep.pki_status == "SUCCESS", rep.fields
    (cert,) = certs_of(client.unwrap(rep, tmp_path / ("u-" + cn)))
    return client, cert


def test_renewalreq_signed_by_current_cert_needs_no_challenge(tmp_path, openssl):
    with labca_peer.running(tmp_path, challenge="s3cret") as server:
        old_client, old_cert = _enrolled(server, tmp_path)
        new = SCEPClient(server, key="other")
        # signed by a self-signed certificate: refused
        rep = new.enroll("board1", challenge=None, message_type="17")
        assert (
            rep.fail_info == "badRequest" and "current certificate" in rep.fields["fail_info_text"]
        )
        rep = new.enroll(
            "board1", challenge=None, message_type="17", signer=old_cert, signer_key=old_client.key
        )
        assert rep.pki_status == "SUCCESS", rep.fields
        (cert,) = certs_of(
            new.unwrap(rep, tmp_path / "r", recipient_cert=old_cert, recipient_key=old_client.key)
        )
        assert cert.public_key().public_numbers() == new.key.public_key().public_numbers()
        assert cert.serial_number != old_cert.serial_number
        assert "RenewalReq" in server.log[-1]
        # another subject may not renew with this certificate
        rep = new.enroll(
            "someone-else",
            challenge=None,
            message_type="17",
            signer=old_cert,
            signer_key=old_client.key,
        )
        assert rep.fail_info == "badRequest"
        # revoked: renewal refused
        server.revoke(old_cert.serial_number)
        rep = new.enroll(
            "board1", challenge=None, message_type="17", signer=old_cert, signer_key=old_client.key
        )
        assert rep.fail_info == "badRequest"
        # without Renewal in GetCACaps a RenewalReq is refused
        server.caps = ("POSTPKIOperation", "SHA-256", "AES")
        rep = new.enroll(
            "board1", challenge=None, message_type="17", signer=cert, signer_key=new.key
        )
        assert rep.fail_info == "badRequest" and "Renewal" in rep.fields["fail_info_text"]


def test_getcert_by_issuer_and_serial(tmp_path, openssl):
    with labca_peer.running(tmp_path, sub_ca=True) as server:
        client, cert = _enrolled(server, tmp_path)
        rep = client.get_cert(cert.serial_number)
        assert rep.pki_status == "SUCCESS" and "GetCert" in server.log[-1]
        (got,) = certs_of(client.unwrap(rep, tmp_path / "g"))
        assert got == cert
        rep = client.get_cert(0x7777)
        assert rep.pki_status == "FAILURE" and rep.fail_info == "badCertId"
        rep = client.get_cert(cert.serial_number, issuer=server.ca.root_cert)
        assert rep.fail_info == "badCertId"


def test_getcrl_and_revocation_over_http_cdp(tmp_path, openssl):
    with labca_peer.running(tmp_path, sub_ca=True) as server:
        client, cert = _enrolled(server, tmp_path)
        _c2, cert2 = _enrolled(server, tmp_path, cn="board9", key="other")
        serial = "%X" % cert.serial_number
        out = labca_cli("revoke", serial, "keyCompromise", "--dir", server.ca.dir).stdout
        assert "revoked" in out
        r = labca_cli("revoke", serial, "--dir", server.ca.dir, check=False)
        assert r.returncode == 1 and "already revoked" in r.stderr
        r = labca_cli("revoke", "ABCDEF", "--dir", server.ca.dir, check=False)
        assert r.returncode == 1 and "was not issued by this CA" in r.stderr
        # the CRL at the certificate's own CDP URL
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        status, ctype, der = http("GET", cdp[0].full_name[0].value)
        assert status == 200 and ctype == "application/pkix-crl"
        (tmp_path / "ca.crl").write_bytes(der)
        text = run(
            ["openssl", "crl", "-inform", "DER", "-in", tmp_path / "ca.crl", "-text", "-noout"]
        ).decode()
        assert "Serial Number: %02X" % cert.serial_number in text
        assert "Key Compromise" in text
        crl = x509.load_der_x509_crl(der)
        assert crl.is_signature_valid(server.ca.ca_cert.public_key())
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
            x509.ReasonFlags.key_compromise
        )
        assert crl.get_revoked_certificate_by_serial_number(cert2.serial_number) is None
        _s, _c, root_crl = http("GET", server.base_url + "/crl/root.crl")
        assert x509.load_der_x509_crl(root_crl).is_signature_valid(
            server.ca.root_cert.public_key()
        )
        r = openssl_verify(tmp_path, server.ca, cert, crl_check=True, crls=(der, root_crl))
        assert r.returncode != 0 and "revoked" in (r.stdout + r.stderr)
        r = openssl_verify(tmp_path, server.ca, cert2, crl_check=True, crls=(der, root_crl))
        assert r.returncode == 0, r.stdout + r.stderr
        # GetCRL over SCEP answers the same CRL
        rep = client.get_crl()
        assert rep.pki_status == "SUCCESS"
        p7 = client.unwrap(rep, tmp_path / "c")
        crls = list(acms.ContentInfo.load(p7)["content"]["crls"])
        (got,) = [acrl.CertificateList.load(c.chosen.dump()) for c in crls]
        got = x509.load_der_x509_crl(got.dump())
        assert got.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
        assert got.is_signature_valid(server.ca.ca_cert.public_key())
        rep = client.get_crl(issuer=labca_peer.self_signed(client.key, "Nobody"))
        assert rep.fail_info == "badCertId"
        out = labca_cli("crl", "--dir", server.ca.dir, "--out", tmp_path / "o.crl").stdout
        assert ("serial %X revoked" % cert.serial_number) in out and "keyCompromise" in out
        assert x509.load_der_x509_crl(
            (tmp_path / "o.crl").read_bytes()
        ).get_revoked_certificate_by_serial_number(cert.serial_number)


# ---- the serve command --------------------------------------------------------------------------


def test_serve_cli_logs_each_request_and_rereads_state(tmp_path):
    labca_peer.make_ca(tmp_path / "ca")
    from labca_peer import free_port

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "host_tools.upki_host.cli",
            "labca",
            "serve",
            "--dir",
            str(tmp_path / "ca"),
            "--port",
            str(port),
            "--manual",
            "--caps",
            "POSTPKIOperation,SHA-256,AES",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=str(labca_peer.ROOT),
    )
    try:
        url = "http://127.0.0.1:%d/scep" % port
        deadline = time.monotonic() + 10
        while True:
            try:
                status, _c, body = http("GET", url + "?operation=GetCACaps", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "labca serve did not start"
                time.sleep(0.05)
        assert body == b"POSTPKIOperation\nSHA-256\nAES"

        class Shim:  # the client needs .url and .ca
            pass

        shim = Shim()
        shim.url, shim.ca = url, LabCA(tmp_path / "ca")
        client = SCEPClient(shim)
        assert client.enroll("cli1", challenge=None).pki_status == "PENDING"
        (rec,) = shim.ca.pending()
        labca_cli("approve", rec["id"], "--dir", tmp_path / "ca")
        rep = client.poll(labca_peer.make_csr(client.key, "cli1").subject)
        assert rep.pki_status == "SUCCESS"
        (cert,) = certs_of(client.unwrap(rep, tmp_path / "u"))
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert cdp[0].full_name[0].value == "http://127.0.0.1:%d/crl/ca.crl" % port
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    lines = [line for line in out.splitlines() if " labca: 127.0.0.1 " in line]
    assert len(lines) == 3, out
    assert "GetCACaps" in lines[0] and "PENDING" in lines[1] and "SUCCESS" in lines[2]


# ---- forged replies -----------------------------------------------------------------------------


def _openssl_verifies(client, rep, tmp_path):
    try:
        client.unwrap(rep, tmp_path)
        return True
    except AssertionError:
        return False


def test_forged_cms_replies(tmp_path, openssl):
    with labca_peer.running(tmp_path, sub_ca=True) as server:
        client = SCEPClient(server)
        honest = client.enroll(challenge=None)
        assert _openssl_verifies(client, honest, tmp_path / "h")
        previous_nonce = client.last_nonce

        server.forge("stale-nonce")
        rep = client.enroll(challenge=None)
        assert rep.fields["recipient_nonce"] == previous_nonce != client.last_nonce
        assert "[forged: stale-nonce]" in server.log[-1]

        server.forge("bad-signature")
        rep = client.enroll(challenge=None)
        assert rep.pki_status == "SUCCESS" and not _openssl_verifies(client, rep, tmp_path / "b")

        server.forge("wrong-signer")
        rep = client.enroll(challenge=None)
        signer = acms.ContentInfo.load(rep.body)["content"]["certificates"][0].chosen
        assert signer.subject.native["common_name"] == "upki lab impostor RA"
        assert not _openssl_verifies(client, rep, tmp_path / "w")

        server.forge("transaction-id")
        rep = client.enroll(challenge=None)
        assert rep.fields["transaction_id"] != client.transaction_id
        assert _openssl_verifies(client, rep, tmp_path / "t")

        server.forge("recipient-nonce")
        rep = client.enroll(challenge=None)
        assert rep.fields["recipient_nonce"] != client.last_nonce
        assert len(rep.fields["recipient_nonce"]) == 16

        server.forge("no-recipient-nonce")
        assert "recipient_nonce" not in client.enroll(challenge=None).fields

        server.forge("message-type")
        assert client.enroll(challenge=None).fields["message_type"] == "19"

        server.forge("other-key")
        rep = client.enroll(challenge=None)
        (cert,) = certs_of(client.unwrap(rep, tmp_path / "o"))
        assert cert.public_key().public_numbers() != client.key.public_key().public_numbers()
        assert openssl_verify(tmp_path, server.ca, cert).returncode == 0

        server.forge("foreign-ca")
        rep = client.enroll(challenge=None)
        (cert,) = certs_of(client.unwrap(rep, tmp_path / "f"))
        assert cert.public_key().public_numbers() == client.key.public_key().public_numbers()
        assert cert.issuer == server.ca.ca_cert.subject
        assert openssl_verify(tmp_path, server.ca, cert).returncode != 0

        # forgeries are used up: the next reply is honest again
        rep = client.enroll(challenge=None)
        assert rep.fields["recipient_nonce"] == client.last_nonce
        assert _openssl_verifies(client, rep, tmp_path / "n")
        with pytest.raises(ValueError, match="unknown forgery"):
            server.forge("nonsense")


def test_forged_http_replies(tmp_path):
    import http.client as httpclient
    import socket

    with labca_peer.running(tmp_path, hang_seconds=30) as server:
        client = SCEPClient(server)
        honest = client.enroll(challenge=None).body

        server.forge("garbage")
        rep = client.send_raw(b"\x30\x00")  # the request does not matter
        assert rep.http_status == 200 and len(rep.body) >= 64 and rep.parse_error is not None
        assert "[forged: garbage]" in server.log[-1]

    with labca_peer.running(tmp_path / "2", hang_seconds=30) as server:
        client = SCEPClient(server)
        server.forge("truncated")
        csr = labca_peer.make_csr(client.key, "t").public_bytes(DER)
        der = labca_peer.pki_message(
            "19",
            csr,
            client.signer,
            client.key,
            client.recipient,
            client.transaction_id,
            b"n" * 16,
        )
        status, _c, body = http("POST", server.url + "?operation=PKIOperation", der)
        assert status == 200 and abs(len(body) - len(honest) // 2) < 200
        with pytest.raises(ValueError):
            acms.ContentInfo.load(body).native

        server.forge("empty")
        assert http("POST", server.url + "?operation=PKIOperation", der)[2] == b""

        server.forge("http-500")
        assert http("POST", server.url + "?operation=PKIOperation", der)[0] == 500

        server.forge("short-read")
        with pytest.raises(httpclient.IncompleteRead):
            http("POST", server.url + "?operation=PKIOperation", der)

        server.forge("oversize")
        conn = httpclient.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("POST", "/scep?operation=PKIOperation", body=der)
        resp = conn.getresponse()
        assert int(resp.getheader("Content-Length")) == 4 << 20
        assert len(resp.read(100000)) == 100000
        conn.close()

        server.forge("http-500", operation="GetCACert")
        assert http("GET", server.url + "?operation=GetCACert")[0] == 500
        assert http("GET", server.url + "?operation=GetCACert")[0] == 200

        server.forge("hang", count=None)
        t0 = time.monotonic()
        with pytest.raises((socket.timeout, TimeoutError, OSError)):
            http("POST", server.url + "?operation=PKIOperation", der, timeout=0.5)
        assert time.monotonic() - t0 < 5
        server.clear_forgeries()
        assert http("POST", server.url + "?operation=PKIOperation", der)[0] == 200
    # stop() returned although a handler was still hanging


def test_server_api_requires_a_ca(tmp_path):
    with pytest.raises(LabCAError, match="no lab CA"):
        LabCAServer(tmp_path / "none")


def test_certificate_forgery_waits_for_the_reply_that_carries_one(tmp_path, openssl):
    with labca_peer.running(tmp_path, manual=True) as server:
        client = SCEPClient(server)
        subject = labca_peer.make_csr(client.key, "late").subject
        server.forge("other-key")
        assert client.enroll("late", challenge=None).pki_status == "PENDING"
        assert client.poll(subject).pki_status == "PENDING"
        assert "[forged" not in "".join(server.log)
        (rec,) = server.pending()
        server.approve(rec["id"])
        rep = client.poll(subject)
        assert rep.pki_status == "SUCCESS" and "[forged: other-key]" in server.log[-1]
        (cert,) = certs_of(client.unwrap(rep, tmp_path / "u"))
        assert cert.public_key().public_numbers() != client.key.public_key().public_numbers()


def test_signer_named_by_subject_key_identifier_and_cdp_url_option(tmp_path, openssl):
    cdp = "http://crl.lab.test/upki.crl"
    with labca_peer.running(tmp_path, cdp_url=cdp) as server:
        client = SCEPClient(server)
        der, signer = client_message_with_ski(client)
        rep = client.send_raw(der)
        assert rep.pki_status == "SUCCESS", rep.fields
        (cert,) = certs_of(client.unwrap(rep, tmp_path / "u", recipient_cert=signer))
        got = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert got[0].full_name[0].value == cdp


def client_message_with_ski(client):
    """A PKCSReq whose SignerInfo names its signer by subjectKeyIdentifier (CMS v3)."""
    key = client.key
    signer = labca_peer.self_signed_with_ski(key)
    csr = labca_peer.make_csr(key, "ski", challenge=None).public_bytes(DER)
    der = labca_peer.pki_message(
        "19", csr, signer, key, client.recipient, client.transaction_id, b"s" * 16
    )
    ci = acms.ContentInfo.load(der)
    si = ci["content"]["signer_infos"][0]
    ski = signer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    si["sid"] = acms.SignerIdentifier(name="subject_key_identifier", value=ski)
    si["version"] = "v3"
    return ci.dump(force=True), signer


def test_sha1_csr_is_accepted_and_request_algorithms_recorded(tmp_path, openssl):
    """OpenSSL 3 (under cryptography) calls SHA-1 signatures invalid; IOS and old clients
    still sign CSRs with SHA-1, and the lab CA must accept them."""
    with labca_peer.running(tmp_path, caps=("POSTPKIOperation", "SHA-1", "DES3")) as server:
        client = SCEPClient(server, cipher="tripledes_3key", digest="sha1")
        (tmp_path / "k.pem").write_bytes(labca_peer.key_pem(client.key))
        run(
            [
                "openssl",
                "req",
                "-new",
                "-sha1",
                "-key",
                tmp_path / "k.pem",
                "-subj",
                "/O=upki lab/CN=old-router",
                "-outform",
                "DER",
                "-out",
                tmp_path / "r.der",
            ]
        )
        csr_der = (tmp_path / "r.der").read_bytes()
        assert x509.load_der_x509_csr(csr_der).signature_hash_algorithm.name == "sha1"
        rep = client.send("19", csr_der)
        assert rep.pki_status == "SUCCESS", rep.fields
        (cert,) = certs_of(client.unwrap(rep, tmp_path / "u"))
        assert cert.subject.rfc4514_string() == "CN=old-router,O=upki lab"
        (req,) = server.ca.requests()
        assert req["digest"] == "SHA-1" and req["cipher"] == "DES3"
        # a SHA-1 CSR whose signature is broken is still refused
        bad = bytearray(csr_der)
        bad[-5] ^= 0x40
        rep = client.send("19", bytes(bad))
        assert rep.fail_info == "badMessageCheck"


def test_subjects_read_with_ios_attribute_words(tmp_path):
    from cryptography.x509.oid import NameOID

    from host_tools.upki_host.labca.ca import name_text

    name = x509.Name(
        [
            x509.NameAttribute(NameOID.UNSTRUCTURED_NAME, "r1.lab.test"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "77CBF809"),
            x509.NameAttribute(NameOID.COMMON_NAME, "r1"),
        ]
    )
    assert name_text(name) == "CN=r1,serialNumber=77CBF809,unstructuredName=r1.lab.test"


def test_mangled_requests_get_400_or_failure_never_500(tmp_path):
    """Truncations and bit flips of a valid pkiMessage: every answer is a clear HTTP 400
    or a CertRep FAILURE (or, where the flip missed anything checked, SUCCESS)."""
    with labca_peer.running(tmp_path) as server:
        client = SCEPClient(server)
        csr = labca_peer.make_csr(client.key, "mangle").public_bytes(DER)
        der = labca_peer.pki_message(
            "19",
            csr,
            client.signer,
            client.key,
            client.recipient,
            client.transaction_id,
            b"m" * 16,
        )
        url = server.url + "?operation=PKIOperation"
        seen = set()
        cuts = [1, 2, 10, 50, len(der) // 3, len(der) // 2, len(der) - 300, len(der) - 1]
        for cut in cuts:
            status, _c, body = http("POST", url, der[:cut])
            assert status == 400 and body.strip(), (cut, body)
        for offset in range(0, len(der), max(1, len(der) // 60)):
            mangled = bytearray(der)
            mangled[offset] ^= 0x5A
            status, _c, body = http("POST", url, bytes(mangled))
            assert status in (200, 400), (offset, status, body[:200])
            if status == 200:
                seen.add(labca_peer.Reply(status, "", body).pki_status)
            else:
                assert body.strip()
        assert "FAILURE" in seen
        # a validly signed and encrypted message around a mangled PKCS#10 request
        for offset in [10] + list(range(0, len(csr), max(1, len(csr) // 40))):
            mangled = bytearray(csr)
            mangled[offset] ^= 0x5A
            rep = client.send("19", bytes(mangled))
            assert rep.http_status == 200, (offset, rep.body[:200])
            assert rep.pki_status in ("FAILURE", "SUCCESS"), offset
        assert not any(" -> 500 " in line for line in server.log), server.log
        assert client.enroll(challenge=None).pki_status == "SUCCESS"


def test_parallel_enrollments_get_distinct_serials(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with labca_peer.running(tmp_path, sub_ca=True) as server:
        clients = [SCEPClient(server, key="par%d" % i) for i in range(6)]

        def enroll(i):
            return clients[i].enroll("par%d" % i, challenge=None)

        with ThreadPoolExecutor(max_workers=6) as pool:
            reps = list(pool.map(enroll, range(6)))
        assert [r.pki_status for r in reps] == ["SUCCESS"] * 6
        state = server.ca.state()
        assert len(state["issued"]) == 6 and len(state["requests"]) == 6
        serials = {int(s, 16) for s in state["issued"]}
        assert len(serials) == 6
        for serial in serials:
            assert server.ca.issued_cert(serial).serial_number == serial


def test_whole_chain_crl_check_with_openssl_crl_download(tmp_path, openssl):
    """init --cdp-base: the sub-CA and RA certificates name the server's CRLs too, so
    `openssl verify -crl_check_all -crl_download` fetches a CRL for every certificate."""
    with labca_peer.running(tmp_path, sub_ca=True, chain_cdp=True) as server:
        ca = server.ca
        sub_cdp = ca.sub_cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
        assert sub_cdp.value[0].full_name[0].value == server.base_url + "/crl/root.crl"
        ra_cdp = ca.ra_sign_cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
        assert ra_cdp.value[0].full_name[0].value == server.crl_url
        _client, cert = _enrolled(server, tmp_path)

        # the root names no CDP (it is self-signed): its CRL is given by file, fetched
        # from the server like the others
        _s, _c, root_crl = http("GET", server.base_url + "/crl/root.crl")
        (tmp_path / "root-crl.pem").write_bytes(x509.load_der_x509_crl(root_crl).public_bytes(PEM))

        def verify():
            cmd = [
                "openssl",
                "verify",
                "-crl_check_all",
                "-crl_download",
                "-CRLfile",
                tmp_path / "root-crl.pem",
                "-CAfile",
                write_pem(tmp_path / "root.pem", ca.root_cert),
                "-untrusted",
                write_pem(tmp_path / "sub.pem", ca.sub_cert),
                write_pem(tmp_path / "leaf.pem", cert),
            ]
            return subprocess.run(
                [str(c) for c in cmd], capture_output=True, text=True, timeout=30
            )

        before = len(server.log)
        r = verify()
        assert r.returncode == 0 and ": OK" in r.stdout, r.stdout + r.stderr
        # openssl fetched the leaf's CRL from the CDP the lab CA wrote into it
        assert any(" GET /crl/ca.crl -> 200 CRL ca" in line for line in server.log[before:])
        server.revoke(cert.serial_number, "superseded")
        r = verify()
        assert r.returncode != 0 and "certificate revoked" in r.stdout + r.stderr
