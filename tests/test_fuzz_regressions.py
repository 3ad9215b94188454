# SPDX-License-Identifier: MIT
"""Every input the fuzzers (fuzz/, `make fuzz`) found that broke a parser's
contract, replayed on the MicroPython Unix port (the board), asserting the
clean error (or the clean result) that the fix gives.

Findings:
  1. http: a header line or reason phrase that is not UTF-8 escaped from
     http.request as UnicodeError (fuzz_http). Now decoded byte for byte.
  2. keys: a key record whose header line is not UTF-8, or whose
     `generated=` is not a number, escaped KeyStore.load as UnicodeError /
     ValueError (fuzz_keys); so did a PKCS#8 key with an even public exponent
     (ValueError from rsa.PublicKey). Now NVRAMError naming the record.
  3. rsa: a public key with a huge exponent (or modulus) made one signature
     check cost seconds to minutes (4096-bit e: 4.7 s per verify on the port;
     16384-bit: minutes), a hang reachable from any certificate or CertRep
     signer a peer sends. Now refused: e at most 64 bits, n at most 16384 bits.
  4. ldap: an attribute type or diagnosticMessage that is not UTF-8 escaped
     ldap.fetch as UnicodeError (fuzz_ldap). Now decoded as http does.
  5. http (bounds test): without a sink, every received chunk was kept as its
     own bytes object: 3,000 one-byte chunks ran a 48 KB heap out of memory.
     Now one buffer, sized from Content-Length or doubled up to the cap.
  6. ldap (bounds test): the same in ldap.fetch, a value arriving one byte per
     read; its regression test is tests/test_deadlines.py (48 KB heap).
  7. pending: a pending-transaction record that is not ASCII, holds odd-length
     hex or a count that is not a number escaped Transaction.from_record as
     UnicodeError / ValueError (fuzz_pending); a record without `started` was
     re-saved as `started=None`. Now SCEPError, and absent fields left out.
(docs/SECURITY.md, T6, has the same table; docs/FUZZING.md how to fuzz.)
"""

import time

from mpy import run_json, run_micropython
from test_http import Misbehaving


def test_http_header_and_reason_that_are_not_utf8():
    def handler(conn, srv):
        # split across writes, as the fuzzer's 1-byte reads did
        for part in (b"HTTP/1.1 200 Ok\xff\xfe\r\n", b"Server: caf\xe9\r\nX-\xff: \x80\r\n",
                     b"Content-Length: 2\r\n\r\nok"):
            conn.sendall(part)
            time.sleep(0.01)

    srv = Misbehaving(handler)
    try:
        out = run_json(
            "import json\nfrom upki import http\n"
            "r = http.request('GET', 'http://127.0.0.1:%d/', timeout=5)\n"
            "print(json.dumps([r.status, r.reason, r.headers.get('server'), r.headers.get('x-\\xff'),"
            " r.body.decode()]))" % srv.port, timeout=60)
    finally:
        srv.close()
    assert out == [200, "Ok\xff\xfe", "caf\xe9", "\x80", "ok"]


KEYS_CODE = r"""
import json, os
from upki.errors import NVRAMError
from upki.keys import KeyStore
from upki.nvram import NVRAM
root = %(root)r
try:
    os.mkdir(root)
except OSError:
    pass
nv = NVRAM(root)
store = KeyStore(nv)
der = open(%(data)r + '/rsa_1024_pkcs8.der', 'rb').read()
good = b'upki-key usage=general exportable=0 generated=1764355227 trusted=1\n' + der
cases = {
    'not_utf8': b'upki-key usage=gen\x82ral exportable=0\n' + der,
    'bad_time': b'upki-key usage=general generated=17643x5227\n' + der,
    'even_e': good.replace(b'\x02\x03\x01\x00\x01', b'\x02\x03\x01\x00\x02'),
    'good': good,
}
out = {}
for name in cases:
    nv.write('rsa/' + name, cases[name])
    try:
        pair = store.load(name)
        out[name] = ['ok', pair.usage, pair.generated, pair.key.bits]
    except NVRAMError as e:
        out[name] = ['NVRAMError', str(e)]
    except Exception as e:
        out[name] = ['ESCAPED', type(e).__name__, str(e)]
print(json.dumps(out))
"""


