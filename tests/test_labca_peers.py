# SPDX-License-Identifier: MIT
"""Independent SCEP clients enroll against the lab CA (upki-host labca):
micromdm's scepclient (Debian `scep`) and strongSwan's `pki --scep` (strongswan-pki).
openssl verify judges every issued chain; approve/deny/revoke go through the CLI.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import labca_peer
from conftest import require_command

PEM = serialization.Encoding.PEM


def labca_cli(*args):
    r = subprocess.run(
        [sys.executable, "-m", "host_tools.upki_host.cli", "labca", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(labca_peer.ROOT),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def verify_chain(tmp_path, ca, leaf_pem):
    """openssl verify of an issued certificate against the root (sub-CA untrusted)."""
    roots = tmp_path / "roots.pem"
    roots.write_bytes(ca.root_cert.public_bytes(PEM))
    cmd = ["openssl", "verify", "-CAfile", str(roots)]
    if ca.sub_cert is not None:
        (tmp_path / "sub.pem").write_bytes(ca.sub_cert.public_bytes(PEM))
        cmd += ["-untrusted", str(tmp_path / "sub.pem")]
    leaf = tmp_path / "verify-leaf.pem"
    leaf.write_bytes(leaf_pem)
    r = subprocess.run(cmd + [str(leaf)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and ": OK" in r.stdout, r.stdout + r.stderr


def wait_for(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


# ---- micromdm scepclient ------------------------------------------------------------------------


@pytest.fixture
def scepclient():
    return require_command("scepclient")


def run_scepclient(exe, server, workdir, cn, challenge="s3cret", timeout=60):
    """One scepclient run; it keeps key, CSR and self-signed cert next to -private-key."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [
            exe,
            "-server-url",
            server.url,
            "-private-key",
            str(workdir / "key.pem"),
            "-certificate",
            str(workdir / "cert.pem"),
            "-cn",
            cn,
            "-organization",
            "upki lab",
            "-challenge",
            challenge,
            "-keySize",
            "2048",
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(workdir),
    )


@pytest.mark.parametrize("sub_ca,ra", [(False, True), (True, True), (False, False)])
def test_scepclient_enrolls_auto_grant(tmp_path, scepclient, sub_ca, ra):
    with labca_peer.running(tmp_path, sub_ca=sub_ca, ra=ra, challenge="s3cret") as server:
        r = run_scepclient(scepclient, server, tmp_path / "c", "board-mdm")
        assert r.returncode == 0, r.stdout + r.stderr
        pem = (tmp_path / "c" / "cert.pem").read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
        assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == (
            "board-mdm"
        )
        assert cert.issuer == server.ca.ca_cert.subject
        key = serialization.load_pem_private_key((tmp_path / "c" / "key.pem").read_bytes(), None)
        assert cert.public_key().public_numbers() == key.public_key().public_numbers()
        verify_chain(tmp_path, server.ca, pem)
        ops = [line for line in server.log if "PKIOperation" in line]
        assert len(ops) == 1 and "POST" in ops[0] and "SUCCESS" in ops[0]


def test_scepclient_get_only_sha1_3des(tmp_path, scepclient):
    with labca_peer.running(tmp_path, caps=("SHA-1", "DES3"), challenge="s3cret") as server:
        r = run_scepclient(scepclient, server, tmp_path / "c", "board-get")
        assert r.returncode == 0, r.stdout + r.stderr
        verify_chain(tmp_path, server.ca, (tmp_path / "c" / "cert.pem").read_bytes())
        (op,) = [line for line in server.log if "PKIOperation" in line]
        assert " GET " in op and "SUCCESS" in op


def test_scepclient_wrong_challenge_fails_badrequest(tmp_path, scepclient):
    with labca_peer.running(tmp_path, challenge="s3cret") as server:
        r = run_scepclient(scepclient, server, tmp_path / "c", "board-bad", challenge="nope")
        assert r.returncode != 0
        assert "badRequest" in r.stdout + r.stderr
        assert not (tmp_path / "c" / "cert.pem").exists()
        assert "FAILURE badRequest (wrong challenge password)" in server.log[-1]


