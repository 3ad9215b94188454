# SPDX-License-Identifier: MIT
# PKCS#10 certification requests (RFC 2986) as IOS builds them for
# `crypto ca enroll`: subject from hostname.domain-name and the trustpoint's
# subject-name / serial-number / ip-address, challengePassword, and an
# extensionRequest with subjectAltName and keyUsage; signed with SHA-256
# (SHA-1 for old CAs).  Only the writer side: it imports no x509, so a CSR
# can be built in a small heap right after key generation.
from micropython import const

from upki import derwrite as der, oid  # the writer only: no DER reader in a CSR build

_IA5_STRING = const(0x16)
_PRINTABLE_STRING = const(0x13)
_SEQUENCE = const(0x30)
_UTF8_STRING = const(0x0C)

# requested usage -> keyUsage bits (RFC 5280 4.2.1.3 numbering)
_USAGE_BITS = {
    "general-purpose": (0, 2),  # digitalSignature, keyEncipherment
    "signature": (0,),  # digitalSignature
    "encryption": (2,),  # keyEncipherment
}


def der_to_pem(data, label="CERTIFICATE REQUEST"):
    from binascii import b2a_base64

    out = ["-----BEGIN %s-----\n" % label]
    data = memoryview(data)
    for i in range(0, len(data), 48):
        out.append(str(b2a_base64(data[i : i + 48]), "ascii").strip() + "\n")
    out.append("-----END %s-----\n" % label)
    return "".join(out)


def parse_dn(text):
    """An X.500 string as IOS takes it (`CN=r1, OU=lab, O=cisco, C=US`, most
    specific first; `+` joins the parts of one RDN; `\\,` escapes and double
    quotes protect separators) into RDNs in DER order."""
    parts = []
    cur = []
    rdn = []
    quoted = False
    i = 0
    n = len(text)
    while i <= n:
        c = text[i] if i < n else ","
        if c == "\\" and i + 1 < n:
            cur.append(text[i + 1])
            i += 2
            continue
        if c == '"' and i < n:
            quoted = not quoted
        elif quoted and i < n:
            cur.append(c)
        elif quoted:
            raise ValueError("unterminated quote in %s" % text)
        elif c in ",+":
            item = "".join(cur).strip()
            cur = []
            if item:
                k = item.find("=")
                if k <= 0:
                    raise ValueError("expected ATTR=VALUE, found %r" % item)
                rdn.append((oid.dotted(item[:k].strip()), item[k + 1 :].strip()))
            if c == "," and rdn:
                parts.append(rdn)
                rdn = []
        else:
            cur.append(c)
        i += 1
    parts.reverse()
    return parts


_IA5_ATTRS = ("1.2.840.113549.1.9.1", "0.9.2342.19200300.100.1.25", "1.2.840.113549.1.9.2")
_PRINTABLE_ONLY = ("2.5.4.6", "2.5.4.5", "2.5.4.46")
_PRINTABLE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"


def _ascii(s):
    for c in s:
        if ord(c) > 0x7E:
            return False
    return True


def _printable(s):
    for c in s:
        if c not in _PRINTABLE_CHARS:
            return False
    return True


def encode_name(rdns):
    """DER Name from RDNs in DER order; each attribute is (oid, value) or
    (oid, value, string tag).  Without a tag: IA5String for E, DC and
    unstructuredName (UTF8String for a non-ASCII unstructuredName; ValueError
    for a non-ASCII E or DC), PrintableString when the value allows, else
    UTF8String."""
    out = []
    for rdn in rdns:
        atvs = []
        for atv in rdn:
            a = oid.dotted(atv[0])
            v = atv[1]
            if len(atv) > 2:
                tag = atv[2]
            elif a in _IA5_ATTRS and _ascii(v):
                tag = _IA5_STRING
            elif a in _IA5_ATTRS[:2]:
                raise ValueError("%s must be ASCII: %s" % (oid.name(a), v))
            elif a in _PRINTABLE_ONLY or _printable(v):
                tag = _PRINTABLE_STRING
            else:
                tag = _UTF8_STRING
            atvs.append(der.encode_sequence(der.encode_oid(a), der.encode_string(tag, v)))
        out.append(der.encode_set(*atvs))
    return der.encode_tlv(_SEQUENCE, out)


def parse_ip(text):
    """Bytes of an IPv4 or IPv6 address in text form (for SAN iPAddress)."""
    if ":" not in text:
        parts = text.split(".")
        if len(parts) != 4:
            raise ValueError("bad IPv4 address %s" % text)
        b = bytes([int(p) for p in parts])  # ValueError past 255
        return b
    if text.count("::") > 1:
        raise ValueError("bad IPv6 address %s" % text)
    if "::" in text:
        head, tail = text.split("::")
        h = [x for x in head.split(":") if x]
        t = [x for x in tail.split(":") if x]
        groups = h + ["0"] * (8 - len(h) - len(t)) + t
    else:
        groups = text.split(":")
    if len(groups) != 8:
        raise ValueError("bad IPv6 address %s" % text)
    out = bytearray(16)
    for i in range(8):
        v = int(groups[i], 16)
        if not 0 <= v <= 0xFFFF or len(groups[i]) > 4:
            raise ValueError("bad IPv6 address %s" % text)
        out[2 * i] = v >> 8
        out[2 * i + 1] = v & 0xFF
    return bytes(out)


