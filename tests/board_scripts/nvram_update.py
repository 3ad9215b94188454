# SPDX-License-Identifier: MIT
# Run on the Unix port by tests/test_powercut.py:
#   nvram_update.py IMAGE write|check [CUT_AFTER TEAR]
# write: replace two records (a startup-config and a 4096-bit-key-sized record)
#        with their "new" versions, on a board that may lose power mid-way.
# check: boot (recovering leftovers) and print which version each record holds.
import sys

sys.path.insert(0, sys.argv[0].rsplit("/", 3)[0] + "/boards/unix")
from board import Board  # noqa: E402

from upki.nvram import NVRAM  # noqa: E402
from upki.errors import NVRAMError  # noqa: E402


def config(version):
    lines = ["!", "hostname %s" % version, "!"]
    for i in range(120):
        lines.append("ntp server 10.%d.%d.1 key %d" % (i // 250, i % 250, i))
        lines.append(" ! padding to the size of a real startup-config with a certificate chain")
    return "\n".join(lines) + "\nend\n"


def key(version):
    seed = b"old-key-" if version == "old" else b"new-key-"
    return (seed * 300)[:2374]  # the size of a 4096-bit PKCS#8 RSA key


def main():
    image, action = sys.argv[1], sys.argv[2]
    cut = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    tear = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
    board = Board(image, cut_after=cut, tear=tear)
    board.mount()
    nv = NVRAM(board.flash_root)
    if action == "init":
        nv.write("startup-config", config("old"))
        nv.write("rsa/router.key", key("old"))
        print("WRITES", board.bdev.writes + board.bdev.erases)
    elif action == "write":
        nv.write("startup-config", config("new"))
        nv.write("rsa/router.key", key("new"))
        print("COMPLETE", board.bdev.writes + board.bdev.erases)
    else:
        removed = nv.recover()
        out = []
        for name, make in (("startup-config", config), ("rsa/router.key", key)):
            try:
                data = nv.read(name)
            except NVRAMError as e:
                out.append("%s=BAD(%s)" % (name, e.why))
                continue
            if isinstance(data, bytes) and name == "startup-config":
                data = data.decode()
            got = "old" if data == make("old") else "new" if data == make("new") else "OTHER"
            out.append("%s=%s" % (name, got))
        print("STATE", " ".join(out), "recovered=%d" % len(removed))


main()
