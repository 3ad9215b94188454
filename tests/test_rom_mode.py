# SPDX-License-Identifier: MIT
"""Code in ROM: the .mpy build packed into a ROMFS image (as `upki-host build
--romfs` and `mpybuild --romfs` write it for `mpremote romfs deploy`), mounted
at /rom on the Unix port and run in place, as a board runs frozen or ROMFS
code; the simulated board booting that way (`boards/unix/run --rom`)."""

import re
import subprocess
import sys

import pytest

from host_tools.upki_host import boards
from host_tools.upki_host.mpybuild import build, write_romfs
from mpy import ROOT, board, run_micropython

LOADER = """import gc, sys, vfs
_rom = bytearray(%(size)d)
_f = open(%(path)r, "rb")
_f.readinto(_rom)
_f.close()
vfs.mount(vfs.VfsRom(_rom), "/rom")
sys.path.insert(0, "/rom/lib")
"""

# what enrollment imports (as bench_enroll measures it), and the heap they add
IMPORTS = """
import gc
gc.collect()
a = gc.mem_alloc()
from upki import enroll, scep, cms, x509, http, csr, keys, rsa, cipher, trustpoint
from upki.config import Router
gc.collect()
print("ADDED", gc.mem_alloc() - a)
print("FILE", enroll.__file__, cipher.__file__)
"""


@pytest.fixture(scope="module")
def rom(tmp_path_factory):
    """(mpy_dir, image path, the .mpy paths in it), built once."""
    d = tmp_path_factory.mktemp("rom")
    written = build(d / "mpy", keep_going=True)
    image = d / "upki.romfs"
    size = write_romfs(written, image)
    assert size == image.stat().st_size
    return d / "mpy", image, written


def _loader(image):
    return LOADER % {"size": image.stat().st_size, "path": str(image)}


def _run_rom(image, code, heap=None):
    # no firmware on the path: all of upki must come from /rom
    return run_micropython(["-c", _loader(image) + code], heap=heap, timeout=120,
                           env={"MICROPYPATH": ".frozen"})


def test_mpybuild_writes_a_romfs_image_the_port_mounts(tmp_path):
    out = tmp_path / "img" / "u.romfs"
    r = subprocess.run(
        [sys.executable, "-m", "host_tools.upki_host.mpybuild", str(tmp_path / "mpy"),
         "--romfs", str(out)], capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    size = out.stat().st_size
    m = re.search(r"^mpybuild: OK: ROMFS image (\S+), (\d+) bytes", r.stdout, re.M)
    assert m and m.group(1) == str(out) and int(m.group(2)) == size, r.stdout
    assert out.read_bytes()[:3] == b"\xd2\xcd\x31"  # the ROMFS header
    mpys = sorted(p.name for p in (tmp_path / "mpy" / "upki").glob("*.mpy"))
    assert "cli.mpy" in mpys and "enroll.mpy" in mpys
    code = (
        "import os\n"
        "print('TOP', os.listdir('/rom'))\n"
        "print('LIB', sorted(os.listdir('/rom/lib/upki')))\n"
        "f = open('/rom/lib/upki/cli.mpy', 'rb')\n"
        "print('HEAD', f.read(1))\n"
        "f.close()\n"
    )
    r = _run_rom(out, code)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TOP ['lib']" in r.stdout
    listed = eval(re.search(r"^LIB (.*)$", r.stdout, re.M).group(1))
    assert listed == mpys
    assert "HEAD b'M'" in r.stdout  # a .mpy file, byte for byte


def test_upki_host_build_romfs_for_a_board(tmp_path, capsys):
    image = tmp_path / "esp32.romfs"
    rc = boards.main(["build", "--board", "esp32", "--out", str(tmp_path / "b"),
                      "--romfs", str(image)])
    assert rc == 0
    out = capsys.readouterr().out
    assert re.search(r"build: OK: \d+ modules for esp32 .*; ROMFS image %s, %d bytes"
                     % (re.escape(str(image)), image.stat().st_size), out), out
    data = image.read_bytes()
    assert data[:3] == b"\xd2\xcd\x31"
    # the ESP32's .mpy files (xtensawin), not the host's
    cli_mpy = (tmp_path / "b" / "upki" / "cli.mpy").read_bytes()
    assert cli_mpy in data


@pytest.mark.parametrize("how", ["flag", "env"])
def test_unix_board_boots_with_its_code_in_rom(tmp_path, how):
    img = tmp_path / "b.img"
    env = {"UPKI_LIST_MODULES": "1", "UPKI_HEAP": "96k"}  # 96 KB beside the image
    args = ()
    if how == "flag":
        args = ("--rom",)
    else:
        env["UPKI_ROM"] = "1"
    script = "\n".join(["show version", "configure terminal", "hostname rom1", "end",
                        "show running-config", "show flash"]) + "\n"
    r = board(img, script, env=env, args=args)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert "upki PKI client, Version" in r.stdout
    assert "rom1#show running-config" in r.stdout and "hostname rom1" in r.stdout
    assert "bytes of flash (Read/Write)" in r.stdout
    mods = re.findall(r"^%MODULE: (\S+) (\S+)$", r.stdout, re.M)
    names = [m[0] for m in mods]
    assert "upki.cli" in names and "upki.config" in names, r.stdout
    assert len(mods) >= 5
    for name, path in mods:
        assert path.startswith("/rom/lib/upki/") and path.endswith(".mpy"), (name, path)
    assert (ROOT / "build" / "unix.romfs").exists()


def test_rom_heap_is_beside_the_image(tmp_path):
    # UPKI_HEAP is the heap beside the image: 96k works although the image
    # alone is bigger than that (so the run script must have added its size)
    image = ROOT / "build" / "unix.romfs"
    r = board(tmp_path / "b.img", "show version\n", env={"UPKI_HEAP": "96k", "UPKI_ROM": "1"})
    assert r.returncode == 0 and "upki PKI client" in r.stdout, r.stdout + r.stderr
    assert image.stat().st_size > 96 * 1024
    r = run_micropython(["-c", _loader(image) + "print('OK')"], heap="96k", timeout=60,
                        env={"MICROPYPATH": ".frozen"})
    assert r.returncode != 0 and "MemoryError" in r.stdout + r.stderr  # the image alone: no


def test_enrollment_imports_take_less_heap_in_rom(rom):
    mpy_dir, image, _ = rom
    r = run_micropython(["-c", IMPORTS], timeout=120,
                        env={"MICROPYPATH": "%s:.frozen" % mpy_dir})
    assert r.returncode == 0, r.stdout + r.stderr
    as_mpy = int(re.search(r"^ADDED (\d+)", r.stdout, re.M).group(1))
    assert re.search(r"^FILE %s/upki/enroll.mpy" % re.escape(str(mpy_dir)), r.stdout, re.M)
    r = _run_rom(image, IMPORTS)
    assert r.returncode == 0, r.stdout + r.stderr
    in_rom = int(re.search(r"^ADDED (\d+)", r.stdout, re.M).group(1))
    assert "FILE /rom/lib/upki/enroll.mpy /rom/lib/upki/cipher.mpy" in r.stdout
    assert 0 < in_rom < as_mpy, (in_rom, as_mpy)
