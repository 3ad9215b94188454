# SPDX-License-Identifier: MIT
# upki.sntp packet layer on the Unix port: crafted server replies, each
# accepted or refused with its reason; offset/delay arithmetic; fuzzing.
import devtest  # first: it puts firmware/ on the path for a bare run
import os
import struct
from devtest import raises
from upki import sntp
from upki.errors import ClockError

_NTP_UNIX = 2208988800
_SHA1 = (7, "sha1", b"0123456789abcdefghij")
_MD5 = (8, "md5", b"an md5 key")
_CMAC = (9, "aes128cmac", bytes(range(16)))
_SHA256 = (10, "sha256", b"sha-256 key")


def _ntp(us):
    # unix microseconds -> (sec, frac) in NTP era 0/1
    sec = us // 1000000 + _NTP_UNIX
    frac = ((us % 1000000) << 32) // 1000000
    return sec & 0xFFFFFFFF, frac


def reply(sent_ts, t2, t3, leap=0, version=4, mode=4, stratum=2, refid=b"\xc0\xa8\x01\x01",
          key=None, key_id=None, mac=None, root_delay=0, root_disp=0):
    pkt = bytearray(48)
    pkt[0] = (leap << 6) | (version << 3) | mode
    pkt[1] = stratum
    pkt[2] = 6
    pkt[3] = 0xEC  # precision -20
    struct.pack_into(">II", pkt, 4, root_delay, root_disp)
    pkt[12:16] = refid
    pkt[16:24] = struct.pack(">II", *_ntp(t2 - 1000000))
    pkt[24:32] = sent_ts
    pkt[32:40] = struct.pack(">II", *_ntp(t2))
    pkt[40:48] = struct.pack(">II", *_ntp(t3))
    if key is not None:
        pkt.extend(struct.pack(">I", key[0] if key_id is None else key_id))
        pkt.extend(sntp.mac(key, pkt[:48]) if mac is None else mac)
    return bytes(pkt)


T1 = 1764000000 * 1000000 + 123456  # 2025-11-24, with microseconds
TS = b"\x12\x34\x56\x78\x9a\xbc\xde\xf0"


def _reason(func, *args):
    e = raises(ClockError, func, *args)
    return e.reason


def test_offset_and_delay_from_four_timestamps():
    # server clock 5.25 s ahead; 10 ms each way; server holds it 1 ms
    t2 = T1 + 5250000 + 10000
    t3 = t2 + 1000
    t4 = T1 + 21000
    s = sntp.parse_reply(reply(TS, t2, t3), TS, None, T1, t4)
    assert s.delay_us == 20000, s.delay_us
    assert abs(s.offset_us - 5250000) <= 1, s.offset_us
    assert abs(s.offset - 5.25) < 1e-5
    assert s.stratum == 2 and s.refid == "192.168.1.1" and s.leap == 0
    assert s.precision == -20 and s.poll == 6
    assert s.key_id is None and not s.authenticated
    assert abs(s.server_us - (t4 + 5250000)) <= 1


def test_board_clock_years_behind():
    # the board believes it is 2000-01-01; the server says 2026
    local = 946684800 * 1000000
    real = 1795000000 * 1000000 + 500000
    # request takes 2 ms out, 1.9 ms back: offset = real - local + (2000 - 1900) / 2
    s = sntp.parse_reply(reply(TS, real + 2000, real + 2100), TS, None, local, local + 4000)
    assert abs(s.offset_us - (real - local + 50)) <= 1, s.offset_us
    assert s.delay_us == 3900


def test_sub_second_precision():
    for frac_us in (1, 499999, 500000, 999999):
        t2 = T1 + frac_us
        s = sntp.parse_reply(reply(TS, t2, t2), TS, None, T1, T1)
        assert abs(s.offset_us - frac_us) <= 1, (frac_us, s.offset_us)


def test_era_1_after_2036():
    t = (2085978496 + 100) * 1000000  # 2036-02-07 06:28:16 UTC is NTP second 2^32
    s = sntp.parse_reply(reply(TS, t, t), TS, None, t, t)
    assert abs(s.offset_us) <= 1, s.offset_us


def test_negative_delay_clamped():
    s = sntp.parse_reply(reply(TS, T1 + 100, T1 + 5000), TS, None, T1, T1 + 10)
    assert s.delay_us == 0


def test_wrong_origin_refused():
    r = _reason(sntp.parse_reply, reply(b"\x00" * 8, T1, T1), TS, None, T1, T1)
    assert "origin timestamp" in r


def test_leap_3_refused():
    r = _reason(sntp.parse_reply, reply(TS, T1, T1, leap=3), TS, None, T1, T1)
    assert "leap indicator 3" in r
    for leap in (1, 2):  # leap second warnings are fine
        assert sntp.parse_reply(reply(TS, T1, T1, leap=leap), TS, None, T1, T1).leap == leap


def test_kiss_of_death_codes():
    for code in ("RATE", "DENY", "RSTR", "INIT"):
        e = raises(ClockError, sntp.parse_reply,
                   reply(TS, T1, T1, stratum=0, refid=code.encode()), TS, None, T1, T1)
        assert e.kiss == code, e.kiss
        assert code in e.reason and "kiss-o'-death" in e.reason


