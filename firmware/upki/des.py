# SPDX-License-Identifier: MIT
# DES / 3DES-CBC (FIPS 46-3) in Python for upki.cipher: old SCEP CAs (and
# micromdm's CertRep, single DES) still use them and no MicroPython port
# ships DES.  Split from upki.cipher so that AES-only work (what upki sends)
# never loads these tables and code.
#
#   cbc(buf, key, iv, encrypting)   # in place; key of 8, 16 or 24 bytes
import micropython

try:
    from array import array
except ImportError:  # pragma: no cover
    array = None

# The viper annotations name types that only exist inside the viper compiler;
# CPython evaluates annotations, so give it harmless stand-ins.
try:
    ptr8  # noqa: B018
except NameError:
    ptr8 = ptr32 = object
try:
    uint  # noqa: B018
except NameError:
    uint = int

_M32 = 0xFFFFFFFF

# The round function uses eight 64-entry tables that merge each S-box with the
# P permutation (the classic "SP" layout): the halves are kept rotated left by
# one bit after the initial permutation, so every 6-bit S-box input is a plain
# shift-and-mask of (half rotated right by 4) or of the half itself, and the
# subkeys are stored pre-split to match.

# S-boxes, one hex string each, 4 rows of 16 (row = outer bits, column = inner 4).
_SBOX = (
    "e4d12fb83a6c59070f74e2d1a6cb953841e8d62bfc973a50fc8249175b3ea06d",
    "f18e6b34972dc05a3d47f28ec01a69b50e7ba4d158c6932fd8a13f42b67c05e9",
    "a09e63f51dc7b428d709346a285ecbf1d6498f30b12c5ae71ad069874fe3b52c",
    "7de3069a1285bc4fd8b56f03472c1ae9a690cb7df13e52843f06a1d8945bc72e",
    "2c417ab6853fd0e9eb2c47d150fa3986421bad78f9c5630eb8c71e2d6f09a453",
    "c1af92680d34e75baf427c9561de0b389ef528c3704a1db6432c95fabe17608d",
    "4b2ef08d3c975a61d0b7491ae35c2f8614bdc37eaf6805926bd814a7950fe23c",
    "d2846fb1a93e50c71fd8a374c56b0e927b419ce206adf35821e74a8dfc90356b",
)
# P permutation (FIPS 46-3 numbering, bit 1 = most significant).
_P = b"\x10\x07\x14\x15\x1d\x0c\x1c\x11\x01\x0f\x17\x1a\x05\x12\x1f\x0a" \
     b"\x02\x08\x18\x0e\x20\x1b\x03\x09\x13\x0d\x1e\x06\x16\x0b\x04\x19"
_PC1 = b"\x39\x31\x29\x21\x19\x11\x09\x01\x3a\x32\x2a\x22\x1a\x12" \
       b"\x0a\x02\x3b\x33\x2b\x23\x1b\x13\x0b\x03\x3c\x34\x2c\x24" \
       b"\x3f\x37\x2f\x27\x1f\x17\x0f\x07\x3e\x36\x2e\x26\x1e\x16" \
       b"\x0e\x06\x3d\x35\x2d\x25\x1d\x15\x0d\x05\x1c\x14\x0c\x04"
_PC2 = b"\x0e\x11\x0b\x18\x01\x05\x03\x1c\x0f\x06\x15\x0a" \
       b"\x17\x13\x0c\x04\x1a\x08\x10\x07\x1b\x14\x0d\x02" \
       b"\x29\x34\x1f\x25\x2f\x37\x1e\x28\x33\x2d\x21\x30" \
       b"\x2c\x31\x27\x38\x22\x35\x2e\x2a\x32\x24\x1d\x20"
_SHIFTS = b"\x01\x01\x02\x02\x02\x02\x02\x02\x01\x02\x02\x02\x02\x02\x02\x01"

_sp = None  # array('I', 512): SP table j (0..7) at [64*j : 64*j+64]