def test_key_records_with_bad_headers_or_numbers(tmp_path):
    from mpy import ROOT

    out = run_json(KEYS_CODE % {"root": str(tmp_path / "nv"), "data": str(ROOT / "tests" / "data")},
                   timeout=120)
    assert out["good"] == ["ok", "general", 1764355227, 1024]
    assert out["not_utf8"] == ["NVRAMError", "NVRAM record rsa/not_utf8: bad key record header"]
    assert out["bad_time"] == ["NVRAMError", "NVRAM record rsa/bad_time: bad key record header"]
    assert out["even_e"][0] == "NVRAMError"
    assert out["even_e"][1].startswith("NVRAM record rsa/even_e: key does not decode (")


BIGKEY_CODE = r"""
import json, os, time
from upki import der, rsa, x509
def spki(n, e):
    rsapub = der.encode_sequence(der.encode_int(n), der.encode_int(e))
    alg = der.encode_sequence(der.encode_oid('1.2.840.113549.1.1.1'), der.encode_null())
    return der.encode_sequence(alg, der.encode_bit_string(rsapub))
out = {}
for name, nbits, ebits in (('e4096', 4096, 4095), ('e65', 2048, 65), ('n16392', 16392, 17),
                           ('e64', 2048, 64), ('n16384', 16384, 17)):
    n = int.from_bytes(os.urandom(nbits // 8), 'big') | 1 | (1 << (nbits - 1))
    e = (1 << (ebits - 1)) | 1
    t = time.ticks_ms()
    try:
        k = rsa.PublicKey.from_der(spki(n, e))
        res = ['ok', k.bits]
    except ValueError as ex:
        res = ['ValueError', str(ex)]
    # the same key as an issuer: a reason, never an exception, and quickly
    why = x509.check_signature('1.2.840.113549.1.1.11', b'tbs', b'\x01' * (nbits // 8), (n, e))
    res += [why, time.ticks_diff(time.ticks_ms(), t)]
    out[name] = res
print(json.dumps(out))
"""


def test_huge_rsa_exponent_or_modulus_refused_quickly():
    out = run_json(BIGKEY_CODE, timeout=120)
    assert out["e4096"][:2] == ["ValueError", "RSA public exponent of more than 64 bits"]
    assert out["e65"][:2] == ["ValueError", "RSA public exponent of more than 64 bits"]
    assert out["n16392"][:2] == ["ValueError", "RSA modulus of 16392 bits (at most 16384)"]
    assert out["e64"][:2] == ["ok", 2048]
    assert out["n16384"][:2] == ["ok", 16384]
    for name in out:
        why, ms = out[name][2], out[name][3]
        assert isinstance(why, str) and why, name
        assert ms < 1500, "%s: %d ms" % (name, ms)  # before: 4.7 s for e4096 on this port
    assert out["e4096"][2].startswith("bad signature: RSA public exponent")


def _tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    return bytes([tag, 0x82, n >> 8, n & 0xFF]) + body


