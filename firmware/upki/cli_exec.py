# SPDX-License-Identifier: MIT
# Exec commands of the console that a board does not need at boot: show
# running/startup-config, write memory, show flash/version/clock, clock set,
# reload and debug. Loaded on first use (upki.features), like every feature.
import sys

import upki
from upki.cli import EXEC, Args, Invalid, _hexid, command, integer


@command(EXEC, "show running-config")
def _show_run(s, args):
    args.only(0)
    head = "Building configuration...\n\nCurrent configuration : %d bytes\n"
    if s.emit is None:
        text = s.router.render()
        return head % len(text) + text
    # on a console, a kilobyte at a time: certificate chains in hex make the
    # configuration several KB, never held whole (counted first for the header)
    s.emit(head % s.router.render_size())
    s.router.render_to(s.emit)
    return ""


@command(EXEC, "show startup-config")
def _show_start(s, args):
    args.only(0)
    from upki.errors import NVRAMError

    r = s.router
    try:
        lines = r.startup_lines()
    except NVRAMError as e:
        return "%%Error: %s\n" % e
    if lines is None:
        return "startup-config is not present\n"
    total, _free = r.nvram.statvfs()
    out = []
    put = s.emit or out.append  # on a console, a line at a time
    try:
        put("Using %d out of %d bytes\n" % (lines.left, total))
        while True:
            try:
                line = lines.readline()
            except ValueError as e:
                line = "! (a line that cannot be shown: %s)" % e
            if line is None:
                break
            put(line + "\n")
    finally:
        lines.close()
    return "".join(out)


def _write_memory(s, args):
    args.only(0)
    from upki.errors import NVRAMError

    try:
        s.router.save()
    except NVRAMError as e:
        return "Building configuration...\n%%Error: %s\n" % e
    return "Building configuration...\n[OK]\n"


command(EXEC, "write memory")(_write_memory)
command(EXEC, "copy running-config startup-config")(_write_memory)


@command(EXEC, "write")
def _write_bare(s, args):
    if args:
        raise Invalid(0)
    return _write_memory(s, args)


