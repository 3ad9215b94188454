# SPDX-License-Identifier: MIT
"""Network-fault campaign (issue 9, point 3): tests/faultproxy.py sits between the
simulated board and each real peer on 127.0.0.1 -

    SCEP      the lab CA (host_tools labca, RA mode)      `crypto ca enroll lab`
    HTTP CDP  python -m http.server with a CRL            `crypto ca crl request lab`
    LDAP      slapd with the CRL in its directory         `crypto ca crl request lab`
    NTP       the lab time server (authenticated, SHA-1)  the boot sync (`reload`)

- and drops, delays, truncates, corrupts (flips bytes of the reply) and resets
(TCP RST) every connection or datagram of one operation, or only one of them.
For each case the board must end in a correct, reported state: an IOS-style
error line naming what failed (or success, for a delay within the timeout),
no traceback, within bounded wall time (asserted), with a bounded number of
connections (its retries); and nothing stored may change after a failed
operation (key, certificate, CA certificates, CRL cache, startup-config: every
NVRAM record but the clock floor, byte for byte). After the faults stop, the
same operation succeeds (nothing was left half done).

The campaign prints its figures (cases, seconds, connections per case).
"""

import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

import labca_peer
from conftest import require_command
from faultproxy import FaultProxy, wait_port
from host_tools.upki_host.nvimage import Image
from host_tools.upki_host.timeserver import TimeServer
from mpy import ROOT, board
from test_enroll_labca import clock_line, fresh_image, trustpoint_lines

DATA = ROOT / "tests" / "data"
CRL_CLOCK = "clock set 00:00:00 1 Jun 2026"  # the val_* fixtures' time
NTP_KEY = (11, bytes(range(1, 21)))

# (fault, what the board must end with): "fail" an error line, "ok" success
TCP_FAULTS = [
    ("drop", "fail"),
    ("reset", "fail"),
    ("truncate", "fail"),
    ("truncate:12", "fail"),
    ("corrupt", "fail"),
    ("delay:0.5", "ok"),
]
UDP_FAULTS = [
    ("drop", "fail"),
    ("truncate", "fail"),
    ("corrupt", "fail"),
    ("delay:0.3", "ok"),
    ("delay:3", "fail"),  # beyond the 1 s per-request timeout
]


def run(img, lines, timeout=120):
    t0 = time.monotonic()
    r = board(img, "\n".join(lines) + "\n", timeout=timeout)
    took = time.monotonic() - t0
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "Traceback" not in out and "Internal error" not in out, out[-3000:]
    assert "%SYS-3-TASK" not in out, out[-3000:]
    return r.stdout, took


def stored(img):
    """Every file in flash but the clock floor (which a `clock set` moves), raw bytes."""
    im = Image.load(img)
    out = {}
    for n in im.names():
        if n != "clock-floor":
            with im.fs.open(n, "rb") as f:  # raw: records (trailer and all) and plain files
                out[n] = f.read()
    return out


def after(out, cmd):
    i = out.index("#" + cmd + "\n") + len(cmd) + 2
    j = out.find("\n", out.find("#", i) - 40)
    return out[i:j if j > 0 else None]


def proxied(upstream_port, proto="tcp"):
    return FaultProxy(("127.0.0.1", upstream_port), proto).start()


# ---------------------------------------------------------------- SCEP (lab CA)


@pytest.fixture(scope="module")
def scep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scep")
    with labca_peer.running(tmp, ra=True, challenge="s3cret") as server:
        proxy = proxied(server.port)
        try:
            url = server.url.replace(":%d/" % server.port, ":%d/" % proxy.port)
            base = fresh_image(tmp / "base.img")
            out, _ = run(base, [clock_line(), *trustpoint_lines(url),
                                "crypto ca authenticate lab", "yes", "write memory"])
            assert "Trustpoint CA certificate accepted." in out and "[OK]" in out, out[-2000:]
            # a clean enrollment: how many connections it takes
            clean = tmp / "clean.img"
            shutil.copy(base, clean)
            n0 = proxy.count()
            out, took = run(clean, [clock_line(), "crypto ca enroll lab"])
            assert "%CRYPTO-6-CERTRET" in out, out[-2000:]
            yield tmp, server, proxy, base, proxy.count() - n0
        finally:
            proxy.stop()


