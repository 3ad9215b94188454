# SPDX-License-Identifier: MIT
"""upki-host flash --dry-run against esptool's documented layout (checked by
esptool itself: merge-bin places every file at its address), upki-host image
(littlefs images that the simulated board boots and the Unix port mounts with
each port's geometry), and package.json in sync with firmware/upki."""

import subprocess
import sys

import pytest

from host_tools.upki_host import boards, flash
from host_tools.upki_host.cli import main
from mpy import ROOT, board, run_code

DATA = ROOT / "tests" / "data"
# esptool / ESP-IDF documented layout: second-stage bootloader at 0x1000 on the
# ESP32 and 0x0 on the ESP32-S3; partition table at 0x8000; factory app at
# 0x10000.  micropython.org's merged .bin starts at the bootloader's address.
LAYOUT = {"esp32": (0x1000, 0x8000, 0x10000), "esp32s3": (0x0, 0x8000, 0x10000)}


def esp_file(path, size, first=b"\xe9"):
    path.write_bytes(first + bytes((i * 7) & 0xFF for i in range(size - len(first))))
    return path


def merged_image(path, board):
    boot, table, app = LAYOUT[board]
    data = bytearray(b"\xff" * (app - boot + 4096))
    data[0] = 0xE9
    data[table - boot : table - boot + 2] = b"\xaa\x50"
    data[app - boot] = 0xE9
    path.write_bytes(bytes(data))
    return path


def dry_run(capsys, *args):
    rc = main(["flash", "--dry-run", *args])
    out = capsys.readouterr()
    return rc, out.out.strip().splitlines(), out.err


@pytest.mark.parametrize("chip", ["esp32", "esp32s3"])
def test_dry_run_merged_image(chip, tmp_path, capsys):
    fw = merged_image(tmp_path / "fw.bin", chip)
    rc, lines, _ = dry_run(capsys, "--board", chip, "--port", "/dev/ttyUSB0",
                           "--firmware", str(fw))
    assert rc == 0
    assert lines[0] == "esptool --chip %s --port /dev/ttyUSB0 erase-flash" % chip
    assert lines[1] == ("esptool --chip %s --port /dev/ttyUSB0 --baud 460800 write-flash -z "
                        "0x%x %s" % (chip, LAYOUT[chip][0], fw))
    assert lines[-1].startswith("flash: OK: dry run")


