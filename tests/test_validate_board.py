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
    (d / "int2-expired.crl").write_bytes(_der("crl_int2_expired.der"))
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


# The matrix: good, revoked and expired peers under each revocation
# mode, with the CRL at the CDP reachable, unreachable, expired and badly
# signed.  Per mode: (good, revoked, expired) verdicts and how many CRL
# fetches the three presentations make.  `crl optional` fetches nothing at a
# presentation: the operator's `crypto ca crl request` fills its cache first.
OK, REVOKED, EXPIRED, NO_CRL = ("Certificate chain is valid", "not valid: revoked",
                                "not valid: expired", "not valid: crl-unavailable")
CHECKED = {"crl": ((OK, REVOKED, EXPIRED), 1), "best-effort": ((OK, REVOKED, EXPIRED), 1),
           "optional": ((OK, REVOKED, EXPIRED), 0), "none": ((OK, OK, EXPIRED), 0)}
# no usable CRL: fail closed, or accept and fetch again at every presentation
# (the expired peer is refused before its revocation is looked at)
UNUSABLE = {"crl": ((NO_CRL, NO_CRL, EXPIRED), 2), "best-effort": ((OK, OK, EXPIRED), 2),
            "optional": ((OK, OK, EXPIRED), 0), "none": ((OK, OK, EXPIRED), 0)}
MATRIX = {
    "reachable": ("int2.crl", None, CHECKED),
    "unreachable": (None, "connect failed (connection refused)", UNUSABLE),
    "expired": ("int2-expired.crl", "CRL has expired (nextUpdate has passed)", UNUSABLE),
    "bad-signature": ("int2-badsig.crl", "CRL signature check failed", UNUSABLE),
}
MODE_LINES = {"crl": [], "best-effort": [" crl best-effort"], "optional": [" crl optional"],
              "none": [" revocation-check none"]}
PEERS = ("good.pem", "revoked.pem", "expired.pem")


@pytest.mark.parametrize("state", list(MATRIX))
def test_revocation_matrix(tmp_path, cdp, state):
    name, why, table = MATRIX[state]
    url = "%s/%s" % (cdp[0], name) if name else "http://127.0.0.1:%d/int2.crl" % _free_port()
    for mode, (verdicts, fetches) in table.items():
        img = _image(tmp_path)
        request = ["crypto ca crl request lab"] if mode == "optional" else []
        out = run(img, [CLOCK] + _trustpoint([" crl query " + url] + MODE_LINES[mode]) + request
                  + ["debug crypto pki transactions"]
                  + ["crypto ca verify lab " + p for p in PEERS])
        if request:
            said = _after(out, request[0])
            assert ("CRL received" if why is None else why) in said, (state, said)
        presented = out.split("#debug crypto pki transactions\n", 1)[1]
        assert presented.count("Getting CRL of") == fetches, (state, mode, presented)
        for peer, verdict in zip(PEERS, verdicts):
            said = _after(out, "crypto ca verify lab " + peer)
            assert verdict in said, (state, mode, peer, said)
            if verdict == NO_CRL:
                assert why in said, (state, mode, peer, said)
            if verdict == OK and mode in ("best-effort", "optional") and why:
                # accepted unchecked, and the answer says so
                assert "Note: CN = " in said and "not checked for revocation" in said, said


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
    verdict = _after(out, "crypto ca verify lab good.pem")
    assert "not valid: clock-not-authoritative" in verdict
    # the IOS message, naming what was refused
    assert ("%PKI-2-NON_AUTHORITATIVE_CLOCK: Clock is not authoritative; certificate "
            "validation refused until NTP has set the clock") in verdict
    assert "%Error opening flash:nofile.pem (No such file)" in out


