# SPDX-License-Identifier: MIT
"""The lab CA's keys, certificates, request queue, revocations and CRLs, on disk.

Everything lives in one directory so that `labca approve` in one shell and
`labca serve` in another see the same state: every mutation takes an flock on
DIR/.lock, re-reads state.json, changes it and writes it back atomically
(temporary file, fsync, rename). Certificates and keys are PEM files; issued
certificates are kept as DER under issued/SERIAL.der; CRLs as DER under crl/.

Layout of DIR:
    state.json            config, serial counter, request queue, issued, revoked
    root.key  root.crt    the root CA (PEM)
    sub.key   sub.crt     the issuing sub-CA (with --sub-ca)
    ra-sign.key/.crt      RA signing certificate (digitalSignature)
    ra-enc.key/.crt       RA encryption certificate (keyEncipherment)
    issued/SERIAL.der     every certificate the CA issued (SERIAL in upper-case hex)
    crl/ca.crl crl/root.crl   the current CRLs (DER)
"""

import contextlib
import datetime
import fcntl
import json
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}

DEFAULT_CDP_PATH = "/crl/ca.crl"
ROOT_CDP_PATH = "/crl/root.crl"


_KEY_CACHE = {}


class LabCAError(Exception):
    """A lab CA operation that cannot be done; the message names what was wrong."""


_NAME_WORDS = {
    NameOID.UNSTRUCTURED_NAME: "unstructuredName",
    x509.ObjectIdentifier("1.2.840.113549.1.9.8"): "unstructuredAddress",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.EMAIL_ADDRESS: "emailAddress",
}


def name_text(name):
    """A Name as RFC 4514 text, with words for the attributes IOS puts in subjects
    (unstructuredName = the FQDN, serialNumber, unstructuredAddress = the IP address)."""
    return name.rfc4514_string(_NAME_WORDS)


_clock_offset = [0.0]


def set_clock_offset(seconds):
    """Time travel for the lab CA (in this process): certificates and CRLs are dated
    host time + seconds, as the lab time server can serve it to the boards."""
    _clock_offset[0] = float(seconds)


def utcnow():
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=_clock_offset[0])
    return now.replace(microsecond=0)


def atomic_write(path, data):
    path = Path(path)
    tmp = path.with_name(".%s.tmp%d" % (path.name, os.getpid()))
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def parse_serial(text):
    """A serial number as `labca list` shows it: hexadecimal, with or without 0x."""
    t = str(text).strip().lower()
    if t.startswith("0x"):
        t = t[2:]
    t = t.replace(":", "")
    try:
        value = int(t, 16)
    except ValueError:
        raise LabCAError("serial %r is not a hexadecimal number" % text) from None
    if value <= 0:
        raise LabCAError("serial %r must be positive" % text)
    return value


def serial_text(serial):
    return "%X" % serial


def _load_key(src):
    if isinstance(src, rsa.RSAPrivateKey):
        return src
    data = Path(src).read_bytes()
    if data.lstrip().startswith(b"-----"):
        return serialization.load_pem_private_key(data, None)
    return serialization.load_der_private_key(data, None)


def _name(cn, org="upki lab"):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ski(key):
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


