# SPDX-License-Identifier: MIT
# The hardware layer of real MicroPython boards (ESP32, ESP32-S3, Pico W), the
# same interface as boards/unix/board.py:
#   flash_root      where upki's NVRAM records live (a folder of the littlefs
#                   filesystem MicroPython mounts as `/`)
#   unique_id()     machine.unique_id(): the certificate serial-number
#   urandom(n)      the port's hardware RNG
#   rtc_time()      seconds since 1970 by the RTC, untrusted: it restarts in 2000 at power-on
#   set_rtc(t)      set the RTC (after NTP or `clock set`)
#   reset()         machine.reset()
# plus wifi_up(): station-mode Wi-Fi from the `board-config` NVRAM record.
# `machine` and `network` are imported inside the methods that use them.
import os
import time

from micropython import const

NVRAM_DIR = "/nvram"
CONFIG_RECORD = "board-config"
_REANCHOR_MS = const(3600000)
# Single-precision floats (ESP32, RP2) cannot hold seconds since 1970 with a
# fraction: 1.7e9 has a resolution of 128 s.  Whole seconds there.
_SINGLE_FLOAT = (1e9 + 1.0) == 1e9


def read_config(root):
    """The board-config record as a dict (wifi-ssid, wifi-password, ...); {} when absent."""
    from upki.nvram import NVRAM

    nv = NVRAM(root)
    if not nv.exists(CONFIG_RECORD):
        return {}
    out = {}
    for line in nv.read_text(CONFIG_RECORD, 2048).split("\n"):
        line = line.strip()
        if line and line[0] != "#":
            key, _, value = line.partition(" ")
            out[key] = value.strip()
    return out


class MCUBoard:
    """The hardware layer common to MicroPython boards with littlefs, an RTC
    and a station-mode Wi-Fi radio (ESP32, Pico W). A board's board.py
    subclasses it, names itself and adds what its radio needs."""

    name = "mcu"
    flash_root = NVRAM_DIR

    def __init__(self):
        self.wlan = None
        self._anchor()

    def radio_setup(self, cfg):
        """Board-specific radio settings from board-config, before the radio starts."""
        pass

    def mount(self):
        # MicroPython's _boot.py has mounted the littlefs partition as `/`;
        # upki keeps its records in one folder of it.
        try:
            os.mkdir(NVRAM_DIR)
        except OSError:
            pass  # exists
        os.statvfs(NVRAM_DIR)

    def flash_size(self):
        st = os.statvfs(NVRAM_DIR)
        return st[0] * st[2]

    def unique_id(self):
        import machine

        return machine.unique_id()

    def urandom(self, n):
        return os.urandom(n)

    def _anchor(self):
        # Read the RTC itself (the ports count time.time() from 2000 or 1970).
        import machine
        from upki.clock import mktime_utc

        dt = machine.RTC().datetime()  # (year, month, day, weekday, h, m, s, subseconds)
        self._secs = mktime_utc(dt[0], dt[1], dt[2], dt[4], dt[5], dt[6])
        self._ticks = time.ticks_ms()

    def rtc_time(self):
        d = time.ticks_diff(time.ticks_ms(), self._ticks)
        if d < 0 or d > _REANCHOR_MS:
            # ticks_ms wraps; re-read the RTC now and then
            self._anchor()
            d = 0
        if _SINGLE_FLOAT:
            return self._secs + d // 1000
        return self._secs + d / 1000

    def set_rtc(self, t):
        import machine

        from upki.clock import gmtime

        tm = gmtime(int(t))
        # RTC.datetime: (year, month, day, weekday, hours, minutes, seconds, subseconds)
        machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))
        self._anchor()

    def reset(self):
        import machine

        machine.reset()

    def wifi_up(self, log=print, timeout_s=None):
        """Join the Wi-Fi network named in board-config; return the address or None."""
        cfg = read_config(NVRAM_DIR)
        ssid = cfg.get("wifi-ssid")
        if not ssid:
            log("%LINK-4-NOCONFIG: no wifi-ssid in board-config; Wi-Fi stays down")
            return None
        import network

        self.radio_setup(cfg)
        hostname = cfg.get("wifi-hostname")
        if hostname:
            try:
                network.hostname(hostname)
            except (AttributeError, ValueError, OSError):
                pass
        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        self.wlan = wlan
        if not wlan.isconnected():
            wlan.connect(ssid, cfg.get("wifi-password", ""))
        limit = timeout_s or int(cfg.get("wifi-timeout", "20"))
        for _ in range(limit * 10):  # bounded: 100 ms steps
            if wlan.isconnected():
                break
            time.sleep_ms(100)
        if not wlan.isconnected():
            log("%%LINK-3-UPDOWN: Interface wlan0, could not join %s within %d s" % (ssid, limit))
            return None
        addr = wlan.ifconfig()[0]
        log("%%LINK-3-UPDOWN: Interface wlan0, changed state to up (%s on %s)" % (addr, ssid))
        return addr
