# SPDX-License-Identifier: MIT
"""Power-cut campaign over whole operations on the simulated board (issue 9, point 2).

The board's block device tears the Nth flash operation (program or erase; half of
its bytes reach the image) and kills the board process at once
(UPKI_CUT_AFTER=N, UPKI_CUT_TEAR=0.5). For each operation below the test first
runs it without a cut and reads `show flash`'s counters before and after it, then
cuts at EVERY flash operation in that range (every one, no sampling: each
operation here takes at most a few dozen), and after each cut boots the image
again and checks:

- no traceback, no corrupt-record message (only the documented recovery line
  %NVRAM-4-RECOVERED of docs/SECURITY.md);
- a valid identity, old or new: the stored certificate (if any) is for the stored
  key (host side, with `cryptography`), and the console's `show crypto ca
  certificates` / `show crypto key mypubkey rsa` agree with the records;
- `show running-config` equals the one before or the one after the operation;
- recovery with no operator action: a stored pending enrollment is polled again
  at boot (same transactionID) and completes once the CA has approved; a CRL
  fetch cut short is fetched again by the next `crypto ca verify`.

Operations: `crypto ca enroll` (the transaction stored, the PKCSReq, PENDING
stored: a cut inside the first record write leaves nothing, as nothing was sent
yet; every later cut resumes polling by itself), the poll that brings the
approved certificate (until it is stored and the pending record dropped),
`crypto ca crl request`, `write memory`, and `crypto key generate rsa` (1024
bits, replacing the key in use; keygen writes only at its end); the cut that
stores the transaction whole but stops the board before the PKCSReq goes out
(the board polls at boot, the CA does not know the transaction, the board sends
the request again); and the whole auto-renewal with regenerate (key generation,
request, certificate, swap: every one of its flash operations, each cut checked
for the identity, the running-config and the recovery; tests/test_autoenroll_
powercut.py cuts at every write of the swap alone).

Environment knobs (CI runs the defaults):
- CAMPAIGN_TEAR=0 or =1: none or all of the cut write reaches flash (default 0.5,
  half of its bytes); all pass.
- CAMPAIGN_STRIDE=k: the auto-renewal campaign cuts at every k-th operation only
  (the first and the last included), for a quick run (default 1: every one).
- CAMPAIGN_JOBS=j: board processes the auto-renewal campaign runs at once
  (default 2).

The campaign prints its figures (cut points survived per operation, seconds);
`pytest -s` shows them.
"""

import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import labca_peer
from host_tools.upki_host.nvimage import Image
from mpy import board
from test_enroll_labca import clock_line, fresh_image, trustpoint_lines

KILLED = (-9, 137)
LABEL = "r1.lab.test"
BUDGET = 150  # seconds for the whole campaign (each board run is ~0.1-0.3 s)
ALLOWED = ("%NVRAM-4-RECOVERED",)
# the share of the cut write that reaches flash; on demand, e.g. CAMPAIGN_TEAR=0 or 1
TEAR = os.environ.get("CAMPAIGN_TEAR", "0.5")
# the auto-renewal campaign cuts at every STRIDE-th flash operation (1: every one),
# JOBS board processes at once
STRIDE = max(1, int(os.environ.get("CAMPAIGN_STRIDE", "1")))
JOBS = max(1, int(os.environ.get("CAMPAIGN_JOBS", "2")))
FIGURES = {}


def _check_clean(out, what):
    assert "Traceback" not in out and "Internal error" not in out, (what, out[-3000:])
    assert "%SYS-3-TASK" not in out, (what, out[-3000:])
    for line in out.splitlines():
        if "%NVRAM-" in line or "corrupt" in line.lower():
            assert line.lstrip().startswith(ALLOWED), (what, line)


