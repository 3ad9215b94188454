# SPDX-License-Identifier: MIT
"""Network-fault campaign (issue 9, point 3): tests/faultproxy.py sits between the
simulated board and each real peer on 127.0.0.1 -

    SCEP      the lab CA (host_tools labca, RA mode)      `crypto ca authenticate lab`,
                                                          `crypto ca enroll lab` (and
                                                          re-enrollment), the poll at boot
    SCEP      the lab CA (no RA), auto-enroll             the renewal of `auto-enroll 70
                                                          regenerate` (background task)
    HTTP CDP  python -m http.server with a CRL            `crypto ca crl request lab`, the
                                                          fetch of `crypto ca verify`
    LDAP      slapd with the CRL in its directory         the same two
    NTP       the lab time server (authenticated, SHA-1)  the boot sync (`reload`), the
                                                          background resync

- and drops, delays, truncates, corrupts (flips bytes of the reply) and resets
(TCP RST) every connection or datagram of one operation, or only one of them.
For each case the board must end in a correct, reported state: an IOS-style
error line naming what failed (or success, for a delay within the timeout),
no traceback, within bounded wall time (asserted), with a bounded number of
connections (its retries); and nothing stored may change after a failed
operation (key, certificate, CA certificates, CRL cache, startup-config: every
NVRAM record but the clock floor, byte for byte; for the NTP resync, the clock's
state and its floor). After the faults stop, the same operation succeeds
(nothing was left half done); the background tasks (auto-enroll, NTP) retry by
themselves, in the same board process.

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


# faults of the cases below: a bad reply of each kind, and a slow one within the timeout
SHORT_FAULTS = [("drop", "fail"), ("truncate", "fail"), ("corrupt", "fail"), ("delay:0.5", "ok")]


@pytest.mark.parametrize("fault,expect", SHORT_FAULTS)
def test_scep_authenticate_under_fault(scep, fault, expect):
    """`crypto ca authenticate` (GetCACert) meets the fault: an error line, no CA or RA
    certificate stored (nothing stored changes); once the network behaves, the same
    command works."""
    tmp, server, proxy, base, _ = scep
    noauth = tmp / "noauth.img"
    if not noauth.exists():
        fresh_image(noauth)
        url = server.url.replace(":%d/" % server.port, ":%d/" % proxy.port)
        out, _ = run(noauth, [clock_line(), *trustpoint_lines(url), "write memory"])
        assert "[OK]" in out, out[-2000:]
    img = tmp / "auth-case.img"
    shutil.copy(noauth, img)
    before = stored(img)
    proxy.set_fault(fault)
    n0 = proxy.count()
    try:
        out, took = run(img, [clock_line(), "crypto ca authenticate lab", "yes"])
    finally:
        proxy.set_fault(None)
    conns = proxy.count() - n0
    # (not after(): the error may name a PKCS#7 and its '#')
    auth = out.split("#crypto ca authenticate lab\n", 1)[1].split("\nr1#", 1)[0]
    if expect == "ok":
        assert "Trustpoint CA certificate accepted." in auth, (fault, out[-2000:])
        assert "tp/lab/ca" in stored(img)
        detail = "accepted"
    else:
        m = re.search(r"^% (.+)$", auth, re.M)
        assert m and "accepted" not in auth, (fault, out[-2000:])
        detail = m.group(1)
        assert stored(img) == before, fault
        out2, _ = run(img, [clock_line(), "crypto ca authenticate lab", "yes"])
        assert "Trustpoint CA certificate accepted." in out2, (fault, out2[-2000:])
        assert {"tp/lab/ca", "tp/lab/ra-sign", "tp/lab/ra-encrypt"} <= set(stored(img))
    assert took < 12 and conns <= 2, (fault, took, conns)
    print("\nSCEP authenticate %-9s -> %s in %.2f s, %d connection(s): %s"
          % (fault, expect, took, conns, detail))


# ---------------------------------------------------------------- auto-enroll renewal

# the renewal of `auto-enroll 70 regenerate` under a fault, then once it is gone, in one
# board process: ticks of the background tasks (time passing between them) under the
# fault; the board writes SIGNAL and waits for GO (the host clears the fault in between);
# more ticks. ARGS = {"now", "signal", "go"} is prepended.
AUTO_RENEW = """
import json, os, time
from upki import cli, config, trustpoint, autoenroll
router, session, msgs = cli.boot(b)
for hook in config.boot_hooks:
    hook(router)
router.clock.set(ARGS["now"], "test")
tp = trustpoint.get("lab")
nv = router.nvram
kept = ("tp/lab/cert", "tp/lab/ca", "rsa/r1key", "startup-config")
before = [nv.read(n, 16384) for n in kept]
old = bytes(tp.certificate("cert").der)