@pytest.mark.parametrize("chip", ["esp32", "esp32s3"])
def test_dry_run_separate_files_are_placed_by_esptool(chip, tmp_path, capsys):
    boot = esp_file(tmp_path / "bootloader.bin", 0x5000)
    table = esp_file(tmp_path / "partition-table.bin", 0xC00, b"\xaa\x50")
    app = esp_file(tmp_path / "micropython.bin", 0x3000)
    rc, lines, _ = dry_run(capsys, "--board", chip, "--port", "/dev/ttyACM0", "--firmware",
                           str(app), "--bootloader", str(boot), "--partitions", str(table))
    assert rc == 0
    words = lines[1].split()
    i = words.index("-z")
    pairs = list(zip(words[i + 1 :: 2], words[i + 2 :: 2]))
    files = map(str, (boot, table, app))
    assert [(int(a, 16), f) for a, f in pairs] == list(zip(LAYOUT[chip], files))
    # esptool itself lays the same address/file pairs out (and rejects overlaps)
    out = tmp_path / "merged.bin"
    r = subprocess.run([str(flash.esptool_cmd()), "--chip", chip, "merge-bin", "-o", str(out),
                        *words[i + 1 :]], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    merged = out.read_bytes()
    base = 0  # merge-bin's output starts at flash address 0
    for addr, f in zip(LAYOUT[chip], (boot, table, app)):
        data = f.read_bytes()
        if f is boot:
            continue  # esptool rewrites the bootloader header's flash parameters
        assert merged[addr - base : addr - base + len(data)] == data, hex(addr)


def test_dry_run_refuses_what_is_not_an_image(tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    rc, _, err = dry_run(capsys, "--board", "esp32", "--port", "/dev/ttyUSB0",
                         "--firmware", str(bad))
    assert rc == 1 and err.strip() == ("flash: error: firmware %s is not an ESP image "
                                       "(first byte 68, expected 0xe9)" % bad)
    app = esp_file(tmp_path / "app.bin", 0x9000)
    rc, _, err = dry_run(capsys, "--board", "esp32s3", "--port", "/dev/ttyUSB0",
                         "--firmware", str(app))
    assert rc == 1 and "not a merged ESP32S3 image" in err


def test_rp2_is_a_uf2_copy(tmp_path, capsys):
    uf2 = tmp_path / "RPI_PICO_W-v1.29.uf2"
    uf2.write_bytes(b"UF2\n" + bytes(508))
    rc, lines, _ = dry_run(capsys, "--board", "rp2_pico_w", "--firmware", str(uf2))
    assert rc == 0 and "BOOTSEL" in lines[0] and "RPI-RP2" in lines[1]
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\n")
    assert main(["flash", "--board", "rp2_pico_w", "--firmware", str(uf2),
                 "--drive", str(drive)]) == 0
    assert (drive / uf2.name).read_bytes() == uf2.read_bytes()


CFG = """\
!@ wifi-ssid lab
hostname img{index}
crypto ca trustpoint LABCA
 enrollment url http://127.0.0.1:1/scep
!@ ca-certificate LABCA %s
""" % (DATA / "val_root.der")


def test_image_boots_on_the_simulated_board(tmp_path, capsys):
    cfg = tmp_path / "router.cfg"
    cfg.write_text(CFG)
    img = tmp_path / "nv.img"
    assert main(["image", "--board", "unix", "--config", str(cfg), "-o", str(img),
                 "--index", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "image: OK: img4 (unix) written to %s" % img
    assert img.stat().st_size == 2 * 1024 * 1024
    out = board(img, "show running-config\nshow flash\n").stdout
    assert "img4#show running-config" in out
    assert "crypto ca trustpoint LABCA" in out and " fingerprint " in out
    assert "tp/LABCA/ca" in out and "PARSER-4-BADCFG" not in out
    # the CA record is the one upki.trustpoint reads
    out = board(img, "show crypto ca certificates\n").stdout
    assert "CA Certificate\n  Status: Available" in out and "CN = val-root" in out
    assert "Associated Trustpoints: LABCA" in out


@pytest.mark.parametrize("name", ["esp32", "esp32s3", "rp2_pico_w"])
def test_image_geometry_mounts_as_the_port_does(name, tmp_path, capsys):
    info = boards.BOARDS[name]
    cfg = tmp_path / "router.cfg"
    cfg.write_text(CFG)
    img = tmp_path / "fs.img"
    assert main(["image", "--board", name, "--config", str(cfg), "-o", str(img)]) == 0
    out = capsys.readouterr().out
    assert img.stat().st_size == info["fs_size"]
    if info["chip"].startswith("esp32"):
        assert "esptool --chip %s --port PORT write-flash 0x%x %s" % (
            info["chip"], info["fs_offset"], img) in out
    else:
        assert "picotool load %s -t bin -o 0x1012c000" % img in out
    # mount it on the Unix port with the port's littlefs parameters, read via upki.nvram
    code = (
        "import sys, vfs\nsys.path.insert(0, %r)\nfrom board import FileBlockDevice\n"
        "fs = vfs.VfsLfs2(FileBlockDevice(%r), progsize=%d)\nvfs.mount(fs, '/fs')\n"
        "from upki.nvram import NVRAM\nnv = NVRAM('/fs/nvram')\n"
        "print(nv.names())\nprint(nv.read_text('startup-config').split()[1])\n"
        % (str(ROOT / "boards" / "unix"), str(img), info["prog_size"])
    )
    res = run_code(code).strip().splitlines()
    assert res == ["['board-config', 'startup-config', 'tp/LABCA/ca']", "img1"]


def test_image_with_firmware_and_bad_size(tmp_path, capsys):
    boards.build("esp32", tmp_path / "b", log=lambda m: None)
    cfg = tmp_path / "router.cfg"
    cfg.write_text("hostname x\n")
    from host_tools.upki_host.nvimage_cmd import make_image

    img, _prov, files = make_image("esp32", cfg, with_firmware=True, build=tmp_path / "b")
    names = img.names()
    assert "main.py" in names and "board.py" in names and "lib/upki/x509.mpy" in names
    assert files == len(list((tmp_path / "b" / "upki").glob("*.mpy"))) + 2
    assert main(["image", "--board", "unix", "--config", str(cfg), "-o", str(tmp_path / "x"),
                 "--size", "5000"]) == 1
    assert "image: error: image size 5000 is not a multiple of 4096" in capsys.readouterr().err


def test_package_json_in_sync_with_firmware():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_package_json.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import json

    doc = json.loads((ROOT / "package.json").read_text())
    listed = {u[1] for u in doc["urls"]}
    tracked = subprocess.run(["git", "ls-files", "firmware/upki/*.py"], cwd=ROOT,
                             capture_output=True, text=True).stdout.split()
    assert listed == set(tracked)
    for dest, src in doc["urls"]:
        assert (ROOT / src).exists() and dest == "upki/" + src.rsplit("/", 1)[1]


def test_manifests_name_the_package():
    text = (ROOT / "firmware" / "manifest.py").read_text()
    assert 'package("upki")' in text and "metadata(version=" in text
    for b in ("esp32", "rp2_pico_w"):
        m = (ROOT / "boards" / b / "manifest.py").read_text()
        assert 'include("$(PORT_DIR)/boards/manifest.py")' in m
        assert 'require("bundle-networking")' in m
        assert (ROOT / "boards" / b / m.split('include("')[2].split('"')[0]).resolve() == \
            (ROOT / "firmware" / "manifest.py")