def run(img, lines, env=None, cut=None):
    env = dict(env or {})
    if cut:
        env.update({"UPKI_CUT_AFTER": str(cut), "UPKI_CUT_TEAR": TEAR})
    r = board(img, "\n".join(lines) + "\n", env=env, timeout=60)
    out = r.stdout + r.stderr
    if cut and "%POWER-CUT" in out:
        assert r.returncode in KILLED, (cut, r.returncode, out[-2000:])
        head = out.split("%POWER-CUT")[0]
        _check_clean(head, "before the cut %d" % cut)
        return out, True
    assert r.returncode == 0, out[-3000:]
    _check_clean(out, lines)
    return out, False


def flash_ops(out):
    return [int(a) + int(b) for a, b in
            re.findall(r"flash: (\d+) program ops \(\d+ bytes\), (\d+) block erases", out)]


def records(img):
    return set(Image.load(img).names())


def rec(img, name):
    return Image.load(img).read(name)


def key_of(img, label=LABEL):
    data = rec(img, "rsa/" + label)
    return serialization.load_der_private_key(data[data.index(b"\n") + 1:], None)


def identity(img):
    """(key modulus, certificate serial or None) of the stored identity, checked."""
    names = records(img)
    assert "rsa/" + LABEL in names, names
    key = key_of(img)
    n = key.public_key().public_numbers().n
    if "tp/lab/cert" not in names:
        return n, None
    cert = x509.load_der_x509_certificate(rec(img, "tp/lab/cert"))
    assert cert.public_key().public_numbers().n == n, "certificate for another key"
    return n, cert.serial_number


def running_config(out):
    i = out.index("#show running-config\n")
    j = out.index("\nend\n", i)
    return out[i:j]


def shown(img, extra=()):
    """Boot after a cut; the console's view of the identity and config."""
    out, _ = run(img, ["show crypto ca certificates", "show crypto key mypubkey rsa",
                       "show running-config", *extra])
    return out


def check_console(out, img):
    n, serial = identity(img)
    # the key the console shows is the stored one
    keyshow = out[out.index("#show crypto key mypubkey rsa"):]
    assert "Key name: %s" % LABEL in keyshow, keyshow[:800]
    spki = key_of(img).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    hexkey = spki.hex().upper()
    flat = re.sub(r"[\s]", "", keyshow.split("#show running-config")[0])
    assert hexkey[-64:] in flat, "show crypto key mypubkey rsa does not show the stored key"
    certs = out[out.index("#show crypto ca certificates"):out.index("#show crypto key")]
    if serial is None:
        assert not re.search(r"^Certificate\n  Status: Available", certs, re.M), certs[:600]
    else:
        assert re.search(r"^Certificate\n  Status: Available\n  Certificate Serial Number: 0*%X\n"
                         % serial, certs, re.M), certs[:600]
    return n, serial


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pc")
    with labca_peer.running(tmp, ra=True, challenge="s3cret", manual=True) as server:
        auth = fresh_image(tmp / "auth.img")
        out, _ = run(auth, [clock_line(), *trustpoint_lines(server.url),
                            "crypto ca authenticate lab", "yes", "write memory"])
        assert "Trustpoint CA certificate accepted." in out and "[OK]" in out
        yield tmp, server, auth


def campaign(tmp, base, lines, before_marker_index, check, name, start=None):
    """Run lines on a copy of base without a cut (the 'new' image); read the flash
    counters of the `show flash` lines; cut at every operation between them;
    call start(n) before and check(cut_image, n) after each. Returns (new image, points)."""
    full = tmp / (name + "-full.img")
    shutil.copy(base, full)
    out, _ = run(full, lines)
    ops = flash_ops(out)
    assert len(ops) >= 2, out[-2000:]
    w0, w1 = ops[before_marker_index], ops[-1]
    assert w1 > w0, (name, w0, w1)
    points = 0
    # the block device counts each operation before it tears it: N cuts the Nth since
    # boot, so the operation's own are w0 + 1 .. w1
    for n in range(w0 + 1, w1 + 1):
        img = tmp / (name + "-cut.img")
        shutil.copy(base, img)
        if start:
            start(n)
        _out, killed = run(img, lines, cut=n)
        assert killed, "no power cut at flash operation %d of %s" % (n, name)
        check(img, n)
        points += 1
    FIGURES[name] = points
    return full, out, points


