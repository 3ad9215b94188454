# SPDX-License-Identifier: MIT
# The IOS-style command line: modes, abbreviations, error markers, the console.
#
# Commands are registered per mode as keyword paths ("show running-config");
# every keyword may be abbreviated to a unique prefix, as on IOS ("sh run").
# A handler gets the session and the remaining words (Args) and returns its
# output as a string. Bad input raises Invalid(i): the CLI draws IOS's '^'
# marker under word i. No input ever produces a traceback.
import sys

from micropython import const

import upki
from upki.errors import PKIError

EXEC = "exec"
CONFIG = "config"

# The collector runs after every GC_THRESHOLD bytes allocated, not only when
# the heap is full: holes left by finished work are reused before the heap
# fragments (measured: the lifecycle and enrollment need less heap).
GC_THRESHOLD = const(16384)
_PROMPT_SUFFIX = {EXEC: "#", CONFIG: "(config)#"}
# mode -> [(words, handler)]: the loaded commands, keywords joined by single
# spaces. A flat list, not a tree of keyword nodes: a node (a list and a dict)
# costs ~165 bytes of heap on the 64-bit port, a command here one tuple.
_commands = {}
_submode_parent = {}  # submode -> mode it returns to with `exit`


class Invalid(Exception):
    """Bad input at argument i (None: at the end of the line)."""

    def __init__(self, i=None, msg=None):
        super().__init__(msg)
        self.i = i
        self.msg = msg


class Incomplete(Exception):
    pass


class Args(list):
    """The words after a command's keywords, with their columns in the line."""

    def __init__(self, words, cols, line):
        super().__init__(words)
        self.cols = cols
        self.line = line

    def rest(self, i):
        """The raw text from word i to the end of the line (for names with spaces)."""
        return self.line[self.cols[i] :].strip() if i < len(self) else ""

    def need(self, n):
        if len(self) < n:
            raise Incomplete()

    def only(self, n):
        # Reject words past the n a command takes.
        if len(self) > n:
            raise Invalid(n)


def command(mode, words, help=None):
    """Decorator: register handler(session, args) for `words` in `mode`
    (keywords separated by single spaces)."""

    def register(fn):
        table = _commands.setdefault(mode, [])
        for i in range(len(table)):
            if table[i][0] == words:
                table[i] = (words, fn)
                return fn
        table.append((words, fn))
        return fn

    return register


# Feature modules not loaded yet, with the commands they serve: (module, "MODE WORDS|...").
# Feature modules cost heap as soon as they are imported (on a board running
# .mpy files their bytecode lives there), so the console knows their commands
# from this table (upki.features) and imports a module only when a line names
# one of its commands; importing it runs its @command decorators. Looking the
# table up only on a miss keeps it out of the command tree, which costs ~20 KB.
_lazy = []


def lazy(module, entries):
    # Idempotent: a second boot in the same process (tests, fuzzing) adds nothing,
    # and a module already imported has its commands in the tree.
    import sys

    if module in sys.modules or any(e[0] == module for e in _lazy):
        return
    _lazy.append((module, entries))


def _pending(mode):
    """[(module, words)]: the commands of mode that unloaded modules serve."""
    out = []
    head = mode + " "
    for module, entries in _lazy:
        for entry in entries.split("|"):
            if entry.startswith(head):
                out.append((module, entry[len(head) :]))
    return out


def _load(modules):
    import sys

    for entry in [e for e in _lazy if e[0] in modules]:
        _lazy.remove(entry)
        try:
            __import__(entry[0])
        except BaseException:
            # out of memory (or interrupted) mid-import: the port drops the
            # module, so its commands go back to the table and the next line
            # naming one tries again, instead of being "% Invalid input"
            if entry[0] not in sys.modules:
                _lazy.append(entry)
            raise


def submode(name, prompt_suffix, parent=CONFIG):
    _PROMPT_SUFFIX[name] = prompt_suffix
    _submode_parent[name] = parent
    _commands.setdefault(name, [])
    # `exit` goes back to the parent mode, `end` to exec, as in every IOS submode.
    command(name, "exit")(_exit)
    command(name, "end")(_end)