def ticks(n):
    for i in range(n):
        for task in list(config.background):
            task(router)
        st = autoenroll._states.get("lab")
        if st is not None:
            st.next_ms = None
        if bytes(tp.certificate("cert").der) != old:
            return True
    return False

res = {"under_fault": ticks(3), "status": autoenroll.status(tp)}
res["kept"] = [nv.read(n, 16384) == v for n, v in zip(kept, before)]
res["log"] = list(router.pending_log)
open(ARGS["signal"], "w").close()
for i in range(400):
    try:
        os.stat(ARGS["go"])
        break
    except OSError:
        time.sleep(0.05)
res["renewed"] = ticks(10)
res["status_after"] = autoenroll.status(tp)
print(json.dumps(res))
"""


@pytest.fixture(scope="module")
def autolab(tmp_path_factory):
    """A lab CA (no RA, certificates of one day) behind a proxy, and an image with an
    auto-enroll trustpoint that has its certificate; renewals then get 30 days."""
    from autoenroll_board import (ca_chain_lines, key_record, make_image, port_snippet,
                                  startup_config)
    from autoenroll_board import trustpoint_lines as ae_tp_lines
    from test_autoenroll_powercut import ENROLL

    tmp = tmp_path_factory.mktemp("auto")
    with labca_peer.running(tmp, ra=False, challenge="s3cret", days=1) as server:
        proxy = proxied(server.port)
        try:
            url = server.url.replace(":%d/" % server.port, ":%d/" % proxy.port)
            cfg = startup_config(None, [(
                ae_tp_lines("lab", url, auto="auto-enroll 70 regenerate", keypair="r1key 1024"),
                ca_chain_lines("lab", server.ca.ca_cert))])
            base = make_image(tmp / "base.img", cfg, [("r1key", key_record())])
            now = int(time.time())
            r = port_snippet(ENROLL % {"now": now}, base)
            assert r.returncode == 0 and '"cert": true' in r.stdout, r.stdout + r.stderr
            server.responder.days = 30
            yield tmp, proxy, base, now + int(17.5 * 3600)
        finally:
            proxy.stop()


@pytest.mark.parametrize("fault,expect", SHORT_FAULTS)
def test_auto_enroll_renewal_under_fault(autolab, fault, expect):
    """The renewal (new key, request to the CA through the proxy) meets the fault: each
    try fails with %CRYPTO-4-AUTOENROLL_FAIL and is retried, the identity in use (its
    certificate, key, CA certificate and startup-config) stays byte for byte; once the
    fault is gone the next try renews, with no operator action."""
    import json
    import threading

    from autoenroll_board import cert_of, key_of, port_snippet, same_key

    tmp, proxy, base, renew_at = autolab
    img = tmp / "case.img"
    shutil.copy(base, img)
    old_serial = cert_of(img).serial_number
    signal, go = tmp / "signal", tmp / "go"
    for f in (signal, go):
        if f.exists():
            f.unlink()

    def clear_when_signalled():
        for _ in range(1200):
            if signal.exists():
                proxy.set_fault(None)
                go.write_text("")
                return
            time.sleep(0.05)

    helper = threading.Thread(target=clear_when_signalled, daemon=True)
    proxy.set_fault(fault)
    n0 = proxy.count()
    helper.start()
    t0 = time.monotonic()
    try:
        args = {"now": renew_at, "signal": str(signal), "go": str(go)}
        r = port_snippet("ARGS = %r\n" % args + AUTO_RENEW, img, timeout=120)
    finally:
        proxy.set_fault(None)
        helper.join(5)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    fails = [x for x in res["log"] if "%CRYPTO-4-AUTOENROLL_FAIL" in x]
    if expect == "ok":
        assert res["under_fault"], res
        detail = "renewed"
    else:
        assert not res["under_fault"] and all(res["kept"]), res
        assert len(fails) >= 2, res["log"]  # tried, failed, tried again
        assert "retrying in" in fails[0], fails
        assert res["renewed"], res  # the fault gone: renewed by itself
        detail = fails[0].split("failed: ", 1)[-1][:90]
    cert = cert_of(img)
    assert cert.serial_number != old_serial and same_key(cert, key_of(img, "r1key"))
    assert not [n for n in stored(img) if n.endswith((".new", "/swap", "/pending"))]
    assert took < 60, took
    print("\nauto-enroll renewal %-9s -> %s (%d failed tries, %d connections) in %.1f s: %s"
          % (fault, expect, len(fails), proxy.count() - n0, took, detail))


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


@pytest.mark.parametrize("fault,expect", SHORT_FAULTS)
@pytest.mark.parametrize("service", ["cdp", "ldap"])
def test_crl_fetch_by_verify_under_fault(request, service, fault, expect):
    """`crypto ca verify` with no CRL cached fetches one (HTTP CDP or LDAP) and meets the
    fault: the chain is reported not valid (revocation-check crl fails closed) and
    nothing is stored; once the network behaves, the next verify fetches the CRL, stores
    it, and tells the good certificate from the revoked one."""
    tmp, proxy, _base = request.getfixturevalue(service)
    nocrl = tmp / "nocrl.img"
    if not nocrl.exists():
        url = _base_query(_base)
        _crl_image(nocrl, url)
    img = tmp / "verify-case.img"
    shutil.copy(nocrl, img)
    before = stored(img)
    assert not any(n.startswith("crl/") for n in before)
    proxy.set_fault(fault)
    n0 = proxy.count()
    try:
        out, took = run(img, [CRL_CLOCK, "crypto ca verify lab good.pem"])
    finally:
        proxy.set_fault(None)
    conns = proxy.count() - n0
    verify = out.split("#crypto ca verify lab good.pem\n", 1)[1].split("\nr1#", 1)[0]
    if expect == "ok":
        assert "Certificate chain is valid" in verify, (fault, out[-2000:])
        assert any(n.startswith("crl/") for n in stored(img))
        detail = "valid"
    else:
        m = re.search(r"^% Certificate chain is not valid: (.+)$", verify, re.M)
        assert m, (service, fault, out[-2000:])
        detail = m.group(1)
        assert stored(img) == before, (service, fault)
    out2, _ = run(img, [CRL_CLOCK, "crypto ca verify lab good.pem",
                        "crypto ca verify lab revoked.pem"])
    assert "Certificate chain is valid" in out2.split("revoked.pem")[0], out2[-2000:]
    assert "not valid: revoked" in after(out2, "crypto ca verify lab revoked.pem"), out2
    assert any(n.startswith("crl/") for n in stored(img))
    assert took < 12 and conns <= 4, (fault, took, conns)
    print("\n%s verify %-9s -> %s in %.2f s, %d connection(s): %s"
          % (service, fault, expect, took, conns, detail))


def _base_query(img):
    """The `crl query` URL in an image's startup-config."""
    text = Image.load(img).read("startup-config").decode()
    return re.search(r"^ crl query (\S+)$", text, re.M).group(1)


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



