# SPDX-License-Identifier: MIT
"""upki.cms against the independent checkers.

Built on the MicroPython Unix port, judged on the host: SignedData by
`openssl cms -verify` (with the root as CA, and -noverify for a self-signed
signer) and by `openssl cms -cmsout` re-encoding (OpenSSL re-encodes in DER:
the same bytes back means our DER is canonical, SET OF order included);
EnvelopedData by `openssl cms -decrypt` and cryptography's pkcs7_decrypt_der;
certs-only by `openssl pkcs7 -print_certs` and cryptography's
load_der_pkcs7_certificates.  The other way round, objects made now by the
installed openssl (sign with sha1/sha256, with and without signed attributes;
encrypt with AES-128/256, 3DES and single DES) are read on the board."""

import json
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from conftest import require_command
from mpy import ROOT, run_code

DATA = ROOT / "tests" / "data"
CONTENT = (DATA / "cms_content.bin").read_bytes()
LEAF = x509.load_der_x509_certificate((DATA / "x509_leaf.der").read_bytes())
LEAF_KEY = serialization.load_der_private_key((DATA / "x509_key_2048.der").read_bytes(), None)


@pytest.fixture(scope="module")
def pems(tmp_path_factory):
    require_command("openssl")
    d = tmp_path_factory.mktemp("pem")
    for name in ("leaf", "root"):
        c = x509.load_der_x509_certificate((DATA / ("x509_%s.der" % name)).read_bytes())
        (d / (name + ".pem")).write_bytes(c.public_bytes(serialization.Encoding.PEM))
    (d / "leaf.key").write_bytes(
        LEAF_KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    small = x509.load_der_x509_certificate((DATA / "cms_small_cert.der").read_bytes())
    (d / "small.pem").write_bytes(small.public_bytes(serialization.Encoding.PEM))
    return d


def openssl(*args, check=True):
    r = subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(
            "openssl %s failed:\n%s" % (" ".join(map(str, args)), r.stderr.decode())
        )
    return r


BOARD_PRELUDE = """
import json
from upki import cms, der, rsa
def rd(n):
    with open(n if n[:1] == '/' else %r + '/' + n, 'rb') as f:
        return f.read()
def wr(path, data):
    with open(path, 'wb') as f:
        f.write(data)
KEY = rsa.PrivateKey.from_der(rd('x509_key_2048.der'))
LEAF = rd('x509_leaf.der')
ROOT = rd('x509_root.der')
CONTENT = rd('cms_content.bin')
PS = lambda s: der.encode_string(der.PRINTABLE_STRING, s)
ATTRS = [('messageType', PS('19')), ('transactionID', PS('ABCDEF0123')),
         ('senderNonce', der.encode_octet_string(b'N' * 16))]
""" % str(DATA)


def board(code):
    return run_code(BOARD_PRELUDE + code)


def cms_roundtrip_is_identical(path, tmp_path):
    # OpenSSL decodes and re-encodes in DER (sorting every SET OF)
    out = tmp_path / (path.name + ".rt")
    openssl("cms", "-cmsout", "-inform", "DER", "-in", path, "-outform", "DER", "-out", out)
    return out.read_bytes() == path.read_bytes()


SIGN_CASES = [
    ("sha256", "rsaEncryption"),
    ("sha1", "rsaEncryption"),
    ("sha256", "sha256WithRSAEncryption"),
    ("sha1", "sha1WithRSAEncryption"),
]


@pytest.mark.parametrize("hash_name,sig_alg", SIGN_CASES)
def test_board_signed_data_verified_by_openssl(pems, tmp_path, hash_name, sig_alg):
    out = tmp_path / "signed.der"
    board(
        "wr(%r, cms.sign(CONTENT, LEAF, KEY, %r, ATTRS, %r, [ROOT], 1767225600))"
        % (str(out), hash_name, sig_alg)
    )
    r = openssl(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        out,
        "-CAfile",
        pems / "root.pem",
        "-purpose",
        "any",
    )
    assert r.stdout == CONTENT
    assert b"Verification successful" in r.stderr
    assert cms_roundtrip_is_identical(out, tmp_path)
    text = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", out).stdout.decode()
    assert "digestAlgorithm: \n          algorithm: %s" % hash_name in text.replace("\r", "")
    assert {"rsaEncryption": "rsaEncryption"}.get(sig_alg, sig_alg) in text
    # the SCEP attributes as openssl reads them
    assert "2.16.840.1.113733.1.9.2" in text and "PRINTABLESTRING:19" in text
    assert "PRINTABLESTRING:ABCDEF0123" in text
    assert "signingTime" in text and "UTCTIME:Jan  1 00:00:00 2026 GMT" in text
    # a flipped byte of content is refused by openssl too (the check can fail)
    data = bytearray(out.read_bytes())
    i = data.find(CONTENT[:32]) + 7
    data[i] ^= 1
    bad = tmp_path / "bad.der"
    bad.write_bytes(bytes(data))
    r = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", bad, "-noverify", check=False
    )
    assert r.returncode != 0


