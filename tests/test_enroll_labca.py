# SPDX-License-Identifier: MIT
"""SCEP enrollment of the simulated board against the lab CA (host_tools labca):
the IOS manual flow with an RA and operator approval, PENDING across a reboot,
the capability fallbacks, and every CertRep check against a forged reply.

The board's key pair is put into its flash image from the host (tests/data
rsa_1024), so no test here spends time generating keys on the port.
"""

import re
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import labca_peer
from conftest import require_command
from host_tools.upki_host.nvimage import Image
from mpy import BOARD_RUN, mpy_env

DATA = Path(__file__).resolve().parent / "data"
KEY_LABEL = "r1.lab.test"


def board_key():
    return serialization.load_der_private_key((DATA / "rsa_1024_pkcs8.der").read_bytes(), None)


def fresh_image(path, key_label=KEY_LABEL, key_file="rsa_1024_pkcs8.der"):
    """A flash image holding one RSA key pair (the NVRAM record upki.keys writes)."""
    image = Image()
    der = (DATA / key_file).read_bytes()
    head = b"upki-key usage=general exportable=0 generated=0 trusted=0\n"
    image.write("rsa/" + key_label, head + der)
    image.save(path)
    return path


def records(path):
    return Image.load(path).names()


def record(path, name):
    return Image.load(path).read(name)


def clock_line():
    return "clock set " + time.strftime("%H:%M:%S %d %b %Y", time.gmtime())


def trustpoint_lines(url, name="lab", extra=()):
    return [
        "conf t",
        "hostname r1",
        "ip domain-name lab.test",
        "crypto ca trustpoint " + name,
        " enrollment mode ra",
        " enrollment url " + url,
        " enrollment retry period 1s",
        " password s3cret",
        " serial-number none",
        " ip-address none",
        *extra,
        " exit",
        "end",
    ]


from console import Console  # noqa: E402  (the shared pipe console)


def run_board(image, lines, timeout=120):
    r = subprocess.run(
        [str(BOARD_RUN), str(image)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=mpy_env(),
    )
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "Internal error" not in out, out[-3000:]
    return r.stdout


def openssl_verify(tmp_path, leaf_der, chain):
    """openssl verify of the issued certificate against the CA chain (root trusted)."""
    require_command("openssl")
    root = chain[-1]
    (tmp_path / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "untrusted.pem").write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain[:-1]) or b""
    )
    (tmp_path / "leaf.pem").write_bytes(
        x509.load_der_x509_certificate(leaf_der).public_bytes(serialization.Encoding.PEM)
    )
    cmd = ["openssl", "verify", "-CAfile", str(tmp_path / "root.pem")]
    if len(chain) > 1:
        cmd += ["-untrusted", str(tmp_path / "untrusted.pem")]
    r = subprocess.run(cmd + [str(tmp_path / "leaf.pem")], capture_output=True, text=True)
    assert r.returncode == 0 and ": OK" in r.stdout, r.stdout + r.stderr


def assert_issued_for_board(der, ca):
    cert = x509.load_der_x509_certificate(der)
    mine = board_key().public_key().public_numbers()
    assert cert.public_key().public_numbers() == mine
    assert cert.issuer == ca.ca_cert.subject
    return cert


# ---------------------------------------------------------------- the manual flow