def _sp_tables():
    global _sp
    if _sp is not None:
        return _sp
    sp = array("I", bytes(2048))
    for j in range(8):
        rows = _SBOX[j]
        for v in range(64):
            row = ((v >> 4) & 2) | (v & 1)
            s = int(rows[row * 16 + ((v >> 1) & 15)], 16)
            # S-box j's output occupies bits 4j+1..4j+4 (1 = MSB) before P.
            pre = s << (28 - 4 * j)
            out = 0
            for i in range(32):
                if (pre >> (32 - _P[i])) & 1:
                    out |= 1 << (31 - i)
            sp[64 * j + v] = ((out << 1) | (out >> 31)) & _M32
    _sp = sp
    return sp


def _subkeys(key8):
    # Sixteen rounds, two words each: (chunks 1,3,5,7) and (2,4,6,8) of the
    # 48-bit subkey, each chunk in the byte lane the round function reads.
    k = 0
    for b in key8:
        k = (k << 8) | b
    cd = 0
    for i in range(56):
        cd = (cd << 1) | ((k >> (64 - _PC1[i])) & 1)
    c = cd >> 28
    d = cd & 0xFFFFFFF
    words = []
    for rnd in range(16):
        s = _SHIFTS[rnd]
        c = ((c << s) | (c >> (28 - s))) & 0xFFFFFFF
        d = ((d << s) | (d >> (28 - s))) & 0xFFFFFFF
        cd = (c << 28) | d
        sub = 0
        for i in range(48):
            sub = (sub << 1) | ((cd >> (56 - _PC2[i])) & 1)
        ch = [(sub >> (42 - 6 * i)) & 63 for i in range(8)]
        words.append((ch[0] << 24) | (ch[2] << 16) | (ch[4] << 8) | ch[6])
        words.append((ch[1] << 24) | (ch[3] << 16) | (ch[5] << 8) | ch[7])
    return words


def _reverse_rounds(words):
    out = []
    for rnd in range(15, -1, -1):
        out.append(words[2 * rnd])
        out.append(words[2 * rnd + 1])
    return out


def _schedule(key, encrypting):
    # 32 subkey words per DES pass (1 for DES, 3 for EDE).
    if len(key) == 8:
        parts = [(key, encrypting)]
    else:
        k1 = key[0:8]
        k2 = key[8:16]
        k3 = key[16:24] if len(key) == 24 else k1
        if encrypting:
            parts = [(k1, True), (k2, False), (k3, True)]
        else:
            parts = [(k3, False), (k2, True), (k1, False)]
    ks = array("I", bytes(128 * len(parts)))
    at = 0
    for k, enc in parts:
        words = _subkeys(k)
        if not enc:
            words = _reverse_rounds(words)
        for w in words:
            ks[at] = w
            at += 1
    return ks


def cbc(buf, key, iv, encrypting):
    """DES (8-byte key) or EDE 3DES (16 or 24) CBC over buf in place."""
    _des_cbc(buf, _schedule(key, encrypting), iv, encrypting)


