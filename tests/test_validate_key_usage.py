# SPDX-License-Identifier: MIT
"""keyUsage in peer validation, on the Unix port: a CA certificate without
keyCertSign cannot issue, a CA without cRLSign cannot sign its CRL (so,
under `revocation-check crl`, its certificates have no usable CRL), and the
caller of trustpoint.verify(chain, usage=...) asks for the usage its policy
needs.  The CAs are made with `cryptography` at test time; openssl verify
judges the same chains."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_crl_fixtures as gen  # noqa: E402
from conftest import require_command  # noqa: E402
from host_tools.upki_host.nvimage import Image  # noqa: E402
from mpy import ROOT, run_code  # noqa: E402
from test_validate_board import CLOCK, _trustpoint  # noqa: E402

NOW = 1780272000  # 2026-06-01, inside every certificate and CRL below


def _key_usage(cert_sign, crl_sign):
    from cryptography import x509

    return x509.KeyUsage(True, False, False, False, False, cert_sign, crl_sign, False, False)


def _ca(cn, key, root, k_root, serial, cert_sign, crl_sign):
    import datetime

    from cryptography import x509

    utc = datetime.timezone.utc
    b = (
        x509.CertificateBuilder()
        .subject_name(gen._name(cn))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=utc))
        .not_valid_after(datetime.datetime(2040, 1, 1, tzinfo=utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(k_root.public_key()), False)
        .add_extension(_key_usage(cert_sign, crl_sign), True)
    )
    from cryptography.hazmat.primitives import hashes

    return b.sign(k_root, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """DER files: root (the anchor, with its CRL), ca_nocertsign (cRLSign only),
    ca_nocrlsign (keyCertSign only, with a CRL it signed anyway), a leaf under each."""
    import datetime

    from cryptography.hazmat.primitives import serialization

    d = tmp_path_factory.mktemp("ku")
    utc = datetime.timezone.utc
    h = gen.hierarchy()
    root, k_root = h["root"]
    k_ca = gen.load_key("x509_key_1024.der")
    k_leaf = gen.load_key("x509_key_3072.der")
    no_cert = _ca("ku-no-certsign", k_ca, root, k_root, 0x41, False, True)
    no_crl = _ca("ku-no-crlsign", k_ca, root, k_root, 0x42, True, False)
    good = (datetime.datetime(2025, 1, 1, tzinfo=utc), datetime.datetime(2030, 1, 1, tzinfo=utc))
    certs = {
        "root": root,
        "ca_nocertsign": no_cert,
        "ca_nocrlsign": no_crl,
        "leaf_nocertsign": gen._cert(gen._name("a.lab.test"), k_leaf, no_cert, k_ca, 0x4101,
                                     *good, False),
        "leaf_nocrlsign": gen._cert(gen._name("b.lab.test"), k_leaf, no_crl, k_ca, 0x4201,
                                    *good, False),
    }
    for name, c in certs.items():
        (d / (name + ".der")).write_bytes(c.public_bytes(serialization.Encoding.DER))
    # well-formed, correctly signed CRLs that list neither leaf
    (d / "crl_root.der").write_bytes(gen.make_crl(root, k_root, []))
    (d / "crl_ca_nocrlsign.der").write_bytes(gen.make_crl(no_crl, k_ca, [(0x99, gen.REVOKED_AT,
                                                                          None)]))
    (d / "crl_ca_nocertsign.der").write_bytes(gen.make_crl(no_cert, k_ca, []))
    return d


PORT = """
import json, os
from upki import crl, validate, x509
from upki.nvram import NVRAM
D = %(dir)r
def cert(n):
    f = open(D + '/' + n + '.der', 'rb'); c = x509.Certificate(f.read()); f.close(); return c
CRLS = {'val-root': 'crl_root', 'ku-no-crlsign': 'crl_ca_nocrlsign',
        'ku-no-certsign': 'crl_ca_nocertsign'}
try:
    os.mkdir(D + '/nv')
except OSError:
    pass
nv = NVRAM(D + '/nv')
out = {}
for leaf, ca, mode in %(cases)s:
    asked = []
    def provider(issuer, c, fetch, asked=asked):
        cn = issuer.subject.get('CN')[0]
        asked.append(cn)
        p = D + '/' + CRLS[cn] + '.der'
        f = open(p, 'rb')
        try:
            crl.ingest(nv, 'crl/' + cn, f, os.stat(p)[6], issuer, now=%(now)d)
        finally:
            f.close()
        return crl.Index(nv, 'crl/' + cn)
    r = validate.verify_chain([cert(leaf), cert(ca)], [cert('root')], %(now)d,
                              crl_provider=provider, revocation=mode)
    at = str(r.cert.subject.get('CN')[0]) if r.cert is not None else None
    out['%%s/%%s' %% (leaf, mode)] = [r.reason, r.detail, at, r.notes, asked]
