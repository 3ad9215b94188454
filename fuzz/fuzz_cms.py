# SPDX-License-Identifier: MIT
"""upki.cms readers: verify (SignedData), read_certs_only (degenerate
certs-only, as GetCACert answers) and open_envelope (EnvelopedData for the
leaf's key). The first input byte picks the reader (mod 3); the rest is the
DER. cms.py documents DERError or CryptoError only: nothing else may escape."""

import common

with common.instrumented():
    from upki import cms, rsa
    from upki.errors import PKIError

ALLOWED = (PKIError,)
_ROOT = (common.DATA / "x509_root.der").read_bytes()
_LEAF = (common.DATA / "x509_leaf.der").read_bytes()
_LEAF_KEY = rsa.PrivateKey.from_der((common.DATA / "x509_key_2048.der").read_bytes())


def one(data):
    if not data:
        return
    which = data[0] % 3
    body = data[1:]
    try:
        if which == 0:
            s = cms.verify(body, certificates=(_ROOT, _LEAF))
            s.get("transId")
            bytes(s.content)
        elif which == 1:
            for c in cms.read_certs_only(body):
                bytes(c)
        else:
            out = cms.open_envelope(body, _LEAF_KEY, _LEAF)
            if not isinstance(out, (bytes, bytearray)):
                raise common.Finding("open_envelope returned %r" % type(out))
    except ALLOWED:
        pass


if __name__ == "__main__":
    common.main(one)
