# SPDX-License-Identifier: MIT
# The request half of upki.scep: a pkiMessage (RFC 8894 3.2) and the
# self-signed certificate of a PKCSReq (2.3).  Loaded while a request is
# built (with the CMS writer), unloaded before the reply is read.
#
#   msg = scepreq.pki_message(scep.PKCS_REQ, csr_der, signer_der, key, recipient_der,
#                             tid, nonce, "sha256", "aes128-cbc", signing_time)
from upki import der
from upki.errors import SCEPError
from upki.scep import CERT_POLL, GET_CERT, GET_CRL, PKCS_REQ, RENEWAL_REQ

_PRINTABLE = 0x13


def _printable(text):
    return der.encode_string(_PRINTABLE, text)


def pki_message(
    message_type,
    content,
    signer_cert_der,
    private_key,
    recipient_cert_der,
    tid,
    sender_nonce,
    hash_name="sha256",
    cipher="aes128-cbc",
    signing_time=None,
    as_parts=False,
):
    """A pkiMessage: SignedData (by the signer certificate's key) over the
    EnvelopedData (for the RA/CA encryption certificate) of content, with
    the SCEP attributes messageType, transactionID and senderNonce.
    as_parts: a list of DER parts instead of bytes (cmswrite.sign)."""
    if message_type not in (RENEWAL_REQ, PKCS_REQ, CERT_POLL, GET_CERT, GET_CRL):
        raise SCEPError("messageType %r is not a request" % (message_type,))
    if cipher == "des-cbc":
        raise SCEPError("single DES is never sent: use aes128-cbc or des-ede3-cbc")
    import gc

    from upki import cmswrite as cms

    gc.collect()
    envelope = cms.envelope(content, recipient_cert_der, cipher)
    content = recipient_cert_der = None
    gc.collect()
    return cms.sign(
        envelope,
        signer_cert_der,
        private_key,
        hash_name,
        attributes=(
            ("messageType", _printable(str(message_type))),
            ("transactionID", _printable(tid)),
            ("senderNonce", der.encode_octet_string(sender_nonce)),
        ),
        signing_time=signing_time,
        as_parts=as_parts,
    )


def self_signed(private_key, subject_der, not_before, not_after, hash_name="sha256", serial=None):
    """The throwaway self-signed certificate that signs a PKCSReq for a new
    key (RFC 8894 2.3): version 1, subject = issuer = the request's subject."""
    from upki import oid

    if serial is None:
        import os

        serial = int.from_bytes(os.urandom(8), "big") >> 1 or 1
    alg = der.encode_sequence(der.encode_oid(oid.rsa_signature_oid(hash_name)), der.encode_null())
    tbs = der.encode_sequence(
        der.encode_int(serial),
        alg,
        bytes(subject_der),
        der.encode_sequence(der.encode_time(int(not_before)), der.encode_time(int(not_after))),
        bytes(subject_der),
        private_key.public_key().to_spki_der(),
    )
    return der.encode_sequence(tbs, alg, der.encode_bit_string(private_key.sign(tbs, hash_name)))