print(json.dumps(out))
"""

CASES = [
    ("leaf_nocertsign", "ca_nocertsign", "none"),
    ("leaf_nocertsign", "ca_nocertsign", "crl"),
    ("leaf_nocrlsign", "ca_nocrlsign", "crl"),
    ("leaf_nocrlsign", "ca_nocrlsign", "best-effort"),
    ("leaf_nocrlsign", "ca_nocrlsign", "none"),
]


@pytest.fixture(scope="module")
def results(pki):
    code = PORT % {"dir": str(pki), "cases": json.dumps(CASES), "now": NOW}
    return json.loads(run_code(code, timeout=300).strip().splitlines()[-1])


def _openssl(pki, leaf, ca, crl_check):
    openssl = require_command("openssl")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    def pem(name, kind="cert"):
        der = (pki / (name + ".der")).read_bytes()
        obj = (x509.load_der_x509_crl(der) if kind == "crl"
               else x509.load_der_x509_certificate(der))
        return obj.public_bytes(serialization.Encoding.PEM)

    (pki / "o_root.pem").write_bytes(pem("root"))
    (pki / "o_ca.pem").write_bytes(pem(ca))
    (pki / "o_leaf.pem").write_bytes(pem(leaf))
    cmd = [openssl, "verify", "-attime", str(NOW), "-CAfile", str(pki / "o_root.pem"),
           "-untrusted", str(pki / "o_ca.pem")]
    if crl_check:
        (pki / "o_crls.pem").write_bytes(pem("crl_root", "crl") + pem("crl_" + ca, "crl"))
        cmd += ["-CRLfile", str(pki / "o_crls.pem"), "-crl_check_all"]
    r = subprocess.run(cmd + [str(pki / "o_leaf.pem")], capture_output=True, text=True,
                       timeout=30)
    return r.returncode == 0, r.stdout + r.stderr


def test_ca_without_keycertsign_cannot_issue(results, pki):
    for mode in ("none", "crl"):
        reason, detail, at, notes, asked = results["leaf_nocertsign/" + mode]
        assert reason == "key-usage", (mode, reason, detail)
        assert detail == "CN = ku-no-certsign, O = upki lab, C = US may not sign certificates " \
                         "(keyUsage)"
        assert at == "ku-no-certsign"
        assert asked == []  # refused before any CRL is looked at
    ok, why = _openssl(pki, "leaf_nocertsign", "ca_nocertsign", False)
    assert not ok and "key usage does not include certificate signing" in why, why


def test_ca_without_crlsign_has_no_usable_crl(results, pki):
    # the CRL it signed is well formed and does not list the leaf: only
    # keyUsage keeps it from being used
    reason, detail, at, notes, asked = results["leaf_nocrlsign/crl"]
    assert reason == "crl-unavailable", (reason, detail)
    assert "CN = ku-no-crlsign, O = upki lab, C = US may not sign CRLs (keyUsage)" in detail
    assert at == "b.lab.test"
    assert asked == []  # its CRL is never even fetched
    reason, detail, at, notes, asked = results["leaf_nocrlsign/best-effort"]
    assert reason == "ok"
    assert len(notes) == 1 and "may not sign CRLs (keyUsage)" in notes[0], notes
    assert asked == ["val-root"]  # the CA itself is still checked on the root's CRL
    assert results["leaf_nocrlsign/none"][0] == "ok"
    # openssl agrees: fine without CRL checking, refused with it
    assert _openssl(pki, "leaf_nocrlsign", "ca_nocrlsign", False)[0]
    ok, why = _openssl(pki, "leaf_nocrlsign", "ca_nocrlsign", True)
    assert not ok and "key usage does not include CRL signing" in why, why


def test_trustpoint_verify_asks_for_a_usage(tmp_path):
    # the peer (val_leaf) has keyUsage digitalSignature + keyEncipherment
    data = ROOT / "tests" / "data"
    img = Image()
    img.put_file("unused", b"")
    path = tmp_path / "b.img"
    img.save(path)
    lines = [CLOCK] + _trustpoint([" revocation-check none"]) + [
        "configure terminal", "crypto identity vpn", " dn ou=vpn", " end"]
    code = (
        "import sys, json\nsys.path.insert(0, %r)\nfrom board import Board\n"
        "b = Board(%r); b.mount()\nfrom upki import cli, trustpoint\n"
        "router, session, msgs = cli.boot(b)\n"
        "for line in %r:\n"
        "    session.execute(line)\n"
        "f = open(%r, 'rb'); leaf = f.read(); f.close()\n"
        "tp = trustpoint.get('lab')\n"
        "out = []\n"
        "for ident, usage in [(None, None), (None, 'digitalSignature'),\n"
        "                     ('vpn', 'keyEncipherment'), (None, 'keyAgreement'),\n"
        "                     ('vpn', 'nonRepudiation')]:\n"
        "    r = tp.verify([leaf], ident, usage=usage)\n"
        "    out.append([r.reason, r.detail, r.identity])\n"
        "r = tp.verify([leaf], None, 'dataEncipherment')\n"
        "out.append([r.reason, r.detail, r.identity])\n"
        "try:\n"
        "    tp.verify([leaf], usage='digitalsignature')\n"
        "    out.append('accepted a misspelt usage')\n"
        "except ValueError as e:\n"
        "    out.append(str(e))\n"
        "print(json.dumps(out))\n"
    ) % (str(ROOT / "boards" / "unix"), str(path), lines, str(data / "val_leaf.der"))
    got = json.loads(run_code(code).strip().splitlines()[-1])
    assert got[0][0] == "ok" and got[1][0] == "ok"
    assert got[2][0] == "ok" and got[2][2] == "identity vpn (dn ou=vpn)"
    lacks = "CN = r1.lab.test, OU = vpn, O = upki lab, C = US lacks the %s key usage"
    assert got[3][:2] == ["key-usage", lacks % "keyAgreement"]
    assert got[4][:2] == ["key-usage", lacks % "nonRepudiation"]  # before the identity
    assert got[5][:2] == ["key-usage", lacks % "dataEncipherment"]  # positional usage
    assert got[6].startswith("key usage 'digitalsignature' is not one of digitalSignature"), got
