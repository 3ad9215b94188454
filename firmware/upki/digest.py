# SPDX-License-Identifier: MIT
# One interface over the hash functions upki needs: md5, sha1 and sha256 from
# hashlib (C, fast), sha384 and sha512 in Python because MicroPython's hashlib
# lacks them (only signature verification needs them, so speed matters less).
#
#   h = digest.new("sha256"); h.update(b"..."); h.digest()
#   digest.hash("sha1", data)
#   digest.SIZES["sha384"] == 48
#   digest.digest_info("sha256", d)   # DER DigestInfo for PKCS#1 v1.5
import hashlib
from binascii import unhexlify

SIZES = {"md5": 16, "sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}

# DER of DigestInfo { AlgorithmIdentifier { oid, NULL }, OCTET STRING (len) }
# up to the digest itself (RFC 8017, section 9.2, note 1).
DIGEST_INFO_PREFIX = {
    "md5": unhexlify("3020300c06082a864886f70d020505000410"),
    "sha1": unhexlify("3021300906052b0e03021a05000414"),
    "sha256": unhexlify("3031300d060960864801650304020105000420"),
    "sha384": unhexlify("3041300d060960864801650304020205000430"),
    "sha512": unhexlify("3051300d060960864801650304020305000440"),
}

# Dotted OIDs of the digest algorithms, for modules that name them.
OIDS = {
    "md5": "1.2.840.113549.2.5",
    "sha1": "1.3.14.3.2.26",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}


def _check_name(name):
    if name not in SIZES:
        raise ValueError("unknown digest %r (have %s)" % (name, ", ".join(sorted(SIZES))))


class _Hash:
    # Wraps a hashlib object (or the Python SHA-512) so that digest() may be
    # called more than once, as on CPython; MicroPython allows it only once.
    def __init__(self, name, impl):
        self.name = name
        self.digest_size = SIZES[name]
        self._impl = impl
        self._result = None

    def update(self, data):
        if self._result is not None:
            raise ValueError("digest already computed")
        self._impl.update(data)

    def digest(self):
        if self._result is None:
            self._result = self._impl.digest()
            self._impl = None
        return self._result


def new(name, data=None):
    """A hash object with update(data) and digest() for md5/sha1/sha256/sha384/sha512."""
    _check_name(name)
    if name in ("sha384", "sha512"):
        ctor = getattr(hashlib, name, None)
        impl = ctor() if ctor is not None else SHA512(name == "sha384")
    else:
        impl = getattr(hashlib, name)()
    h = _Hash(name, impl)
    if data is not None:
        h.update(data)
    return h


def hash(name, data):  # noqa: A001 - the module's namespace, not the builtin
    """The digest of data (bytes-like) in one call."""
    h = new(name)
    h.update(data)
    return h.digest()


def digest_info(name, digest_bytes):
    """The DER DigestInfo that PKCS#1 v1.5 signatures carry."""
    _check_name(name)
    if len(digest_bytes) != SIZES[name]:
        raise ValueError(
            "%s digest must be %d bytes, got %d" % (name, SIZES[name], len(digest_bytes))
        )
    return DIGEST_INFO_PREFIX[name] + bytes(digest_bytes)


# ---- SHA-384 / SHA-512 (FIPS 180-4) in Python --------------------------------

# The round constants as one bytes literal (640 bytes) rather than 80 big-int
# literals or a hex string: frozen on a board it stays in flash, and as .mpy
# it costs its 640 bytes, until a SHA-512 is first needed.
_K512_BYTES = (
    b"\x42\x8a\x2f\x98\xd7\x28\xae\x22\x71\x37\x44\x91\x23\xef\x65\xcd\xb5\xc0\xfb\xcf"
    b"\xec\x4d\x3b\x2f\xe9\xb5\xdb\xa5\x81\x89\xdb\xbc\x39\x56\xc2\x5b\xf3\x48\xb5\x38"
    b"\x59\xf1\x11\xf1\xb6\x05\xd0\x19\x92\x3f\x82\xa4\xaf\x19\x4f\x9b\xab\x1c\x5e\xd5"
    b"\xda\x6d\x81\x18\xd8\x07\xaa\x98\xa3\x03\x02\x42\x12\x83\x5b\x01\x45\x70\x6f\xbe"
    b"\x24\x31\x85\xbe\x4e\xe4\xb2\x8c\x55\x0c\x7d\xc3\xd5\xff\xb4\xe2\x72\xbe\x5d\x74"
    b"\xf2\x7b\x89\x6f\x80\xde\xb1\xfe\x3b\x16\x96\xb1\x9b\xdc\x06\xa7\x25\xc7\x12\x35"
    b"\xc1\x9b\xf1\x74\xcf\x69\x26\x94\xe4\x9b\x69\xc1\x9e\xf1\x4a\xd2\xef\xbe\x47\x86"
    b"\x38\x4f\x25\xe3\x0f\xc1\x9d\xc6\x8b\x8c\xd5\xb5\x24\x0c\xa1\xcc\x77\xac\x9c\x65"
    b"\x2d\xe9\x2c\x6f\x59\x2b\x02\x75\x4a\x74\x84\xaa\x6e\xa6\xe4\x83\x5c\xb0\xa9\xdc"
    b"\xbd\x41\xfb\xd4\x76\xf9\x88\xda\x83\x11\x53\xb5\x98\x3e\x51\x52\xee\x66\xdf\xab"
    b"\xa8\x31\xc6\x6d\x2d\xb4\x32\x10\xb0\x03\x27\xc8\x98\xfb\x21\x3f\xbf\x59\x7f\xc7"
    b"\xbe\xef\x0e\xe4\xc6\xe0\x0b\xf3\x3d\xa8\x8f\xc2\xd5\xa7\x91\x47\x93\x0a\xa7\x25"
    b"\x06\xca\x63\x51\xe0\x03\x82\x6f\x14\x29\x29\x67\x0a\x0e\x6e\x70\x27\xb7\x0a\x85"
    b"\x46\xd2\x2f\xfc\x2e\x1b\x21\x38\x5c\x26\xc9\x26\x4d\x2c\x6d\xfc\x5a\xc4\x2a\xed"
    b"\x53\x38\x0d\x13\x9d\x95\xb3\xdf\x65\x0a\x73\x54\x8b\xaf\x63\xde\x76\x6a\x0a\xbb"
    b"\x3c\x77\xb2\xa8\x81\xc2\xc9\x2e\x47\xed\xae\xe6\x92\x72\x2c\x85\x14\x82\x35\x3b"
    b"\xa2\xbf\xe8\xa1\x4c\xf1\x03\x64\xa8\x1a\x66\x4b\xbc\x42\x30\x01\xc2\x4b\x8b\x70"
    b"\xd0\xf8\x97\x91\xc7\x6c\x51\xa3\x06\x54\xbe\x30\xd1\x92\xe8\x19\xd6\xef\x52\x18"
    b"\xd6\x99\x06\x24\x55\x65\xa9\x10\xf4\x0e\x35\x85\x57\x71\x20\x2a\x10\x6a\xa0\x70"
    b"\x32\xbb\xd1\xb8\x19\xa4\xc1\x16\xb8\xd2\xd0\xc8\x1e\x37\x6c\x08\x51\x41\xab\x53"
    b"\x27\x48\x77\x4c\xdf\x8e\xeb\x99\x34\xb0\xbc\xb5\xe1\x9b\x48\xa8\x39\x1c\x0c\xb3"
    b"\xc5\xc9\x5a\x63\x4e\xd8\xaa\x4a\xe3\x41\x8a\xcb\x5b\x9c\xca\x4f\x77\x63\xe3\x73"
    b"\x68\x2e\x6f\xf3\xd6\xb2\xb8\xa3\x74\x8f\x82\xee\x5d\xef\xb2\xfc\x78\xa5\x63\x6f"
    b"\x43\x17\x2f\x60\x84\xc8\x78\x14\xa1\xf0\xab\x72\x8c\xc7\x02\x08\x1a\x64\x39\xec"
    b"\x90\xbe\xff\xfa\x23\x63\x1e\x28\xa4\x50\x6c\xeb\xde\x82\xbd\xe9\xbe\xf9\xa3\xf7"
    b"\xb2\xc6\x79\x15\xc6\x71\x78\xf2\xe3\x72\x53\x2b\xca\x27\x3e\xce\xea\x26\x61\x9c"
    b"\xd1\x86\xb8\xc7\x21\xc0\xc2\x07\xea\xda\x7d\xd6\xcd\xe0\xeb\x1e\xf5\x7d\x4f\x7f"
    b"\xee\x6e\xd1\x78\x06\xf0\x67\xaa\x72\x17\x6f\xba\x0a\x63\x7d\xc5\xa2\xc8\x98\xa6"
    b"\x11\x3f\x98\x04\xbe\xf9\x0d\xae\x1b\x71\x0b\x35\x13\x1c\x47\x1b\x28\xdb\x77\xf5"
    b"\x23\x04\x7d\x84\x32\xca\xab\x7b\x40\xc7\x24\x93\x3c\x9e\xbe\x0a\x15\xc9\xbe\xbc"
    b"\x43\x1d\x67\xc4\x9c\x10\x0d\x4c\x4c\xc5\xd4\xbe\xcb\x3e\x42\xb6\x59\x7f\x29\x9c"
    b"\xfc\x65\x7e\x2a\x5f\xcb\x6f\xab\x3a\xd6\xfa\xec\x6c\x44\x19\x8c\x4a\x47\x58\x17"
)
_IV512 = (
    b"\x6a\x09\xe6\x67\xf3\xbc\xc9\x08\xbb\x67\xae\x85\x84\xca\xa7\x3b\x3c\x6e\xf3\x72"
    b"\xfe\x94\xf8\x2b\xa5\x4f\xf5\x3a\x5f\x1d\x36\xf1\x51\x0e\x52\x7f\xad\xe6\x82\xd1"
    b"\x9b\x05\x68\x8c\x2b\x3e\x6c\x1f\x1f\x83\xd9\xab\xfb\x41\xbd\x6b\x5b\xe0\xcd\x19"
    b"\x13\x7e\x21\x79"
)
_IV384 = (
    b"\xcb\xbb\x9d\x5d\xc1\x05\x9e\xd8\x62\x9a\x29\x2a\x36\x7c\xd5\x07\x91\x59\x01\x5a"
    b"\x30\x70\xdd\x17\x15\x2f\xec\xd8\xf7\x0e\x59\x39\x67\x33\x26\x67\xff\xc0\x0b\x31"
    b"\x8e\xb4\x4a\x87\x68\x58\x15\x11\xdb\x0c\x2e\x0d\x64\xf9\x8f\xa7\x47\xb5\x48\x1d"
    b"\xbe\xfa\x4f\xa4"
)
_M64 = 0xFFFFFFFFFFFFFFFF
_K512 = None


def _words64(buf):
    return [int.from_bytes(buf[i : i + 8], "big") for i in range(0, len(buf), 8)]


class SHA512:
    """Pure-Python SHA-512, or SHA-384 with truncate384=True."""

    def __init__(self, truncate384=False):
        global _K512
        if _K512 is None:
            _K512 = tuple(_words64(_K512_BYTES))
        self._is384 = truncate384
        self._h = _words64(_IV384 if truncate384 else _IV512)
        self._buf = bytearray(128)
        self._fill = 0
        self._length = 0  # bytes hashed so far
        self.digest_size = 48 if truncate384 else 64

    def update(self, data):
        data = memoryview(data)
        n = len(data)
        self._length += n
        pos = 0
        buf = self._buf
        if self._fill:
            take = min(128 - self._fill, n)
            buf[self._fill : self._fill + take] = data[:take]
            self._fill += take
            pos = take
            if self._fill < 128:
                return
            self._compress(buf)
            self._fill = 0
        while n - pos >= 128:
            self._compress(data[pos : pos + 128])
            pos += 128
        rest = n - pos
        if rest:
            buf[:rest] = data[pos:]
            self._fill = rest

    def digest(self):
        # Pad a copy so that digest() does not disturb the running state.
        fill = self._fill
        tail = bytearray(256)
        tail[:fill] = self._buf[:fill]
        tail[fill] = 0x80
        total = 128 if fill < 112 else 256
        tail[total - 16 : total] = (self._length * 8).to_bytes(16, "big")
        h = list(self._h)
        self._compress(tail[:128], h)
        if total == 256:
            self._compress(memoryview(tail)[128:], h)
        out = b"".join(x.to_bytes(8, "big") for x in h)
        return out[:48] if self._is384 else out

    def _compress(self, block, h=None):
        if h is None:
            h = self._h
        M = _M64
        K = _K512
        w = _words64(block)
        for t in range(16, 80):
            x = w[t - 15]
            y = w[t - 2]
            s0 = ((x >> 1 | x << 63) ^ (x >> 8 | x << 56) ^ (x >> 7)) & M
            s1 = ((y >> 19 | y << 45) ^ (y >> 61 | y << 3) ^ (y >> 6)) & M
            w.append((w[t - 16] + s0 + w[t - 7] + s1) & M)
        a, b, c, d, e, f, g, hh = h
        for t in range(80):
            S1 = ((e >> 14 | e << 50) ^ (e >> 18 | e << 46) ^ (e >> 41 | e << 23)) & M
            ch = (e & f) ^ (~e & g)
            t1 = hh + S1 + ch + K[t] + w[t]
            S0 = ((a >> 28 | a << 36) ^ (a >> 34 | a << 30) ^ (a >> 39 | a << 25)) & M
            maj = (a & b) ^ (a & c) ^ (b & c)
            hh = g
            g = f
            f = e
            e = (d + t1) & M
            d = c
            c = b
            b = a
            a = (t1 + S0 + maj) & M
        h[0] = (h[0] + a) & M
        h[1] = (h[1] + b) & M
        h[2] = (h[2] + c) & M
        h[3] = (h[3] + d) & M
        h[4] = (h[4] + e) & M
        h[5] = (h[5] + f) & M
        h[6] = (h[6] + g) & M
        h[7] = (h[7] + hh) & M