def test_manual_flow_pending_approve_poll_store_reboot(tmp_path):
    """The IOS walk-through: authenticate (RA), enroll, PENDING, operator approves on
    the host, the board polls, gets and stores the certificate; it survives a reload."""
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(
        tmp_path, sub_ca=True, ra=True, challenge="s3cret", manual=True
    ) as server:
        c = Console(img)
        try:
            c.send(clock_line(), *trustpoint_lines(server.url), "crypto ca authenticate lab")
            c.expect(r"Certificate has the following attributes:")
            c.expect(r"Fingerprint MD5: [0-9A-F]{8} ")
            c.expect(r"Fingerprint SHA1: [0-9A-F]{8} ")
            c.expect(r"% Do you accept this certificate\? \[yes/no\]: ")
            c.send("yes")
            c.expect("Trustpoint CA certificate accepted.")
            c.send("crypto ca enroll lab")
            c.expect(r"% Start certificate enrollment \.\.")
            c.expect(r"% The subject name in the certificate will be: r1\.lab\.test")
            c.expect(r"% Certificate request sent to Certificate Authority")
            c.expect(r"CRYPTO_PKI: status = 102: certificate request pending")
            c.expect(r"% Certificate request pending")
            # nothing is stored but the pending transaction
            c.send("show crypto ca certificates")
            c.expect(r"Certificate\n  Status: Pending")
            assert len(server.pending()) == 1
            req = server.pending()[0]
            assert "r1.lab.test" in req["subject"]
            # the board keeps polling while the request waits
            c.expect(
                r"CRYPTO_PKI: status = 102: certificate request pending", timeout=20, nudge=0.5
            )
            server.approve(req["id"])
            c.expect(
                r"%CRYPTO-6-CERTRET: Certificate received from Certificate Authority",
                timeout=30,
                nudge=0.5,
            )
            c.send("write memory")
            c.expect(r"\[OK\]")
            c.send("reload", "", "show crypto ca certificates")
            c.expect("System Bootstrap")
            c.expect(r"r1#show crypto ca certificates")
            c.expect(r"Associated Trustpoints: lab\n\nCA Certificate", timeout=20)
        finally:
            out = c.close()
        shown = out[out.rindex("r1#show crypto ca certificates") :]
        # the IOS blocks, in order, with the RA certificates named by their role
        blocks = re.findall(
            r"^(Certificate|CA Certificate|RA Signature Certificate|"
            r"RA KeyEncipher Certificate)$",
            shown,
            re.M,
        )
        assert blocks == [
            "Certificate",
            "CA Certificate",
            "CA Certificate",
            "RA Signature Certificate",
            "RA KeyEncipher Certificate",
        ]
        assert "  Status: Available" in shown
        assert "  Certificate Serial Number: " in shown
        assert "  Subject Name:\n    Name: r1.lab.test" in shown
        assert "  CRL Distribution Point:\n    " + server.crl_url in shown
        assert re.search(
            r"    start date: \d\d:\d\d:\d\d UTC \w{3} \d+ \d{4}\n"
            r"    end   date: ",
            shown,
        )
        names = records(img)
        assert {"tp/lab/ca", "tp/lab/ra-sign", "tp/lab/ra-encrypt", "tp/lab/cert"} <= set(names)
        assert "tp/lab/pending" not in names
        cert = assert_issued_for_board(record(img, "tp/lab/cert"), server.ca)
        assert "PKCSReq" in "\n".join(server.log) and "CertPoll" in "\n".join(server.log)
        openssl_verify(
            tmp_path, record(img, "tp/lab/cert"), [server.ca.sub_cert, server.ca.root_cert]
        )
        assert cert.serial_number in [
            int(r["serial"], 16) for r in server.ca.requests() if r.get("serial")
        ]


def test_denied_request_gives_a_clear_failure_and_stores_nothing(tmp_path):
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret", manual=True) as server:
        c = Console(img)
        try:
            c.send(
                clock_line(),
                *trustpoint_lines(server.url),
                "crypto ca authenticate lab",
                "yes",
                "crypto ca enroll lab",
            )
            c.expect(r"% Certificate request pending")
            server.deny(server.pending()[0]["id"])
            m = c.expect(
                r"%CRYPTO-6-CERTREJ: Certificate enrollment request was rejected by "
                r"Certificate Authority: ([^\n]*)",
                timeout=20,
                nudge=0.5,
            )
            assert "badRequest" in m.group(1) and "denied" in m.group(1)
        finally:
            c.close()
        names = records(img)
        assert "tp/lab/cert" not in names and "tp/lab/pending" not in names


def test_reboot_during_pending_resumes_polling(tmp_path):
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret", manual=True) as server:
        c = Console(img)
        try:
            c.send(
                clock_line(),
                *trustpoint_lines(server.url),
                "crypto ca authenticate lab",
                "yes",
                "crypto ca enroll lab",
            )
            c.expect(r"% Certificate request pending")
            c.send("write memory")
            c.expect(r"\[OK\]")
            c.send("reload", "")
            c.expect("System Bootstrap")
            c.expect(r"Press RETURN")
            assert "tp/lab/pending" in records(img)
            # after the reboot, polling waits for a trusted clock, then resumes
            c.send(clock_line())
            c.expect(
                r"CRYPTO_PKI: status = 102: certificate request pending", timeout=20, nudge=0.5
            )
            server.approve(server.pending()[0]["id"])
            c.expect(r"%CRYPTO-6-CERTRET", timeout=20, nudge=0.5)
        finally:
            c.close()
        assert_issued_for_board(record(img, "tp/lab/cert"), server.ca)
        assert "tp/lab/pending" not in records(img)


