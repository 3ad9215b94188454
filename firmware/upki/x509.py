# SPDX-License-Identifier: MIT
# X.509 certificates (RFC 5280) read lazily: a Certificate keeps its DER (a
# memoryview, no copy) and the offsets of the TBSCertificate fields, and
# decodes a field when it is asked for.  Names are lists of RDNs, each a list
# of (dotted OID, str); IOS prints them most specific first.
from micropython import const

from upki import der, oid
from upki.errors import DERError, PKIError

_BIT_STRING = const(0x03)
_BOOLEAN = const(0x01)
_IA5_STRING = const(0x16)
_INTEGER = const(0x02)
_OCTET_STRING = const(0x04)
_OID = const(0x06)
_SEQUENCE = const(0x30)
_SET = const(0x31)
_STRING_TAGS = (0x0C, 0x12, 0x13, 0x14, 0x16, 0x1A, 0x1C, 0x1E)
_TAG_V = const(0xA0)  # [0] EXPLICIT version
_TAG_ISSUER_UID = const(0x81)
_TAG_SUBJECT_UID = const(0x82)
_TAG_EXTENSIONS = const(0xA3)

# RFC 5280 4.2.1.3, bit 0 first
KEY_USAGE_NAMES = (
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
)

_SIGN_USAGES = {"digitalSignature", "nonRepudiation", "keyCertSign", "cRLSign"}
_ENCRYPT_USAGES = {"keyEncipherment", "dataEncipherment", "keyAgreement"}

# Extensions this module (or the path validation on top of it) processes;
# a critical extension outside this list makes the certificate unusable.
_UNDERSTOOD = (
    "2.5.29.19",  # basicConstraints
    "2.5.29.15",  # keyUsage
    "2.5.29.37",  # extKeyUsage
    "2.5.29.17",  # subjectAltName
    "2.5.29.18",  # issuerAltName (informational)
    "2.5.29.31",  # cRLDistributionPoints
    "2.5.29.35",  # authorityKeyIdentifier
    "2.5.29.14",  # subjectKeyIdentifier
    "2.5.29.32",  # certificatePolicies: any policy is acceptable (no policy config)
    "1.3.6.1.5.5.7.1.1",  # authorityInfoAccess
)

# ---------------------------------------------------------------- PEM


def pem_to_der(text, label="CERTIFICATE"):
    """The DER inside the first PEM block with label (str or bytes input)."""
    from binascii import a2b_base64

    if isinstance(text, (bytes, bytearray, memoryview)):
        text = str(bytes(text), "ascii")
    begin = "-----BEGIN %s-----" % label
    end = "-----END %s-----" % label
    i = text.find(begin)
    j = text.find(end, i + 1)
    if i < 0 or j < 0:
        raise ValueError("no PEM %s block" % label)
    body = "".join(text[i + len(begin) : j].split())
    try:
        return a2b_base64(body)
    except Exception:
        raise ValueError("bad base64 in PEM %s block" % label)


# ---------------------------------------------------------------- names


def _attr_value(buf, tag, tlv_start, s, e):
    if tag in _STRING_TAGS:
        return der.decode_string(tag, buf, s, e)
    # not a string: RFC 4514 says show the DER in hex
    return "#" + _hex(buf[tlv_start:e], "")


def parse_name(buf, start, end):
    """A Name's content (the SEQUENCE OF RDN) as a list of RDNs in DER order,
    each a list of (dotted OID, value str)."""
    rdns = []
    for t, s, e in der.children(buf, start, end):
        if t != _SET:
            raise DERError("expected RDN SET at offset %d, found %s" % (s, der.tag_name(t)))
        rdn = []
        for t2, s2, e2 in der.children(buf, s, e):
            if t2 != _SEQUENCE:
                raise DERError("expected AttributeTypeAndValue at offset %d" % s2)
            ts, te = der.expect(buf, s2, e2, _OID)
            vt, vs, ve = der.read_tlv(buf, te, e2)
            if ve != e2:
                raise DERError("trailing data in AttributeTypeAndValue at offset %d" % ve)
            rdn.append((der.decode_oid(buf, ts, te), _attr_value(buf, vt, te, vs, ve)))
        if not rdn:
            raise DERError("empty RDN at offset %d" % s)
        rdns.append(rdn)
    return rdns


