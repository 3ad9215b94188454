# SPDX-License-Identifier: MIT
"""A board enrolled by auto-enroll with two lab CAs at once, each with its own key
policy: trustpoint one (general-purpose 2048-bit keys, `rsakeypair a 2048`) and
trustpoint two (usage keys, `rsakeypair b 1024 1024`). The board generates the keys
itself (this is the key-generation test of auto-enroll: 2048 bits take a few seconds
on the Unix port)."""

import re
from pathlib import Path

import labca_peer
from autoenroll_board import (
    Console,
    ca_chain_lines,
    cert_of,
    key_of,
    make_image,
    records,
    same_key,
    scep_ops,
    startup_config,
    trustpoint_lines,
)
from cryptography import x509

from host_tools.upki_host.labca import LabCA, LabCAServer

DATA = Path(__file__).resolve().parent / "data"


def test_two_cas_with_different_key_policies(tmp_path, ts):
    second = LabCA(tmp_path / "second")
    second.init(ra=False, cn="upki Lab Second CA", keys={"root": DATA / "x509_key_2048b.der"})
    with labca_peer.running(tmp_path / "first", ra=False, challenge="s3cret") as one, \
            LabCAServer(second, challenge="s3cret") as two:
        cfg = startup_config(ts.port, [
            (trustpoint_lines("one", one.url, auto="auto-enroll 80", keypair="a 2048"),
             ca_chain_lines("one", one.ca.ca_cert)),
            (trustpoint_lines("two", two.url, auto="auto-enroll 80", keypair="b 1024 1024"),
             ca_chain_lines("two", two.ca.ca_cert)),
        ])
        img = make_image(tmp_path / "b.img", cfg)
        c = Console(img)
        try:
            c.expect(r"%CRYPTO-6-AUTOGEN: Generating a new 2048 bit RSA key pair a ")
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint one: new certificate", timeout=60)
            c.expect(r"%CRYPTO-6-AUTOGEN: Generating a new 1024 bit RSA key pair b-sign ")
            c.expect(r"%CRYPTO-6-AUTOGEN: Generating a new 1024 bit RSA key pair b-encrypt ",
                     timeout=60)
            c.expect(r"%PKI-6-CERT_INSTALL: Trustpoint two: new certificate", timeout=60)
            c.send("show crypto key mypubkey rsa")
            keys = c.expect(r"mypubkey rsa\n((.*\n)*?)r1#").group(1)
            c.send("show crypto key pubkey-chain rsa")
            c.expect(r"Codes: M - Manually configured, C - Extracted from certificate")
            c.send("show crypto ca certificates")
            certs = c.expect(r"certificates\n((.*\n)*?)r1#").group(1)
            c.send("write memory")
            c.expect(r"\[OK\]")
        finally:
            c.close()
    assert sorted(re.findall(r"Key name: (\S+)", keys)) == ["a", "b-encrypt", "b-sign"], keys
    assert "Usage: General Purpose Key" in keys and "Usage: Signature Key" in keys
    assert "Usage: Encryption Key" in keys
    assert key_of(img, "a").key_size == 2048
    assert key_of(img, "b-sign").key_size == 1024 and key_of(img, "b-encrypt").key_size == 1024
    assert same_key(cert_of(img, "cert", "one"), key_of(img, "a"))
    assert same_key(cert_of(img, "cert-sign", "two"), key_of(img, "b-sign"))
    assert same_key(cert_of(img, "cert-encrypt", "two"), key_of(img, "b-encrypt"))
    assert cert_of(img, "cert", "one").issuer == one.ca.ca_cert.subject
    assert cert_of(img, "cert-sign", "two").issuer == two.ca.ca_cert.subject
    ku = cert_of(img, "cert-sign", "two").extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.value.digital_signature and not ku.value.key_encipherment
    # show crypto ca certificates: both trustpoints, the usage certificates of two
    assert "Associated Trustpoints: one" in certs and "Associated Trustpoints: two" in certs
    assert "Key Usage: Signature" in certs and "Key Usage: Encryption" in certs
    assert len(re.findall(r"^Certificate$", certs, re.MULTILINE)) == 3, certs
    assert len(scep_ops(one, "PKCSReq")) == 1 and len(scep_ops(two, "PKCSReq")) == 2
    assert "tp/one/cert" in records(img) and "tp/two/cert-encrypt" in records(img)
