# SPDX-License-Identifier: MIT
# What reading a SignedData (upki.cms) and an EnvelopedData (upki.cmsenv)
# share: DER structure checks that name what is wrong, ContentInfo,
# recipient/signer identifiers.  Every failure is a DERError or CryptoError.
from micropython import const

from upki import der
from upki.errors import CryptoError, DERError, PKIError

_SEQUENCE = const(0x30)
_OID = const(0x06)
_INTEGER = const(0x02)
_OCTET_STRING = const(0x04)
_CTX0 = const(0xA0)  # [0] constructed
_CTX0_PRIM = const(0x80)  # [0] IMPLICIT primitive


def _alg_name(dotted):
    from upki import oid

    return oid.name(dotted)


def _expect(buf, pos, end, tag, what):
    t, s, e = der.read_tlv(buf, pos, end)
    if t != tag:
        raise DERError(
            "%s: expected %s at offset %d, found %s"
            % (what, der.tag_name(tag), pos, der.tag_name(t))
        )
    return s, e


def _read_alg(buf, pos, end, what):
    # AlgorithmIdentifier at pos -> (dotted OID, (params tag, start, end) or None, next pos)
    s, e = _expect(buf, pos, end, _SEQUENCE, what)
    os_, oe = _expect(buf, s, e, _OID, what)
    params = None
    if oe < e:
        params = der.read_tlv(buf, oe, e)
        if params[2] != e:
            raise DERError(
                "%s: trailing data in AlgorithmIdentifier at offset %d" % (what, params[2])
            )
    return der.decode_oid(buf, os_, oe), params, e


def _check_null_params(params, alg, what):
    if params is not None and (params[0] != 0x05 or params[1] != params[2]):
        raise DERError("%s: %s parameters must be NULL or absent" % (what, alg))


def _content_info(buf, expected_type):
    # A ContentInfo of expected_type -> (start, end) of the inner structure's
    # content; a bare inner SEQUENCE (no ContentInfo) is accepted too.
    t, s, e = der.read_single(buf)
    if t != _SEQUENCE:
        raise DERError("expected a ContentInfo SEQUENCE at offset 0, found %s" % der.tag_name(t))
    t2, s2, e2 = der.read_tlv(buf, s, e)
    if t2 != _OID:
        return s, e  # the inner SEQUENCE itself (starts with its version INTEGER)
    ctype = der.decode_oid(buf, s2, e2)
    if ctype != expected_type:
        raise CryptoError(
            "ContentInfo holds %s, expected %s" % (_alg_name(ctype), _alg_name(expected_type))
        )
    if e2 == e:
        raise DERError("ContentInfo of %s has no content" % _alg_name(ctype))
    cs, ce = _expect(buf, e2, e, _CTX0, "ContentInfo")
    if ce != e:
        raise DERError("trailing data in ContentInfo at offset %d" % ce)
    is_, ie = _expect(buf, cs, ce, _SEQUENCE, _alg_name(ctype))
    if ie != ce:
        raise DERError("trailing data after %s at offset %d" % (_alg_name(ctype), ie))
    return is_, ie


def _join_pieces(buf, s, e, what):
    # the content of a constructed OCTET STRING: its primitive pieces joined
    out = bytearray()
    for t, ps, pe in der.children(buf, s, e):
        if t != _OCTET_STRING:
            raise DERError(
                "%s piece at offset %d is %s, not an OCTET STRING" % (what, ps, der.tag_name(t))
            )
        out.extend(buf[ps:pe])
    return out


def _read_rid(buf, t, s, e, what):
    # issuerAndSerialNumber (SEQUENCE) or subjectKeyIdentifier ([0] IMPLICIT)
    if t == _SEQUENCE:
        nt, ns, ne = der.read_tlv(buf, s, e)
        if nt != _SEQUENCE:
            raise DERError("%s: issuer is %s, not a Name" % (what, der.tag_name(nt)))
        ss, se = _expect(buf, ne, e, _INTEGER, what + " serialNumber")
        if se != e:
            raise DERError("%s: trailing data in issuerAndSerialNumber at offset %d" % (what, se))
        return ("ias", s, ne, ss, se)
    if t == _CTX0_PRIM:
        return ("ski", s, e)
    raise DERError("%s: unknown identifier %s" % (what, der.tag_name(t)))


def _rid_matches(buf, rid, cert):
    if rid[0] == "ias":
        i0, i1 = cert._issuer
        c0, c1 = cert._serial
        return buf[rid[1] : rid[2]] == cert.der[i0:i1] and buf[rid[3] : rid[4]] == cert.der[c0:c1]
    try:
        ski = cert.subject_key_identifier
    except PKIError:
        return False
    return ski is not None and buf[rid[1] : rid[2]] == ski