def _ldap_server(answers):
    """A one-connection LDAP stand-in on 127.0.0.1: each request read gets the
    next canned answer."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)

    def serve():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        conn.settimeout(5)
        try:
            for a in answers:
                conn.recv(4096)
                conn.sendall(a)
            conn.recv(4096)
        except OSError:
            pass
        finally:
            conn.close()
            srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


def test_ldap_attribute_type_and_diagnostic_that_are_not_utf8():
    # finding 4 (fuzz_ldap): fetch() let UnicodeError escape on an attribute
    # type or a diagnosticMessage that is not UTF-8
    bind = _tlv(0x30, b"\x02\x01\x01" + _tlv(0x61, b"\x0a\x01\x00\x04\x00\x04\x00"))
    attr = _tlv(0x30, _tlv(0x04, b"certificate\x82List;binary") + _tlv(0x31, _tlv(0x04, b"x")))
    entry = _tlv(0x30, b"\x02\x01\x02" + _tlv(0x64, _tlv(0x04, b"cn=a") + _tlv(0x30, attr)))
    done_ok = _tlv(0x30, b"\x02\x01\x02" + _tlv(0x65, b"\x0a\x01\x00\x04\x00\x04\x00"))
    done_bad = _tlv(0x30, b"\x02\x01\x02" + _tlv(0x65, b"\x0a\x01\x20\x04\x00"
                                                    + _tlv(0x04, b"n\xff")))
    out = []
    for answers in ([bind, entry + done_ok], [bind, done_bad]):
        port = _ldap_server(answers)
        out.append(run_json(
            "import json\nfrom upki import ldap\n"
            "try:\n"
            "    r = ['OK', len(ldap.fetch('ldap://127.0.0.1:%d/cn%%3Da?certificateRevocationList;"
            "binary', timeout=5))]\n"
            "except ldap.LDAPError as e:\n"
            "    r = ['LDAPError', str(e)]\n"
            "print(json.dumps(r))" % port, timeout=60))
    assert out[0][0] == "LDAPError"
    assert out[0][1].endswith(": cn=a has no certificateRevocationList;binary")
    assert out[1][0] == "LDAPError"
    assert out[1][1].endswith("failed: noSuchObject (32): n\xff")


def test_http_one_byte_chunks_cost_the_body_not_thirty_times_it(tmp_path):
    # finding 5 (tests/test_fuzz_bounds.py): without a sink, every chunk was
    # kept as its own bytes object; 3,000 one-byte chunks (a 3 KB body, far
    # under the cap) ran a 48 KB heap out of memory (MemoryError escaped
    # request()). Now one buffer: 5,000 fit.
    from host_tools.upki_host.mpybuild import build

    build(tmp_path, keep_going=True)
    body = b"".join(b"1\r\n%c\r\n" % (65 + i % 26) for i in range(5000))

    def handler(conn, srv):
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
                     + b"0\r\n\r\n")

    srv = Misbehaving(handler)
    try:
        code = (
            "import gc\nfrom upki import http\nassert http.__file__.endswith('.mpy')\n"
            "gc.collect()\n"
            "r = http.request('GET', 'http://127.0.0.1:%d/', max_size=16384, timeout=10)\n"
            "print(r.length, len(r.body), r.body[:3].decode(), r.body[-2:].decode())\n" % srv.port)
        r = run_micropython(["-c", code], heap="48k", timeout=60,
                            env={"MICROPYPATH": "%s:.frozen" % tmp_path})
    finally:
        srv.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["5000", "5000", "ABC", "GH"]


PENDING_CODE = r"""
import json
from upki import enroll
from upki.errors import SCEPError
good = enroll.Transaction(message_type=19, tid='A1B2', nonce=b'\x00\x01', key_label='r1',
                          hash_name='sha256', cipher='aes128-cbc', post=True, polls=2,
                          started=None, kind='enroll', signer=b'\x30\x00', subject=b'\x30\x00',
                          request=b'\x30\x00').to_record()
cases = {
    'not_ascii': good.replace(b'kind=enroll', b'kind=\xffnroll'),
    'odd_hex': good.replace(b'nonce=0001', b'nonce=001'),
    'bad_count': good.replace(b'polls=2', b'polls=two'),
    'good': good,
}
out = {}
for name in cases:
    try:
        t = enroll.Transaction.from_record(cases[name])
        again = enroll.Transaction.from_record(t.to_record())
        out[name] = ['ok', again.started, again.polls, again.kind]
    except SCEPError as e:
        out[name] = ['SCEPError', str(e)]
    except Exception as e:
        out[name] = ['ESCAPED', type(e).__name__, str(e)]
print(json.dumps(out))
"""


def test_pending_transaction_records_that_do_not_read():
    # finding 6 (fuzz_pending): a pending-transaction record that is not
    # ASCII, holds odd-length hex or a count that is not a number let
    # UnicodeError/ValueError escape Transaction.from_record; and a record
    # without `started` was re-saved as "started=None", which no longer read.
    out = run_json(PENDING_CODE, timeout=60)
    assert out["good"] == ["ok", None, 2, "enroll"]
    for name in ("not_ascii", "odd_hex", "bad_count"):
        assert out[name] == ["SCEPError", "the pending SCEP transaction record is not readable"]
