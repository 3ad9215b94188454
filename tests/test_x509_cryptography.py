# SPDX-License-Identifier: MIT
"""upki.x509 against cryptography: a few hundred certificates made by
cryptography (varied names, string types, serials, validity encodings, key
sizes, hashes and extensions) are parsed on the MicroPython Unix port in one
process, and every field must equal what cryptography reads; every signature
must check against its issuer and fail against another CA."""

import datetime
import hashlib
import ipaddress
import json
import random
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from mpy import DEVICE_TESTS, run_micropython

DATA = DEVICE_TESTS.parent / "data"
COUNT = 240
UTC = datetime.timezone.utc

KEY_FILES = ("1024", "2048", "2048b", "3072", "4096")
HASHES = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
# What upki.x509 treats as understood (the rest, when critical, is flagged).
UNDERSTOOD = {
    "2.5.29.19",
    "2.5.29.15",
    "2.5.29.37",
    "2.5.29.17",
    "2.5.29.18",
    "2.5.29.31",
    "2.5.29.35",
    "2.5.29.14",
    "2.5.29.32",
    "1.3.6.1.5.5.7.1.1",
}
KU_FIELDS = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)
IOS_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.6": "C",
    "1.2.840.113549.1.9.1": "E",
    "2.5.4.5": "serialNumber",
    "0.9.2342.19200300.100.1.25": "DC",
    "2.5.4.12": "title",
    "2.5.4.42": "GN",
    "2.5.4.4": "SN",
    "1.2.840.113549.1.9.2": "unstructuredName",
    "1.2.840.113549.1.9.8": "unstructuredAddress",
    "2.5.4.9": "street",
    "2.5.4.43": "initials",
}

TEXTS = [
    "boulder",
    "cisco lab",
    "caf\u00e9",
    "\u6771\u4eac",
    "Stra\u00dfe 5",
    "r\u00e9seau \U0001f600",
    "x",
    "a" * 64,
    "Jos\u00e9 Mar\u00eda",
    "\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439",
]
ASCII = ["boulder", "cisco", "lab 1", "R1-gw.example.com", "Eng (west)", "a.b-c"]


def _key(name):
    return serialization.load_der_private_key(
        (DATA / ("x509_key_%s.der" % name)).read_bytes(), None
    )


def _attr(rng):
    """One NameAttribute of a random type with a value that type can hold."""
    kind = rng.randrange(12)
    if kind == 0:
        return x509.NameAttribute(NameOID.COUNTRY_NAME, rng.choice(["US", "DE", "JP", "FR"]))
    if kind == 1:
        return x509.NameAttribute(NameOID.EMAIL_ADDRESS, "user%d@example.com" % rng.randrange(99))
    if kind == 2:
        return x509.NameAttribute(NameOID.DOMAIN_COMPONENT, rng.choice(["com", "example", "lab"]))
    if kind == 3:
        return x509.NameAttribute(
            NameOID.SERIAL_NUMBER, "FTX%d" % rng.randrange(10**8), _type=_ASN1Type.PrintableString
        )
    if kind == 4:
        return x509.NameAttribute(
            ObjectIdentifier("1.2.840.113549.1.9.2"),
            "r%d.example.com" % kind,
            _type=_ASN1Type.IA5String,
        )
    if kind == 5:
        return x509.NameAttribute(
            ObjectIdentifier("1.2.840.113549.1.9.8"),
            "10.0.%d.1" % rng.randrange(256),
            _type=_ASN1Type.PrintableString,
        )
    attr_oid = rng.choice(
        [
            NameOID.COMMON_NAME,
            NameOID.ORGANIZATION_NAME,
            NameOID.ORGANIZATIONAL_UNIT_NAME,
            NameOID.LOCALITY_NAME,
            NameOID.STATE_OR_PROVINCE_NAME,
            NameOID.TITLE,
            NameOID.GIVEN_NAME,
            NameOID.SURNAME,
            NameOID.STREET_ADDRESS,
            NameOID.INITIALS,
        ]
    )
    stype = rng.choice(
        [
            _ASN1Type.UTF8String,
            _ASN1Type.PrintableString,
            _ASN1Type.IA5String,
            _ASN1Type.BMPString,
            _ASN1Type.T61String,
            _ASN1Type.UniversalString,
            _ASN1Type.VisibleString,
        ]
    )
    if stype in (_ASN1Type.PrintableString, _ASN1Type.IA5String, _ASN1Type.VisibleString):
        value = rng.choice(ASCII)
    elif stype == _ASN1Type.BMPString:
        value = rng.choice([t for t in TEXTS if "\U0001f600" not in t])  # UCS-2 only
    else:
        value = rng.choice(TEXTS)
    return x509.NameAttribute(attr_oid, value, _type=stype)