def integer(args, i, lo, hi):
    """Word i as an integer in lo..hi, else an Invalid marker on it."""
    try:
        v = int(args[i])
    except (ValueError, IndexError):
        raise Invalid(i) if i < len(args) else Incomplete()
    if not lo <= v <= hi:
        raise Invalid(i)
    return v


def _tokenize(line):
    words, cols = [], []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        j = i
        while j < n and line[j] not in " \t":
            j += 1
        words.append(line[i:j])
        cols.append(i)
        i = j
    return words, cols


class Session:
    """One console (or one scripted run): mode stack, output, prompts."""

    def __init__(self, router, ask=None):
        self.router = router
        self.mode = EXEC
        self.context = None  # the object a submode configures (a trustpoint...)
        self.ask = ask or (lambda prompt, default="": default)
        self.exit_requested = None  # "reload" ends the console
        self.emit = None  # the console's writer, for output that must precede a question
        self.collector = None  # fn(session, line) taking raw lines (hex input until "quit")
        self.tty = False  # a console on a terminal: Ctrl-C is a key while a command runs
        self._mark = None  # the modules loaded when the current command began (_drop)
        self._depth = 0

    def prompt(self):
        return self.router.hostname + _PROMPT_SUFFIX[self.mode]

    def enter(self, mode, context=None):
        if mode == CONFIG and self.mode == EXEC:
            self.router.config_sessions += 1
        self.mode = mode
        self.context = context

    def end(self):
        if self.mode != EXEC:
            self.router.config_sessions -= 1
        self.mode = EXEC
        self.context = None
        self.collector = None

    def execute(self, line):
        """Run one line in the current mode; return what the console prints.
        Back in exec or configuration mode, the modules the command loaded
        are dropped again (_drop)."""
        if self._mark is None:
            self._mark = mark()
        self._depth += 1
        try:
            return self._execute_line(line)
        finally:
            self._depth -= 1
            if not self._depth and self.mode in (EXEC, CONFIG) and self.collector is None:
                before, self._mark = self._mark, None
                release(before)

    def _execute_line(self, line):
        try:
            return self._execute(line) or ""
        except PKIError as e:
            return "%% %s\n" % e if not str(e).startswith("%") else "%s\n" % e
        except MemoryError:
            return "%% Not enough memory to complete: %s\n" % line.strip()
        except KeyboardInterrupt:
            return "\n"
        except Exception as e:  # a bug must not kill the console: report it in one line
            return "%% Internal error in '%s': %s: %s\n" % (line.strip(), type(e).__name__, e)

    def _execute(self, line):
        line = line.rstrip("\r\n")
        if self.collector is not None:
            return self.collector(self, line)
        stripped = line.strip()
        if not stripped or stripped[0] in "!#":
            return ""
        if stripped == "\x1a":  # Ctrl-Z
            self.end()
            return ""
        words, cols = _tokenize(line)
        mode = self.mode
        if mode != EXEC and words[0].lower() == "do" and len(words) > 1:
            return self._run(EXEC, words[1:], cols[1:], line, switch=False)
        result = self._run(mode, words, cols, line, switch=False, probe=mode in _submode_parent)
        if result is _NO_MATCH:
            parent = _submode_parent[mode]
            if not _known(parent, words[0]):
                return self._marker(cols[0])
            # IOS: a global command typed in a submode leaves the submode and runs.
            self.mode = parent
            self.context = None
            result = self._run(self.mode, words, cols, line, switch=True)
        return result

    def _run(self, mode, words, cols, line, switch, probe=False):
        status, found, i = _resolve(mode, words)
        if status is _LOAD:
            _load(found)  # the modules serving this command; then it is loaded
            status, found, i = _resolve(mode, words)
            if status is _LOAD:
                raise PKIError("feature table out of date for '%s'" % " ".join(words))
        if status is _MISS:
            if probe and i == 0:
                return _NO_MATCH
            return self._marker(cols[i])
        if status is _AMBIGUOUS:
            if probe and i == 0:
                return _NO_MATCH
            return '%% Ambiguous command:  "%s"\n' % " ".join(words[: i + 1])
        if status is _INCOMPLETE:
            return "% Incomplete command.\n\n"
        args = Args(words[i:], cols[i:], line)
        try:
            return found(self, args)
        except Invalid as e:
            if e.i is None or e.i >= len(args):
                col = len(line.rstrip())
            else:
                col = args.cols[e.i]
            return self._marker(col, e.msg)
        except Incomplete:
            return "% Incomplete command.\n\n"

    def _marker(self, col, msg=None):
        pad = " " * (len(self.prompt()) + col)
        out = pad + "^\n% Invalid input detected at '^' marker.\n"
        if msg:
            out += "%% %s\n" % msg
        return out + "\n"


