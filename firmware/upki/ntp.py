# SPDX-License-Identifier: MIT
# NTP as IOS configures it: servers, symmetric keys, the first sync at boot,
# periodic resync, and `show ntp associations|status`.
#
# The packet exchange is upki.sntp; what counts as trusted time (majority of
# the configured servers, the floor) is upki.clock. This module holds the
# configuration and per-server state, and drives one round at a time:
#   sync_round(router, timeout, retries, budget_ms) -> (sample, group) or raises ClockError
from micropython import const

from upki import config, sntp
from upki.cli import CONFIG, EXEC, Invalid, command, integer
from upki.clock import format_ios
from upki.errors import ClockError

# CLI algorithm word -> sntp algorithm
_ALGS = {"md5": "md5", "sha1": "sha1", "cmac-aes128": "aes128cmac", "sha256": "sha256"}
_ALG_WORD = {"md5": "md5", "sha1": "sha1", "aes128cmac": "cmac-aes128", "sha256": "sha256"}
_MAX_SERVERS = const(8)
_MAX_KEYS = const(16)
_MAX_KEY_BYTES = const(64)
_DEFAULT_MAXPOLL = const(10)  # 2**10 s between resyncs once trusted, as IOS's default maxpoll
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
        self.sample = None  # the last accepted sntp.Sample
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
        self.authenticate = False
        self.maxpoll = _DEFAULT_MAXPOLL
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
            s = sntp.query(srv.addr, srv.port, key, t, clock.now_us, retries, cache)
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


def _failure(st, e):
    msg = str(e)
    if msg.startswith("%"):
        return msg
    detail = "; ".join("%s: %s" % (s.name(), s.error) for s in st.servers if s.error)
    return "%%NTP-4-NOSYNC: no trusted time: %s%s" % (msg, " (" + detail + ")" if detail else "")


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
        msg = _failure(st, e)
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


# --- configuration ---------------------------------------------------------------


def _find(st, addr, port=None):
    return [s for s in st.servers if s.addr == addr and (port is None or s.port == port)]


def _valid_addr(addr):
    if len(addr) > 63:
        return False
    for ch in addr:
        if not (ch.isalpha() or ch.isdigit() or ch in ".-:"):
            return False
    return True


@command(CONFIG, "ntp server")
def _ntp_server(s, args):
    args.need(1)
    addr = args[0]
    if not _valid_addr(addr):
        raise Invalid(0)
    port, key_id, prefer = 123, None, False
    i = 1
    while i < len(args):
        w = args[i].lower()
        if "port".startswith(w) and len(w) >= 2:
            port = integer(args, i + 1, 1, 65535)
            i += 2
        elif "key".startswith(w):
            key_id = integer(args, i + 1, 1, 4294967295)
            i += 2
        elif "prefer".startswith(w) and len(w) >= 2:
            prefer = True
            i += 1
        else:
            raise Invalid(i)
    st = state(s.router)
    old = _find(st, addr, port)
    if old:
        srv = old[0]
        srv.key_id, srv.prefer = key_id, prefer
        srv.clear()
    else:
        if len(st.servers) >= _MAX_SERVERS:
            raise Invalid(0, "At most %d NTP servers may be configured" % _MAX_SERVERS)
        st.servers.append(Server(addr, port, key_id, prefer))
    st.changed()
    s.router.modified = True
    return ""


@command(CONFIG, "no ntp server")
def _no_ntp_server(s, args):
    args.need(1)
    port = None
    if len(args) > 1:
        if not ("port".startswith(args[1].lower()) and len(args[1]) >= 2):
            raise Invalid(1)
        port = integer(args, 2, 1, 65535)
        args.only(3)
    st = state(s.router)
    gone = _find(st, args[0], port)
    if not gone:
        return "%%NTP server %s not configured\n" % args[0]
    st.servers = [x for x in st.servers if x not in gone]
    st.changed()
    s.router.modified = True
    return ""


