# SPDX-License-Identifier: MIT
"""Peer validation on the simulated board, as an operator drives it: a
trustpoint for the val-int2 CA (fixtures of tests/gen_crl_fixtures.py), its
CRL fetched over HTTP (python -m http.server) or LDAP (a real slapd), cached
in NVRAM and shown by `show crypto ca crls`, the revocation modes, identities
and certificate maps, the untrusted clock, and time from the lab NTP server
(upki-host timeserver) deciding expiry; chains read from flash with
`crypto ca verify`."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host_tools.upki_host.nvimage import Image
from mpy import ROOT, board

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slapd_peer import Slapd  # noqa: E402

DATA = ROOT / "tests" / "data"
CLOCK = "clock set 00:00:00 1 Jun 2026"


def _der(name):
    return (DATA / name).read_bytes()


def _pem(*names):
    import base64

    return "".join(
        "-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n"
        % base64.encodebytes(_der("val_%s.der" % n)).decode()
        for n in names
    ).encode()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture(scope="module")
def cdp(tmp_path_factory):
    d = tmp_path_factory.mktemp("cdp")
    (d / "int2.crl").write_bytes(_der("crl_int2.der"))
    (d / "int2-badsig.crl").write_bytes(_der("crl_int2_badsig.der"))
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pem = x509.load_der_x509_crl(_der("crl_int2.der")).public_bytes(serialization.Encoding.PEM)
    (d / "int2.pem").write_bytes(b"junk before the block\n" + pem)
    (d / "int2-broken.pem").write_bytes(pem[:300])
    port = _free_port()
    p = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(d),
         str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield "http://127.0.0.1:%d" % port, d
    p.terminate()
    p.wait(5)


def _image(tmp_path):
    img = Image()
    img.put_file("good.pem", _pem("leaf"))
    img.put_file("revoked.pem", _pem("leaf_revoked"))
    img.put_file("expired.pem", _pem("leaf_expired"))
    img.put_file("good.der", _der("val_leaf.der"))
    path = tmp_path / "b.img"
    img.save(path)
    return path


def _trustpoint(crl_lines):
    from binascii import hexlify

    h = hexlify(_der("val_int2.der")).decode().upper()
    hexlines = ["  " + h[i : i + 64] for i in range(0, len(h), 64)]
    return (["configure terminal", "crypto ca trustpoint lab"] + crl_lines + [" exit",
            "crypto ca certificate chain lab", " certificate ca 12"] + hexlines
            + ["  quit", " exit", "end"])


def run(image, lines):
    r = board(image, "\n".join(lines) + "\n", timeout=120)
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "Internal error" not in out, out
    return r.stdout


def _after(out, cmd):
    """The console output of one command (up to the next prompt)."""
    i = out.index("#" + cmd + "\n") + len(cmd) + 2
    j = out.find("Router", i)
    return out[i : j if j >= 0 else None]


def test_http_crl_good_revoked_and_show(tmp_path, cdp):
    cdp = cdp[0]
    img = _image(tmp_path)
    out = run(img, [CLOCK] + _trustpoint([" crl query %s/int2.crl" % cdp]) + [
        "debug crypto pki transactions",
        "crypto ca verify lab good.pem",
        "crypto ca verify lab revoked.pem",
        "crypto ca verify lab expired.pem",
        "crypto ca verify lab good.der",
        "show crypto ca crls",
        "show crypto ca timers",
    ])
    good = _after(out, "crypto ca verify lab good.pem")
    assert "Certificate chain is valid (trustpoint lab, 2 certificates in the path)" in good
    getting = "CRYPTO_PKI: Getting CRL of CN = val-int2, O = upki lab, C = US from %s/int2.crl"
    assert getting % cdp in out
    assert "CRYPTO_PKI: CRL received from %s/int2.crl: 2 entries" % cdp in out
    revoked = _after(out, "crypto ca verify lab revoked.pem")
    assert "% Certificate chain is not valid: revoked" in revoked
    assert "was revoked on 03:04:05 UTC Apr 2 2026, reason keyCompromise" in revoked
    assert "not valid: expired" in _after(out, "crypto ca verify lab expired.pem")
    assert "Certificate chain is valid" in _after(out, "crypto ca verify lab good.der")
    # fetched once, then served from the NVRAM cache
    assert out.count("Getting CRL of") == 1
    crls = _after(out, "show crypto ca crls")
    assert crls.splitlines()[:7] == [
        "CRL Issuer Name:",
        "    CN = val-int2, O = upki lab, C = US",
        "    LastUpdate: 00:00:00 UTC May 1 2026",
        "    NextUpdate: 00:00:00 UTC Jul 1 2026",
        "    Retrieved from CRL Distribution Point:",
        "      %s/int2.crl" % cdp,
        "    Revoked certificates: 2",
    ]
    assert "CRL %s/int2.crl" % cdp in _after(out, "show crypto ca timers")


def test_cached_crl_survives_reload_and_is_refetched_when_expired(tmp_path, cdp):
    cdp = cdp[0]
    img = _image(tmp_path)
    out = run(img, [CLOCK] + _trustpoint([" crl query %s/int2.crl" % cdp]) + [
        "write memory", "crypto ca crl request lab"])
    assert "% CRL received for trustpoint lab: 2 revoked, next update 00:00:00 UTC Jul 1 2026" \
        in out
    # after a reboot the cached CRL answers, even with the CDP gone: optional mode
    out = run(img, [CLOCK, "configure terminal", "crypto ca trustpoint lab",
                    " crl query http://127.0.0.1:1/none.crl", " crl optional", " end",
                    "debug crypto pki transactions",
                    "crypto ca verify lab revoked.pem"])
    assert "not valid: revoked" in out and "Getting CRL" not in out
    # past nextUpdate the cached CRL is stale: fail closed, fetching (and failing) again
    out = run(img, ["clock set 00:00:00 2 Jul 2026", "configure terminal",
                    "crypto ca trustpoint lab", " crl query http://127.0.0.1:1/none.crl",
                    " end", "debug crypto pki transactions", "crypto ca verify lab good.pem"])
    assert "Getting CRL of" in out
    assert "% Certificate chain is not valid: crl-unavailable" in out
    assert "connect failed (connection refused)" in out


def test_modes_with_crl_unreachable_or_badly_signed(tmp_path, cdp):
    cdp = cdp[0]
    dead = "http://127.0.0.1:%d/int2.crl" % _free_port()
    for query, mode, expect in [
        (dead, None, "not valid: crl-unavailable"),
        (dead, " crl best-effort", "Certificate chain is valid"),
        (dead, " crl optional", "Certificate chain is valid"),
        (dead, " revocation-check none", "Certificate chain is valid"),
        (cdp + "/int2-badsig.crl", None, "not valid: crl-unavailable"),
        (cdp + "/int2-badsig.crl", " crl best-effort", "Certificate chain is valid"),
    ]:
        img = _image(tmp_path)
        lines = [" crl query " + query] + ([mode] if mode else [])
        out = run(img, [CLOCK] + _trustpoint(lines) + ["crypto ca verify lab good.pem",
                                                        "crypto ca verify lab revoked.pem"])
        assert expect in _after(out, "crypto ca verify lab good.pem"), (query, mode, out)
        rev = _after(out, "crypto ca verify lab revoked.pem")
        if "badsig" in query and mode is None:
            assert "CRL signature check failed" in rev
        if mode == " crl best-effort":
            assert "Note: CN = r1.lab.test" not in rev  # the revoked one is checked...
            assert "Certificate chain is valid" in rev  # ...but no CRL could be had


def test_older_crl_is_refused_as_a_replay(tmp_path, cdp):
    url, directory = cdp
    (directory / "replay.crl").write_bytes(_der("crl_int2.der"))
    img = _image(tmp_path)
    out = run(img, [CLOCK] + _trustpoint([" crl query %s/replay.crl" % url]) + [
        "write memory", "crypto ca crl request lab"])
    assert "% CRL received for trustpoint lab: 2 revoked" in out
    # the CDP now serves an older CRL (number 3) that lacks the revocation
    (directory / "replay.crl").write_bytes(_der("crl_int2_older.der"))
    out = run(img, [CLOCK, "crypto ca crl request lab", "crypto ca verify lab revoked.pem"])
    assert "CRL number 3 is older than the stored CRL's 7 (a replayed CRL?)" in out
    assert "not valid: revoked" in _after(out, "crypto ca verify lab revoked.pem")


def test_ldap_crl_from_slapd(tmp_path):
    with Slapd(tmp_path / "ldap", {"cn=val-int2": {"crl": _der("crl_int2.der")}}) as s:
        img = _image(tmp_path)
        out = run(img, [CLOCK] + _trustpoint([" crl query " + s.url("cn=val-int2")]) + [
            "crypto ca verify lab good.pem", "crypto ca verify lab revoked.pem",
            "show crypto ca crls"])
    assert "Certificate chain is valid" in _after(out, "crypto ca verify lab good.pem")
    assert "not valid: revoked" in _after(out, "crypto ca verify lab revoked.pem")
    assert "      ldap://127.0.0.1:%d/cn%%3Dval-int2" % s.port in out


def test_identities_and_certificate_maps(tmp_path):
    img = _image(tmp_path)
    out = run(img, [CLOCK] + _trustpoint([" revocation-check none"]) + [
        "configure terminal",
        "crypto identity vpn",
        " dn ou=vpn,o=upki lab",
        " exit",
        "crypto identity other",
        " dn ou=finance",
        " fqdn r9.lab.test",
        " exit",
        "crypto identity byname",
        " fqdn R1.LAB.TEST",
        " exit",
        "crypto pki certificate map issuers 10",
        " issuer-name eq cn = val-int2, o = upki lab, c = us",
        " subject-name nc finance",
        " exit",
        "end",
        "crypto ca verify lab good.pem vpn",
        "crypto ca verify lab good.pem other",
        "crypto ca verify lab good.pem byname",
        "crypto ca verify lab good.pem issuers",
        "crypto ca verify lab good.pem nosuch",
        "show running-config",
        "write memory",
    ])
    assert "Identity: matched identity vpn (dn ou=vpn,o=upki lab)" in out
    other = _after(out, "crypto ca verify lab good.pem other")
    assert "not valid: identity-mismatch" in other
    assert "matches no line of crypto identity other" in other
    assert "Identity: matched identity byname (fqdn r1.lab.test)" in out
    assert "Identity: matched certificate map issuers 10" in out
    assert "no crypto identity or certificate map named nosuch" in out
    assert "crypto identity vpn\n dn ou=vpn,o=upki lab\n!" in out
    assert "crypto pki certificate map issuers 10\n issuer-name eq cn = val-int2" in out
    # saved, replayed at boot
    out = run(img, [CLOCK, "crypto ca verify lab good.pem issuers",
                    "crypto ca verify lab good.pem other"])
    assert "Identity: matched certificate map issuers 10" in out
    assert "not valid: identity-mismatch" in out


def test_untrusted_clock_refuses(tmp_path):
    img = _image(tmp_path)
    out = run(img, _trustpoint([" revocation-check none"]) + ["crypto ca verify lab good.pem",
                                                              "crypto ca verify lab nofile.pem"])
    assert "not valid: clock-not-authoritative" in out
    assert "%Error opening flash:nofile.pem (No such file)" in out


@pytest.mark.parametrize("when,good,revoked", [
    # the fixtures' present: the CRL is current
    (1780272000, "Certificate chain is valid", "not valid: revoked"),
    # a forged or wrong NTP server sends the board to 2030: the leaf has expired
    (1905000000, "not valid: expired", "not valid: expired"),
    # ... to mid-July 2026: the leaf is valid, but the only CRL the CDP serves is
    # past its nextUpdate (Jul 1): fail closed
    (1784000000, "not valid: crl-unavailable", "not valid: crl-unavailable"),
])
def test_time_from_the_lab_ntp_server_decides(tmp_path, cdp, when, good, revoked):
    from host_tools.upki_host.timeserver import TimeServer

    url = cdp[0]
    ts = TimeServer(offset=when - time.time()).start()
    try:
        img = _image(tmp_path)
        out = run(img, _trustpoint([" crl query %s/int2.crl" % url]) + [
            "configure terminal", "ntp server 127.0.0.1 port %d" % ts.port, "end",
            "write memory", "reload", "", "show clock detail",
            "crypto ca verify lab good.pem", "crypto ca verify lab revoked.pem"])
    finally:
        ts.stop()
    boot = out.split("reloading")[-1]
    assert "%%NTP-5-SYNC: clock synchronized to 127.0.0.1:%d" % ts.port in boot, boot
    assert good in _after(boot, "crypto ca verify lab good.pem")
    assert revoked in _after(boot, "crypto ca verify lab revoked.pem")


def _leaf_with_cdps(urls, serial=0x1D0C):
    """A peer certificate issued by val-int2 now, with CRL distribution points
    in the order given (made at test time: the URLs carry this run's ports)."""
    import datetime

    import gen_crl_fixtures as gen
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    int2 = x509.load_der_x509_certificate(_der("val_int2.der"))
    k_int2 = gen.load_key("x509_key_1024.der")
    k_leaf = gen.load_key("x509_key_3072.der")
    cdp = x509.CRLDistributionPoints([
        x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
        for u in urls
    ])
    utc = datetime.timezone.utc
    cert = gen._cert(gen._name("cdp.lab.test"), k_leaf, int2, k_int2, serial,
                     datetime.datetime(2025, 1, 1, tzinfo=utc),
                     datetime.datetime(2030, 1, 1, tzinfo=utc), False, extra=((cdp, False),))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_fetch_order_http_then_ldap(tmp_path, cdp):
    dead_http = "http://127.0.0.1:%d/int2.crl" % _free_port()
    with Slapd(tmp_path / "ldap", {"cn=val-int2": {"crl": _der("crl_int2.der")}}) as s:
        ldap_url = s.url("cn=val-int2")
        # LDAP listed first in the certificate: HTTP is still tried first
        pem = _leaf_with_cdps([ldap_url, dead_http])
        path = _image(tmp_path)
        img = Image.load(path)
        img.put_file("cdp.pem", pem)
        img.save(path)
        out = run(path, [CLOCK] + _trustpoint([" crl query %s/int2-badsig.crl" % cdp[0]]) + [
            "debug crypto pki transactions", "crypto ca verify lab cdp.pem"])
    got = [line.split(" from ", 1)[1] for line in out.splitlines()
           if "CRYPTO_PKI: Getting CRL of" in line]
    # HTTP (the certificate's CDP, then the crl query URL), then LDAP
    assert got == [dead_http, cdp[0] + "/int2-badsig.crl", ldap_url], out
    assert "CRL from %s refused: HTTP 127.0.0.1:" % dead_http in out
    assert "int2-badsig.crl refused: CRL signature check failed" in out
    assert "CRL received from %s: 2 entries" % ldap_url in out
    # the peer carries the revoked serial 1D0C: caught with the LDAP CRL
    assert "% Certificate chain is not valid: revoked" in out


def test_pem_crl_from_the_cdp(tmp_path, cdp):
    url = cdp[0]
    img = _image(tmp_path)
    out = run(img, [CLOCK] + _trustpoint([" crl query %s/int2-broken.pem" % url]) + [
        "debug crypto pki transactions", "crypto ca verify lab good.pem"])
    assert "int2-broken.pem refused: PEM CRL without a complete X509 CRL block" in out
    out = run(img, [CLOCK, "configure terminal", "crypto ca trustpoint lab",
                    " crl query %s/int2.pem" % url, " end",
                    "crypto ca verify lab good.pem", "crypto ca verify lab revoked.pem",
                    "show crypto ca crls"])
    assert "Certificate chain is valid" in _after(out, "crypto ca verify lab good.pem")
    assert "not valid: revoked" in _after(out, "crypto ca verify lab revoked.pem")
    assert "      %s/int2.pem" % url in out
    assert "crl/fetch" not in out


def test_ldap_cdp_without_a_server_uses_crl_query(tmp_path):
    # Active Directory style: ldap:///DN?attr?base?filter; the server comes
    # from `crl query ldap://host:port` as on IOS
    with Slapd(tmp_path / "ldap", {"cn=val-int2": {"crl": _der("crl_int2.der")}}) as s:
        cdp_url = ("ldap:///cn=val-int2,dc=lab,dc=test?certificateRevocationList?base?"
                   "objectClass=cRLDistributionPoint")
        path = _image(tmp_path)
        img = Image.load(path)
        img.put_file("ad.pem", _leaf_with_cdps([cdp_url]))
        img.save(path)
        out = run(path, [CLOCK] + _trustpoint([" crl query ldap://127.0.0.1:%d" % s.port]) + [
            "debug crypto pki transactions", "crypto ca verify lab ad.pem"])
    want = "ldap://127.0.0.1:%d/cn=val-int2,dc=lab,dc=test?certificateRevocationList" % s.port
    assert "CRL received from " + want in out, out
    assert out.count("Getting CRL of") == 1
    assert "% Certificate chain is not valid: revoked" in out


def test_verify_reads_only_bounded_files_inside_flash(tmp_path):
    img = Image()
    img.put_file("big.pem", b"-----BEGIN CERTIFICATE-----\n" + b"A" * 20000)
    path = tmp_path / "b.img"
    img.save(path)
    out = run(path, [CLOCK] + _trustpoint([" revocation-check none"]) + [
        "crypto ca verify lab flash:../../../../etc/hostname",
        "crypto ca verify lab ../x.pem",
        "crypto ca verify lab flash:big.pem",
        "crypto ca verify lab flash:none.pem",
    ])
    assert "(Invalid path: no .. outside flash)" in _after(
        out, "crypto ca verify lab flash:../../../../etc/hostname")
    assert "(Invalid path" in _after(out, "crypto ca verify lab ../x.pem")
    assert "larger than 16384 bytes" in _after(out, "crypto ca verify lab flash:big.pem")
    assert "%Error opening flash:none.pem (No such file)" in _after(
        out, "crypto ca verify lab flash:none.pem")


def test_a_stored_crl_is_checked_whole_once_and_again_when_it_changes(tmp_path, cdp):
    # revocation keeps a CRL record's verified size, not its index, so the
    # CRL code leaves the heap with the command; a record that changed size is
    # checked whole again, and a corrupt one is refused
    import json

    from mpy import run_code

    img = _image(tmp_path)
    lines = [CLOCK] + _trustpoint([" crl query %s/int2.crl" % cdp[0]]) + [
        "crypto ca crl request lab"]
    code = (
        "import sys, json\nsys.path.insert(0, %r)\nfrom board import Board\n"
        "b = Board(%r); b.mount()\nfrom upki import cli\n"
        "router, session, msgs = cli.boot(b)\n"
        "for line in %r:\n"
        "    session.execute(line)\n"
        "loaded = 'upki.crl' in sys.modules\n"
        "from upki import revocation\n"
        "from upki.errors import PKIError\n"
        "name = [n for n in router.nvram.names('crl')][0]\n"
        "size = revocation._verified.get(name)\n"
        "first = revocation._open(router.nvram, name).info.count\n"
        "f = open(router.nvram.path(name), 'ab')\n"
        "f.write(b'x')\n"
        "f.close()\n"
        "try:\n"
        "    revocation._open(router.nvram, name)\n"
        "    why = None\n"
        "except PKIError as e:\n"
        "    why = str(e)\n"
        "print(json.dumps([loaded, size, first, why]))\n"
    ) % (str(ROOT / "boards" / "unix"), str(img), lines)
    out = run_code(code).strip().splitlines()
    loaded, size, count, why = json.loads(out[-1])
    assert not loaded, "the CRL code stayed in the heap after the command"
    assert size is not None and size > 0
    assert count == 2
    assert why is not None and "corrupt" in why, why
