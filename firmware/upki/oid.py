# SPDX-License-Identifier: MIT
# Object identifiers upki knows, mapped to names once, in one table.  Names of
# DN attributes are the short forms IOS prints (CN, O, OU, L, ST, C, E ...);
# everything else uses the RFC's own name.

# One line per OID: "dotted name"; looked up with str.find, so the table is
# one string object (a dict of ~130 entries cost 16 KB of heap as .mpy).
_TABLE = """
2.5.4.3 CN
2.5.4.4 SN
2.5.4.5 serialNumber
2.5.4.6 C
2.5.4.7 L
2.5.4.8 ST
2.5.4.9 street
2.5.4.10 O
2.5.4.11 OU
2.5.4.12 title
2.5.4.17 postalCode
2.5.4.41 name
2.5.4.42 GN
2.5.4.43 initials
2.5.4.44 generationQualifier
2.5.4.46 dnQualifier
2.5.4.65 pseudonym
0.9.2342.19200300.100.1.1 UID
0.9.2342.19200300.100.1.25 DC
1.2.840.113549.1.9.1 E
1.2.840.113549.1.9.2 unstructuredName
1.2.840.113549.1.9.8 unstructuredAddress
1.2.840.113549.1.9.3 contentType
1.2.840.113549.1.9.4 messageDigest
1.2.840.113549.1.9.5 signingTime
1.2.840.113549.1.9.7 challengePassword
1.2.840.113549.1.9.14 extensionRequest
1.3.6.1.4.1.311.20.2 certificateTemplateName
2.16.840.1.113733.1.9.2 messageType
2.16.840.1.113733.1.9.3 pkiStatus
2.16.840.1.113733.1.9.4 failInfo
2.16.840.1.113733.1.9.5 senderNonce
2.16.840.1.113733.1.9.6 recipientNonce
2.16.840.1.113733.1.9.7 transID
1.2.840.113549.1.7.1 data
1.2.840.113549.1.7.2 signedData
1.2.840.113549.1.7.3 envelopedData
1.2.840.113549.1.1.1 rsaEncryption
1.2.840.113549.1.1.4 md5WithRSAEncryption
1.2.840.113549.1.1.5 sha1WithRSAEncryption
1.2.840.113549.1.1.10 rsassaPss
1.2.840.113549.1.1.11 sha256WithRSAEncryption
1.2.840.113549.1.1.12 sha384WithRSAEncryption
1.2.840.113549.1.1.13 sha512WithRSAEncryption
1.2.840.113549.1.1.14 sha224WithRSAEncryption
1.2.840.10045.2.1 ecPublicKey
1.2.840.10045.4.1 ecdsa-with-SHA1
1.2.840.10045.4.3.2 ecdsa-with-SHA256
1.2.840.10045.4.3.3 ecdsa-with-SHA384
1.2.840.10045.4.3.4 ecdsa-with-SHA512
1.3.101.112 Ed25519
1.3.101.113 Ed448
1.2.840.10040.4.3 dsa-with-sha1
1.2.840.113549.2.5 md5
1.3.14.3.2.26 sha1
2.16.840.1.101.3.4.2.1 sha256
2.16.840.1.101.3.4.2.2 sha384
2.16.840.1.101.3.4.2.3 sha512
2.16.840.1.101.3.4.2.4 sha224
2.16.840.1.101.3.4.1.2 aes128-CBC
2.16.840.1.101.3.4.1.42 aes256-CBC
1.2.840.113549.3.7 des-ede3-cbc
1.3.14.3.2.7 desCBC
2.5.29.14 subjectKeyIdentifier
2.5.29.15 keyUsage
2.5.29.17 subjectAltName
2.5.29.18 issuerAltName
2.5.29.19 basicConstraints
2.5.29.20 cRLNumber
2.5.29.21 cRLReason
2.5.29.24 invalidityDate
2.5.29.27 deltaCRLIndicator
2.5.29.28 issuingDistributionPoint
2.5.29.29 certificateIssuer
2.5.29.30 nameConstraints
2.5.29.31 cRLDistributionPoints
2.5.29.32 certificatePolicies
2.5.29.35 authorityKeyIdentifier
2.5.29.36 policyConstraints
2.5.29.37 extKeyUsage
2.5.29.46 freshestCRL
2.5.29.54 inhibitAnyPolicy
1.3.6.1.5.5.7.1.1 authorityInfoAccess
1.3.6.1.5.5.7.48.1 ocsp
1.3.6.1.5.5.7.48.2 caIssuers
2.5.29.37.0 anyExtendedKeyUsage
1.3.6.1.5.5.7.3.1 serverAuth
1.3.6.1.5.5.7.3.2 clientAuth
1.3.6.1.5.5.7.3.3 codeSigning
1.3.6.1.5.5.7.3.4 emailProtection
1.3.6.1.5.5.7.3.5 ipsecEndSystem
1.3.6.1.5.5.7.3.6 ipsecTunnel
1.3.6.1.5.5.7.3.7 ipsecUser
1.3.6.1.5.5.7.3.8 timeStamping
1.3.6.1.5.5.7.3.9 OCSPSigning
1.3.6.1.5.5.7.3.17 ipsecIKE
1.3.6.1.4.1.311.20.2.2 smartcardLogon
"""

