# SPDX-License-Identifier: MIT
# NTP as IOS configures it: servers, symmetric keys, the first sync at boot,
# periodic resync. Stays loaded once NTP is configured; the commands that
# configure it and `show ntp associations|status` are in upki.cli_ntp.
#
# The packet exchange is upki.sntp; what counts as trusted time (majority of
# the configured servers, the floor) is upki.clock. This module holds the
# configuration and per-server state, and drives one round at a time:
#   sync_round(router, timeout, retries, budget_ms) -> (sample, group) or raises ClockError
from micropython import const

from upki import config
from upki.errors import ClockError

# sntp algorithm -> CLI algorithm word
_ALG_WORD = {"md5": "md5", "sha1": "sha1", "aes128cmac": "cmac-aes128", "sha256": "sha256"}
DEFAULT_MAXPOLL = const(10)  # 2**10 s between resyncs once trusted, as IOS's default maxpoll
_RETRY_UNTRUSTED_S = const(16)  # between background tries while the clock is untrusted
_BOOT_BUDGET_MS = const(5000)  # the most the first sync may hold up the console
_BOOT_TIMEOUT = 1  # s per request at boot
_BG_TIMEOUT = 1  # s per server for a background round (one request each)
_BG_BUDGET_MS = const(2000)  # the most one background round holds up the console

try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython
    from upki.sntp import ticks_add, ticks_diff, ticks_ms


class Server:
    def __init__(self, addr, port=123, key_id=None, prefer=False):
        self.addr = addr
        self.port = port
        self.key_id = key_id
        self.prefer = prefer
        self.clear()

    def clear(self):
        self.reach = 0  # the last 8 attempts, newest in bit 0 (shown in octal)
        self.sample = None  # the last accepted clock.Sample
        self.last_ms = None  # ticks_ms of the last accepted reply
        self.error = None  # why the last attempt failed
        self.mark = " "  # * sys.peer, + agreeing candidate, - outlier, # answered, unsynced

    def name(self):
        return self.addr if self.port == 123 else "%s:%d" % (self.addr, self.port)

    def config_line(self):
        line = "ntp server " + self.addr
        if self.port != 123:
            line += " port %d" % self.port
        if self.key_id is not None:
            line += " key %d" % self.key_id
        if self.prefer:
            line += " prefer"
        return line


class State:
    def __init__(self):
        self.servers = []
        self.keys = {}  # key id -> (sntp alg, key bytes)
        self.trusted_keys = []
        self.kissed = {}  # kiss-o'-death memory per (addr, port), for upki.sntp
        self.authenticate = False
        self.maxpoll = DEFAULT_MAXPOLL
        self.next_ms = None  # ticks_ms when the background round is due; None: now
        self.last_round_error = None
        self.logged_error = None  # the failure last reported on the console

    def poll_s(self):
        return 1 << self.maxpoll

    def key_for(self, srv):
        """The sntp key for srv, or None for an unauthenticated server; raises
        ClockError when the configuration forbids asking it."""
        kid = srv.key_id
        if kid is None:
            if self.authenticate:
                raise ClockError("no key configured; `ntp authenticate` requires a trusted key")
            return None
        if kid not in self.keys:
            raise ClockError("key %d is not defined (ntp authentication-key)" % kid)
        if kid not in self.trusted_keys:
            raise ClockError("key %d is not trusted (ntp trusted-key)" % kid)
        alg, secret = self.keys[kid]
        return (kid, alg, secret)

    def changed(self):
        self.next_ms = None  # configuration changed: try again at the next chance
        self.logged_error = None


def state(router):
    st = getattr(router, "ntp", None)
    if st is None:
        st = State()
        router.ntp = st
    return st


# --- one sync round ---------------------------------------------------------------


def sync_round(router, timeout=_BG_TIMEOUT, retries=0, budget_ms=None):
    """Ask every configured server once (each within timeout s, retries more
    requests), then let the clock decide. budget_ms bounds the whole round
    but for one name lookup that overruns it (MicroPython cannot cut one short).
    Returns (chosen sample, agreeing samples); raises ClockError (the clock
    unchanged) when the round gives no trusted time."""
    st = state(router)
    clock = router.clock
    servers = st.servers
    if not servers:
        raise ClockError("no NTP servers configured")
    start = ticks_ms()
    samples = []
    cache = {}  # name lookups, made once per round (upki.net)
    # the packet exchange is loaded for the round only: the console drops it
    # after (it keeps no state; the kiss-o'-death memory is st.kissed)
    from upki import sntp

    for i, srv in enumerate(servers):
        srv.mark = " "
        t = timeout
        if budget_ms is not None:
            left = budget_ms - ticks_diff(ticks_ms(), start)
            share = left // ((len(servers) - i) * (retries + 1))
            if share < 50:
                srv.error = "not asked: the round ran out of time"
                srv.reach = (srv.reach << 1) & 0xFF
                continue
            t = min(timeout, share / 1000)
        try:
            key = st.key_for(srv)
            s = sntp.query(srv.addr, srv.port, key, t, clock.now_us, retries, cache,
                           st.kissed)
        except ClockError as e:
            why = getattr(e, "reason", None) or str(e)
            prefix = "NTP server %s: " % srv.name()
            srv.error = why[len(prefix):] if why.startswith(prefix) else why
            srv.reach = (srv.reach << 1) & 0xFF
            continue
        s.prefer = srv.prefer
        s.srv = srv
        srv.sample = s
        srv.last_ms = ticks_ms()
        srv.error = None
        srv.reach = ((srv.reach << 1) | 1) & 0xFF
        samples.append(s)
    try:
        chosen, group = clock.sync(samples, len(servers))
    except ClockError as e:
        for s in samples:
            s.srv.mark = "#"
        st.last_round_error = str(e)
        raise
    for s in samples:
        s.srv.mark = "*" if s is chosen else ("+" if s in group else "-")
    st.last_round_error = None
    return chosen, group


