# SPDX-License-Identifier: MIT
# LDAPv3 (RFC 4511), only what a router needs to fetch a CRL or a CA
# certificate: an anonymous simple bind, one base-object search for an
# attribute, unbind.  The URL form is RFC 4516's:
#
#   ldap://host[:port]/DN[?attribute[,attribute]]      (DN percent-encoded)
#
#   value = ldap.fetch("ldap://127.0.0.1:11389/cn=Lab%20CA,dc=lab,dc=test?"
#                      "certificateRevocationList;binary", timeout=10,
#                      max_size=65536, sink=None)
#
# Servers answer in BER (OpenLDAP always uses 4-byte long-form lengths), so
# this module reads lengths leniently; every read is bounded by the message
# length, the size cap and the overall deadline, and the whole answer (what
# is skipped too) by max_size + 64 KB.  With a sink, the attribute
# value is handed over in chunks and never held whole.
from micropython import const

from upki.errors import PKIError

CRL_ATTRIBUTE = "certificateRevocationList;binary"
CA_ATTRIBUTE = "cACertificate;binary"
_MAX_SMALL = const(4096)  # the largest element held whole (DNs, messages)
_RESULT_NAMES = {0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
                 4: "sizeLimitExceeded", 7: "authMethodNotSupported", 8: "strongerAuthRequired",
                 32: "noSuchObject", 34: "invalidDNSyntax", 48: "inappropriateAuthentication",
                 49: "invalidCredentials", 50: "insufficientAccessRights", 51: "busy",
                 52: "unavailable", 53: "unwillingToPerform", 80: "other"}


class LDAPError(PKIError):
    pass


def parse_url(url):
    """ldap://host[:port]/DN[?attrs[?scope[?filter]]] -> (host, port, dn, [attributes])."""
    from upki import http

    if not url.lower().startswith("ldap://"):
        raise LDAPError("unsupported URL %r (only ldap:// is spoken here)" % url)
    rest = url[7:]
    i = rest.find("/")
    hostport, tail = (rest, "") if i < 0 else (rest[:i], rest[i + 1 :])
    port = 389
    host = hostport
    if hostport.startswith("["):
        k = hostport.find("]")
        host = hostport[1:k]
        if hostport[k + 1 : k + 2] == ":":
            port = _port(hostport[k + 2 :], url)
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = _port(p, url)
    if not host:
        raise LDAPError("no host in URL %r (a router has no default LDAP server)" % url)
    parts = tail.split("?")
    dn = http.unquote(parts[0])
    attrs = [CRL_ATTRIBUTE]
    if len(parts) > 1 and parts[1]:
        attrs = [http.unquote(a) for a in parts[1].split(",")]
    if len(parts) > 2 and parts[2] not in ("", "base"):
        raise LDAPError("only base-object searches are supported (URL scope %r)" % parts[2])
    return host, port, dn, attrs


def _port(text, url):
    try:
        p = int(text)
    except ValueError:
        p = -1
    if not 0 < p < 65536:
        raise LDAPError("bad port %r in URL %r" % (text, url))
    return p


# ---------------------------------------------------------------- BER out


def _len(n):
    if n < 0x80:
        return bytes((n,))
    out = []
    while n:
        out.append(n & 0xFF)
        n >>= 8
    out.reverse()
    return bytes((0x80 | len(out),)) + bytes(out)


def _tlv(tag, body):
    return bytes((tag,)) + _len(len(body)) + body


def _int(tag, v):
    return _tlv(tag, bytes((v,)) if v < 0x80 else bytes((0, v)) if v < 0x100 else
                v.to_bytes(4, "big"))


def bind_request(msg_id):
    """An anonymous simple bind (version 3, empty name and password)."""
    op = _tlv(0x60, _int(0x02, 3) + _tlv(0x04, b"") + _tlv(0x80, b""))
    return _tlv(0x30, _int(0x02, msg_id) + op)


