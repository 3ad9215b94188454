# SPDX-License-Identifier: MIT
"""upki-host flash: put MicroPython on a board with esptool (ESP32) or UF2 (Pico W).

    upki-host flash --board esp32|esp32s3 --port PORT --firmware FILE [--dry-run]
    upki-host flash --board esp32 --port PORT --firmware micropython.bin \\
        --bootloader bootloader.bin --partitions partition-table.bin [--dry-run]
    upki-host flash --board rp2_pico_w --firmware FILE.uf2 [--drive /media/USER/RPI-RP2]

FILE is the merged image micropython.org publishes (ESP32_GENERIC-*.bin:
bootloader + partition table + app), written at 0x1000 on the ESP32 and 0x0
on the ESP32-S3 after a full erase; or, with --bootloader and --partitions,
the three files of a build (bootloader at 0x1000 / 0x0, partition table at
0x8000, app at 0x10000).  --dry-run prints the exact commands and runs none.
"""

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from host_tools.upki_host import boards
from host_tools.upki_host.boards import HostError

_PT_MAGIC = b"\xaa\x50"  # first bytes of a partition table entry


def esptool_cmd():
    exe = Path(sys.executable).parent / "esptool"
    if exe.exists():
        return str(exe)
    return shutil.which("esptool") or "esptool"


def _check_image(path, what):
    try:
        with open(path, "rb") as f:
            head = f.read(1)
    except OSError as e:
        raise HostError("cannot read %s %s (%s)" % (what, path, e.strerror))
    if head != b"\xe9":
        raise HostError("%s %s is not an ESP image (first byte %s, expected 0xe9)"
                        % (what, path, head.hex() or "missing"))


def is_merged(path, board):
    """A merged image has the partition table at 0x8000 of flash inside it."""
    info = boards.board_info(board)
    at = boards.PARTITION_TABLE_OFFSET - info["merged_offset"]
    with open(path, "rb") as f:
        f.seek(at)
        return f.read(2) == _PT_MAGIC


def esp_plan(board, port, firmware, bootloader=None, partitions=None, baud=460800):
    """The esptool command lines (lists of words) that flash the board."""
    info = boards.board_info(board)
    chip = info["chip"]
    base = ["esptool", "--chip", chip, "--port", port]
    _check_image(firmware, "firmware")
    erase = base + ["erase-flash"]
    if bootloader or partitions:
        if not (bootloader and partitions):
            raise HostError("separate files need both --bootloader and --partitions")
        _check_image(bootloader, "bootloader")
        with open(partitions, "rb") as f:
            if f.read(2) != _PT_MAGIC:
                raise HostError("%s is not a partition table (no 0xAA50 entry)" % partitions)
        write = base + ["--baud", str(baud), "write-flash", "-z",
                        "0x%x" % info["bootloader_offset"], str(bootloader),
                        "0x%x" % boards.PARTITION_TABLE_OFFSET, str(partitions),
                        "0x%x" % boards.APP_OFFSET, str(firmware)]
    elif is_merged(firmware, board):
        write = base + ["--baud", str(baud), "write-flash", "-z",
                        "0x%x" % info["merged_offset"], str(firmware)]
    else:
        raise HostError("%s has no partition table at 0x%x: it is not a merged %s image "
                        "(give --bootloader and --partitions for an app-only micropython.bin)"
                        % (firmware, boards.PARTITION_TABLE_OFFSET, chip.upper()))
    return [erase, write]


def rp2_steps(firmware, drive=None):
    return [
        "hold BOOTSEL on the Pico W while plugging in USB: it appears as the drive RPI-RP2",
        "copy %s to that drive (cp %s %s/); the board reboots into MicroPython by itself"
        % (firmware, shlex.quote(str(firmware)), drive or "/media/$USER/RPI-RP2"),
        "or, with picotool: picotool load -x %s" % shlex.quote(str(firmware)),
    ]


def main(argv):
    ap = argparse.ArgumentParser(prog="upki-host flash", description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True,
                    choices=sorted(b for b in boards.BOARDS if b != "unix"))
    ap.add_argument("--port", default=None, help="serial port (ESP32)")
    ap.add_argument("--firmware", required=True, help="MicroPython image (.bin, or .uf2 for rp2)")
    ap.add_argument("--bootloader", default=None)
    ap.add_argument("--partitions", default=None)
    ap.add_argument("--baud", type=int, default=460800)
    ap.add_argument("--drive", default=None, help="RPI-RP2 mount point (Pico W)")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = ap.parse_args(argv[1:])
    try:
        if args.board == "rp2_pico_w":
            return _flash_rp2(args)
        if not args.port:
            raise HostError("--port is required for %s" % args.board)
        plan = esp_plan(args.board, args.port, args.firmware, args.bootloader,
                        args.partitions, args.baud)
        for cmd in plan:
            print(" ".join(shlex.quote(w) for w in cmd), flush=True)
        if args.dry_run:
            print("flash: OK: dry run, %d esptool commands for %s (nothing was written)"
                  % (len(plan), args.board))
            return 0
        for cmd in plan:
            r = subprocess.run([esptool_cmd()] + cmd[1:])
            if r.returncode != 0:
                raise HostError("`%s` failed (exit %d)" % (" ".join(cmd[:6]), r.returncode))
        print("flash: OK: MicroPython written to the %s on %s; next: upki-host deploy --port %s"
              % (args.board, args.port, args.port))
    except HostError as e:
        print("flash: error: %s" % e, file=sys.stderr)
        return 1
    return 0


def _flash_rp2(args):
    fw = Path(args.firmware)
    if fw.suffix.lower() != ".uf2":
        raise HostError("%s: the Pico W takes a .uf2 image (RPI_PICO_W-*.uf2)" % fw)
    if not fw.exists():
        raise HostError("no such file %s" % fw)
    for step in rp2_steps(fw, args.drive):
        print("flash: " + step)
    if args.dry_run:
        print("flash: OK: dry run (the Pico W is flashed by a UF2 copy; nothing was written)")
        return 0
    if not args.drive or not (Path(args.drive) / "INFO_UF2.TXT").exists():
        raise HostError("no RPI-RP2 drive given or found (--drive MOUNTPOINT with INFO_UF2.TXT)")
    shutil.copy(fw, Path(args.drive) / fw.name)
    print("flash: OK: %s copied to %s; the Pico W reboots into MicroPython"
          % (fw.name, args.drive))
    return 0
