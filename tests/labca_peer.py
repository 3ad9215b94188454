# SPDX-License-Identifier: MIT
"""The lab CA (host_tools/upki_host/labca) as a test peer, and a small SCEP client.

    with labca_peer.running(tmp_path, sub_ca=False, ra=True, challenge="s3cret") as server:
        server.url, server.crl_url, server.ca (LabCA), server.pending(), server.approve(id),
        server.forge("bad-signature"), server.log

The CA reuses the committed RSA-2048 keys of tests/data (no key generation), so a
fresh CA with sub-CA and RA costs a few milliseconds.

SCEPClient is an independent little client for what no real peer here sends (GetCert,
GetCRL, RenewalReq, forged-reply checks): it builds pkiMessages with asn1crypto and
cryptography; CertReps are verified and decrypted with `openssl cms` (unwrap()).
"""

import contextlib
import datetime
import hashlib
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from asn1crypto import cms, core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from host_tools.upki_host.labca import LabCA, LabCAServer  # noqa: E402
from host_tools.upki_host.labca import scep as labscep  # noqa: E402

CA_KEYS = {
    "root": DATA / "x509_key_2048.der",
    "sub": DATA / "x509_key_2048b.der",
    "ra-sign": DATA / "rsa_2048_pkcs8.der",
}
_generated = {}