def search_request(msg_id, dn, attrs, time_limit=10):
    """A base-object search of dn for attrs, filter (objectClass=*)."""
    body = _tlv(0x04, dn.encode())
    body += _tlv(0x0A, b"\x00")  # scope baseObject
    body += _tlv(0x0A, b"\x00")  # derefAliases neverDerefAliases
    body += _int(0x02, 1)  # sizeLimit: one entry
    body += _int(0x02, min(time_limit, 255))
    body += _tlv(0x01, b"\x00")  # typesOnly FALSE
    body += _tlv(0x87, b"objectClass")  # present filter
    body += _tlv(0x30, b"".join([_tlv(0x04, a.encode()) for a in attrs]))
    return _tlv(0x30, _int(0x02, msg_id) + _tlv(0x63, body))


def unbind_request(msg_id):
    return _tlv(0x30, _int(0x02, msg_id) + b"\x42\x00")


# ---------------------------------------------------------------- BER in


class _Reader:
    def __init__(self, conn, budget):
        self.c = conn
        self.left = None  # bytes left in the current message (bounds every read)
        self.cap = self.budget = budget  # bytes the whole answer may take, skipped ones too

    def _take(self, n):
        if self.left is not None:
            if n > self.left:
                raise LDAPError("LDAP %s: element runs past the end of its message" % self.c.where)
            self.left -= n
        self.budget -= n
        if self.budget < 0:
            raise LDAPError("LDAP %s: answer longer than %d bytes" % (self.c.where, self.cap))

    def exact(self, n, what):
        self._take(n)
        parts = []
        got = 0
        while got < n:
            mv = self.c.read_some(n - got)
            if not len(mv):
                raise LDAPError("LDAP %s: connection closed inside the %s" % (self.c.where, what))
            parts.append(bytes(mv))
            got += len(mv)
        return b"".join(parts)

    def header(self, what):
        """(tag, length) of the next element (BER definite lengths, any form)."""
        b = self.exact(2, what)
        tag, first = b[0], b[1]
        if first < 0x80:
            return tag, first
        nb = first & 0x7F
        if nb == 0:
            raise LDAPError("LDAP %s: indefinite length in the %s" % (self.c.where, what))
        if nb > 4:
            raise LDAPError("LDAP %s: %d-byte length in the %s" % (self.c.where, nb, what))
        n = int.from_bytes(self.exact(nb, what), "big")
        return tag, n

    def element(self, what, expect=None):
        tag, n = self.header(what)
        if expect is not None and tag != expect:
            raise LDAPError("LDAP %s: expected tag 0x%02x in the %s, got 0x%02x" % (
                self.c.where, expect, what, tag))
        if n > _MAX_SMALL:
            raise LDAPError("LDAP %s: %s of %d bytes is too long" % (self.c.where, what, n))
        return tag, self.exact(n, what)

    def pipe(self, n, put, what):
        self._take(n)
        while n:
            mv = self.c.read_some(min(n, 1024))
            if not len(mv):
                raise LDAPError("LDAP %s: connection closed inside the %s" % (self.c.where, what))
            n -= len(mv)
            if put is not None:
                put(mv)

    def message(self, msg_id):
        """Start the next LDAPMessage: return (protocolOp tag, its length)."""
        self.left = None
        tag, n = self.header("LDAPMessage")
        if tag != 0x30:
            raise LDAPError("LDAP %s: not an LDAP message (tag 0x%02x)" % (self.c.where, tag))
        self.left = n
        t, mid = self.element("messageID", 0x02)
        if int.from_bytes(mid, "big") != msg_id:
            raise LDAPError("LDAP %s: answer to message %d, expected %d" % (
                self.c.where, int.from_bytes(mid, "big"), msg_id))
        return self.header("protocolOp")

    def result(self, what):
        """Read an LDAPResult's resultCode and diagnosticMessage; skip the rest."""
        t, code = self.element("resultCode", 0x0A)
        self.element("matchedDN", 0x04)
        t, diag = self.element("diagnosticMessage", 0x04)
        self.pipe(self.left, None, what)  # referral, controls
        return int.from_bytes(code, "big") if code else 0, _text(diag)


