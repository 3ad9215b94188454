# SPDX-License-Identifier: MIT
# What the CMS reader (upki.cms) and writer (upki.cmswrite) share: the names
# of the signed attributes, and certificates given as DER or objects.  Split
# out so that each of them loads without the other.
from upki.errors import CryptoError, DERError, PKIError

# Names of the attributes as RFC 5652 and RFC 8894 spell them: the keys of
# Signed.attributes.  ("dotted name" lines, searched with str.find.)
_ATTR_NAMES = """
1.2.840.113549.1.9.3 contentType
1.2.840.113549.1.9.4 messageDigest
1.2.840.113549.1.9.5 signingTime
2.16.840.1.113733.1.9.2 messageType
2.16.840.1.113733.1.9.3 pkiStatus
2.16.840.1.113733.1.9.4 failInfo
2.16.840.1.113733.1.9.5 senderNonce
2.16.840.1.113733.1.9.6 recipientNonce
2.16.840.1.113733.1.9.7 transactionID
1.3.6.1.5.5.7.24.1 failInfoText
1.2.840.113549.1.9.7 challengePassword
1.2.840.113549.1.9.52 cmsAlgorithmProtection
1.2.840.113549.1.9.15 smimeCapabilities
"""

def _line_lookup(table, key):
    i = table.find("\n" + key + " ")
    if i < 0:
        return None
    i += len(key) + 2
    return table[i : table.find("\n", i)]


def forward(table, name):
    """A name a split module answers from the part it moved to: table holds
    "name module" lines; the module (upki.MODULE) is loaded on first use.
    The module __getattr__ of scep and enroll."""
    mod = _line_lookup(table, name)
    if mod is None:
        raise AttributeError(name)
    return getattr(__import__("upki." + mod, None, None, (mod,)), name)


def attribute_name(dotted):
    """The RFC name of a CMS/SCEP attribute OID, or the upki.oid name, or the OID."""
    n = _line_lookup(_ATTR_NAMES, dotted)
    if n is None:
        from upki import oid

        n = oid.name(dotted)
    return n


def attribute_oid(label):
    """The dotted OID of an attribute name (RFC 8894/5652 spelling) or dotted text."""
    if label[:1].isdigit():
        return label
    i = _ATTR_NAMES.find(" " + label + "\n")
    if i >= 0:
        return _ATTR_NAMES[_ATTR_NAMES.rfind("\n", 0, i) + 1 : i]
    from upki import oid

    try:
        return oid.dotted(label)
    except ValueError:
        raise CryptoError("unknown attribute %s" % label)


def _cert(obj, what):
    from upki import x509

    if isinstance(obj, x509.Certificate):
        return obj
    try:
        return x509.Certificate(obj)
    except PKIError as e:
        raise DERError("%s certificate: %s" % (what, e))
