# SPDX-License-Identifier: MIT
# RSA for upki (RFC 8017 PKCS#1 v1.5, FIPS 186-4 key generation).
#
#   key = rsa.generate(2048, progress=print_dot)      # PrivateKey
#   sig = key.sign(message, "sha256")
#   key.public_key().verify(message, sig, "sha256")   # -> bool, never raises
#   key.to_pkcs8_der() / key.to_pem() / rsa.PrivateKey.from_der(der)
#   pub.to_spki_der() / rsa.PublicKey.from_spki_der(der)
#
# Private-key operations use the CRT, blind the input with a random r^e and
# check the result against the public key before releasing it, so that a
# fault (a glitch, a bit flip in RAM) cannot leak a factor of n.
#
# Nothing DER is imported at the top: key generation and signing do not need
# it.  A public key is written with upki.derwrite alone (a CSR right after key
# generation); reading keys, PEM and private-key DER are in upki.rsacodec
# (with the DER reader), loaded by the methods that need them.  As .mpy on a
# 64 KB heap every KB of loaded code crowds out the key-generation sieve.
import os

from micropython import const

from upki import digest
from upki.errors import CryptoError

MIN_BITS = const(1024)
MAX_BITS = const(4096)
DEFAULT_BITS = const(2048)
MAX_MODULUS_BITS = const(16384)  # the largest key we verify with (peers' keys)
E = const(65537)

# AlgorithmIdentifier { rsaEncryption, NULL }
_ALG_RSA = b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00"


class KeyGenerationCancelled(CryptoError):
    pass


class DecryptionError(CryptoError):
    # One message for every padding failure: a padding oracle must learn nothing.
    def __init__(self):
        super().__init__("decryption error")


def _bit_length(n):
    if n <= 0:
        return 0
    h = "%x" % n
    return (len(h) - 1) * 4 + (0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4)[int(h[0], 16)]


def inverse(a, m):
    """a^-1 mod m by the extended Euclidean algorithm (MicroPython's
    pow(a, -1, m) returns 0); ValueError when gcd(a, m) != 1."""
    r0, r1 = m, a % m
    s0, s1 = 0, 1
    while r1:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        s0, s1 = s1, s0 - q * s1
    if r0 != 1:
        raise ValueError("not invertible")
    return s0 % m


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def _i2osp(x, k):
    return x.to_bytes(k, "big")


def _os2ip(b):
    return int.from_bytes(b, "big")


def _unload(name):
    from upki import forget

    forget((name,))


def _check_bits(bits):
    if not isinstance(bits, int) or bits < MIN_BITS or bits > MAX_BITS:
        raise CryptoError(
            "RSA modulus of %s bits refused: choose %d to %d bits" % (bits, MIN_BITS, MAX_BITS)
        )


# ---------------------------------------------------------------- key generation