class LabCA:
    """One lab CA living in a directory. Cheap to construct: nothing is read until used."""

    def __init__(self, directory):
        self.dir = Path(directory)

    # ---- on-disk state ------------------------------------------------------------------------

    @property
    def state_path(self):
        return self.dir / "state.json"

    def exists(self):
        return self.state_path.exists()

    @contextlib.contextmanager
    def _locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _read_state(self):
        try:
            return json.loads(self.state_path.read_text())
        except FileNotFoundError:
            raise LabCAError(
                "no lab CA in %s (run: upki-host labca init --dir %s)" % (self.dir, self.dir)
            ) from None
        except ValueError as e:
            raise LabCAError("%s is corrupt: %s" % (self.state_path, e)) from None

    def _write_state(self, state):
        atomic_write(
            self.state_path, (json.dumps(state, indent=1, sort_keys=True) + "\n").encode()
        )

    def state(self):
        """A fresh copy of the state (the server calls this on every request)."""
        with self._locked():
            return self._read_state()

    @contextlib.contextmanager
    def _update(self):
        with self._locked():
            state = self._read_state()
            yield state
            self._write_state(state)

    # ---- init ---------------------------------------------------------------------------------

    def init(
        self,
        sub_ca=False,
        ra=True,
        key_size=2048,
        cn="upki Lab Root CA",
        years=10,
        keys=None,
        force=False,
        cdp_base=None,
    ):
        """Create the root CA (and an issuing sub-CA under it), plus RA signing and RA
        encryption certificates unless ra is False (then the CA answers SCEP itself).

        cdp_base: the URL `serve` will answer at (e.g. http://127.0.0.1:8080); when given,
        the sub-CA certificate names BASE/crl/root.crl and the RA certificates
        BASE/crl/ca.crl as their CRL distribution point (so a validator checking every
        certificate of the chain finds a CRL for each).

        keys: optional {"root"|"sub"|"ra-sign"|"ra-enc": RSA key or PEM/DER file path} to
        reuse existing keys (tests reuse tests/data keys instead of generating them).
        """
        keys = dict(keys or {})
        if self.exists() and not force:
            raise LabCAError("%s already holds a lab CA (use --force to replace it)" % self.dir)
        if key_size < 1024 or key_size > 8192:
            raise LabCAError("key size %d is out of range 1024..8192" % key_size)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "issued").mkdir(exist_ok=True)
        (self.dir / "crl").mkdir(exist_ok=True)
        now = utcnow() - datetime.timedelta(minutes=5)
        until = now + datetime.timedelta(days=365 * years)

        def key_for(role):
            if role in keys:
                return _load_key(keys[role])
            return rsa.generate_private_key(public_exponent=65537, key_size=key_size)

        root_key = key_for("root")
        root_name = _name(cn)
        root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(_ski(root_key), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        self._write_pair("root", root_key, root)
        issuer_key, issuer = root_key, root
        if sub_ca:
            sub_key = key_for("sub")
            sub_cn = cn.replace("Root CA", "Issuing CA") if "Root CA" in cn else cn + " Issuing CA"
            sub = (
                x509.CertificateBuilder()
                .subject_name(_name(sub_cn))
                .issuer_name(root.subject)
                .public_key(sub_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now)
                .not_valid_after(until - datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_ca_key_usage(), critical=True)
                .add_extension(_ski(sub_key), critical=False)
                .add_extension(_aki(root_key), critical=False)
            )
            if cdp_base:
                sub = sub.add_extension(_cdp(cdp_base.rstrip("/") + ROOT_CDP_PATH), False)
            sub = sub.sign(root_key, hashes.SHA256())
            self._write_pair("sub", sub_key, sub)
            issuer_key, issuer = sub_key, sub
        else:
            for name in ("sub.key", "sub.crt"):
                (self.dir / name).unlink(missing_ok=True)
        base = issuer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        ra_certs = {}
        for role, usage, label in (
            ("ra-sign", _key_usage(digital_signature=True), "RA Signature"),
            ("ra-enc", _key_usage(key_encipherment=True), "RA Encryption"),
        ):
            if not ra:
                (self.dir / (role + ".key")).unlink(missing_ok=True)
                (self.dir / (role + ".crt")).unlink(missing_ok=True)
                continue
            key = key_for(role)
            cert = (
                x509.CertificateBuilder()
                .subject_name(_name("%s %s" % (base, label)))
                .issuer_name(issuer.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now)
                .not_valid_after(until - datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(usage, critical=True)
                .add_extension(_ski(key), critical=False)
                .add_extension(_aki(issuer_key), critical=False)
            )
            if cdp_base:
                cert = cert.add_extension(
                    _cdp(cdp_base.rstrip("/") + DEFAULT_CDP_PATH), critical=False
                )
            cert = cert.sign(issuer_key, hashes.SHA256())
            self._write_pair(role, key, cert)
            ra_certs[role] = cert
        state = {
            "version": 1,
            "created": now.isoformat(),
            "sub_ca": bool(sub_ca),
            "ra": bool(ra),
            "next_serial": 2,
            "next_request": 1,
            "crl_number": 0,
            "requests": {},
            "issued": {},
            "revoked": {},
        }
        with self._locked():
            self._write_state(state)
        for f in (self.dir / "issued").glob("*.der"):
            f.unlink()
        self.write_crls()
        return self

    def _write_pair(self, role, key, cert):
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        atomic_write(self.dir / (role + ".key"), pem)
        os.chmod(self.dir / (role + ".key"), 0o600)
        atomic_write(self.dir / (role + ".crt"), cert.public_bytes(serialization.Encoding.PEM))

    # ---- certificates and keys ----------------------------------------------------------------

    def _cert(self, role):
        path = self.dir / (role + ".crt")
        if not path.exists():
            return None
        return x509.load_pem_x509_certificate(path.read_bytes())

    def _key(self, role):
        # Loading checks the RSA key (~60 ms): keep each file's key while it is unchanged.
        path = self.dir / (role + ".key")
        st = path.stat()
        tag = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        key = _KEY_CACHE.get(tag)
        if key is None:
            # our own keys, written by init: the (slow) consistency check adds nothing
            key = serialization.load_pem_private_key(
                path.read_bytes(), None, unsafe_skip_rsa_key_validation=True
            )
            _KEY_CACHE[tag] = key
        return key

    @property
    def root_cert(self):
        return self._cert("root")

    @property
    def sub_cert(self):
        return self._cert("sub")

    @property
    def issuing_role(self):
        return "sub" if (self.dir / "sub.crt").exists() else "root"

    @property
    def ca_cert(self):
        """The issuing CA: the sub-CA when there is one, else the root."""
        return self._cert(self.issuing_role)

    @property
    def ca_key(self):
        return self._key(self.issuing_role)

    @property
    def ra_sign_cert(self):
        return self._cert("ra-sign")

    @property
    def ra_enc_cert(self):
        return self._cert("ra-enc")

    def signer(self):
        """(certificate, key) that signs CertReps: the RA signing cert, or the CA without RA."""
        if (self.dir / "ra-sign.crt").exists():
            return self._cert("ra-sign"), self._key("ra-sign")
        return self.ca_cert, self.ca_key

    def decryption_keys(self):
        """[(certificate, key)] a request's EnvelopedData may be addressed to."""
        out = []
        for role in ("ra-enc", "ra-sign", self.issuing_role):
            if (self.dir / (role + ".crt")).exists():
                out.append((self._cert(role), self._key(role)))
        return out

    def ca_chain(self):
        """The certificates GetCACert returns: issuing CA first, then RA certs, then the root."""
        certs = [self.ca_cert]
        for role in ("ra-sign", "ra-enc"):
            c = self._cert(role)
            if c is not None:
                certs.append(c)
        if self.issuing_role == "sub":
            certs.append(self.root_cert)
        return certs

    def issued_cert(self, serial):
        path = self.dir / "issued" / (serial_text(serial) + ".der")
        if not path.exists():
            return None
        return x509.load_der_x509_certificate(path.read_bytes())

    # ---- issuing ------------------------------------------------------------------------------

    def issue(self, csr, days=365, cdp_url=None, state=None, public_key=None):
        """Sign a certificate for csr (cryptography CSR) with the issuing CA; records it.

        The subject, subjectAltName, keyUsage and extendedKeyUsage come from the request;
        public_key overrides the CSR's key (only the forged-reply test hook uses it).
        """
        ca_cert, ca_key = self.ca_cert, self.ca_key
        own_state = state is None
        cm = self._update() if own_state else contextlib.nullcontext(state)
        with cm as st:
            serial = st["next_serial"]
            st["next_serial"] = serial + 1
            now = utcnow() - datetime.timedelta(minutes=1)
            pub = public_key if public_key is not None else csr.public_key()
            builder = (
                x509.CertificateBuilder()
                .subject_name(csr.subject)
                .issuer_name(ca_cert.subject)
                .public_key(pub)
                .serial_number(serial)
                .not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
                .add_extension(_aki(ca_key), critical=False)
            )
            requested = {}
            try:
                for ext in csr.extensions:
                    requested[type(ext.value)] = ext
            except (ValueError, x509.DuplicateExtension) as e:
                raise LabCAError("the request's extensionRequest is malformed: %s" % e) from None
            if x509.SubjectAlternativeName in requested:
                builder = builder.add_extension(
                    requested[x509.SubjectAlternativeName].value, critical=False
                )
            if x509.KeyUsage in requested:
                builder = builder.add_extension(requested[x509.KeyUsage].value, critical=True)
            else:
                builder = builder.add_extension(
                    _key_usage(digital_signature=True, key_encipherment=True), critical=True
                )
            if x509.ExtendedKeyUsage in requested:
                builder = builder.add_extension(
                    requested[x509.ExtendedKeyUsage].value, critical=False
                )
            if cdp_url:
                builder = builder.add_extension(_cdp(cdp_url), critical=False)
            cert = builder.sign(ca_key, hashes.SHA256())
            der = cert.public_bytes(serialization.Encoding.DER)
            (self.dir / "issued").mkdir(exist_ok=True)
            atomic_write(self.dir / "issued" / (serial_text(serial) + ".der"), der)
            st["issued"][serial_text(serial)] = {
                "subject": name_text(cert.subject),
                "not_after": cert.not_valid_after_utc.isoformat(),
                "issued": utcnow().isoformat(),
            }
        return cert

    # ---- request queue ------------------------------------------------------------------------

    def add_request(
        self,
        transaction_id,
        csr_der,
        subject,
        kind,
        status="pending",
        serial=None,
        digest=None,
        cipher=None,
    ):
        """Queue (or record) one enrollment request; returns its numeric ID.

        digest and cipher: the request's message digest and content cipher, as seen, in
        GetCACaps words ("SHA-256", "AES-128", "DES3")."""
        with self._update() as st:
            rid = st["next_request"]
            st["next_request"] = rid + 1
            st["requests"][str(rid)] = {
                "id": rid,
                "transaction_id": transaction_id,
                "subject": subject,
                "kind": kind,
                "status": status,
                "serial": serial_text(serial) if serial else None,
                "delivered": status == "issued",
                "received": utcnow().isoformat(),
                "csr": csr_der.hex(),
                "digest": digest,
                "cipher": cipher,
            }
        return rid

    def find_request(self, transaction_id, state=None):
        """The most recent request with this transactionID, or None."""
        st = state or self.state()
        found = None
        for rec in st["requests"].values():
            if rec["transaction_id"] == transaction_id:
                if found is None or rec["id"] > found["id"]:
                    found = rec
        return found

    def pending(self):
        return [r for r in self._requests() if r["status"] == "pending"]

    def requests(self):
        return self._requests()

    def _requests(self):
        return sorted(self.state()["requests"].values(), key=lambda r: r["id"])

    def approve(self, request_id, days=365, cdp_url=None):
        """Grant a pending request: the certificate is issued now, delivered on the next poll."""
        with self._update() as st:
            rec = self._pending_record(st, request_id)
            if cdp_url is None:
                cdp_url = st.get("cdp_url")
            days = st.get("days", days)
            csr = x509.load_der_x509_csr(bytes.fromhex(rec["csr"]))
            cert = self.issue(csr, days=days, cdp_url=cdp_url, state=st)
            rec["status"] = "issued"
            rec["serial"] = serial_text(cert.serial_number)
            rec["delivered"] = False
            rec["decided"] = utcnow().isoformat()
        return cert

    def deny(self, request_id):
        with self._update() as st:
            rec = self._pending_record(st, request_id)
            rec["status"] = "denied"
            rec["decided"] = utcnow().isoformat()

    def _pending_record(self, st, request_id):
        rec = st["requests"].get(str(int(request_id)))
        if rec is None:
            raise LabCAError("no request with ID %s" % request_id)
        if rec["status"] != "pending":
            raise LabCAError("request %s is %s, not pending" % (request_id, rec["status"]))
        return rec

    def mark_delivered(self, request_id):
        with self._update() as st:
            st["requests"][str(request_id)]["delivered"] = True

    def set_serve_config(self, cdp_url, days):
        """The running server records its CDP URL and validity so `approve` uses them too."""
        with self._update() as st:
            st["cdp_url"] = cdp_url
            st["days"] = days

    # ---- revocation and CRLs ------------------------------------------------------------------

    def revoke(self, serial, reason="unspecified"):
        serial = parse_serial(serial) if isinstance(serial, str) else int(serial)
        if reason not in REASONS:
            raise LabCAError(
                "unknown revocation reason %r (one of: %s)" % (reason, ", ".join(REASONS))
            )
        with self._update() as st:
            key = serial_text(serial)
            if key not in st["issued"]:
                raise LabCAError("serial %s was not issued by this CA" % key)
            if key in st["revoked"]:
                raise LabCAError("serial %s is already revoked" % key)
            st["revoked"][key] = {"reason": reason, "date": utcnow().isoformat()}
        self.write_crls()

    def is_revoked(self, serial, state=None):
        st = state or self.state()
        return serial_text(serial) in st["revoked"]

    def write_crls(self, hours=24):
        """Regenerate crl/ca.crl (and crl/root.crl with a sub-CA); returns the issuing CA's CRL."""
        with self._update() as st:
            st["crl_number"] = st.get("crl_number", 0) + 1
            number = st["crl_number"]
            revoked = dict(st["revoked"])
        (self.dir / "crl").mkdir(exist_ok=True)
        crl = self._build_crl(self.issuing_role, revoked, number, hours)
        atomic_write(self.dir / "crl" / "ca.crl", crl.public_bytes(serialization.Encoding.DER))
        if self.issuing_role == "sub":
            root_crl = self._build_crl("root", {}, number, hours)
            atomic_write(
                self.dir / "crl" / "root.crl", root_crl.public_bytes(serialization.Encoding.DER)
            )
        return crl

    def _build_crl(self, role, revoked, number, hours):
        cert, key = self._cert(role), self._key(role)
        now = utcnow()
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(cert.subject)
            .last_update(now - datetime.timedelta(minutes=1))
            .next_update(now + datetime.timedelta(hours=hours))
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(_aki(key), critical=False)
        )
        for serial, rec in sorted(revoked.items()):
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(int(serial, 16))
                .revocation_date(datetime.datetime.fromisoformat(rec["date"]))
            )
            if rec["reason"] != "unspecified":
                entry = entry.add_extension(x509.CRLReason(REASONS[rec["reason"]]), critical=False)
            b = b.add_revoked_certificate(entry.build())
        return b.sign(key, hashes.SHA256())

    def crl_der(self, name="ca"):
        """The current CRL (DER), regenerated when missing or past its nextUpdate."""
        path = self.dir / "crl" / (name + ".crl")
        if name == "root" and self.issuing_role != "sub":
            path = self.dir / "crl" / "ca.crl"
        if path.exists():
            der = path.read_bytes()
            crl = x509.load_der_x509_crl(der)
            if crl.next_update_utc and crl.next_update_utc > utcnow():
                return der
        self.write_crls()
        return path.read_bytes()


def _ca_key_usage():
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _key_usage(digital_signature=False, key_encipherment=False):
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _cdp(url):
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _aki(issuer_key):
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())


__all__ = ["LabCA", "LabCAError", "REASONS", "parse_serial", "serial_text"]
