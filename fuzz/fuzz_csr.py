# SPDX-License-Identifier: MIT
"""upki.csr on configuration text: parse_dn (the `subject-name` argument),
parse_ip (`ip-address`), then the subject those build (ios_subject). The
input is text, decoded as UTF-8 with replacement, as the console hands it over.
Only PKIError and ValueError (documented by parse_dn and parse_ip) may escape."""

import common

with common.instrumented():
    from upki import csr, der, x509
    from upki.errors import PKIError

ALLOWED = (PKIError, ValueError)


def one(data):
    text = data.decode("utf-8", "replace")
    first, _, rest = text.partition("\n")
    try:
        rdns = csr.parse_dn(first)
        name = csr.encode_name(rdns)
        # what we encode must read back
        t, s, e = der.read_single(name)
        x509.parse_name(memoryview(name), s, e)
    except ALLOWED:
        pass
    try:
        csr.parse_ip(rest.strip())
    except ALLOWED:
        pass
    try:
        rdns = csr.ios_subject(fqdn="r1.example.com", subject_name=first,
                               serial_number="0001", ip_address=rest.strip() or None)
        csr.encode_name(rdns)
    except ALLOWED:
        pass


if __name__ == "__main__":
    common.main(one)
