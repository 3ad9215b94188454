# SPDX-License-Identifier: MIT
# NTPv4 client (RFC 5905, client/server mode) for a board without a clock.
#
#   query(addr, port=123, key=None, timeout=2, now=None, retries=2, cache=None,
#         kissed=None) -> Sample (upki.clock.Sample)
#   parse_reply(packet, sent_ts, key=None, t1=0, t4=0) -> Sample
#
# The module keeps no state (the console unloads it between syncs): the
# kiss-o'-death memory is a dict the caller keeps (upki.ntp keeps one).
#
# Every refusal raises upki.errors.ClockError with a reason; nothing else
# escapes for a bad packet. A key is (key_id, alg, key_bytes), alg one of
# 'md5', 'sha1', 'sha256', 'aes128cmac' (RFC 5905 MAC = digest(key || packet),
# SHA-256 cut to 20 bytes as NTPv4 MACs must be and as chrony sends it, or
# AES-CMAC per RFC 8573). With a key, only a reply carrying a valid MAC under
# that key counts.
#
# Times are integers in microseconds since 1970-01-01 UTC, so a board whose
# floats are single precision keeps sub-second precision. `now()` is the
# caller's local clock: an int of microseconds (an int below 10**11 counts as
# seconds, like time.time() on an integer-only port), or a float of seconds;
# the request-to-reply interval is measured with ticks_us, not with now().
import struct
from micropython import const

from upki.clock import Sample  # noqa: F401  (what query returns)
from upki.errors import ClockError

_NTP_TO_UNIX = 2208988800  # seconds from 1900-01-01 to 1970-01-01
_HEADER = const(48)
_MAX_PACKET = const(256)
_MODE_CLIENT = const(3)
_MODE_SERVER = const(4)
_VERSION = const(4)
_MAX_STRATUM = const(16)
_MAX_ROOT_DISTANCE_US = const(16000000)  # generous: refuse only clearly broken servers

MAC_SIZES = {"md5": 16, "sha1": 20, "sha256": 20, "aes128cmac": 16}

try:
    from time import ticks_add, ticks_diff, ticks_ms, ticks_us
except ImportError:  # CPython (host tools, tests)
    import time as _time

    def ticks_us():
        return _time.monotonic_ns() // 1000

    def ticks_ms():
        return _time.monotonic_ns() // 1000000

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b


def _refuse(reason, kiss=None):
    e = ClockError(reason)
    e.reason = reason
    e.kiss = kiss
    return e


# --- keys and MACs ---


def check_key(key):
    """Validate a (key_id, alg, key_bytes) triple; raise ClockError if unusable."""
    try:
        key_id, alg, secret = key
    except (TypeError, ValueError):
        raise _refuse("NTP key must be (key_id, alg, key_bytes)") from None
    if not isinstance(key_id, int) or not 0 < key_id < 0x100000000:
        raise _refuse("NTP key id %r out of range 1..4294967295" % (key_id,))
    if alg not in MAC_SIZES:
        raise _refuse("NTP key %d: unknown algorithm %r (md5, sha1, sha256, aes128cmac)"
                      % (key_id, alg))
    if alg == "aes128cmac" and len(secret) != 16:
        raise _refuse("NTP key %d: aes128cmac needs 16 bytes, got %d" % (key_id, len(secret)))
    if not secret:
        raise _refuse("NTP key %d is empty" % key_id)


def mac(key, packet):
    """The MAC field (without the key id) for packet under key."""
    _, alg, secret = key
    if alg == "aes128cmac":
        from upki.cmac import aes_cmac

        return aes_cmac(secret, packet)
    import hashlib

    try:
        h = getattr(hashlib, alg)(bytes(secret))
    except AttributeError:
        raise _refuse("%s is not available on this board" % alg) from None
    h.update(packet)
    d = h.digest()
    return d if len(d) <= 20 else d[:20]


def _equal(a, b):
    # Constant-time comparison, so a forger learns nothing from timing.
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0


# --- timestamps ---


