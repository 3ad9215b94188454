# SPDX-License-Identifier: MIT
"""upki.rsa's key decoders: PrivateKey.from_der (PKCS#1 and PKCS#8),
PublicKey.from_der (SPKI and PKCS#1), and the PEM forms of both. Only PKIError
(DERError, CryptoError) and ValueError (PEM, out-of-range numbers: documented)
may escape. A private key that decodes must sign and verify."""

import common

with common.instrumented():
    from upki import rsa
    from upki.errors import PKIError

ALLOWED = (PKIError, ValueError)


def one(data):
    if data[:5] == b"-----":
        for cls in (rsa.PrivateKey, rsa.PublicKey):
            try:
                cls.from_pem(data)
            except ALLOWED:
                pass
        return
    try:
        pub = rsa.PublicKey.from_der(data)
        pub.verify(b"m", b"\x00" * pub.size, "sha256")
    except ALLOWED:
        pass
    try:
        key = rsa.PrivateKey.from_der(data)
    except ALLOWED:
        return
    if key.bits <= 4096:
        sig = key.sign(b"fuzz", "sha256")
        if not key.public_key().verify(b"fuzz", sig, "sha256"):
            raise common.Finding("a decoded key signs what it cannot verify")


if __name__ == "__main__":
    common.main(one)
