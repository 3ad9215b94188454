# SPDX-License-Identifier: MIT
"""Host-side helpers to run firmware code on the MicroPython Unix port."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
DEVICE_TESTS = ROOT / "tests" / "device"
BOARD_RUN = ROOT / "boards" / "unix" / "run"


def micropython_bin():
    exe = Path(sys.executable).parent / "micropython"
    if exe.exists():
        return str(exe)
    return "micropython"


def mpy_env(extra=None):
    env = dict(os.environ)
    # MICROPYPATH replaces the whole path: keep the frozen modules (requests).
    env["MICROPYPATH"] = "%s:%s:.frozen" % (FIRMWARE, DEVICE_TESTS)
    if extra:
        env.update(extra)
    return env


def run_micropython(args, heap=None, stdin=None, timeout=300, env=None, cwd=None):
    """Run the Unix port with args (a script path or ['-c', code]); returns CompletedProcess."""
    cmd = [micropython_bin()]
    if heap:
        cmd += ["-X", "heapsize=%s" % heap]
    cmd += list(args)
    return subprocess.run(
        cmd,
        input=stdin,
        capture_output=True,
        text=stdin is None or isinstance(stdin, str),
        timeout=timeout,
        env=mpy_env(env),
        cwd=cwd,
    )


def run_code(code, heap=None, timeout=300, env=None):
    """Run a snippet on the Unix port; fail with its stderr when it fails; return stdout."""
    r = run_micropython(["-c", code], heap=heap, timeout=timeout, env=env)
    if r.returncode != 0:
        raise AssertionError("micropython failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    return r.stdout


def run_json(code, heap=None, timeout=300, env=None):
    """Run a snippet that prints one JSON document as its last line; return it decoded."""
    out = run_code(code, heap=heap, timeout=timeout, env=env)
    return json.loads(out.strip().splitlines()[-1])


def board(image, script, timeout=120, env=None, args=()):
    """Boot the simulated board on image and feed it script (console lines); returns CompletedProcess."""
    return subprocess.run(
        [str(BOARD_RUN), *args, str(image)],
        input=script,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=mpy_env(env),
    )