def test_power_cut_campaign(lab):
    tmp, server, auth = lab
    t_start = time.monotonic()
    clock = clock_line()

    # the configuration before and after, as the console shows it after a boot
    base_out = shown(auth, [clock])
    cfg_auth = running_config(base_out)
    key0, serial0 = check_console(base_out, auth)
    assert serial0 is None

    # ---- 1. crypto ca enroll: the transaction stored, the PKCSReq, PENDING stored
    enroll_lines = [clock, "show flash", "crypto ca enroll lab", "show flash"]

    def after_enroll_cut(img, n):
        names = records(img)
        out = shown(img)
        assert running_config(out) == cfg_auth, n
        assert check_console(out, img) == (key0, None)
        assert "tp/lab/cert" not in names
        if "tp/lab/pending" in names:
            # resumes polling at boot, no operator action, with the request's own
            # transactionID: the CA still says PENDING
            seen = len(server.log)
            out, _ = run(img, [clock, ""])
            assert "status = 102: certificate request pending" in out, out[-1500:]
            tid = re.search(r"PKCSReq tid=(\S+)", "\n".join(server.log)).group(1)
            assert [line for line in server.log[seen:] if "tid=%s -> PENDING" % tid in line
                    and ("CertPoll" in line or "resent" in line)], server.log[seen:]
            recovered["pending"].append(n)
        else:
            # the transaction is stored before the request goes out: from the cut that
            # finds it whole on, every later cut does too; a cut before it stopped the
            # board before it sent anything (GetCACaps at most)
            assert not recovered["pending"], (n, recovered)
            assert not [line for line in server.log[log_at[0]:] if " tid=" in line], \
                (n, server.log[log_at[0]:])
            recovered["none"].append(n)

    def enroll_cut_start(n):
        log_at[0] = len(server.log)

    recovered = {"pending": [], "none": []}
    log_at = [0]
    pending_img, out, _ = campaign(tmp, auth, enroll_lines, 0, after_enroll_cut, "enroll",
                                   enroll_cut_start)
    assert "% Certificate request pending" in out
    assert "tp/lab/pending" in records(pending_img)
    # only the cuts in the transaction record's own first write leave nothing (the request
    # was not sent yet: the operator enrolls again, as on IOS); every cut after it resumes
    # polling by itself
    assert recovered["none"] and recovered["pending"], recovered
    assert max(recovered["none"]) < min(recovered["pending"]), recovered

    # ---- 2. the CA approves: the poll at boot brings the certificate
    for req in server.pending():
        server.approve(req["id"])
    poll_lines = ["show flash", clock, "", "show flash"]
    done = {"n": 0}

    def after_poll_cut(img, n):
        out = shown(img)
        assert check_console(out, img)[0] == key0
        # recovery: the next boot with a trusted clock finishes the enrollment
        out, _ = run(img, [clock, "", "show crypto ca certificates"])
        assert records(img) >= {"tp/lab/cert"} and "tp/lab/pending" not in records(img), \
            (n, records(img), out[-1500:])
        assert identity(img)[1] is not None
        done["n"] += 1

    enrolled, out, _ = campaign(tmp, pending_img, poll_lines, 0, after_poll_cut, "enroll-poll")
    assert "%CRYPTO-6-CERTRET" in out
    key1, serial1 = identity(enrolled)
    assert key1 == key0 and serial1 is not None
    cfg_enrolled = running_config(shown(enrolled))

    # ---- 3. crypto ca crl request; a torn ingest is refetched by crypto ca verify
    cert_pem = x509.load_der_x509_certificate(rec(enrolled, "tp/lab/cert")).public_bytes(
        serialization.Encoding.PEM)
    img = Image.load(enrolled)
    img.put_file("me.pem", cert_pem)
    img.save(enrolled)
    crl_lines = [clock, "show flash", "crypto ca crl request lab", "show flash"]
    crl_fetches = {"refetched": 0, "cached": 0}

    def after_crl_cut(img, n):
        out = shown(img)
        assert running_config(out) == cfg_enrolled
        assert check_console(out, img) == (key1, serial1)
        out, _ = run(img, [clock, "debug crypto pki transactions",
                           "crypto ca verify lab flash:me.pem", "show crypto ca crls"])
        verify = out[out.index("#crypto ca verify"):]
        assert "Certificate chain is valid" in verify, (n, verify[:1500])
        if "CRYPTO_PKI: Getting CRL" in verify:
            crl_fetches["refetched"] += 1
        else:
            crl_fetches["cached"] += 1
        assert "CRL Issuer Name" in verify or "Issuer" in verify.split("#show crypto ca crls")[1]

    _crl_img, out, _ = campaign(tmp, enrolled, crl_lines, 0, after_crl_cut, "crl-request")
    assert "% CRL received for trustpoint lab" in out, out[-1500:]
    assert crl_fetches["refetched"] >= 1, crl_fetches

    # ---- 4. write memory (a new hostname and domain)
    wm_lines = ["show flash", "conf t", "ip domain-name other.test", "end", "show flash",
                "write memory", "show flash"]
    cfg_new = {"v": None}

    def after_wm_cut(img, n):
        out = shown(img)
        cfg = running_config(out)
        assert cfg in (cfg_enrolled, cfg_new["v"]), (n, cfg[:600])
        assert check_console(out, img) == (key1, serial1)

    full = tmp / "wm-probe.img"
    shutil.copy(enrolled, full)
    run(full, wm_lines)
    cfg_new["v"] = running_config(shown(full))
    assert cfg_new["v"] != cfg_enrolled and "ip domain-name other.test" in cfg_new["v"]
    campaign(tmp, enrolled, wm_lines, 1, after_wm_cut, "write-memory")

    # ---- 5. crypto key generate rsa, replacing the key in use (no certificate yet)
    kg_lines = ["show flash", "conf t", "crypto key generate rsa modulus 1024", "yes", "end",
                "show flash"]
    keys_seen = set()

    def after_kg_cut(img, n):
        out = shown(img)
        assert running_config(out) == cfg_auth
        key, serial = check_console(out, img)
        assert serial is None and key_of(img).key_size == 1024
        keys_seen.add("old" if key == key0 else "new")

    campaign(tmp, auth, kg_lines, 0, after_kg_cut, "keygen")
    # keygen writes at its end: the cuts land in the key record's write
    assert "old" in keys_seen, keys_seen

    took = time.monotonic() - t_start
    total = sum(FIGURES.values())
    print("\npower-cut campaign: %d cut points survived in %.1f s: %s; enroll cuts: %d left "
          "nothing (before the request was sent), %d resumed polling; CRL: %s"
          % (total, took, FIGURES, len(recovered["none"]), len(recovered["pending"]),
             crl_fetches))
    assert total >= 30, FIGURES
    assert took < BUDGET, took