@command(CONFIG, "ntp authentication-key")
def _ntp_key(s, args):
    args.need(3)
    kid = integer(args, 0, 1, 4294967295)
    word = args[1].lower()
    hits = [w for w in _ALGS if w.startswith(word)]
    if len(hits) != 1:
        raise Invalid(1)
    alg = _ALGS[hits[0]]
    args.only(3)
    text = args[2]
    if text[:4].upper() == "HEX:":
        text = text[4:]
    import binascii

    try:
        secret = binascii.unhexlify(text)
    except (ValueError, TypeError):
        raise Invalid(2, "Key must be given in hexadecimal")
    if not secret or len(secret) > _MAX_KEY_BYTES:
        raise Invalid(2, "Key must be 1 to %d bytes" % _MAX_KEY_BYTES)
    if alg == "aes128cmac" and len(secret) != 16:
        raise Invalid(2, "cmac-aes128 needs a 16-byte key (32 hex digits)")
    st = state(s.router)
    if kid not in st.keys and len(st.keys) >= _MAX_KEYS:
        raise Invalid(0, "At most %d NTP keys may be configured" % _MAX_KEYS)
    st.keys[kid] = (alg, bytes(secret))
    st.changed()
    s.router.modified = True
    return ""


@command(CONFIG, "no ntp authentication-key")
def _no_ntp_key(s, args):
    args.need(1)
    kid = integer(args, 0, 1, 4294967295)
    st = state(s.router)
    st.keys.pop(kid, None)
    st.changed()
    s.router.modified = True
    return ""


@command(CONFIG, "ntp trusted-key")
def _ntp_trusted(s, args):
    args.need(1)
    args.only(1)
    kid = integer(args, 0, 1, 4294967295)
    st = state(s.router)
    if kid not in st.trusted_keys:
        if len(st.trusted_keys) >= _MAX_KEYS:
            raise Invalid(0, "At most %d trusted keys" % _MAX_KEYS)
        st.trusted_keys.append(kid)
        st.trusted_keys.sort()
    st.changed()
    s.router.modified = True
    return ""


@command(CONFIG, "no ntp trusted-key")
def _no_ntp_trusted(s, args):
    args.need(1)
    kid = integer(args, 0, 1, 4294967295)
    st = state(s.router)
    if kid in st.trusted_keys:
        st.trusted_keys.remove(kid)
    st.changed()
    s.router.modified = True
    return ""


@command(CONFIG, "ntp authenticate")
def _ntp_authenticate(s, args):
    args.only(0)
    st = state(s.router)
    st.authenticate = True
    st.changed()
    s.router.modified = True
    return ""


@command(CONFIG, "no ntp authenticate")
def _no_ntp_authenticate(s, args):
    args.only(0)
    state(s.router).authenticate = False
    state(s.router).changed()
    s.router.modified = True
    return ""


@command(CONFIG, "ntp maxpoll")
def _ntp_maxpoll(s, args):
    args.need(1)
    args.only(1)
    st = state(s.router)
    st.maxpoll = integer(args, 0, 4, 17)
    st.changed()
    s.router.modified = True
    return ""


@command(CONFIG, "no ntp maxpoll")
def _no_ntp_maxpoll(s, args):
    state(s.router).maxpoll = _DEFAULT_MAXPOLL
    state(s.router).changed()
    s.router.modified = True
    return ""


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
    if st.maxpoll != _DEFAULT_MAXPOLL:
        lines.append("ntp maxpoll %d" % st.maxpoll)
    for srv in st.servers:
        lines.append(srv.config_line())
    if len(lines) > n:
        lines.append("!")


def _hex(b):
    return "".join("%02X" % x for x in b)


# --- show ---------------------------------------------------------------------