@pytest.mark.parametrize("when,mode,good,revoked", [
    # the fixtures' present: the CRL is current
    (1780272000, None, "Certificate chain is valid", "not valid: revoked"),
    # a forged or wrong NTP server sends the board to 2030: the leaf has expired
    (1905000000, None, "not valid: expired", "not valid: expired"),
    # ... and no revocation mode accepts an expired peer
    (1905000000, " revocation-check none", "not valid: expired", "not valid: expired"),
    # ... back to June 2024, before the leaves' notBefore (Jan 2025)
    (1717200000, " crl best-effort", "not valid: not-yet-valid", "not valid: not-yet-valid"),
    # ... to mid-July 2026: the leaf is valid, but the only CRL the CDP serves is
    # past its nextUpdate (Jul 1): fail closed
    (1784000000, None, "not valid: crl-unavailable", "not valid: crl-unavailable"),
])
def test_time_from_the_lab_ntp_server_decides(tmp_path, cdp, when, mode, good, revoked):
    from host_tools.upki_host.timeserver import TimeServer

    url = cdp[0]
    ts = TimeServer(offset=when - time.time()).start()
    try:
        img = _image(tmp_path)
        out = run(img, _trustpoint([" crl query %s/int2.crl" % url] + ([mode] if mode else [])) + [
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


def _tp_blocks(out, name="lab"):
    """The trustpoint's running-config lines, one list per `show running-config`."""
    blocks = []
    for part in out.split("#show running-config\n")[1:]:
        body = part.split("crypto ca trustpoint %s\n" % name, 1)[1].split("!\n", 1)[0]
        blocks.append([line.strip() for line in body.splitlines()])
    return blocks


def _tp_config(*lines):
    return ["configure terminal", "crypto ca trustpoint lab", *lines, "end",
            "show running-config"]


def test_last_revocation_command_wins(tmp_path, cdp):
    # IOS keeps one revocation mode: the command given last, with one line
    # for it in the running-config
    dead = "http://127.0.0.1:%d/int2.crl" % _free_port()
    good = "%s/int2.crl" % cdp[0]
    img = _image(tmp_path)
    steps = [
        # (config lines, mode lines expected in the running-config, peer, verdict)
        (["crl query " + dead, "crl best-effort"], ["crl best-effort"], "good.pem",
         "Certificate chain is valid"),
        # back to fail closed: the CRL is unreachable, so the peer is refused
        (["revocation-check crl"], [], "good.pem", "not valid: crl-unavailable"),
        (["revocation-check none", "crl optional"], ["crl optional"], "good.pem",
         "Certificate chain is valid"),
        (["crl optional", "revocation-check none"], ["revocation-check none"], "good.pem",
         "Certificate chain is valid"),
        # a crl mode after `revocation-check none` checks again: the revoked peer is caught
        (["crl query " + good, "revocation-check none", "crl best-effort"], ["crl best-effort"],
         "revoked.pem", "not valid: revoked"),
        # `no crl optional` leaves best-effort alone; `no crl best-effort` ends it
        (["no crl optional"], ["crl best-effort"], None, None),
        (["no crl best-effort"], [], "revoked.pem", "not valid: revoked"),
        (["crl optional", "no revocation-check"], [], None, None),
        (["revocation-check none", "no revocation-check"], [], None, None),
        (["crl optional"], ["crl optional"], None, None),
    ]
    lines = [CLOCK] + _trustpoint([])
    for config, _modes, peer, _verdict in steps:
        lines += _tp_config(*config)
        if peer:
            lines.append("crypto ca verify lab " + peer)
    out = run(img, lines + ["write memory"])
    blocks = _tp_blocks(out)
    verdicts = out.split("#crypto ca verify lab ")[1:]
    assert len(blocks) == len(steps) and len(verdicts) == 6, out
    for (config, modes, peer, verdict), block in zip(steps, blocks):
        mode_lines = [line for line in block if line.startswith(("crl ", "revocation-check"))
                      and not line.startswith("crl query")]
        assert mode_lines == modes, (config, block)
        if peer:
            said = verdicts.pop(0)
            assert said.startswith(peer) and verdict in said.split("Router")[0], (config, said)
    # saved and replayed at boot: one mode line, the same mode
    out = run(img, ["show running-config"])
    assert [m for m in _tp_blocks(out)[0] if not m.startswith("crl query")] == ["crl optional"]


def test_bad_revocation_identity_and_map_lines_store_nothing(tmp_path):
    img = _image(tmp_path)
    out = run(img, [
        "configure terminal",
        "crypto ca trustpoint lab",
        " crl query ftp://127.0.0.1/int2.crl",
        " crl query",
        " revocation-check bogus",
        " revocation-check crl none",
        " crl optional now",
        " exit",
        "crypto identity vpn",
        " dn ou",
        " dn frobnicate=x",
        " fqdn",
        " exit",
        "crypto identity",
        "crypto pki certificate map m 0",
        "crypto pki certificate map m",
        "crypto pki certificate map m x",
        "crypto pki certificate map ok 10",
        " subject-name is finance",
        " subject-name eq",
        " serial-number eq 5",
        " exit",
        "end",
        "show running-config",
    ])
    errors = [line for line in out.splitlines() if line.startswith("%")]
    assert errors.count("% Invalid input detected at '^' marker.") == 10, errors
    assert errors.count("% Incomplete command.") == 5, errors
    assert "% crl query takes an http:// or ldap:// URL" in errors
    assert "% revocation-check takes crl or none" in errors
    assert "% 'ou' is not ATTRIBUTE=VALUE" in errors
    assert "% unknown attribute 'frobnicate' in DN" in errors
    assert "% operator must be eq, ne, co or nc" in errors
    # the marker under the word at fault, as IOS draws it
    assert "Router(ca-trustpoint)# crl query ftp://127.0.0.1/int2.crl\n" \
           "                                 ^\n" in out, out
    config = out.split("#show running-config\n", 1)[1]
    assert "crypto ca trustpoint lab\n!\n" in config  # no crl query, no revocation line
    assert "crypto identity vpn\n!\n" in config  # entered, but no dn or fqdn stored
    assert "crypto pki certificate map ok 10\n!\n" in config
    assert "certificate map m " not in config


def test_best_effort_fetches_again_at_every_presentation(tmp_path, cdp):
    # the CDP has no CRL yet: the revoked peer is accepted, unchecked; once the
    # CRL is there, the next presentation fetches it and the peer is refused
    from console import Console

    url, directory = cdp
    late = directory / "late.crl"
    img = _image(tmp_path)
    con = Console(img)

    def verify(peer):
        con.send("crypto ca verify lab " + peer)
        return con.expect(r"(?s)#crypto ca verify lab %s\n(.*?)(?=Router#)" % peer).group(1)

    try:
        con.expect("Press RETURN")
        con.send(CLOCK, *_trustpoint([" crl query %s/late.crl" % url, " crl best-effort"]),
                 "debug crypto pki transactions")
        con.expect("#debug crypto pki transactions\n")
        for _ in range(2):  # every presentation tries again, and is accepted meanwhile
            said = verify("revoked.pem")
            assert "Getting CRL of CN = val-int2, O = upki lab, C = US from %s/late.crl" % url \
                in said
            assert "late.crl refused: HTTP 404" in said, said
            assert "Certificate chain is valid" in said
            assert "Note: CN = revoked.lab.test, O = upki lab, C = US not checked for " \
                   "revocation" in said
        late.write_bytes(_der("crl_int2.der"))
        said = verify("revoked.pem")
        assert "CRL received from %s/late.crl: 2 entries" % url in said, said
        assert "% Certificate chain is not valid: revoked" in said
        said = verify("good.pem")  # the CRL is cached now: no fetch, and checked
        assert "Getting CRL" not in said and "Note:" not in said
        assert "Certificate chain is valid" in said
    finally:
        late.unlink(missing_ok=True)
        con.close()
