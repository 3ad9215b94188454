# SPDX-License-Identifier: MIT
"""The real mpremote client against the simulated board, through the pty bridge
(host_tools/upki_host/unixbridge.py; only the serial link and `machine` are
stubbed): connect, fs cp, exec, soft reset, Ctrl-C; then upki-host deploy,
provision and fleet, and the board booting what they wrote."""

import hashlib
import re
import subprocess
import threading

import pytest

from host_tools.upki_host import boards, fleet, provision
from host_tools.upki_host.boards import HostError
from host_tools.upki_host.nvimage import Image
from host_tools.upki_host.unixbridge import Bridge
from mpy import ROOT, board

DATA = ROOT / "tests" / "data"
ROOT_CA = DATA / "val_root.der"


class Served:
    def __init__(self, image):
        self.bridge = Bridge(image)
        self.port = self.bridge.start()
        self.thread = threading.Thread(target=self.bridge.serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.bridge.stop()
        self.thread.join(5)


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path / "board.img")
    yield s
    s.stop()


def mpremote(port, *args, timeout=60):
    return subprocess.run(boards.mpremote_cmd() + ["connect", port, *args], capture_output=True,
                          text=True, timeout=timeout)


ROUTER_CFG = """\
!@ wifi-ssid labnet
!@ wifi-password not a secret
hostname lab{index}
ip domain-name lab.example.com
ntp authentication-key 1 sha256 00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF
ntp trusted-key 1
crypto ca trustpoint LABCA
 enrollment url http://127.0.0.1:8080/scep
!@ ca-certificate LABCA %s
end
""" % ROOT_CA