def format_name(rdns, sep=", "):
    """IOS form: most specific first, `CN = r1, O = cisco, C = US`; the values of
    a multi-valued RDN joined with ` + `."""
    out = []
    for i in range(len(rdns) - 1, -1, -1):
        out.append(" + ".join([oid.name(atv[0]) + " = " + atv[1] for atv in rdns[i]]))
    return sep.join(out)


def _fold(v):
    return " ".join(v.lower().split())


class Name:
    """A Name kept as its DER span; rdns and text decoded on demand."""

    def __init__(self, buf, start, end):
        # start/end span the whole TLV (tag included)
        self._buf = buf
        self._start = start
        self._end = end

    def der(self):
        return bytes(self._buf[self._start : self._end])

    def rdns(self):
        t, s, e = der.read_tlv(self._buf, self._start, self._end)
        return parse_name(self._buf, s, e)

    def attributes(self):
        """Flat list of (dotted OID, value) in DER order."""
        return [a for rdn in self.rdns() for a in rdn]

    def get(self, attr):
        """Values of one attribute (name like 'CN' or dotted OID), DER order."""
        a = oid.dotted(attr)
        return [v for o, v in self.attributes() if o == a]

    def __str__(self):
        return format_name(self.rdns())

    def __eq__(self, other):
        # Exact DER equality; RFC 5280 7.1 comparison (case folding) lives in identity.
        if not isinstance(other, Name):
            return NotImplemented
        return self._buf[self._start : self._end] == other._buf[other._start : other._end]

    def __ne__(self, other):
        return not self.__eq__(other)

    def matches(self, other):
        """RFC 5280 7.1 comparison, simplified: same RDNs in the same order,
        values compared case-insensitively with runs of spaces folded (ASCII
        case only), whatever their string types."""
        if self == other:
            return True
        a = self.rdns()
        b = other.rdns()
        if len(a) != len(b):
            return False
        for i in range(len(a)):
            if sorted([(o, _fold(v)) for o, v in a[i]]) != sorted(
                [(o, _fold(v)) for o, v in b[i]]
            ):
                return False
        return True

    def __hash__(self):
        return hash(self.der())


# ---------------------------------------------------------------- helpers


def _hex(data, sep=" "):
    from binascii import hexlify

    return str(hexlify(bytes(data)), "ascii").upper()


def fingerprint_text(digest):
    """IOS layout: uppercase hex in groups of 8 separated by spaces."""
    h = _hex(digest)
    return " ".join([h[i : i + 8] for i in range(0, len(h), 8)])


def format_ip(data):
    """An iPAddress GeneralName: dotted IPv4, RFC 5952 IPv6, or hex otherwise."""
    n = len(data)
    if n == 4:
        return "%d.%d.%d.%d" % (data[0], data[1], data[2], data[3])
    if n != 16:
        return _hex(data, "")
    groups = [(data[i] << 8) | data[i + 1] for i in range(0, 16, 2)]
    best = -1
    best_len = 1  # RFC 5952: a single zero group is not compressed
    i = 0
    while i < 8:
        if groups[i] == 0:
            j = i
            while j < 8 and groups[j] == 0:
                j += 1
            if j - i > best_len:
                best, best_len = i, j - i
            i = j
        else:
            i += 1
    hx = ["%x" % g for g in groups]
    if best < 0:
        return ":".join(hx)
    return ":".join(hx[:best]) + "::" + ":".join(hx[best + best_len :])


_GN_TYPES = {0x81: "email", 0x82: "DNS", 0x86: "URI", 0x87: "IP", 0xA4: "dirName", 0x88: "RID"}


def parse_general_names(buf, start, end):
    """GeneralNames content as a list of (type, value): ('DNS', str), ('IP', str),
    ('email', str), ('URI', str), ('dirName', str in IOS form), ('RID', dotted),
    ('other', hex of the whole element) for the rest."""
    out = []
    pos = start
    while pos < end:
        t, s, e = der.read_tlv(buf, pos, end)
        kind = _GN_TYPES.get(t)
        if kind in ("email", "DNS", "URI"):
            value = der.decode_string(_IA5_STRING, buf, s, e)
        elif kind == "IP":
            value = format_ip(buf[s:e])
        elif kind == "dirName":
            ns, ne = der.expect(buf, s, e, _SEQUENCE)
            value = format_name(parse_name(buf, ns, ne))
        elif kind == "RID":
            value = der.decode_oid(buf, s, e)
        else:
            kind = "other"
            value = _hex(buf[pos:e], "")
        out.append((kind, value))
        pos = e
    return out


