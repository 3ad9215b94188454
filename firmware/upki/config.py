# SPDX-License-Identifier: MIT
# The router's running configuration and its copy in NVRAM (startup-config).
#
# As on IOS, the configuration is the list of commands that recreate it:
# `show running-config` renders the state as commands, and booting replays
# startup-config through the CLI in configuration mode.
import upki
from upki.nvram import NVRAM
from upki.clock import Clock

STARTUP = "startup-config"

# Renderers of configuration sections, added by feature modules (ntp, crypto,
# trustpoints): each is fn(router, lines) appending lines, in registration order.
_sections = []


def section(fn):
    _sections.append(fn)
    return fn


class Router:
    """Everything one booted board knows: its hardware, NVRAM, clock and configuration."""

    def __init__(self, board):
        self.board = board
        self.nvram = NVRAM(board.flash_root)
        self.clock = Clock(board)
        self.hostname = "Router"
        self.domain = None
        self.modified = False  # running-config differs from what was saved
        self.config_sessions = 0  # open `configure terminal` sessions

    def fqdn(self):
        return self.hostname + "." + self.domain if self.domain else self.hostname

    def render(self):
        """The running configuration as IOS prints it (without the size header)."""
        lines = ["!", "! upki %s, %s board" % (upki.__version__, self.board.name), "!"]
        lines.append("hostname " + self.hostname)
        lines.append("!")
        if self.domain:
            lines.append("ip domain-name " + self.domain)
            lines.append("!")
        for fn in _sections:
            fn(self, lines)
        lines.append("end")
        return "\n".join(lines) + "\n"

    def save(self):
        self.nvram.write(STARTUP, self.render())
        self.modified = False

    def startup_text(self):
        """startup-config, or None when there is none (raises NVRAMError when corrupt)."""
        if not self.nvram.exists(STARTUP):
            return None
        return self.nvram.read_text(STARTUP)
