# SPDX-License-Identifier: MIT
# The board's RSA key pairs, kept in NVRAM as IOS keeps them in private NVRAM.
#
# One record per key pair, "rsa/LABEL": a header line, then the PKCS#8 DER:
#   upki-key usage=general exportable=0 generated=1764355227 trusted=1\n
# usage is general, signature or encryption; `generated` is the board time
# when the pair was made (trusted=0 when the clock was not authoritative then).
# The private key never leaves the board unless the pair was made exportable.
from upki.errors import PKIError, NVRAMError

_PREFIX = "rsa/"
# fn(router, label), called when a key pair is removed: trustpoints drop the
# certificates issued for it, as IOS does.
removal_hooks = []
USAGE_NAMES = {"general": "General Purpose Key", "signature": "Signature Key", "encryption": "Encryption Key"}


class KeyError_(PKIError):
    pass


def valid_label(label):
    if not label or len(label) > 48 or label[0] in ".-":
        return False
    for ch in label:
        if not (ch.isalpha() or ch.isdigit() or ch in ".-_"):
            return False
    return ".." not in label


class KeyPair:
    def __init__(self, label, key, usage="general", exportable=False, generated=None, trusted=False):
        self.label = label
        self.key = key  # rsa.PrivateKey
        self.usage = usage
        self.exportable = exportable
        self.generated = generated
        self.trusted = trusted

    def public_key(self):
        return self.key.public_key()


class KeyStore:
    def __init__(self, nvram):
        self.nvram = nvram

    def labels(self):
        return [n[len(_PREFIX) :] for n in self.nvram.names(_PREFIX.rstrip("/"))]

    def exists(self, label):
        return valid_label(label) and self.nvram.exists(_PREFIX + label)

    def save(self, pair):
        if not valid_label(pair.label):
            raise KeyError_("invalid key label %r: use letters, digits, '.', '-' and '_'" % pair.label)
        head = "upki-key usage=%s exportable=%d generated=%d trusted=%d\n" % (
            pair.usage,
            1 if pair.exportable else 0,
            int(pair.generated or 0),
            1 if pair.trusted else 0,
        )
        w = self.nvram.writer(_PREFIX + pair.label)
        try:
            w.write(head.encode())
            w.write(pair.key.to_pkcs8_der())
        except BaseException:
            w.abort()
            raise
        w.close()

    def load(self, label):
        from upki import rsa

        if not valid_label(label):
            raise KeyError_("invalid key label %r" % label)
        name = _PREFIX + label
        if not self.nvram.exists(name):
            raise KeyError_("no RSA key pair named %s" % label)
        data = self.nvram.read(name, 8192)
        nl = data.find(b"\n")
        if nl < 0 or not data.startswith(b"upki-key "):
            raise NVRAMError(name, "not a key record")
        fields = {}
        try:  # a header that is not text, or a time that is not a number
            for item in data[9:nl].decode().split():
                k, _, v = item.partition("=")
                fields[k] = v
            generated = int(fields.get("generated", "0") or 0)
        except ValueError:  # UnicodeError too, on both ports
            raise NVRAMError(name, "bad key record header")
        try:
            key = rsa.PrivateKey.from_der(memoryview(data)[nl + 1 :])
        except (PKIError, ValueError) as e:  # ValueError: numbers out of range
            raise NVRAMError(name, "key does not decode (%s)" % e)
        return KeyPair(
            label,
            key,
            fields.get("usage", "general"),
            fields.get("exportable") == "1",
            generated,
            fields.get("trusted") == "1",
        )

    def delete(self, label):
        return self.nvram.delete(_PREFIX + label)
