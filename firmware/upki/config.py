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
_sections = []  # (order, fn), kept sorted

# Where each feature's lines stand in running-config, as IOS orders them
# (modules load on first use, so registration order says nothing).
ORDER_TRUSTPOINTS = 30
ORDER_IDENTITIES = 35
ORDER_PUBKEY_CHAIN = 40
ORDER_NTP = 80


def section(fn, order=50):
    _sections.append((order, fn))
    _sections.sort(key=lambda e: e[0])
    return fn


def section_at(order):
    """Decorator form of section() with an explicit place in running-config."""
    return lambda fn: section(fn, order)


# Feature hooks, registered at import by feature modules:
#   boot hooks      fn(router): run once after startup-config is replayed and
#                   before the console opens (e.g. a bounded first NTP sync)
#   background      fn(router): run about once a second while the console is
#                   idle, and before each prompt (NTP resync, auto-enroll, CRL
#                   refresh); each decides itself whether it is due, and must
#                   return quickly.
boot_hooks = []
background = []
# fn(router): run by `write memory` (Router.save) before startup-config is
# written (auto-enroll installs a certificate held back while a configuration
# session was open).
save_hooks = []
# fn(router): run when a Router is made, before startup-config is replayed
# (feature modules bind their per-router state here). Use on_attach(), which
# also serves a module imported later, on first use of one of its commands.
attach_hooks = []
current = [None]  # the Router this board booted


def on_attach(fn):
    attach_hooks.append(fn)
    if current[0] is not None:
        fn(current[0])


class _Sink:
    """Configuration lines handed to put(text) in chunks of about 1 KB; put
    None: only counted (size is then the whole text's length)."""

    def __init__(self, put):
        self.put = put
        self.buf = []
        self.size = 0
        self.n = 0

    def append(self, line):
        self.n += 1
        self.size += len(line) + 1
        if self.put is None:
            return
        self.buf.append(line)
        if self.size >= 1024:
            self.flush()

    def extend(self, lines):
        for line in lines:
            self.append(line)

    def __len__(self):
        return self.n

    def flush(self):
        if self.buf:
            self.buf.append("")
            self.put("\n".join(self.buf))
            self.buf = []
            self.size = 0


class Router:
    """Everything one booted board knows: its hardware, NVRAM, clock and configuration."""

    def __init__(self, board):
        self.board = board
        self.nvram = NVRAM(board.flash_root)
        self.clock = Clock(board, self.nvram)
        self.hostname = "Router"
        self.domain = None
        self.modified = False  # running-config differs from what was saved
        self.config_sessions = 0  # open `configure terminal` sessions
        self._up_ms = 0  # uptime, accumulated from ticks (the RTC jumps when NTP sets it)
        import time

        self._up_ticks = time.ticks_ms()
        self.log_sink = None  # where console messages go (the console's writer)
        self.pending_log = []  # messages logged while no console is attached
        from upki import log

        log.attach(self)
        current[0] = self
        for fn in attach_hooks:
            fn(self)

    def log(self, line):
        """A console message (syslog-style %FAC-N-MNEMONIC or a debug line)."""
        if self.log_sink:
            self.log_sink(line + "\n")
        else:
            self.pending_log.append(line)
            del self.pending_log[:-50]  # bounded: keep the latest 50

    def uptime(self):
        """Seconds since boot. Called at least every few days (the console's idle loop
        does, every second), so ticks_ms wrapping never loses time."""
        import time

        now = time.ticks_ms()
        self._up_ms += time.ticks_diff(now, self._up_ticks)
        self._up_ticks = now
        return self._up_ms // 1000

    def run_background(self):
        self.uptime()
        for fn in tuple(background):  # a task may remove itself
            try:
                fn(self)
            except Exception as e:  # one failing task must not stop the console
                self.log("%%SYS-3-TASK: background task %s failed: %s" % (fn.__name__, e))

    def fqdn(self):
        return self.hostname + "." + self.domain if self.domain else self.hostname

    def render(self):
        """The running configuration as IOS prints it (without the size header)."""
        lines = []
        self._render_into(lines)
        return "\n".join(lines) + "\n"

    def render_size(self):
        """The length of render() in characters, counted without holding it."""
        sink = _Sink(None)
        self._render_into(sink)
        return sink.size

    def render_to(self, write):
        """render(), handed to write(text) a kilobyte at a time."""
        sink = _Sink(write)
        self._render_into(sink)
        sink.flush()

    def _render_into(self, lines):
        # lines: a list, or a _Sink (append, extend and len are all the sections use)
        lines.append("!")
        lines.append("! upki %s, %s board" % (upki.__version__, self.board.name))
        lines.append("!")
        lines.append("hostname " + self.hostname)
        lines.append("!")
        if self.domain:
            lines.append("ip domain-name " + self.domain)
            lines.append("!")
        for _order, fn in _sections:
            fn(self, lines)
        lines.append("end")

    def save(self):
        for fn in save_hooks:
            fn(self)
        # streamed to NVRAM a kilobyte at a time: the configuration (certificate
        # chains in hex make it several KB) is never one string, nor its bytes
        w = self.nvram.writer(STARTUP)
        try:
            sink = _Sink(lambda text: w.write(text.encode()))
            self._render_into(sink)
            sink.flush()
        except BaseException:
            w.abort()
            raise
        w.close()
        self.modified = False

    def startup_lines(self):
        """startup-config as a Lines reader, or None when there is none (raises
        NVRAMError when corrupt: the record is checked whole before the first line)."""
        if not self.nvram.exists(STARTUP):
            return None
        f, length = self.nvram.open(STARTUP)
        return Lines(f, length)


MAX_LINE = 1024  # bytes: the longest configuration line taken


class Lines:
    """The lines of a verified NVRAM record, read one at a time: a configuration
    with certificate chains in hex is several KB, and is never held whole."""

    def __init__(self, f, length):
        self.f = f
        self.left = length

    def _read(self):
        b = self.f.readline(min(self.left, MAX_LINE))
        self.left = self.left - len(b) if b else 0
        return b

    def readline(self):
        """The next line (str, without its newline), or None at the end.
        Raises ValueError for a line that is not UTF-8 or is longer than
        MAX_LINE (skipped: the next call reads the line after it)."""
        if self.left <= 0:
            return None
        b = self._read()
        if not b:
            return None
        if not b.endswith(b"\n") and self.left > 0:
            while self.left > 0 and not self._read().endswith(b"\n"):
                pass
            raise ValueError("longer than %d bytes" % MAX_LINE)
        try:
            return b.decode().rstrip("\r\n")
        except UnicodeError:
            raise ValueError("not UTF-8 text")

    def close(self):
        self.f.close()
