# SPDX-License-Identifier: MIT
# Peer identities, as IOS selects a policy by the peer's certificate:
#
#   crypto identity NAME                 (IOS 12.2T)
#    dn ou=green,o=cisco                 every listed attribute must be in the subject;
#                                        several `dn` lines: any one of them
#    fqdn r1.lab.test                    a subjectAltName dNSName (or, without
#                                        one, the subject's CN) equal to NAME
#
#   crypto pki certificate map LABEL SEQ (IOS 12.3+)
#    subject-name co cisco               field: subject-name | issuer-name
#    issuer-name eq cn=lab root          op: eq (equal), ne, co (contains), nc (not contains)
#
# A certificate map matches when every rule of one of its sequence numbers
# holds.  Comparisons ignore case and the spaces around '=' and ','.  Names
# are compared in IOS order (most specific first) as `cn=r1,ou=vpn,o=cisco`.
from upki.errors import ConfigError

_identities = {}  # name -> Identity
_maps = {}  # label -> {seq: CertificateMap}

OPS = ("eq", "ne", "co", "nc")
FIELDS = ("subject-name", "issuer-name")


def _norm(text):
    """Lower case; no spaces around '=', ',' and '+'; runs of spaces folded."""
    t = " ".join(text.lower().split())
    for sep in ("=", ",", "+"):
        t = sep.join([p.strip() for p in t.split(sep)])
    return t


def name_text(name):
    """An x509.Name as the normalized IOS-order string matched against."""
    from upki import oid

    parts = []
    rdns = name.rdns()
    for i in range(len(rdns) - 1, -1, -1):
        parts.append("+".join([oid.name(o).lower() + "=" + v for o, v in rdns[i]]))
    return _norm(",".join(parts))


def parse_dn(text):
    """`ou=green,o=cisco` -> [(dotted OID, normalized value)]; ConfigError when malformed."""
    from upki import oid

    out = []
    for part in text.split(","):
        if "=" not in part:
            raise ConfigError("%r is not ATTRIBUTE=VALUE" % part.strip())
        attr, value = part.split("=", 1)
        attr = attr.strip()
        try:
            dotted = oid.dotted(attr)
        except ValueError:
            raise ConfigError("unknown attribute %r in DN" % attr)
        out.append((dotted, _norm(value)))
    return out


class Identity:
    def __init__(self, name):
        self.name = name
        self.dns = []  # list of (text, [(oid, value)])
        self.fqdns = []

    def add_dn(self, text):
        self.dns.append((text, parse_dn(text)))

    def add_fqdn(self, name):
        self.fqdns.append(name.lower().rstrip("."))

    def matches(self, cert):
        """The matching line (`dn ...` / `fqdn ...`), or None."""
        attrs = [(o, _norm(v)) for o, v in cert.subject.attributes()]
        for text, wanted in self.dns:
            if all(w in attrs for w in wanted):
                return "dn " + text
        if self.fqdns:
            names = []
            try:
                san = cert.subject_alt_names
            except Exception:
                san = None
            if san:
                names = [v.lower().rstrip(".") for k, v in san if k == "DNS"]
            else:
                names = [v.lower().rstrip(".") for v in cert.subject.get("CN")]
            for f in self.fqdns:
                if f in names:
                    return "fqdn " + f
        return None

    def lines(self):
        return ["crypto identity " + self.name] + [" dn " + t for t, _ in self.dns] + [
            " fqdn " + f for f in self.fqdns]


class CertificateMap:
    def __init__(self, label, seq):
        self.label = label
        self.seq = seq
        self.rules = []  # (field, op, value as typed)

    def add_rule(self, field, op, value):
        if field not in FIELDS:
            raise ConfigError("unknown certificate map field %r" % field)
        if op not in OPS:
            raise ConfigError("unknown certificate map operator %r (eq, ne, co, nc)" % op)
        self.rules.append((field, op, value))

    def matches(self, cert):
        for field, op, value in self.rules:
            have = name_text(cert.subject if field == "subject-name" else cert.issuer)
            want = _norm(value)
            if op == "eq":
                ok = have == want
            elif op == "ne":
                ok = have != want
            elif op == "co":
                ok = want in have
            else:
                ok = want not in have
            if not ok:
                return False
        return True

    def lines(self):
        return ["crypto pki certificate map %s %d" % (self.label, self.seq)] + [
            " %s %s %s" % r for r in self.rules]


# ---------------------------------------------------------------- registry


def identity(name, create=False):
    if create and name not in _identities:
        _identities[name] = Identity(name)
    return _identities.get(name)


def remove_identity(name):
    return _identities.pop(name, None) is not None


def certificate_map(label, seq, create=False):
    seqs = _maps.setdefault(label, {}) if create else _maps.get(label, {})
    if create and seq not in seqs:
        seqs[seq] = CertificateMap(label, seq)
    return seqs.get(seq)


def remove_map(label, seq=None):
    if seq is None:
        return _maps.pop(label, None) is not None
    seqs = _maps.get(label, {})
    found = seqs.pop(seq, None) is not None
    if not seqs:
        _maps.pop(label, None)
    return found


def clear():
    _identities.clear()
    _maps.clear()


def all_lines():
    out = []
    for name in sorted(_identities):
        out += _identities[name].lines()
        out.append("!")
    for label in sorted(_maps):
        for seq in sorted(_maps[label]):
            out += _maps[label][seq].lines()
            out.append("!")
    return out


def match(cert, name):
    """(matched, how): how names the matching `crypto identity` line or
    certificate map sequence; (False, why) otherwise.  name: an identity or a
    certificate map label."""
    ident = _identities.get(name)
    if ident is not None:
        how = ident.matches(cert)
        if how:
            return True, "identity %s (%s)" % (name, how)
        return False, "the certificate matches no line of crypto identity %s" % name
    seqs = _maps.get(name)
    if seqs:
        for seq in sorted(seqs):
            if seqs[seq].matches(cert):
                return True, "certificate map %s %d" % (name, seq)
        return False, "the certificate matches no sequence of certificate map %s" % name
    return False, "no crypto identity or certificate map named %s" % name
