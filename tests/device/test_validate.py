# SPDX-License-Identifier: MIT
# upki.validate on the port with stand-in CRL providers: how each revocation
# mode treats a provider that has nothing, one that raises, and one that
# answers; key usage, odd chains.  (tests/test_validate.py cross-checks real
# CRLs and chains with openssl.)
import devtest  # first: it puts firmware/ on the path for a bare run
from upki import validate, x509
from upki.errors import PKIError


NOW = 1780272000


def cert(name):
    return x509.Certificate(devtest.read_data("val_%s.der" % name))


CHAIN = ["leaf", "int2", "int1"]


class Index:
    def __init__(self, revoked=()):
        self.revoked = revoked
        self.asked = []

    def lookup(self, serial):
        self.asked.append(bytes(serial))
        if bytes(serial) in self.revoked:
            return (NOW - 86400, 1)
        return None


def verify(provider, mode, chain=CHAIN, anchors=("root",), **kw):
    return validate.verify_chain([cert(n) for n in chain], [cert(n) for n in anchors], NOW,
                                 crl_provider=provider, revocation=mode, **kw)


def test_modes_when_no_crl():
    calls = []

    def nothing(issuer, c, fetch):
        calls.append(fetch)
        return None

    assert verify(nothing, "crl").reason == "crl-unavailable"
    assert calls == [True]
    r = verify(nothing, "best-effort")
    assert r.ok and len(r.notes) == 3, r.notes
    del calls[:]
    assert verify(nothing, "optional").ok and calls == [False, False, False]
    del calls[:]
    assert verify(nothing, "none").ok and calls == []
    assert verify(None, "crl").reason == "crl-unavailable"
    assert verify(None, "best-effort").ok


def test_provider_errors_are_reasons():
    def broken(issuer, c, fetch):
        raise PKIError("CRL signature check failed: nope")

    r = verify(broken, "crl")
    assert r.reason == "crl-unavailable" and "CRL signature check failed" in r.detail
    assert r.cert is not None and "r1.lab.test" in str(r.cert.subject)
    assert verify(broken, "best-effort").ok


def test_every_certificate_checked_against_its_issuer():
    seen = []
    idx = Index()

    def provider(issuer, c, fetch):
        seen.append((str(issuer.subject.get("CN")[0]), str(c.subject.get("CN")[0])))
        return idx

    assert verify(provider, "crl").ok
    assert seen == [("val-int2", "r1.lab.test"), ("val-int1", "val-int2"),
                    ("val-root", "val-int1")]
    int2 = cert("int2")
    idx.revoked = (bytes(int2.der[int2._serial[0] : int2._serial[1]]),)
    r = verify(provider, "crl")
    assert r.reason == "revoked" and r.revocation_reason == "keyCompromise"
    assert "val-int2" in r.detail and r.revoked_at == NOW - 86400


def test_key_usage_policy():
    assert verify(None, "none", usage="digitalSignature").ok
    r = verify(None, "none", usage="nonRepudiation")
    assert r.reason == "key-usage" and "nonRepudiation" in r.detail
    # a misspelt usage is the caller's error, not a refusal of every peer
    devtest.raises(ValueError, verify, None, "none", usage="digitalsignature")


def test_odd_chains():
    # duplicates and unrelated certificates in the presented chain
    assert verify(None, "none", chain=["leaf", "int2", "int2", "leaf2", "int1"]).ok
    # an intermediate as the trust anchor ends the path there
    r = verify(None, "none", chain=["leaf", "int2"], anchors=("int1",))
    assert r.ok and len(r.path) == 3
    # a self-signed root that is not an anchor
    r = verify(None, "none", chain=["leaf", "int2", "int1", "root"], anchors=("int2",))
    assert r.ok and len(r.path) == 2
    r = verify(None, "none", chain=["leaf2"], anchors=("int2",))
    assert r.reason == "unknown-issuer" and "val-root" in r.detail
    assert validate.verify_chain([b"\x30\x00"], [cert("root")], NOW).reason == "malformed"
    assert validate.verify_chain([cert("leaf")], [], NOW).reason == "unknown-issuer"
    devtest.raises(ValueError, validate.verify_chain, [cert("leaf")], [cert("root")], NOW,
                   revocation="sometimes")


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
