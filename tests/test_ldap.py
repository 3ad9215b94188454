# SPDX-License-Identifier: MIT
"""upki.ldap on the Unix port against a real OpenLDAP slapd (tests/slapd_peer.py)
holding the lab CRLs and CA certificate: byte-for-byte CRL and CA certificate
fetches (judged against the files and ldapsearch), a 1.2 MB CRL streamed into
an NVRAM record and ingested, noSuchObject, a missing attribute, the size cap,
and servers that are not LDAP (silent, garbage) bounded by the timeout."""

import base64
import hashlib
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from mpy import ROOT, run_code

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_crl_fixtures as gen  # noqa: E402
from slapd_peer import Slapd  # noqa: E402

DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    from cryptography import x509

    d = tmp_path_factory.mktemp("slapd")
    int2 = x509.load_der_x509_certificate((DATA / "val_int2.der").read_bytes())
    entries, _serials = gen.big_entries(35_000)
    big = gen.make_crl(int2, gen.load_key("x509_key_1024.der"), None, entry_bytes=entries)
    s = Slapd(d, {
        "cn=val-int2": {"crl": (DATA / "crl_int2.der").read_bytes(),
                        "ca": (DATA / "val_int2.der").read_bytes()},
        "cn=big": {"crl": big},
        "cn=empty": {},
    })
    with s:
        yield s, big


def _fetch(url, extra="", timeout=10):
    return run_code(
        "from upki import ldap\nimport hashlib\nfrom binascii import hexlify\n"
        "try:\n"
        "    v = ldap.fetch(%r, timeout=%s%s)\n"
        "    print('OK', len(v), hexlify(hashlib.sha256(v).digest()).decode())\n"
        "except ldap.LDAPError as e:\n"
        "    print('ERR', e)\n" % (url, timeout, extra),
        timeout=60,
    ).strip()


def test_crl_byte_for_byte(slapd):
    s, _ = slapd
    crl = (DATA / "crl_int2.der").read_bytes()
    assert _fetch(s.url("cn=val-int2")) == "OK %d %s" % (len(crl), hashlib.sha256(crl).hexdigest())
    # OpenLDAP's own client reads the same bytes
    out = s.ldapsearch("cn=val-int2", "certificateRevocationList;binary")
    b64 = out.split("certificateRevocationList;binary:: ")[1].split()[0]
    assert base64.b64decode(b64) == crl


def test_ca_certificate_and_attribute_without_binary(slapd):
    s, _ = slapd
    ca = (DATA / "val_int2.der").read_bytes()
    assert _fetch(s.url("cn=val-int2", "cACertificate;binary")) == "OK %d %s" % (
        len(ca), hashlib.sha256(ca).hexdigest())
    crl = (DATA / "crl_int2.der").read_bytes()
    assert _fetch(s.url("cn=val-int2", "certificateRevocationList")).startswith(
        "OK %d " % len(crl))


def test_no_such_object_and_missing_attribute(slapd):
    s, _ = slapd
    out = _fetch(s.url("cn=nobody"))
    assert out.startswith("ERR LDAP 127.0.0.1:%d: search for cn=nobody,dc=lab,dc=test failed: "
                          "noSuchObject (32)" % s.port), out
    out = _fetch(s.url("cn=empty"))
    assert out == ("ERR LDAP 127.0.0.1:%d: cn=empty,dc=lab,dc=test has no "
                   "certificateRevocationList;binary" % s.port)


def test_size_cap(slapd):
    s, big = slapd
    out = _fetch(s.url("cn=big"))
    assert out == ("ERR LDAP 127.0.0.1:%d: certificateRevocationList;binary of %d bytes exceeds "
                   "the 65536-byte cap" % (s.port, len(big)))


def test_big_crl_streamed_to_nvram_and_ingested(slapd, tmp_path):
    s, big = slapd
    out = run_code(
        "from upki import ldap, crl, x509\nfrom upki.nvram import NVRAM\n"
        "nv = NVRAM(%r)\n"
        "w = nv.writer('crl/fetch')\n"
        "n = ldap.fetch(%r, sink=w, max_size=4 << 20)\n"
        "w.close()\n"
        "f, length = nv.open('crl/fetch')\n"
        "ca = x509.Certificate(open(%r, 'rb').read())\n"
        "info = crl.ingest(nv, 'crl/big', f, length, ca, now=1780272000)\n"
        "f.close()\n"
        "print(n, length, info.count)\n"
        % (str(tmp_path), s.url("cn=big"), str(DATA / "val_int2.der")),
        timeout=120,
    )
    assert out.split() == [str(len(big)), str(len(big)), "35000"]


class _Silent:
    def __init__(self, reply):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            if self.reply:
                c.sendall(self.reply)
            time.sleep(2.5)
            c.close()

    def close(self):
        self.stop = True
        self.t.join(4)
        self.sock.close()


@pytest.mark.parametrize("reply,expect", [
    (b"", "no complete answer within 1 s"),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "not an LDAP message (tag 0x48)"),
    (b"\x30\x84\x00\x00\x00\x07\x02\x01\x01\x61\x02\x0a\x00", "element runs past the end"),
])
def test_not_ldap_servers_bounded(reply, expect):
    srv = _Silent(reply)
    try:
        t = time.monotonic()
        out = _fetch("ldap://127.0.0.1:%d/cn=x?certificateRevocationList" % srv.port, timeout=1)
        took = time.monotonic() - t
    finally:
        srv.close()
    assert out.startswith("ERR LDAP 127.0.0.1:%d: " % srv.port) and expect in out, out
    assert took < 3


def test_urls_and_encoding():
    out = run_code(
        "from upki import ldap\n"
        "print(ldap.parse_url('ldap://127.0.0.1:11389/cn=Lab%20CA,dc=lab,dc=test?'\n"
        "                     'cACertificate;binary'))\n"
        "print(ldap.parse_url('ldap://h/cn=x'))\n"
        "for u in ('http://h/x', 'ldap:///cn=x', 'ldap://h:0/x', 'ldap://h/cn=x?a?sub'):\n"
        "    try:\n        ldap.parse_url(u)\n    except ldap.LDAPError as e:\n        print(e)\n"
        "from binascii import hexlify\nprint(hexlify(ldap.bind_request(1)).decode())\n"
    )
    lines = out.strip().splitlines()
    assert lines[0] == "('127.0.0.1', 11389, 'cn=Lab CA,dc=lab,dc=test', ['cACertificate;binary'])"
    assert lines[1] == "('h', 389, 'cn=x', ['certificateRevocationList;binary'])"
    assert lines[2].startswith("unsupported URL")
    assert lines[3].startswith("no host in URL")
    assert lines[4].startswith("bad port '0'")
    assert lines[5].startswith("only base-object searches")
    # RFC 4511 anonymous bind: SEQUENCE { 1, [APPLICATION 0] { 3, "", [0] "" } }
    assert lines[6] == "300c020101600702010304008000"
