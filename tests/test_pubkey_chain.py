# SPDX-License-Identifier: MIT
"""`crypto key pubkey-chain rsa`: manually configured peer keys (code M), and C keys from certificates."""

from cryptography.hazmat.primitives import serialization

from mpy import ROOT, board, run_code

DATA = ROOT / "tests" / "data"
SPKI = (DATA / "rsa_1024_spki.der").read_bytes()


def hexlines(der, indent="   "):
    h = der.hex().upper()
    words = [h[i : i + 8] for i in range(0, len(h), 8)]
    return [indent + " ".join(words[i : i + 8]) for i in range(0, len(words), 8)]


def run(image, *lines):
    r = board(image, "\n".join(lines) + "\n")
    assert "Traceback" not in r.stdout + r.stderr and "Internal error" not in r.stdout, r.stdout
    return r.stdout


def test_manual_keys_saved_shown_and_replayed(tmp_path):
    img = tmp_path / "b.img"
    block = (["crypto key pubkey-chain rsa", " named-key peer.lab.test signature", "  address 10.0.0.2",
              "  key-string"] + hexlines(SPKI) + ["  quit", " addressed-key 10.0.0.3 encryption",
                                                    "  key-string"] + hexlines(SPKI) + ["  quit", "!"])
    out = run(img, "conf t", *block[:-1], "end", "write memory", "show crypto key pubkey-chain rsa")
    assert "Router(config-pubkey-chain)#" in out and "Router(config-pubkey-key)#" in out
    assert ("Code Usage        IP-Address       Name\n"
            "M    Signature    10.0.0.2         peer.lab.test\n"
            "M    Encryption   10.0.0.3         \n") in out
    out = run(img, "show running-config")
    assert "\n".join(block) in out
    # the stored key is the one cryptography wrote
    ref = serialization.load_der_public_key(SPKI)
    assert ref.key_size == 1024


def test_bad_key_strings_change_nothing(tmp_path):
    out = run(tmp_path / "b.img", "conf t", "crypto key pubkey-chain rsa", "named-key p",
              "key-string", "  30 zz", "key-string", "  3082000A 0203", "quit",
              "addressed-key 999.1.1.1", "named-key q frob", "no named-key nothere", "end",
              "show running-config")
    assert "% Bad key-string (not hex, or too long): input ignored" in out
    assert "% Bad key-string:" in out
    assert out.count("% Invalid input detected at '^' marker.") == 2
    assert "% Key nothere does not exist" in out
    assert "key-string" not in out.split("#show running-config")[1]


def test_certificate_keys_are_code_c_and_bounded(tmp_path):
    """Validation keeps a peer's key once however often it validates, and only the
    latest 32 peers' keys (IOS keeps them in RAM)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    for i in range(34):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "peer%d" % i)])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(i + 1)
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                .sign(key, hashes.SHA256()))
        (tmp_path / ("p%d.der" % i)).write_bytes(cert.public_bytes(serialization.Encoding.DER))
    out = run_code(
        "from upki import revocation, x509\n"
        "c = x509.Certificate(open('%s', 'rb').read())\n"
        "revocation.remember_key(c, '192.0.2.7')\n"
        "revocation.remember_key(c, '192.0.2.7')\n"
        "print(len(revocation.peer_keys), revocation.peer_keys[0][0], revocation.peer_keys[0][1])\n"
        "for i in range(34):\n"
        "    revocation.remember_key(x509.Certificate(open('%s/p%%d.der' %% i, 'rb').read()))\n"
        "print(len(revocation.peer_keys), revocation.peer_keys[0][0], revocation.peer_keys[-1][0])\n"
        % (DATA / "x509_leaf.der", tmp_path)
    )
    first, full = out.splitlines()[-2:]
    assert first.split() == ["1", "boulder.cisco.com", "192.0.2.7"], out  # its dNSName
    assert full.split() == ["32", "peer2", "peer33"], out  # the oldest three dropped



def _peer(server, subject, san=None, key_usage=None):
    """A peer's chain from the lab CA (leaf, CA) as PEM, and its certificate."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(subject))
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if key_usage:
        b = b.add_extension(key_usage, critical=True)
    cert = server.ca.issue(b.sign(key, hashes.SHA256()), days=30, cdp_url=server.crl_url)
    assert cert.not_valid_before_utc < datetime.datetime.now(datetime.timezone.utc)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, server.ca.ca_cert))
    return pem, cert


def test_validated_peers_keys_are_code_c(tmp_path):
    """A peer whose chain validates joins the public-key chain with code C, named and
    addressed from its certificate as IOS does (unstructuredName/unstructuredAddress, or
    the subjectAltName); a refused peer does not; C keys are not configuration."""
    import ipaddress
    import time

    import labca_peer
    from autoenroll_board import ca_chain_lines
    from cryptography import x509
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    from host_tools.upki_host.nvimage import Image

    with labca_peer.running(tmp_path, ra=False) as server:
        ios_style, _ = _peer(server, [
            x509.NameAttribute(ObjectIdentifier("1.2.840.113549.1.9.2"), "peer1.lab.test"),
            x509.NameAttribute(ObjectIdentifier("1.2.840.113549.1.9.8"), "10.0.0.2")],
            key_usage=x509.KeyUsage(True, False, False, False, False, False, False, False,
                                    False))
        with_san, _ = _peer(server, [x509.NameAttribute(NameOID.COMMON_NAME, "peer2")],
                            san=[x509.DNSName("peer2.lab.test"),
                                 x509.IPAddress(ipaddress.ip_address("10.0.0.3"))])
        revoked, cert = _peer(server, [x509.NameAttribute(NameOID.COMMON_NAME, "peer3")])
        server.revoke(cert.serial_number, "keyCompromise")
        img = Image()
        img.put_file("peer1.pem", ios_style)
        img.put_file("peer2.pem", with_san)
        img.put_file("peer3.pem", revoked)
        img.save(tmp_path / "b.img")
        now = time.strftime("%H:%M:%S %d %b %Y", time.gmtime())
        out = run(tmp_path / "b.img", "clock set " + now, "conf t", "crypto ca trustpoint lab",
                  "exit", *ca_chain_lines("lab", server.ca.ca_cert)[:-1], "end",
                  "show crypto key pubkey-chain rsa",
                  "crypto ca verify lab flash:peer1.pem", "crypto ca verify lab flash:peer2.pem",
                  "crypto ca verify lab flash:peer3.pem", "crypto ca verify lab flash:peer1.pem",
                  "show crypto key pubkey-chain rsa", "show running-config")
    assert out.count("Certificate chain is valid (trustpoint lab, 2 certificates") == 3, out
    assert "% Certificate chain is not valid: revoked" in out
    before, after = out.split("#show crypto key pubkey-chain rsa\n")[1:]
    assert before.splitlines()[:4] == [
        "Codes: M - Manually configured, C - Extracted from certificate", "",
        "Code Usage        IP-Address       Name", "Router#crypto ca verify lab flash:peer1.pem"]
    assert after.splitlines()[:5] == [
        "Codes: M - Manually configured, C - Extracted from certificate", "",
        "Code Usage        IP-Address       Name",
        "C    Signature    10.0.0.2         peer1.lab.test",  # once, though validated twice
        "C    General      10.0.0.3         peer2.lab.test"], after
    assert "peer3" not in after.split("Router#")[0]
    assert "pubkey-chain" not in after.split("#show running-config")[1]  # RAM only, as IOS
