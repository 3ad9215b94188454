# SPDX-License-Identifier: MIT
# CPython stand-in for MicroPython's `cryptolib` (AES only, ECB=1 / CBC=2, one
# direction per object), built on `cryptography`. Tests only; never on a board.
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class aes:
    def __init__(self, key, mode, IV=None):
        if len(key) not in (16, 32):
            raise ValueError("key")
        if mode == 1:
            m = modes.ECB()
        elif mode == 2:
            m = modes.CBC(bytes(IV or bytes(16)))
        else:
            raise ValueError("mode")
        self._cipher = Cipher(algorithms.AES(bytes(key)), m)
        self._ctx = None
        self._dir = None

    def _run(self, direction, data, out):
        if self._dir is None:
            self._dir = direction
            self._ctx = self._cipher.encryptor() if direction else self._cipher.decryptor()
        elif self._dir != direction:
            raise OSError("can't encrypt & decrypt")
        if len(data) % 16:
            raise ValueError("blksize")
        res = self._ctx.update(bytes(data))
        if out is None:
            return res
        out[: len(res)] = res

    def encrypt(self, data, out=None):
        return self._run(True, data, out)

    def decrypt(self, data, out=None):
        return self._run(False, data, out)
