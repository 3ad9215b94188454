# SPDX-License-Identifier: MIT
# The board clock and whether it can be trusted.
#
# A clockless board wakes up in the year 2000: its time is not authoritative
# until NTP has set it or an operator has typed `clock set`. Certificate
# validation and enrollment ask `require_trusted()` before they judge a date.
import time

from upki.errors import ClockError

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# time.gmtime/mktime count from 1970 on Unix and from 2000 on bare-metal ports:
# convert with this offset so upki always works in seconds since 1970.
_EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


def gmtime(t):
    """time.gmtime for seconds since 1970 on any port."""
    return time.gmtime(int(t) - _EPOCH_OFFSET)


def mktime_utc(year, month, day, hh=0, mm=0, ss=0):
    """Seconds since 1970 for a UTC date (no time zone applied)."""
    # Days from civil (Howard Hinnant's algorithm): independent of the port's mktime.
    y = year - (month <= 2)
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + hh * 3600 + mm * 60 + ss


def month_number(name):
    for i, m in enumerate(_MONTHS):
        if m.lower() == name[:3].lower():
            return i + 1
    return 0


def format_ios(t, msec=True):
    """IOS `show clock` style: 18:10:27.123 UTC Sat Nov 28 2026."""
    tm = gmtime(t)
    s = "%02d:%02d:%02d" % (tm[3], tm[4], tm[5])
    if msec:
        s += ".%03d" % (int(t * 1000) % 1000)
    return "%s UTC %s %s %d %d" % (s, _DAYS[tm[6]], _MONTHS[tm[1] - 1], tm[2], tm[0])


def format_date(t):
    """Certificate dates as IOS shows them: 18:10:27 UTC Nov 28 2026."""
    tm = gmtime(t)
    return "%02d:%02d:%02d UTC %s %d %d" % (tm[3], tm[4], tm[5], _MONTHS[tm[1] - 1], tm[2], tm[0])


_FLOOR = "clock-floor"


class Sample:
    """One accepted NTP exchange, as upki.sntp.query returns it. offset_us:
    add it to the local clock (the caller's now()) to get the server's time;
    delay_us: round-trip delay.  Defined here, where the clock keeps the
    chosen one, so that holding a sample keeps no NTP client code loaded."""

    def __init__(self, offset_us, delay_us, stratum, refid, leap, poll, precision,
                 root_delay_us, root_dispersion_us, key_id, server_us):
        self.offset_us = offset_us
        self.delay_us = delay_us
        self.stratum = stratum
        self.refid = refid
        self.leap = leap
        self.poll = poll
        self.precision = precision
        self.root_delay_us = root_delay_us
        self.root_dispersion_us = root_dispersion_us
        self.key_id = key_id  # the key that authenticated the reply, or None
        self.server_us = server_us  # server's time at the moment the reply arrived
        self.server = None  # "addr" or "addr:port", set by query()
        self.received_ms = None  # ticks_ms() when the reply arrived, set by query()

    @property
    def offset(self):
        return self.offset_us / 1000000

    @property
    def delay(self):
        return self.delay_us / 1000000

    @property
    def authenticated(self):
        return self.key_id is not None

    def __repr__(self):
        return "<Sample %s offset %d us delay %d us stratum %d refid %s%s>" % (
            self.server, self.offset_us, self.delay_us, self.stratum, self.refid,
            " key %d" % self.key_id if self.key_id is not None else "")