def parse_algorithm(buf, start, end):
    """AlgorithmIdentifier TLV at start: (dotted OID, (params_start,
    params_end) or None, end of the TLV)."""
    s, e = der.expect(buf, start, end, _SEQUENCE)
    os_, oe = der.expect(buf, s, e, _OID)
    params = None
    if oe < e:
        t, ps, pe = der.read_tlv(buf, oe, e)
        if pe != e:
            raise DERError("trailing data in AlgorithmIdentifier at offset %d" % pe)
        params = (oe, pe)
    return der.decode_oid(buf, os_, oe), params, e


def parse_rsa_public_key_info(buf, start, end):
    """SubjectPublicKeyInfo TLV at start -> (algorithm OID, n, e); n and e are
    None for a key that is not RSA."""
    s, e_ = der.expect(buf, start, end, _SEQUENCE)
    alg, params, pos = parse_algorithm(buf, s, e_)
    bs, be = der.expect(buf, pos, e_, _BIT_STRING)
    if be != e_:
        raise DERError("trailing data in SubjectPublicKeyInfo at offset %d" % be)
    if alg != oid.RSA_ENCRYPTION:
        return alg, None, None
    # RFC 3279 2.3.1: the parameters of rsaEncryption are NULL
    if params is None or buf[params[0]] != 0x05 or params[1] - params[0] != 2:
        raise DERError("rsaEncryption parameters are not NULL at offset %d" % s)
    key = der.decode_bit_string_bytes(buf, bs, be)
    ks, ke = der.expect(key, 0, len(key), _SEQUENCE)
    if ke != len(key):
        raise DERError("trailing data after RSAPublicKey")
    ns, ne = der.expect(key, ks, ke, _INTEGER)
    xs, xe = der.expect(key, ne, ke, _INTEGER)
    if xe != ke:
        raise DERError("trailing data in RSAPublicKey")
    n = der.decode_int(key, ns, ne)
    x = der.decode_int(key, xs, xe)
    if n <= 0 or x <= 0:
        raise DERError("RSA public key with a non-positive modulus or exponent")
    return alg, n, x


def _bits(n):
    h = "%x" % n
    top = int(h[0], 16)
    return 4 * (len(h) - 1) + (4 if top >= 8 else 3 if top >= 4 else 2 if top >= 2 else 1)


def check_signature(sig_alg, message, signature, public_key):
    """Check an RSA PKCS#1 v1.5 signature; return None when it is good, else the
    reason as a string.  public_key: an upki.rsa public key, an (n, e) pair, or
    a Certificate whose key is used.  Never raises for a bad signature."""
    hash_name = oid.rsa_signature_hash(sig_alg)
    if hash_name is None:
        return "unsupported signature algorithm %s" % oid.name(sig_alg)
    if isinstance(public_key, Certificate):
        try:
            n, e = public_key.rsa_public_numbers()
        except (ValueError, PKIError) as ex:
            return "issuer key unusable: %s" % ex
        if n is None:
            return "unsupported issuer key algorithm %s" % oid.name(
                public_key.public_key_algorithm
            )
        public_key = (n, e)
    from upki import rsa

    try:
        if isinstance(public_key, tuple):
            public_key = rsa.PublicKey(public_key[0], public_key[1])
        ok = public_key.verify(message, bytes(signature), hash_name)
    except (ValueError, PKIError) as ex:
        return "bad signature: %s" % ex
    return None if ok else "signature does not match the %s key" % hash_name


# ---------------------------------------------------------------- certificates


