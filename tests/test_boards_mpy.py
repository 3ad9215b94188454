# SPDX-License-Identifier: MIT
"""The firmware as boards run it: mpy-cross builds for every board's architecture
(`upki-host build`), and the Unix-port (x64) build passes the device tests as .mpy."""

import re

import pytest

from host_tools.upki_host import boards, mpybuild
from mpy import DEVICE_TESTS, FIRMWARE, run_micropython

DEVICE_FILES = sorted(p.stem for p in DEVICE_TESTS.glob("test_*.py"))
# mpy header byte 2: flags, arch in the top bits (py/persistentcode.h MP_NATIVE_ARCH_*)
_ARCH_CODE = {"x64": 2, "armv6m": 4, "xtensawin": 10}


@pytest.fixture(scope="module")
def x64_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("unix")
    boards.build("unix", out, log=lambda m: None)
    return out


@pytest.mark.parametrize("board", sorted(boards.BOARDS))
def test_build_for_every_board(board, tmp_path):
    written = boards.build(board, tmp_path, log=lambda m: None)
    names = {p.stem for p in written}
    assert names == {p.stem for p in (FIRMWARE / "upki").glob("*.py")}
    march = mpybuild.BOARD_MARCH[board] or mpybuild.host_march()
    natives = 0
    for p in written:
        head = p.read_bytes()[:4]
        assert head[0:1] == b"M" and head[1] == 6, (p, head)  # mpy v6
        arch = head[2] >> 2
        if arch:  # modules with native/viper code carry the target architecture
            natives += 1
            assert arch == _ARCH_CODE[march], (p.name, arch, march)
    assert natives, "no module was compiled with native code for %s" % march
    for f in boards.BOARDS[board]["files"]:
        assert (tmp_path / f).read_text() == (boards.board_dir(board) / f).read_text()


def test_build_cli_ends_with_one_success_line(tmp_path):
    # the real `upki-host` command line; build, deploy and fleet: tests/test_upki_host_cli.py
    from test_upki_host_cli import assert_one_success_line, upki_host

    rc, lines = upki_host("build", "--board", "esp32s3", "--out", tmp_path)
    assert rc == 0, lines
    n = len(list((tmp_path / "upki").glob("*.mpy")))
    assert n > 10
    assert lines[0] == "build: mpy-cross -march=xtensawin firmware/upki -> %s/upki" % tmp_path
    assert re.fullmatch(r"build: %d modules, \d+ bytes of \.mpy \+ board\.py, main\.py" % n,
                        lines[1]), lines
    assert_one_success_line("build", lines, r"build: OK: %d modules for esp32s3 in %s"
                            % (n, re.escape(str(tmp_path))))


@pytest.mark.parametrize("name", DEVICE_FILES)
def test_device_tests_pass_as_mpy(x64_build, name):
    text = (DEVICE_TESTS / (name + ".py")).read_text()
    m = re.search(r"^# heapsize: (\S+)", text, re.M)
    prelude = (
        "import sys\n"
        "import devtest\n"
        "sys.path[:] = [p for p in sys.path if not p.endswith('/firmware')]\n"
        "import upki.nvram\n"
        "assert upki.nvram.__file__.endswith('.mpy'), upki.nvram.__file__\n"
        "mod = __import__(%r)\n"
        "devtest.main(mod.__dict__)\n" % name
    )
    r = run_micropython(["-c", prelude], heap=m.group(1) if m else None, timeout=900,
                        cwd=str(DEVICE_TESTS),
                        env={"MICROPYPATH": "%s:%s:.frozen" % (x64_build, DEVICE_TESTS)})
    summary = re.search(r"(\d+) passed, (\d+) failed, (\d+) skipped", r.stdout)
    assert r.returncode == 0 and summary, r.stdout[-3000:] + r.stderr[-2000:]
    assert int(summary.group(2)) == 0 and int(summary.group(1)) > 0, r.stdout[-3000:]
