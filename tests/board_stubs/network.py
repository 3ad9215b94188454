# SPDX-License-Identifier: MIT
# STUB of MicroPython's `network` module (the Wi-Fi radio), for running the
# ESP32 / Pico W board layers on the simulated board: there is no radio here.
# A station "joins" any SSID except "nowhere" after three polls.
STA_IF = 0
joined = []
_hostname = ["stub"]


def hostname(name=None):
    if name is None:
        return _hostname[0]
    _hostname[0] = name


class WLAN:
    def __init__(self, iface):
        self.iface = iface
        self._active = False
        self._polls = None

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)

    def connect(self, ssid, password):
        if not self._active:
            raise OSError("STUB wlan: not active")
        joined.append((ssid, password))
        self._polls = None if ssid == "nowhere" else 3

    def isconnected(self):
        if self._polls is None:
            return False
        if self._polls:
            self._polls -= 1
        return self._polls == 0

    def ifconfig(self):
        return ("10.0.0.7", "255.255.255.0", "10.0.0.1", "10.0.0.1")
