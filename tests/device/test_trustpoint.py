# SPDX-License-Identifier: MIT
# Trustpoint records in NVRAM: CA certificates back to back, removal drops them.
import devtest  # first: it puts firmware/ on the path for a bare run
import vfs

from upki import trustpoint
from upki.nvram import NVRAM


class _RAM:
    def __init__(self, n):
        self.data = bytearray(n * 4096)

    def readblocks(self, b, buf, off=0):
        a = b * 4096 + off
        buf[:] = self.data[a : a + len(buf)]

    def writeblocks(self, b, buf, off=None):
        a = b * 4096 + (off or 0)
        self.data[a : a + len(buf)] = buf

    def ioctl(self, op, arg):
        return {4: len(self.data) // 4096, 5: 4096, 6: 0}.get(op)


class _Router:
    def __init__(self):
        bd = _RAM(64)
        vfs.VfsLfs2.mkfs(bd)
        vfs.mount(vfs.VfsLfs2(bd), "/tpflash")
        self.nvram = NVRAM("/tpflash")

    def fqdn(self):
        return "r1.lab.test"


_router = _Router()


def test_ca_certificates_round_trip():
    trustpoint.attach(_router)
    tp = trustpoint.create("lab")
    root = devtest.read_data("x509_root.der")
    leaf = devtest.read_data("x509_leaf.der")
    tp.store_ca_certificates([leaf, root])
    certs = tp.ca_certificates()
    assert [c.der for c in certs] == [leaf, root] or [bytes(c.der) for c in certs] == [leaf, root]
    assert tp.key_label() == "r1.lab.test"
    tp.rsakeypair = ("vpn", None, None)
    assert tp.key_label() == "vpn"


def test_remove_drops_records():
    trustpoint.attach(_router)
    tp = trustpoint.create("gone")
    tp.store("cert", b"x")
    tp.store("pending", b"y")
    assert tp.has("cert")
    assert trustpoint.remove("gone")
    assert trustpoint.get("gone") is None
    assert not _router.nvram.exists("tp/gone/cert") and not _router.nvram.exists("tp/gone/pending")
    assert not trustpoint.remove("gone")


def test_order_and_names():
    trustpoint.attach(_router)
    for n in ("b", "a", "c"):
        trustpoint.create(n)
    assert [t.name for t in trustpoint.all()] == ["b", "a", "c"]
    assert trustpoint.valid_name("lab-CA_1") and not trustpoint.valid_name("../x")


if __name__ == "__main__":
    devtest.main(globals())