def test_scepclient_manual_approval_from_cli(tmp_path, scepclient):
    """scepclient resends its PKCSReq every 30 s while PENDING; a second run with the same
    key (same transactionID) after `labca approve` gets the certificate."""
    with labca_peer.running(tmp_path, manual=True, challenge="s3cret") as server:
        work = tmp_path / "c"
        work.mkdir()
        proc = subprocess.Popen(
            [
                scepclient,
                "-server-url",
                server.url,
                "-private-key",
                str(work / "key.pem"),
                "-certificate",
                str(work / "cert.pem"),
                "-cn",
                "board-wait",
                "-challenge",
                "s3cret",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=str(work),
        )
        try:
            (rec,) = wait_for(server.pending, what="a pending request")
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        assert "CN=board-wait" in rec["subject"]
        # the client may poll GetCACaps again meanwhile: look for the line, not at the end
        assert any("PENDING id=%d queued for approval" % rec["id"] in line for line in server.log)
        assert not (work / "cert.pem").exists()
        listing = labca_cli("list", "--dir", server.ca.dir)
        assert "pending" in listing and "board-wait" in listing
        assert "approved" in labca_cli("approve", rec["id"], "--dir", server.ca.dir)
        r = run_scepclient(scepclient, server, work, "board-wait")
        assert r.returncode == 0, r.stdout + r.stderr
        verify_chain(tmp_path, server.ca, (work / "cert.pem").read_bytes())
        assert "SUCCESS id=%d" % rec["id"] in server.log[-1]
        assert len(server.ca.requests()) == 1


# ---- strongSwan pki --scep ----------------------------------------------------------------------


@pytest.fixture
def pki():
    return require_command("pki")


def write_key_der(path, key):
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path


def strongswan_args(server, workdir, key_path, cn, password="s3cret", extra=()):
    ca = server.ca
    sig = ca.ra_sign_cert or ca.ca_cert
    enc = ca.ra_enc_cert or ca.ca_cert
    for name, cert in (
        ("sig.pem", sig),
        ("enc.pem", enc),
        ("ca.pem", ca.ca_cert),
        ("root.pem", ca.root_cert),
    ):
        (workdir / name).write_bytes(cert.public_bytes(PEM))
    args = [
        "--scep",
        "--url",
        server.url,
        "--in",
        str(key_path),
        "--dn",
        "C=DE, O=upki lab, CN=%s" % cn,
        "--san",
        "%s.lab.test" % cn,
        "--cacert-enc",
        str(workdir / "enc.pem"),
        "--cacert-sig",
        str(workdir / "sig.pem"),
        "--cacert",
        str(workdir / "ca.pem"),
        "--cipher",
        "des3",
        "--interval",
        "1",
        "--maxpolltime",
        "30",
        "--outform",
        "pem",
    ]
    if ca.sub_cert is not None:
        args += ["--cacert", str(workdir / "root.pem")]
    if password is not None:
        args += ["--password", password]
    return args + list(extra)


def run_pki(exe, args, out_path, timeout=60):
    with open(out_path, "wb") as out:
        r = subprocess.run(
            [exe] + args, stdout=out, stderr=subprocess.PIPE, text=True, timeout=timeout
        )
    return r


@pytest.mark.parametrize("sub_ca,ra", [(True, True), (False, False)])
def test_strongswan_enrolls_end_to_end(tmp_path, pki, sub_ca, ra):
    with labca_peer.running(tmp_path, sub_ca=sub_ca, ra=ra, challenge="s3cret") as server:
        # GetCACert through strongSwan: it checks the chain and writes CA and RA certs
        r = subprocess.run(
            [
                pki,
                "--scepca",
                "--url",
                server.url,
                "--caout",
                str(tmp_path / "ca.der"),
                "--raout",
                str(tmp_path / "ra.der"),
                "--force",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        if ra:
            assert "RA cert is trusted" in r.stderr
        key = labca_peer.generated_key("strongswan")
        key_path = write_key_der(tmp_path / "key.der", key)
        r = run_pki(pki, strongswan_args(server, tmp_path, key_path, "gw1"), tmp_path / "c.pem")
        assert r.returncode == 0, r.stderr
        assert "Issued certificate is trusted" in r.stderr
        pem = (tmp_path / "c.pem").read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
        assert cert.subject.rfc4514_string() == "CN=gw1,O=upki lab,C=DE"
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["gw1.lab.test"]
        assert cert.public_key().public_numbers() == key.public_key().public_numbers()
        verify_chain(tmp_path, server.ca, pem)
        (op,) = [line for line in server.log if "PKIOperation" in line]
        assert "PKCSReq" in op and "SUCCESS" in op


def test_strongswan_polls_until_approved_from_cli(tmp_path, pki):
    with labca_peer.running(tmp_path, sub_ca=True, manual=True, challenge="s3cret") as server:
        key_path = write_key_der(tmp_path / "key.der", labca_peer.generated_key("strongswan"))
        out = open(tmp_path / "c.pem", "wb")
        proc = subprocess.Popen(
            [pki] + strongswan_args(server, tmp_path, key_path, "gw2"),
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        out.close()
        try:
            wait_for(
                lambda: sum("CertPoll" in line for line in server.log) >= 1, what="a CertPoll"
            )
            (rec,) = server.pending()
            labca_cli("approve", rec["id"], "--dir", server.ca.dir)
            _o, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
        assert proc.returncode == 0, err
        verify_chain(tmp_path, server.ca, (tmp_path / "c.pem").read_bytes())
        polls = [line for line in server.log if "CertPoll" in line]
        assert "PENDING" in polls[0] and "SUCCESS" in polls[-1]


def test_strongswan_denied_from_cli_gets_failure(tmp_path, pki):
    with labca_peer.running(tmp_path, manual=True) as server:
        key_path = write_key_der(tmp_path / "key.der", labca_peer.generated_key("strongswan"))
        proc = subprocess.Popen(
            [pki] + strongswan_args(server, tmp_path, key_path, "gw3", password=None),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            (rec,) = wait_for(server.pending, what="a pending request")
            labca_cli("deny", rec["id"], "--dir", server.ca.dir)
            _o, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
        assert proc.returncode != 0
        assert "badRequest" in err
        assert "denied by the CA operator" in server.log[-1]


def test_strongswan_renews_with_its_current_certificate(tmp_path, pki):
    with labca_peer.running(tmp_path, challenge="s3cret") as server:
        old_key = write_key_der(tmp_path / "old.der", labca_peer.generated_key("strongswan"))
        r = run_pki(pki, strongswan_args(server, tmp_path, old_key, "gw4"), tmp_path / "old.pem")
        assert r.returncode == 0, r.stderr
        new_key = labca_peer.generated_key("strongswan-new")
        new_path = write_key_der(tmp_path / "new.der", new_key)
        args = strongswan_args(
            server,
            tmp_path,
            new_path,
            "gw4",
            password=None,
            extra=["--cert", str(tmp_path / "old.pem"), "--key", str(old_key)],
        )
        r = run_pki(pki, args, tmp_path / "new.pem")
        assert r.returncode == 0, r.stderr
        new = x509.load_pem_x509_certificate((tmp_path / "new.pem").read_bytes())
        old = x509.load_pem_x509_certificate((tmp_path / "old.pem").read_bytes())
        assert new.public_key().public_numbers() == new_key.public_key().public_numbers()
        assert new.serial_number != old.serial_number and new.subject == old.subject
        verify_chain(tmp_path, server.ca, (tmp_path / "new.pem").read_bytes())
        ops = [line for line in server.log if "PKIOperation" in line]
        assert len(ops) == 2 and "SUCCESS" in ops[1]
        # strongSwan sends a RenewalReq (17) signed with the old certificate, no challenge
        assert "RenewalReq" in ops[1]
