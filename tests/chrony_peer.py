# SPDX-License-Identifier: MIT
"""A real NTP server for the tests: chronyd on 127.0.0.1, a free high port,
never touching the host clock (-x), with a generated keyfile (PEERS.md).

    with chrony_peer.running(tmp_dir, chronyd_path) as peer:
        peer.port, peer.keys   # keys: {name: (key_id, alg, key_bytes)}
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

# name -> (key id, chrony type, upki.sntp alg, key bytes)
KEYS = {
    "sha1": (11, "SHA1", "sha1", bytes(range(1, 21))),
    "md5": (12, "MD5", "md5", b"upki-md5-secret!"),
    "aes128cmac": (13, "AES128", "aes128cmac", bytes(range(100, 116))),
    "sha256": (14, "SHA256", "sha256", b"a sha-256 key for chrony, 32 by"),
}


class Peer:
    def __init__(self, port, proc, directory):
        self.host = "127.0.0.1"
        self.port = port
        self.proc = proc
        self.dir = directory
        self.keys = {name: (kid, alg, secret) for name, (kid, _, alg, secret) in KEYS.items()}


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(port, timeout=0.2):
    """True when an NTP server answers a plain client request on port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        req = bytearray(48)
        req[0] = 0x23
        req[40:48] = os.urandom(8)
        try:
            s.sendto(req, ("127.0.0.1", port))
            data, _ = s.recvfrom(512)
        except OSError:
            return False
        return len(data) >= 48 and data[24:32] == req[40:48]


@contextlib.contextmanager
def running(directory, chronyd="/usr/sbin/chronyd", start_timeout=5.0):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    keyfile = directory / "chrony.keys"
    keyfile.write_text(
        "".join("%d %s HEX:%s\n" % (kid, typ, key.hex()) for kid, typ, _, key in KEYS.values())
    )
    keyfile.chmod(0o600)
    last_err = ""
    for _ in range(3):  # another process may grab the port between probe and bind
        port = free_udp_port()
        conf = directory / "chrony.conf"
        conf.write_text(
            "port %d\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 8\n"
            "keyfile %s\npidfile %s\ncmdport 0\n"
            % (port, keyfile, directory / "chronyd.pid")
        )
        log = open(directory / "chronyd.log", "wb")
        proc = subprocess.Popen(
            [chronyd, "-x", "-d", "-u", "root", "-F", "0", "-f", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if probe(port):
                break
            time.sleep(0.02)
        if proc.poll() is None and probe(port):
            try:
                yield Peer(port, proc, directory)
            finally:
                _stop(proc)
            return
        _stop(proc)
        last_err = (directory / "chronyd.log").read_text(errors="replace")[-2000:]
    raise RuntimeError("chronyd did not answer on 127.0.0.1:\n" + last_err)


def _stop(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