def test_power_cut_before_the_request_left_is_sent_at_boot(tmp_path):
    """The one cut of `crypto ca enroll` that leaves a transaction the CA never saw: the
    record written whole (all of the cut write reaches flash) and the power gone before
    the PKCSReq went out. At boot the board polls (CertPoll, same transactionID), the CA
    does not know it (FAILURE badCertId), and the board sends the stored request again:
    PENDING, and once approved the certificate, with no operator action."""
    with labca_peer.running(tmp_path, ra=True, challenge="s3cret", manual=True) as server:
        auth = fresh_image(tmp_path / "auth.img")
        clock = clock_line()
        out, _ = run(auth, [clock, *trustpoint_lines(server.url),
                            "crypto ca authenticate lab", "yes", "write memory"])
        assert "Trustpoint CA certificate accepted." in out
        probe = tmp_path / "probe.img"
        shutil.copy(auth, probe)
        w0 = flash_ops(run(probe, [clock, "show flash"])[0])[-1]
        lines = [clock, "show flash", "crypto ca enroll lab"]
        found = None
        for n in range(w0 + 1, w0 + 60):
            img = tmp_path / "cut.img"
            shutil.copy(auth, img)
            r = board(img, "\n".join(lines) + "\n", timeout=60,
                      env={"UPKI_CUT_AFTER": str(n), "UPKI_CUT_TEAR": "1"})
            assert "%POWER-CUT" in r.stdout, (n, r.stdout[-1500:])
            if "tp/lab/pending" in records(img):
                found = n
                break
        assert found, "no cut left the transaction record"
        # the CA never got the request
        assert not [line for line in server.log if " tid=" in line], server.log
        out, _ = run(img, [clock, ""])
        assert "status = 102: certificate request pending" in out, out[-2000:]
        ops = [line for line in server.log if " tid=" in line]
        assert len(ops) == 2 and "CertPoll" in ops[0] and "FAILURE badCertId" in ops[0], ops
        assert "PKCSReq" in ops[1] and "queued for approval" in ops[1], ops
        assert ops[0].split("tid=")[1].split()[0] == ops[1].split("tid=")[1].split()[0]
        txn = rec(img, "tp/lab/pending")
        assert b"unconfirmed" not in txn  # the CA has answered: an ordinary pending request
        for req in server.pending():
            server.approve(req["id"])
        out, _ = run(img, [clock, ""])
        assert "%CRYPTO-6-CERTRET" in out, out[-2000:]
        assert "tp/lab/pending" not in records(img)
        n, serial = identity(img)
        assert serial is not None
        print("\nenroll cut at flash operation %d (record whole, nothing sent): polled, "
              "re-sent, granted" % (found - w0))


