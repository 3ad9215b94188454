# SPDX-License-Identifier: MIT
"""upki.x509: Certificate (DER or PEM through load) and every lazy field,
extension and name accessor; the signature check against itself. Only
PKIError (DERError, CryptoError) and ValueError (PEM, documented) may escape;
signature_error must return None or a reason string, never raise."""

import common

with common.instrumented():
    from upki import x509
    from upki.errors import PKIError

ALLOWED = (PKIError, ValueError)

_FIELDS = (
    "serial", "serial_hex", "signature_algorithm_name", "signature", "issuer", "subject",
    "not_before", "not_after", "public_key_info", "public_key_algorithm", "key_bits",
    "is_ca", "is_self_issued", "key_usage", "ios_usage", "ext_key_usage",
    "subject_alt_names", "crl_distribution_points", "subject_key_identifier",
    "authority_key_identifier", "unknown_critical_extensions", "basic_constraints",
    "extensions",
)


def _touch(obj, name):
    try:
        v = getattr(obj, name)
        if callable(v):
            v = v()
        str(v)
        if isinstance(v, x509.Name):
            v.rdns()
            v.matches(v)
            v.get("CN")
    except ALLOWED:
        pass


def one(data):
    try:
        cert = x509.load(data)
    except ALLOWED:
        return
    for name in _FIELDS:
        _touch(cert, name)
    for call in (lambda: cert.valid_at(0), lambda: cert.fingerprint("sha1"),
                 lambda: cert.fingerprint("md5"), lambda: cert.issuer_and_serial(),
                 lambda: cert.rsa_public_numbers(), lambda: cert.public_key(),
                 lambda: str(cert), lambda: cert.extension("2.5.29.19")):
        try:
            call()
        except ALLOWED:
            pass
    why = cert.signature_error(cert)
    if why is not None and not isinstance(why, str):
        raise common.Finding("signature_error returned %r" % (why,))


if __name__ == "__main__":
    common.main(one)
