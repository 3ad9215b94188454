# SPDX-License-Identifier: MIT
"""Regenerate the seed corpora in fuzz/corpus/<target>/ from real objects:

    .venv/bin/python fuzz/make_corpus.py

  der, x509   the committed certificates of tests/data (openssl/cryptography
              made), and CSRs the firmware builds (upki.csr on CPython)
  crl, cms    the committed CRLs and CMS messages (openssl, micromdm scepserver)
  rsa         the committed keys (PKCS#1, PKCS#8, SPKI; DER and PEM)
  keys, nvram key records and NVRAM records the firmware writes (upki.keys,
              upki.nvram), and torn copies of them
  sntp        replies captured from chronyd on 127.0.0.1 (tests/chrony_peer.py),
              unauthenticated and under each MAC key
  http        responses captured from `python3 -m http.server` on 127.0.0.1
              (200, 404, 301), and chunked ones as lighttpd/nginx send them
  csr, cli    configuration lines in the IOS grammar of DESIGN.md

Each file's first byte is the target's selector where the target has one
(see the target's docstring). Deterministic except the captured sntp/http.
"""

import hashlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sets sys.path for upki)

sys.path.insert(0, str(common.ROOT / "tests"))

from upki import csr, rsa, sntp  # noqa: E402
from upki.keys import KeyPair, KeyStore  # noqa: E402
from upki.nvram import NVRAM  # noqa: E402

DATA = common.DATA


def put(target, items):
    d = common.CORPUS / target
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for name, blob in items:
        (d / name).write_bytes(blob)
    print("%-6s %3d seeds, %7d bytes" % (target, len(items), sum(len(b) for _, b in items)))


def data(name):
    return (DATA / name).read_bytes()


def firmware_csrs():
    key = rsa.PrivateKey.from_der(data("x509_key_1024.der"))
    out = []
    for i, (fqdn, subj, extra) in enumerate((
        ("r1.example.com", "CN=r1, OU=lab, O=cisco, C=US", {}),
        ("vpn.example.com", 'CN="a, b", O=cisco + OU=x', {"challenge_password": "pw"}),
        ("r2", None, {"challenge_password": "secret"}),
    )):
        out.append(("csr%d.der" % i, csr.ios_request(key, fqdn, subj, **extra)))
    return out


def certs():
    names = sorted(p.name for p in DATA.glob("*.der") if p.name.startswith(("x509_", "val_")))
    names = [n for n in names if "key" not in n] + ["cms_small_cert.der", "cms_fake_leaf.der"]
    return [(n, data(n)) for n in names]


def key_records(root):
    nv = NVRAM(root)
    store = KeyStore(nv)
    out = []
    for label, keyname, usage, exp in (("r1.example.com", "x509_key_1024.der", "general", 0),
                                       ("sig", "x509_key_2048.der", "signature", 1)):
        key = rsa.PrivateKey.from_der(data(keyname))
        store.save(KeyPair(label, key, usage, bool(exp), 1764355227, True))
        raw = (Path(root) / "rsa" / label).read_bytes()
        out.append((label, raw))
    return nv, out


def capture_ntp():
    import chrony_peer

    out = []
    chronyd = shutil.which("chronyd") or "/usr/sbin/chronyd"
    with tempfile.TemporaryDirectory() as d, chrony_peer.running(d, chronyd) as peer:
        keys = [None] + [peer.keys[n] for n in ("sha1", "md5", "aes128cmac", "sha256")]
        for sel, key in enumerate(keys):
            buf = bytearray(sntp.request_size(key))
            sntp.build_request(buf, key)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                s.sendto(buf, ("127.0.0.1", peer.port))
                reply, _ = s.recvfrom(512)
            # 0x80: the target echoes the reply's origin timestamp as ours
            out.append(("chrony_%s.bin" % (key[1] if key else "none"), bytes([0x80 | sel]) + reply))
        # a reply checked with the wrong key, and one without the origin echo
        out.append(("chrony_wrongkey.bin", bytes([0x82]) + out[1][1][1:]))
        out.append(("chrony_stale.bin", bytes([0x00]) + out[0][1][1:]))
    return out


def capture_http():
    d = tempfile.mkdtemp()
    try:
        Path(d, "ca.crl").write_bytes(data("crl_int2.der"))
        Path(d, "pki").mkdir()
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        p = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                              "--directory", d, str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            out = []
            for name, path in (("200", "/ca.crl"), ("404", "/missing.crl"), ("301", "/pki")):
                c = socket.create_connection(("127.0.0.1", port), 5)
                c.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                           % path).encode())
                got = b""
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    got += chunk
                c.close()
                out.append(got)
        finally:
            p.terminate()
            p.wait(5)
    finally:
        shutil.rmtree(d)
    body = data("crl_int2.der")
    chunked = b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n" \
              b"Transfer-Encoding: chunked\r\n\r\n"
    for i in range(0, len(body), 300):
        part = body[i : i + 300]
        chunked += b"%x\r\n" % len(part) + part + b"\r\n"
    chunked += b"0\r\nX-Trailer: 1\r\n\r\n"
    caps = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" \
           b"POSTPKIOperation\nSHA-256\nAES\nRenewal\n"
    # selector: recv size (low 6 bits * 16), 0x80 sink, 0x40 time out at the end
    return [("python_200.bin", b"\x40" + out[0]), ("python_404.bin", b"\x01" + out[1]),
            ("python_301.bin", b"\x02" + out[2]), ("chunked.bin", b"\x81" + chunked),
            ("chunked_1byte.bin", b"\x00" + chunked[:400]), ("caps_eof.bin", b"\x03" + caps),
            ("python_200_hang.bin", b"\xc8" + out[0].split(b"\r\n\r\n")[0] + b"\r\n\r\n")]


