# SPDX-License-Identifier: MIT
"""upki.der, upki.oid, upki.x509 and upki.csr also run on CPython (with the
tests/shims stand-ins), as the design asks of every firmware module: the
committed certificate parses to the same fields as on the Unix port, and a
request built on CPython verifies with cryptography."""

import json
import subprocess
import sys

from cryptography import x509 as cx509

from mpy import ROOT, run_json

CODE = r"""
import json, sys
from upki import csr, der, oid, rsa, x509
leaf = x509.Certificate(open(%(data)r + '/x509_leaf.der', 'rb').read())
root = x509.Certificate(open(%(data)r + '/x509_root.der', 'rb').read())
out = {
    'subject': str(leaf.subject), 'issuer': str(leaf.issuer), 'serial': leaf.serial_hex,
    'not_after': leaf.not_after, 'san': leaf.subject_alt_names, 'ku': sorted(leaf.key_usage),
    'crldp': leaf.crl_distribution_points, 'fp': leaf.fingerprint('sha256'),
    'bits': leaf.key_bits, 'sig': leaf.signature_error(root),
    'time': der.decode_time(der.GENERALIZED_TIME, b'20500101000000Z', 0, 15),
    'oid': oid.name('2.16.840.1.113733.1.9.7'),
}
if %(csr)r:
    key = rsa.PrivateKey.from_der(open(%(data)r + '/x509_key_1024.der', 'rb').read())
    req = csr.ios_request(key, 'cpy.example.com', 'O=cisco, C=US', challenge_password='pw')
    open(%(csr)r, 'wb').write(req)
print(json.dumps(out))
"""


def test_same_results_on_cpython_and_the_unix_port(tmp_path):
    data = str(ROOT / "tests" / "data")
    req_path = str(tmp_path / "req.der")
    env_path = "%s:%s" % (ROOT / "firmware", ROOT / "tests" / "shims")
    r = subprocess.run(
        [sys.executable, "-c", CODE % {"data": data, "csr": req_path}],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    on_cpython = json.loads(r.stdout.strip().splitlines()[-1])
    on_port = run_json(CODE % {"data": data, "csr": ""})
    # JSON turns tuples into lists on both sides alike
    assert on_cpython == on_port
    assert on_port["subject"] == "CN = boulder, O = cisco, L = boulder, ST = colorado, C = US"
    assert on_port["sig"] is None and on_port["oid"] == "transID"
    req = cx509.load_der_x509_csr(open(req_path, "rb").read())
    assert req.is_signature_valid
    assert req.subject.rfc4514_string().startswith("1.2.840.113549.1.9.2=cpy.example.com")