# ---------------------------------------------------------------- auto-renewal with regenerate

RENEW = """
import json
from upki import cli, trustpoint, autoenroll
router, session, msgs = cli.boot(b)
router.clock.set(%(now)d, "test")
tp = trustpoint.get("lab")
old = bytes(tp.certificate("cert").der)
w0 = b.bdev.writes + b.bdev.erases
b.bdev.cut_after = (w0 + %(cut)d) if %(cut)d >= 0 else 0
for i in range(40):
    autoenroll._tick(router)
    c = tp.certificate("cert")
    if c is not None and bytes(c.der) != old:
        break
print(json.dumps({"writes": b.bdev.writes + b.bdev.erases - w0,
                  "renewed": bytes(tp.certificate("cert").der) != old}))
"""

# after a cut, in one board process (ARGS = {"recover", "old", "now"} is prepended):
# boot and the boot hooks, as cli.console runs them; the console's view of the identity
# and configuration; then, when the certificate in use is still the old one and
# ARGS["recover"], the board's background tasks as its main loop runs them (the
# auto-enroll check, the poll of a request the cut left pending), time passing between
# the checks, until the renewal is done
AFTER_CUT = """
import json
from binascii import hexlify, unhexlify
from upki import cli, config, trustpoint
from upki.keys import KeyStore
router, session, msgs = cli.boot(b)
for hook in config.boot_hooks:  # as cli.console runs them after boot
    hook(router)
console = "\\n".join(msgs + router.pending_log) + "\\n"
for line in ("show crypto key mypubkey rsa", "show crypto ca certificates",
             "show running-config"):
    console += "#" + line + "\\n" + session.execute(line)
tp = trustpoint.get("lab")
der = bytes(tp.certificate("cert").der)
n = KeyStore(router.nvram).load("r1key").key.n
pending = tp.has("pending")
renewed = None
if ARGS["recover"] and der == unhexlify(ARGS["old"]):
    from upki import autoenroll
    router.clock.set(ARGS["now"], "test")
    for i in range(40):
        for task in list(config.background):
            task(router)
        st = autoenroll._states.get("lab")
        if st is not None:
            st.next_ms = None
        c = tp.certificate("cert")
        if c is not None and bytes(c.der) != der:
            break
    renewed = bytes(tp.certificate("cert").der) != der
print(json.dumps({"console": console, "cert": str(hexlify(der), "ascii"), "n": "%x" % n,
                  "pending": pending, "renewed": renewed}))
"""