def _ms(us):
    return "%.1f" % (us / 1000) if abs(us) < 10000000 else "%d" % (us // 1000)


@command(EXEC, "show ntp associations")
def _show_assoc(s, args):
    detail = False
    if args:
        if not "detail".startswith(args[0].lower()):
            raise Invalid(0)
        args.only(1)
        detail = True
    st = state(s.router)
    if not st.servers:
        return "%NTP is not enabled.\n"
    now = ticks_ms()
    width = max([15] + [len(x.name()) for x in st.servers])
    out = ["  %-*s %-15s %3s %6s %6s %5s %7s %8s %7s  %s"
           % (width, "address", "ref clock", "st", "when", "poll", "reach", "delay", "offset",
              "disp", "auth")]
    for srv in st.servers:
        smp = srv.sample
        if srv.key_id is None:
            auth = "none"
        elif smp is not None and smp.key_id == srv.key_id and srv.error is None:
            auth = "key %d ok" % srv.key_id
        else:
            auth = "key %d" % srv.key_id
        if smp is None:
            out.append("%s~%-*s %-15s %3d %6s %6d %5o %7s %8s %7s  %s"
                       % (srv.mark, width, srv.name(), ".INIT.", 16, "-", st.poll_s(), srv.reach,
                          "0.0", "0.0", "16000.", auth))
            continue
        when = ticks_diff(now, srv.last_ms) // 1000
        out.append("%s~%-*s %-15s %3d %6d %6d %5o %7s %8s %7s  %s"
                   % (srv.mark, width, srv.name(), smp.refid, smp.stratum, when, st.poll_s(),
                      srv.reach, _ms(smp.delay_us), _ms(smp.offset_us),
                      _ms(smp.root_dispersion_us), auth))
    out.append(" * sys.peer, # answered (unsynced), + candidate, - outlyer, ~ configured")
    if detail:
        for srv in st.servers:
            out.append("")
            out.append("%s configured, %s, last result: %s" % (
                srv.name(),
                "authenticated by key %d" % srv.key_id if srv.key_id is not None
                else "unauthenticated",
                srv.error or ("accepted" if srv.sample is not None else "not yet asked")))
    return "\n".join(out) + "\n"


@command(EXEC, "show ntp status")
def _show_status(s, args):
    args.only(0)
    r = s.router
    clock = r.clock
    st = state(r)
    out = []
    smp = clock.last_sample
    if clock.trusted and clock.source == "NTP" and smp is not None:
        out.append("Clock is synchronized, stratum %d, reference is %s"
                   % (smp.stratum + 1 if smp.stratum < 15 else 16, smp.srv.name()))
        out.append("reference time is %s" % format_ios(clock.last_sync))
        out.append("clock offset is %s msec (step at the last sync), root delay is %s msec"
                   % (_ms(clock.last_offset_us), _ms(smp.root_delay_us + smp.delay_us)))
        out.append("root dispersion is %s msec, authentication %s"
                   % (_ms(smp.root_dispersion_us),
                      "key %d" % smp.key_id if smp.key_id is not None else "none"))
    elif clock.trusted:
        out.append("Clock is unsynchronized, stratum 16, no reference clock (time source is %s)"
                   % clock.source)
    else:
        out.append("Clock is unsynchronized, stratum 16, no reference clock")
    if clock.drift is not None:
        out.append("drift is %+.9f s/s (%+.2f ppm) over the last resync" % (clock.drift,
                                                                          clock.drift * 1e6))
    else:
        out.append("drift is unknown (needs two NTP syncs)")
    out.append("%d sync%s since boot, resync every %d s" % (clock.syncs,
                                                            "" if clock.syncs == 1 else "s",
                                                            st.poll_s()))
    if clock.floor is not None:
        out.append("clock floor is %s" % format_ios(clock.floor, False))
    else:
        out.append("no clock floor")
    if clock.floor_error:
        out.append("clock floor error: %s" % clock.floor_error)
    if st.last_round_error:
        out.append("last sync refused: %s" % st.last_round_error)
    return "\n".join(out) + "\n"
