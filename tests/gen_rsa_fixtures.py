# SPDX-License-Identifier: MIT
"""Regenerate the RSA test fixtures in tests/data (rsa_*), written by `cryptography`.

    .venv/bin/python tests/gen_rsa_fixtures.py

For each size in SIZES: the private key as PKCS#1 and PKCS#8 DER and PEM, the
public key as SubjectPublicKeyInfo and PKCS#1 DER, PKCS#1 v1.5 signatures of
MESSAGE with each hash, and a PKCS#1 v1.5 ciphertext of SECRET.  The device
tests compare the board's own encodings and signatures byte for byte with
these, so they are an independent implementation's answers.
"""

from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DATA = Path(__file__).resolve().parent / "data"
SIZES = (1024, 2048, 4096)
MESSAGE = b"upki test message: sign me\n"
SECRET = b"SCEP content-encryption key 0123"
HASHES = {
    "md5": hashes.MD5(),
    "sha1": hashes.SHA1(),
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def main():
    DATA.mkdir(exist_ok=True)
    for bits in SIZES:
        key = rsa.generate_private_key(65537, bits)
        pub = key.public_key()
        none = ser.NoEncryption()
        pkcs1 = ser.PrivateFormat.TraditionalOpenSSL
        files = {
            "pkcs1.der": key.private_bytes(ser.Encoding.DER, pkcs1, none),
            "pkcs8.der": key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, none),
            "pkcs1.pem": key.private_bytes(ser.Encoding.PEM, pkcs1, none),
            "pkcs8.pem": key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, none),
            "spki.der": pub.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo),
            "spki.pem": pub.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo),
            "pub_pkcs1.der": pub.public_bytes(ser.Encoding.DER, ser.PublicFormat.PKCS1),
            "enc.bin": pub.encrypt(SECRET, padding.PKCS1v15()),
        }
        for name, algo in HASHES.items():
            files["sig_%s.bin" % name] = key.sign(MESSAGE, padding.PKCS1v15(), algo)
        for name, data in files.items():
            (DATA / ("rsa_%d_%s" % (bits, name))).write_bytes(data)
    (DATA / "rsa_message.bin").write_bytes(MESSAGE)
    (DATA / "rsa_secret.bin").write_bytes(SECRET)


if __name__ == "__main__":
    main()
