# SPDX-License-Identifier: MIT
"""The ESP32 and Pico W board layers (boards/*/board.py) running on the simulated
board through the pty bridge, deployed and provisioned by upki-host.  Stubbed,
and saying so: the Wi-Fi radio (tests/board_stubs/network.py, rp2.py) and the
bridge's `machine` (unique_id, RTC); the filesystem, NVRAM records, upki
and the interpreter are real."""

import re

import pytest

from host_tools.upki_host import boards, provision
from test_mpremote_bridge import Served, mpremote

from mpy import ROOT

STUBS = ROOT / "tests" / "board_stubs"

CHECK = """
from board import Board
import network
b = Board()
b.mount()
print('RTC0', b.rtc_time())
print('ADDR', b.wifi_up())
print('JOINED', network.joined)
print('UID', ''.join('%02X' % x for x in b.unique_id()))
b.set_rtc(1764300000)
print('RTC1', b.rtc_time())
from upki import cli
router, session, msgs = cli.boot(b)
print('HOST', router.hostname, router.clock.trusted, router.nvram.names())
print('ENTROPY', len(b.urandom(32)), b.urandom(16) != b.urandom(16))
import sys
print('COUNTRY', sys.modules['rp2'].country() if 'rp2' in sys.modules else None)
"""


@pytest.fixture(scope="module")
def unix_build(tmp_path_factory):
    d = tmp_path_factory.mktemp("build")
    boards.build("unix", d, log=lambda m: None)
    return d


@pytest.mark.parametrize("name", ["esp32", "rp2_pico_w"])
def test_board_layer_boots_provisioned_config(name, unix_build, tmp_path):
    s = Served(tmp_path / "board.img")
    try:
        # x64 .mpy: this "board" is the Unix port
        boards.deploy(s.port, "unix", unix_build, log=lambda m: None)
        r = mpremote(s.port, "fs", "cp", str(boards.board_dir(name) / "board.py"), ":board.py",
                     "+", "fs", "cp", str(STUBS / "network.py"), ":lib/network.py",
                     "+", "fs", "cp", str(STUBS / "rp2.py"), ":lib/rp2.py")
        assert r.returncode == 0, r.stderr
        cfg = tmp_path / "router.cfg"
        cfg.write_text("!@ wifi-ssid labnet\n!@ wifi-password pw 2\n!@ wifi-country GB\n"
                       "hostname pico{index}\n")
        prov = provision.load_config(cfg, index=3)
        provision.install(s.port, name, prov, log=lambda m: None)
        r = mpremote(s.port, "exec", CHECK)
        assert r.returncode == 0, r.stdout + r.stderr
        out = r.stdout
    finally:
        s.stop()
    assert re.search(r"RTC0 9466848\d\d\b", out), out  # the RTC wakes up in 2000
    assert "%LINK-3-UPDOWN: Interface wlan0, changed state to up (10.0.0.7 on labnet)" in out
    assert "ADDR 10.0.0.7" in out and "JOINED [('labnet', 'pw 2')]" in out
    assert re.search(r"UID [0-9A-F]{16}\n", out)
    assert re.search(r"RTC1 17643000\d\d\b", out), out
    assert "HOST pico3 False ['board-config', 'startup-config']" in out  # untrusted at boot
    assert "ENTROPY 32 True" in out
    assert ("COUNTRY GB" if name == "rp2_pico_w" else "COUNTRY None") in out


def test_wifi_gives_up_within_its_timeout(unix_build, tmp_path):
    s = Served(tmp_path / "board.img")
    try:
        boards.deploy(s.port, "unix", unix_build, log=lambda m: None)
        r = mpremote(s.port, "fs", "cp", str(boards.board_dir("esp32") / "board.py"), ":board.py",
                     "+", "fs", "cp", str(STUBS / "network.py"), ":lib/network.py")
        assert r.returncode == 0, r.stderr
        cfg = tmp_path / "router.cfg"
        cfg.write_text("!@ wifi-ssid nowhere\n!@ wifi-timeout 1\nhostname x\n")
        provision.install(s.port, "esp32", provision.load_config(cfg), log=lambda m: None)
        r = mpremote(s.port, "exec",
                     "from board import Board\nb=Board()\nprint('ADDR', b.wifi_up())")
        cfg.write_text("hostname x\n")
        provision.install(s.port, "esp32", provision.load_config(cfg), log=lambda m: None)
        r2 = mpremote(s.port, "exec", "import os\nos.remove('nvram/board-config')\n"
                      "from board import Board\nprint('ADDR', Board().wifi_up())")
    finally:
        s.stop()
    assert "could not join nowhere within 1 s" in r.stdout and "ADDR None" in r.stdout, r.stdout
    assert "%LINK-4-NOCONFIG: no wifi-ssid in board-config" in r2.stdout, r2.stdout + r2.stderr