ENROLL_FAILED = re.compile(r"^% Enrollment failed: (.+)$", re.M)


def _enroll_case(scep, fault, expect, which):
    tmp, server, proxy, base, clean_conns = scep
    img = tmp / "case.img"
    shutil.copy(base, img)
    before = stored(img)
    if which == "all":
        proxy.set_fault(fault)
    else:  # only the last connection of the enrollment: the PKIOperation
        proxy.schedule([None] * (clean_conns - 1) + [fault])
    n0 = proxy.count()
    try:
        out, took = run(img, [clock_line(), "crypto ca enroll lab", "show crypto ca certificates"])
    finally:
        proxy.set_fault(None)
    conns = proxy.count() - n0
    enroll = after(out, "crypto ca enroll lab")
    if expect == "ok":
        assert "%CRYPTO-6-CERTRET" in out, (fault, out[-2000:])
        assert "tp/lab/cert" in stored(img)
    else:
        m = ENROLL_FAILED.search(out)
        assert m, (fault, which, enroll[-2000:])
        assert stored(img) == before, (fault, which)
        # and once the network behaves, the same enrollment completes
        out2, _ = run(img, [clock_line(), "crypto ca enroll lab"])
        assert "%CRYPTO-6-CERTRET" in out2, (fault, out2[-2000:])
    assert took < 12, (fault, took)
    assert conns <= clean_conns + 2, (fault, conns, clean_conns)
    print("\nSCEP %-11s %-4s -> %s in %.2f s, %d connection(s): %s"
          % (fault, which, expect, took, conns, m.group(1) if expect != "ok" else "CERTRET"))


@pytest.mark.parametrize("fault,expect", TCP_FAULTS)
@pytest.mark.parametrize("which", ["all", "last"])
def test_scep_enroll_under_fault(scep, fault, expect, which):
    _enroll_case(scep, fault, expect, which)


@pytest.mark.parametrize("fault", ["hang", "trickle:0.02"])
def test_scep_server_that_hangs_is_given_up_in_bounded_time(scep, fault):
    """hang: never answers; trickle: answers a byte every 20 ms (a reply of some KB
    would take a minute): both end at the request's overall deadline."""
    tmp, server, proxy, base, _ = scep
    img = tmp / "hang.img"
    shutil.copy(base, img)
    before = stored(img)
    proxy.set_fault(fault)
    try:
        out, took = run(img, [clock_line(), "crypto ca enroll lab"])
    finally:
        proxy.set_fault(None)
    m = ENROLL_FAILED.search(out)
    assert m and "no complete answer within" in m.group(1), out[-2000:]
    assert took < 25, took
    assert stored(img) == before
    print("\nSCEP %s -> %s in %.1f s" % (fault, m.group(1), took))


@pytest.mark.parametrize("fault", ["drop", "reset", "truncate", "corrupt"])
def test_scep_re_enrollment_under_fault_keeps_the_certificate_in_use(scep, fault):
    """A board with a certificate re-enrolls (a new one replaces it only when granted):
    under a fault the old certificate, its key and the CA certificates stay as they were."""
    tmp, server, proxy, base, clean_conns = scep
    enrolled = tmp / "enrolled.img"
    if not enrolled.exists():
        shutil.copy(base, enrolled)
        out, _ = run(enrolled, [clock_line(), "crypto ca enroll lab", "write memory"])
        assert "%CRYPTO-6-CERTRET" in out, out[-2000:]
    img = tmp / "re.img"
    shutil.copy(enrolled, img)
    before = stored(img)
    assert "tp/lab/cert" in before
    proxy.set_fault(fault)
    try:
        out, took = run(img, [clock_line(), "crypto ca enroll lab", "yes",
                              "show crypto ca certificates"])
    finally:
        proxy.set_fault(None)
    assert "% Do you want to continue with re-enrollment?" in out, out[-2000:]
    m = ENROLL_FAILED.search(out)
    assert m, (fault, out[-2000:])
    assert stored(img) == before, fault
    assert "Certificate\n  Status: Available" in out
    assert took < 12, took
    print("\nSCEP re-enroll %-8s -> %s in %.2f s" % (fault, m.group(1), took))