def test_stratum_16_and_above_refused():
    for stratum in (16, 17, 255):
        r = _reason(sntp.parse_reply, reply(TS, T1, T1, stratum=stratum), TS, None, T1, T1)
        assert "stratum %d" % stratum in r
    assert sntp.parse_reply(reply(TS, T1, T1, stratum=15), TS, None, T1, T1).stratum == 15
    s = sntp.parse_reply(reply(TS, T1, T1, stratum=1, refid=b"GPS\x00"), TS, None, T1, T1)
    assert s.refid == "GPS"


def test_wrong_mode_refused():
    for mode in (0, 1, 2, 3, 5, 6, 7):
        r = _reason(sntp.parse_reply, reply(TS, T1, T1, mode=mode), TS, None, T1, T1)
        assert "mode %d" % mode in r


def test_wrong_version_refused():
    for version in (0, 1, 2, 5, 7):
        r = _reason(sntp.parse_reply, reply(TS, T1, T1, version=version), TS, None, T1, T1)
        assert "version %d" % version in r
    assert sntp.parse_reply(reply(TS, T1, T1, version=3), TS, None, T1, T1)


def test_short_packets_refused():
    good = reply(TS, T1, T1)
    for n in range(48):
        r = _reason(sntp.parse_reply, good[:n], TS, None, T1, T1)
        assert "short packet (%d bytes" % n in r


def test_odd_lengths_refused():
    good = reply(TS, T1, T1)
    for extra in (1, 4, 12, 19, 21, 25, 100):
        r = _reason(sntp.parse_reply, good + bytes(extra), TS, None, T1, T1)
        assert "bad packet length" in r
    r = _reason(sntp.parse_reply, good + bytes(300), TS, None, T1, T1)
    assert "oversized" in r


def test_zero_timestamps_refused():
    pkt = bytearray(reply(TS, T1, T1))
    pkt[40:48] = bytes(8)
    assert "zero transmit" in _reason(sntp.parse_reply, pkt, TS, None, T1, T1)
    pkt = bytearray(reply(TS, T1, T1))
    pkt[32:40] = bytes(8)
    assert "zero receive" in _reason(sntp.parse_reply, pkt, TS, None, T1, T1)


def test_transmit_before_receive_refused():
    r = _reason(sntp.parse_reply, reply(TS, T1 + 10, T1), TS, None, T1, T1)
    assert "precedes" in r


def test_root_distance_refused():
    r = _reason(sntp.parse_reply, reply(TS, T1, T1, root_disp=20 << 16), TS, None, T1, T1)
    assert "root distance" in r


def test_each_mac_accepted():
    for key in (_SHA1, _MD5, _CMAC, _SHA256):
        s = sntp.parse_reply(reply(TS, T1, T1, key=key), TS, key, T1, T1)
        assert s.key_id == key[0] and s.authenticated


def test_mac_sizes():
    assert len(sntp.mac(_SHA1, bytes(48))) == 20
    assert len(sntp.mac(_MD5, bytes(48))) == 16
    assert len(sntp.mac(_CMAC, bytes(48))) == 16
    assert len(sntp.mac(_SHA256, bytes(48))) == 20


def test_bad_mac_refused():
    for key in (_SHA1, _MD5, _CMAC, _SHA256):
        good = bytearray(reply(TS, T1, T1, key=key))
        for pos in (0, 10, 33, len(good) - 1):
            bad = bytearray(good)
            bad[pos] ^= 1
            r = _reason(sntp.parse_reply, bad, TS, key, T1, T1)
            assert "bad MAC" in r or "origin" in r or "mode" in r, r
        bad = bytearray(good)
        bad[-1] ^= 0x80
        assert "bad MAC (key %d)" % key[0] in _reason(sntp.parse_reply, bad, TS, key, T1, T1)


def test_mac_under_another_key_refused():
    other = (_SHA1[0], "sha1", b"not the right secret")
    r = _reason(sntp.parse_reply, reply(TS, T1, T1, key=other), TS, _SHA1, T1, T1)
    assert "bad MAC" in r


def test_wrong_key_id_refused():
    r = _reason(sntp.parse_reply, reply(TS, T1, T1, key=_SHA1, key_id=99), TS, _SHA1, T1, T1)
    assert "key 99, not 7" in r


def test_unauthenticated_reply_refused_when_key_set():
    r = _reason(sntp.parse_reply, reply(TS, T1, T1), TS, _SHA1, T1, T1)
    assert "unauthenticated reply, key 7 required" in r


def test_crypto_nak_refused():
    pkt = reply(TS, T1, T1) + bytes(4)
    assert "crypto-NAK" in _reason(sntp.parse_reply, pkt, TS, _MD5, T1, T1)


