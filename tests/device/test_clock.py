# SPDX-License-Identifier: MIT
# upki.clock on the Unix port: when the clock becomes trusted (majority of
# servers, prefer, stratum), the floor in NVRAM (written at sync, hourly,
# loaded at boot, refusing earlier times), drift between syncs.
import devtest  # first: it puts firmware/ on the path for a bare run
import os

from devtest import raises, scratch_dir
from upki import sntp
from upki.clock import Clock, mktime_utc
from upki.errors import ClockError
from upki.nvram import NVRAM

_NOW = mktime_utc(2026, 11, 28, 12, 0, 0)
_BOOT = mktime_utc(2000, 1, 1)


class FakeBoard:
    # a board clock that only moves when the test moves it
    def __init__(self):
        self.t = float(_BOOT)

    def rtc_time(self):
        return self.t

    def set_rtc(self, t):
        self.t = t


_n = [0]


def fresh_nvram():
    _n[0] += 1
    root = "%s/clock%d_%d" % (scratch_dir(), os.getpid() if hasattr(os, "getpid") else 0, _n[0])
    try:
        os.mkdir(root)
    except OSError:
        for name in os.listdir(root):
            os.remove(root + "/" + name)
    return NVRAM(root)


def sample(board, server_time, stratum=3, delay_us=1000, prefer=False, name="s"):
    # a Sample as sntp.query would return it for a server at server_time
    off = int((server_time - board.t) * 1000000)
    s = sntp.Sample(off, delay_us, stratum, "10.0.0.1", 0, 6, -20, 0, 0, None, 0)
    s.prefer = prefer
    s.server = name
    return s


def test_untrusted_at_boot_and_require_trusted_message():
    c = Clock(FakeBoard(), fresh_nvram())
    assert not c.trusted and c.floor is None
    e = raises(ClockError, c.require_trusted, "enrollment")
    assert str(e).startswith("%PKI-2-NON_AUTHORITATIVE_CLOCK:"), e
    assert "enrollment refused" in str(e)
    assert c.show().startswith("*00:00:00.000 UTC Sat Jan 1 2000")
    assert c.show(True).endswith("\nNo time source")


def test_servers_required():
    c = Clock(FakeBoard())
    assert [c.required(n) for n in range(1, 8)] == [1, 2, 2, 3, 3, 4, 4]


def test_single_server_sync_sets_trusts_and_writes_floor():
    b = FakeBoard()
    nv = fresh_nvram()
    c = Clock(b, nv)
    chosen, group = c.sync([sample(b, _NOW + 0.25)], 1)
    assert c.trusted and c.source == "NTP"
    assert abs(b.t - (_NOW + 0.25)) < 1e-3
    assert c.floor == _NOW and nv.read_text("clock-floor").strip() == str(_NOW)
    assert c.last_offset_us == chosen.offset_us
    assert c.require_trusted() == b.t
    assert c.show(True).endswith("\nTime source is NTP") and not c.show().startswith("*")


def test_two_servers_must_both_agree():
    b = FakeBoard()
    c = Clock(b, fresh_nvram())
    e = raises(ClockError, c.sync, [sample(b, _NOW), sample(b, _NOW + 3600)], 2)
    assert "disagree" in str(e), e
    assert b.t == _BOOT and not c.trusted and c.floor is None
    # one of two answering is not enough either
    e = raises(ClockError, c.sync, [sample(b, _NOW)], 2)
    assert "1 of 2 NTP servers answered, 2 needed" in str(e), e
    assert b.t == _BOOT and not c.trusted
    c.sync([sample(b, _NOW), sample(b, _NOW + 0.5)], 2)
    assert c.trusted


def test_majority_of_three_outvotes_a_liar():
    b = FakeBoard()
    c = Clock(b, fresh_nvram())
    liar = sample(b, _NOW - 86400 * 400, stratum=1)
    good = [sample(b, _NOW, stratum=4, delay_us=5000), sample(b, _NOW + 0.1, stratum=3)]
    chosen, group = c.sync([liar] + good, 3)
    assert chosen is good[1] and liar not in group and len(group) == 2
    assert abs(b.t - (_NOW + 0.1)) < 1e-3
    # two liars who agree with each other outvote one honest server: the floor
    # (set by the sync above) is what stops them
    b.t += 10
    liars = [sample(b, _NOW - 86400 * 400), sample(b, _NOW - 86400 * 400 + 0.2)]
    before = b.t
    e = raises(ClockError, c.sync, liars + [sample(b, b.t)], 3)
    assert str(e).startswith("%NTP-3-FLOOR: refused time "), e
    assert "before the clock floor 12:00:00 UTC Nov 28 2026" in str(e)
    assert b.t == before