def generate(bits=DEFAULT_BITS, progress=None, randbytes=os.urandom, cancel=None):
    """A new RSA key pair with e = 65537 and a modulus of exactly `bits` bits
    (1024 to 4096), per FIPS 186-4 B.3.3 with probable primes.

    progress(ch) is called now and then while searching: '.' every few
    candidates, '+' when a prime is found (print them, as IOS prints dots).
    cancel() is asked before every candidate; if it returns true,
    KeyGenerationCancelled is raised.  Ctrl-C (KeyboardInterrupt) also stops
    it.  Either way nothing is returned or stored: a key exists only once
    generate() returns it.  randbytes(n) supplies the entropy (a board may pass
    its hardware RNG)."""
    _check_bits(bits)
    import gc
    import sys

    # primes is needed only here: unloaded again afterwards (unless someone
    # else had loaded it), so that its code does not sit in the heap under
    # the certificate request that follows key generation
    unload = "upki.primes" not in sys.modules
    from upki import primes

    gc.collect()
    rounds = primes.mr_rounds(bits)
    pbits = (bits + 1) // 2
    qbits = bits - pbits
    # FIPS 186-4 B.3.3: |p - q| > 2^(nlen/2 - 100), d > 2^(nlen/2)
    min_dist = 1 << (bits // 2 - 100)
    try:
        p = primes.random_prime(pbits, randbytes, rounds, progress, cancel)
        if progress is not None:
            progress("+")
        while True:
            q = primes.random_prime(qbits, randbytes, rounds, progress, cancel)
            if abs(p - q) <= min_dist:
                continue
            n = p * q
            lam = (p - 1) // _gcd(p - 1, q - 1) * (q - 1)
            d = inverse(E, lam)
            if d > (1 << (bits // 2)) and _bit_length(n) == bits:
                break
        if progress is not None:
            progress("+")
    except primes.Cancelled:
        raise KeyGenerationCancelled("key generation cancelled")
    finally:
        if unload:
            _unload("primes")
        primes = None
        gc.collect()
    if p < q:
        # PKCS#1 does not require p > q, but OpenSSL writes it so: same DER as theirs
        p, q = q, p
    return PrivateKey(n, E, d, p, q)


# ---------------------------------------------------------------- encodings
# PEM, PKCS#1, PKCS#8 and SubjectPublicKeyInfo reading, and private-key
# writing, live in upki.rsacodec, loaded by the methods below that need them:
# key generation, signing and a CSR's public key never load it.


def _pem_encode(label, data):
    from upki import rsacodec

    return rsacodec.pem_encode(label, data)


def pem_decode(text, labels):
    """(label, DER) from the first PEM block whose label is one of labels."""
    from upki import rsacodec

    return rsacodec.pem_decode(text, labels)


# ---------------------------------------------------------------- public key


class PublicKey:
    def __init__(self, n, e=E):
        if n < 3 or not n & 1:
            raise ValueError("RSA modulus must be odd and positive")
        if e < 3 or not e & 1 or e >= n:
            raise ValueError("bad RSA public exponent %d" % e)
        # Bounds as OpenSSL's: a peer's key must not buy minutes of pow() (a
        # 4096-bit exponent costs ~5 s per verify on the Unix port, 16384 bits minutes).
        if e >> 64:
            raise ValueError("RSA public exponent of more than 64 bits")
        self.n = n
        self.e = e
        self.bits = _bit_length(n)
        if self.bits > MAX_MODULUS_BITS:
            raise ValueError("RSA modulus of %d bits (at most %d)" % (self.bits, MAX_MODULUS_BITS))
        self.size = (self.bits + 7) // 8  # k, the length of signatures and ciphertexts

    def __eq__(self, other):
        return isinstance(other, PublicKey) and self.n == other.n and self.e == other.e

    def __repr__(self):
        return "<RSA public key, %d bits>" % self.bits

    # -- PKCS#1 v1.5 signatures (RSASSA-PKCS1-v1_5)

    def verify_digest(self, digest_bytes, signature, hash_name):
        """True iff signature is a valid PKCS#1 v1.5 signature over a message
        whose hash_name digest is digest_bytes.  Never raises for a bad
        signature; ValueError for an unknown hash name."""
        if hash_name not in digest.SIZES:
            raise ValueError("unknown hash %r" % hash_name)
        k = self.size
        if len(signature) != k or len(digest_bytes) != digest.SIZES[hash_name]:
            return False
        s = _os2ip(signature)
        if s >= self.n:
            return False
        try:
            expected = _emsa_pkcs1_v15(digest_bytes, hash_name, k)
        except ValueError:
            return False
        # Rebuild the expected encoding and compare whole (RFC 8017 8.2.2):
        # no parsing of the decrypted block, so no lax-parser forgeries.
        return _i2osp(pow(s, self.e, self.n), k) == expected

    def verify(self, message, signature, hash_name="sha256"):
        """True iff signature is a valid PKCS#1 v1.5 signature of message."""
        if hash_name not in digest.SIZES:
            raise ValueError("unknown hash %r" % hash_name)
        return self.verify_digest(digest.hash(hash_name, message), signature, hash_name)

    # -- PKCS#1 v1.5 encryption (RSAES-PKCS1-v1_5)

    def encrypt(self, message, randbytes=os.urandom):
        k = self.size
        m_len = len(message)
        if m_len > k - 11:
            raise ValueError(
                "message of %d bytes too long for RSA-%d (max %d)" % (m_len, self.bits, k - 11)
            )
        ps_len = k - m_len - 3
        ps = bytearray()
        while len(ps) < ps_len:
            # non-zero random octets
            for b in randbytes(ps_len - len(ps) + 8):
                if b and len(ps) < ps_len:
                    ps.append(b)
        em = b"".join((b"\x00\x02", ps, b"\x00", bytes(message)))
        return _i2osp(pow(_os2ip(em), self.e, self.n), k)

    # -- encodings

    def to_pkcs1_der(self):
        """RSAPublicKey ::= SEQUENCE { modulus, publicExponent }"""
        from upki import derwrite as der

        return der.encode_sequence(der.encode_int(self.n), der.encode_int(self.e))

    def to_spki_der(self):
        """SubjectPublicKeyInfo with rsaEncryption, as certificates and CSRs carry it."""
        from upki import derwrite as der

        return der.encode_sequence(_ALG_RSA, der.encode_bit_string(self.to_pkcs1_der()))

    def to_pem(self):
        return _pem_encode("PUBLIC KEY", self.to_spki_der())

    @classmethod
    def from_der(cls, data):
        """A public key from SubjectPublicKeyInfo or PKCS#1 RSAPublicKey DER
        (told apart by their structure; from_spki_der and from_pkcs1_der are
        the same function)."""
        from upki import rsacodec

        return cls(*rsacodec.public_numbers(data))

    from_spki_der = from_der
    from_pkcs1_der = from_der

    @classmethod
    def from_pem(cls, text):
        """From PEM 'PUBLIC KEY' (SubjectPublicKeyInfo) or 'RSA PUBLIC KEY' (PKCS#1)."""
        return cls.from_der(pem_decode(text, ("PUBLIC KEY", "RSA PUBLIC KEY"))[1])


def _emsa_pkcs1_v15(digest_bytes, hash_name, k):
    # EM = 0x00 || 0x01 || PS (0xff, >= 8) || 0x00 || DigestInfo
    t = digest.digest_info(hash_name, digest_bytes)
    if k < len(t) + 11:
        raise ValueError("RSA key too short for a %s signature" % hash_name)
    ps = b"\xff" * (k - len(t) - 3)
    return b"".join((b"\x00\x01", ps, b"\x00", t))


# ---------------------------------------------------------------- private key


class PrivateKey:
    def __init__(self, n, e, d, p, q, dp=None, dq=None, qinv=None):
        self.n = n
        self.e = e
        self.d = d
        self.p = p
        self.q = q
        self.dp = d % (p - 1) if dp is None else dp
        self.dq = d % (q - 1) if dq is None else dq
        self.qinv = inverse(q, p) if qinv is None else qinv
        self._public = PublicKey(n, e)
        self.bits = self._public.bits
        self.size = self._public.size

    def check(self):
        """Raise CryptoError unless the parameters are consistent (a key read
        back from flash, or from someone else's DER)."""
        p, q = self.p, self.q
        ok = (
            p > 1
            and q > 1
            and p * q == self.n
            and self.dp == self.d % (p - 1)
            and self.dq == self.d % (q - 1)
            and self.qinv * q % p == 1
            and (self.e * self.dp) % (p - 1) == 1
            and (self.e * self.dq) % (q - 1) == 1
        )
        if not ok:
            raise CryptoError("inconsistent RSA private key")

    def public_key(self):
        return self._public

    def __repr__(self):
        return "<RSA private key, %d bits>" % self.bits

    def _private_op(self, c, randbytes=os.urandom):
        # m = c^d mod n by the CRT, blinded, then checked with the public exponent
        n = self.n
        while True:
            r = int.from_bytes(randbytes(self.size + 8), "big") % n
            if r > 1:
                try:
                    r_inv = inverse(r, n)
                    break
                except ValueError:
                    continue  # r shares a factor with n: astronomically unlikely
        cb = c * pow(r, self.e, n) % n
        p, q = self.p, self.q
        m1 = pow(cb % p, self.dp, p)
        m2 = pow(cb % q, self.dq, q)
        h = self.qinv * (m1 - m2) % p
        m = (m2 + h * q) * r_inv % n
        if pow(m, self.e, n) != c:
            raise CryptoError("RSA private-key operation failed its check (fault?)")
        return m

    def sign_digest(self, digest_bytes, hash_name):
        """PKCS#1 v1.5 signature over a precomputed digest."""
        em = _emsa_pkcs1_v15(digest_bytes, hash_name, self.size)
        return _i2osp(self._private_op(_os2ip(em)), self.size)

    def sign(self, message, hash_name="sha256"):
        """PKCS#1 v1.5 signature (RSASSA-PKCS1-v1_5) of message with hash_name
        (sha256, sha1; sha384, sha512 and md5 also work)."""
        return self.sign_digest(digest.hash(hash_name, message), hash_name)

    def decrypt(self, ciphertext):
        """RSAES-PKCS1-v1_5 decryption; DecryptionError (one message for every
        failure) unless the padding is exactly right."""
        k = self.size
        if len(ciphertext) != k or k < 11:
            raise DecryptionError()
        c = _os2ip(ciphertext)
        if c >= self.n:
            raise DecryptionError()
        em = _i2osp(self._private_op(c), k)
        # 0x00 0x02 PS (>= 8 non-zero octets) 0x00 M; check everything before
        # deciding, so that every failure takes the same path
        sep = em.find(b"\x00", 2)
        good = em[0] == 0 and em[1] == 2 and sep >= 10
        if not good:
            raise DecryptionError()
        return em[sep + 1 :]

    # -- encodings

    def to_pkcs1_der(self):
        """RSAPrivateKey (PKCS#1, version 0, two primes)."""
        from upki import rsacodec

        return rsacodec.private_pkcs1_der(self)

    def to_pkcs8_der(self):
        """PrivateKeyInfo (PKCS#8, unencrypted) wrapping the PKCS#1 key."""
        from upki import rsacodec

        return rsacodec.private_pkcs8_der(self)

    def to_pem(self, pkcs8=True):
        """PEM text: 'PRIVATE KEY' (PKCS#8) or 'RSA PRIVATE KEY' (PKCS#1)."""
        if pkcs8:
            return _pem_encode("PRIVATE KEY", self.to_pkcs8_der())
        return _pem_encode("RSA PRIVATE KEY", self.to_pkcs1_der())

    @classmethod
    def from_der(cls, data):
        """A private key from PKCS#8 PrivateKeyInfo or PKCS#1 RSAPrivateKey DER
        (told apart by their structure; from_pkcs8_der and from_pkcs1_der are
        the same function).  The numbers are checked for consistency."""
        import sys

        # the codec is unloaded again (unless someone else had loaded it): a
        # key is read once, and its code need not sit under the work that follows
        unload = "upki.rsacodec" not in sys.modules
        from upki import rsacodec

        try:
            key = cls(*rsacodec.private_numbers(data))
        finally:
            rsacodec = None
            if unload:
                _unload("rsacodec")
        key.check()
        return key

    from_pkcs8_der = from_der
    from_pkcs1_der = from_der

    @classmethod
    def from_pem(cls, text):
        """From PEM 'PRIVATE KEY' (PKCS#8) or 'RSA PRIVATE KEY' (PKCS#1)."""
        return cls.from_der(pem_decode(text, ("PRIVATE KEY", "RSA PRIVATE KEY"))[1])
