# SPDX-License-Identifier: MIT
"""The simulated board on a serial port: mpremote works on it unchanged.

    python -m host_tools.upki_host.unixbridge IMAGE|DIR [--size BYTES] [--link PATH]

prints the pty to connect to (`mpremote connect /dev/pts/N fs cp ...`) and
serves until interrupted.  IMAGE is a simulated board's flash image (made and
booted by boards/unix/run; created blank when missing); DIR is a plain
directory served as the board's filesystem.

What it does, so that mpremote's protocol runs unchanged against the Unix port:
- The Unix port's own REPL (with its raw REPL and raw-paste mode) runs on a
  second pty that is its controlling terminal, so Ctrl-C during a running
  program reaches it as SIGINT, as on a board.
- A soft reset (Ctrl-D at an empty raw REPL, which ends the Unix port) restarts
  the process: the bridge prints the soft-reboot banner and, if the client was
  in the raw REPL, puts the new process back into it.
- The flash (image or directory) is mounted as `/`, and sys.path is a board's.

STUB: this replaces the board's USB serial link and its `machine` module
(unique_id, reset) only; the interpreter, filesystem and REPL are real.
"""

import argparse
import errno
import os
import select
import signal
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BOARD_DIR = ROOT / "boards" / "unix"
TARGET_SCRIPT = HERE / "unixbridge_target.py"

_RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"


def _micropython():
    exe = Path(sys.executable).parent / "micropython"
    if exe.exists():
        return str(exe)
    exe = ROOT / ".venv" / "bin" / "micropython"
    return str(exe) if exe.exists() else "micropython"