_NO_MATCH = object()
_OK = "ok"
_MISS = "miss"
_AMBIGUOUS = "ambiguous"
_INCOMPLETE = "incomplete"
_LOAD = "load"


def _resolve(mode, words):
    """(status, found, i): the command the words name, i = its first argument
    word; found is its handler (_OK) or the modules that serve it (_LOAD).

    Keywords are matched against the loaded commands and the table of
    commands of modules not loaded yet, together, so abbreviations and
    ambiguity work as on IOS whatever is loaded. When the words complete a
    command of an unloaded module the status is _LOAD, with those modules.
    """
    # (words, handler, module): handler for a loaded command, module for one
    # not loaded yet; all of them agree with the keywords matched so far
    live = [(w, fn, None) for w, fn in _commands.get(mode, ())]
    live += [(w, None, m) for m, w in _pending(mode)]
    pos = 0  # where the next keyword begins in a words string
    end = None  # where the keywords matched so far end
    i = 0
    while i < len(words):
        t = words[i].lower()
        hits = [e for e in live if e[0].startswith(t, pos)]
        keys = set(_keyword(e[0], pos) for e in hits)
        if t in keys:
            k = t
        elif len(keys) == 1:
            k = keys.pop()
        elif keys:
            return _AMBIGUOUS, None, i
        else:
            break  # no command goes on with this word
        live = [e for e in hits if _keyword(e[0], pos) == k]
        end = pos + len(k)
        i += 1
        modules = [e[2] for e in live if len(e[0]) == end and e[2] is not None]
        if modules:
            return _LOAD, modules, i
        if not [e for e in live if len(e[0]) > end]:
            break  # a whole command and nothing longer: the rest are its arguments
        pos = end + 1
    if end is not None:
        for e in live:
            if len(e[0]) == end and e[1] is not None:
                return _OK, e[1], i
    if i < len(words):
        return _MISS, None, i
    return _INCOMPLETE, None, i


def _keyword(words, start):
    # the keyword of a command's words string that begins at start
    end = words.find(" ", start)
    return words[start:] if end < 0 else words[start:end]


def _known(mode, word):
    """Whether a first word is a command of mode (loaded or not), for submode fall-back."""
    w = word.lower()
    for words, _fn in _commands.get(mode, ()):
        if words.startswith(w):
            return True
    for _module, words in _pending(mode):
        if words.startswith(w):
            return True
    return False


# --- command-scoped modules ------------------------------------------------------
# A command's code costs heap only while the command runs: once a console line
# is done (back in exec or global configuration mode), the modules it loaded
# that features.TRANSIENT lists are forgotten (sys.modules, the package, their
# handlers in the command table; their commands go back to the lazy table), and
# the collector frees them. What stays keeps what it refers to: the modules
# that stay keep what they import at module level (features.DEPS), and every
# function in the hook registries keeps its module. A resident module must not
# cache another module's objects between commands (revocation keeps a CRL's
# verified size, not its crl.Index). Where the port cannot tell a function's
# module (no function.__globals__), nothing is dropped.


def mark():
    """The upki modules loaded now: what release() compares against."""
    return [k for k in sys.modules if k.startswith("upki.")]


