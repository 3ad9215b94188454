# SPDX-License-Identifier: MIT
# upki.crl on the committed fixtures (tests/gen_crl_fixtures.py): ingest into
# NVRAM, lookups, and every way a CRL is refused (the stored index untouched).
import devtest  # first: it puts firmware/ on the path for a bare run
import os

from upki import crl, x509
from upki.errors import DERError, NVRAMError, PKIError
from upki.nvram import NVRAM


NOW = 1780272000  # 2026-06-01
REVOKED_SERIAL = 0x1D0C
REVOKED_AT = 1775099045  # 2026-04-02 03:04:05


def nv():
    d = devtest.scratch_dir() + "/crl-nv"
    try:
        os.mkdir(d)
    except OSError:
        pass
    n = NVRAM(d)
    for name in n.names():
        n.delete(name)
    return n


def cert(name):
    return x509.Certificate(devtest.read_data("val_%s.der" % name))


def ingest(n, fixture, issuer, now=NOW, name="crl/int2"):
    path = devtest.DATA + "/" + fixture
    f = open(path, "rb")
    try:
        length = f.seek(0, 2)
        f.seek(0)
        return crl.ingest(
            n, name, f, length, issuer, now=now, source="file:" + fixture, run_records=4, fan_in=2
        )
    finally:
        f.close()


def test_ingest_and_lookup():
    n = nv()
    info = ingest(n, "crl_int2.der", cert("int2"))
    assert info.count == 2 and info.version == 2, info.count
    assert info.crl_number_int == 7
    assert info.next_update == NOW + 30 * 86400
    idx = crl.Index(n, "crl/int2")
    assert idx.info.count == 2 and idx.info.source == "file:crl_int2.der"
    assert idx.info.issuer_der == cert("int2").subject.der()
    assert idx.info.authority_key_id == cert("int2").subject_key_identifier
    got = idx.lookup(REVOKED_SERIAL)
    assert got == (REVOKED_AT, 1), got
    assert crl.reason_name(got[1]) == "keyCompromise"
    assert idx.lookup(0x77) == (REVOKED_AT, None)
    leaf = cert("leaf")
    assert idx.lookup(bytes(leaf.der[leaf._serial[0] : leaf._serial[1]])) is None
    assert idx.lookup(0x1D0D) is None and idx.lookup(1) is None


def test_v1_and_empty():
    n = nv()
    info = ingest(n, "crl_int2_v1.der", cert("int2"))
    assert info.version == 1 and info.crl_number is None
    assert crl.Index(n, "crl/int2").lookup(REVOKED_SERIAL) == (REVOKED_AT, None)
    info = ingest(n, "crl_root.der", cert("root"), name="crl/root")
    assert info.count == 0
    assert crl.Index(n, "crl/root").lookup(5) is None


def _refused(n, fixture, issuer, code, now=NOW):
    e = devtest.raises(crl.CRLError, ingest, n, fixture, issuer, now)
    assert e.code == code, (e.code, str(e))
    return e


def test_refusals_leave_stored_index_untouched():
    n = nv()
    ingest(n, "crl_int2.der", cert("int2"))
    before = n.read("crl/int2", 1 << 20)
    e = _refused(n, "crl_int2_badsig.der", cert("int2"), "crl-bad-signature")
    assert "signature" in str(e)
    _refused(n, "crl_int2.der", cert("int1"), "crl-wrong-issuer")
    e = _refused(n, "crl_int2_expired.der", cert("int2"), "crl-expired")
    assert str(e) == "CRL has expired (nextUpdate has passed)"
    _refused(n, "crl_int2.der", cert("int2"), "crl-not-yet-valid", now=NOW - 60 * 86400)
    e = _refused(n, "crl_int2_critical.der", cert("int2"), "crl-unknown-critical")
    assert "1.3.6.1.4.1.99999.2" in str(e)
    assert n.read("crl/int2", 1 << 20) == before
    assert [x for x in os.listdir(n.root) if x.endswith(".tmp")] == []


def test_older_crl_number_refused_as_replay():
    n = nv()
    info = ingest(n, "crl_int2.der", cert("int2"))
    before = n.read("crl/int2", 1 << 20)
    older = devtest.raises(crl.CRLError, crl.ingest, n, "crl/int2",
                           open(devtest.DATA + "/crl_int2_older.der", "rb"),
                           len(devtest.read_data("crl_int2_older.der")), cert("int2"), NOW,
                           "", 4, 2, None, info.crl_number_int)
    assert older.code == "crl-replayed", older.code
    assert str(older) == "CRL number 3 is older than the stored CRL's 7 (a replayed CRL?)"
    e = devtest.raises(crl.CRLError, crl.ingest, n, "crl/int2",
                       open(devtest.DATA + "/crl_int2_v1.der", "rb"),
                       len(devtest.read_data("crl_int2_v1.der")), cert("int2"), NOW,
                       "", 4, 2, None, 7)
    assert "CRL number (none)" in str(e)
    assert n.read("crl/int2", 1 << 20) == before
    # the same number again (a refetch) and without a stored one: accepted
    f = open(devtest.DATA + "/crl_int2.der", "rb")
    crl.ingest(n, "crl/int2", f, len(devtest.read_data("crl_int2.der")), cert("int2"), NOW,
               min_number=7)
    f.close()
    assert ingest(n, "crl_int2_older.der", cert("int2")).crl_number_int == 3


def test_malformed_crl_is_a_clear_error():
    n = nv()
    good = devtest.read_data("crl_int2.der")
    d = devtest.scratch_dir()
    cases = [
        good[:100],
        good[:-3],
        good + b"\x00",
        b"\x30\x84\xff\xff\xff\xff",
        b"\x04\x00",
        b"\x30\x03\x02\x01\x01",
    ]
    for blob in cases:
        p = d + "/bad.crl"
        with open(p, "wb") as f:
            f.write(blob)
        f = open(p, "rb")
        try:
            e = devtest.raises(PKIError, crl.ingest, n, "crl/x", f, len(blob), cert("int2"), NOW)
        finally:
            f.close()
        assert isinstance(e, (DERError, crl.CRLError)), repr(e)
        assert str(e)
    assert not n.exists("crl/x")


def test_corrupt_index_is_reported_by_name():
    n = nv()
    ingest(n, "crl_int2.der", cert("int2"))
    p = n.path("crl/int2")
    with open(p, "r+b") as f:
        f.seek(10)
        f.write(b"\x00\x01\x02")
    e = devtest.raises(NVRAMError, crl.Index, n, "crl/int2")
    assert "crl/int2" in str(e)


def test_serial_keys():
    assert crl.serial_key(b"\x01") == b"\x01\x01" + b"\x00" * 13
    assert len(crl.serial_key(b"\x7f" * 20)) == 15
    assert crl.serial_key(b"\x7f" * 20)[0] == 0xFF
    assert crl.serial_key(b"\x7f" * 20) != crl.serial_key(b"\x7f" * 19)


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