def test_prefer_wins_within_the_agreeing_group():
    b = FakeBoard()
    c = Clock(b, fresh_nvram())
    s = [sample(b, _NOW, stratum=2), sample(b, _NOW + 0.3, stratum=9, prefer=True),
         sample(b, _NOW + 0.1, stratum=5)]
    chosen, _ = c.sync(s, 3)
    assert chosen is s[1]
    # a preferred server outside the majority is not followed
    b2 = FakeBoard()
    c2 = Clock(b2, fresh_nvram())
    s = [sample(b2, _NOW, stratum=2), sample(b2, _NOW + 5000, prefer=True),
         sample(b2, _NOW + 0.1, stratum=5)]
    chosen, _ = c2.sync(s, 3)
    assert chosen is s[0]


def test_floor_survives_reboot_and_refuses_earlier_time():
    nv = fresh_nvram()
    b = FakeBoard()
    Clock(b, nv).sync([sample(b, _NOW)], 1)
    # reboot: a new board clock in 2000, the same NVRAM
    b = FakeBoard()
    c = Clock(b, nv)
    assert not c.trusted and c.floor == _NOW and c.floor_error is None
    for back in (61, 3600, 86400 * 365):
        e = raises(ClockError, c.sync, [sample(b, _NOW - back)], 1)
        assert "%NTP-3-FLOOR" in str(e), (back, e)
        assert b.t == _BOOT and not c.trusted
    writes = nv.records_written
    # within the tolerance: accepted, and the floor never moves back
    c.sync([sample(b, _NOW - 30)], 1)
    assert c.trusted and c.floor == _NOW
    assert nv.read_text("clock-floor").strip() == str(_NOW)
    assert nv.records_written == writes + 1


def test_floor_written_hourly_not_more():
    nv = fresh_nvram()
    b = FakeBoard()
    c = Clock(b, nv)
    assert c.tick() is False  # untrusted: nothing to keep
    c.sync([sample(b, _NOW)], 1)
    n = nv.records_written
    for minute in range(1, 60):
        b.t = _NOW + minute * 60
        c.tick()
    assert nv.records_written == n, "floor written more than once an hour"
    b.t = _NOW + 3600
    assert c.tick() is True
    assert nv.records_written == n + 1
    assert nv.read_text("clock-floor").strip() == str(_NOW + 3600)
    b.t = _NOW + 3600 + 1800
    assert c.tick() is False and nv.records_written == n + 1


def test_clock_set_trusts_and_may_lower_the_floor():
    nv = fresh_nvram()
    b = FakeBoard()
    c = Clock(b, nv)
    c.sync([sample(b, _NOW)], 1)
    past = mktime_utc(2025, 1, 1)
    c.set(past, "user configuration")
    assert c.trusted and c.source == "user configuration" and b.t == past
    assert c.floor == past and nv.read_text("clock-floor").strip() == str(past)
    assert c.show(True).endswith("Time source is user configuration")


def test_corrupt_or_garbage_floor_is_reported_not_used():
    nv = fresh_nvram()
    nv.write("clock-floor", "%d\n" % _NOW)
    with open(nv.path("clock-floor"), "r+b") as f:
        f.seek(2)
        f.write(b"X")
    c = Clock(FakeBoard(), nv)
    assert c.floor is None and "clock-floor" in c.floor_error and "corrupt" in c.floor_error
    nv.write("clock-floor", "not a time")
    c = Clock(FakeBoard(), nv)
    assert c.floor is None and "not a time" in c.floor_error
    # the next trusted time writes a good record again
    b = FakeBoard()
    c = Clock(b, nv)
    c.sync([sample(b, _NOW)], 1)
    assert c.floor_error is None and Clock(FakeBoard(), nv).floor == _NOW


def test_drift_between_syncs():
    b = FakeBoard()
    c = Clock(b, fresh_nvram())
    c.sync([sample(b, _NOW)], 1)
    assert c.drift is None
    # 1000 s later by the server, the local clock shows 0.05 s more: it runs fast
    b.t += 1000.05
    c.sync([sample(b, _NOW + 1000)], 1)
    assert abs(c.drift - 0.05 / 1000) < 1e-7, c.drift
    assert c.syncs == 2


def test_no_servers_answered():
    b = FakeBoard()
    c = Clock(b)
    e = raises(ClockError, c.sync, [], 1)
    assert "0 of 1 NTP server answered" in str(e)
    assert b.t == _BOOT and not c.trusted


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