# the boot sync, then the background resync under the fault, then one without it, in one
# board process; the clock's state after each
NTP_RESYNC = """
import json, time
from binascii import hexlify
from upki import cli, config, ntp
router, session, msgs = cli.boot(b)
for hook in config.boot_hooks:
    hook(router)
logs = []
router.log_sink = logs.append
c = router.clock
st = ntp.state(router)

def snap():
    floor = router.nvram.read("clock-floor", 256) if router.nvram.exists("clock-floor") else b""
    return {"trusted": c.trusted, "source": c.source, "syncs": c.syncs,
            "offset": c.last_offset_us, "floor": str(hexlify(floor), "ascii")}

res = {"boot": snap(), "boot_log": list(router.pending_log)}
t0, w0 = c.now(), time.ticks_ms()
st.next_ms = None
ntp._background(router)
res["fault"] = snap()
res["gap"] = (c.now() - t0) - time.ticks_diff(time.ticks_ms(), w0) / 1000
res["fault_log"] = logs[:]
st.next_ms = None
ntp._background(router)
res["after"] = snap()
print(json.dumps(res))
"""


@pytest.mark.parametrize("fault", ["drop", "truncate", "corrupt", "delay:3"])
def test_ntp_background_resync_under_fault(ntp, fault):
    """After a good boot sync, the background resync (one request, 1 s) meets the fault:
    refused or unanswered, it leaves the clock as it was (trusted, NTP, same sync count
    and offset, running on without a step, the floor record untouched) and logs one
    line; the next resync, the fault gone, synchronizes again."""
    import json

    from autoenroll_board import port_snippet

    tmp, proxy, base = ntp
    img = tmp / "resync.img"
    shutil.copy(base, img)
    proxy.schedule([None, fault])  # the boot sync's request passes, the resync's does not
    n0 = proxy.count()
    try:
        r = port_snippet(NTP_RESYNC, img, timeout=60)
    finally:
        proxy.set_fault(None)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    boot, bad, good = res["boot"], res["fault"], res["after"]
    assert boot["trusted"] and boot["source"] == "NTP" and boot["syncs"] == 1, res
    assert bad == boot, (fault, res)  # nothing of the clock's state moved
    assert abs(res["gap"]) < 0.05, res  # no step: the clock ran on
    nosync = [x for x in res["fault_log"] if "%NTP-4-NOSYNC" in x]
    assert len(nosync) == 1, res["fault_log"]
    assert nosync[0].startswith("%NTP-4-NOSYNC: sync failed, clock kept: "), nosync
    assert good["trusted"] and good["syncs"] == 2, res
    assert proxy.count() - n0 == 3
    print("\nNTP resync %-8s -> clock kept; %s" % (fault, nosync[0].strip()[:110]))