def capture_ldap():
    from slapd_peer import Slapd
    from upki import ldap

    out = []
    d = tempfile.mkdtemp()
    try:
        with Slapd(d, {"cn=val-int2": {"crl": data("crl_int2.der"), "ca": data("val_int2.der")},
                       "cn=empty": {}}) as srv:
            for name, rdn, attrs in (("crl", "cn=val-int2", [ldap.CRL_ATTRIBUTE]),
                                     ("ca", "cn=val-int2", [ldap.CA_ATTRIBUTE, "cACertificate"]),
                                     ("noattr", "cn=empty", [ldap.CRL_ATTRIBUTE]),
                                     ("noobject", "cn=none", [ldap.CRL_ATTRIBUTE])):
                c = socket.create_connection(("127.0.0.1", srv.port), 5)
                c.sendall(ldap.bind_request(1))
                got = c.recv(65536)
                c.sendall(ldap.search_request(2, rdn + ",dc=lab,dc=test", attrs))
                c.settimeout(1)
                while b"\x65" not in got[-40:] or len(got) < 20:
                    try:
                        chunk = c.recv(65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    got += chunk
                c.close()
                out.append(("slapd_%s.bin" % name, bytes([0x80 if name == "crl" else 0x02]) + got))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    out.append(("slapd_crl_1byte.bin", b"\x00" + out[0][1][1:]))
    return out


CONFIG_LINES = [
    "conf t\nhostname r1\nip domain-name example.com\ncrypto key generate rsa modulus 1024\n"
    "end\nshow crypto key mypubkey rsa",
    "conf t\ncrypto ca trustpoint lab\n enrollment url http://127.0.0.1:8080/scep\n"
    " enrollment retry period 2\n enrollment retry count 5\n subject-name CN=r1, O=cisco, C=US\n"
    " revocation-check crl\n auto-enroll 70 regenerate\n end\nshow run",
    "conf t\ncrypto ca trustpoint tp2\n crl query http://127.0.0.1/ca.crl\n serial-number\n"
    " ip-address 10.1.2.3\n fqdn r1.example.com\n rsakeypair r1key 2048 1024\n"
    " fingerprint 0123456789ABCDEF0123456789ABCDEF\n usage ike\n password cisco\nexit\n"
    "show crypto ca trustpoints",
    "conf t\nntp server 127.0.0.1 port 12345 key 11\nntp authentication-key 11 sha1 "
    "0102030405060708090a0b0c0d0e0f1011121314\nntp trusted-key 11\nend\nshow clock detail",
    "clock set 12:00:00 1 Jan 2026\nshow clock\nshow crypto ca timers\nshow crypto ca crls",
    "conf t\ncrypto identity lab\n dn CN=peer,O=cisco\n fqdn peer.example.com\nend\nwr mem\n"
    "show startup-config",
    "debug crypto pki transactions\ndebug crypto pki messages\nshow debugging\nundebug all",
    "crypto ca authenticate lab\ncrypto ca enroll lab\ncrypto ca crl request lab\n"
    "show crypto ca certificates",
    "conf t\ncrypto key zeroize rsa\ncrypto key generate rsa usage-keys label k modulus 1024\n"
    "do show crypto key mypubkey rsa\nno crypto ca trustpoint lab",
    "!boot\nhostname b1\nip domain-name lab.example\ncrypto ca trustpoint x\n"
    " enrollment url http://127.0.0.1/x\n revocation-check none\nend",
    "sh ver\nsh flash\nshow running-config\nwrite\ncopy running-config startup-config\nreload",
]

DN_LINES = [
    "CN=r1, OU=lab, O=cisco, C=US\n10.0.0.1",
    'CN="Smith, J", O=cisco\n2001:db8::1',
    "CN=a + serialNumber=1234, O=x\n::1",
    "E=admin@example.com, DC=example, DC=com, L=boulder, ST=colorado\n192.168.1.300",
    "CN=r\\,1, O=Ünïcödé\nfe80::1:2:3:4:5:6",
    "unstructuredName=r1.example.com, 2.5.4.3=x\n1.2.3",
]


def main():
    ders = certs()
    put("der", ders + firmware_csrs() + [(n, data(n)) for n in (
        "crl_int2.der", "cms_signed_sha256.der", "cms_env_aes128.der", "rsa_1024_pkcs8.der")])
    pem = [("leaf.pem", csr.der_to_pem(data("x509_leaf.der"), "CERTIFICATE").encode())]
    put("x509", ders + pem)
    crls = []
    import fuzz_crl

    for p in sorted(DATA.glob("crl_*.der")):
        mode = 0
        for m in (0, 2, 4):  # the issuer whose subject matches (the target's mode >> 1)
            if fuzz_crl._ISSUERS[m >> 1].subject.der() in p.read_bytes():
                mode = m
        crls.append((p.stem + "_real.bin", bytes([mode]) + p.read_bytes()))
        crls.append((p.stem + "_any.bin", b"\x01" + p.read_bytes()))
    put("crl", crls)
    chains = []
    for i, names in enumerate((("val_leaf", "val_int2", "val_int1"), ("val_leaf_revoked", "val_int2",
                               "val_int1"), ("val_leaf2",), ("val_leaf_expired", "val_int2"),
                              ("val_leaf_pathlen", "val_int3_pathlen", "val_int2", "val_int1"),
                              ("val_leaf_critical", "val_int1", "val_int2"), ("val_notca",),
                              ("val_leaf_badsig", "val_int2", "val_int1"))):
        chains.append(("chain%d.bin" % i, bytes([i * 5 % 256])
                       + b"".join(data(n + ".der") for n in names)))
    put("validate", chains)
    cmsc = []
    for p in sorted(DATA.glob("cms_*.der")):
        sel = 1 if "certs_only" in p.name else 2 if "_env_" in p.name else 0
        cmsc.append((p.name, bytes([sel]) + p.read_bytes()))
    put("cms", cmsc)
    put("scep", [("certrep_micromdm.bin", b"\x00" + data("cms_mm_certrep.der")),
                 ("certrep_pkcsreq.bin", b"\x00" + data("cms_mm_pkcsreq.der")),
                 ("cacert_certs_only.bin", b"\x01" + data("cms_certs_only.der")),
                 ("cacert_der.bin", b"\x01" + data("cms_mm_ca.der")),
                 ("cacert_pem.bin", b"\x01" + csr.der_to_pem(data("x509_root.der"),
                                                              "CERTIFICATE").encode()),
                 ("caps_micromdm.bin", b"\x02Renewal\nSHA-1\nSHA-256\nAES\nDES3\n"
                                       b"SCEPStandard\nPOSTPKIOperation"),
                 ("caps_ndes.bin", b"\x02POSTPKIOperation\r\nRenewal\r\nSHA-512\r\n"
                                   b"SHA-256\r\nSHA-1\r\nDES3\r\n")])
    put("rsa", [(p.name, p.read_bytes()) for p in sorted(DATA.glob("rsa_*"))
                if p.suffix in (".der", ".pem")] + [("x509_key_1024.der", data("x509_key_1024.der"))])
    root = tempfile.mkdtemp()
    try:
        nv, keyrecs = key_records(root)
        put("keys", [(label, raw[:-40]) for label, raw in keyrecs]
            + [("v0header", b"upki-key usage=encryption\n" + data("rsa_1024_pkcs1.der"))])
        nv.write("startup-config", "hostname r1\n!\nend\n")
        nv.write("clock-floor", "1764355227\n")
        nv.write("empty", b"")
        recs = [(n, (Path(root) / n).read_bytes()) for n in ("startup-config", "clock-floor",
                                                              "empty")]
        recs += [("key_" + label, raw) for label, raw in keyrecs]
        recs += [("torn_startup", recs[0][1][:-10]), ("torn_key", keyrecs[0][1][:300])]
        put("nvram", recs)
    finally:
        shutil.rmtree(root)
    put("sntp", capture_ntp())
    put("http", capture_http())
    put("ldap", capture_ldap())
    from upki import enroll

    mm = data("cms_mm_pkcsreq.der")
    recs = []
    for i, (mt, kind, post, polls) in enumerate(((19, "enroll", True, 0), (20, "renew", False, 3),
                                                  (17, "renew", True, 12), (19, "cert", True, 0))):
        # the last: stored before its request went out (unconfirmed), as enroll.request does
        t = enroll.Transaction(message_type=mt, tid="A1B2C3D4" * 8, nonce=bytes(range(16)),
                               key_label="r1.example.com", hash_name="sha256",
                               cipher="aes128-cbc", post=post, polls=polls, started=1764355227,
                               kind=kind, signer=data("cms_small_cert.der"),
                               subject=bytes.fromhex("3011310f300d06035504030c0672312e6c6162"),
                               request=mm[:200], unconfirmed=1 if i == 3 else None)
        recs.append(("pending%d" % i, t.to_record()))
    put("pending", recs)
    put("csr", [("dn%d.txt" % i, t.encode()) for i, t in enumerate(DN_LINES)])
    put("cli", [("cfg%02d.txt" % i, t.encode()) for i, t in enumerate(CONFIG_LINES)])
    total = hashlib.sha256()
    for p in sorted(common.CORPUS.rglob("*")):
        if p.is_file():
            total.update(p.read_bytes())
    print("corpus sha256", total.hexdigest()[:16])


if __name__ == "__main__":
    main()
