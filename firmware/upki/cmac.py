# SPDX-License-Identifier: MIT
# AES-CMAC (RFC 4493) on cryptolib's AES-ECB: the MAC RFC 8573 recommends for
# NTP symmetric keys (chrony's "AES128" keys).


def _double(block):
    # Multiply by x in GF(2^128) (RFC 4493 2.3, "the subkey generation").
    out = bytearray(16)
    carry = 0
    for i in range(15, -1, -1):
        b = block[i]
        out[i] = ((b << 1) & 0xFF) | carry
        carry = b >> 7
    if carry:
        out[15] ^= 0x87
    return out


def aes_cmac(key, message):
    """The 16-byte AES-CMAC of message under a 16- or 32-byte key."""
    import cryptolib

    if len(key) not in (16, 32):
        raise ValueError("AES-CMAC needs a 16- or 32-byte key, got %d" % len(key))
    ecb = cryptolib.aes(bytes(key), 1)
    x = bytearray(16)
    ecb.encrypt(x, x)  # L = AES(K, 0^128)
    k1 = _double(x)
    size = len(message)
    full = size // 16
    if size and size % 16 == 0:
        last = k1
        full -= 1
    else:
        last = _double(k1)
    for i in range(16):
        x[i] = 0
    pos = 0
    for _ in range(full):
        for i in range(16):
            x[i] ^= message[pos + i]
        ecb.encrypt(x, x)
        pos += 16
    # the last block: whole (xor K1) or padded with 10..0 (xor K2)
    rest = size - pos
    for i in range(16):
        if i < rest:
            b = message[pos + i]
        elif i == rest:
            b = 0x80
        else:
            b = 0
        x[i] ^= b ^ last[i]
    ecb.encrypt(x, x)
    return bytes(x)
