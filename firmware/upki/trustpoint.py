# SPDX-License-Identifier: MIT
# Trustpoints: one per CA relationship (`crypto ca trustpoint NAME`).
#
# A Trustpoint holds its configuration (what `show running-config` prints)
# and reaches its certificates in NVRAM, one record per kind under tp/NAME/:
#   ca           the CA certificate(s): DER certificates back to back, the
#                issuing CA first and the root (the trust anchor) last
#   ra-sign      the RA signing certificate, when the CA uses an RA
#   ra-encrypt   the RA encryption certificate
#   cert         this board's certificate (general-purpose keys)
#   cert-sign, cert-encrypt   this board's certificates for usage keys
#   pending      a SCEP transaction waiting for the CA (survives a reboot)
#
#   upki.trustpoint.get(name).verify(chain, identity=None, usage=None)
# is the call an IKE/TLS stack makes; it is provided by the validation
# module, which installs it here (see `verifier`).

_registry = {}
_order = []
_router = [None]

# Set by upki.validate's feature module:
# fn(trustpoint, chain, identity, usage=None) -> result.
verifier = [None]

KINDS = ("ca", "ra-sign", "ra-encrypt", "cert", "cert-sign", "cert-encrypt", "pending")


def attach(router):
    """Start a fresh registry for a booted router (its NVRAM holds the certificates)."""
    _registry.clear()
    del _order[:]
    _router[0] = router


def router():
    return _router[0]


def get(name):
    return _registry.get(name)


def all():
    return [_registry[n] for n in _order]


def create(name):
    tp = _registry.get(name)
    if tp is None:
        tp = Trustpoint(name)
        _registry[name] = tp
        _order.append(name)
    return tp


def remove(name):
    """Forget a trustpoint and destroy the certificates received for it."""
    tp = _registry.pop(name, None)
    if tp is None:
        return False
    _order.remove(name)
    for kind in KINDS:
        tp.drop(kind)
    # and whatever else was kept for it: certificates staged by auto-enroll
    # (KIND.new), its swap journal, records of later versions
    nv = _router[0].nvram
    for rec in nv.names("tp/" + name):
        nv.delete(rec)
    return True


def valid_name(name):
    if not name or len(name) > 32:
        return False
    for ch in name:
        if not (ch.isalpha() or ch.isdigit() or ch in "-_."):
            return False
    return name[0] not in ".-"


class Trustpoint:
    def __init__(self, name):
        self.name = name
        self.enrollment_url = None
        self.enrollment_mode_ra = False
        self.retry_period = 60  # seconds between polls (IOS: 1 minute)
        self.retry_count = 0  # polls before giving up; 0 = no limit
        self.crl_query = None
        self.revocation = "crl"  # "crl" or "none"
        self.crl_mode = None  # None (fail closed), "best-effort", "optional"
        self.subject_name = None
        self.serial_number = None  # None: ask at enroll; True: include; False: `serial-number none`
        self.ip_address = None  # None: ask; "none"; or an address
        self.fqdn = None
        self.password = None
        self.usage = None  # "ike", "ssl-client", "ssl-server"
        self.rsakeypair = None  # (label, bits or None, encryption bits or None)
        self.auto_enroll = None  # None, or (percent or None, regenerate)
        self.fingerprint = None  # uppercase hex, no spaces

    # --- keys -------------------------------------------------------------

    def key_label(self):
        """The key pair this trustpoint enrolls: rsakeypair LABEL or hostname.domain."""
        if self.rsakeypair:
            return self.rsakeypair[0]
        return _router[0].fqdn() if _router[0] else None

    # --- NVRAM records ----------------------------------------------------

    def record(self, kind):
        return "tp/%s/%s" % (self.name, kind)

    def load(self, kind):
        """The record's bytes, or None when absent (NVRAMError when corrupt)."""
        nv = _router[0].nvram
        name = self.record(kind)
        if not nv.exists(name):
            return None
        return nv.read(name, 32768)

    def store(self, kind, data):
        _router[0].nvram.write(self.record(kind), data)

    def drop(self, kind):
        return _router[0].nvram.delete(self.record(kind))

    def has(self, kind):
        return _router[0].nvram.exists(self.record(kind))

    def ca_certificates(self):
        """The CA certificates as x509.Certificate objects (issuing CA first, root last)."""
        data = self.load("ca")
        if data is None:
            return []
        from upki import der, x509  # only when there is something to parse

        return [x509.Certificate(bytes(c)) for c in der.elements(data)]

    def store_ca_certificates(self, ders):
        parts = [bytes(d) for d in ders]
        self.store("ca", b"".join(parts))

    def certificate(self, kind="cert"):
        data = self.load(kind)
        if data is None:
            return None
        from upki import x509

        return x509.Certificate(data)

    # --- validation ---------------------------------------------------------

    def verify(self, chain, identity=None, usage=None):
        """usage: a keyUsage name the peer's certificate must carry when it has
        the extension ("digitalSignature" for an IKE signature, "keyEncipherment"
        for RSA key transport); see upki.x509.KEY_USAGE_NAMES."""
        if verifier[0] is None:
            from upki.errors import PKIError

            raise PKIError("certificate validation is not available in this build")
        return verifier[0](self, chain, identity, usage=usage)
