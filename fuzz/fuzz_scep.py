# SPDX-License-Identifier: MIT
"""upki.scep's readers of what a CA/RA sends: parse_cert_rep (the CertRep of
micromdm's scepserver, checked against the transactionID, senderNonce, key and
certificate of the PKCSReq it answers, tests/data/cms_mm_*), then
certificates(), crls() and issued() on what it accepts; parse_ca_certs
(GetCACert: DER, PEM or certs-only); Capabilities (GetCACaps text). The first
input byte picks the reader (mod 3). Only PKIError (SCEPError, DERError,
CryptoError) may escape."""

import common

with common.instrumented():
    from upki import cms, rsa, scep, x509
    from upki.errors import PKIError

ALLOWED = (PKIError,)
_D = common.DATA
_REQ = cms.verify((_D / "cms_mm_pkcsreq.der").read_bytes())
_TID = _REQ.get("transactionID")
_NONCE = bytes(_REQ.get("senderNonce"))
_MY_CERT = bytes(_REQ.signer.der)
_KEY = rsa.PrivateKey.from_der((_D / "cms_mm_client_key.der").read_bytes())
_CA_DER = (_D / "cms_mm_ca.der").read_bytes()
_CA = x509.Certificate(_CA_DER)
del _REQ


def one(data):
    if not data:
        return
    which = data[0] % 3
    body = bytes(data[1:])
    try:
        if which == 0:
            rep = scep.parse_cert_rep(body, _TID, _NONCE, [_CA_DER], _KEY, _MY_CERT)
            if rep.status == scep.SUCCESS:
                for c in rep.certificates():
                    bytes(c)
                for c in rep.crls():
                    bytes(c)
                rep.issued(_KEY.public_key(), [_CA])
            elif rep.status not in (scep.FAILURE, scep.PENDING):
                raise common.Finding("CertRep status %r" % (rep.status,))
        elif which == 1:
            certs = scep.parse_ca_certs(body)
            certs.ca
            certs.root
            certs.has_ra
        else:
            caps = scep.Capabilities(body.decode("utf-8", "replace"))
            str(caps)
            scep.Capabilities(body)
    except ALLOWED:
        pass


if __name__ == "__main__":
    common.main(one)