def test_power_cut_campaign_auto_renewal_with_regenerate(tmp_path):
    """The whole renewal of `auto-enroll 70 regenerate` (new 1024-bit key, request,
    the certificate granted, the swap), cut at EVERY flash operation of it (CAMPAIGN_STRIDE=k
    in the environment cuts at every k-th only, the first and the last included, for a
    quick run). (tests/test_autoenroll_powercut.py cuts at every write of the swap alone,
    with none, half and all of the cut write reaching flash.) After each cut the board
    boots clean (`show crypto key mypubkey rsa`, `show crypto ca certificates`, `show
    running-config` on its console) with the old identity or the new one, the
    certificate for the key in use, a running-config equal to the one before the
    renewal or the one after it (its certificate chain naming the certificate in use),
    and the next auto-enroll ticks (no operator action) complete the renewal."""
    import json

    from autoenroll_board import (ca_chain_lines, cert_of, key_of as ae_key_of, key_record,
                                  make_image, port_snippet, same_key, startup_config)
    from autoenroll_board import trustpoint_lines as ae_tp_lines
    from test_autoenroll_powercut import ENROLL

    def snippet(code, img, **kw):
        r = port_snippet(code % kw, img, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout.strip().splitlines()[-1])

    t_start = time.monotonic()
    now = int(time.time())
    renew_at = now + int(17.5 * 3600)
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", days=1) as server:
        cfg = startup_config(None, [(
            ae_tp_lines("lab", server.url, auto="auto-enroll 70 regenerate",
                        keypair="r1key 1024"),
            ca_chain_lines("lab", server.ca.ca_cert))])
        base = make_image(tmp_path / "base.img", cfg, [("r1key", key_record())])
        assert snippet(ENROLL, base, now=now)["cert"]
        old_serial = cert_of(base).serial_number
        old_n = ae_key_of(base, "r1key").public_key().public_numbers().n
        server.responder.days = 30
        whole = tmp_path / "whole.img"
        shutil.copy(base, whole)
        got = snippet(RENEW, whole, now=renew_at, cut=-1)
        assert got["renewed"], got
        writes = got["writes"]
        assert cert_of(whole).serial_number != old_serial
        der_old = rec(base, "tp/lab/cert")

        def after_cut(img, recover):
            """Boot img: (its console output, certificate DER, key modulus, pending
            record left, renewed by the background tasks or None)."""
            args = {"recover": recover, "old": der_old.hex(), "now": renew_at}
            r = port_snippet("ARGS = %r\n" % args + AFTER_CUT, img, timeout=120)
            assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
            got = json.loads(r.stdout.strip().splitlines()[-1])
            _check_clean(got["console"], img)
            assert "Key name: r1key" in got["console"], got["console"][-1500:]
            return (got["console"], bytes.fromhex(got["cert"]), int(got["n"], 16),
                    got["pending"], got["renewed"])

        # the configuration before and after the renewal, as a boot shows it
        console, der, _n, _p, _r = after_cut(base, False)
        rest_old, der_cfg = _board_cert_block(running_config(console))
        assert der_cfg == der == der_old
        console, der, _n, _p, _r = after_cut(whole, False)
        rest_new, der_cfg = _board_cert_block(running_config(console))
        assert rest_new == rest_old and der_cfg == der == rec(whole, "tp/lab/cert")
        # cut=k tears the k-th flash operation of the renewal (1 .. writes): every one
        cuts = sorted(set(range(1, writes + 1, STRIDE)) | {writes})
        assert cuts[0] == 1 and cuts[-1] == writes
        def one_cut(cut):
            """Cut at flash operation `cut`, boot, check, recover: ("old" or "new"
            identity after the boot, a pending request was resumed)."""
            img = tmp_path / ("cut%d.img" % cut)
            shutil.copy(base, img)
            r = port_snippet(RENEW % {"now": renew_at, "cut": cut}, img, tear=float(TEAR))
            assert "%POWER-CUT" in r.stdout, (cut, r.stdout[-1500:], r.stderr[-1500:])
            assert "Traceback" not in r.stdout.split("%POWER-CUT")[0], (cut, r.stdout)
            console, der, n, pending, renewed = after_cut(img, True)
            cert = x509.load_der_x509_certificate(der)
            # the certificate in use is for the key in use
            assert cert.public_key().public_numbers().n == n, cut
            # the configuration is the one before the renewal, but for the certificate
            # chain, which holds the certificate in use (the old one or the new one)
            rest, der_cfg = _board_cert_block(running_config(console))
            assert rest == rest_old, (cut, rest[:1500])
            assert der_cfg == der, cut
            # (a running-config of the old identity with the new certificate, or the
            # reverse, fails here)
            if cert.serial_number == old_serial:
                assert n == old_n and der == der_old, cut
                # recovery by itself: the background tasks renewed (or finished the
                # request the cut left pending)
                assert renewed, (cut, pending)
                assert same_key(cert_of(img), ae_key_of(img, "r1key"))
                assert cert_of(img).serial_number != old_serial
                left = [n for n in records(img) if n.endswith((".new", "/swap"))]
                assert not left, (cut, left)  # nothing of the cut attempt is left over
                outcome = "old"
            else:
                assert n != old_n and der != der_old and renewed is None, cut
                outcome = "new"
            img.unlink()
            return outcome, bool(pending)

        # JOBS cuts at once, each on its own copy of the image (the lab CA serves them
        # all; its state is locked)
        with ThreadPoolExecutor(JOBS) as pool:
            results = list(pool.map(one_cut, cuts))
        outcomes = [o for o, _p in results]
        resumed = sum(p for _o, p in results)
        configs = {"old": outcomes.count("old"), "new": outcomes.count("new")}
    took = time.monotonic() - t_start
    FIGURES["auto-renewal"] = len(cuts)
    print("\nauto-renewal with regenerate: %d flash operations, %d cut points survived "
          "(identity and running-config: %d old, %d new; %d pending requests resumed) "
          "in %.1f s, %d at once" % (writes, len(cuts), configs["old"], configs["new"], resumed,
                                     took, JOBS))
    assert outcomes[0] == "old" and outcomes[-1] in ("old", "new"), outcomes
    if STRIDE == 1:
        assert len(cuts) == writes
    assert took < BUDGET, took


def _board_cert_block(cfg):
    """(the running-config with the board's own certificate block cut out, that
    certificate's DER) from `crypto ca certificate chain` (` certificate SERIAL`, hex
    lines, `  quit`; the CA's ` certificate ca SERIAL` block stays in the text)."""
    rest, hexes, inside = [], [], False
    for line in cfg.split("\n"):
        if inside:
            if line.strip() == "quit":
                inside = False
            else:
                hexes.append(line.replace(" ", ""))
            continue
        m = re.match(r"^ certificate ([0-9A-Fa-f]+)$", line)
        if m:
            assert not hexes, "two certificates of the board in the chain"
            inside = True
            rest.append(" certificate <board>")
            continue
        rest.append(line)
    assert hexes, cfg[:1500]
    return "\n".join(rest), bytes.fromhex("".join(hexes))