@command(EXEC, "show flash")
def _show_flash(s, args):
    args.only(0)
    r = s.router
    nv = r.nvram
    total, free = nv.statvfs()
    lines = ["Flash filesystem (littlefs2) at %s:" % r.board.flash_root, "File  Length   Name/status"]
    used = 0
    for i, name in enumerate(nv.names()):
        try:
            import os

            size = os.stat(nv.path(name))[6]
        except Exception:
            size = 0
        used += size
        lines.append("%4d  %-8d %s" % (i + 1, size, name))
    if used == 0:
        lines.append("  (no files)")
    lines.append("[%d bytes used, %d available, %d total]" % (total - free, free, total))
    lines.append("%dK bytes of flash (Read/Write)" % (total // 1024))
    stats = getattr(r.board, "flash_stats", None)
    wear = "NVRAM writes since boot: %d records, %d bytes" % (nv.records_written, nv.bytes_written)
    if stats:
        w, e, b = stats()
        wear += "; flash: %d program ops (%d bytes), %d block erases" % (w, b, e)
    lines.append(wear)
    return "\n".join(lines) + "\n"


@command(EXEC, "show version")
def _show_version(s, args):
    args.only(0)
    r = s.router
    b = r.board
    up = r.uptime()
    total, _free = r.nvram.statvfs()
    return (
        "upki PKI client, Version %s\n"
        "Running on MicroPython %s, %s board\n\n"
        "%s uptime is %s\n"
        "Board ID %s\n"
        "%dK bytes of flash (littlefs2)\n"
        % (
            upki.__version__,
            ".".join(str(x) for x in sys.implementation.version[:3]),
            b.name,
            r.hostname,
            _uptime(up),
            _hexid(b.unique_id()),
            total // 1024,
        )
    )




def _uptime(sec):
    d, sec = divmod(sec, 86400)
    h, sec = divmod(sec, 3600)
    m, sec = divmod(sec, 60)
    parts = []
    if d:
        parts.append("%d day%s" % (d, "s" if d != 1 else ""))
    if h:
        parts.append("%d hour%s" % (h, "s" if h != 1 else ""))
    parts.append("%d minute%s" % (m, "s" if m != 1 else ""))
    return ", ".join(parts)




@command(EXEC, "show clock")
def _show_clock(s, args):
    detail = False
    if args:
        if not "detail".startswith(args[0].lower()):
            raise Invalid(0)
        args.only(1)
        detail = True
    return s.router.clock.show(detail) + "\n"


@command(EXEC, "clock set")
def _clock_set(s, args):
    # clock set HH:MM:SS DD Mon YYYY  (IOS also takes Mon DD)
    from upki.clock import mktime_utc, month_number

    args.need(4)
    args.only(4)
    try:
        hh, mm, ss = [int(x) for x in args[0].split(":")]
    except ValueError:
        raise Invalid(0)
    if not (0 <= hh < 24 and 0 <= mm < 60 and 0 <= ss < 60):
        raise Invalid(0)
    a, b = args[1], args[2]
    if a.isdigit():
        day, month, mi = int(a), month_number(b), 2
    else:
        month, day, mi = month_number(a), integer(args, 2, 1, 31), 1
    if not month:
        raise Invalid(mi)
    if not 1 <= day <= 31:
        raise Invalid(1)
    year = integer(args, 3, 1993, 2099)
    s.router.clock.set(mktime_utc(year, month, day, hh, mm, ss), "user configuration")
    return ""


@command(EXEC, "reload")
def _reload(s, args):
    args.only(0)
    if s.router.modified:
        ans = s.ask("System configuration has been modified. Save? [yes/no]: ", "no").strip().lower()
        if ans and "yes".startswith(ans):
            out = _write_memory(s, Args([], [], ""))
            if "[OK]" not in out:
                return out + "% Reload aborted: the configuration was not saved\n"
            if s.emit:
                s.emit(out)
        elif not (ans and "no".startswith(ans)):
            return "% Please answer 'yes' or 'no'.\n"
    ans = s.ask("Proceed with reload? [confirm]", "").strip().lower()
    if ans and not "yes".startswith(ans) and ans != "y":
        return ""
    s.exit_requested = "reload"
    return "\n%SYS-5-RELOAD: Reload requested by console.\n"


# --- debug -------------------------------------------------------------------


def _debug_switch(args, on):
    from upki import log

    args.need(1)
    args.only(1)
    w = args[0].lower()
    for cat, text in ((log.TRANSACTIONS, "Crypto PKI Trans"), (log.MESSAGES, "Crypto PKI Msg")):
        if cat.startswith(w):
            if on:
                log.enable(cat)
            else:
                log.disable(cat)
            return "%s debugging is %s\n" % (text, "on" if on else "off")
    raise Invalid(0)


@command(EXEC, "debug crypto pki")
def _debug_pki(s, args):
    return _debug_switch(args, True)


@command(EXEC, "no debug crypto pki")
def _no_debug_pki(s, args):
    return _debug_switch(args, False)


@command(EXEC, "undebug all")
def _undebug_all(s, args):
    from upki import log

    args.only(0)
    log.disable()
    return "All possible debugging has been turned off\n"


command(EXEC, "no debug all")(_undebug_all)


@command(EXEC, "show debugging")
def _show_debugging(s, args):
    from upki import log

    args.only(0)
    out = []
    if log.enabled(log.TRANSACTIONS):
        out.append("  Crypto PKI Trans debugging is on")
    if log.enabled(log.MESSAGES):
        out.append("  Crypto PKI Msg debugging is on")
    if not out:
        return ""
    return "Cryptographic Subsystem:\n" + "\n".join(out) + "\n"