def test_retry_count_bounds_polling(tmp_path):
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret", manual=True) as server:
        c = Console(img)
        try:
            c.send(
                clock_line(),
                *trustpoint_lines(server.url, extra=[" enrollment retry count 2"]),
                "crypto ca authenticate lab",
                "yes",
                "crypto ca enroll lab",
            )
            c.expect(r"% Polling every 1 seconds, 2 times at most")
            c.expect(r"gave up: no answer from the CA after 2 polls", timeout=20, nudge=0.4)
        finally:
            c.close()
        polls = [line for line in server.log if "CertPoll" in line]
        assert len(polls) == 2, server.log
        assert "tp/lab/pending" not in records(img)


# ---------------------------------------------------------------- capabilities

@pytest.mark.parametrize(
    "caps,method,digest,cipher",
    [
        (
            ("Renewal", "SHA-256", "AES", "SCEPStandard", "POSTPKIOperation"),
            "POST",
            "sha256",
            "aes",
        ),
        (("SHA-256", "AES"), "GET", "sha256", "aes"),  # GET-only
        (("POSTPKIOperation", "SHA-256", "DES3"), "POST", "sha256", "des3"),  # 3DES
        (("POSTPKIOperation", "SHA-1", "AES"), "POST", "sha1", "aes"),  # SHA-1
        ((), "GET", "sha1", "des3"),  # a CA that offers nothing
    ],
)
def test_capability_fallbacks_each_enroll(tmp_path, caps, method, digest, cipher):
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", caps=caps) as server:
        out = run_board(
            img,
            [
                clock_line(),
                *trustpoint_lines(server.url, name="ca"),
                "crypto ca authenticate ca",
                "yes",
                "crypto ca enroll ca",
            ],
        )
        assert "%CRYPTO-6-CERTRET: Certificate received from Certificate Authority" in out, out
        ops = [line for line in server.log if "PKIOperation" in line]
        assert len(ops) == 1 and (" %s " % method) in ops[0], server.log
        cert = assert_issued_for_board(record(img, "tp/ca/cert"), server.ca)
        assert cert.signature_hash_algorithm is not None
        # the request's algorithms, as the CA saw them
        req = server.ca.requests()[-1]
        assert req["digest"].lower().replace("-", "") == digest, req["digest"]
        seen = req["cipher"].lower()
        assert ("aes" in seen) if cipher == "aes" else ("des" in seen and "aes" not in seen), seen


# ---------------------------------------------------------------- forged replies

FORGED = [
    ("bad-signature", r"signature check failed: bad signature"),
    ("wrong-signer", r"signature check failed: no signer|neither the RA nor the CA"),
    ("transaction-id", r"transactionID forged-[0-9a-f]+ is not ours"),
    ("recipient-nonce", r"recipientNonce does not echo our senderNonce"),
    ("stale-nonce", r"recipientNonce does not echo our senderNonce"),
    ("no-recipient-nonce", r"recipientNonce is missing"),
    ("message-type", r"messageType is 19, expected CertRep"),
    ("other-key", r"carries our public key \(a certificate for another key\)"),
    ("foreign-ca", r"does not chain to the CA"),
    ("garbage", r"CertRep: malformed reply"),
    ("truncated", r"CertRep: malformed reply"),
    ("short-read", r"SCEP server .*body truncated at \d+ of \d+ bytes"),
    ("empty", r"CertRep: empty answer"),
    ("oversize", r"SCEP server .*(larger|exceeds|too large|cap)"),
    ("http-500", r"PKCSReq: HTTP 500"),
]