def test_mac_of_other_algorithm_length_refused():
    pkt = reply(TS, T1, T1, key=_MD5)  # 16-byte MAC where SHA1 gives 20
    r = _reason(sntp.parse_reply, pkt, TS, (_MD5[0], "sha1", _MD5[2]), T1, T1)
    assert "bad packet length" in r


def test_unauthenticated_kiss_refused_when_key_set():
    pkt = reply(TS, T1, T1, stratum=0, refid=b"DENY")
    e = raises(ClockError, sntp.parse_reply, pkt, TS, _SHA1, T1, T1)
    assert e.kiss is None and "unauthenticated" in e.reason
    pkt = reply(TS, T1, T1, stratum=0, refid=b"DENY", key=_SHA1)
    assert raises(ClockError, sntp.parse_reply, pkt, TS, _SHA1, T1, T1).kiss == "DENY"


def test_source_address_checked():
    import socket

    a = socket.getaddrinfo("127.0.0.1", 12300, 0, socket.SOCK_DGRAM)[0][-1]
    b = socket.getaddrinfo("127.0.0.1", 12301, 0, socket.SOCK_DGRAM)[0][-1]
    c = socket.getaddrinfo("127.0.0.2", 12300, 0, socket.SOCK_DGRAM)[0][-1]
    sntp.check_source(a, bytes(a))
    assert "unexpected address" in raises(ClockError, sntp.check_source, a, b).reason
    assert "unexpected address" in raises(ClockError, sntp.check_source, a, c).reason
    sntp.check_source(("10.0.0.1", 123), ("10.0.0.1", 123))
    raises(ClockError, sntp.check_source, ("10.0.0.1", 123), ("10.0.0.1", 124))


def test_request_layout():
    for key in (None, _SHA1, _MD5, _CMAC):
        buf = bytearray(sntp.request_size(key))
        ts = sntp.build_request(buf, key)
        assert buf[0] == 0x23 and bytes(buf[1:40]) == bytes(39)
        assert bytes(buf[40:48]) == ts and ts != bytes(8)
        if key:
            assert struct.unpack(">I", buf[48:52])[0] == key[0]
            assert bytes(buf[52:]) == sntp.mac(key, buf[:48])
    a = bytearray(48)
    assert sntp.build_request(a) != sntp.build_request(a)  # fresh every time


def test_bad_keys_refused():
    for key in ((0, "sha1", b"x"), (1, "sha512", b"x"), (1, "aes128cmac", b"short"),
                (1, "md5", b""), (1, "sha1"), "key"):
        raises(ClockError, sntp.check_key, key)
    sntp.check_key(_CMAC)


def test_kiss_memory():
    k = {}  # the caller's memory (upki.ntp keeps one): sntp itself keeps no state
    assert sntp.status(k, "192.0.2.1") is None
    sntp._note_kiss(k, "192.0.2.1", 123, "RATE")
    assert sntp.status(k, "192.0.2.1") == ("RATE", 64)
    sntp._note_kiss(k, "192.0.2.1", 123, "RATE")
    assert sntp.status(k, "192.0.2.1") == ("RATE", 128)
    assert sntp.status(k, "192.0.2.1", 1123) is None  # per address and port
    sntp._note_kiss(k, "192.0.2.2", 123, "DENY")
    assert sntp.status(k, "192.0.2.2") == ("DENY", None)
    # refused before any packet is sent
    e = raises(ClockError, sntp.query, "192.0.2.2", 123, None, 5, kissed=k)
    assert e.kiss == "DENY" and "not asking it again" in e.reason
    e = raises(ClockError, sntp.query, "192.0.2.1", kissed=k)
    assert e.kiss == "RATE" and "next try in 128 s" in e.reason
    sntp.reset(k, "192.0.2.2")
    assert sntp.status(k, "192.0.2.2") is None and sntp.status(k, "192.0.2.1") is not None
    sntp.reset(k)
    assert sntp.status(k, "192.0.2.1") is None


def test_now_units():
    assert sntp._us_from_now(1764000000) == 1764000000000000
    assert sntp._us_from_now(1764000000.25) == 1764000000250000
    assert sntp._us_from_now(1764000000123456) == 1764000000123456
    assert sntp._default_now() > 1577836800000000  # after 2020 on the Unix port


def test_fuzz_only_clock_errors():
    # Random bytes and bit-flipped valid replies: ClockError or a Sample, nothing else.
    good = reply(TS, T1, T1 + 5, key=_CMAC)
    plain = reply(TS, T1, T1 + 5)
    n_ok = 0
    for i in range(1500):
        r = os.urandom(2)
        if i % 3 == 0:
            pkt = os.urandom(r[0] % 90)
        else:
            pkt = bytearray(good if i % 3 == 1 else plain)
            for _ in range(1 + r[1] % 3):
                j = os.urandom(2)
                pkt[j[0] % len(pkt)] ^= 1 << (j[1] % 8)
        key = _CMAC if i % 3 == 1 else None
        try:
            s = sntp.parse_reply(pkt, TS, key, T1, T1 + 10)
        except ClockError as e:
            assert e.reason
        else:
            n_ok += 1
            assert isinstance(s.offset_us, int)
    assert n_ok < 1500


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
