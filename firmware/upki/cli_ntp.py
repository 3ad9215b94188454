# SPDX-License-Identifier: MIT
# The NTP commands: `ntp server|authentication-key|trusted-key|authenticate|
# maxpoll` and `show ntp associations|status`. Loaded for a command and
# dropped again after it; the configuration they set, the syncs and the
# running-config section stay in upki.ntp.
from micropython import const

from upki.cli import CONFIG, EXEC, Invalid, command, integer
from upki.clock import format_ios
from upki.ntp import DEFAULT_MAXPOLL, Server, state

try:
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython
    from upki.sntp import ticks_diff, ticks_ms

# CLI algorithm word -> sntp algorithm
_ALGS = {"md5": "md5", "sha1": "sha1", "cmac-aes128": "aes128cmac", "sha256": "sha256"}
_MAX_SERVERS = const(8)
_MAX_KEYS = const(16)
_MAX_KEY_BYTES = const(64)


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


def _config(words):
    """Register an NTP configuration command. Its handler(session, args)
    returns None when it changed the NTP configuration (the next sync round
    is then due at once, and the running-config is modified), or a message
    when it changed nothing."""

    def register(fn):
        def handler(s, args):
            out = fn(s, args)
            if out:
                return out
            state(s.router).changed()
            s.router.modified = True
            return ""

        command(CONFIG, words)(handler)
        return fn

    return register


@_config("ntp server")
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


@_config("no ntp server")
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


@_config("ntp authentication-key")
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


@_config("no ntp authentication-key")
def _no_ntp_key(s, args):
    args.need(1)
    kid = integer(args, 0, 1, 4294967295)
    state(s.router).keys.pop(kid, None)


@_config("ntp trusted-key")
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


@_config("no ntp trusted-key")
def _no_ntp_trusted(s, args):
    args.need(1)
    kid = integer(args, 0, 1, 4294967295)
    st = state(s.router)
    if kid in st.trusted_keys:
        st.trusted_keys.remove(kid)


@_config("ntp authenticate")
def _ntp_authenticate(s, args):
    args.only(0)
    state(s.router).authenticate = True


@_config("no ntp authenticate")
def _no_ntp_authenticate(s, args):
    args.only(0)
    state(s.router).authenticate = False


@_config("ntp maxpoll")
def _ntp_maxpoll(s, args):
    args.need(1)
    args.only(1)
    st = state(s.router)
    st.maxpoll = integer(args, 0, 4, 17)


@_config("no ntp maxpoll")
def _no_ntp_maxpoll(s, args):
    state(s.router).maxpoll = DEFAULT_MAXPOLL


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