@pytest.fixture(scope="module")
def pending_lab(tmp_path_factory):
    """A manual-approval lab CA behind a proxy, and an image with a pending request."""
    tmp = tmp_path_factory.mktemp("poll")
    with labca_peer.running(tmp, ra=True, challenge="s3cret", manual=True) as server:
        proxy = proxied(server.port)
        try:
            url = server.url.replace(":%d/" % server.port, ":%d/" % proxy.port)
            base = fresh_image(tmp / "base.img")
            out, _ = run(base, [clock_line(), *trustpoint_lines(url, extra=[
                " enrollment retry count 5"]), "crypto ca authenticate lab", "yes",
                "write memory", "crypto ca enroll lab"])
            assert "% Certificate request pending" in out, out[-2000:]
            assert "tp/lab/pending" in stored(base)
            yield tmp, server, proxy, base
        finally:
            proxy.stop()


@pytest.mark.parametrize("fault", ["drop", "reset", "truncate", "corrupt", "hang",
                                   "delay:0.5"])
def test_scep_poll_under_fault_keeps_the_pending_request(pending_lab, fault):
    """The poll at boot (background task) meets the fault: a %CRYPTO-4-CERTPOLL line, the
    request stays pending (its poll count moves, nothing else); once the network
    behaves and the CA approves, the next boot's poll brings the certificate."""
    tmp, server, proxy, base = pending_lab
    img = tmp / "case.img"
    shutil.copy(base, img)
    before = stored(img)
    proxy.set_fault(fault)
    n0 = proxy.count()
    try:
        out, took = run(img, [clock_line(), "", "show crypto ca certificates"])
    finally:
        proxy.set_fault(None)
    conns = proxy.count() - n0
    after_ = stored(img)
    if fault.startswith("delay"):
        # within the timeout: an answer as without the proxy (PENDING, or the certificate
        # when an earlier case had the CA approve)
        if "%CRYPTO-6-CERTRET" in out:
            assert "tp/lab/cert" in after_ and "tp/lab/pending" not in after_
            print("\nSCEP poll %-9s -> granted in %.2f s, %d connection(s)" % (fault, took, conns))
            return
        assert "status = 102: certificate request pending" in out, out[-2000:]
        detail = "pending"
    else:
        m = re.search(r"%CRYPTO-4-CERTPOLL: trustpoint lab: poll failed: (.+)", out)
        assert m, (fault, out[-2000:])
        detail = m.group(1)
    assert "tp/lab/pending" in after_ and "tp/lab/cert" not in after_
    assert {k: v for k, v in after_.items() if k != "tp/lab/pending"} == \
        {k: v for k, v in before.items() if k != "tp/lab/pending"}
    assert "Status: Pending" in out
    # each background poll holds the console at most BACKGROUND_TIMEOUT (5 s); the
    # retry period (1 s here) runs from a poll's start, so against a CA that hangs the
    # board polls again after each of the three console lines: at most one poll a line,
    # each one counted against `enrollment retry count`
    assert conns <= 3 and took < 5.5 * conns + 2, (took, conns)
    # recovery, no operator action on the board
    for req in server.pending():
        server.approve(req["id"])
    out, _ = run(img, [clock_line(), ""])
    assert "%CRYPTO-6-CERTRET" in out, out[-2000:]
    assert "tp/lab/pending" not in stored(img)
    print("\nSCEP poll %-9s -> %s in %.2f s, %d connection(s)" % (fault, detail, took, conns))


# ---------------------------------------------------------------- CRL over HTTP and LDAP


def _der(name):
    return (DATA / name).read_bytes()


def _pem(name):
    import base64

    return ("-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n"
            % base64.encodebytes(_der("val_%s.der" % name)).decode()).encode()