def test_mpremote_fs_cp_exec_and_soft_reset(served, tmp_path):
    src = tmp_path / "blob.bin"
    src.write_bytes(bytes(range(256)) * 40)
    r = mpremote(served.port, "fs", "cp", str(src), ":blob.bin")
    assert r.returncode == 0, r.stderr
    r = mpremote(served.port, "exec",
                 "import hashlib, binascii, machine\n"
                 "print(binascii.hexlify(hashlib.sha256(open('blob.bin','rb').read()).digest()))\n"
                 "print(len(machine.unique_id()))")
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(src.read_bytes()).hexdigest() in r.stdout
    assert r.stdout.split()[-1] == "8"
    assert served.bridge.resets >= 2  # each mpremote run opened with a soft reset
    r = mpremote(served.port, "fs", "cp", ":blob.bin", str(tmp_path / "back.bin"))
    assert r.returncode == 0 and (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    # an exception is reported by mpremote, and the board lives on
    r = mpremote(served.port, "exec", "raise ValueError('bad input 42')")
    assert r.returncode == 1 and "bad input 42" in r.stdout + r.stderr
    r = mpremote(served.port, "fs", "ls")
    assert r.returncode == 0 and "blob.bin" in r.stdout
    # the file is on the board's flash image, where the simulated board finds it
    served.stop()
    img = Image.load(served.bridge.target)
    assert "blob.bin" in img.names()


def test_ctrl_c_interrupts_a_running_program(served):
    hang = subprocess.Popen(boards.mpremote_cmd() + ["connect", served.port, "exec",
                            "import time\nwhile True:\n time.sleep(0.05)"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            hang.wait(2)
    finally:
        hang.kill()
        hang.wait()
    # a new client's Ctrl-C stops the loop; the board answers again
    r = mpremote(served.port, "exec", "print(6*7)", timeout=30)
    assert r.returncode == 0 and r.stdout.strip().endswith("42"), r.stdout + r.stderr


def test_mip_install_from_the_checkout(served):
    r = mpremote(served.port, "mip", "install", str(ROOT / "package.json"), timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    r = mpremote(served.port, "exec",
                 "import upki.x509, upki\nprint(upki.x509.__file__, upki.__version__)")
    assert r.returncode == 0, r.stderr
    assert "/lib/upki/x509.py" in r.stdout


def test_mip_install_from_a_url(served):
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(ROOT))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        url = "http://127.0.0.1:%d/package.json" % httpd.server_address[1]
        r = mpremote(served.port, "mip", "install", "--target", "/lib", url, timeout=180)
    finally:
        httpd.shutdown()
    assert r.returncode == 0, r.stdout + r.stderr
    r = mpremote(served.port, "exec", "import upki.cli, upki.nvram\nprint(upki.cli.__file__)")
    assert r.returncode == 0 and "/lib/upki/cli.py" in r.stdout, r.stdout + r.stderr


def test_deploy_then_provision_then_boot(served, tmp_path):
    boards.build("unix", tmp_path / "build", log=lambda m: None)
    log = []
    version = boards.deploy(served.port, None, tmp_path / "build", log=log.append)
    assert version == "0.1.0" and "simulated board" in log[0]
    cfg = tmp_path / "router.cfg"
    cfg.write_text(ROUTER_CFG)
    r = provision.provision(served.port, cfg, index=7, log=log.append)
    assert r["hostname"] == "lab7" and r["board"] == "unix" and len(r["uid"]) == 16
    assert r["records"] == ["board-config", "startup-config", "tp/LABCA/ca"]
    served.stop()
    img = Image.load(served.bridge.target)
    assert img.read("tp/LABCA/ca") == ROOT_CA.read_bytes()
    assert "wifi-ssid labnet" in img.read("board-config").decode()
    assert any(n.startswith("lib/upki/") and n.endswith(".mpy") for n in img.names())
    fp = hashlib.sha256(ROOT_CA.read_bytes()).hexdigest().upper()
    out = board(served.bridge.target, "show running-config\nshow crypto ca trustpoints\n").stdout
    assert "lab7#show running-config" in out, out
    assert "ip domain-name lab.example.com" in out
    assert re.search(r"crypto ca trustpoint LABCA\n enrollment url http://127.0.0.1:8080/scep\n"
                     r" fingerprint %s\n" % fp, out), out
    assert "ntp trusted-key 1" in out
    assert "PARSER-4-BADCFG" not in out


def test_provision_keeps_keys_and_replaces_records_atomically(served, tmp_path):
    key = (DATA / "rsa_1024_pkcs8.der").read_bytes()
    r = mpremote(served.port, "exec",
                 "import os\nos.mkdir('rsa')\nf=open('rsa/lab.key','wb')\nf.write(%r)\nf.close()"
                 % key)
    assert r.returncode == 0, r.stderr
    cfg = tmp_path / "router.cfg"
    cfg.write_text("hostname one\n")
    provision.provision(served.port, cfg, log=lambda m: None)
    cfg.write_text("hostname two\n")
    provision.provision(served.port, cfg, log=lambda m: None)
    served.stop()
    img = Image.load(served.bridge.target)
    with img.fs.open("rsa/lab.key", "rb") as f:
        assert f.read() == key
    assert img.read("startup-config") == b"hostname two\nend\n"
    assert not [n for n in img.names() if n.endswith(".tmp")]


def test_provision_refuses_private_keys_and_bad_input(tmp_path):
    cfg = tmp_path / "router.cfg"
    cfg.write_text("hostname x\n-----BEGIN PRIVATE KEY-----\nAAAA\n")
    with pytest.raises(HostError, match="private key"):
        provision.load_config(cfg)
    (tmp_path / "k.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\n")
    cfg.write_text("crypto ca trustpoint T\n!@ ca-certificate T k.pem\n")
    with pytest.raises(HostError, match="private key"):
        provision.load_config(cfg)
    cfg.write_text("crypto ca trustpoint T\n!@ ca-certificate T %s\n" % (DATA / "val_leaf.der"))
    with pytest.raises(HostError, match="not a CA certificate"):
        provision.load_config(cfg)
    cfg.write_text("!@ ca-certificate OTHER %s\n" % ROOT_CA)
    with pytest.raises(HostError, match="no `crypto ca trustpoint OTHER`"):
        provision.load_config(cfg)
    cfg.write_text("hostname 9bad\n")
    with pytest.raises(HostError, match="line 1: hostname"):
        provision.load_config(cfg)
    cfg.write_text("!@ wifi-sid x\n")
    with pytest.raises(HostError, match="unknown directive"):
        provision.load_config(cfg)
    with pytest.raises(HostError, match="cannot read"):
        provision.load_config(tmp_path / "missing.cfg")


def test_config_is_checked_by_upki_itself_before_any_board_is_touched(tmp_path):
    cfg = tmp_path / "router.cfg"
    cfg.write_text("hostname ok\nntp authentication-key 1 sha256 NOTHEX\nntp trusted-key 1\n"
                   "crypto ca trustpoint T\n enrollment retry count many\n")
    with pytest.raises(HostError) as e:
        provision.check_on_unix_port(provision.load_config(cfg))
    msg = str(e.value)
    assert msg.startswith("upki refuses router.cfg: %PARSER-4-BADCFG: startup-config line 2 "
                          "'ntp authentication-key 1 sha256 NOTHEX'"), msg
    assert msg.endswith("(and 1 more)"), msg
    # provision stops there: the (missing) port is never opened
    with pytest.raises(HostError, match="upki refuses router.cfg"):
        provision.provision(str(tmp_path / "no-such-port"), cfg, log=lambda m: None)
    cfg.write_text(ROUTER_CFG)
    provision.check_on_unix_port(provision.load_config(cfg))


def test_provision_cli_error_line_for_a_dead_port(tmp_path, capsys):
    from host_tools.upki_host.cli import main

    cfg = tmp_path / "router.cfg"
    cfg.write_text("hostname x\n")
    assert main(["provision", "--port", str(tmp_path / "nope"), "--config", str(cfg)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("provision: error: mpremote on")


def test_fleet_provisions_boards_in_parallel(tmp_path, capsys):
    served = [Served(tmp_path / ("b%d.img" % i)) for i in range(3)]
    try:
        d = tmp_path / "cfgs"
        d.mkdir()
        (d / "lab.cfg").write_text("hostname lab-{index}\nip domain-name b{uid}.example\n")
        ports = [s.port for s in served] + [str(tmp_path / "missing-port")]
        results = fleet.run(d, ports)
        table = fleet.table(results)
    finally:
        for s in served:
            s.stop()
    assert [r["ok"] for r in results] == [True, True, True, False]
    assert [r["hostname"] for r in results[:3]] == ["lab-1", "lab-2", "lab-3"]
    err = capsys.readouterr().err
    assert "[##############################] 4/4 boards, 1 failed" in err
    assert "FAILED: mpremote on" in table and table.count(" OK") == 3
    for i, s in enumerate(served):
        out = board(s.bridge.target, "show running-config\n").stdout
        assert "lab-%d#show running-config" % (i + 1) in out
        uid = results[i]["uid"].lower()
        assert "ip domain-name b%s.example" % uid.upper() in out or uid in out.lower()


def test_fleet_config_assignment(tmp_path):
    for n in ("a", "b", "ttyUSB9"):
        (tmp_path / (n + ".cfg")).write_text("hostname %s\n" % n.replace("ttyUSB9", "t9"))
    plan = fleet.assign(tmp_path, ["/dev/ttyUSB0", "/dev/ttyUSB9", "/dev/ttyUSB1"])
    assert [(p, c.name, i) for p, c, i in plan] == [
        ("/dev/ttyUSB0", "a.cfg", 1), ("/dev/ttyUSB9", "ttyUSB9.cfg", 2),
        ("/dev/ttyUSB1", "b.cfg", 3)]
    with pytest.raises(HostError, match="3 config files for 1 ports"):
        fleet.assign(tmp_path, ["/dev/ttyACM0"])
