# SPDX-License-Identifier: MIT
# Opening a CMS EnvelopedData (RFC 5652 6) with our RSA key: the reader half
# upki.cms does not carry it, so that verifying a CertRep and opening its
# envelope need not both sit in the heap at once.
#
#   plain = cmsenv.open_envelope(env, key, my_cert_der)    # -> bytearray
from micropython import const

from upki import der
from upki.cmsbase import _cert
from upki.cmsread import _alg_name, _check_null_params, _content_info, _expect, _join_pieces
from upki.cmsread import _read_alg, _read_rid, _rid_matches
from upki.errors import CryptoError, DERError

_SEQUENCE = const(0x30)
_SET = const(0x31)
_OID = const(0x06)
_INTEGER = const(0x02)
_OCTET_STRING = const(0x04)
_CTX0 = const(0xA0)  # [0] constructed
_CTX1 = const(0xA1)
_CTX0_PRIM = const(0x80)  # [0] IMPLICIT primitive

DATA = "1.2.840.113549.1.7.1"
ENVELOPED_DATA = "1.2.840.113549.1.7.3"
_RSA = "1.2.840.113549.1.1.1"
_OAEP = "1.2.840.113549.1.1.7"


def open_envelope(data, private_key, my_cert_der=None):
    """Decrypt an EnvelopedData (DER, bare or in a ContentInfo) with our RSA
    private key: our KeyTransRecipientInfo is the one naming my_cert_der
    (DER or x509.Certificate) or, without it, the only one.  Content
    encryption aes128-cbc, aes256-cbc, des-ede3-cbc or des-cbc (micromdm
    answers in single DES).  Returns the content as a bytearray; raises
    DERError or CryptoError naming what is wrong."""
    buf = data if isinstance(data, memoryview) else memoryview(data)
    try:
        return _open_envelope(buf, private_key, my_cert_der)
    except (ValueError, IndexError, TypeError, KeyError) as ex:
        raise DERError("malformed EnvelopedData: %s" % ex)


def _open_envelope(buf, private_key, my_cert_der):
    from upki import cipher, rsa

    s, e = _content_info(buf, ENVELOPED_DATA)
    vs, ve = _expect(buf, s, e, _INTEGER, "EnvelopedData version")
    version = der.decode_int(buf, vs, ve)
    if not 0 <= version <= 4:
        raise DERError("EnvelopedData version %d is not 0..4" % version)
    t, rs, re = der.read_tlv(buf, ve, e)
    if t == _CTX0:  # originatorInfo
        t, rs, re = der.read_tlv(buf, re, e)
    if t != _SET:
        raise DERError("EnvelopedData: expected recipientInfos SET, found %s" % der.tag_name(t))
    ktris = []
    for t, ks, ke in der.children(buf, rs, re):
        if t == _SEQUENCE:  # KeyTransRecipientInfo; kari/kekri/pwri/ori are tagged
            ktris.append((ks, ke))
    if not ktris:
        raise CryptoError("no RSA key-transport recipient in the EnvelopedData")
    me = _cert(my_cert_der, "our") if my_cert_der is not None else None
    if me is not None:
        mine = None
        for ks, ke in ktris:
            vs2, ve2 = _expect(buf, ks, ke, _INTEGER, "KeyTransRecipientInfo version")
            rt, r_s, r_e = der.read_tlv(buf, ve2, ke)
            if _rid_matches(buf, _read_rid(buf, rt, r_s, r_e, "RecipientInfo rid"), me):
                mine = (ks, ke)
                break
        if mine is None:
            raise CryptoError(
                "the EnvelopedData is not for us: none of its %d recipients names our certificate"
                % len(ktris)
            )
    elif len(ktris) == 1:
        mine = ktris[0]
    else:
        raise CryptoError("%d recipients and no certificate to find ours" % len(ktris))
    ks, ke = mine
    vs2, ve2 = _expect(buf, ks, ke, _INTEGER, "KeyTransRecipientInfo version")
    rt, r_s, pos = der.read_tlv(buf, ve2, ke)  # rid
    rid = _read_rid(buf, rt, r_s, pos, "RecipientInfo rid")
    if der.decode_int(buf, vs2, ve2) != (0 if rid[0] == "ias" else 2):
        raise DERError("KeyTransRecipientInfo version does not go with its recipient identifier")
    kalg, params, pos = _read_alg(buf, pos, ke, "keyEncryptionAlgorithm")
    if kalg != _RSA:
        if kalg == _OAEP:
            raise CryptoError("unsupported key transport RSAES-OAEP (PKCS#1 v1.5 only)")
        raise CryptoError("unsupported key transport %s" % _alg_name(kalg))
    _check_null_params(params, "rsaEncryption", "keyEncryptionAlgorithm")
    eks, eke = _expect(buf, pos, ke, _OCTET_STRING, "encryptedKey")
    if eke != ke:
        raise DERError("trailing data in KeyTransRecipientInfo at offset %d" % eke)

    # EncryptedContentInfo (read before the RSA work: bad structure fails fast)
    es, ee = _expect(buf, re, e, _SEQUENCE, "EncryptedContentInfo")
    ts, te = _expect(buf, es, ee, _OID, "EncryptedContentInfo contentType")
    ctype = der.decode_oid(buf, ts, te)
    if ctype != DATA:
        raise CryptoError("encrypted content of type %s, expected data" % _alg_name(ctype))
    calg, params, pos = _read_alg(buf, te, ee, "contentEncryptionAlgorithm")
    try:
        alg = cipher.alg_for_oid(calg)
    except ValueError:
        raise CryptoError("unsupported content encryption %s" % _alg_name(calg))
    if params is None or params[0] != _OCTET_STRING:
        raise DERError("%s parameters must be the IV as an OCTET STRING" % alg)
    iv = buf[params[1] : params[2]]
    if len(iv) != cipher.iv_size(alg):
        raise CryptoError("%s IV of %d bytes, expected %d" % (alg, len(iv), cipher.iv_size(alg)))
    if pos == ee:
        raise CryptoError("EncryptedContentInfo has no encryptedContent")
    t, cs, ce = der.read_tlv(buf, pos, ee)
    if t not in (_CTX0_PRIM, _CTX0) or ce != ee:
        raise DERError("EncryptedContentInfo: expected encryptedContent [0] at offset %d" % pos)
    if t == _CTX0:
        # BER constructed form, as Go's pkcs7 (micromdm) writes it: OCTET
        # STRING pieces, joined into the buffer that is decrypted in place
        ciphertext = _join_pieces(buf, cs, ce, "encryptedContent")
    else:
        ciphertext = buf[cs:ce]
    if ee < e:  # unprotectedAttrs [1]
        t, _, ue = der.read_tlv(buf, ee, e)
        if t != _CTX1 or ue != e:
            raise DERError("trailing data in EnvelopedData at offset %d" % ee)

    try:
        key = private_key.decrypt(bytes(buf[eks:eke]))
    except rsa.DecryptionError:
        raise CryptoError("cannot decrypt the content-encryption key: not encrypted for our key")
    if len(key) not in cipher.ALGORITHMS[alg][0]:
        raise CryptoError("content-encryption key of %d bytes does not fit %s" % (len(key), alg))
    import gc

    gc.collect()
    try:
        return cipher.decrypt(alg, key, iv, ciphertext)
    except ValueError as ex:
        raise CryptoError("%s decryption failed (wrong key or damaged content): %s" % (alg, ex))