def _ntp_to_us(sec, frac):
    # NTP era from the top bit: 1968-2036 (era 0) when set, 2036-2104 (era 1)
    # when clear, so the 2036 rollover needs no wall clock to resolve.
    if not sec & 0x80000000:
        sec += 0x100000000
    return (sec - _NTP_TO_UNIX) * 1000000 + ((frac * 1000000) >> 32)


def _us_from_now(value):
    # now() may give microseconds (int) or seconds (float, or a small int).
    if isinstance(value, float):
        return int(value * 1000000)
    if value < 100000000000:  # below year 5138 in seconds, below 1970+28 h in us
        return value * 1000000
    return value


def _default_now():
    import time

    try:
        us = time.time_ns() // 1000
    except AttributeError:
        us = int(time.time()) * 1000000
    if time.gmtime(0)[0] == 2000:  # bare-metal ports count from 2000
        us += 946684800000000
    return us


def _refid_text(stratum, refid):
    if stratum <= 1:
        # a kiss code (stratum 0) or a reference source name (stratum 1): ASCII
        return "".join(chr(b) for b in refid if 32 < b < 127)
    return "%d.%d.%d.%d" % (refid[0], refid[1], refid[2], refid[3])


# --- the packet layer (pure, no network) ---


def build_request(buf, key=None):
    """Fill buf (bytearray of request_size(key)) with a client request whose
    transmit timestamp is random; return that 8-byte timestamp."""
    import os

    for i in range(_HEADER):
        buf[i] = 0
    buf[0] = (_VERSION << 3) | _MODE_CLIENT
    ts = bytearray(os.urandom(8))
    ts[7] |= 1  # never zero (zero means "no timestamp"), and no retry loop
    buf[40:48] = ts
    if key is not None:
        struct.pack_into(">I", buf, _HEADER, key[0])
        buf[_HEADER + 4:] = mac(key, memoryview(buf)[:_HEADER])
    return ts


def request_size(key=None):
    return _HEADER if key is None else _HEADER + 4 + MAC_SIZES[key[1]]


