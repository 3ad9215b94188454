# SPDX-License-Identifier: MIT
"""A lab SNTP server on 127.0.0.1 whose time can be shifted ("time travel").

It answers NTPv3/v4 client requests (RFC 5905 server mode) with the host
clock plus an offset the tests set, signs replies with the same symmetric
keys as chrony (MAC = digest(key || packet) for MD5, SHA-1, SHA-256 cut to
20 bytes; AES-128-CMAC per RFC 8573), and, for attack tests, misbehaves on
request.

    with TimeServer(offset=-86400, keys={11: ("sha1", key)}) as ts:
        ts.port; ts.set_offset(3600); ts.misbehave("leap3"); ts.requests

    upki-host timeserver --port 11123 --offset -86400 --key 11:sha1:HEX

Like chrony, a request with an unknown key ID or a bad MAC gets no reply.
Misbehaviours (misbehave(name) or --misbehave NAME):
    wrong-origin   origin timestamp that is not the request's
    leap3          leap indicator 3 (unsynchronised)
    kod:CODE       stratum 0 kiss-o'-death with CODE (RATE, DENY, RSTR, ...)
    stratum16      stratum 16
    bad-mac        a MAC with one bit flipped
    wrong-key      signed with another key ID (another configured key, preferably of
                   the same algorithm, or id+1)
    unsigned       no MAC even when the request had one
    truncated      the first 40 bytes only
    oversized      padded to 600 bytes
    silent         no reply at all
    other-port     the reply comes from another UDP port
    mode3          a client-mode packet instead of a server reply
"""

import argparse
import hashlib
import os
import signal
import socket
import struct
import sys
import threading
import time

NTP_UNIX = 2208988800
MAC_SIZES = {"md5": 16, "sha1": 20, "sha256": 20, "aes128cmac": 16}
ALG_NAMES = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "aes128cmac": "aes128cmac",
             "cmac-aes128": "aes128cmac", "aes128": "aes128cmac", "cmac": "aes128cmac"}
MISBEHAVIOURS = ("wrong-origin", "leap3", "stratum16", "bad-mac", "wrong-key", "unsigned",
                 "truncated", "oversized", "silent", "other-port", "mode3")


def mac(alg, key, packet, size=None):
    """The MAC for packet; size cuts a digest (SHA-256: 20 bytes on NTPv4, or all 32 as
    chrony sends it on NTPv3)."""
    if alg == "aes128cmac":
        from cryptography.hazmat.primitives.ciphers import algorithms
        from cryptography.hazmat.primitives.cmac import CMAC

        c = CMAC(algorithms.AES(key))
        c.update(packet)
        return c.finalize()
    return hashlib.new(alg, key + packet).digest()[: size or 20]


