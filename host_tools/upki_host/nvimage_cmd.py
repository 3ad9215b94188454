# SPDX-License-Identifier: MIT
"""upki-host image: a board's littlefs filesystem, pre-provisioned, for mass production.

    upki-host image --board NAME --config router.cfg -o FILE [--size BYTES] [--with-firmware]

The image has the board's filesystem geometry (size, 4 KiB blocks, the
littlefs program size its port mounts with) and holds the NVRAM records
`upki-host provision` would write (startup-config, board-config, CA
certificates), at the board's NVRAM folder.  --with-firmware adds the .mpy
build (build/NAME, see `upki-host build`) under /lib and the board's
main.py/board.py, so one write gives a board everything.  It prints the
command that writes it at the board's filesystem offset.
"""

import argparse
import sys

from host_tools.upki_host import boards, provision
from host_tools.upki_host.boards import HostError
from host_tools.upki_host.nvimage import Image


def make_image(board, config, size=None, with_firmware=False, build=None, index=1, uid=""):
    info = boards.board_info(board)
    size = size or info["fs_size"]
    prov = provision.load_config(config, index=index, uid=uid)
    provision.check_on_unix_port(prov)
    try:
        img = Image(size=size, prog_size=info["prog_size"])
    except ValueError as e:
        raise HostError(str(e))
    for name, payload in sorted(prov.records.items()):
        img.write(boards.nvram_path(board, name), payload)
    files = 0
    if with_firmware:
        from pathlib import Path

        src = Path(build) if build else boards.build_dir(board)
        mpys = sorted((src / "upki").glob("*.mpy"))
        if not mpys:
            raise HostError("no build in %s: run `upki-host build --board %s` first"
                            % (src, board))
        for p in mpys:
            img.put_file("lib/upki/" + p.name, p.read_bytes())
        for f in info["files"]:
            img.put_file(f, (src / f).read_bytes())
        files = len(mpys) + len(info["files"])
    return img, prov, files


def write_command(board, path, port="PORT"):
    info = boards.board_info(board)
    if info["chip"] and info["chip"].startswith("esp32"):
        return "esptool --chip %s --port %s write-flash 0x%x %s" % (
            info["chip"], port, info["fs_offset"], path)
    if board == "rp2_pico_w":
        return "picotool load %s -t bin -o 0x%08x   (board in BOOTSEL mode)" % (
            path, info["xip_base"] + info["fs_offset"])
    return "boards/unix/run %s" % path


def main(argv):
    ap = argparse.ArgumentParser(prog="upki-host image", description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True, choices=sorted(boards.BOARDS))
    ap.add_argument("--config", required=True, help="router.cfg (see upki-host provision)")
    ap.add_argument("-o", "--output", required=True, help="image file to write")
    ap.add_argument("--size", type=lambda s: int(s, 0), default=None,
                    help="filesystem size in bytes (default: the board's partition)")
    ap.add_argument("--with-firmware", action="store_true",
                    help="also put the .mpy build and boot files in the image")
    ap.add_argument("--index", type=int, default=1, help="value of {index} in router.cfg")
    ap.add_argument("--uid", default="", help="value of {uid} in router.cfg")
    args = ap.parse_args(argv[1:])
    try:
        img, prov, files = make_image(args.board, args.config, args.size, args.with_firmware,
                                      index=args.index, uid=args.uid)
        print("image: %s littlefs, %d bytes, %d-byte blocks, program size %d" % (
            args.board, len(img.data()), 4096, boards.board_info(args.board)["prog_size"]))
        for name in sorted(prov.records):
            print("image:   %s (%d bytes)" % (boards.nvram_path(args.board, name),
                                             len(prov.records[name])))
        if files:
            print("image:   + %d firmware files (lib/upki, boot files)" % files)
        try:
            img.save(args.output)
        except OSError as e:
            raise HostError("cannot write %s (%s)" % (args.output, e.strerror))
        print("image: write it with: " + write_command(args.board, args.output))
        print("image: OK: %s (%s) written to %s" % (prov.hostname, args.board, args.output))
    except HostError as e:
        print("image: error: %s" % e, file=sys.stderr)
        return 1
    return 0
