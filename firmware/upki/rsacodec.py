# SPDX-License-Identifier: MIT
# RSA key encodings for upki.rsa: PEM, PKCS#1 and PKCS#8 private keys in and
# out, SubjectPublicKeyInfo / PKCS#1 public keys in.  Its own module, loaded
# by the rsa methods that encode or decode (to_pkcs8_der, from_der, from_pem
# ...), so that key generation, signing and a CSR build on a small heap load
# neither it nor the DER reader.  Call it through upki.rsa, not directly:
#
#   rsa.PrivateKey.from_der(blob) -> rsacodec.private_numbers(blob)
from upki import der

_OID_RSA = "1.2.840.113549.1.1.1"
# AlgorithmIdentifier { rsaEncryption, NULL }
_ALG_RSA = b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00"


def pem_encode(label, data):
    from binascii import b2a_base64

    lines = ["-----BEGIN %s-----\n" % label]
    mv = memoryview(data)
    for i in range(0, len(data), 48):
        lines.append(b2a_base64(mv[i : i + 48]).decode())
    lines.append("-----END %s-----\n" % label)
    return "".join(lines)


def pem_decode(text, labels):
    """(label, DER) from the first PEM block whose label is one of labels."""
    from binascii import a2b_base64

    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode()
    for label in labels:
        begin = "-----BEGIN %s-----" % label
        i = text.find(begin)
        if i < 0:
            continue
        end = "-----END %s-----" % label
        j = text.find(end, i)
        if j < 0:
            raise ValueError("PEM %s has no END line" % label)
        body = text[i + len(begin) : j]
        if ":" in body:
            raise ValueError("encrypted PEM (Proc-Type headers) is not supported")
        return label, a2b_base64("".join(body.split()))
    raise ValueError("no PEM block labelled %s" % " or ".join(labels))


def _read_uints(buf, start, end, count, what):
    # `count` non-negative INTEGERs filling buf[start:end] exactly
    out = []
    pos = start
    for _ in range(count):
        s, e = der.expect(buf, pos, end, der.INTEGER)
        out.append(int.from_bytes(der.decode_uint_bytes(buf, s, e), "big"))
        pos = e
    if pos != end:
        raise der.DERError("%s: %d unexpected bytes at offset %d" % (what, end - pos, pos))
    return out


def _check_alg(buf, start, end):
    # AlgorithmIdentifier must be rsaEncryption, parameters NULL or absent
    s, e = der.expect(buf, start, end, der.OID)
    alg = der.decode_oid(buf, s, e)
    if alg != _OID_RSA:
        raise der.DERError("key algorithm %s is not rsaEncryption" % alg)
    if e != end:
        t, s2, e2 = der.read_tlv(buf, e, end)
        if t != der.NULL or e2 != end:
            raise der.DERError("rsaEncryption parameters must be NULL")
        der.decode_null(buf, s2, e2)


def public_numbers(data):
    """[n, e] from SubjectPublicKeyInfo or PKCS#1 RSAPublicKey DER (told
    apart by their structure)."""
    buf = memoryview(data)
    _, s, e = der.read_single(buf, der.SEQUENCE)
    t, as_, ae = der.read_tlv(buf, s, e)
    if t == der.SEQUENCE:
        # SubjectPublicKeyInfo { AlgorithmIdentifier, BIT STRING { RSAPublicKey } }
        _check_alg(buf, as_, ae)
        bs, be = der.expect(buf, ae, e, der.BIT_STRING)
        if be != e:
            raise der.DERError("SubjectPublicKeyInfo: trailing data at offset %d" % be)
        buf = der.decode_bit_string_bytes(buf, bs, be)
        _, s, e = der.read_single(buf, der.SEQUENCE)
    return _read_uints(buf, s, e, 2, "RSAPublicKey")


def private_numbers(data):
    """[n, e, d, p, q, dp, dq, qinv] from PKCS#8 PrivateKeyInfo or PKCS#1
    RSAPrivateKey DER (told apart by their structure); not yet checked for
    consistency (PrivateKey.from_der does that)."""
    buf = memoryview(data)
    for _ in range(2):
        _, s, e = der.read_single(buf, der.SEQUENCE)
        vs, ve = der.expect(buf, s, e, der.INTEGER)
        version = der.decode_int(buf, vs, ve)
        t, as_, ae = der.read_tlv(buf, ve, e)
        if t != der.SEQUENCE:
            break
        # PrivateKeyInfo { version, AlgorithmIdentifier, OCTET STRING { RSAPrivateKey },
        # [0] attributes, [1] public key (PKCS#8 v2): the last two not needed }
        if version not in (0, 1):
            raise der.DERError("PrivateKeyInfo: unknown version %d" % version)
        _check_alg(buf, as_, ae)
        os_, oe = der.expect(buf, ae, e, der.OCTET_STRING)
        for t, _, _ in der.children(buf, oe, e):
            if t & 0xC0 != 0x80:
                raise der.DERError("PrivateKeyInfo: unexpected %s" % der.tag_name(t))
        buf = buf[os_:oe]
    else:
        raise der.DERError("RSAPrivateKey expected inside PrivateKeyInfo")
    if version != 0:
        raise der.DERError("RSAPrivateKey version %d (multi-prime) is not supported" % version)
    return _read_uints(buf, ve, e, 8, "RSAPrivateKey")


def private_pkcs1_der(key):
    """RSAPrivateKey (PKCS#1, version 0, two primes) of an rsa.PrivateKey."""
    return der.encode_sequence(
        b"\x02\x01\x00",
        der.encode_int(key.n),
        der.encode_int(key.e),
        der.encode_int(key.d),
        der.encode_int(key.p),
        der.encode_int(key.q),
        der.encode_int(key.dp),
        der.encode_int(key.dq),
        der.encode_int(key.qinv),
    )


def private_pkcs8_der(key):
    """PrivateKeyInfo (PKCS#8, unencrypted) wrapping the PKCS#1 key."""
    return der.encode_sequence(
        b"\x02\x01\x00", _ALG_RSA, der.encode_octet_string(private_pkcs1_der(key))
    )