def _des_cbc(buf, ks, iv, encrypting):
    chain = bytearray(iv)
    mode = (len(ks) // 32) * 2 + (1 if encrypting else 0)
    _des_cbc_blocks(buf, len(buf), _sp_tables(), ks, chain, mode, _M32)


@micropython.viper
def _des_cbc_blocks(buf: ptr8, size: int, sp: ptr32, ks: ptr32, chain: ptr8, mode: int, m32: uint):
    # CBC over buf in place; chain holds the IV, then the last ciphertext block.
    # mode: DES passes * 2 + 1 when encrypting.
    passes = mode >> 1
    enc = mode & 1
    cl = (uint(chain[0]) << 24) | (uint(chain[1]) << 16) | (uint(chain[2]) << 8) | uint(chain[3])
    cr = (uint(chain[4]) << 24) | (uint(chain[5]) << 16) | (uint(chain[6]) << 8) | uint(chain[7])
    # 0x55555555 is too big for a small-int literal on 32-bit ports: build it
    m55 = (uint(0x5555) << 16) | uint(0x5555)
    pos = 0
    while pos < size:
        l = (uint(buf[pos]) << 24) | (uint(buf[pos + 1]) << 16)
        l |= (uint(buf[pos + 2]) << 8) | uint(buf[pos + 3])
        r = (uint(buf[pos + 4]) << 24) | (uint(buf[pos + 5]) << 16)
        r |= (uint(buf[pos + 6]) << 8) | uint(buf[pos + 7])
        inl = l
        inr = r
        if enc:
            l ^= cl
            r ^= cr
        # initial permutation as five delta swaps, then rotate both halves left by 1
        w = ((l >> 4) ^ r) & 0x0F0F0F0F
        r ^= w
        l ^= w << 4
        w = ((l >> 16) ^ r) & 0x0000FFFF
        r ^= w
        l ^= w << 16
        w = ((r >> 2) ^ l) & 0x33333333
        l ^= w
        r ^= w << 2
        w = ((r >> 8) ^ l) & 0x00FF00FF
        l ^= w
        r ^= w << 8
        r = ((r << 1) | (r >> 31)) & m32
        w = ((l ^ r) >> 1) & m55
        l ^= w << 1
        r ^= w << 1
        l = ((l << 1) | (l >> 31)) & m32
        k = 0
        p = 0
        while p < passes:
            i = 0
            while i < 8:
                w = ((r << 28) | (r >> 4)) ^ uint(ks[k])
                f = uint(sp[384 + int(w & 63)]) | uint(sp[256 + int((w >> 8) & 63)])
                f |= uint(sp[128 + int((w >> 16) & 63)]) | uint(sp[int((w >> 24) & 63)])
                w = r ^ uint(ks[k + 1])
                f |= uint(sp[448 + int(w & 63)]) | uint(sp[320 + int((w >> 8) & 63)])
                f |= uint(sp[192 + int((w >> 16) & 63)]) | uint(sp[64 + int((w >> 24) & 63)])
                l ^= f
                w = ((l << 28) | (l >> 4)) ^ uint(ks[k + 2])
                f = uint(sp[384 + int(w & 63)]) | uint(sp[256 + int((w >> 8) & 63)])
                f |= uint(sp[128 + int((w >> 16) & 63)]) | uint(sp[int((w >> 24) & 63)])
                w = l ^ uint(ks[k + 3])
                f |= uint(sp[448 + int(w & 63)]) | uint(sp[320 + int((w >> 8) & 63)])
                f |= uint(sp[192 + int((w >> 16) & 63)]) | uint(sp[64 + int((w >> 24) & 63)])
                r ^= f
                k += 4
                i += 1
            # the pre-output swap; between passes it stands for FP then IP
            w = l
            l = r
            r = w
            p += 1
        # final permutation: the initial one undone, step by step in reverse
        l = ((l >> 1) | (l << 31)) & m32
        w = ((l ^ r) >> 1) & m55
        l ^= w << 1
        r ^= w << 1
        r = ((r >> 1) | (r << 31)) & m32
        w = ((r >> 8) ^ l) & 0x00FF00FF
        l ^= w
        r ^= w << 8
        w = ((r >> 2) ^ l) & 0x33333333
        l ^= w
        r ^= w << 2
        w = ((l >> 16) ^ r) & 0x0000FFFF
        r ^= w
        l ^= w << 16
        w = ((l >> 4) ^ r) & 0x0F0F0F0F
        r ^= w
        l ^= w << 4
        if enc:
            cl = l
            cr = r
        else:
            l ^= cl
            r ^= cr
            cl = inl
            cr = inr
        buf[pos] = l >> 24 & 0xFF
        buf[pos + 1] = l >> 16 & 0xFF
        buf[pos + 2] = l >> 8 & 0xFF
        buf[pos + 3] = l & 0xFF
        buf[pos + 4] = r >> 24 & 0xFF
        buf[pos + 5] = r >> 16 & 0xFF
        buf[pos + 6] = r >> 8 & 0xFF
        buf[pos + 7] = r & 0xFF
        pos += 8
    chain[0] = cl >> 24 & 0xFF
    chain[1] = cl >> 16 & 0xFF
    chain[2] = cl >> 8 & 0xFF
    chain[3] = cl & 0xFF
    chain[4] = cr >> 24 & 0xFF
    chain[5] = cr >> 16 & 0xFF
    chain[6] = cr >> 8 & 0xFF
    chain[7] = cr & 0xFF
