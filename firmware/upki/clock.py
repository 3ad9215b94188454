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


class Clock:
    def __init__(self, board):
        self.board = board
        self.trusted = False
        self.source = None  # "NTP", "user configuration"
        self.set_at = None

    def now(self):
        return self.board.rtc_time()

    def set(self, t, source):
        self.board.set_rtc(t)
        self.trusted = True
        self.source = source
        self.set_at = t

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
