# SPDX-License-Identifier: MIT
"""`upki-host build`, `deploy` and `fleet` as a lab engineer runs them: the real
command line (.venv/bin/upki-host, one process each), stdout and stderr as one
terminal would show them, against simulated boards on the pty bridge
(host_tools/upki_host/unixbridge.py; only the serial link and `machine` are
stubbed there).  Each step prints its progress lines and ends with exactly one
success line, or one error line and a non-zero exit.

The ESP32 deploy copies the real xtensawin build: its bytecode modules load on
the Unix port (only des.mpy holds native code, and deploy's check does not
import it), so board.py and main.py travel exactly as they would to a board."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.upki_host import boards
from host_tools.upki_host.nvimage import Image
from mpy import ROOT
from test_mpremote_bridge import Served, mpremote

def upki_host(*args, timeout=300):
    """Run the installed `upki-host` console script; (exit status, output lines).

    stderr is merged into stdout, unbuffered, so the lines are in the order a
    terminal shows them."""
    exe = Path(sys.executable).parent / "upki-host"
    cmd = [str(exe)] if exe.exists() else [
        sys.executable, "-c", "import sys; from host_tools.upki_host.cli import main; "
        "sys.exit(main())"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    r = subprocess.run(cmd + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout, env=env,
                       cwd=str(ROOT))
    return r.returncode, r.stdout.rstrip("\n").splitlines()


def assert_one_success_line(step, lines, pattern):
    """The last line is `STEP: OK: ...` matching pattern; no other line claims OK or error."""
    text = "\n".join(lines)
    assert re.fullmatch(pattern, lines[-1]), text
    assert [ln for ln in lines if ln.startswith(step + ": OK")] == [lines[-1]], text
    assert not [ln for ln in lines if "error" in ln.lower() or "Traceback" in ln], text


def assert_one_error_line(step, rc, lines, pattern):
    text = "\n".join(lines)
    assert rc != 0, text
    assert re.fullmatch(step + ": error: " + pattern, lines[-1]), text
    assert [ln for ln in lines if ": error:" in ln] == [lines[-1]], text
    assert not [ln for ln in lines if "Traceback" in ln or ": OK" in ln], text


@pytest.fixture(scope="module")
def esp32_build(tmp_path_factory):
    """`upki-host build --board esp32` into a fresh directory: (exit status, lines, dir)."""
    out = tmp_path_factory.mktemp("esp32")
    rc, lines = upki_host("build", "--board", "esp32", "--out", out)
    return rc, lines, out


def test_build_prints_progress_then_one_success_line(esp32_build):
    rc, lines, out = esp32_build
    assert rc == 0, lines
    assert len(lines) == 3, lines
    assert lines[0] == "build: mpy-cross -march=xtensawin firmware/upki -> %s/upki" % out
    m = re.fullmatch(r"build: (\d+) modules, (\d+) bytes of \.mpy \+ board\.py, main\.py",
                     lines[1])
    assert m, lines
    mpys = sorted((out / "upki").glob("*.mpy"))
    assert int(m.group(1)) == len(mpys) > 10
    assert int(m.group(2)) == sum(p.stat().st_size for p in mpys)
    assert_one_success_line("build", lines,
                            r"build: OK: %d modules for esp32 in %s" % (len(mpys), re.escape(
                                str(out))))


def test_build_into_an_unwritable_place_is_one_error_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    rc, lines = upki_host("build", "--board", "rp2_pico_w", "--out", blocker / "out")
    assert lines[0].startswith("build: mpy-cross -march=armv6m firmware/upki -> "), lines
    assert_one_error_line("build", rc, lines,
                          r"cannot write %s/out\S*: Not a directory" % re.escape(str(blocker)))


def test_deploy_esp32_copies_modules_and_boot_files(esp32_build, tmp_path):
    rc, _lines, build = esp32_build
    assert rc == 0
    s = Served(tmp_path / "board.img")
    try:
        rc, lines = upki_host("deploy", "--port", s.port, "--board", "esp32", "--build", build)
        # the S3 names itself from sys.implementation._machine (boards/esp32/board.py)
        r = mpremote(s.port, "exec", S3_NAMING)
    finally:
        s.stop()
    mpys = sorted((build / "upki").glob("*.mpy"))
    assert rc == 0, lines
    assert lines[0] == "deploy: copying %d modules and board.py, main.py to %s" % (
        len(mpys), s.port), lines
    assert_one_success_line("deploy", lines,
                            r"deploy: OK: upki \d+\.\d+\.\d+\S* on %s \(\d+\.\d s\)"
                            % re.escape(s.port))
    assert len(lines) == 2, lines
    img = Image.load(s.bridge.target)
    for f in ("board.py", "main.py"):
        assert raw_file(img, f) == (boards.board_dir("esp32") / f).read_bytes(), f
    for p in mpys:
        assert raw_file(img, "lib/upki/" + p.name) == p.read_bytes(), p.name
    assert "nvram" in img.fs.listdir("/")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "NAME Generic ESP32S3 module with ESP32S3 -> esp32s3" in r.stdout, r.stdout
    assert "NAME Generic ESP32 module with ESP32 -> esp32" in r.stdout, r.stdout
    assert re.search(r"BANNER upki \S+ \(esp32s3 board\) on MicroPython", r.stdout), r.stdout


def raw_file(img, name):
    """A file's bytes on the board's filesystem (Image.read is for NVRAM records)."""
    with img.fs.open(name, "rb") as f:
        return f.read()


# STUB: an ESP32-S3's and an ESP32's sys.implementation._machine (the strings
# MicroPython builds from MICROPY_HW_BOARD_NAME and MICROPY_HW_MCU_NAME of
# ESP32_GENERIC_S3 and ESP32_GENERIC), put in front of the Unix port's sys
# while board.py's Board() reads it; the rest of sys is the real one.
S3_NAMING = """
import sys
from board import Board
from upki import cli
import upki.clock  # imported now: nothing but Board() sees the stand-in

