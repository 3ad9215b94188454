# SPDX-License-Identifier: MIT
# NVRAM records on a real littlefs2 filesystem (a RAM block device here).
import devtest  # first: it puts firmware/ on the path for a bare run

import vfs

from upki.errors import NVRAMError
from upki.nvram import NVRAM



class RAMBlockDevice:
    def __init__(self, blocks, block_size=4096):
        self.bs = block_size
        self.data = bytearray(blocks * block_size)

    def readblocks(self, n, buf, off=0):
        a = n * self.bs + off
        buf[:] = self.data[a : a + len(buf)]

    def writeblocks(self, n, buf, off=None):
        a = n * self.bs + (off or 0)
        self.data[a : a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.bs
        if op == 5:
            return self.bs
        if op == 6:
            return 0


_n = [0]


def fresh(blocks=32):
    _n[0] += 1
    root = "/nv%d" % _n[0]
    bd = RAMBlockDevice(blocks)
    vfs.VfsLfs2.mkfs(bd)
    vfs.mount(vfs.VfsLfs2(bd), root)
    return NVRAM(root)


def test_write_read_roundtrip():
    nv = fresh()
    nv.write("startup-config", "hostname r1\n")
    assert nv.read_text("startup-config") == "hostname r1\n"
    nv.write("startup-config", b"hostname r2\n")
    assert nv.read("startup-config") == b"hostname r2\n"
    assert nv.names() == ["startup-config"]
    assert nv.records_written == 2
    assert nv.bytes_written == 2 * (12 + 40)


def test_missing_record_named():
    nv = fresh()
    e = devtest.raises(NVRAMError, nv.read, "nothing-here")
    assert e.name == "nothing-here" and "no such record" in str(e)


def test_corrupt_payload_detected():
    nv = fresh()
    nv.write("key-a", b"A" * 300)
    with open(nv.path("key-a"), "r+b") as f:
        f.seek(100)
        f.write(b"B")
    e = devtest.raises(NVRAMError, nv.read, "key-a")
    assert "key-a" in str(e) and "checksum" in str(e)
    devtest.raises(NVRAMError, nv.verify, "key-a")


def test_truncated_record_detected():
    nv = fresh()
    nv.write("rec", b"x" * 100)
    data = open(nv.path("rec"), "rb").read()
    for cut in (0, 10, 39, 100, 139):
        with open(nv.path("rec"), "wb") as f:
            f.write(data[:cut])
        e = devtest.raises(NVRAMError, nv.read, "rec")
        assert "rec" in str(e)


def test_record_without_trailer_rejected():
    nv = fresh()
    with open(nv.path("plain"), "wb") as f:
        f.write(b"hostname sneaky\n" * 4)
    e = devtest.raises(NVRAMError, nv.read, "plain")
    assert "trailer" in str(e) or "length" in str(e)


def test_streaming_writer_and_bounded_verify():
    nv = fresh(64)
    w = nv.writer("crl/lab.der")
    for i in range(100):
        w.write(bytes([i]) * 1000)
    w.close()
    assert nv.verify("crl/lab.der") == 100000
    f, n = nv.open("crl/lab.der")
    f.seek(99000)
    assert f.read(3) == b"\x63\x63\x63" and n == 100000
    f.close()
    assert nv.names() == ["crl/lab.der"]
    devtest.raises(NVRAMError, nv.read, "crl/lab.der", 65536)


def test_full_filesystem_keeps_old_record():
    nv = fresh(12)
    nv.write("startup-config", "hostname keep\n")
    e = devtest.raises(NVRAMError, nv.write, "big", b"z" * 60000)
    assert "flash full" in str(e)
    assert not nv.exists("big")
    assert nv.read_text("startup-config") == "hostname keep\n"
    # the half-written temporary file was removed, so space is free again
    nv.write("small", b"ok")
    assert nv.read("small") == b"ok"


def test_recover_removes_leftover_tmp():
    nv = fresh()
    nv.write("startup-config", "hostname a\n")
    with open(nv.path("startup-config") + ".tmp", "wb") as f:
        f.write(b"half")
    assert nv.names() == ["startup-config"]
    assert nv.recover() == ["startup-config.tmp"]
    assert nv.read_text("startup-config") == "hostname a\n"


def test_invalid_names_refused():
    nv = fresh()
    for bad in ("", "../etc", "/abs", "a..b", "x.tmp", "sp ace", "a//b"):
        devtest.raises(NVRAMError, nv.write, bad, b"1")


def test_delete():
    nv = fresh()
    nv.write("a", b"1")
    assert nv.delete("a") and not nv.exists("a") and not nv.delete("a")


if __name__ == "__main__":
    devtest.main(globals())
