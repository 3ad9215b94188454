# SPDX-License-Identifier: MIT
"""upki.nvram's record reader on whatever flash holds: the input is the raw
file of a record (payload + trailer, or torn, or garbage), read with read()
and verify() as boot does. Only NVRAMError may escape; a record that reads
must verify to the same length, and vice versa."""

import os

import common

with common.instrumented():
    from upki.errors import NVRAMError
    from upki.nvram import NVRAM

ALLOWED = (NVRAMError,)
_ROOT = common.scratch("nvram")
_NV = NVRAM(_ROOT)


def one(data):
    with open(os.path.join(_ROOT, "startup-config"), "wb") as f:
        f.write(data)
    try:
        got = _NV.read("startup-config", max_size=4096)
    except ALLOWED:
        got = None
    try:
        length = _NV.verify("startup-config")
    except ALLOWED:
        length = None
    if got is not None and length != len(got):
        raise common.Finding("read %d bytes but verify says %r" % (len(got), length))
    if got is None and length is not None and length <= 4096:
        raise common.Finding("verify accepted a record read() refused")


if __name__ == "__main__":
    common.main(one)
