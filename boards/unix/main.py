# SPDX-License-Identifier: MIT
# Boot the simulated board: main.py IMAGE [--interactive] [--size BYTES] [--rom ROMFS]
# Exit status 3 asks boards/unix/run to boot again (reload); 0 ends.
import os
import sys

_RELOAD = 3


def _mount_rom():
    # Code in ROM (boards/unix/run --rom): mount the ROMFS image at /rom and
    # put /rom/lib first on the path, before anything from upki is imported,
    # as a board with a ROMFS partition does at power-on. A board maps the
    # partition in flash; the Unix port cannot, so the image is read once into
    # one buffer allocated first (no fragmentation), and VfsRom runs the .mpy
    # bytecode in place from it.
    argv = sys.argv
    if "--rom" not in argv:
        return None
    i = argv.index("--rom")
    path = argv[i + 1]
    del argv[i : i + 2]
    import vfs

    buf = bytearray(os.stat(path)[6])
    f = open(path, "rb")
    n = f.readinto(buf)
    f.close()
    if n != len(buf):
        raise OSError("ROMFS image %s: short read" % path)
    vfs.mount(vfs.VfsRom(buf), "/rom")
    sys.path.insert(0, "/rom/lib")
    return buf


_ROM = _mount_rom()  # kept referenced: the image is the code


def _args():
    image, interactive, size = None, False, None
    argv = sys.argv[1:]
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--interactive":
            interactive = True
        elif a == "--size":
            i += 1
            size = int(argv[i])
        else:
            image = a
        i += 1
    return image, interactive, size


def main():
    from board import Board, DEFAULT_SIZE

    image, interactive, size = _args()
    if not image:
        print("usage: boards/unix/run [--rom] [--size BYTES] IMAGE")
        return 2
    # Power-cut injection for tests: UPKI_CUT_AFTER=N [UPKI_CUT_TEAR=0|0.5|1].
    cut = os.getenv("UPKI_CUT_AFTER")
    tear = float(os.getenv("UPKI_CUT_TEAR") or 0.5)
    try:
        board = Board(image, size or DEFAULT_SIZE, int(cut) if cut else 0, tear)
        if board.created:
            print("%%FLASH-5-FORMAT: created and formatted %s (%d bytes, littlefs2)" % (image, board.flash_size()))
        board.mount()
    except (OSError, ValueError) as e:
        print("%%FLASH-3-MOUNT: %s" % (e.args[0] if e.args and isinstance(e.args[0], str) else e))
        return 1
    from upki import cli

    result = cli.console(board, interactive)
    if os.getenv("UPKI_LIST_MODULES"):
        # for tests: where each loaded upki module came from (/rom/... in ROM mode)
        for name in sorted(sys.modules):
            if name == "upki" or name.startswith("upki."):
                print("%%MODULE: %s %s" % (name, getattr(sys.modules[name], "__file__", "?")))
    return _RELOAD if result == "reload" else 0


sys.exit(main())