# Other spellings accepted where a name is read (subject-name, crypto identity dn).
_ALIASES = """
EMAIL E
EA E
EMAILADDRESS E
SERIALNUMBER serialNumber
UNSTRUCTUREDNAME unstructuredName
HOSTNAME unstructuredName
UNSTRUCTUREDADDRESS unstructuredAddress
IPADDRESS unstructuredAddress
S ST
GIVENNAME GN
SURNAME SN
STREET street
TITLE title
INITIALS initials
DNQUALIFIER dnQualifier
POSTALCODE postalCode
PSEUDONYM pseudonym
NAME name
"""

# The ones code refers to by value.
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
CN = "2.5.4.3"
SERIAL_NUMBER = "2.5.4.5"
UNSTRUCTURED_NAME = "1.2.840.113549.1.9.2"
UNSTRUCTURED_ADDRESS = "1.2.840.113549.1.9.8"
CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"
EXTENSION_REQUEST = "1.2.840.113549.1.9.14"
KEY_USAGE = "2.5.29.15"
SUBJECT_ALT_NAME = "2.5.29.17"
EXT_KEY_USAGE = "2.5.29.37"

# RSA PKCS#1 v1.5 signature algorithm OID <-> hash name
_SIG_HASH = (
    ("1.2.840.113549.1.1.11", "sha256"),
    ("1.2.840.113549.1.1.5", "sha1"),
    ("1.2.840.113549.1.1.12", "sha384"),
    ("1.2.840.113549.1.1.13", "sha512"),
    ("1.2.840.113549.1.1.4", "md5"),
)


def _lookup(table, key):
    # the word after "key " on its line of table, or None
    i = table.find("\n" + key + " ")
    if i < 0:
        return None
    i += len(key) + 2
    return table[i : table.find("\n", i)]


def _reverse(table, label):
    # the dotted OID on the line of table whose name is label, or None
    i = table.find(" " + label + "\n")
    if i < 0:
        return None
    return table[table.rfind("\n", 0, i) + 1 : i]


def name(dotted):
    """The name of an OID, or the dotted form itself when it has none."""
    return _lookup(_TABLE, dotted) or dotted


def dotted(label):
    """The dotted OID for a name (case-insensitive, IOS spellings accepted) or a
    dotted string; ValueError when unknown."""
    if label[:1].isdigit():
        return label
    up = label.upper()
    label = _lookup(_ALIASES, up) or label
    found = _reverse(_TABLE, label) or _reverse(_TABLE, up)
    if found is None:
        # rare: a mixed-case name typed in another case
        i = _TABLE.upper().find(" " + up + "\n")
        if i >= 0:
            found = _TABLE[_TABLE.rfind("\n", 0, i) + 1 : i]
    if found is None:
        raise ValueError("unknown attribute or OID name %s" % label)
    return found


def rsa_signature_hash(dotted_oid):
    """The hash name of an RSA PKCS#1 v1.5 signature algorithm, or None."""
    for o, h in _SIG_HASH:
        if o == dotted_oid:
            return h
    return None


def rsa_signature_oid(hash_name):
    for o, h in _SIG_HASH:
        if h == hash_name:
            return o
    raise ValueError("no RSA signature algorithm with %s" % hash_name)


def hash_oid(hash_name):
    """The digest algorithm OID for a hash name (CMS digestAlgorithm, DigestInfo)."""
    found = _reverse(_TABLE, hash_name)
    if found is None or hash_name[:3] not in ("md5", "sha"):
        raise ValueError("unknown hash %s" % hash_name)
    return found
