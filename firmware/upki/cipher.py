# SPDX-License-Identifier: MIT
# Block ciphers for CMS EnvelopedData: AES-CBC on the port's `cryptolib`, and
# DES / 3DES-CBC in Python because old SCEP CAs (and micromdm's CertRep,
# single DES) still use them and no MicroPython port ships DES.
#
#   encrypt(alg, key, iv, data, padding=True) -> bytearray
#   decrypt(alg, key, iv, data, padding=True) -> bytearray
#
# Results are fresh bytearrays (one buffer per call, worked on in place, no
# bytes copy: CMS payloads of a few KB on a ~100 KB heap).
#   pad(data, block) / unpad(data, block)
#
# alg: 'aes128-cbc', 'aes256-cbc', 'des-ede3-cbc' (24-byte key, or 16 for
# two-key 3DES), 'des-ede-cbc' (16-byte key), 'des-cbc' (8-byte key).
# DES lives in upki.des, loaded only for a DES algorithm: AES (what SCEP
# sends) costs no heap for the DES tables and code.

# name -> (key sizes, block size, object identifier)
ALGORITHMS = {
    "aes128-cbc": ((16,), 16, "2.16.840.1.101.3.4.1.2"),
    "aes256-cbc": ((32,), 16, "2.16.840.1.101.3.4.1.42"),
    "des-ede3-cbc": ((24, 16), 8, "1.2.840.113549.3.7"),
    "des-ede-cbc": ((16,), 8, None),
    "des-cbc": ((8,), 8, "1.3.14.3.2.7"),
}


def key_size(alg):
    return _info(alg)[0][0]


def block_size(alg):
    return _info(alg)[1]


def iv_size(alg):
    return _info(alg)[1]


def alg_for_oid(oid):
    for name in ALGORITHMS:
        if ALGORITHMS[name][2] == oid:
            return name
    raise ValueError("unsupported content-encryption algorithm %s" % oid)


def oid_for_alg(alg):
    oid = _info(alg)[2]
    if oid is None:
        raise ValueError("%s has no object identifier of its own" % alg)
    return oid


def _info(alg):
    try:
        return ALGORITHMS[alg]
    except KeyError:
        raise ValueError("unknown cipher %r" % (alg,)) from None


# --- PKCS#7 padding (RFC 5652 6.3) ---


def pad(data, block=16):
    n = block - len(data) % block
    out = bytearray(len(data) + n)
    out[: len(data)] = data
    for i in range(len(data), len(out)):
        out[i] = n
    return bytes(out)


def _pad_length(data, block):
    # Returns the pad length, or raises ValueError naming what is wrong.
    size = len(data)
    if size == 0:
        raise ValueError("padded data is empty")
    if size % block:
        raise ValueError("padded data is %d bytes, not a multiple of %d" % (size, block))
    n = data[size - 1]
    if n == 0 or n > block:
        raise ValueError("bad padding: last byte %d is not in 1..%d" % (n, block))
    bad = 0
    for i in range(size - n, size):
        bad |= data[i] ^ n
    if bad:
        raise ValueError("bad padding: the last %d bytes are not all %d" % (n, n))
    return n


def unpad(data, block=16):
    return bytes(memoryview(data)[: len(data) - _pad_length(data, block)])


# --- the public entry points ---


def encrypt(alg, key, iv, data, padding=True):
    keys, block, _ = _info(alg)
    _check(alg, keys, block, key, iv)
    size = len(data)
    if padding:
        n = block - size % block
        buf = bytearray(size + n)
        buf[:size] = data
        for i in range(size, size + n):
            buf[i] = n
    else:
        if size % block:
            raise ValueError("%s data is %d bytes, not a multiple of %d" % (alg, size, block))
        buf = bytearray(data)
    if block == 16:
        import cryptolib

        cryptolib.aes(bytes(key), 2, bytes(iv)).encrypt(buf, buf)
    else:
        from upki import des

        des.cbc(buf, key, iv, True)
    return buf


def decrypt(alg, key, iv, data, padding=True):
    keys, block, _ = _info(alg)
    _check(alg, keys, block, key, iv)
    size = len(data)
    if size % block or (padding and not size):
        raise ValueError(
            "%s ciphertext is %d bytes, not a positive multiple of %d" % (alg, size, block)
        )
    buf = bytearray(data)
    if block == 16:
        import cryptolib

        cryptolib.aes(bytes(key), 2, bytes(iv)).decrypt(buf, buf)
    else:
        from upki import des

        des.cbc(buf, key, iv, False)
    if padding:
        keep = size - _pad_length(buf, block)
        try:
            buf[keep:] = b""  # shrink in place
        except (TypeError, NotImplementedError):  # a port without slice resizing
            buf = bytearray(memoryview(buf)[:keep])
    return buf


def _check(alg, keys, block, key, iv):
    if len(key) not in keys:
        raise ValueError(
            "%s needs a %s-byte key, got %d" % (alg, " or ".join(str(k) for k in keys), len(key))
        )
    if len(iv) != block:
        raise ValueError("%s needs a %d-byte IV, got %d" % (alg, block, len(iv)))