def encode_general_names(names):
    """GeneralNames from (type, value) pairs of DNS, IP, email and URI."""
    out = []
    for kind, value in names:
        if kind != "IP" and not _ascii(value):
            raise ValueError("%s name must be ASCII (IDNA for DNS): %s" % (kind, value))
        if kind == "DNS":
            out.append(der.encode_tlv(0x82, value.encode()))
        elif kind == "IP":
            out.append(der.encode_tlv(0x87, parse_ip(value)))
        elif kind == "email":
            out.append(der.encode_tlv(0x81, value.encode()))
        elif kind == "URI":
            out.append(der.encode_tlv(0x86, value.encode()))
        else:
            raise ValueError("unsupported GeneralName type %s" % kind)
    return der.encode_tlv(_SEQUENCE, out)


def _directory_string(s):
    return der.encode_string(_PRINTABLE_STRING if _printable(s) else _UTF8_STRING, s)


def _attribute(attr_oid, *values):
    return der.encode_sequence(der.encode_oid(attr_oid), der.encode_set(*values))


def _extension(ext_oid, value, critical=False):
    parts = [der.encode_oid(ext_oid)]
    if critical:
        parts.append(der.encode_bool(True))
    parts.append(der.encode_octet_string(value))
    return der.encode_tlv(_SEQUENCE, parts)


def ios_subject(fqdn=None, subject_name=None, serial_number=None, ip_address=None):
    """RDNs (DER order) of the subject IOS puts in its request: the configured
    subject-name (an X.500 string), CN = fqdn unless subject-name has a CN,
    then one RDN unstructuredName = fqdn (+ unstructuredAddress = ip when
    `ip-address` is set) (+ serialNumber = the board's unique id when
    `serial-number` is set), which IOS shows as `hostname=... + ...`."""
    rdns = parse_dn(subject_name) if subject_name else []
    if fqdn and not any(a == oid.CN for rdn in rdns for a, v in rdn):
        rdns.append([(oid.CN, fqdn)])
    last = []
    if fqdn:
        last.append((oid.UNSTRUCTURED_NAME, fqdn))
    if ip_address:
        parse_ip(ip_address)  # a typo must not reach the CA
        last.append((oid.UNSTRUCTURED_ADDRESS, ip_address, _PRINTABLE_STRING))
    if serial_number:
        last.append((oid.SERIAL_NUMBER, serial_number, _PRINTABLE_STRING))
    if last:
        rdns.append(last)
    if not rdns:
        raise ValueError("empty subject: set a hostname and domain name or a subject-name")
    return rdns


def build(
    private_key,
    subject,
    challenge_password=None,
    alt_names=None,
    usage=None,
    ext_key_usage=None,
    hash_name="sha256",
):
    """A signed CertificationRequest (DER bytes).

    private_key: an upki.rsa PrivateKey (sign(message, hash_name),
    public_key().to_spki_der()); subject: RDNs in DER order (see ios_subject,
    parse_dn) or Name DER bytes; alt_names: (type, value) pairs of DNS, IP,
    email, URI; usage: 'general-purpose', 'signature', 'encryption' or None
    for no keyUsage; ext_key_usage: EKU OIDs or names; hash_name: 'sha256'
    or 'sha1' (sha384/sha512/md5 also work)."""
    sig_oid = oid.rsa_signature_oid(hash_name)
    name_der = subject if isinstance(subject, (bytes, bytearray)) else encode_name(subject)
    extensions = []
    if alt_names:
        extensions.append(_extension(oid.SUBJECT_ALT_NAME, encode_general_names(alt_names)))
    if usage:
        bits = _USAGE_BITS.get(usage)
        if bits is None:
            raise ValueError(
                "unknown key usage %s (general-purpose, signature, encryption)" % usage
            )
        extensions.append(_extension(oid.KEY_USAGE, der.encode_named_bits(bits), True))
    if ext_key_usage:
        ekus = [der.encode_oid(oid.dotted(e)) for e in ext_key_usage]
        extensions.append(_extension(oid.EXT_KEY_USAGE, der.encode_tlv(_SEQUENCE, ekus)))
    attributes = []
    if challenge_password:
        attributes.append(
            _attribute(oid.CHALLENGE_PASSWORD, _directory_string(challenge_password))
        )
    if extensions:
        attributes.append(_attribute(oid.EXTENSION_REQUEST, der.encode_tlv(_SEQUENCE, extensions)))
    # attributes [0] IMPLICIT SET OF Attribute: sorted like any DER SET OF
    attributes.sort()
    info = der.encode_sequence(
        b"\x02\x01\x00",
        name_der,
        private_key.public_key().to_spki_der(),
        der.encode_context(0, attributes),
    )
    import gc

    gc.collect()  # the parts joined into info are garbage: free them before the RSA work
    signature = private_key.sign(info, hash_name)
    return der.encode_sequence(
        info,
        der.encode_sequence(der.encode_oid(sig_oid), der.encode_null()),
        der.encode_bit_string(signature),
    )


def ios_request(
    private_key,
    fqdn=None,
    subject_name=None,
    serial_number=None,
    ip_address=None,
    challenge_password=None,
    usage="general-purpose",
    alt_names=None,
    ext_key_usage=None,
    hash_name="sha256",
):
    """The request `crypto ca enroll` sends: subject from ios_subject, SAN with
    DNS = fqdn and IP = ip_address (plus alt_names), keyUsage for usage."""
    san = []
    if fqdn:
        san.append(("DNS", fqdn))
    if ip_address:
        san.append(("IP", ip_address))
    if alt_names:
        san.extend(alt_names)
    return build(
        private_key,
        ios_subject(fqdn, subject_name, serial_number, ip_address),
        challenge_password=challenge_password,
        alt_names=san,
        usage=usage,
        ext_key_usage=ext_key_usage,
        hash_name=hash_name,
    )