_real = sys


class _Impl:
    _machine = ''


class _Sys:
    implementation = _Impl()

    def __getattr__(self, name):
        return getattr(_real, name)


for machine_name in ('Generic ESP32S3 module with ESP32S3', 'Generic ESP32 module with ESP32'):
    _Impl._machine = machine_name
    _real.modules['sys'] = _Sys()
    try:
        b = Board()
    finally:
        _real.modules['sys'] = _real
    print('NAME', machine_name, '->', b.name)
    if b.name == 'esp32s3':
        b.mount()
        print('BANNER', cli.banner(b).splitlines()[0])
"""


def test_deploy_to_a_dead_port_is_one_error_line(esp32_build, tmp_path):
    rc, lines = upki_host("deploy", "--port", tmp_path / "ttyUSB9", "--board", "esp32",
                          "--build", esp32_build[2])
    assert lines[0].startswith("deploy: copying "), lines
    assert_one_error_line("deploy", rc, lines,
                          r"mpremote on %s failed: .+" % re.escape(str(tmp_path / "ttyUSB9")))


def test_deploy_without_a_build_is_one_error_line(tmp_path):
    rc, lines = upki_host("deploy", "--port", tmp_path / "ttyUSB9", "--board", "rp2_pico_w",
                          "--build", tmp_path)
    assert len(lines) == 1, lines
    assert_one_error_line("deploy", rc, lines,
                          r"no build in %s: run `upki-host build --board rp2_pico_w` first"
                          % re.escape(str(tmp_path)))


def test_fleet_prints_progress_a_table_and_one_success_line(tmp_path):
    served = [Served(tmp_path / ("b%d.img" % i)) for i in range(2)]
    try:
        d = tmp_path / "cfgs"
        d.mkdir()
        (d / "lab.cfg").write_text("hostname lab-{index}\n")
        rc, lines = upki_host("fleet", "--config-dir", d, "--ports",
                              ",".join(s.port for s in served))
    finally:
        for s in served:
            s.stop()
    text = "\n".join(lines)
    assert rc == 0, text
    bars = [ln for ln in lines if ln.startswith("fleet: [")]
    assert bars == ["fleet: [%s] %d/2 boards" % ("#" * (15 * n) + "." * (30 - 15 * n), n)
                    for n in range(3)], text
    head = lines.index(next(ln for ln in lines if ln.startswith("PORT ")))
    rows = lines[head + 1:-1]
    assert len(rows) == 2, text
    for i, s in enumerate(served, 1):
        row = next(r for r in rows if r.startswith(s.port + " "))
        assert re.search(r" unix +[0-9A-F]{16} +lab-%d +\d+\.\ds +OK$" % i, row), row
    assert_one_success_line("fleet", lines, r"fleet: OK: 2 boards provisioned in \d+\.\d s")
    for i, s in enumerate(served, 1):
        assert Image.load(s.bridge.target).read("startup-config") == b"hostname lab-%d\nend\n" % i


def test_fleet_with_a_dead_port_ends_with_one_error_line(tmp_path):
    d = tmp_path / "cfgs"
    d.mkdir()
    (d / "lab.cfg").write_text("hostname lab-{index}\n")
    dead = str(tmp_path / "ttyUSB7")
    rc, lines = upki_host("fleet", "--config-dir", d, "--ports", dead)
    text = "\n".join(lines)
    assert "fleet: [##############################] 1/1 boards, 1 failed" in lines, text
    assert re.search(r"^%s +lab\.cfg .* FAILED: mpremote on " % re.escape(dead), text, re.M), text
    assert_one_error_line("fleet", rc, lines, r"1 of 1 boards failed \(%s\)" % re.escape(dead))
