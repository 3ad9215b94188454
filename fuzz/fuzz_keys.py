# SPDX-License-Identifier: MIT
"""upki.keys.KeyStore.load on a key record whose payload is the input (header
line + PKCS#8 DER), written with a good trailer: what a buggy writer or a
tampered flash could leave. Only PKIError (NVRAMError, KeyError_, DERError,
CryptoError) may escape."""


import common

with common.instrumented():
    from upki.errors import PKIError
    from upki.keys import KeyStore
    from upki.nvram import NVRAM

ALLOWED = (PKIError,)
_NV = NVRAM(common.scratch("keys"))
_STORE = KeyStore(_NV)


def one(data):
    _NV.write("rsa/fuzz", data)
    try:
        pair = _STORE.load("fuzz")
    except ALLOWED:
        return
    pair.public_key()
    if not isinstance(pair.generated, int) or pair.usage is None:
        raise common.Finding("key record fields %r" % (pair.__dict__,))


if __name__ == "__main__":
    common.main(one)