def _name(rng, allow_empty=False):
    if allow_empty and rng.random() < 0.05:
        return x509.Name([])
    rdns = []
    for _ in range(rng.randint(1, 6)):
        attrs = [_attr(rng) for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3))]
        # one RDN may not hold the same attribute twice with the same value
        seen, uniq = set(), []
        for a in attrs:
            if (a.oid, a.value) not in seen:
                seen.add((a.oid, a.value))
                uniq.append(a)
        rdns.append(x509.RelativeDistinguishedName(uniq))
    return x509.Name(rdns)


def _serial(rng, nbytes):
    # a positive serial whose DER content is exactly nbytes long
    if nbytes == 1:
        return rng.randint(1, 127)
    return rng.randint(1 << (8 * (nbytes - 1) - 1), (1 << (8 * nbytes - 1)) - 1)


VALIDITY = [
    (
        datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime.datetime(2050, 1, 1, tzinfo=UTC),
    ),
    (
        datetime.datetime(1950, 1, 1, tzinfo=UTC),
        datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),
    ),
    (
        datetime.datetime(2050, 1, 1, 0, 0, 1, tzinfo=UTC),
        datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ),
    (
        datetime.datetime(2000, 2, 29, 12, 0, tzinfo=UTC),
        datetime.datetime(2100, 2, 28, tzinfo=UTC),
    ),
    (
        datetime.datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime.datetime(2000, 1, 1, tzinfo=UTC),
    ),
]


def _validity(rng, i):
    if i % 3 == 0:
        return VALIDITY[(i // 3) % len(VALIDITY)]
    a = rng.randint(-631152000, 4102444800)  # 1950 .. 2100
    b = a + rng.randint(0, 40 * 365 * 86400)
    return (datetime.datetime.fromtimestamp(a, UTC), datetime.datetime.fromtimestamp(b, UTC))


def _extensions(rng, builder, subject_key, issuer_ski, empty_subject):
    if rng.random() < 0.7:
        ca = rng.random() < 0.3
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=rng.choice([None, 0, 1, 5]) if ca else None),
            critical=rng.random() < 0.5,
        )
    if rng.random() < 0.7:
        bits = {f: rng.random() < 0.4 for f, _ in KU_FIELDS}
        if not any(bits.values()):
            bits["digital_signature"] = True
        ka = bits["key_agreement"]
        builder = builder.add_extension(
            x509.KeyUsage(
                encipher_only=ka and rng.random() < 0.5,
                decipher_only=ka and rng.random() < 0.5,
                **bits,
            ),
            critical=rng.random() < 0.7,
        )
    if rng.random() < 0.5:
        ekus = rng.sample(
            [
                ExtendedKeyUsageOID.SERVER_AUTH,
                ExtendedKeyUsageOID.CLIENT_AUTH,
                ExtendedKeyUsageOID.CODE_SIGNING,
                ExtendedKeyUsageOID.EMAIL_PROTECTION,
                ExtendedKeyUsageOID.OCSP_SIGNING,
                ObjectIdentifier("1.3.6.1.5.5.7.3.17"),
            ],
            rng.randint(1, 3),
        )
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    if empty_subject or rng.random() < 0.6:
        names = []
        for _ in range(rng.randint(1, 5)):
            k = rng.randrange(5)
            if k == 0:
                names.append(x509.DNSName("h%d.example.com" % rng.randrange(1000)))
            elif k == 1:
                names.append(x509.IPAddress(ipaddress.IPv4Address(rng.getrandbits(32))))
            elif k == 2:
                v6 = rng.getrandbits(128)
                if rng.random() < 0.5:  # runs of zero groups to compress
                    v6 &= ~(((1 << (16 * rng.randint(1, 6))) - 1) << (16 * rng.randint(0, 2)))
                names.append(x509.IPAddress(ipaddress.IPv6Address(v6)))
            elif k == 3:
                names.append(x509.RFC822Name("ops%d@example.net" % rng.randrange(100)))
            else:
                names.append(
                    x509.UniformResourceIdentifier(
                        "http://pki.example.com/%d" % rng.randrange(100)
                    )
                )
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=empty_subject)
    if rng.random() < 0.4:
        dps = [
            x509.DistributionPoint(
                [
                    x509.UniformResourceIdentifier(
                        "http://crl%d.example/%d.crl" % (j, rng.randrange(9))
                    )
                ],
                None,
                None,
                None,
            )
            for j in range(rng.randint(1, 2))
        ]
        builder = builder.add_extension(x509.CRLDistributionPoints(dps), critical=False)
    if issuer_ski is not None and rng.random() < 0.6:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
    if rng.random() < 0.5:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False
        )
    if rng.random() < 0.15:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(
                ObjectIdentifier("1.3.6.1.4.1.99999.%d" % rng.randrange(9)), b"\x05\x00"
            ),
            critical=rng.random() < 0.7,
        )
    if rng.random() < 0.1:
        builder = builder.add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(ObjectIdentifier("2.5.29.32.0"), None)]
            ),
            critical=True,
        )
    return builder


