# SPDX-License-Identifier: MIT
# The simulated board: the MicroPython Unix port with its flash in an image
# file (littlefs2, as the ESP32 and RP2 ports use) and no battery-backed clock.
#
# The hardware layer every board provides to upki:
#   flash_root      where the flash filesystem is mounted
#   unique_id()     bytes, stable for this board (here: for this image)
#   urandom(n)      entropy
#   rtc_time()      seconds since 1970 by the board's own (untrusted) clock
#   set_rtc(t)      set that clock
#   reset()         reboot
import os
import sys
import time

from micropython import const

BLOCK_SIZE = const(4096)
DEFAULT_SIZE = 2 * 1024 * 1024
_EPOCH_2000 = const(946684800)  # 2000-01-01 00:00:00 UTC, where a clockless board wakes up

_IOCTL_BLOCK_COUNT = const(4)
_IOCTL_BLOCK_SIZE = const(5)
_IOCTL_BLOCK_ERASE = const(6)


# An erased run, written BLOCK_SIZE // 256 times to erase a block: a board's
# flash driver erases without touching the heap, so the simulation must not
# allocate a block's worth per erase (that churn fragments the heap the
# firmware is measured in), nor keep a 4 KB buffer for it.
_ERASED = b"\xff" * 256


class PowerCut(Exception):
    pass


class FileBlockDevice:
    """A block device on an image file, with power-cut injection.

    cut_after=N: the Nth write (program or erase) is torn (tear = the fraction
    of its bytes that reach the flash: 0, 0.5 or 1) and the process is killed
    at once, with no chance to run finally blocks or flush anything more, as a
    real power cut would.
    """

    def __init__(self, path, cut_after=0, tear=0.5):
        self.path = path
        self.f = open(path, "r+b")
        self.f.seek(0, 2)
        size = self.f.tell()
        if size < 8 * BLOCK_SIZE or size % BLOCK_SIZE:
            self.f.close()
            raise OSError(
                "flash image %s is %d bytes: not a whole number of %d-byte blocks (at least 8)"
                % (path, size, BLOCK_SIZE)
            )
        self.block_count = size // BLOCK_SIZE
        self.cut_after = cut_after
        self.tear = tear
        self.writes = 0  # program operations since boot
        self.erases = 0
        self.bytes_programmed = 0

    def _tick(self, block, offset, data):
        # Count one flash write (data None: an erase); at the cut point, tear it and die.
        n = self.writes + self.erases
        if self.cut_after and n >= self.cut_after:
            part = int((BLOCK_SIZE if data is None else len(data)) * self.tear)
            self.f.seek(block * BLOCK_SIZE + offset)
            if data is None:
                self._fill(part)
            else:
                self.f.write(data[:part])
            self.f.flush()
            sys.stdout.write("\n%%POWER-CUT: power lost at flash write %d (block %d)\n" % (n, block))
            try:
                sys.stdout.flush()
            except AttributeError:
                pass
            os.system("kill -9 $PPID")  # the process itself; nothing after this runs
            raise PowerCut()

    def readblocks(self, block, buf, offset=0):
        self.f.seek(block * BLOCK_SIZE + offset)
        n = self.f.readinto(buf)
        if n != len(buf):
            raise OSError(5)

    def writeblocks(self, block, buf, offset=None):
        if offset is None:
            # The simple interface: whole blocks, erase first.
            offset = 0
            nblocks = len(buf) // BLOCK_SIZE
            for i in range(nblocks):
                self._erase(block + i)
        self.writes += 1
        self._tick(block, offset, buf)
        self.f.seek(block * BLOCK_SIZE + offset)
        self.f.write(buf)
        self.f.flush()
        self.bytes_programmed += len(buf)

    def _erase(self, block):
        self.erases += 1
        self._tick(block, 0, None)
        self.f.seek(block * BLOCK_SIZE)
        self._fill(BLOCK_SIZE)
        self.f.flush()

    def _fill(self, n):
        # n erased bytes at the file position
        while n >= len(_ERASED):
            self.f.write(_ERASED)
            n -= len(_ERASED)
        if n:
            self.f.write(_ERASED[:n])

    def ioctl(self, op, arg):
        if op == _IOCTL_BLOCK_COUNT:
            return self.block_count
        if op == _IOCTL_BLOCK_SIZE:
            return BLOCK_SIZE
        if op == _IOCTL_BLOCK_ERASE:
            self._erase(arg)
            return 0
        return None  # init, deinit, sync: nothing to do for a file


def create_image(path, size=DEFAULT_SIZE):
    """Create a blank (erased) flash image and format it with littlefs2."""
    import vfs

    if size % BLOCK_SIZE or size < 8 * BLOCK_SIZE:
        raise ValueError("flash size must be a multiple of 4096 bytes, at least 32768")
    chunk = b"\xff" * BLOCK_SIZE
    with open(path, "wb") as f:
        for _ in range(size // BLOCK_SIZE):
            f.write(chunk)
    bdev = FileBlockDevice(path)
    vfs.VfsLfs2.mkfs(bdev)
    bdev.f.close()
    with open(path + ".uid", "w") as f:
        f.write(_hex(os.urandom(8)))


def _hex(b):
    import binascii

    return binascii.hexlify(b).decode()


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class Board:
    name = "unix"
    flash_root = "/flash"

    def __init__(self, image, size=DEFAULT_SIZE, cut_after=0, tear=0.5):
        self.image = image
        self.created = False
        if not _exists(image):
            create_image(image, size)
            self.created = True
        self.bdev = FileBlockDevice(image, cut_after, tear)
        self._boot_ticks = time.ticks_ms()
        self._rtc_base = _EPOCH_2000
        self._uid = None

    def mount(self):
        """Mount the flash; a corrupt image is reported, never reformatted."""
        import vfs

        try:
            fs = vfs.VfsLfs2(self.bdev)
        except OSError as e:
            raise OSError(
                "flash image %s holds no valid littlefs filesystem (%s); "
                "nothing was changed: restore it, or delete it to start blank" % (self.image, e)
            )
        vfs.mount(fs, self.flash_root)
        return fs

    def flash_size(self):
        return self.bdev.block_count * BLOCK_SIZE

    def unique_id(self):
        if self._uid is None:
            import binascii

            try:
                with open(self.image + ".uid") as f:
                    self._uid = binascii.unhexlify(f.read().strip())
            except (OSError, ValueError):
                # An image made elsewhere: derive a stable id from its path.
                import hashlib

                self._uid = hashlib.sha256(self.image.encode()).digest()[:8]
        return self._uid

    def urandom(self, n):
        return os.urandom(n)

    def rtc_time(self):
        # Seconds since 1970 by the board's own clock: 2000-01-01 at every boot.
        return self._rtc_base + time.ticks_diff(time.ticks_ms(), self._boot_ticks) / 1000

    def set_rtc(self, t):
        self._rtc_base = t
        self._boot_ticks = time.ticks_ms()

    def flash_stats(self):
        return self.bdev.writes, self.bdev.erases, self.bdev.bytes_programmed

    def reset(self):
        # Rebooting the simulated board = the process ends; `run` may start it again.
        raise SystemExit(0)
