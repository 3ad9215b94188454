# SPDX-License-Identifier: MIT
"""The simulated board on a pipe, driven line by line like a console (tests only)."""

import os
import queue
import re
import subprocess
import threading
import time

from mpy import BOARD_RUN, mpy_env


class Console:
    """The simulated board on a pipe; `reload` boots it again (the run script loops).
    tty=True: on a pseudo-terminal instead (stdin a tty, so the console is
    interactive); lines are then typed with a carriage return, as on a terminal."""

    def __init__(self, image, env=None, heap=None, tty=False):
        if heap:
            env = dict(env or {}, UPKI_HEAP=heap)
        cmd = [str(BOARD_RUN), str(image)]
        self.tty = None
        if tty:
            self.tty, slave = os.openpty()
            self.p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                                      env=mpy_env(env), start_new_session=True)
            os.close(slave)
        else:
            self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, env=mpy_env(env))
        self.q = queue.Queue()
        self.text = ""
        self.pos = 0
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        fd = self.p.stdout.fileno() if self.tty is None else self.tty
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the board closed its terminal
                data = b""
            if not data:
                self.q.put(None)
                return
            self.q.put(data.decode(errors="replace"))

    def _pump(self, timeout):
        try:
            chunk = self.q.get(timeout=timeout)
        except queue.Empty:
            return True
        if chunk is None:
            return False
        self.text += chunk
        return True

    def send(self, *lines):
        if self.tty is not None:
            self.type("".join(line + "\r" for line in lines))
            return
        for line in lines:
            self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def type(self, keys):
        """Keys as typed on the terminal (tty=True): "\x03" is Ctrl-C, "\x04" Ctrl-D."""
        os.write(self.tty, keys.encode())

    def expect(self, pattern, timeout=30, nudge=None):
        """Wait for pattern after the last match; nudge: send an empty line every
        `nudge` seconds meanwhile (background work also runs while the console idles)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while True:
            m = rx.search(self.text, self.pos)
            if m:
                self.pos = m.end()
                return m
            if time.monotonic() > deadline:
                raise AssertionError("no %r within %ss; board said:\n%s"
                                     % (pattern, timeout, self.text[self.pos :][-4000:]))
            if nudge and time.monotonic() - last >= nudge:
                self.send("")
                last = time.monotonic()
            if not self._pump(0.1) and self.p.poll() is not None:
                m = rx.search(self.text, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                raise AssertionError("board ended before %r:\n%s"
                                     % (pattern, self.text[self.pos :][-4000:]))

    def since(self):
        """All output after the last match, after a short settle."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.3:
            self._pump(0.05)
        return self.text[self.pos :]

    def quiet(self, seconds, nudge=0.5):
        """Nudge the console for `seconds`; returns what it printed meanwhile."""
        start = len(self.text)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.send("")
            t = time.monotonic() + nudge
            while time.monotonic() < t:
                self._pump(0.05)
        return self.text[start:]

    def close(self, timeout=30):
        try:
            if self.tty is None:
                self.p.stdin.close()
            else:
                self.type("\x04")  # Ctrl-D: end of input
        except OSError:
            pass
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        while self._pump(0.05):
            if self.q.empty() and self.p.poll() is not None:
                break
        if self.tty is not None:
            os.close(self.tty)
        assert "Traceback" not in self.text and "Internal error" not in self.text, \
            self.text[-3000:]
        assert "%SYS-3-TASK" not in self.text, self.text[-3000:]
        return self.text