class Clock:
    """The board clock, whether it is trusted, and its floor.

    Trusted after `clock set` or an NTP round that enough configured servers
    agree on (sync()). The floor is the last trusted time, kept in NVRAM
    record "clock-floor": written at each sync and `clock set`, and otherwise
    at most once per floor_interval while trusted (tick()), to spare the
    flash. No NTP answer may move time more than floor_tolerance before it,
    so a forged reply cannot bring back the days when an expired or revoked
    certificate still looked good. A reboot keeps the floor and starts
    untrusted."""

    floor_tolerance = 60  # s an NTP answer may lie before the floor
    floor_interval = 3600  # s between floor writes while trusted, outside syncs
    agree_tolerance_us = 1000000  # servers agreeing within this form a majority

    def __init__(self, board, nvram=None):
        self.board = board
        self.nvram = nvram
        self.trusted = False
        self.source = None  # "NTP", "user configuration"
        self.set_at = None
        self.floor = None  # seconds since 1970, or None before any trusted time
        self.floor_error = None  # why the floor could not be read or written
        self.floor_written_at = None  # board time of the last floor write
        self.floor_writes = 0  # since boot
        self.last_sync = None  # board time just after the last NTP sync
        self.last_sample = None  # the Sample that sync chose
        self.last_offset_us = None  # the step the last sync applied
        self.drift = None  # s/s gained (+) or lost by the local clock between two syncs
        self.syncs = 0
        self._load_floor()

    def _load_floor(self):
        nv = self.nvram
        if nv is None:
            return
        from upki.errors import NVRAMError

        try:
            if not nv.exists(_FLOOR):
                return
            words = nv.read_text(_FLOOR, 64).split()
            t = int(words[0])
            if t < 0:
                raise ValueError("negative")
            self.floor = t
        except NVRAMError as e:
            self.floor_error = str(e)
        except (ValueError, IndexError, UnicodeError):
            self.floor_error = "NVRAM record %s: not a time" % _FLOOR

    def now(self):
        return self.board.rtc_time()

    def now_us(self):
        """The board clock in microseconds since 1970 (the `now` sntp.query takes)."""
        return int(self.board.rtc_time() * 1000000)

    def set(self, t, source):
        """Set the time by an authority (`clock set`): trusted, the floor follows it,
        even backwards (an operator at the console may correct a wrong floor)."""
        self.board.set_rtc(t)
        self.trusted = True
        self.source = source
        self.set_at = t
        self.floor = None
        self.save_floor(t)

    def save_floor(self, t=None):
        """Write the floor (the current time by default) to NVRAM; never lowers it
        except after `clock set`. Returns False (and keeps the reason in
        floor_error) when the record cannot be written."""
        if t is None:
            t = self.now()
        t = int(t)
        if self.floor is not None and t < self.floor:
            t = self.floor
        self.floor = t
        self.floor_written_at = self.now()
        if self.nvram is None:
            return True
        from upki.errors import NVRAMError

        try:
            self.nvram.write(_FLOOR, "%d\n" % t)
        except NVRAMError as e:
            self.floor_error = str(e)
            return False
        self.floor_error = None
        self.floor_writes += 1
        return True

    def tick(self):
        """Periodic work: while trusted, write the floor once per floor_interval."""
        if not self.trusted:
            return False
        now = self.now()
        last = self.floor_written_at
        if last is None or abs(now - last) >= self.floor_interval:
            return self.save_floor(now)
        return False

    def check_floor(self, t):
        """Raise ClockError when time t lies more than floor_tolerance before the floor."""
        if self.floor is not None and t < self.floor - self.floor_tolerance:
            raise ClockError(
                "%%NTP-3-FLOOR: refused time %s: before the clock floor %s (last trusted time)"
                % (format_date(t), format_date(self.floor))
            )

    def required(self, configured):
        """How many servers must agree: all of them below three, else a majority."""
        return configured if configured < 3 else configured // 2 + 1

    def agreeing(self, samples):
        """The largest group of samples whose offsets lie within agree_tolerance_us."""
        ordered = sorted(samples, key=lambda s: s.offset_us)
        best = []
        j = 0
        for i in range(len(ordered)):
            while ordered[i].offset_us - ordered[j].offset_us > self.agree_tolerance_us:
                j += 1
            if i + 1 - j > len(best):
                best = ordered[j : i + 1]
        return best

    def sync(self, samples, configured):
        """Apply one NTP round. samples: the accepted Samples of this round (one
        per server, offsets against now_us()); configured: the servers asked.
        Returns (chosen sample, agreeing samples); raises ClockError, with the
        clock left as it was, when too few answered, they disagree, or the time
        would fall before the floor."""
        need = self.required(configured)
        if configured <= 0 or len(samples) < need:
            raise ClockError(
                "%d of %d NTP server%s answered, %d needed"
                % (len(samples), configured, "" if configured == 1 else "s", need)
            )
        group = self.agreeing(samples)
        if len(group) < need:
            raise ClockError(
                "NTP servers disagree: offsets %s s; %d must agree within %s s"
                % (
                    ", ".join("%+.3f" % (s.offset_us / 1000000) for s in samples),
                    need,
                    self.agree_tolerance_us / 1000000,
                )
            )
        chosen = None
        for s in group:
            if getattr(s, "prefer", False):
                chosen = s
                break
        if chosen is None:
            chosen = min(group, key=lambda s: (s.stratum, s.delay_us))
        offset_us = chosen.offset_us
        new = (self.now_us() + offset_us) / 1000000
        self.check_floor(new)
        if self.trusted and self.source == "NTP" and self.last_sync is not None:
            elapsed = new - self.last_sync
            if elapsed > 0:
                # offset > 0: the local clock fell behind the server, it runs slow
                self.drift = -(offset_us / 1000000) / elapsed
        self.board.set_rtc(new)
        self.trusted = True
        self.source = "NTP"
        self.set_at = new
        self.last_sync = new
        self.last_sample = chosen
        self.last_offset_us = offset_us
        self.syncs += 1
        self.save_floor(new)
        return chosen, group

    def require_trusted(self, what="this operation"):
        if not self.trusted:
            raise ClockError(
                "%%PKI-2-NON_AUTHORITATIVE_CLOCK: Clock is not authoritative; %s refused "
                "until NTP has set the clock or `clock set` is used" % what
            )
        return self.now()

    def show(self, detail=False):
        mark = "" if self.trusted else "*"
        out = mark + format_ios(self.now())
        if detail:
            if self.trusted:
                out += "\nTime source is %s" % self.source
            else:
                out += "\nNo time source"
        return out
