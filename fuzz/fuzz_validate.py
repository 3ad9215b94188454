# SPDX-License-Identifier: MIT
"""upki.validate.verify_chain on a presented chain: the input after its first
byte is the certificates' DER back to back (at most 6), validated against the
val_root anchor of tests/data at a time inside the fixtures' validity. The
first byte picks the revocation mode (crl, best-effort, optional, none) and
what the CRL provider does (revokes serial 2 / 0x10, has no CRL, or raises a
PKIError as an unusable CRL). verify_chain documents that a bad certificate
never raises: nothing may escape, and the reason must be one of its codes."""

import common

with common.instrumented():
    from upki import der, validate, x509
    from upki.errors import PKIError

ALLOWED = ()
_ANCHOR = x509.Certificate((common.DATA / "val_root.der").read_bytes())
_NOW = x509.Certificate((common.DATA / "val_leaf.der").read_bytes()).not_before + 86400
_REVOKED_CERT = x509.Certificate((common.DATA / "val_leaf_revoked.der").read_bytes())
_REVOKED = (b"\x02", b"\x10", bytes.fromhex(_REVOKED_CERT.serial_hex))
REASONS = ("ok", "expired", "not-yet-valid", "bad-signature", "unknown-issuer", "revoked",
           "crl-unavailable", "clock-not-authoritative", "not-a-ca", "path-too-long",
           "key-usage", "unknown-critical-extension", "malformed", "identity-mismatch",
           "no-chain")


class _CRL:
    def lookup(self, serial):
        return (_NOW - 3600, 1) if bytes(serial) in _REVOKED else None


def _provider(kind):
    def provide(issuer, cert, fetch):
        if kind == 0:
            return _CRL()
        if kind == 1:
            return None
        raise PKIError("CRL signature check failed: fuzz")
    return provide


def one(data):
    if not data:
        return
    sel = data[0]
    buf = memoryview(bytes(data[1:]))
    chain = []
    pos = 0
    while pos < len(buf) and len(chain) < 6:
        try:
            _, _, e = der.read_tlv(buf, pos)
        except PKIError:
            e = len(buf)
        chain.append(bytes(buf[pos:e]))
        pos = e
    mode = validate.MODES[sel % 4]
    r = validate.verify_chain(chain, [_ANCHOR], _NOW, crl_provider=_provider((sel >> 2) % 3),
                              revocation=mode, usage="digitalSignature" if sel & 0x80 else None)
    if r.reason not in REASONS:
        raise common.Finding("reason %r" % (r.reason,))
    repr(r)


if __name__ == "__main__":
    common.main(one)