def test_every_forged_certrep_is_refused_and_nothing_stored(tmp_path):
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret") as server:
        c = Console(img)
        try:
            c.send(
                clock_line(), *trustpoint_lines(server.url), "crypto ca authenticate lab", "yes"
            )
            c.expect("Trustpoint CA certificate accepted.")
            before = set(records(img))
            for kind, pattern in FORGED:
                server.forge(kind)
                c.send("crypto ca enroll lab")
                m = c.expect(r"% Enrollment failed: ([^\n]*)\n", timeout=30)
                assert re.search(pattern, m.group(1)), (kind, m.group(1))
                assert set(records(img)) == before, kind
                # the stored key is untouched
                assert record(img, "rsa/" + KEY_LABEL).endswith(
                    (DATA / "rsa_1024_pkcs8.der").read_bytes()
                )
            # and a true reply is still accepted afterwards
            c.send("crypto ca enroll lab")
            c.expect(r"%CRYPTO-6-CERTRET")
        finally:
            c.close()
        assert_issued_for_board(record(img, "tp/lab/cert"), server.ca)


def test_a_server_that_never_answers_times_out_clearly(tmp_path):
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret", hang_seconds=30) as server:
        c = Console(img)
        try:
            c.send(
                clock_line(), *trustpoint_lines(server.url), "crypto ca authenticate lab", "yes"
            )
            c.expect("Trustpoint CA certificate accepted.")
            server.forge("hang")
            t0 = time.monotonic()
            c.send("crypto ca enroll lab")
            m = c.expect(r"% Enrollment failed: ([^\n]*)\n", timeout=40)
            assert time.monotonic() - t0 < 25
            assert re.search(r"no complete answer within 10 s", m.group(1)), m.group(1)
        finally:
            c.close()
        assert "tp/lab/cert" not in records(img)


def test_fingerprint_configured_match_and_mismatch(tmp_path):
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret") as server:
        der = server.ca.ca_cert.public_bytes(serialization.Encoding.DER)
        import hashlib

        good = hashlib.sha1(der).hexdigest().upper()
        # another first byte (a fresh CA's fingerprint may itself start 00)
        bad = ("FF" if good[:2] == "00" else "00") + good[2:]
        out = run_board(
            img,
            [
                clock_line(),
                *trustpoint_lines(server.url, extra=[" fingerprint " + bad]),
                "crypto ca authenticate lab",
            ],
        )
        assert "%% Fingerprint mismatch: the configured fingerprint %s does not match" % bad in out
        assert "Do you accept" not in out
        assert "tp/lab/ca" not in records(img)
        out = run_board(
            img,
            [
                clock_line(),
                *trustpoint_lines(server.url, extra=[" fingerprint " + good]),
                "crypto ca authenticate lab",
                "crypto ca enroll lab",
            ],
        )
        assert "Do you accept" not in out
        assert "% Certificate matches the configured fingerprint." in out
        assert "%CRYPTO-6-CERTRET" in out


def test_enroll_and_authenticate_refuse_untrusted_clock(tmp_path):
    img = fresh_image(tmp_path / "b.img")
    out = run_board(
        img,
        trustpoint_lines("http://127.0.0.1:9/scep")
        + ["crypto ca authenticate lab", "crypto ca enroll lab"],
    )
    assert out.count("%PKI-2-NON_AUTHORITATIVE_CLOCK") == 2


def test_prompts_when_the_trustpoint_leaves_questions_open(tmp_path):
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret") as server:
        lines = [
            clock_line(),
            "conf t",
            "hostname r1",
            "ip domain-name lab.test",
            "crypto ca trustpoint lab",
            " enrollment url " + server.url,
            " exit",
            "crypto ca authenticate lab",
            "yes",
            "crypto ca enroll lab",
            "s3cret",
            "s3cret",
            "yes",
            "yes",
            "10.1.2.3",
            "yes",
            "end",
        ]
        out = run_board(img, lines)
        for prompt in (
            "% Create a challenge password.",
            "Password: ",
            "Re-enter password: ",
            "% Include the router serial number in the subject name? [yes/no]: ",
            "% Include an IP address in the subject name? [no]: ",
            "Request certificate from CA? [yes/no]: ",
            "% The serial number in the certificate will be: ",
        ):
            assert prompt in out, prompt
        assert "%CRYPTO-6-CERTRET" in out, out
        cert = x509.load_der_x509_certificate(record(img, "tp/lab/cert"))
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "10.1.2.3" in [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]