def ntp_timestamp(t):
    """8-byte NTP timestamp for t seconds since 1970 (float)."""
    sec = int(t // 1)
    frac = int((t - sec) * 2**32) & 0xFFFFFFFF
    return struct.pack(">II", (sec + NTP_UNIX) & 0xFFFFFFFF, frac)


def parse_key(text):
    """'ID:ALG:HEX' -> (id, (alg, bytes))."""
    try:
        kid, alg, hexkey = text.split(":", 2)
        kid = int(kid)
        alg = ALG_NAMES[alg.lower()]
        key = bytes.fromhex(hexkey)
    except (ValueError, KeyError):
        raise ValueError("key %r: expected ID:ALG:HEX with ALG one of md5, sha1, sha256, "
                         "aes128cmac" % text) from None
    if not 0 < kid < 2**32 or not key or (alg == "aes128cmac" and len(key) != 16):
        raise ValueError("key %r: id 1..4294967295, a non-empty key (16 bytes for aes128cmac)"
                         % text)
    return kid, (alg, key)


class TimeServer:
    def __init__(self, host="127.0.0.1", port=0, offset=0.0, keys=None, stratum=2,
                 refid=b"\x7f\x7f\x01\x01"):
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the lab time server listens on 127.0.0.1 only")
        self.offset = float(offset)
        self.keys = dict(keys or {})
        self.stratum = stratum
        self.refid = refid
        self.mode = None  # a misbehaviour, or None
        self.kiss = None
        self.drop = 0  # requests to ignore before answering again
        self.requests = []  # (request bytes, reply sent or None)
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.05)
        self.other = None
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = None

    # -- control

    def set_offset(self, seconds):
        """Serve host time + seconds from now on."""
        with self.lock:
            self.offset = float(seconds)

    def misbehave(self, mode=None, drop=0):
        """Misbehave from now on (None: behave). drop: ignore the next N requests."""
        kiss = None
        if mode is not None and mode.startswith("kod:"):
            kiss = mode[4:].upper().encode()[:4].ljust(4, b"\0")
        elif mode is not None and mode not in MISBEHAVIOURS:
            raise ValueError("unknown misbehaviour %r" % mode)
        with self.lock:
            self.mode = mode
            self.kiss = kiss
            self.drop = drop

    def now(self):
        return time.time() + self.offset

    def start(self):
        self._thread = threading.Thread(target=self._serve, name="timeserver", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        self.sock.close()
        if self.other:
            self.other.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- serving

    def _serve(self):
        while not self._stop.is_set():
            try:
                req, addr = self.sock.recvfrom(1024)
            except OSError:
                continue
            received = self.now()
            with self.lock:
                reply = self.answer(req, received)
                self.requests.append((req, reply))
                del self.requests[:-1000]
                mode = self.mode
            if reply is None:
                continue
            sock = self.sock
            if mode == "other-port":
                if self.other is None:
                    self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    self.other.bind(("127.0.0.1", 0))
                sock = self.other
            try:
                sock.sendto(reply, addr)
            except OSError:
                pass

    def answer(self, req, received):
        """The reply to one request (bytes), or None for no reply."""
        if self.drop > 0:
            self.drop -= 1
            return None
        mode = self.mode
        if mode == "silent" or len(req) < 48:
            return None
        version = (req[0] >> 3) & 7
        if req[0] & 7 != 3 or version not in (3, 4):
            return None
        key = None
        extra = len(req) - 48
        if extra:
            if extra < 4:
                return None
            kid = struct.unpack_from(">I", req, 48)[0]
            k = self.keys.get(kid)
            size = extra - 4
            if k is None or (size != MAC_SIZES[k[0]] and not (k[0] == "sha256" and size == 32)):
                return None  # as chrony: an unknown key gets no answer
            if not hmac_equal(mac(k[0], k[1], req[:48], size), req[52:]):
                return None
            key = (kid, k[0], k[1], size)
        leap, stratum, refid = 0, self.stratum, self.refid
        if mode == "leap3":
            leap = 3
        elif mode == "stratum16":
            stratum = 16
        elif self.kiss is not None:
            stratum, refid = 0, self.kiss
        pkt = bytearray(48)
        pkt[0] = (leap << 6) | (version << 3) | (3 if mode == "mode3" else 4)
        pkt[1] = stratum
        pkt[2] = req[2] or 6
        pkt[3] = 0xEC  # precision 2**-20
        struct.pack_into(">II", pkt, 4, 0x0000_0010, 0x0000_0020)  # root delay, dispersion
        pkt[12:16] = refid
        pkt[16:24] = ntp_timestamp(received - 16)
        pkt[24:32] = os.urandom(8) if mode == "wrong-origin" else req[40:48]
        pkt[32:40] = ntp_timestamp(received)
        pkt[40:48] = ntp_timestamp(self.now())
        out = bytes(pkt)
        if key is not None and mode != "unsigned":
            kid, alg, secret, size = key
            if mode == "wrong-key":
                # another key of the same algorithm when there is one: same MAC length
                others = sorted((self.keys[k][0] != alg, k) for k in self.keys if k != kid)
                others = [k for _, k in others]
                kid2 = others[0] if others else kid + 1
                alg2, secret2 = self.keys.get(kid2, (alg, secret))
                out += struct.pack(">I", kid2) + mac(alg2, secret2, out)
            else:
                m = bytearray(mac(alg, secret, out, size))
                if mode == "bad-mac":
                    m[0] ^= 1
                out += struct.pack(">I", kid) + bytes(m)
        if mode == "truncated":
            out = out[:40]
        elif mode == "oversized":
            out = out + bytes(600 - len(out))
        return out


def hmac_equal(a, b):
    import hmac

    return hmac.compare_digest(bytes(a), bytes(b))


def main(argv):
    p = argparse.ArgumentParser(prog="upki-host timeserver",
                                description="lab SNTP server on 127.0.0.1 with a time offset")
    p.add_argument("--port", type=int, default=11123, help="UDP port (default 11123; 0: any)")
    p.add_argument("--offset", type=float, default=0.0,
                   help="seconds added to the host clock (negative: the past)")
    p.add_argument("--key", action="append", default=[], metavar="ID:ALG:HEX",
                   help="a symmetric key (md5, sha1, sha256, aes128cmac); repeatable")
    p.add_argument("--stratum", type=int, default=2)
    p.add_argument("--misbehave", metavar="MODE",
                   help="one of %s, kod:CODE" % ", ".join(MISBEHAVIOURS))
    a = p.parse_args(argv[1:])
    try:
        keys = dict(parse_key(k) for k in a.key)
        if not 0 <= a.port <= 65535:
            raise ValueError("port %d out of range" % a.port)
        if not 1 <= a.stratum <= 15:
            raise ValueError("stratum %d out of range 1..15" % a.stratum)
        ts = TimeServer(port=a.port, offset=a.offset, keys=keys, stratum=a.stratum)
        ts.misbehave(a.misbehave)
    except (ValueError, OSError) as e:
        print("upki-host timeserver: error: %s" % e, file=sys.stderr)
        return 2
    ts.start()
    print("timeserver: serving 127.0.0.1:%d, offset %+.3f s, %d key%s%s" % (
        ts.port, ts.offset, len(keys), "" if len(keys) == 1 else "s",
        ", misbehaving: " + a.misbehave if a.misbehave else ""), flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    ts.stop()
    print("timeserver: stopped after %d requests" % len(ts.requests), flush=True)
    return 0
