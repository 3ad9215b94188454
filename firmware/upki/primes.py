# SPDX-License-Identifier: MIT
# Probable primes for RSA key generation (FIPS 186-4 B.3.3 and C.3).
#
# Where the time goes: a 1024-bit Miller-Rabin round is one modular
# exponentiation, ~20 ms on the Unix port and ~0.8 s on an ESP32, and most
# candidates are composite.  So:
#  - an incremental sieve: one random odd start, then a window of consecutive
#    odd candidates; every odd prime below 2^16 strikes its multiples out of
#    the window (one big-int remainder per small prime per window), leaving
#    ~10 % of the odd numbers for Miller-Rabin instead of ~15 % with a sieve
#    to 2000;
#  - the window also strikes out candidates c = 1 (mod 65537), so that
#    gcd(p - 1, e) = 1 comes for free;
#  - the first Miller-Rabin round, base 2, which rejects nearly every
#    survivor, is computed by squarings and doublings (no multiplications by
#    the base): ~35 % cheaper than pow(2, d, n) here.  It is a filter only;
#    the FIPS rounds with random bases come after it.
# Memory: the small primes are not stored but regenerated for each window by
# a segmented sieve (~6 ms a window, 0.5 KB), which keeps key generation
# within a 48 KB heap.
from micropython import const

_SIEVE_LIMIT = const(65536)  # odd primes below this strike out candidates
_WINDOW = const(1024)  # odd candidates per sieve window (~100 survive; one in ~94 % holds a prime)
_E = const(65537)


def bit_length(n):
    """int.bit_length(), which MicroPython lacks."""
    if n <= 0:
        return 0
    h = "%x" % n
    return (len(h) - 1) * 4 + (0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4)[int(h[0], 16)]


def mr_rounds(nlen):
    """Miller-Rabin rounds with random bases for each prime of an nlen-bit RSA
    modulus: FIPS 186-4 table C.3 (p, q of 512 and 1024 bits: 5; 1536 bits: 4),
    extended by FIPS 186-5 table B.1 (2048-bit primes: 4)."""
    return 5 if nlen < 3072 else 4


def small_primes(limit=_SIEVE_LIMIT):
    """Yield the odd primes 3 <= p < limit, from a segmented sieve of
    Eratosthenes (segments of 512 odd numbers): 0.5 KB of work space and no
    table, so a key generation regenerates them per window (~6 ms here, a few
    per cent of one Miller-Rabin round) instead of holding 6.5 KB of them."""
    # base primes up to sqrt(limit), by trial division (few and small)
    base = []
    p = 3
    while p * p < limit:
        if all(p % b for b in base if b * b <= p):
            base.append(p)
        p += 2
    seg = 512
    mark = bytearray(seg)
    lo = 3  # first odd number of the segment
    while lo < limit:
        for i in range(seg):
            mark[i] = 0
        hi = lo + 2 * seg  # exclusive
        for b in base:
            bb = b * b
            if bb >= hi:
                break
            # first odd multiple of b that is >= max(lo, b*b)
            start = bb if bb >= lo else ((lo + b - 1) // b) * b
            if not start & 1:
                start += b
            i = (start - lo) >> 1
            while i < seg:
                mark[i] = 1
                i += b
        for i in range(seg):
            if not mark[i]:
                c = lo + 2 * i
                if c >= limit:
                    return
                yield c
        lo = hi


def _pow2_mod(exp, n):
    # 2^exp mod n, left to right: square, and double where the bit is set (a
    # shift and a conditional subtraction, not a multiplication).  The bits
    # come from the exponent's bytes: a 128-byte copy, not a 1 KB bin() string.
    x = 1
    for byte in exp.to_bytes((bit_length(exp) + 7) // 8, "big"):
        for mask in (128, 64, 32, 16, 8, 4, 2, 1):
            x = x * x % n
            if byte & mask:
                x += x
                if x >= n:
                    x -= n
    return x


def _mr_split(n):
    d = n - 1
    s = 0
    while not d & 1:
        d >>= 1
        s += 1
    return d, s


def _mr_round(x, n, s):
    # x = a^d mod n; a strong probable prime to base a iff x = +-1 or some x^(2^j) = -1
    if x == 1 or x == n - 1:
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
        if x == 1:
            return False
    return False


def is_probable_prime(n, rounds, randbytes, base2=True):
    """Miller-Rabin: an optional base-2 round, then rounds with random bases in
    [2, n-2] from randbytes."""
    if n < 5 or not n & 1:
        return n in (2, 3)
    d, s = _mr_split(n)
    if base2 and not _mr_round(_pow2_mod(d, n), n, s):
        return False
    nbytes = (bit_length(n) + 7) // 8 + 8  # 64 extra bits make the mod bias negligible
    for _ in range(rounds):
        a = 2 + int.from_bytes(randbytes(nbytes), "big") % (n - 3)
        if not _mr_round(pow(a, d, n), n, s):
            return False
    return True


class Cancelled(Exception):
    # Raised when the cancel callback asks to stop; rsa re-raises it as its own error.
    pass


def sieve_window(c0, window):
    """Mark window[i] = 1 where c0 + 2i (c0 odd) has a factor below the sieve
    limit or is 1 mod 65537; the zeros left are the Miller-Rabin candidates."""
    n = len(window)
    for i in range(n):
        window[i] = 0
    # strike out multiples of the small primes (c0 + 2i = 0 mod p)
    for p in small_primes():
        # i = -c0 / 2 mod p, kept below 2^17 (a small int on every port,
        # where (p - r) * (p + 1) / 2 would be a big int on a 32-bit board)
        i = c0 % p
        if i:
            i = p - i
            if i & 1:
                i += p
            i >>= 1
        while i < n:
            window[i] = 1
            i += p
    # and c = 1 (mod e), where p - 1 would share the factor e
    i = ((1 - c0 % _E) * ((_E + 1) >> 1)) % _E
    while i < n:
        window[i] = 1
        i += _E


def random_prime(bits, randbytes, rounds, progress=None, cancel=None, dots_every=8):
    """A random probable prime p of exactly `bits` bits with its top two bits
    set (so p >= sqrt(2) * 2^(bits-1) and a product of two such has exactly
    2*bits bits) and gcd(p - 1, 65537) = 1.

    progress('.') is called every dots_every Miller-Rabin candidates;
    cancel() returning true raises Cancelled."""
    nbytes = (bits + 7) // 8
    top = 1 << (bits - 1)
    limit = top << 1
    window = bytearray(_WINDOW)
    tested = 0
    while True:
        # a fresh random start: top two bits set, odd
        c0 = int.from_bytes(randbytes(nbytes), "big") & (limit - 1)
        c0 |= top | (top >> 1) | 1
        sieve_window(c0, window)
        for i in range(_WINDOW):
            if window[i]:
                continue
            c = c0 + 2 * i
            if c >= limit:
                break
            if cancel is not None and cancel():
                raise Cancelled()
            tested += 1
            if progress is not None and tested % dots_every == 0:
                progress(".")
            if is_probable_prime(c, rounds, randbytes):
                return c