# ---------------------------------------------------------------- GetCRL / GetCert (API)

GET_OPS = """
import json
from binascii import hexlify
from board import Board
b = Board(%(img)r)
b.mount()
from upki import cli, enroll, trustpoint
from upki.errors import SCEPError
router, session, msgs = cli.boot(b)
router.clock.set(%(now)d, "test")
tp = trustpoint.get("lab")
ca = tp.ca_certificates()[0]
mine = tp.certificate("cert")
out = {"crl": str(hexlify(enroll.get_crl(tp, ca, mine.serial, router)), "ascii"),
       "cert": str(hexlify(enroll.get_cert(tp, ca, mine.serial, router)), "ascii")}
try:
    enroll.get_cert(tp, ca, mine.serial + 1000, router)
except SCEPError as e:
    out["missing"] = str(e)
print(json.dumps(out))
"""


def test_get_crl_and_get_cert_api(tmp_path):
    import json

    from mpy import ROOT, run_micropython

    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret") as server:
        out = run_board(img, [clock_line(), *trustpoint_lines(server.url),
                              "crypto ca authenticate lab", "yes", "crypto ca enroll lab",
                              "write memory"])
        assert "%CRYPTO-6-CERTRET" in out
        env = {"MICROPYPATH": "%s:%s:.frozen" % (ROOT / "firmware", ROOT / "boards" / "unix")}
        r = run_micropython(["-c", GET_OPS % {"img": str(img), "now": int(time.time())}], env=env,
                            timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        got = json.loads(r.stdout.strip().splitlines()[-1])
        crl = x509.load_der_x509_crl(bytes.fromhex(got["crl"]))
        assert crl.issuer == server.ca.ca_cert.subject
        assert crl.is_signature_valid(server.ca.ca_cert.public_key())
        assert bytes.fromhex(got["cert"]) == record(img, "tp/lab/cert")
        assert "GetCert refused by the CA: badCertId" in got["missing"]
        assert any("GetCRL" in line for line in server.log)


def test_debug_crypto_pki_transactions_and_messages(tmp_path):
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret") as server:
        out = run_board(img, [clock_line(), "debug crypto pki transactions",
                              "debug crypto pki messages", *trustpoint_lines(server.url),
                              "crypto ca authenticate lab", "yes", "crypto ca enroll lab"])
    assert re.search(r"\d\d:\d\d:\d\d: CRYPTO_PKI: Sending CA Certificate Request:", out), out
    assert "CRYPTO_PKI: transaction GetCACert completed (HTTP 200" in out
    assert re.search(r"CRYPTO_PKI: transaction PKCSReq: sending by POST, sha256, aes128-cbc", out)
    assert re.search(r"CRYPTO_PKI: pkiMessage PKCSReq sent \(\d+ bytes\)\n[^\n]* 3082", out)
    assert "CRYPTO_PKI: transaction PKCSReq completed: CertRep SUCCESS" in out
    assert "CRYPTO_PKI: status = 100: certificate is granted" in out
    assert "%CRYPTO-6-CERTRET" in out


def test_forged_reply_to_a_poll_is_refused_and_polling_goes_on(tmp_path):
    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret", manual=True) as server:
        c = Console(img)
        try:
            c.send(clock_line(), *trustpoint_lines(server.url), "crypto ca authenticate lab", "yes",
                   "crypto ca enroll lab")
            c.expect(r"% Certificate request pending")
            # the certificate is granted, but the next answer is a forged SUCCESS for another key
            server.forge("other-key")
            server.approve(server.pending()[0]["id"])
            m = c.expect(r"%CRYPTO-4-CERTPOLL: trustpoint lab: poll failed: ([^\n]*)", timeout=20,
                         nudge=0.5)
            assert "a certificate for another key" in m.group(1)
            assert "tp/lab/cert" not in records(img) and "tp/lab/pending" in records(img)
            c.expect(r"%CRYPTO-6-CERTRET", timeout=20, nudge=0.5)
        finally:
            c.close()
        assert_issued_for_board(record(img, "tp/lab/cert"), server.ca)


@pytest.mark.parametrize("renewal", [True, False])
def test_re_enrollment_signed_with_the_current_certificate(tmp_path, renewal):
    """RenewalReq signed with the current certificate when the CA offers Renewal, else a
    PKCSReq signed with it (the lab CA checks the signer against what it issued)."""
    img = fresh_image(tmp_path / "b.img")
    caps = ("Renewal", "SHA-256", "AES", "POSTPKIOperation") if renewal else (
        "SHA-256", "AES", "POSTPKIOperation")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret", caps=caps) as server:
        out = run_board(img, [clock_line(), *trustpoint_lines(server.url),
                              "crypto ca authenticate lab", "yes", "crypto ca enroll lab",
                              "crypto ca enroll lab", "yes"])
        assert out.count("%CRYPTO-6-CERTRET") == 2, out
        assert "% You already have a certificate from this CA." in out
        kinds = [r["kind"] for r in server.ca.requests()]
        assert kinds == ["PKCSReq", "RenewalReq" if renewal else "PKCSReq"], kinds
        serials = [r["serial"] for r in server.ca.requests()]
        cert = assert_issued_for_board(record(img, "tp/lab/cert"), server.ca)
        assert cert.serial_number == int(serials[-1], 16) and serials[0] != serials[1]


def test_usage_keys_get_a_signature_and_an_encryption_certificate(tmp_path):
    image = Image()
    head = b"upki-key usage=%s exportable=0 generated=0 trusted=0\n"
    sign_der = (DATA / "rsa_1024_pkcs8.der").read_bytes()
    enc_key = serialization.load_der_private_key((DATA / "x509_key_1024.der").read_bytes(), None)
    enc_der = enc_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    image.write("rsa/%s-sign" % KEY_LABEL, (head % b"signature") + sign_der)
    image.write("rsa/%s-encrypt" % KEY_LABEL, (head % b"encryption") + enc_der)
    img = tmp_path / "b.img"
    image.save(img)
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret") as server:
        out = run_board(img, [clock_line(), *trustpoint_lines(server.url),
                              "crypto ca authenticate lab", "yes", "crypto ca enroll lab",
                              "show crypto ca certificates"])
    assert out.count("%CRYPTO-6-CERTRET") == 2, out
    assert "% Requesting the signature certificate (key r1.lab.test-sign)" in out
    assert "% Requesting the encryption certificate (key r1.lab.test-encrypt)" in out
    sign = assert_issued_for_board(record(img, "tp/lab/cert-sign"), server.ca)
    enc = x509.load_der_x509_certificate(record(img, "tp/lab/cert-encrypt"))
    assert enc.public_key().public_numbers() == enc_key.public_key().public_numbers()
    assert sign.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    ku = enc.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_encipherment and not ku.digital_signature
    assert "tp/lab/cert" not in records(img)
    assert "  Key Usage: Signature\n" in out and "  Key Usage: Encryption\n" in out


AUTO = """
import json
from board import Board
b = Board(%(img)r)
b.mount()
from upki import cli, enroll, scep, trustpoint
from upki.errors import SCEPError
router, session, msgs = cli.boot(b)
router.clock.set(%(now)d, "test")
tp = trustpoint.get("lab")
res = enroll.enroll_configured(tp, router, log=lambda line: None)
out = {"status": [s for s, r in res]}
tp.password = None
try:
    enroll.enroll_configured(tp, router)
except SCEPError as e:
    out["refused"] = str(e)
print(json.dumps(out))
"""


def test_enroll_without_prompts_from_the_trustpoint(tmp_path):
    """enroll.enroll_configured: what auto-enroll and scripts call."""
    import json

    from mpy import ROOT, run_micropython

    img = fresh_image(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret") as server:
        out = run_board(img, [clock_line(), *trustpoint_lines(server.url),
                              "crypto ca authenticate lab", "yes", "write memory"])
        assert "tp/lab/cert" not in records(img)
        env = {"MICROPYPATH": "%s:%s:.frozen" % (ROOT / "firmware", ROOT / "boards" / "unix")}
        r = run_micropython(["-c", AUTO % {"img": str(img), "now": int(time.time())}], env=env,
                            timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        got = json.loads(r.stdout.strip().splitlines()[-1])
        assert got["status"] == [0]
        assert "does not answer every enrollment question" in got["refused"]
        assert_issued_for_board(record(img, "tp/lab/cert"), server.ca)
