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

# The round constants as one bytes object (640 bytes) rather than 80 big-int
# literals: on a board it stays in flash until a SHA-512 is first needed.
_K512_BYTES = unhexlify(
    "428a2f98d728ae227137449123ef65cdb5c0fbcfec4d3b2fe9b5dba58189dbbc"
    "3956c25bf348b53859f111f1b605d019923f82a4af194f9bab1c5ed5da6d8118"
    "d807aa98a303024212835b0145706fbe243185be4ee4b28c550c7dc3d5ffb4e2"
    "72be5d74f27b896f80deb1fe3b1696b19bdc06a725c71235c19bf174cf692694"
    "e49b69c19ef14ad2efbe4786384f25e30fc19dc68b8cd5b5240ca1cc77ac9c65"
    "2de92c6f592b02754a7484aa6ea6e4835cb0a9dcbd41fbd476f988da831153b5"
    "983e5152ee66dfaba831c66d2db43210b00327c898fb213fbf597fc7beef0ee4"
    "c6e00bf33da88fc2d5a79147930aa72506ca6351e003826f142929670a0e6e70"
    "27b70a8546d22ffc2e1b21385c26c9264d2c6dfc5ac42aed53380d139d95b3df"
    "650a73548baf63de766a0abb3c77b2a881c2c92e47edaee692722c851482353b"
    "a2bfe8a14cf10364a81a664bbc423001c24b8b70d0f89791c76c51a30654be30"
    "d192e819d6ef5218d69906245565a910f40e35855771202a106aa07032bbd1b8"
    "19a4c116b8d2d0c81e376c085141ab532748774cdf8eeb9934b0bcb5e19b48a8"
    "391c0cb3c5c95a634ed8aa4ae3418acb5b9cca4f7763e373682e6ff3d6b2b8a3"
    "748f82ee5defb2fc78a5636f43172f6084c87814a1f0ab728cc702081a6439ec"
    "90befffa23631e28a4506cebde82bde9bef9a3f7b2c67915c67178f2e372532b"
    "ca273eceea26619cd186b8c721c0c207eada7dd6cde0eb1ef57d4f7fee6ed178"
    "06f067aa72176fba0a637dc5a2c898a6113f9804bef90dae1b710b35131c471b"
    "28db77f523047d8432caab7b40c724933c9ebe0a15c9bebc431d67c49c100d4c"
    "4cc5d4becb3e42b6597f299cfc657e2a5fcb6fab3ad6faec6c44198c4a475817"
)
_IV512 = unhexlify(
    "6a09e667f3bcc908bb67ae8584caa73b3c6ef372fe94f82ba54ff53a5f1d36f1"
    "510e527fade682d19b05688c2b3e6c1f1f83d9abfb41bd6b5be0cd19137e2179"
)
_IV384 = unhexlify(
    "cbbb9d5dc1059ed8629a292a367cd5079159015a3070dd17152fecd8f70e5939"
    "67332667ffc00b318eb44a8768581511db0c2e0d64f98fa747b5481dbefa4fa4"
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
