# SPDX-License-Identifier: MIT
"""The lab time server (host_tools/upki_host/timeserver.py): judged by chronyd
as a client (`chronyd -Q`, each MAC type), by raw packets for each
misbehaviour, and as the `upki-host timeserver` command."""

import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

from conftest import require_command
from host_tools.upki_host.timeserver import NTP_UNIX, TimeServer, parse_key
from mpy import ROOT

KEYS = {
    11: ("sha1", bytes(range(1, 21))),
    12: ("md5", b"upki-md5-secret!"),
    13: ("aes128cmac", bytes(range(100, 116))),
    14: ("sha256", b"a sha-256 key for chrony, 32 by"),
    15: ("sha1", bytes(20)),
}
CHRONY_TYPE = {"sha1": "SHA1", "md5": "MD5", "aes128cmac": "AES128", "sha256": "SHA256"}


def request(key_id=None, version=4):
    req = bytearray(48)
    req[0] = (version << 3) | 3
    req[40:48] = os.urandom(8)
    if key_id is not None:
        alg, secret = KEYS[key_id]
        req += struct.pack(">I", key_id) + _mac(alg, secret, bytes(req[:48]))
    return bytes(req)


def _mac(alg, secret, packet):
    # independent of the server module: hashlib and cryptography directly
    if alg == "aes128cmac":
        from cryptography.hazmat.primitives.ciphers import algorithms
        from cryptography.hazmat.primitives.cmac import CMAC

        c = CMAC(algorithms.AES(secret))
        c.update(packet)
        return c.finalize()
    return hashlib.new(alg, secret + packet).digest()[:20]