def _sync_message(chosen, step_us):
    auth = ", key %d" % chosen.key_id if chosen.key_id is not None else ""
    return "%%NTP-5-SYNC: clock synchronized to %s (stratum %d%s), offset %s s" % (
        chosen.srv.name(), chosen.stratum, auth, _signed_seconds(step_us))


def _signed_seconds(us):
    sign = "-" if us < 0 else "+"
    us = -us if us < 0 else us
    return "%s%d.%03d" % (sign, us // 1000000, (us // 1000) % 1000)


def _failure(st, e, kept=False):
    # kept: the clock was trusted and stays so (a resync failed), which is not
    # "no trusted time"
    msg = str(e)
    if msg.startswith("%"):
        return msg
    detail = "; ".join("%s: %s" % (s.name(), s.error) for s in st.servers if s.error)
    return "%%NTP-4-NOSYNC: %s: %s%s" % (
        "sync failed, clock kept" if kept else "no trusted time", msg,
        " (" + detail + ")" if detail else "")


# --- boot hook and background task ------------------------------------------------


def _boot_sync(router):
    st = state(router)
    if router.clock.floor_error:
        router.log("%%CLOCK-3-FLOOR: %s; no clock floor until the next trusted time"
                   % router.clock.floor_error)
    if not st.servers:
        return
    try:
        chosen, _ = sync_round(router, _BOOT_TIMEOUT, 1, _BOOT_BUDGET_MS)
    except ClockError as e:
        msg = _failure(st, e)
        router.log(msg + "; retrying in the background")
        st.logged_error = "".join(ch for ch in msg if not ch.isdigit())
        st.next_ms = ticks_add(ticks_ms(), _RETRY_UNTRUSTED_S * 1000)
        return
    router.log(_sync_message(chosen, router.clock.last_offset_us))
    st.next_ms = ticks_add(ticks_ms(), st.poll_s() * 1000)


def _background(router):
    clock = router.clock
    clock.tick()
    st = getattr(router, "ntp", None)
    if st is None or not st.servers or router.config_sessions:
        return  # not while someone is typing configuration: no half-made server list
    if st.next_ms is not None and ticks_diff(st.next_ms, ticks_ms()) > 0:
        return
    was_trusted = clock.trusted and clock.source == "NTP"
    try:
        chosen, _ = sync_round(router, _BG_TIMEOUT, 0, _BG_BUDGET_MS)
    except ClockError as e:
        msg = _failure(st, e, clock.trusted)
        # the same failure with other figures (offsets, times) is not news: say it once
        same = "".join(ch for ch in msg if not ch.isdigit())
        if same != st.logged_error:
            router.log(msg)
            st.logged_error = same
        wait = st.poll_s() if clock.trusted else _RETRY_UNTRUSTED_S
        st.next_ms = ticks_add(ticks_ms(), wait * 1000)
        return
    st.logged_error = None
    if not was_trusted:
        router.log(_sync_message(chosen, clock.last_offset_us))
    st.next_ms = ticks_add(ticks_ms(), st.poll_s() * 1000)


# First in line, whatever order the features load in: enrollment and CRL tasks
# that run after these find the clock as trusted as it can be.
config.boot_hooks.insert(0, _boot_sync)
config.background.insert(0, _background)


@config.section_at(config.ORDER_NTP)
def _render(router, lines):
    st = getattr(router, "ntp", None)
    if st is None:
        return
    n = len(lines)
    for kid in sorted(st.keys):
        alg, secret = st.keys[kid]
        lines.append("ntp authentication-key %d %s %s" % (kid, _ALG_WORD[alg], _hex(secret)))
    if st.authenticate:
        lines.append("ntp authenticate")
    for kid in st.trusted_keys:
        lines.append("ntp trusted-key %d" % kid)
    if st.maxpoll != DEFAULT_MAXPOLL:
        lines.append("ntp maxpoll %d" % st.maxpoll)
    for srv in st.servers:
        lines.append(srv.config_line())
    if len(lines) > n:
        lines.append("!")


def _hex(b):
    return "".join("%02X" % x for x in b)