RESIGN = {"md5": (b"\x04", hashes.MD5()), "sha1": (b"\x05", hashes.SHA1())}


def _resign(cert, key, hash_name):
    """The same certificate signed with md5/sha1WithRSAEncryption (cryptography
    refuses to build those): patch the algorithm OID's last octet, re-sign."""
    last, algorithm = RESIGN[hash_name]
    d = cert.public_bytes(serialization.Encoding.DER)
    sha256_alg = bytes.fromhex("06092a864886f70d01010b")
    assert d.count(sha256_alg) == 2
    d = bytearray(d.replace(sha256_alg, sha256_alg[:-1] + last))
    assert d[0:2] == b"\x30\x82"
    tbs = bytes(d[4 : 4 + len(cert.tbs_certificate_bytes)])
    sig = key.sign(tbs, padding.PKCS1v15(), algorithm)
    assert len(sig) == len(cert.signature)
    d[len(d) - len(sig) :] = sig
    return x509.load_der_x509_certificate(bytes(d))


def _sign(builder, key, hash_name):
    if hash_name in RESIGN:
        return _resign(builder.sign(key, hashes.SHA256()), key, hash_name)
    return builder.sign(key, HASHES[hash_name])


def build_corpus():
    keys = {k: _key(k) for k in KEY_FILES}
    t0 = datetime.datetime(2020, 1, 1, tzinfo=UTC)
    t1 = datetime.datetime(2060, 1, 1, tzinfo=UTC)
    cas = []  # (cert, key, ski)
    spec = [
        ("4096", None, "sha256"),
        ("1024", None, "sha1"),
        ("2048b", 0, "sha384"),
        ("3072", 0, "sha512"),
    ]
    for i, (kname, parent, h) in enumerate(spec):
        key = keys[kname]
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "upki test"),
                x509.NameAttribute(NameOID.COMMON_NAME, "CA %d" % i),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        b = (
            x509.CertificateBuilder()
            .subject_name(name)
            .public_key(key.public_key())
            .serial_number(100 + i)
            .not_valid_before(t0)
            .not_valid_after(t1)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(ski, critical=False)
        )
        if parent is None:
            cert = _sign(b.issuer_name(name), key, h)
        else:
            pc, pk, pski = cas[parent]
            cert = _sign(b.issuer_name(pc.subject), pk, h)
        cas.append((cert, key, ski))
    certs = []  # (cert, issuer index)
    for i in range(COUNT):
        rng = random.Random(i)
        ca_index = rng.randrange(len(cas))
        ca_cert, ca_key, ca_ski = cas[ca_index]
        subject_key = keys[rng.choice(KEY_FILES)]
        empty = False
        subject = _name(rng, allow_empty=True)
        empty = len(subject.rdns) == 0
        nb, na = _validity(rng, i)
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(subject_key.public_key())
            .serial_number(_serial(rng, 1 + i % 20))
            .not_valid_before(nb)
            .not_valid_after(na)
        )
        b = _extensions(rng, b, subject_key, ca_ski if rng.random() < 0.8 else None, empty)
        h = "md5" if i % 40 == 7 else rng.choice(["sha1", "sha256", "sha384", "sha512"])
        cert = _sign(b, ca_key, h)
        certs.append((cert, ca_index))
    return cas, certs


