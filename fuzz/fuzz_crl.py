# SPDX-License-Identifier: MIT
"""upki.crl.ingest (the streaming CRL reader, sorter and B-tree builder) and
Index.lookup on what it built. The first input byte picks the mode: even, the
CRL is checked against its real issuer as on the board (a mutated CRL then
fails its signature, after the whole stream was parsed); odd, the issuer is
taken from the CRL itself and the signature check is a stand-in that accepts,
so that mutated CRLs reach the sorter, the index and the lookups, as a CA with
a bug in its CRL writer would make them. Only PKIError may escape."""

import io

import common

with common.instrumented():
    from upki import crl, der, x509
    from upki.errors import PKIError
    from upki.nvram import NVRAM

ALLOWED = (PKIError,)
_NV = NVRAM(common.scratch("crl"))
_ISSUERS = [x509.Certificate((common.DATA / n).read_bytes())
            for n in ("val_int2.der", "val_int1.der", "val_root.der")]
_real_check_sig = crl._check_sig


def _issuer_name(body):
    # CertificateList { tbsCertList { [version], signature, issuer ... } }
    mv = memoryview(body)
    _, s, e = der.read_tlv(mv, 0)
    _, ts, te = der.read_tlv(mv, s, e)
    t, a, b = der.read_tlv(mv, ts, te)
    pos = b if t == der.INTEGER else ts
    if t == der.INTEGER:
        _, a, pos = der.read_tlv(mv, pos, te)
    else:
        pos = b
    t, a, b = der.read_tlv(mv, pos, te)
    return bytes(mv[pos:b])


def one(data):
    if not data:
        return
    mode = data[0]
    body = bytes(data[1:])
    if mode & 1:
        try:
            issuer = (_issuer_name(body), (3, 65537))
        except PKIError:
            return
        crl._check_sig = lambda *a: None
    else:
        issuer = _ISSUERS[(mode >> 1) % len(_ISSUERS)]
        crl._check_sig = _real_check_sig
    try:
        info = crl.ingest(_NV, "crl/fuzz", io.BytesIO(body), len(body), issuer,
                          now=None, run_records=8, fan_in=3)
    except ALLOWED:
        return
    finally:
        crl._check_sig = _real_check_sig
    idx = crl.Index(_NV, "crl/fuzz")
    for serial in (b"\x01", b"\x02", bytes(20), b"\x7f" * 15, body[-4:] or b"\x00"):
        try:
            idx.lookup(serial)
        except ALLOWED:
            pass
    str(info.__dict__)
    _NV.delete("crl/fuzz")


if __name__ == "__main__":
    common.main(one)
