# SPDX-License-Identifier: MIT
"""NVRAM records in littlefs images, from the host (littlefs-python).

The record format is upki.nvram's: payload | b"UPK1" | length (4, big-endian)
| SHA-256(payload). The filesystem parameters are the ones MicroPython's
VfsLfs2 uses by default (read/prog size 32, lookahead 32), so an image made
or read here is the one a board mounts.
"""

import hashlib
import struct

from littlefs import LittleFS, UserContext

BLOCK_SIZE = 4096
_MAGIC = b"UPK1"
_TRAILER = 40


class RecordError(ValueError):
    pass


def encode_record(payload: bytes) -> bytes:
    return payload + _MAGIC + struct.pack(">I", len(payload)) + hashlib.sha256(payload).digest()


def decode_record(name: str, data: bytes) -> bytes:
    if len(data) < _TRAILER:
        raise RecordError("NVRAM record %s: truncated (%d bytes, no trailer)" % (name, len(data)))
    payload, trailer = data[:-_TRAILER], data[-_TRAILER:]
    if trailer[:4] != _MAGIC:
        raise RecordError("NVRAM record %s: corrupt (no integrity trailer)" % name)
    if struct.unpack(">I", trailer[4:8])[0] != len(payload):
        raise RecordError("NVRAM record %s: corrupt (length mismatch)" % name)
    if hashlib.sha256(payload).digest() != trailer[8:]:
        raise RecordError("NVRAM record %s: corrupt (checksum mismatch)" % name)
    return payload


def _fs(context, blocks, mount, prog_size=32):
    # prog_size: 32 is VfsLfs2's default (ESP32, the simulated board); the rp2
    # port mounts its flash with progsize=256.
    return LittleFS(
        context,
        block_size=BLOCK_SIZE,
        block_count=blocks,
        read_size=32,
        prog_size=prog_size,
        cache_size=prog_size,
        lookahead_size=32,
        mount=mount,
    )


class Image:
    """A board's flash image opened on the host."""

    def __init__(self, data: bytes = None, size: int = 2 * 1024 * 1024, prog_size: int = 32):
        if data is None:
            if size % BLOCK_SIZE or size < 8 * BLOCK_SIZE:
                raise ValueError("image size %d is not a multiple of %d (at least 8 blocks)"
                                 % (size, BLOCK_SIZE))
            self.ctx = UserContext(size)
            self.fs = _fs(self.ctx, size // BLOCK_SIZE, False, prog_size)
            self.fs.format()
            self.fs.mount()
        else:
            if len(data) % BLOCK_SIZE:
                raise ValueError("image size %d is not a multiple of %d" % (len(data), BLOCK_SIZE))
            self.ctx = UserContext(len(data))
            self.ctx.buffer[:] = data
            self.fs = _fs(self.ctx, len(data) // BLOCK_SIZE, True, prog_size)

    @classmethod
    def load(cls, path, prog_size=32):
        with open(path, "rb") as f:
            return cls(f.read(), prog_size=prog_size)

    def names(self):
        out = []
        for root, _dirs, files in self.fs.walk("/"):
            for f in files:
                if not f.endswith(".tmp"):
                    out.append((root.rstrip("/") + "/" + f).lstrip("/"))
        return sorted(out)

    def read(self, name):
        with self.fs.open(name, "rb") as f:
            return decode_record(name, f.read())

    def write(self, name, payload):
        if isinstance(payload, str):
            payload = payload.encode()
        self._makedirs(name)
        with self.fs.open(name + ".tmp", "wb") as f:
            f.write(encode_record(payload))
        self.fs.rename(name + ".tmp", name)

    def put_file(self, name, data):
        """A plain file (not an NVRAM record): firmware files for a full image."""
        self._makedirs(name)
        with self.fs.open(name, "wb") as f:
            f.write(data)

    def _makedirs(self, name):
        d = ""
        for part in name.split("/")[:-1]:
            d += "/" + part
            try:
                self.fs.mkdir(d)
            except Exception:
                pass  # exists

    def data(self):
        return bytes(self.ctx.buffer)

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self.data())