def release(before):
    """Drop the transient modules loaded since before (a mark()), as the
    console does after a command; for code that loads what it needs in turns
    (a CRL fetch tries one transport after another)."""
    try:
        _drop(before)
    except MemoryError:
        pass  # nothing is lost: the modules stay loaded


def _owner(fn):
    g = getattr(fn, "__globals__", None)
    return g.get("__name__") if g is not None else None


def _hooks():
    # the functions the registries hold: they outlive the command
    fns = []
    cfg = sys.modules.get("upki.config")
    if cfg is not None:
        fns.extend(fn for _order, fn in cfg._sections)
        for reg in (cfg.boot_hooks, cfg.background, cfg.save_hooks, cfg.attach_hooks):
            fns.extend(reg)
    keys = sys.modules.get("upki.keys")
    if keys is not None:
        fns.extend(keys.removal_hooks)
    tp = sys.modules.get("upki.trustpoint")
    if tp is not None and tp.verifier[0] is not None:
        fns.append(tp.verifier[0])
    return fns


def _drop(before):
    """Forget the transient modules loaded since before (a mark())."""
    new = [m for m in mark() if m not in before]
    if not new:
        return
    from upki import features

    transient = "".join(features.TRANSIENT).split()
    drop = [m for m in new if m in transient]
    if not drop:
        return
    for table in _commands.values():
        for _words, fn in table:
            if _owner(fn) is None:
                return  # cannot tell whose it is: keep everything
    stay = []
    for fn in _hooks():
        owner = _owner(fn)
        if owner is None:
            return
        if owner in drop:
            drop.remove(owner)
            stay.append(owner)
    deps = {}
    for item in "".join(features.DEPS).split(";"):
        m, _, names = item.partition(">")
        deps[m] = names.split()
    stay += [m for m in mark() if m not in drop]
    while stay:  # what stays keeps what it imports, and so on
        for d in deps.get(stay.pop(), ()):
            if d in drop:
                drop.remove(d)
                stay.append(d)
    if not drop:
        return
    for table in _commands.values():  # their handlers go
        table[:] = [e for e in table if _owner(e[1]) not in drop]
    upki.forget([m[5:] for m in drop])
    for module, entries in features.LAZY:
        if module in drop:
            lazy(module, entries)
    import gc

    gc.collect()

# --- exec and configuration basics --------------------------------------------


@command(EXEC, "configure terminal")
def _configure(s, args):
    args.only(0)
    s.enter(CONFIG)
    return "Enter configuration commands, one per line.  End with CNTL/Z.\n"


@command(EXEC, "configure")
def _configure_bare(s, args):
    # IOS asks "Configure from terminal, memory, or network [terminal]?": terminal.
    args.only(0)
    return _configure(s, args)


@command(CONFIG, "end")
def _end(s, args):
    args.only(0)
    s.end()
    return ""


@command(CONFIG, "exit")
def _exit(s, args):
    args.only(0)
    parent = _submode_parent.get(s.mode)
    if parent:
        s.mode = parent
        s.context = None
    else:
        s.end()
    return ""


@command(EXEC, "exit")
def _exit_exec(s, args):
    args.only(0)
    s.exit_requested = "exit"
    return ""


@command(CONFIG, "hostname")
def _hostname(s, args):
    args.need(1)
    args.only(1)
    name = args[0]
    if not _valid_hostname(name):
        raise Invalid(0, "Hostname contains one or more illegal characters.")
    s.router.hostname = name
    s.router.modified = True
    return ""


@command(CONFIG, "no hostname")
def _no_hostname(s, args):
    s.router.hostname = "Router"
    s.router.modified = True
    return ""


def _valid_hostname(name):
    if len(name) > 63 or not name[0].isalpha() or name[-1] == "-":
        return False
    for ch in name:
        if not (ch.isalpha() or ch.isdigit() or ch == "-"):
            return False
    return True