def _text(b):
    # LDAPString is UTF-8; a server that sends other bytes gets them shown one
    # for one rather than a UnicodeError escaping fetch()
    try:
        return b.decode()
    except UnicodeError:
        return "".join([chr(x) for x in b])


def _result_text(code, diag):
    name = _RESULT_NAMES.get(code, "result %d" % code)
    return "%s (%d)%s" % (name, code, (": " + diag) if diag else "")


def _attr_matches(name, wanted):
    n = name.lower()
    for w in wanted:
        w = w.lower()
        if n == w or n.split(";")[0] == w.split(";")[0]:
            return True
    return False


def fetch(url, timeout=10, max_size=65536, sink=None, log=None):
    """The first value of the URL's attribute in the entry it names (bytes-like),
    or (with sink, a callable or object with write() taking memoryview
    chunks) the value's length.  Raises LDAPError naming host:port and what
    went wrong."""
    from upki import http

    host, port, dn, attrs = parse_url(url)
    if log:
        log("LDAP search %s:%d base %s attribute %s" % (host, port, dn, ",".join(attrs)))
    c = http._Conn(host, port, timeout, "LDAP", LDAPError)
    try:
        c.send(bind_request(1))
        r = _Reader(c, max_size + 65536)
        tag, n = r.message(1)
        if tag != 0x61:
            raise LDAPError("LDAP %s: expected a BindResponse, got tag 0x%02x" % (c.where, tag))
        code, diag = r.result("BindResponse")
        if code:
            raise LDAPError("LDAP %s: anonymous bind refused: %s" % (c.where, _result_text(code,
                                                                                          diag)))
        c.send(search_request(2, dn, attrs, int(timeout) or 1))
        found = None
        put = None
        if sink is not None:
            put = sink.write if hasattr(sink, "write") else sink
        for _ in range(64):  # messages: entries, references, done
            tag, n = r.message(2)
            if tag == 0x64:  # SearchResultEntry
                r.element("objectName", 0x04)
                t, alen = r.header("attributes")
                end_left = r.left - alen
                while r.left > end_left:
                    r.header("PartialAttribute")
                    t, name = r.element("attribute type", 0x04)
                    t, slen = r.header("attribute values")
                    vals_end = r.left - slen
                    while r.left > vals_end:
                        t, vlen = r.header("attribute value")
                        if found is None and _attr_matches(_text(name), attrs):
                            if vlen > max_size:
                                raise LDAPError("LDAP %s: %s of %d bytes exceeds the %d-byte cap"
                                                % (c.where, _text(name), vlen, max_size))
                            # one buffer of the value's size, not a bytes object per read
                            col = None if put else http._Collect(vlen, vlen)
                            r.pipe(vlen, put or col.write, "attribute value")
                            found = col.body() if col else vlen
                        else:
                            r.pipe(vlen, None, "attribute value")
                r.pipe(r.left, None, "SearchResultEntry")
            elif tag == 0x73:  # SearchResultReference: not followed
                r.pipe(n, None, "SearchResultReference")
            elif tag == 0x65:  # SearchResultDone
                code, diag = r.result("SearchResultDone")
                if code:
                    raise LDAPError("LDAP %s: search for %s failed: %s" % (
                        c.where, dn, _result_text(code, diag)))
                break
            else:
                raise LDAPError("LDAP %s: unexpected answer (tag 0x%02x)" % (c.where, tag))
        else:
            raise LDAPError("LDAP %s: too many answers to one search" % c.where)
        try:
            c.send(unbind_request(3))
        except LDAPError:
            pass
    finally:
        c.close()
    if found is None:
        raise LDAPError("LDAP %s: %s has no %s" % (c.where, dn, " or ".join(attrs)))
    return found