class Certificate:
    """One certificate from its DER (bytes, bytearray or memoryview; kept, not copied)."""

    def __init__(self, data):
        buf = memoryview(data) if not isinstance(data, memoryview) else data
        self.der = buf
        t, s, e = der.read_single(buf, _SEQUENCE)
        der.check(buf, s, e)
        # Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
        ts, te = der.expect(buf, s, e, _SEQUENCE)
        self._tbs = (s, te)
        self._tbs_content = (ts, te)
        sig_alg, params, pos = parse_algorithm(buf, te, e)
        self.signature_algorithm = sig_alg
        self._sig_alg_span = (te, pos)
        bs, be = der.expect(buf, pos, e, _BIT_STRING)
        if be != e:
            raise DERError("trailing data in Certificate at offset %d" % be)
        self._sig = (bs, be)
        der.decode_bit_string_bytes(buf, bs, be)
        # TBSCertificate fields: remember where each starts
        pos = ts
        t, fs, fe = der.read_tlv(buf, pos, te)
        self.version = 1
        if t == _TAG_V:
            vs, ve = der.expect(buf, fs, fe, _INTEGER)
            if ve != fe:
                raise DERError("trailing data in version at offset %d" % ve)
            v = der.decode_int(buf, vs, ve)
            if v not in (0, 1, 2):
                raise DERError("unknown certificate version %d" % (v + 1))
            self.version = v + 1
            pos = fe
        self._serial = der.expect(buf, pos, te, _INTEGER)
        pos = self._serial[1]
        inner_alg, params, pos = parse_algorithm(buf, pos, te)
        self._inner_sig_alg = inner_alg
        t, s2, e2 = der.read_tlv(buf, pos, te)
        if t != _SEQUENCE:
            raise DERError("expected issuer Name at offset %d" % pos)
        self._issuer = (pos, e2)
        pos = e2
        self._validity = der.expect(buf, pos, te, _SEQUENCE)
        pos = self._validity[1]
        t, s2, e2 = der.read_tlv(buf, pos, te)
        if t != _SEQUENCE:
            raise DERError("expected subject Name at offset %d" % pos)
        self._subject = (pos, e2)
        pos = e2
        t, s2, e2 = der.read_tlv(buf, pos, te)
        if t != _SEQUENCE:
            raise DERError("expected SubjectPublicKeyInfo at offset %d" % pos)
        self._spki = (pos, e2)
        pos = e2
        self._extensions = None
        while pos < te:
            t, s2, e2 = der.read_tlv(buf, pos, te)
            if t in (_TAG_ISSUER_UID, _TAG_SUBJECT_UID) and self._extensions is None:
                pass
            elif t == _TAG_EXTENSIONS and self._extensions is None:
                if self.version != 3:
                    raise DERError("extensions in a version %d certificate" % self.version)
                self._extensions = der.expect(buf, s2, e2, _SEQUENCE)
                if self._extensions[1] != e2:
                    raise DERError(
                        "trailing data after extensions at offset %d" % self._extensions[1]
                    )
            else:
                raise DERError(
                    "unexpected %s in TBSCertificate at offset %d" % (der.tag_name(t), pos)
                )
            pos = e2
        self._ext_cache = None

    # -- plain fields

    @property
    def tbs_bytes(self):
        """The DER of tbsCertificate (the signed bytes), a memoryview."""
        return self.der[self._tbs[0] : self._tbs[1]]

    @property
    def serial(self):
        return der.decode_int(self.der, self._serial[0], self._serial[1])

    @property
    def serial_hex(self):
        """The serial as IOS shows it: uppercase hex of the DER content octets."""
        return _hex(self.der[self._serial[0] : self._serial[1]], "")

    def issuer_and_serial(self):
        """DER of IssuerAndSerialNumber (CMS recipients and signers, SCEP GetCert)."""
        s, e = self._serial
        return der.encode_sequence(
            bytes(self.der[self._issuer[0] : self._issuer[1]]),
            der.encode_tlv(_INTEGER, self.der[s:e]),
        )

    @property
    def signature_algorithm_name(self):
        return oid.name(self.signature_algorithm)

    @property
    def signature(self):
        return der.decode_bit_string_bytes(self.der, self._sig[0], self._sig[1])

    @property
    def issuer(self):
        return Name(self.der, self._issuer[0], self._issuer[1])

    @property
    def subject(self):
        return Name(self.der, self._subject[0], self._subject[1])

    def _time(self, index):
        s, e = self._validity
        pos = s
        for _ in range(index + 1):
            t, ts, te = der.read_tlv(self.der, pos, e)
            pos = te
        if index == 1 and pos != e:
            raise DERError("trailing data in Validity at offset %d" % pos)
        return der.decode_time(t, self.der, ts, te)

    @property
    def not_before(self):
        return self._time(0)

    @property
    def not_after(self):
        return self._time(1)

    def valid_at(self, when):
        return self.not_before <= when <= self.not_after

    @property
    def public_key_info(self):
        """SubjectPublicKeyInfo DER (memoryview)."""
        return self.der[self._spki[0] : self._spki[1]]

    @property
    def public_key_algorithm(self):
        s, e = der.expect(self.der, self._spki[0], self._spki[1], _SEQUENCE)
        return parse_algorithm(self.der, s, e)[0]

    def rsa_public_numbers(self):
        """(n, e) of an RSA key; (None, None) for other key types."""
        alg, n, e = parse_rsa_public_key_info(self.der, self._spki[0], self._spki[1])
        return n, e

    @property
    def modulus(self):
        return self.rsa_public_numbers()[0]

    @property
    def exponent(self):
        return self.rsa_public_numbers()[1]

    @property
    def key_bits(self):
        n = self.modulus
        return _bits(n) if n else None

    def public_key(self):
        """The key as an upki.rsa public key."""
        from upki import rsa

        n, e = self.rsa_public_numbers()
        if n is None:
            raise ValueError("not an RSA key: %s" % oid.name(self.public_key_algorithm))
        return rsa.PublicKey(n, e)

    def fingerprint(self, hash_name="sha1"):
        """Fingerprint as IOS prints it: `2DCEC066 FCABB674 BF81BFAF 76CD10FA`."""
        import hashlib

        if hash_name not in ("md5", "sha1", "sha256"):
            raise ValueError("unsupported fingerprint hash %s" % hash_name)
        h = getattr(hashlib, hash_name)()
        h.update(self.der)
        return fingerprint_text(h.digest())

    @property
    def is_self_issued(self):
        return self.issuer == self.subject

    # -- extensions

    def extensions(self):
        """List of (dotted OID, critical, (value_start, value_end)) where the
        span is the content of extnValue; duplicates are a DERError."""
        if self._ext_cache is not None:
            return self._ext_cache
        out = []
        if self._extensions is not None:
            buf = self.der
            seen = []
            for t, s, e in der.children(buf, self._extensions[0], self._extensions[1]):
                if t != _SEQUENCE:
                    raise DERError("expected Extension at offset %d" % s)
                os_, oe = der.expect(buf, s, e, _OID)
                ext_oid = der.decode_oid(buf, os_, oe)
                t2, s2, e2 = der.read_tlv(buf, oe, e)
                critical = False
                if t2 == _BOOLEAN:
                    critical = der.decode_bool(buf, s2, e2)
                    t2, s2, e2 = der.read_tlv(buf, e2, e)
                if t2 != _OCTET_STRING or e2 != e:
                    raise DERError("bad extnValue of %s at offset %d" % (ext_oid, s2))
                if ext_oid in seen:
                    raise DERError("extension %s appears twice" % oid.name(ext_oid))
                seen.append(ext_oid)
                out.append((ext_oid, critical, (s2, e2)))
        self._ext_cache = out
        return out

    def extension(self, ext):
        """(critical, value_start, value_end) of one extension (name or OID), or None."""
        ext = oid.dotted(ext)
        for o, c, span in self.extensions():
            if o == ext:
                return c, span[0], span[1]
        return None

    def _ext_value(self, ext, tag):
        x = self.extension(ext)
        if x is None:
            return None
        t, s, e = der.read_tlv(self.der, x[1], x[2])
        if t != tag or e != x[2]:
            raise DERError("bad %s extension value at offset %d" % (ext, x[1]))
        return s, e

    @property
    def unknown_critical_extensions(self):
        return [o for o, c, span in self.extensions() if c and o not in _UNDERSTOOD]

    @property
    def basic_constraints(self):
        """(ca, path_len) or None when absent; path_len None when unlimited."""
        v = self._ext_value("2.5.29.19", _SEQUENCE)
        if v is None:
            return None
        buf = self.der
        ca = False
        path_len = None
        pos = v[0]
        if pos < v[1]:
            t, s, e = der.read_tlv(buf, pos, v[1])
            if t == _BOOLEAN:
                ca = der.decode_bool(buf, s, e)
                pos = e
        if pos < v[1]:
            s, e = der.expect(buf, pos, v[1], _INTEGER)
            path_len = der.decode_int(buf, s, e)
            if path_len < 0:
                raise DERError("negative pathLenConstraint")
            pos = e
        if pos != v[1]:
            raise DERError("trailing data in basicConstraints at offset %d" % pos)
        return ca, path_len

    @property
    def is_ca(self):
        bc = self.basic_constraints
        return bool(bc and bc[0])

    @property
    def key_usage(self):
        """Set of RFC 5280 key usage names, or None when the extension is absent."""
        v = self._ext_value("2.5.29.15", _BIT_STRING)
        if v is None:
            return None
        out = set()
        for b in der.decode_named_bits(self.der, v[0], v[1]):
            if b < len(KEY_USAGE_NAMES):
                out.add(KEY_USAGE_NAMES[b])
        return out

    @property
    def ios_usage(self):
        """Certificate Usage as IOS shows it, from keyUsage: 'Signature',
        'Encryption' or 'General Purpose' (both, or no keyUsage).  SCEP picks
        the RA's signing and encryption certificates with it."""
        ku = self.key_usage
        if not ku:
            return "General Purpose"
        sign = bool(ku & _SIGN_USAGES)
        encrypt = bool(ku & _ENCRYPT_USAGES)
        if sign and not encrypt:
            return "Signature"
        if encrypt and not sign:
            return "Encryption"
        return "General Purpose"

    @property
    def ext_key_usage(self):
        """List of EKU OIDs (dotted) or None."""
        v = self._ext_value("2.5.29.37", _SEQUENCE)
        if v is None:
            return None
        out = []
        for t, s, e in der.children(self.der, v[0], v[1]):
            if t != _OID:
                raise DERError("expected KeyPurposeId at offset %d" % s)
            out.append(der.decode_oid(self.der, s, e))
        return out

    @property
    def subject_alt_names(self):
        """List of (type, value) or None; see parse_general_names."""
        v = self._ext_value("2.5.29.17", _SEQUENCE)
        if v is None:
            return None
        return parse_general_names(self.der, v[0], v[1])

    @property
    def crl_distribution_points(self):
        """URIs of the fullName of every distribution point, or None when absent."""
        v = self._ext_value("2.5.29.31", _SEQUENCE)
        if v is None:
            return None
        buf = self.der
        out = []
        for t, s, e in der.children(buf, v[0], v[1]):
            if t != _SEQUENCE:
                raise DERError("expected DistributionPoint at offset %d" % s)
            for t2, s2, e2 in der.children(buf, s, e):
                if t2 != 0xA0:  # distributionPoint [0]
                    continue
                t3, s3, e3 = der.read_tlv(buf, s2, e2)
                if t3 == 0xA0:  # fullName [0] GeneralNames
                    for kind, val in parse_general_names(buf, s3, e3):
                        if kind == "URI":
                            out.append(val)
        return out

    @property
    def subject_key_identifier(self):
        v = self._ext_value("2.5.29.14", _OCTET_STRING)
        return None if v is None else bytes(self.der[v[0] : v[1]])

    @property
    def authority_key_identifier(self):
        """The keyIdentifier [0] of authorityKeyIdentifier, or None."""
        v = self._ext_value("2.5.29.35", _SEQUENCE)
        if v is None:
            return None
        for t, s, e in der.children(self.der, v[0], v[1]):
            if t == 0x80:
                return bytes(self.der[s:e])
        return None

    # -- signature

    def signature_error(self, issuer):
        """None when this certificate's signature checks against issuer (a
        Certificate, an upki.rsa public key or (n, e)); else the reason."""
        if self._inner_sig_alg != self.signature_algorithm:
            return "signature algorithm in tbsCertificate differs from the outer one"
        return check_signature(self.signature_algorithm, self.tbs_bytes, self.signature, issuer)

    def verify_signature(self, issuer):
        """True when the signature checks against issuer (see signature_error)."""
        return self.signature_error(issuer) is None

    check_signed_by = signature_error

    def __str__(self):
        return "Certificate serial %s subject %s issuer %s" % (
            self.serial_hex,
            self.subject,
            self.issuer,
        )


def load(data):
    """A Certificate from DER or PEM bytes."""
    if bytes(data[:5]) == b"-----" or b"-----BEGIN" in bytes(data[:64]):
        data = pem_to_der(data)
    return Certificate(data)
