# SPDX-License-Identifier: MIT
"""Regenerate the committed X.509 / CSR fixtures in tests/data with cryptography.

    .venv/bin/python tests/gen_x509_fixtures.py

Writes RSA test keys (PKCS#8 DER: x509_key_<bits>.der) and a small chain:
x509_root.der (self-signed CA), x509_leaf.der (router certificate with the
extensions upki reads, subject in the IOS example order C, ST, L, O, CN).
Running it again makes new keys: the tests read whatever is committed.
"""

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DATA = Path(__file__).resolve().parent / "data"
KEY_SIZES = (1024, 2048, 3072, 4096)


def key_path(bits, suffix=""):
    return DATA / ("x509_key_%d%s.der" % (bits, suffix))


def load_key(bits, suffix=""):
    return serialization.load_der_private_key(key_path(bits, suffix).read_bytes(), None)


def write_keys():
    for bits in KEY_SIZES:
        for suffix in ("", "b") if bits == 2048 else ("",):
            k = rsa.generate_private_key(65537, bits)
            key_path(bits, suffix).write_bytes(
                k.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )


def write_chain():
    ca_key = load_key(2048, "b")
    leaf_key = load_key(2048)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cisco"),
            x509.NameAttribute(NameOID.COMMON_NAME, "lab-root"),
        ]
    )
    t0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    root = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(t0)
        .not_valid_after(datetime.datetime(2044, 1, 1, tzinfo=datetime.timezone.utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "colorado"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "boulder"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cisco"),
            x509.NameAttribute(NameOID.COMMON_NAME, "boulder"),
        ]
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(leaf_name)
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(0x611BE2BA000000000005)
        .not_valid_before(t0)
        .not_valid_after(datetime.datetime(2054, 6, 30, 12, 0, 0, tzinfo=datetime.timezone.utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("boulder.cisco.com"),
                    x509.IPAddress(ipaddress.ip_address("10.1.1.1")),
                    x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
                    x509.RFC822Name("admin@cisco.com"),
                    x509.UniformResourceIdentifier("http://boulder.cisco.com/"),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier("http://127.0.0.1/lab-root.crl")],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (DATA / "x509_root.der").write_bytes(root.public_bytes(serialization.Encoding.DER))
    (DATA / "x509_leaf.der").write_bytes(leaf.public_bytes(serialization.Encoding.DER))


if __name__ == "__main__":
    DATA.mkdir(exist_ok=True)
    write_keys()
    write_chain()
