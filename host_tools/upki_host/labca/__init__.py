# SPDX-License-Identifier: MIT
"""upki-host labca: a lab CA with an RA, SCEP (RFC 8894) and CRLs over HTTP on 127.0.0.1.

Command line (docs/LABCA.md has the walk-through):

    upki-host labca init --dir DIR [--sub-ca] [--no-ra] [--key-size N] [--cn NAME] [--years N]
                         [--cdp-base http://127.0.0.1:PORT] [--force]
    upki-host labca serve --dir DIR --port N [--caps LIST] [--manual] [--challenge PW]
                          [--cdp-url URL] [--days N]
    upki-host labca list --dir DIR
    upki-host labca approve ID --dir DIR       upki-host labca deny ID --dir DIR
    upki-host labca revoke SERIAL [REASON] --dir DIR
    upki-host labca crl --dir DIR [--out FILE]

Python API (what the tests use):

    from host_tools.upki_host.labca import LabCA, LabCAServer

    ca = LabCA(tmp_dir).init(sub_ca=False, ra=True, key_size=2048, keys=None, cdp_base=None)
    server = LabCAServer(tmp_dir, port=0, caps=DEFAULT_CAPS, manual=False,
                         challenge="s3cret", cdp_url=None, days=365).start()
    server.url            # http://127.0.0.1:PORT/scep
    server.crl_url        # http://127.0.0.1:PORT/crl/ca.crl (written into issued certs)
    server.pending()      # [{"id", "transaction_id", "subject", "status", ...}]
    server.approve(id)    # issues the certificate; delivered on the next CertPoll
    server.deny(id)       # the next CertPoll gets FAILURE badRequest
    server.revoke(serial, "keyCompromise")   # serial: int or hex text; CRL regenerated
    server.caps = ("POSTPKIOperation", "SHA-1", "DES3")   # change GetCACaps on the fly
    server.manual = True  # switch auto-grant / manual approval on the fly
    server.log            # one line per request, as `labca serve` prints them
    server.stop()         # also: `with LabCAServer(...) as server:`

    ca.ca_cert, ca.root_cert, ca.sub_cert, ca.ra_sign_cert, ca.ra_enc_cert  # cryptography certs
    ca.ca_chain()         # what GetCACert returns; ca.requests(); ca.issued_cert(serial)
    ca.crl_der("ca")      # the current CRL (DER)

Forged replies, for the board's SCEP client tests:

    server.forge(kind, count=1, operation="PKIOperation")   # count=None: until cleared
    server.clear_forgeries()

operation is "PKIOperation", "GetCACert" or "GetCACaps" (None: any). Each forged
answer is logged with "[forged: KIND]". Kinds, each made from the real answer:
  bad-signature        the CertRep's signature has its last byte flipped
  wrong-signer         CertRep validly signed by a throwaway key/cert, not the RA or CA
  transaction-id       transactionID replaced by another one
  recipient-nonce      recipientNonce is 16 random bytes
  stale-nonce          recipientNonce is the senderNonce of the previous request seen
  no-recipient-nonce   recipientNonce attribute left out
  message-type         messageType 19 (PKCSReq) instead of 3 (CertRep)
  other-key            SUCCESS with a certificate (subject as requested, issued by the
                       CA) for a freshly generated key, not the requester's
  foreign-ca           SUCCESS with a certificate for the right key and subject, signed
                       by a throwaway CA of the same name
  garbage              random bytes of at least the real length, HTTP 200
  truncated            the first half of the real body, Content-Length honest
  short-read           Content-Length of the whole body, half sent, connection closed
  empty                HTTP 200 with an empty body
  oversize             HTTP 200 with a 4 MB body (tests a client's size cap)
  http-500             HTTP 500 Internal Server Error
  hang                 accepts the request and never answers (until stop())

The SCEP codec (scep.py) is built on asn1crypto and cryptography, independent of the
firmware's upki.cms; scep.degenerate(), scep.envelope(), scep.open_envelope() and
scep.cert_rep_fields() are handy in tests.
"""

from .ca import REASONS, LabCA, LabCAError, parse_serial, serial_text
from .cli import main
from .scep import DEFAULT_CAPS
from .server import FORGERIES, LabCAServer

__all__ = [
    "LabCA",
    "LabCAError",
    "LabCAServer",
    "DEFAULT_CAPS",
    "FORGERIES",
    "REASONS",
    "main",
    "parse_serial",
    "serial_text",
]