@command(CONFIG, "ip domain-name")
def _domain(s, args):
    args.need(1)
    args.only(1)
    name = args[0]
    for label in name.split("."):
        if not label or not _valid_hostname(label if label[0].isalpha() else "x" + label):
            raise Invalid(0)
    s.router.domain = name
    s.router.modified = True
    return ""


@command(CONFIG, "no ip domain-name")
def _no_domain(s, args):
    s.router.domain = None
    s.router.modified = True
    return ""


def _hexid(b):
    return "".join("%02X" % x for x in b)


# --- boot and console ----------------------------------------------------------


def load_features():
    """Make the feature modules' commands known (upki.features).

    MODULES are imported now; LAZY modules are imported when one of their
    commands is first used, so a board pays heap only for what it uses.
    """
    from upki import features

    for name in features.MODULES:
        __import__(name)
    for name, entries in getattr(features, "LAZY", ()):
        lazy(name, entries)


def boot(board, out=None):
    """Mount NVRAM state, replay startup-config; return (router, session, boot messages)."""
    from upki.config import Router
    from upki.errors import NVRAMError

    load_features()
    import gc

    if hasattr(gc, "threshold"):  # MicroPython's; not CPython's (fuzzing)
        gc.threshold(GC_THRESHOLD)
    router = Router(board)
    msgs = []
    for name in router.nvram.recover():
        msgs.append("%%NVRAM-4-RECOVERED: removed %s, an unfinished write from before a power loss" % name)
    session = Session(router)
    try:
        lines = router.startup_lines()
    except NVRAMError as e:
        lines = None
        keep = "startup-config.corrupt"
        try:
            import os

            os.rename(router.nvram.path("startup-config"), router.nvram.path(keep))
            where = "kept as %s" % keep
        except OSError:
            where = "left in place"
        msgs.append("%%NVRAM-3-BADCONFIG: %s; booting with the default configuration (%s)" % (e, where))
    if lines is not None:
        session.enter(CONFIG)
        n = 0
        try:
            while True:  # one line at a time: the file is never held whole
                n += 1
                try:
                    line = lines.readline()
                except ValueError as e:
                    msgs.append("%%PARSER-4-BADCFG: startup-config line %d: %s" % (n, e))
                    continue
                if line is None or line.strip() == "end":
                    break
                res = session.execute(line)
                if res.strip():
                    msgs.append("%%PARSER-4-BADCFG: startup-config line %d '%s': %s" % (n, line.strip(), res.strip().split("\n")[-1]))
        finally:
            lines.close()
        session.end()
        router.modified = False
    return router, session, msgs