def test_board_self_signed_pkcsreq_shape(pems, tmp_path):
    # PKCSReq as SCEP sends it: signed by a self-signed certificate for the new
    # key, content an EnvelopedData for the RA; openssl checks the signature
    # (-noverify: the signer is not in a chain) and unwraps both layers
    signed = tmp_path / "req.der"
    board(
        "small = rsa.PrivateKey.from_der(rd('x509_key_1024.der'))\n"
        "env = cms.envelope(CONTENT, LEAF, 'aes128-cbc')\n"
        "wr(%r, cms.sign(env, rd('cms_small_cert.der'), small, 'sha256', ATTRS))" % str(signed)
    )
    r = openssl(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        signed,
        "-noverify",
        "-out",
        tmp_path / "env.der",
    )
    assert b"Verification successful" in r.stderr
    r = openssl(
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-in",
        tmp_path / "env.der",
        "-inkey",
        pems / "leaf.key",
        "-recip",
        pems / "leaf.pem",
        "-binary",
    )
    assert r.stdout == CONTENT


@pytest.mark.parametrize("alg", ["aes128-cbc", "aes256-cbc", "des-ede3-cbc"])
def test_board_envelope_decrypted_by_openssl_and_cryptography(pems, tmp_path, alg):
    out = tmp_path / "env.der"
    board("wr(%r, cms.envelope(CONTENT, LEAF, %r))" % (str(out), alg))
    r = openssl(
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-in",
        out,
        "-inkey",
        pems / "leaf.key",
        "-recip",
        pems / "leaf.pem",
        "-binary",
    )
    assert r.stdout == CONTENT
    assert cms_roundtrip_is_identical(out, tmp_path)
    text = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", out).stdout.decode()
    assert {"aes128-cbc": "aes-128-cbc", "aes256-cbc": "aes-256-cbc"}.get(alg, alg) in text
    if alg != "des-ede3-cbc":  # cryptography decrypts AES only
        got = pkcs7.pkcs7_decrypt_der(out.read_bytes(), LEAF, LEAF_KEY, [])
        assert got == CONTENT


def test_board_certs_only_read_by_openssl_and_cryptography(pems, tmp_path):
    out = tmp_path / "certs.der"
    board("wr(%r, cms.certs_only([ROOT, LEAF]))" % str(out))
    r = openssl("pkcs7", "-inform", "DER", "-in", out, "-print_certs")
    subjects = [line for line in r.stdout.decode().splitlines() if line.startswith("subject=")]
    assert sorted(subjects) == sorted(
        [
            "subject=C = US, O = cisco, CN = lab-root",
            "subject=C = US, ST = colorado, L = boulder, O = cisco, CN = boulder",
        ]
    )
    certs = pkcs7.load_der_pkcs7_certificates(out.read_bytes())
    assert sorted(c.serial_number for c in certs) == sorted([1, LEAF.serial_number])
    assert cms_roundtrip_is_identical(out, tmp_path)


@pytest.mark.parametrize(
    "extra",
    [["-md", "sha256"], ["-md", "sha1"], ["-md", "sha256", "-noattr"], ["-md", "sha1", "-noattr"]],
    ids=["sha256", "sha1", "sha256-noattr", "sha1-noattr"],
)
def test_openssl_signed_data_verified_on_board(pems, tmp_path, extra):
    out = tmp_path / "s.der"
    openssl(
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-in",
        DATA / "cms_content.bin",
        "-signer",
        pems / "leaf.pem",
        "-inkey",
        pems / "leaf.key",
        "-outform",
        "DER",
        "-out",
        out,
        *extra,
    )
    got = json.loads(
        board(
            "s = cms.verify(rd(%r))\n"
            "print(json.dumps([s.hash_name, bytes(s.content) == CONTENT, sorted(s.attributes),"
            " s.signer.der == LEAF]))" % str(out)
        ).splitlines()[-1]
    )
    noattr = "-noattr" in extra
    assert got[0] == extra[1] and got[1] and got[3]
    assert ("messageDigest" in got[2]) != noattr


@pytest.mark.parametrize(
    "flag", ["-aes128", "-aes256", "-des3", "-des"], ids=["aes128", "aes256", "des3", "des"]
)
def test_openssl_envelope_decrypted_on_board(pems, tmp_path, flag):
    out = tmp_path / "e.der"
    legacy = ["-provider", "legacy", "-provider", "default"] if flag == "-des" else []
    openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-in",
        DATA / "cms_content.bin",
        "-outform",
        "DER",
        "-out",
        out,
        flag,
        *legacy,
        pems / "leaf.pem",
    )
    got = board("print(cms.open_envelope(rd(%r), KEY, LEAF) == CONTENT)" % str(out))
    assert got.strip().splitlines()[-1] == "True"


def test_openssl_certs_only_read_on_board(pems, tmp_path):
    out = tmp_path / "p7.der"
    openssl(
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        pems / "leaf.pem",
        "-certfile",
        pems / "root.pem",
        "-certfile",
        pems / "small.pem",
        "-outform",
        "DER",
        "-out",
        out,
    )
    got = board(
        "c = cms.read_certs_only(rd(%r))\n"
        "print([bytes(x) == y for x, y in zip(c, (LEAF, ROOT, rd('cms_small_cert.der')))],"
        " len(c))" % str(out)
    )
    assert got.strip().splitlines()[-1] == "[True, True, True] 3"