def _crl_image(path, query):
    from binascii import hexlify

    im = Image()
    im.put_file("good.pem", _pem("leaf"))
    im.put_file("revoked.pem", _pem("leaf_revoked"))
    im.save(path)
    h = hexlify(_der("val_int2.der")).decode().upper()
    lines = ["configure terminal", "crypto ca trustpoint lab", " crl query " + query,
             " exit", "crypto ca certificate chain lab", " certificate ca 12"]
    lines += ["  " + h[i:i + 64] for i in range(0, len(h), 64)]
    lines += ["  quit", " exit", "end", "write memory"]
    out, _ = run(path, [CRL_CLOCK, *lines])
    assert "[OK]" in out, out[-2000:]
    return path


CRL_FAILED = re.compile(r"^% CRL request for trustpoint lab failed: (.+)$", re.M)


def _crl_case(tmp, proxy, base, fault, expect, label):
    img = tmp / "case.img"
    shutil.copy(base, img)
    before = stored(img)
    assert any(n.startswith("crl/") for n in before), before.keys()
    proxy.set_fault(fault)
    n0 = proxy.count()
    try:
        out, took = run(img, [CRL_CLOCK, "crypto ca crl request lab",
                              "crypto ca verify lab good.pem",
                              "crypto ca verify lab revoked.pem"])
    finally:
        proxy.set_fault(None)
    conns = proxy.count() - n0
    if expect == "ok":
        assert "% CRL received for trustpoint lab" in out, (fault, out[-2000:])
        detail = "received"
    else:
        m = CRL_FAILED.search(out)
        assert m, (label, fault, out[-2000:])
        detail = m.group(1)
        # the cached CRL is kept, whole, and still used
        assert stored(img) == before, (label, fault)
    assert "Certificate chain is valid" in after(out, "crypto ca verify lab good.pem"), out
    assert "not valid: revoked" in after(out, "crypto ca verify lab revoked.pem"), out
    assert took < 10, (fault, took)
    assert conns <= 3, (fault, conns)
    print("\n%s %-11s -> %s in %.2f s, %d connection(s): %s"
          % (label, fault, expect, took, conns, detail))