def _rdns(name):
    return [[[a.oid.dotted_string, a.value] for a in rdn] for rdn in name.rdns]


def _ios(name):
    return ", ".join(
        " + ".join(
            "%s = %s" % (IOS_NAMES.get(a.oid.dotted_string, a.oid.dotted_string), a.value)
            for a in rdn
        )
        for rdn in reversed(name.rdns)
    )


def _fp(data, h):
    hx = hashlib.new(h, data).hexdigest().upper()
    return " ".join(hx[i : i + 8] for i in range(0, len(hx), 8))


def _expected(cert):
    ext = {e.oid.dotted_string: e for e in cert.extensions}
    out = {
        "version": cert.version.value + 1,
        "serial": "%x" % cert.serial_number,
        "sig_alg": cert.signature_algorithm_oid.dotted_string,
        "issuer": _rdns(cert.issuer),
        "subject": _rdns(cert.subject),
        "subject_text": _ios(cert.subject),
        "not_before": int(cert.not_valid_before_utc.timestamp()),
        "not_after": int(cert.not_valid_after_utc.timestamp()),
        "n": "%x" % cert.public_key().public_numbers().n,
        "e": cert.public_key().public_numbers().e,
        "bits": cert.public_key().key_size,
        "tbs": hashlib.sha256(cert.tbs_certificate_bytes).hexdigest(),
        "sig": cert.signature.hex(),
        "spki": hashlib.sha256(
            cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).hexdigest(),
        "fp": [
            _fp(cert.public_bytes(serialization.Encoding.DER), h)
            for h in ("md5", "sha1", "sha256")
        ],
        "bc": None,
        "ku": None,
        "eku": None,
        "san": None,
        "crldp": None,
        "aki": None,
        "ski": None,
        "unknown": [o for o, e in ext.items() if e.critical and o not in UNDERSTOOD],
    }
    if "2.5.29.19" in ext:
        v = ext["2.5.29.19"].value
        out["bc"] = [v.ca, v.path_length]
    out["usage"] = "General Purpose"
    if "2.5.29.15" in ext:
        v = ext["2.5.29.15"].value
        ku = [name for f, name in KU_FIELDS if getattr(v, f)]
        if v.key_agreement:
            ku += [
                n
                for f, n in (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly"))
                if getattr(v, f)
            ]
        out["ku"] = sorted(ku)
        sign = bool(set(ku) & {"digitalSignature", "nonRepudiation", "keyCertSign", "cRLSign"})
        enc = bool(set(ku) & {"keyEncipherment", "dataEncipherment", "keyAgreement"})
        if sign != enc:
            out["usage"] = "Signature" if sign else "Encryption"
    if "2.5.29.37" in ext:
        out["eku"] = [o.dotted_string for o in ext["2.5.29.37"].value]
    if "2.5.29.17" in ext:
        san = []
        for g in ext["2.5.29.17"].value:
            kind = {
                x509.DNSName: "DNS",
                x509.IPAddress: "IP",
                x509.RFC822Name: "email",
                x509.UniformResourceIdentifier: "URI",
            }[type(g)]
            san.append([kind, str(g.value)])
        out["san"] = san
    if "2.5.29.31" in ext:
        out["crldp"] = [g.value for dp in ext["2.5.29.31"].value for g in dp.full_name]
    if "2.5.29.35" in ext:
        kid = ext["2.5.29.35"].value.key_identifier
        out["aki"] = kid.hex() if kid else None
    if "2.5.29.14" in ext:
        out["ski"] = ext["2.5.29.14"].value.digest.hex()
    return out


PARSER = r"""
import json, time, hashlib
from binascii import hexlify
from upki import x509
blob = open(%(blob)r, 'rb').read()
index = json.loads(open(%(index)r).read())
buf = memoryview(blob)
cas = [x509.Certificate(buf[o:o + n]) for o, n in index['cas']]
def hx(b):
    return None if b is None else str(hexlify(b), 'ascii')
parse_us = 0
verify_us = 0
for o, n, ca, other in index['certs']:
    t = time.ticks_us()
    c = x509.Certificate(buf[o:o + n])
    nn, e = c.rsa_public_numbers()
    out = {
        'version': c.version, 'serial': '%%x' %% c.serial, 'sig_alg': c.signature_algorithm,
        'issuer': c.issuer.rdns(), 'subject': c.subject.rdns(), 'subject_text': str(c.subject),
        'not_before': c.not_before, 'not_after': c.not_after, 'n': '%%x' %% nn, 'e': e,
        'bits': c.key_bits, 'sig': hx(c.signature), 'bc': c.basic_constraints,
        'ku': None if c.key_usage is None else sorted(c.key_usage), 'eku': c.ext_key_usage,
        'san': c.subject_alt_names, 'crldp': c.crl_distribution_points,
        'aki': hx(c.authority_key_identifier), 'ski': hx(c.subject_key_identifier),
        'unknown': c.unknown_critical_extensions, 'usage': c.ios_usage,
    }
    parse_us += time.ticks_diff(time.ticks_us(), t)
    h = hashlib.sha256(); h.update(c.tbs_bytes); out['tbs'] = hx(h.digest())
    h = hashlib.sha256(); h.update(c.public_key_info); out['spki'] = hx(h.digest())
    out['fp'] = [c.fingerprint(a) for a in ('md5', 'sha1', 'sha256')]
    t = time.ticks_us()
    out['sig_error'] = c.signature_error(cas[ca])
    verify_us += time.ticks_diff(time.ticks_us(), t)
    out['wrong_issuer'] = c.signature_error(cas[other])
    print(json.dumps(out))
print(json.dumps({'parse_us': parse_us, 'verify_us': verify_us}))
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    cas, certs = build_corpus()
    d = tmp_path_factory.mktemp("x509")
    parts, index, pos = [], {"cas": [], "certs": []}, 0
    for c, _, _ in cas:
        b = c.public_bytes(serialization.Encoding.DER)
        parts.append(b)
        index["cas"].append([pos, len(b)])
        pos += len(b)
    for c, ca in certs:
        b = c.public_bytes(serialization.Encoding.DER)
        parts.append(b)
        # "other": a CA with a different key
        index["certs"].append([pos, len(b), ca, (ca + 1) % len(cas)])
        pos += len(b)
    (d / "blob.der").write_bytes(b"".join(parts))
    (d / "index.json").write_text(json.dumps(index))
    start = time.monotonic()
    r = run_micropython(
        ["-c", PARSER % {"blob": str(d / "blob.der"), "index": str(d / "index.json")}], timeout=240
    )
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    stats = lines.pop()
    print(
        "\n%d certificates on the Unix port in %.2f s: "
        "parse %.2f ms/cert, signature check %.2f ms/cert"
        % (
            len(lines),
            elapsed,
            stats["parse_us"] / 1000 / len(lines),
            stats["verify_us"] / 1000 / len(lines),
        )
    )
    return certs, lines


def test_corpus_is_varied(parsed):
    certs, lines = parsed
    assert len(lines) == COUNT >= 200
    serial_lengths = {len(c.serial_number.to_bytes(21, "big").lstrip(b"\0")) for c, _ in certs}
    assert min(serial_lengths) == 1 and max(serial_lengths) == 20
    assert {c.public_key().key_size for c, _ in certs} == {1024, 2048, 3072, 4096}
    algs = {c.signature_algorithm_oid.dotted_string for c, _ in certs}
    assert {
        "1.2.840.113549.1.1.4",
        "1.2.840.113549.1.1.5",
        "1.2.840.113549.1.1.11",
        "1.2.840.113549.1.1.12",
        "1.2.840.113549.1.1.13",
    } <= algs
    ders = [c.public_bytes(serialization.Encoding.DER) for c, _ in certs]
    assert (
        sum(b"\x18\x0f2050" in d for d in ders) > 5
        and sum(b"\x17\x0d491231235959Z" in d for d in ders) > 5
    )
    multi = sum(any(len(rdn) > 1 for rdn in c.subject.rdns) for c, _ in certs)
    assert multi > 20
    types = {a._type for c, _ in certs for a in c.subject}
    assert {
        _ASN1Type.UTF8String,
        _ASN1Type.PrintableString,
        _ASN1Type.IA5String,
        _ASN1Type.BMPString,
        _ASN1Type.T61String,
        _ASN1Type.UniversalString,
        _ASN1Type.VisibleString,
    } <= types


FIELDS = (
    "version",
    "serial",
    "sig_alg",
    "issuer",
    "subject",
    "subject_text",
    "not_before",
    "not_after",
    "n",
    "e",
    "bits",
    "tbs",
    "sig",
    "spki",
    "fp",
    "bc",
    "ku",
    "eku",
    "san",
    "crldp",
    "aki",
    "ski",
    "unknown",
    "usage",
)


@pytest.mark.parametrize("field", FIELDS)
def test_field_matches_cryptography(parsed, field):
    certs, lines = parsed
    bad = []
    for i, ((cert, _), got) in enumerate(zip(certs, lines)):
        want = _expected(cert)[field]
        if got[field] != want:
            bad.append("cert %d: %s: got %r, cryptography %r" % (i, field, got[field], want))
    assert not bad, "\n".join(bad[:10])


def test_signatures_check_against_issuer(parsed):
    certs, lines = parsed
    bad = [(i, got["sig_error"]) for i, got in enumerate(lines) if got["sig_error"] is not None]
    assert not bad, bad[:10]


def test_signatures_fail_against_other_ca(parsed):
    certs, lines = parsed
    for i, got in enumerate(lines):
        assert got["wrong_issuer"] is not None, i
        assert "does not match" in got["wrong_issuer"] or "bad signature" in got["wrong_issuer"], (
            got
        )


OTHER_ALGORITHMS = r"""
import json
from upki import x509
out = {}
for name in ('ec_by_ec', 'rsa_by_ec', 'ec_by_rsa', 'pss', 'issuer_ec', 'issuer_rsa'):
    out[name] = x509.Certificate(open(%(d)r + '/' + name + '.der', 'rb').read())
r = {}
for name, issuer in (('ec_by_ec', 'issuer_ec'), ('rsa_by_ec', 'issuer_ec'),
                     ('ec_by_rsa', 'issuer_rsa'), ('pss', 'issuer_rsa')):
    c = out[name]
    try:
        c.public_key()
        pk = 'rsa'
    except ValueError as e:
        pk = str(e)
    numbers = c.rsa_public_numbers()
    r[name] = {'error': c.signature_error(out[issuer]), 'ok': c.verify_signature(out[issuer]),
               'numbers': list(numbers) if numbers[0] is None else 'rsa',
               'bits': c.key_bits, 'public_key': pk, 'alg': c.public_key_algorithm,
               'subject': str(c.subject)}
# an RSA-signed certificate checked against an EC issuer key
r['wrong_key_type'] = out['ec_by_rsa'].signature_error(out['issuer_ec'])
print(json.dumps(r))
"""


def test_other_algorithms_are_reported_not_crashed(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    from mpy import run_json

    rsa_key = _key("2048")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    t0 = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    t1 = datetime.datetime(2030, 1, 1, tzinfo=UTC)

    def make(name, subject_key, issuer_name, signing_key, **sign_kw):
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
            .public_key(subject_key.public_key())
            .serial_number(7)
            .not_valid_before(t0)
            .not_valid_after(t1)
            .sign(signing_key, hashes.SHA256(), **sign_kw)
        )
        (tmp_path / (name + ".der")).write_bytes(cert.public_bytes(serialization.Encoding.DER))

    make("issuer_ec", ec_key, "issuer_ec", ec_key)
    make("issuer_rsa", rsa_key, "issuer_rsa", rsa_key)
    make("ec_by_ec", ec_key, "issuer_ec", ec_key)
    make("rsa_by_ec", rsa_key, "issuer_ec", ec_key)
    make("ec_by_rsa", ec_key, "issuer_rsa", rsa_key)
    make(
        "pss",
        rsa_key,
        "issuer_rsa",
        rsa_key,
        rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
    )
    r = run_json(OTHER_ALGORITHMS % {"d": str(tmp_path)})
    assert r["ec_by_ec"]["error"] == "unsupported signature algorithm ecdsa-with-SHA256"
    assert r["rsa_by_ec"]["error"] == "unsupported signature algorithm ecdsa-with-SHA256"
    assert r["pss"]["error"] == "unsupported signature algorithm rsassaPss"
    assert r["ec_by_rsa"]["error"] is None and r["ec_by_rsa"]["ok"] is True
    assert r["wrong_key_type"] == "unsupported issuer key algorithm ecPublicKey"
    for name in ("ec_by_ec", "rsa_by_ec", "pss"):
        assert r[name]["ok"] is False
    ec_info = r["ec_by_ec"]
    assert ec_info["numbers"] == [None, None] and ec_info["bits"] is None
    assert (
        ec_info["alg"] == "1.2.840.10045.2.1"
        and ec_info["public_key"] == "not an RSA key: ecPublicKey"
    )
    assert r["rsa_by_ec"]["public_key"] == "rsa" and r["rsa_by_ec"]["subject"] == "CN = rsa_by_ec"


def test_version1_certificate(tmp_path):
    """A v1 certificate (no version field, no extensions; cryptography cannot
    build one): assembled here with DER from openssl's own parts, read by
    openssl, then by upki.x509 on the Unix port."""
    import subprocess

    from conftest import require_command
    from mpy import run_json

    openssl = require_command("openssl")
    key = _key("2048")
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "v1 root")]).public_bytes()

    def tlv(tag, body):
        n = len(body)
        if n < 0x80:
            head = bytes([tag, n])
        else:
            nb = n.to_bytes((n.bit_length() + 7) // 8, "big")
            head = bytes([tag, 0x80 | len(nb)]) + nb
        return head + body

    alg = bytes.fromhex("300d06092a864886f70d01010b0500")
    validity = tlv(0x30, tlv(0x17, b"240101000000Z") + tlv(0x17, b"340101000000Z"))
    tbs = tlv(0x30, tlv(0x02, b"\x2a") + alg + name + validity + name + spki)
    sig = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    cert = tlv(0x30, tbs + alg + tlv(0x03, b"\x00" + sig))
    (tmp_path / "v1.der").write_bytes(cert)
    text = subprocess.run(
        [openssl, "x509", "-inform", "DER", "-in", str(tmp_path / "v1.der"), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Version: 1 (0x0)" in text and "X509v3" not in text
    r = run_json(
        "import json\nfrom upki import x509\n"
        "c = x509.Certificate(open(%r, 'rb').read())\n"
        "print(json.dumps([c.version, c.serial, str(c.subject), c.extensions(),"
        " c.basic_constraints, c.key_usage, c.signature_error(c), c.is_self_issued,"
        " c.not_after]))"
        % str(tmp_path / "v1.der")
    )
    assert r == [1, 42, "CN = v1 root", [], None, None, None, True, 2019686400]