def ask(ts, req, timeout=0.3):
    """(reply bytes, source port) or (None, None)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(req, ("127.0.0.1", ts.port))
        try:
            data, addr = s.recvfrom(2048)
        except OSError:
            return None, None
        return data, addr[1]


def server_time(reply):
    sec, frac = struct.unpack_from(">II", reply, 40)
    return sec - NTP_UNIX + frac / 2**32


@pytest.fixture
def ts():
    with TimeServer(offset=0, keys=KEYS) as server:
        yield server


def test_chronyd_as_client_accepts_every_mac_and_sees_the_offset(tmp_path):
    chronyd = require_command("chronyd")
    offset = -12345.5
    keyfile = tmp_path / "keys"
    keyfile.write_text(
        "".join("%d %s HEX:%s\n" % (k, CHRONY_TYPE[a], s.hex()) for k, (a, s) in KEYS.items())
    )
    keyfile.chmod(0o600)
    with TimeServer(offset=offset, keys=KEYS) as server:
        procs = {}
        for kid in (11, 12, 13, 14):
            conf = tmp_path / ("c%d.conf" % kid)
            conf.write_text(
                "server 127.0.0.1 port %d iburst key %d maxsamples 4\nkeyfile %s\n"
                "pidfile %s\ncmdport 0\n"
                % (server.port, kid, keyfile, tmp_path / ("c%d.pid" % kid))
            )
            procs[kid] = subprocess.Popen(
                [chronyd, "-Q", "-u", "root", "-f", str(conf), "-t", "15"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        outs = {kid: p.communicate(timeout=30)[0] for kid, p in procs.items()}
    for kid, out in outs.items():
        words = out.split("System clock wrong by ")
        assert len(words) == 2, (kid, out)
        wrong = float(words[1].split()[0])
        # chrony: "wrong by X" = server minus local
        assert abs(wrong - offset) < 0.05, (kid, out)


def test_offset_and_time_travel(ts):
    t0 = time.time()
    reply, _ = ask(ts, request())
    assert reply is not None and len(reply) == 48
    assert abs(server_time(reply) - t0) < 0.5
    ts.set_offset(-86400 * 3)
    reply, _ = ask(ts, request())
    assert abs(server_time(reply) - (time.time() - 86400 * 3)) < 0.5
    assert reply[0] & 7 == 4 and reply[1] == 2


def test_authenticated_replies_are_signed_with_the_request_key(ts):
    for kid, (alg, secret) in KEYS.items():
        req = request(kid)
        reply, _ = ask(ts, req)
        assert reply is not None, kid
        assert reply[24:32] == req[40:48]
        assert struct.unpack_from(">I", reply, 48)[0] == kid
        assert reply[52:] == _mac(alg, secret, reply[:48]), kid


def test_unknown_key_or_bad_mac_gets_no_reply(ts):
    req = bytearray(request(11))
    req[-1] ^= 1
    assert ask(ts, bytes(req))[0] is None
    req = bytearray(request(11))
    struct.pack_into(">I", req, 48, 77)
    assert ask(ts, bytes(req))[0] is None
    assert ask(ts, request(11)[:50])[0] is None  # a MAC too short for any key
    assert len(ts.requests) == 3 and all(reply is None for _, reply in ts.requests)


@pytest.mark.parametrize(
    "mode, check",
    [
        ("wrong-origin", lambda req, rep, port, ts: rep[24:32] != req[40:48]),
        ("leap3", lambda req, rep, port, ts: rep[0] >> 6 == 3),
        ("kod:RATE", lambda req, rep, port, ts: rep[1] == 0 and rep[12:16] == b"RATE"),
        ("stratum16", lambda req, rep, port, ts: rep[1] == 16),
        ("bad-mac", lambda req, rep, port, ts: rep[52:] != _mac("sha1", KEYS[11][1], rep[:48])),
        (
            "wrong-key",
            lambda req, rep, port, ts: (
                struct.unpack_from(">I", rep, 48)[0] == 15
                and rep[52:] == _mac("sha1", KEYS[15][1], rep[:48])
            ),
        ),
        ("unsigned", lambda req, rep, port, ts: len(rep) == 48),
        ("truncated", lambda req, rep, port, ts: len(rep) == 40),
        ("oversized", lambda req, rep, port, ts: len(rep) == 600),
        ("other-port", lambda req, rep, port, ts: port != ts.port),
        ("mode3", lambda req, rep, port, ts: rep[0] & 7 == 3),
    ],
)
def test_misbehaviours(ts, mode, check):
    ts.misbehave(mode)
    req = request(11)
    reply, port = ask(ts, req)
    assert reply is not None and check(req, reply, port, ts), (mode, reply)
    ts.misbehave(None)
    reply, port = ask(ts, req)
    assert port == ts.port and len(reply) == 72 and reply[24:32] == req[40:48]


def test_silence_and_dropping(ts):
    ts.misbehave("silent")
    assert ask(ts, request())[0] is None
    ts.misbehave(None, drop=2)
    assert ask(ts, request())[0] is None
    assert ask(ts, request())[0] is None
    assert ask(ts, request())[0] is not None


def test_bad_configuration_refused():
    with pytest.raises(ValueError):
        TimeServer(host="0.0.0.0")
    with pytest.raises(ValueError):
        TimeServer(port=0).misbehave("explode")
    assert parse_key("7:cmac-aes128:" + "00" * 16) == (7, ("aes128cmac", bytes(16)))
    for bad in ("7:sha1", "x:sha1:00", "7:sha512:00", "7:aes128cmac:0011", "0:md5:00", "7:md5:zz"):
        with pytest.raises(ValueError):
            parse_key(bad)


def test_command_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "host_tools.upki_host.cli", "timeserver"]
    bad = subprocess.run(
        cmd + ["--key", "1:sha9:00"], capture_output=True, text=True, env=env, timeout=30
    )
    assert bad.returncode == 2 and bad.stderr.startswith("upki-host timeserver: error: key ")
    assert "Traceback" not in bad.stderr
    p = subprocess.Popen(
        cmd + ["--port", "0", "--offset", "3600", "--key", "11:sha1:" + KEYS[11][1].hex()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = p.stdout.readline()
        assert line.startswith("timeserver: serving 127.0.0.1:"), line + p.stderr.read()
        port = int(line.split(":")[2].split(",")[0])
        assert "offset +3600.000 s, 1 key" in line

        class Where:
            pass

        where = Where()
        where.port = port
        req = request(11)
        reply, _ = ask(where, req, timeout=2)
        assert reply is not None and struct.unpack_from(">I", reply, 48)[0] == 11
        assert abs(server_time(reply) - time.time() - 3600) < 1
    finally:
        os.kill(p.pid, signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert "timeserver: stopped after 1 requests" in out