@pytest.fixture(scope="module")
def cdp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cdp")
    d = tmp / "www"
    d.mkdir()
    (d / "int2.crl").write_bytes(_der("crl_int2.der"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                          "--directory", str(d), str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = None
    try:
        assert wait_port(port)
        proxy = proxied(port)
        base = _crl_image(tmp / "base.img", "http://127.0.0.1:%d/int2.crl" % proxy.port)
        out, _ = run(base, [CRL_CLOCK, "crypto ca crl request lab"])
        assert "% CRL received for trustpoint lab" in out, out[-2000:]
        yield tmp, proxy, base
    finally:
        if proxy:
            proxy.stop()
        p.terminate()
        p.wait(5)


@pytest.mark.parametrize("fault,expect", TCP_FAULTS)
def test_http_cdp_crl_request_under_fault(cdp, fault, expect):
    tmp, proxy, base = cdp
    _crl_case(tmp, proxy, base, fault, expect, "HTTP-CDP")


@pytest.mark.parametrize("fault", ["hang", "trickle:0.05"])
@pytest.mark.parametrize("service", ["cdp", "ldap"])
def test_crl_server_that_hangs_is_given_up_in_bounded_time(request, service, fault):
    tmp, proxy, base = request.getfixturevalue(service)
    img = tmp / "hang.img"
    shutil.copy(base, img)
    before = stored(img)
    proxy.set_fault(fault)
    try:
        out, took = run(img, [CRL_CLOCK, "crypto ca crl request lab",
                              "crypto ca verify lab good.pem"])
    finally:
        proxy.set_fault(None)
    m = CRL_FAILED.search(out)
    assert m, out[-2000:]
    assert stored(img) == before
    assert "Certificate chain is valid" in after(out, "crypto ca verify lab good.pem")
    assert took < 25, took
    print("\n%s %s -> %s in %.1f s" % (service, fault, m.group(1), took))


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    require_command("slapd")
    from slapd_peer import Slapd

    tmp = tmp_path_factory.mktemp("ldap")
    with Slapd(tmp / "ldap", {"cn=val-int2": {"crl": _der("crl_int2.der")}}) as s:
        proxy = proxied(s.port)
        try:
            url = s.url("cn=val-int2").replace(":%d/" % s.port, ":%d/" % proxy.port)
            base = _crl_image(tmp / "base.img", url)
            out, _ = run(base, [CRL_CLOCK, "crypto ca crl request lab"])
            assert "% CRL received for trustpoint lab" in out, out[-2000:]
            yield tmp, proxy, base
        finally:
            proxy.stop()


@pytest.mark.parametrize("fault,expect", TCP_FAULTS)
def test_ldap_crl_request_under_fault(ldap, fault, expect):
    tmp, proxy, base = ldap
    _crl_case(tmp, proxy, base, fault, expect, "LDAP")


# ---------------------------------------------------------------- NTP (lab time server)


@pytest.fixture(scope="module")
def ntp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ntp")
    kid, secret = NTP_KEY
    ts = TimeServer(port=0, keys={kid: ("sha1", secret)})
    ts.start()
    proxy = FaultProxy(("127.0.0.1", ts.port), "udp").start()
    try:
        base = tmp / "base.img"
        out, _ = run(base, ["configure terminal", "hostname r1",
                            "ntp authentication-key %d sha1 %s" % (kid, secret.hex()),
                            "ntp trusted-key %d" % kid, "ntp authenticate",
                            "ntp server 127.0.0.1 port %d key %d" % (proxy.port, kid),
                            "end", "write memory"])
        assert "[OK]" in out
        yield tmp, proxy, base
    finally:
        proxy.stop()
        ts.stop()


NOSYNC = re.compile(r"%NTP-4-NOSYNC: no trusted time: (.+)")


@pytest.mark.parametrize("fault,expect", UDP_FAULTS)
@pytest.mark.parametrize("which", ["all", "first"])
def test_ntp_boot_sync_under_fault(ntp, fault, expect, which):
    tmp, proxy, base = ntp
    img = tmp / "case.img"
    shutil.copy(base, img)
    before = stored(img)
    if which == "all":
        proxy.set_fault(fault)
    else:  # only the first request: the boot sync's retry must get the time
        proxy.schedule([fault])
        expect = "ok"
    n0 = proxy.count()
    try:
        out, took = run(img, ["show clock detail"])
    finally:
        proxy.set_fault(None)
    conns = proxy.count() - n0
    if expect == "ok":
        assert "%%NTP-5-SYNC: clock synchronized to 127.0.0.1:%d" % proxy.port in out, \
            (fault, which, out[-2000:])
        assert "Time source is NTP" in out, out[-1500:]
        detail = "synchronized"
    else:
        m = NOSYNC.search(out)
        assert m, (fault, out[-2000:])
        detail = m.group(1)
        assert "%NTP-5-SYNC" not in out
        assert "\nNo time source\n" in out, out[-1500:]
        assert stored(img) == before
    # the boot sync holds the console at most its budget (5 s), plus the board's boot
    assert took < 8, (fault, took)
    assert conns <= 3, (fault, conns)
    print("\nNTP %-10s %-5s -> %s in %.2f s, %d datagram(s): %s"
          % (fault, which, expect, took, conns, detail))


@pytest.mark.parametrize("fault", ["corrupt", "truncate"])
def test_ntp_without_authentication_refuses_damaged_replies(ntp, fault):
    """Without a key nothing signs the reply: a corrupted one must still be refused (its
    origin timestamp no longer echoes the request) rather than set a wrong time."""
    tmp, proxy, _ = ntp
    img = tmp / "plain.img"
    if img.exists():
        img.unlink()
    out, _ = run(img, ["configure terminal", "ntp server 127.0.0.1 port %d" % proxy.port,
                       "end", "write memory"])
    assert "[OK]" in out
    proxy.set_fault(fault)
    try:
        out, took = run(img, ["show clock detail"])
    finally:
        proxy.set_fault(None)
    m = NOSYNC.search(out)
    assert m and "%NTP-5-SYNC" not in out, out[-2000:]
    assert "\nNo time source\n" in out
    assert took < 8, took
    print("\nNTP plain %-8s -> %s in %.2f s" % (fault, m.group(1), took))
