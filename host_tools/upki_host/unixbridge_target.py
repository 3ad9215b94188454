# SPDX-License-Identifier: MIT
# Runs ON the MicroPython Unix port, started by unixbridge.py as
#   micropython -i unixbridge_target.py BOARD_DIR TARGET [SIZE]
# It makes the Unix port look like a board's REPL to mpremote: the simulated
# board's flash (a littlefs image, or a plain directory) is mounted as `/`,
# the path is a board's ('', '.frozen', '/lib'), and `machine.unique_id()`
# answers with the simulated board's id.  Then -i opens the REPL.
#
# STUB: `machine` here is a stand-in for the board's hardware module (only
# unique_id(), reset() and an RTC that wakes up in 2000, as a board's does
# at power-on); everything else is the real Unix port.
import sys


def _setup():
    import os
    import vfs

    board_dir, target = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else None
    sys.path.insert(0, board_dir)
    import board as simboard

    try:
        is_dir = os.stat(target)[0] & 0x4000
    except OSError:
        is_dir = False
    if is_dir:
        fs = vfs.VfsPosix(target)
        uid = b"\x00" * 8
    else:
        b = simboard.Board(target, size or simboard.DEFAULT_SIZE)
        fs = vfs.VfsLfs2(b.bdev)
        uid = b.unique_id()
    del sys.modules["board"]
    vfs.umount("/")
    vfs.mount(fs, "/")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]

    class _RTC:
        # STUB: a battery-less RTC, at 2000-01-01 00:00:00 when the board starts.
        now = [(2000, 1, 1, 5, 0, 0, 0, 0)]

        def datetime(self, dt=None):
            if dt is None:
                return self.now[0]
            self.now[0] = tuple(dt)

    class _Machine:
        # STUB of the hardware module: the Unix port has no unique_id()/reset()/RTC.
        RTC = _RTC

        def unique_id(self):
            return uid

        def reset(self):
            sys.exit(0)  # the bridge restarts the process, as a board reboots

    sys.modules["machine"] = _Machine()


_setup()
del _setup
