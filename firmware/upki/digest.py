# SPDX-License-Identifier: MIT
# One interface over the hash functions upki needs: md5, sha1 and sha256 from
# hashlib (C, fast), sha384 and sha512 in Python because MicroPython's hashlib
# lacks them (only signature verification needs them, so speed matters less;
# upki.sha512, loaded only when asked for).
#
#   h = digest.new("sha256"); h.update(b"..."); h.digest()
#   digest.hash("sha1", data)
#   digest.SIZES["sha384"] == 48
#   digest.digest_info("sha256", d)   # DER DigestInfo for PKCS#1 v1.5
import hashlib
from binascii import unhexlify

SIZES = {"md5": 16, "sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}

# DER of DigestInfo { AlgorithmIdentifier { oid, NULL }, OCTET STRING (len) }
# up to the digest itself (RFC 8017, section 9.2, note 1), in hex: one string
# in the heap, not a dict of bytes (digest.DIGEST_INFO_PREFIX still answers).
_PREFIXES = """
md5 3020300c06082a864886f70d020505000410
sha1 3021300906052b0e03021a05000414
sha256 3031300d060960864801650304020105000420
sha384 3041300d060960864801650304020205000430
sha512 3051300d060960864801650304020305000440
"""


def _prefix(name):
    i = _PREFIXES.index("\n" + name + " ") + len(name) + 2
    return unhexlify(_PREFIXES[i : _PREFIXES.index("\n", i)])


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
        if ctor is not None:
            impl = ctor()
        else:
            from upki.sha512 import SHA512

            impl = SHA512(name == "sha384")
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
    return _prefix(name) + bytes(digest_bytes)


def __getattr__(name):
    # digest.SHA512 as before the split, loaded on first use
    if name == "SHA512":
        from upki.sha512 import SHA512

        return SHA512
    if name == "DIGEST_INFO_PREFIX":
        return {n: _prefix(n) for n in SIZES}
    raise AttributeError(name)