def generated_key(name):
    """An RSA-2048 key made once per test process (tests/data has three 2048-bit keys;
    the CA uses those, clients and the RA encryption certificate use these)."""
    if name not in _generated:
        _generated[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _generated[name]


def key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca(directory, sub_ca=False, ra=True, cdp_base=None):
    """A fresh lab CA in directory, made from the committed test keys."""
    keys = dict(CA_KEYS)
    keys["ra-enc"] = generated_key("ra-enc")
    return LabCA(directory).init(sub_ca=sub_ca, ra=ra, keys=keys, cdp_base=cdp_base)


@contextlib.contextmanager
def running(directory, sub_ca=False, ra=True, chain_cdp=False, **server_options):
    """Start a lab CA server on a free loopback port in directory; stop it afterwards.

    chain_cdp: the sub-CA and RA certificates also name this server's CRLs (the port is
    chosen before init for that)."""
    directory = Path(directory)
    port = server_options.pop("port", 0)
    cdp_base = None
    if chain_cdp:
        port = port or free_port()
        cdp_base = "http://127.0.0.1:%d" % port
    make_ca(directory / "ca", sub_ca=sub_ca, ra=ra, cdp_base=cdp_base)
    server = LabCAServer(directory / "ca", port=port, **server_options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- a small SCEP client ------------------------------------------------------------------------


def http(method, url, body=None, timeout=10):
    """(status, content type, body) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/octet-stream")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def self_signed(key, cn="SCEP SIGNER"):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def self_signed_with_ski(key, cn="SCEP SIGNER"):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )


def make_csr(key, cn, challenge=None, san=None, key_usage=None):
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "upki lab"),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )
    )
    if challenge is not None:
        b = b.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    if key_usage is not None:
        b = b.add_extension(key_usage, critical=True)
    return b.sign(key, hashes.SHA256())


def _attr(oid, value):
    return cms.CMSAttribute({"type": oid, "values": [value]})


def pki_message(
    message_type,
    content,
    signer_cert,
    signer_key,
    recipient_cert,
    transaction_id,
    sender_nonce,
    digest="sha256",
    cipher="aes128_cbc",
):
    """A client pkiMessage (SignedData around an EnvelopedData of content), DER."""
    envelope = labscep.envelope(content, recipient_cert, cipher)
    attrs = [
        _attr("content_type", cms.ContentType("data")),
        _attr("message_digest", hashlib.new(digest, envelope).digest()),
        _attr(labscep.OID_MESSAGE_TYPE, core.PrintableString(message_type)),
        _attr(labscep.OID_TRANSACTION_ID, core.PrintableString(transaction_id)),
        _attr(labscep.OID_SENDER_NONCE, core.OctetString(sender_nonce)),
    ]
    signed = cms.CMSAttributes(sorted(attrs, key=lambda a: a.dump()))
    hash_cls = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha512": hashes.SHA512}[digest]
    signature = signer_key.sign(signed.dump(), padding.PKCS1v15(), hash_cls())
    acert = ax509.Certificate.load(signer_cert.public_bytes(serialization.Encoding.DER))
    sd = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest}],
            "encap_content_info": {"content_type": "data", "content": envelope},
            "certificates": [acert],
            "signer_infos": [
                {
                    "version": "v1",
                    "sid": cms.SignerIdentifier(
                        name="issuer_and_serial_number",
                        value={"issuer": acert.issuer, "serial_number": acert.serial_number},
                    ),
                    "digest_algorithm": {"algorithm": digest},
                    "signed_attrs": signed,
                    "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
                    "signature": signature,
                }
            ],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()


def issuer_and_serial(issuer_cert, serial):
    issuer = ax509.Certificate.load(issuer_cert.public_bytes(serialization.Encoding.DER)).subject
    return cms.IssuerAndSerialNumber({"issuer": issuer, "serial_number": serial}).dump()


def issuer_and_subject(issuer_cert, subject):
    issuer = ax509.Certificate.load(issuer_cert.public_bytes(serialization.Encoding.DER)).subject
    subj = ax509.Name.load(subject.public_bytes())

    class IssuerAndSubject(core.Sequence):
        _fields = [("issuer", ax509.Name), ("subject", ax509.Name)]

    return IssuerAndSubject({"issuer": issuer, "subject": subj}).dump()


class Reply:
    """One CertRep as the client sees it: attributes, and openssl's verdicts."""

    def __init__(self, status, content_type, body):
        self.http_status = status
        self.content_type = content_type
        self.body = body
        self.fields = {}
        self.parse_error = None
        if status == 200:
            try:
                self.fields = labscep.cert_rep_fields(body)
            except Exception as e:  # garbage is a legitimate test subject here
                self.parse_error = e

    @property
    def pki_status(self):
        return labscep.STATUS_NAMES.get(self.fields.get("pki_status"))

    @property
    def fail_info(self):
        return labscep.FAIL_NAMES.get(self.fields.get("fail_info"))


class SCEPClient:
    """Enough of a SCEP client to drive every path of the lab CA."""

    def __init__(
        self,
        server,
        key="client",
        method="POST",
        cipher="aes128_cbc",
        digest="sha256",
        workdir=None,
    ):
        self.server = server
        self.ca = server.ca
        self.key = generated_key(key) if isinstance(key, str) else key
        self.method = method
        self.cipher = cipher
        self.digest = digest
        self.signer = self_signed(self.key)
        self.workdir = Path(workdir) if workdir else None
        spki = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.transaction_id = hashlib.sha256(spki).hexdigest().upper()
        self.last_nonce = None

    @property
    def recipient(self):
        return self.ca.ra_enc_cert or self.ca.ca_cert

    def send(self, message_type, content, signer=None, signer_key=None, transaction_id=None):
        self.last_nonce = os.urandom(16)
        der = pki_message(
            message_type,
            content,
            signer or self.signer,
            signer_key or self.key,
            self.recipient,
            transaction_id or self.transaction_id,
            self.last_nonce,
            digest=self.digest,
            cipher=self.cipher,
        )
        return self.send_raw(der)

    def send_raw(self, der):
        if self.method == "POST":
            status, ctype, body = http("POST", self.server.url + "?operation=PKIOperation", der)
        else:
            msg = urllib.parse.quote(__import__("base64").b64encode(der).decode(), safe="")
            status, ctype, body = http(
                "GET", self.server.url + "?operation=PKIOperation&message=" + msg
            )
        return Reply(status, ctype, body)

    def enroll(self, cn="board1", challenge="s3cret", san=None, message_type="19", **kw):
        csr = make_csr(self.key, cn, challenge=challenge, san=san)
        return self.send(message_type, csr.public_bytes(serialization.Encoding.DER), **kw)

    def poll(self, subject):
        return self.send("20", issuer_and_subject(self.ca.ca_cert, subject))

    def get_cert(self, serial, issuer=None):
        return self.send("21", issuer_and_serial(issuer or self.ca.ca_cert, serial))

    def get_crl(self, issuer=None, serial=2):
        return self.send("22", issuer_and_serial(issuer or self.ca.ca_cert, serial))

    # -- openssl as the independent judge of a CertRep

    def unwrap(self, reply, workdir, recipient_cert=None, recipient_key=None):
        """openssl cms -verify the CertRep against the CA chain, then -decrypt its envelope
        with our key; returns the degenerate certs-only (or CRL-only) SignedData, DER."""
        w = Path(workdir)
        w.mkdir(parents=True, exist_ok=True)
        (w / "rep.der").write_bytes(reply.body)
        chain = b"".join(
            c.public_bytes(serialization.Encoding.PEM)
            for c in (self.ca.root_cert, self.ca.sub_cert)
            if c is not None
        )
        (w / "chain.pem").write_bytes(chain)
        signer = self.ca.ra_sign_cert or self.ca.ca_cert
        (w / "untrusted.pem").write_bytes(
            signer.public_bytes(serialization.Encoding.PEM)
            + self.ca.ca_cert.public_bytes(serialization.Encoding.PEM)
        )
        run(
            [
                "openssl",
                "cms",
                "-verify",
                "-inform",
                "DER",
                "-in",
                w / "rep.der",
                "-CAfile",
                w / "chain.pem",
                "-certfile",
                w / "untrusted.pem",
                "-purpose",
                "any",
                "-out",
                w / "env.der",
                "-binary",
            ]
        )
        (w / "me.pem").write_bytes(
            (recipient_cert or self.signer).public_bytes(serialization.Encoding.PEM)
        )
        (w / "me.key").write_bytes(
            (recipient_key or self.key).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        run(
            [
                "openssl",
                "cms",
                "-decrypt",
                "-inform",
                "DER",
                "-in",
                w / "env.der",
                "-recip",
                w / "me.pem",
                "-inkey",
                w / "me.key",
                "-binary",
                "-out",
                w / "p7.der",
            ]
        )
        return (w / "p7.der").read_bytes()


def run(cmd, ok=True, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, timeout=60, **kw)
    if ok and r.returncode != 0:
        raise AssertionError(
            "%s failed (%d):\n%s%s"
            % (
                " ".join(map(str, cmd)),
                r.returncode,
                r.stdout.decode(errors="replace"),
                r.stderr.decode(errors="replace"),
            )
        )
    return r.stdout if ok else r
