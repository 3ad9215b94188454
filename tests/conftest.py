# SPDX-License-Identifier: MIT
"""pytest wiring shared by every upki test.

Device tests (tests/device/test_*.py) are MicroPython scripts: each file runs
once on the Unix port and every test_* function in it becomes a pytest item.
Host tests (tests/test_*.py) drive the simulated board, the peers and the
independent checkers (cryptography, openssl).
"""

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mpy import DEVICE_TESTS, run_micropython  # noqa: E402

IN_CI = os.environ.get("CI") == "true"


def require(what, ok, why=""):
    """Skip a test whose peer or tool is missing, except in CI, where that is a failure."""
    if ok:
        return
    msg = "%s is missing%s" % (what, (": " + why) if why else "")
    if IN_CI:
        pytest.fail(msg + " (CI=true: a missing peer is a failure)")
    pytest.skip(msg)


@pytest.fixture
def ts():
    """The lab time server (host_tools timeserver) on loopback, unauthenticated;
    a test file needing other keys or an offset defines its own `ts`."""
    from host_tools.upki_host.timeserver import TimeServer

    with TimeServer() as server:
        yield server


def require_command(name):
    path = shutil.which(name) or (shutil.which(name, path="/usr/sbin:/sbin:/usr/bin"))
    require(name, path is not None, "install the Debian packages (make setup as root)")
    return path


_LINE = re.compile(r"^(PASS|FAIL|SKIP|END) (\w+)(?: (.*))?$")


class DeviceModule(pytest.File):
    """One device test script; it is run once, its functions are the items."""

    _result = None

    def collect(self):
        names = re.findall(r"^def (test_\w+)\(", self.path.read_text(), re.M)
        for name in names:
            yield DeviceItem.from_parent(self, name=name)

    def results(self):
        if self._result is None:
            heap = None
            m = re.search(r"^# heapsize: (\S+)", self.path.read_text(), re.M)
            if m:
                heap = m.group(1)
            r = run_micropython(
                [str(DEVICE_TESTS / "devtest.py"), self.path.stem],
                heap=heap,
                timeout=1800,
                cwd=str(DEVICE_TESTS),
            )
            outcome = {}
            current = None
            for line in r.stdout.splitlines():
                m = _LINE.match(line)
                if m and m.group(1) in ("PASS", "SKIP"):
                    outcome[m.group(2)] = (m.group(1), m.group(3) or "")
                elif m and m.group(1) == "FAIL":
                    current = m.group(2)
                    outcome[current] = ("FAIL", "")
                elif m and m.group(1) == "END":
                    current = None
                elif current:
                    outcome[current] = ("FAIL", outcome[current][1] + line + "\n")
            self._result = (outcome, r)
        return self._result


class DeviceItem(pytest.Item):
    def runtest(self):
        outcome, proc = self.parent.results()
        if self.name not in outcome:
            raise AssertionError(
                "device test %s did not report (exit %d)\nstdout:\n%s\nstderr:\n%s"
                % (self.name, proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:])
            )
        status, detail = outcome[self.name]
        if status == "SKIP":
            if IN_CI:
                raise AssertionError("skipped in CI: " + detail)
            pytest.skip(detail)
        if status == "FAIL":
            raise AssertionError("on the Unix port:\n" + detail + proc.stderr[-2000:])

    def repr_failure(self, excinfo):
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, 0, "device: %s::%s" % (self.path.name, self.name)


def pytest_pycollect_makemodule(module_path, parent):
    if module_path.parent == DEVICE_TESTS and module_path.name.startswith("test_"):
        return DeviceModule.from_parent(parent, path=module_path)
    return None
