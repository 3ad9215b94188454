# SPDX-License-Identifier: MIT
# upki.rsa.generate on the Unix port: sizes refused, progress, cancel and
# Ctrl-C, and the FIPS 186-4 properties of a key made here.  (The keys are
# checked by `cryptography` in tests/test_rsa.py.)
import devtest
from devtest import raises

from upki import primes, rsa
from upki.errors import CryptoError


def test_small_and_huge_moduli_refused_with_the_range():
    for bits in (512, 1023, 4097, 8192):
        e = raises(CryptoError, rsa.generate, bits)
        msg = str(e)
        assert str(bits) in msg and "1024" in msg and "4096" in msg, msg


def test_cancel_callback_stops_and_returns_nothing():
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    e = raises(rsa.KeyGenerationCancelled, rsa.generate, 1024, cancel=cancel)
    assert "cancel" in str(e)
    assert len(calls) == 4


def test_ctrl_c_propagates():
    # KeyboardInterrupt raised from inside (as Ctrl-C would) is not swallowed
    def progress(ch):
        raise KeyboardInterrupt

    raises(KeyboardInterrupt, rsa.generate, 1024, progress)


def test_generate_1024_properties_and_use():
    dots = []
    key = rsa.generate(1024, progress=dots.append)
    assert key.bits == 1024 and key.e == 65537
    assert dots.count("+") == 2 and dots[-1] == "+"
    p, q = key.p, key.q
    assert primes.bit_length(p) == 512 and primes.bit_length(q) == 512
    assert p > q and p * q == key.n
    assert abs(p - q) > 1 << (512 - 100)
    assert key.d > 1 << 512
    assert (p - 1) % 65537 and (q - 1) % 65537
    key.check()
    sig = key.sign(b"abc", "sha1")
    assert key.public_key().verify(b"abc", sig, "sha1")
    assert key.decrypt(key.public_key().encrypt(b"k" * 100)) == b"k" * 100


def test_progress_dot_per_candidate():
    import os

    dots = []
    p = primes.random_prime(512, os.urandom, 2, progress=dots.append, dots_every=1)
    assert primes.bit_length(p) == 512
    # one dot per Miller-Rabin candidate: at least the prime itself
    assert len(dots) >= 1 and set(dots) == {"."}


def test_sieve_window_marks_exactly_the_candidates_to_skip():
    ps = list(primes.small_primes())
    for c0 in ((1 << 80) + 1, (3 << 510) + 12345, 65537 * 1000003 * 2 + 1):
        w = bytearray(96)
        primes.sieve_window(c0, w)
        for i in range(len(w)):
            c = c0 + 2 * i
            skip = (c - 1) % 65537 == 0
            if not skip:
                for p in ps:
                    if c % p == 0:
                        skip = True
                        break
            assert w[i] == (1 if skip else 0), (c0, i)


def test_primality_helpers():
    ps = list(primes.small_primes(1000))
    assert ps[:8] == [3, 5, 7, 11, 13, 17, 19, 23] and ps[-1] == 997 and len(ps) == 167
    n = 0
    for p in primes.small_primes():
        n += 1
        last = p
    assert n == 6541 and last == 65521  # the odd primes below 65536
    import os

    # Mersenne prime 2^521 - 1; Carmichael 561 and a strong pseudoprime to base 2
    assert primes.is_probable_prime((1 << 521) - 1, 5, os.urandom)
    assert not primes.is_probable_prime(561, 5, os.urandom)
    assert not primes.is_probable_prime(2047, 5, os.urandom)  # 23 * 89, spsp(2)
    assert not primes.is_probable_prime(((1 << 127) - 1) * ((1 << 89) - 1), 5, os.urandom)
    assert primes.mr_rounds(2048) == 5 and primes.mr_rounds(4096) == 4


if __name__ == "__main__":
    devtest.main(globals())