def console(board, interactive=True, stream=None):
    """The console loop. Returns "reload" or "exit" (end of input or `exit`)."""
    stream = stream or sys.stdin
    write = sys.stdout.write

    def read_line(prompt, shown=False):
        if interactive:
            try:
                return input(prompt)
            except EOFError:
                return None
        if not shown:
            write(prompt)
        line = stream.readline()
        if not line:
            write("\n")
            return None
        line = line.rstrip("\r\n")
        write(line + "\n")  # a scripted session prints like a console transcript
        return line

    write("\n" + banner(board))
    router, session, msgs = boot(board)
    for m in msgs:
        write(m + "\n")
    idle = [None]  # the prompt on screen while idle; a message then goes on a line of its own

    def log_write(text):
        # the first message while the prompt is on screen starts a line of its
        # own; the rest follow on (key generation's progress stays on one line)
        if idle[0] is not None and idle[0] != "reprint":
            write("\n")
            idle[0] = "reprint"
        write(text)

    router.log_sink = log_write
    for m in router.pending_log:
        write(m + "\n")
    router.pending_log = []
    from upki.config import boot_hooks

    before = mark()
    for hook in boot_hooks:
        try:
            hook(router)
        except Exception as e:
            write("%%SYS-3-BOOT: %s failed: %s\n" % (hook.__name__, e))
    release(before)
    if not router.clock.trusted:
        write(
            "%%CLOCK-4-NOT_AUTHORITATIVE: System clock is not authoritative (%s); "
            "certificates will not be validated until it is set by NTP or `clock set`\n"
            % router.clock.show()[1:]
        )
    write("\nPress RETURN to get started!\n\n")

    def ask(prompt, default=""):
        ans = read_line(prompt)
        return default if ans is None else ans

    session.ask = ask
    session.emit = write
    session.tty = interactive
    import select

    poller = select.poll()
    poller.register(stream, select.POLLIN)
    while True:
        _background(router)
        shown = False
        if not poller.poll(0):
            # Idle at the prompt: keep background work (NTP, polls, renewals) going
            # until a line arrives, on a terminal or from a script fed slowly.
            # quiet before the prompt shows: a key typed at the prompt must find
            # the terminal raw (a Ctrl-D the line discipline took would be lost)
            saved = _quiet_tty() if interactive else None
            prompt = session.prompt()
            write(prompt)
            idle[0] = prompt
            try:
                while not poller.poll(1000):
                    _background(router)
                    if idle[0] == "reprint":
                        prompt = session.prompt()
                        write(prompt)
                        idle[0] = prompt
            finally:
                _restore_tty(saved)
            idle[0] = None
            if interactive:
                write("\r")  # input() draws the prompt again and takes the typed key
            shown = True
        line = read_line(session.prompt(), shown)
        if line is None:
            return "exit"
        # on a terminal, Ctrl-C while a command runs is a key the command may
        # poll for (cli_keys.ctrl_c), not a signal: the Unix port raises
        # KeyboardInterrupt from its signal handler wherever the VM is, even in
        # the middle of a garbage collection, which then leaves the heap locked
        saved = _quiet_tty(0o13) if interactive else None  # ECHO, ICANON, ISIG
        try:
            out = session.execute(line)
        finally:
            _restore_tty(saved)
        if out:
            write(out)
        if session.exit_requested:
            return session.exit_requested


def _background(router):
    # background work (NTP, a pending request's poll, auto-enroll, CRL refresh)
    # leaves the heap as a command does: what it loaded goes when it is done
    before = mark()
    router.run_background()
    release(before)


def _quiet_tty(flags=0o12):
    # While idle at the prompt, keys must not echo (input() will draw them) and the
    # first key must wake the console: no echo, no line buffering (lflag ECHO
    # 0o10, ICANON 0o2, Linux values; ISIG 0o1 while a command runs). Unix port
    # only; a board's REPL stream is raw already.
    try:
        import termios
    except ImportError:
        return None
    try:
        saved = termios.tcgetattr(0)
        quiet = list(saved)
        quiet[3] &= ~flags
        termios.tcsetattr(0, termios.TCSANOW, quiet)
        return saved
    except (OSError, TypeError, IndexError):
        return None


def _restore_tty(saved):
    if saved is not None:
        import termios

        termios.tcsetattr(0, termios.TCSANOW, saved)


def banner(board):
    from upki.nvram import NVRAM

    nv = NVRAM(board.flash_root)
    total, free = nv.statvfs()
    return "upki %s (%s board) on MicroPython %s\nBoard ID %s, %dK bytes of flash (littlefs2), %dK free\n" % (
        upki.__version__,
        board.name,
        ".".join(str(x) for x in sys.implementation.version[:3]),
        _hexid(board.unique_id()),
        total // 1024,
        free // 1024,
    )


# The module-level entry point: one default session per board.
_default = [None]


def execute(line, board=None):
    """upki.cli.execute(line) -> str: run one command on the default session."""
    if _default[0] is None:
        if board is None:
            raise PKIError("no board booted: call upki.cli.boot(board) first")
        _default[0] = boot(board)[1]
    return _default[0].execute(line)


def hexblock(data, indent="  ", words=8):
    """DER as IOS prints it: uppercase hex in 8-digit words, `words` to a line.
    A generator, a line at a time: a certificate's hex is never one string."""
    from binascii import hexlify

    mv = memoryview(data)
    step = 4 * words
    for i in range(0, len(mv), step):
        h = hexlify(mv[i : i + step]).decode().upper()
        yield indent + " ".join([h[j : j + 8] for j in range(0, len(h), 8)])
