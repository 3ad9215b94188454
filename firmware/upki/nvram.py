# SPDX-License-Identifier: MIT
# NVRAM: named records on the flash filesystem.
#
# Each record is one file: the payload followed by a 40-byte trailer
#   b"UPK1" | payload length (4 bytes, big-endian) | SHA-256(payload)
# written to NAME.tmp, flushed, closed, then renamed over NAME. littlefs makes
# the rename atomic, so a power cut leaves the old record or the new one, never
# a torn one. Reads verify the trailer; a bad record raises NVRAMError naming it.
import hashlib
import os
import struct

from micropython import const

from upki.errors import NVRAMError

_MAGIC = b"UPK1"
_TRAILER = const(40)
_CHUNK = const(512)
_TMP = ".tmp"


def _valid_name(name):
    if not name or len(name) > 64 or name[0] in "./" or name.endswith(_TMP):
        return False
    for ch in name:
        if not (ch.isalpha() or ch.isdigit() or ch in "._-/"):
            return False
    return ".." not in name and "//" not in name


class NVRAM:
    def __init__(self, root):
        self.root = root.rstrip("/")
        self.bytes_written = 0  # since boot, trailers included: flash wear
        self.records_written = 0

    def path(self, name):
        if not _valid_name(name):
            raise NVRAMError(name, "invalid record name")
        return self.root + "/" + name

    # --- writing -------------------------------------------------------

    def write(self, name, data):
        """Replace record name with data (bytes or str), atomically."""
        if isinstance(data, str):
            data = data.encode()
        w = self.writer(name)
        try:
            w.write(data)
        except BaseException:
            w.abort()
            raise
        w.close()

    def writer(self, name):
        """A streaming writer: write() chunks, then close() commits atomically."""
        path = self.path(name)
        if "/" in name:
            self._makedirs(name.rsplit("/", 1)[0])
        return _RecordWriter(self, name, path)

    def _makedirs(self, sub):
        p = self.root
        for part in sub.split("/"):
            p += "/" + part
            try:
                os.mkdir(p)
            except OSError:
                pass  # exists

    # --- reading -------------------------------------------------------

    def exists(self, name):
        try:
            os.stat(self.path(name))
            return True
        except OSError:
            return False

    def size(self, name):
        """Payload size of a record (without verifying it)."""
        try:
            return os.stat(self.path(name))[6] - _TRAILER
        except OSError:
            raise NVRAMError(name, "no such record")

    def read(self, name, max_size=65536):
        """The verified payload of record name, as bytes."""
        f, length = self._open_raw(name)
        try:
            if length > max_size:
                raise NVRAMError(name, "%d bytes, more than the %d this reader takes" % (length, max_size))
            data = f.read(length)
            trailer = f.read(_TRAILER)
        finally:
            f.close()
        if len(data) != length:
            raise NVRAMError(name, "short read")
        self._check_trailer(name, length, trailer, hashlib.sha256(data).digest())
        return data

    def _open_raw(self, name):
        """The record's file at its start and its payload length (not yet verified)."""
        try:
            f = open(self.path(name), "rb")
        except OSError:
            raise NVRAMError(name, "no such record")
        total = f.seek(0, 2)
        if total < _TRAILER:
            f.close()
            raise NVRAMError(name, "truncated (%d bytes, no trailer)" % total)
        f.seek(0)
        return f, total - _TRAILER

    def read_text(self, name, max_size=65536):
        return self.read(name, max_size).decode()

    def verify(self, name):
        """Check a record of any size in bounded memory; return its payload length."""
        f, length = self._open_raw(name)
        try:
            h = hashlib.sha256()
            buf = bytearray(_CHUNK)
            mv = memoryview(buf)
            left = length
            while left:
                n = f.readinto(mv[: min(left, _CHUNK)])
                if not n:
                    raise NVRAMError(name, "short read")
                h.update(mv[:n])
                left -= n
            trailer = f.read(_TRAILER)
        finally:
            f.close()
        self._check_trailer(name, length, trailer, h.digest())
        return length

    def open(self, name):
        """Verify record name, then return a file positioned at its payload and its length.

        For records too large to read whole (CRLs): the caller reads at most
        the returned length and closes the file.
        """
        length = self.verify(name)
        return open(self.path(name), "rb"), length

    def _check_trailer(self, name, length, trailer, digest):
        if len(trailer) != _TRAILER or trailer[:4] != _MAGIC:
            raise NVRAMError(name, "corrupt (no integrity trailer)")
        if struct.unpack(">I", trailer[4:8])[0] != length:
            raise NVRAMError(name, "corrupt (length mismatch)")
        if trailer[8:] != digest:
            raise NVRAMError(name, "corrupt (checksum mismatch)")

    # --- housekeeping --------------------------------------------------

    def delete(self, name):
        try:
            os.remove(self.path(name))
            return True
        except OSError:
            return False

    def names(self, sub=""):
        """Record names (sorted), with subdirectories walked; leftover .tmp files excluded."""
        out = []
        self._walk(sub, out)
        out.sort()
        return out

    def _walk(self, sub, out):
        base = self.root + ("/" + sub if sub else "")
        try:
            entries = list(os.ilistdir(base))
        except OSError:
            return
        for entry in entries:
            fname, kind = entry[0], entry[1]
            name = (sub + "/" + fname) if sub else fname
            if kind == 0x4000:
                self._walk(name, out)
            elif not fname.endswith(_TMP):
                out.append(name)

    def recover(self):
        """At boot: remove temporary files a power cut left behind. Returns their names."""
        removed = []
        self._recover_dir(self.root, removed)
        return removed

    def _recover_dir(self, base, removed):
        try:
            entries = list(os.ilistdir(base))
        except OSError:
            return
        for entry in entries:
            p = base + "/" + entry[0]
            if entry[1] == 0x4000:
                self._recover_dir(p, removed)
            elif entry[0].endswith(_TMP):
                try:
                    os.remove(p)
                    removed.append(p[len(self.root) + 1 :])
                except OSError:
                    pass

    def statvfs(self):
        """(total bytes, free bytes) of the flash filesystem."""
        st = os.statvfs(self.root)
        return st[0] * st[2], st[0] * st[3]


class _RecordWriter:
    def __init__(self, nvram, name, path):
        self.nvram = nvram
        self.name = name
        self.path = path
        self.length = 0
        self.hash = hashlib.sha256()
        try:
            self.f = open(path + _TMP, "wb")
        except OSError as e:
            raise NVRAMError(name, "cannot create (%s)" % _why(e))

    def write(self, data):
        try:
            self.f.write(data)
        except OSError as e:
            self.abort()
            raise NVRAMError(self.name, "write failed (%s); the stored record is unchanged" % _why(e))
        self.hash.update(data)
        self.length += len(data)

    def close(self):
        try:
            self.f.write(_MAGIC + struct.pack(">I", self.length) + self.hash.digest())
            self.f.flush()
            self.f.close()
            self.f = None
            os.rename(self.path + _TMP, self.path)
        except OSError as e:
            self.abort()
            raise NVRAMError(self.name, "write failed (%s); the stored record is unchanged" % _why(e))
        self.nvram.bytes_written += self.length + _TRAILER
        self.nvram.records_written += 1

    def abort(self):
        if self.f is not None:
            try:
                self.f.close()
            except OSError:
                pass
            self.f = None
        try:
            os.remove(self.path + _TMP)
        except OSError:
            pass


def _why(e):
    code = e.args[0] if e.args else 0
    if code == 28:
        return "flash full"
    return "error %s" % code