def _board_termios(fd):
    # Raw, but with ISIG: Ctrl-C becomes SIGINT while a program runs (the REPL
    # turns ISIG off itself while it reads a line).  No output translation: the
    # REPL writes its own \r\n, as a board's does.
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[3] |= termios.ISIG
    attrs[6][termios.VINTR] = 3
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class Bridge:
    """One simulated board served on a pty.  start() -> the pty path; stop()."""

    def __init__(self, target, size=None, heap=None, log=None):
        self.target = str(target)
        self.size = size
        self.heap = heap
        self.log = log or (lambda msg: None)
        self.proc = None
        self.raw = False  # the client's last mode request: Ctrl-A raw, Ctrl-B friendly
        self.resets = 0
        self._stop = False
        self._pending = bytearray()  # client bytes held while the board restarts
        self._swallow = None  # during a raw-mode restart: board output held until its prompt
        self._busy = False  # a program the client submitted is running
        self._typed = 0  # client bytes since the board's last prompt
        self._tail = b""  # the last board output, to see its prompts
        self._serving = False

    # -- lifecycle

    def start(self):
        self.client_master, self.client_slave = os.openpty()
        tty.setraw(self.client_slave)
        # Keep our own handle on the client slave: reads on the master would
        # fail with EIO whenever no client has the port open.
        self.path = os.ttyname(self.client_slave)
        self._spawn()
        return self.path

    def _spawn(self):
        master, slave = os.openpty()
        _board_termios(slave)
        cmd = [_micropython()]
        if self.heap:
            cmd += ["-X", "heapsize=%s" % self.heap]
        cmd += ["-i", str(TARGET_SCRIPT), str(BOARD_DIR), self.target]
        if self.size:
            cmd.append(str(self.size))
        env = dict(os.environ)
        env.pop("MICROPYPATH", None)

        def controlling_tty():
            import fcntl

            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            cmd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=controlling_tty,
            env=env,
            cwd="/",
        )
        os.close(slave)
        self.board_master = master

    def stop(self):
        self._stop = True
        deadline = time.monotonic() + 5
        while self._serving and time.monotonic() < deadline:
            time.sleep(0.01)  # let serve() in another thread finish its pump first
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in ("board_master", "client_master", "client_slave"):
            try:
                os.close(getattr(self, fd))
            except (AttributeError, OSError):
                pass

    # -- the pump

    def serve(self, until=None):
        """Copy bytes both ways until stop() or until() is true (checked every 50 ms)."""
        self._serving = True
        try:
            while not self._stop and not (until and until()):
                self.pump(0.05)
        finally:
            self._serving = False

    def pump(self, timeout):
        fds = [self.client_master, self.board_master]
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except (OSError, ValueError):
            ready = []
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                data = b""
            if fd == self.client_master:
                self._from_client(data)
            elif data:
                self._from_board(data)
        if self.proc.poll() is not None and not self._stop:
            self._soft_reboot()

    def _from_client(self, data):
        out = bytearray()
        for b in data:
            if b == 1:
                self.raw = True
            elif b == 2:
                self.raw = False
            elif b == 4 and self.raw and self._typed:
                self._busy = True  # code submitted: it runs until the board's next prompt
            elif b == 3 and self._busy and self._swallow is None and not self._isig():
                # The Unix port runs raw-paste code with the terminal still raw,
                # so Ctrl-C would wait in the input: deliver it as a board's UART does.
                os.kill(self.proc.pid, signal.SIGINT)
                continue
            self._typed += 1
            out.append(b)
        if self._swallow is not None:
            self._pending += out
        elif out:
            _write_all(self.board_master, bytes(out))

    def _isig(self):
        try:
            return bool(termios.tcgetattr(self.board_master)[3] & termios.ISIG)
        except termios.error:
            return False

    def _saw_prompt(self, data):
        self._tail = (self._tail + data)[-32:]
        if self._tail.endswith((b"\x04>", b">>> ", b"CTRL-B to exit\r\n>")):
            self._busy = False
            self._typed = 0

    def _from_board(self, data):
        self._saw_prompt(data)
        if self._swallow is None:
            _write_all(self.client_master, data)
            return
        # Restarted in the raw REPL: drop the Unix port's banner and friendly
        # prompt, enter the raw REPL, and forward from its banner on.
        self._swallow += data
        if not self._swallow.endswith(b">>> ") and b"raw REPL" not in self._swallow:
            return
        if b"raw REPL" not in self._swallow:
            self._swallow = bytearray()
            _write_all(self.board_master, b"\x01")
            return
        i = self._swallow.index(b"raw REPL")
        _write_all(self.client_master, bytes(self._swallow[i:]))
        self._swallow = None
        if self._pending:
            _write_all(self.board_master, bytes(self._pending))
            self._pending = bytearray()

    def _soft_reboot(self):
        # The Unix port ended (Ctrl-D, sys.exit, machine.reset): a board reboots.
        while True:  # drain what it printed last
            try:
                data = os.read(self.board_master, 4096)
            except OSError:
                break
            if not data:
                break
            if self._swallow is None:
                _write_all(self.client_master, data)
        os.close(self.board_master)
        self.resets += 1
        self._busy = False
        self._typed = 0
        self.log("soft reboot %d" % self.resets)
        _write_all(self.client_master, b"MPY: soft reboot\r\n")
        if self.raw:
            self._swallow = bytearray()
        self._spawn()


def _write_all(fd, data):
    view = memoryview(data)
    deadline = time.monotonic() + 10
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            n = 0
        if not n:
            if time.monotonic() > deadline:
                raise OSError("pty write stalled for 10 s")
            time.sleep(0.01)
        view = view[n:]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="unixbridge", description=__doc__.splitlines()[0])
    ap.add_argument("target", help="flash image of the simulated board, or a directory")
    ap.add_argument("--size", type=int, default=None, help="size of a new image (bytes)")
    ap.add_argument("--link", default=None, help="also make this symlink to the pty")
    ap.add_argument("--heap", default=None, help="MicroPython heap size (e.g. 128k)")
    args = ap.parse_args(argv)
    bridge = Bridge(args.target, args.size, args.heap, log=lambda m: print("unixbridge: " + m))
    path = bridge.start()
    if args.link:
        try:
            os.unlink(args.link)
        except FileNotFoundError:
            pass
        os.symlink(path, args.link)
    print("unixbridge: simulated board %s on %s (serial link stubbed by a pty)"
          % (args.target, path))
    print("unixbridge: try: mpremote connect %s fs ls" % path, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: bridge.stop())
    try:
        bridge.serve()
    except KeyboardInterrupt:
        pass
    finally:
        bridge.stop()
        if args.link:
            try:
                os.unlink(args.link)
            except OSError:
                pass
    print("unixbridge: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