def parse_reply(packet, sent_ts, key=None, t1=0, t4=0):
    """Check a server reply against our request and compute offset and delay.

    sent_ts: the 8-byte transmit timestamp of our request; t1, t4: the local
    clock (us) when the request left and the reply arrived. Raises ClockError
    (with .reason, and .kiss for a kiss-o'-death) for anything unacceptable."""
    size = len(packet)
    if size < _HEADER:
        raise _refuse("short packet (%d bytes, need %d)" % (size, _HEADER))
    if size > _MAX_PACKET:
        raise _refuse("oversized packet (%d bytes)" % size)
    b0 = packet[0]
    leap = b0 >> 6
    version = (b0 >> 3) & 7
    mode = b0 & 7
    if mode != _MODE_SERVER:
        raise _refuse("mode %d, not a server reply (mode 4)" % mode)
    if version not in (3, 4):
        raise _refuse("NTP version %d not supported" % version)
    if not _equal(packet[24:32], sent_ts):
        raise _refuse("origin timestamp does not match our request (stale or forged reply)")
    key_id = _check_mac(packet, size, key)
    stratum = packet[1]
    refid = packet[12:16]
    if stratum == 0:
        code = _refid_text(0, refid)
        raise _refuse("kiss-o'-death %s" % (code or "(empty)"), kiss=code)
    if leap == 3:
        raise _refuse("server not synchronised (leap indicator 3)")
    if stratum >= _MAX_STRATUM:
        raise _refuse("server not synchronised (stratum %d)" % stratum)
    root_delay, root_disp = struct.unpack_from(">II", packet, 4)
    r_sec, r_frac, x_sec, x_frac = struct.unpack_from(">IIII", packet, 32)
    if not (x_sec or x_frac):
        raise _refuse("zero transmit timestamp")
    if not (r_sec or r_frac):
        raise _refuse("zero receive timestamp")
    root_delay_us = (root_delay * 1000000) >> 16
    root_disp_us = (root_disp * 1000000) >> 16
    distance = root_delay_us // 2 + root_disp_us
    if distance > _MAX_ROOT_DISTANCE_US:
        raise _refuse("root distance %d ms too large" % (distance // 1000))
    t2 = _ntp_to_us(r_sec, r_frac)
    t3 = _ntp_to_us(x_sec, x_frac)
    if t3 < t2:
        raise _refuse("server transmit time precedes its receive time")
    delay = (t4 - t1) - (t3 - t2)
    if delay < 0:  # clock granularity on a loopback exchange
        delay = 0
    offset = ((t2 - t1) + (t3 - t4)) // 2
    poll = packet[2]
    precision = packet[3] - 256 if packet[3] > 127 else packet[3]
    return Sample(offset, delay, stratum, _refid_text(stratum, refid), leap, poll, precision,
                  root_delay_us, root_disp_us, key_id, t4 + offset)


def _check_mac(packet, size, key):
    extra = size - _HEADER
    if key is None:
        # Unauthenticated: the bare header, or a MAC we are not asked to check.
        if extra not in (0, 4 + 16, 4 + 20):
            raise _refuse("bad packet length %d" % size)
        return None
    key_id = key[0]
    want = 4 + MAC_SIZES[key[1]]
    if extra == 0:
        raise _refuse("unauthenticated reply, key %d required" % key_id)
    if extra == 4:
        raise _refuse("crypto-NAK: server does not accept key %d" % key_id)
    if extra != want:
        raise _refuse("bad packet length %d for a %s MAC" % (size, key[1]))
    got_id = struct.unpack_from(">I", packet, _HEADER)[0]
    if got_id != key_id:
        raise _refuse("reply signed with key %d, not %d" % (got_id, key_id))
    if not _equal(mac(key, memoryview(packet)[:_HEADER]), packet[_HEADER + 4:]):
        raise _refuse("bad MAC (key %d)" % key_id)
    return key_id


def _peer(sockaddr):
    # getaddrinfo/recvfrom give a tuple on bare-metal ports and CPython, a raw
    # sockaddr on the Unix port; reduce both to something comparable.
    if isinstance(sockaddr, (tuple, list)):
        return (sockaddr[0], sockaddr[1])
    raw = bytes(sockaddr)
    if len(raw) >= 8 and raw[0] + raw[1] * 256 in (2, 512):  # AF_INET, either byte order
        return raw[2:8]
    return raw[2:4] + raw[8:24]  # AF_INET6: port and address


def check_source(expected, got):
    if _peer(expected) != _peer(got):
        raise _refuse("reply from an unexpected address %s" % (_peer_text(got),))


def _peer_text(sockaddr):
    p = _peer(sockaddr)
    if isinstance(p, tuple):
        return "%s:%d" % p
    if len(p) == 6:
        return "%d.%d.%d.%d:%d" % (p[2], p[3], p[4], p[5], p[0] * 256 + p[1])
    return repr(p)


# --- kiss-o'-death memory (RFC 5905 7.4) ---
# kissed: the caller's dict, (addr, port) -> [code, until_ms or None, backoff_s]

_RATE_FIRST_S = const(64)
_RATE_MAX_S = const(4096)


def reset(kissed, addr=None, port=123):
    """Forget kiss-o'-death state: for one server, or for all."""
    if addr is None:
        kissed.clear()
    else:
        kissed.pop((addr, port), None)


def status(kissed, addr, port=123):
    """None when the server may be asked; else (code, seconds to wait or None)."""
    k = kissed.get((addr, port))
    if k is None:
        return None
    if k[1] is None:
        return (k[0], None)
    left = ticks_diff(k[1], ticks_ms())
    if left <= 0:
        return None
    return (k[0], (left + 999) // 1000)


def _note_kiss(kissed, addr, port, code):
    k = kissed.get((addr, port))
    if code in ("DENY", "RSTR"):
        kissed[(addr, port)] = [code, None, 0]
    elif code == "RATE":
        backoff = _RATE_FIRST_S if k is None or not k[2] else min(k[2] * 2, _RATE_MAX_S)
        kissed[(addr, port)] = [code, ticks_add(ticks_ms(), backoff * 1000), backoff]


# --- the network exchange ---


def query(addr, port=123, key=None, timeout=2, now=None, retries=2, cache=None, kissed=None):
    """Ask one server for the time; return a Sample or raise ClockError.

    Sends at most retries + 1 requests, each with a fresh random transmit
    timestamp, and waits up to `timeout` seconds for a valid reply to each,
    all within (retries + 1) * timeout seconds, the name lookup included
    (made once; cache: a dict to share lookups between queries); invalid
    packets are dropped (the last reason is reported if no valid reply
    comes). Honours kiss-o'-death when given kissed (a dict kept between
    queries): DENY/RSTR stop queries to that server until reset(), RATE
    backs off (64 s, doubling to 4096 s)."""
    import select
    import socket

    from upki import net

    server = addr if port == 123 else "%s:%d" % (addr, port)
    if kissed is None:
        kissed = {}
    st = status(kissed, addr, port)
    if st is not None:
        code, wait = st
        if wait is None:
            raise _refuse("NTP server %s refused service (kiss-o'-death %s); not asking it again"
                          % (server, code), kiss=code)
        raise _refuse("NTP server %s asked us to slow down (kiss-o'-death %s); next try in %d s"
                      % (server, code, wait), kiss=code)
    if key is not None:
        check_key(key)
    if now is None:
        now = _default_now
    wait_ms = int(timeout * 1000)
    end = ticks_add(ticks_ms(), wait_ms * (retries + 1))
    try:
        af, dest = net.address(addr, port, end, cache,
                               lambda t: _refuse("NTP server %s: %s" % (server, t)))
    except OSError as e:
        raise _refuse("NTP server %s: cannot resolve (%s)" % (server, e)) from None
    sock = socket.socket(af, socket.SOCK_DGRAM)
    try:
        # poll says when to read, the read itself never waits: on Linux poll may
        # report a datagram the kernel then drops (a bad UDP checksum), and a
        # blocking recvfrom would wait past every deadline for the next one
        sock.setblocking(False)
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        req = bytearray(request_size(key))
        last = "no reply"
        sent = 0
        for _ in range(retries + 1):
            left = ticks_diff(end, ticks_ms())
            if left <= 0:
                break
            sent_ts = build_request(req, key)
            t1 = _us_from_now(now())
            start = ticks_us()
            try:
                sock.sendto(req, dest)
            except OSError as e:
                last = "send failed (%s)" % e
                continue
            sent += 1
            deadline = ticks_add(ticks_ms(), min(wait_ms, left))
            while True:
                left = ticks_diff(deadline, ticks_ms())
                if left <= 0:
                    last = "no valid reply within %s s" % timeout if last == "no reply" else last
                    break
                if not poller.poll(left):
                    continue
                try:
                    packet, source = sock.recvfrom(_MAX_PACKET + 1)
                except OSError as e:
                    import errno

                    if e.args and e.args[0] == errno.EAGAIN:
                        continue  # nothing to read after all: no reply yet, same deadline
                    last = "receive failed (%s)" % e  # ECONNREFUSED, ...
                    continue
                t4 = t1 + ticks_diff(ticks_us(), start)
                try:
                    check_source(dest, source)
                    sample = parse_reply(packet, sent_ts, key, t1, t4)
                except ClockError as e:
                    if e.kiss in ("DENY", "RSTR", "RATE"):
                        _note_kiss(kissed, addr, port, e.kiss)
                        why = "NTP server %s: %s" % (server, e.reason)
                        raise _refuse(why, kiss=e.kiss) from None
                    last = e.reason
                    continue
                sample.server = server
                sample.received_ms = ticks_ms()
                kissed.pop((addr, port), None)
                return sample
        raise _refuse("NTP server %s: no usable reply to %d request%s (%s)"
                      % (server, sent, "" if sent == 1 else "s", last))
    finally:
        sock.close()
