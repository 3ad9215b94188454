# SPDX-License-Identifier: MIT
# Certificate revocation lists (RFC 5280 section 5), read as a stream so that a
# CRL of any size fits a board: the DER is pulled from a file through one small
# window, the tbsCertList is hashed as it passes, each revoked entry becomes a
# fixed 20-byte record, records are sorted on flash (sorted runs, then k-way
# merges with one buffer per run), and the result is one NVRAM record laid out
# as a tiny B-tree of 512-byte pages:
#
#   [leaf pages: 25 records each][fence pages, level 1 .. root: 34 keys each][meta page]
#
# A lookup reads the meta page once (when the index is opened), then one page
# per level: 4 fence pages and a leaf for 100,000 entries.  Nothing is written
# under the index's name until the CRL's signature has checked against its
# issuer, so a forged or torn CRL never replaces a good one.
#
# record = key (15) | revocationDate (4, u32 seconds since 1970) | reason (1)
# key    = len(serial) | serial octets, zero padded   (serials of <= 14 octets)
#        = 0xFF | SHA-256(serial octets)[:14]          (longer serials)
import os
import struct

from micropython import const

from upki import der
from upki.errors import DERError, PKIError

_PAGE = const(512)
_REC = const(20)
_KEY = const(15)
_PER_LEAF = const(25)  # 25 * 20 = 500 bytes
_PER_FENCE = const(34)  # 34 * 15 = 510 bytes
_WINDOW = const(2048)  # the largest single field we hold (issuer, extensions, entry)
_NO_REASON = const(0xFF)
_MAGIC = b"UCRL1"

REASONS = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "unknown(7)",
    "removeFromCRL",
    "privilegeWithdrawn",
    "aACompromise",
)

# CRL extensions read here (OIDs as DER content octets: no oid table needed on
# the ingest path); any other critical one makes the CRL unusable.
_CRL_NUMBER = b"\x55\x1d\x14"  # 2.5.29.20
_DELTA_CRL = b"\x55\x1d\x1b"  # 2.5.29.27
_IDP = b"\x55\x1d\x1c"  # 2.5.29.28 issuingDistributionPoint
_AKI = b"\x55\x1d\x23"  # 2.5.29.35
_CRL_EXT_KNOWN = (_CRL_NUMBER, _DELTA_CRL, _IDP, _AKI, b"\x55\x1d\x12", b"\x55\x1d\x2e",
                  b"\x2b\x06\x01\x05\x05\x07\x01\x01")
# entry extensions: reasonCode, invalidityDate; certificateIssuer (indirect CRLs) is not handled
_REASON_CODE = b"\x55\x1d\x15"
_ENTRY_EXT_KNOWN = (_REASON_CODE, b"\x55\x1d\x18")
# sha*WithRSAEncryption (1.2.840.113549.1.1.x): last OID octet -> hash name
_RSA_SIG_PREFIX = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01"
_SIG_HASH = {4: "md5", 5: "sha1", 11: "sha256", 12: "sha384", 13: "sha512"}
# PKCS#1 v1.5 DigestInfo prefixes (RFC 8017 9.2 note 1)
_DIGEST_INFO = {
    "md5": b"\x30\x20\x30\x0c\x06\x08\x2a\x86\x48\x86\xf7\x0d\x02\x05\x05\x00\x04\x10",
    "sha1": b"\x30\x21\x30\x09\x06\x05\x2b\x0e\x03\x02\x1a\x05\x00\x04\x14",
    "sha256": b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20",
    "sha384": b"\x30\x41\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x02\x05\x00\x04\x30",
    "sha512": b"\x30\x51\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x03\x05\x00\x04\x40",
}


class CRLError(PKIError):
    """A CRL that cannot be used: malformed, badly signed, out of date..."""

    def __init__(self, msg, code="crl-invalid"):
        super().__init__(msg)
        self.code = code


def reason_name(code):
    if code is None or code == _NO_REASON:
        return None
    return REASONS[code] if code < len(REASONS) else "unknown(%d)" % code


def _int_octets(n):
    # an int's INTEGER content octets (minimal two's complement), without the
    # DER writer: a lookup must not load a module into the heap an ingest
    # has just fragmented
    length = 1
    while not -(1 << (8 * length - 1)) <= n < (1 << (8 * length - 1)):
        length += 1
    return (n % (1 << (8 * length))).to_bytes(length, "big")


def serial_key(serial):
    """The 15-byte index key of a serial number's INTEGER content octets."""
    n = len(serial)
    if n <= _KEY - 1:
        k = bytearray(_KEY)
        k[0] = n
        k[1 : 1 + n] = serial
        return bytes(k)
    import hashlib

    return b"\xff" + hashlib.sha256(bytes(serial)).digest()[: _KEY - 1]


# ---------------------------------------------------------------- stream window


class _Source:
    """Pull DER from a file through one window; bytes consumed inside the
    hashed span go through the hash."""

    def __init__(self, f, length):
        self.f = f
        self.length = length
        self.buf = bytearray(_WINDOW)
        self.mv = memoryview(self.buf)
        self.base = 0  # absolute offset of buf[0]
        self.fill = 0  # valid bytes in buf
        self.pos = 0  # absolute read position
        self.hasher = None
        self.hash_end = 0

    def need(self, n, what):
        """Make bytes [pos, pos+n) resident; return their offset in self.mv."""
        if self.pos + n > self.length:
            raise DERError("%s at offset %d runs past the end of the CRL (%d bytes)" % (
                what, self.pos, self.length))
        off = self.pos - self.base
        if off + n <= self.fill:
            return off
        if n > _WINDOW:
            raise CRLError("%s at offset %d is %d bytes, more than the %d this reader holds" % (
                what, self.pos, n, _WINDOW))
        keep = self.fill - off
        if keep > 0 and off > 0:
            self.buf[:keep] = self.mv[off : self.fill]
        elif keep < 0:
            keep = 0
        self.base = self.pos
        self.fill = keep
        while self.fill < n:
            want = min(_WINDOW - self.fill, self.length - (self.base + self.fill))
            got = self.f.readinto(self.mv[self.fill : self.fill + want])
            if not got:
                raise DERError("CRL ends at offset %d, inside %s" % (self.base + self.fill, what))
            self.fill += got
        return 0

    def consume(self, n):
        """Advance over n resident bytes, hashing those inside the hashed span."""
        if self.hasher is not None and self.pos < self.hash_end:
            off = self.pos - self.base
            h = min(n, self.hash_end - self.pos)
            self.hasher.update(self.mv[off : off + h])
        self.pos += n

    def header(self, what):
        """Read the TLV header at pos without consuming: (tag, header length, content length)."""
        avail = min(6, self.length - self.pos)
        if avail < 2:
            raise DERError("CRL ends at offset %d, expected %s" % (self.pos, what))
        off = self.need(avail, what)
        mv = self.mv
        tag = mv[off]
        first = mv[off + 1]
        if first < 0x80:
            return tag, 2, first
        nb = first & 0x7F
        if nb == 0 or nb > 4 or 2 + nb > avail:
            raise DERError("bad length of %s at offset %d" % (what, self.pos + 1))
        if mv[off + 2] == 0:
            raise DERError("non-minimal length of %s at offset %d" % (what, self.pos + 1))
        n = 0
        for i in range(nb):
            n = (n << 8) | mv[off + 2 + i]
        if n < 0x80:
            raise DERError("non-minimal length of %s at offset %d" % (what, self.pos + 1))
        return tag, 2 + nb, n

    def enter(self, tag, what):
        """Consume the header of a constructed element; return its absolute content end."""
        t, hl, n = self.header(what)
        if t != tag:
            raise DERError("expected %s at offset %d, found %s" % (
                what, self.pos, der.tag_name(t)))
        self.need(hl, what)
        self.consume(hl)
        end = self.pos + n
        if end > self.length:
            raise DERError("%s at offset %d runs past the end of the CRL" % (what, self.pos - hl))
        return end

    def element(self, what):
        """Make the whole TLV at pos resident: (tag, window offset of the TLV,
        content start, content end) in window offsets; the caller consumes it."""
        t, hl, n = self.header(what)
        off = self.need(hl + n, what)
        return t, off, off + hl, off + hl + n


# ---------------------------------------------------------------- parsing


class Info:
    """What a CRL says about itself (everything but its entries)."""

    def __init__(self):
        self.version = 1
        self.signature_algorithm = None
        self.issuer_der = b""
        self.this_update = 0
        self.next_update = None
        self.crl_number = None  # bytes (INTEGER content), or None
        self.authority_key_id = None
        self.is_delta = False
        self.idp = None  # None, or dict of the issuingDistributionPoint flags
        self.count = 0
        self.source = ""
        self.fetched = 0

    @property
    def crl_number_int(self):
        return None if self.crl_number is None else der.decode_int(self.crl_number, 0,
                                                                    len(self.crl_number))


def _time(src, what):
    t, off, s, e = src.element(what)
    if t not in (der.UTC_TIME, der.GENERALIZED_TIME):
        raise DERError("expected %s at offset %d, found %s" % (what, src.pos, der.tag_name(t)))
    v = der.decode_time(t, src.mv, s, e)
    src.consume(e - off)
    return v


def _parse_idp(mv, s, e):
    flags = {"onlyUser": False, "onlyCA": False, "onlySomeReasons": False, "indirect": False,
             "onlyAttribute": False}
    names = {0x81: "onlyUser", 0x82: "onlyCA", 0x83: "onlySomeReasons", 0x84: "indirect",
             0x85: "onlyAttribute"}
    for t, cs, ce in der.children(mv, s, e):
        k = names.get(t)
        if k == "onlySomeReasons":
            flags[k] = True
        elif k:
            flags[k] = bool(ce > cs and mv[cs])
    return flags


def _extensions(mv, s, e, known, on_ext):
    """Walk an Extensions SEQUENCE content; unknown critical ones raise."""
    for t, xs, xe in der.children(mv, s, e):
        if t != der.SEQUENCE:
            raise DERError("expected Extension at window offset %d" % xs)
        os_, oe = der.expect(mv, xs, xe, der.OID)
        ext = bytes(mv[os_:oe])
        t2, vs, ve = der.read_tlv(mv, oe, xe)
        critical = False
        if t2 == der.BOOLEAN:
            critical = der.decode_bool(mv, vs, ve)
            t2, vs, ve = der.read_tlv(mv, ve, xe)
        if t2 != der.OCTET_STRING or ve != xe:
            raise DERError("bad extnValue of %s" % der.decode_oid(mv, os_, oe))
        if ext not in known:
            if critical:
                raise CRLError("CRL carries the unknown critical extension %s"
                               % der.decode_oid(mv, os_, oe), "crl-unknown-critical")
            continue
        on_ext(ext, vs, ve)


def _parse(src, emit, done):
    """Walk the CertificateList on src; call emit(record) for every entry;
    return (Info, signature algorithm, signature bytes, TBS digest)."""
    info = Info()
    outer_end = src.enter(der.SEQUENCE, "CertificateList")
    if outer_end != src.length:
        raise DERError("%d bytes of trailing data after the CRL" % (src.length - outer_end))
    # tbsCertList: find the signature algorithm first, to start the right hash
    t, hl, n = src.header("tbsCertList")
    if t != der.SEQUENCE:
        raise DERError("expected tbsCertList at offset %d" % src.pos)
    tbs_end = src.pos + hl + n
    look = min(hl + n, 96 + hl)
    off = src.need(look, "tbsCertList")
    p = off + hl
    t2, vs, ve = der.read_tlv(src.mv, p, off + look)
    if t2 == der.INTEGER:
        v = der.decode_int(src.mv, vs, ve)
        if v != 1:
            raise DERError("unknown CRL version %d" % (v + 1))
        info.version = 2
        p = ve
    ts, te = der.expect(src.mv, p, off + look, der.SEQUENCE)
    os_, oe = der.expect(src.mv, ts, te, der.OID)
    info.signature_algorithm = der.decode_oid(src.mv, os_, oe)
    hash_name = None
    if oe - os_ == 9 and src.mv[os_ : oe - 1] == _RSA_SIG_PREFIX:
        hash_name = _SIG_HASH.get(src.mv[oe - 1])
    if hash_name is None:
        raise CRLError("CRL signed with unsupported algorithm %s" % info.signature_algorithm,
                       "crl-bad-signature")
    src.hasher = _hasher(hash_name)
    src.hash_end = tbs_end
    src.consume(hl)
    if info.version == 2:
        src.consume(ve - vs + 2)
    t, o, s, e = src.element("signature AlgorithmIdentifier")
    inner_alg = bytes(src.mv[o:e])
    src.consume(e - o)
    t, o, s, e = src.element("issuer Name")
    if t != der.SEQUENCE:
        raise DERError("expected issuer Name at offset %d" % src.pos)
    der.check(src.mv, o, e)
    info.issuer_der = bytes(src.mv[o:e])
    src.consume(e - o)
    info.this_update = _time(src, "thisUpdate")
    if src.pos < tbs_end:
        t, hl, n = src.header("nextUpdate")
        if t in (der.UTC_TIME, der.GENERALIZED_TIME):
            info.next_update = _time(src, "nextUpdate")
    if src.pos < tbs_end:
        t, hl, n = src.header("revokedCertificates")
        if t == der.SEQUENCE:
            rc_end = src.enter(der.SEQUENCE, "revokedCertificates")
            count = 0
            while src.pos < rc_end:
                _entry(src, info, emit)
                count += 1
            if src.pos != rc_end:
                raise DERError("revokedCertificates overrun at offset %d" % src.pos)
            info.count = count
    done()  # the entries are all out: free their buffers before the rest
    if src.pos < tbs_end:
        t, o, s, e = src.element("crlExtensions")
        if t != 0xA0:
            raise DERError("unexpected %s in tbsCertList at offset %d" % (der.tag_name(t),
                                                                           src.pos))
        if info.version != 2:
            raise DERError("extensions in a version 1 CRL")
        der.check(src.mv, o, e)
        xs, xe = der.expect(src.mv, s, e, der.SEQUENCE)
        mv = src.mv

        def on_ext(ext, vs, ve):
            if ext == _CRL_NUMBER:
                cs, ce = der.expect(mv, vs, ve, der.INTEGER)
                info.crl_number = bytes(mv[cs:ce])
            elif ext == _AKI:
                ss, se = der.expect(mv, vs, ve, der.SEQUENCE)
                for tt, cs, ce in der.children(mv, ss, se):
                    if tt == 0x80:
                        info.authority_key_id = bytes(mv[cs:ce])
            elif ext == _DELTA_CRL:
                info.is_delta = True
            elif ext == _IDP:
                ss, se = der.expect(mv, vs, ve, der.SEQUENCE)
                info.idp = _parse_idp(mv, ss, se)

        _extensions(mv, xs, xe, _CRL_EXT_KNOWN, on_ext)
        src.consume(e - o)
    if src.pos != tbs_end:
        raise DERError("tbsCertList overrun at offset %d" % src.pos)
    tbs_digest = src.hasher.digest()
    src.hasher = None
    t, o, s, e = src.element("signatureAlgorithm")
    if bytes(src.mv[o:e]) != inner_alg:
        raise CRLError("CRL signature algorithm differs from the one in tbsCertList",
                       "crl-bad-signature")
    src.consume(e - o)
    t, o, s, e = src.element("signatureValue")
    if t != der.BIT_STRING:
        raise DERError("expected signatureValue BIT STRING at offset %d" % src.pos)
    sig = der.decode_bit_string_bytes(src.mv, s, e)
    src.consume(e - o)
    if src.pos != src.length:
        raise DERError("trailing data in CertificateList at offset %d" % src.pos)
    return info, hash_name, bytes(sig), tbs_digest


_rec = bytearray(_REC)


def _entry(src, info, emit):
    t, o, s, e = src.element("revoked certificate entry")
    if t != der.SEQUENCE:
        raise DERError("expected a revoked certificate entry at offset %d" % src.pos)
    mv = src.mv
    ss, se = der.expect(mv, s, e, der.INTEGER)
    if se == ss:
        raise DERError("empty serial number in CRL entry at offset %d" % src.pos)
    tt, ts, te = der.read_tlv(mv, se, e)
    if tt not in (der.UTC_TIME, der.GENERALIZED_TIME):
        raise DERError("expected revocationDate at offset %d" % (src.pos + se - o))
    when = der.decode_time(tt, mv, ts, te)
    reason = _NO_REASON
    if te < e:
        xs, xe = der.expect(mv, te, e, der.SEQUENCE)
        if xe != e:
            raise DERError("trailing data in CRL entry at offset %d" % (src.pos + xe - o))
        if info.version != 2:
            raise DERError("entry extensions in a version 1 CRL")
        box = [reason]

        def on_ext(ext, vs, ve):
            if ext == _REASON_CODE:
                cs, ce = der.expect(mv, vs, ve, der.ENUMERATED)
                box[0] = der.decode_int(mv, cs, ce) & 0xFF

        _extensions(mv, xs, xe, _ENTRY_EXT_KNOWN, on_ext)
        reason = box[0]
    r = _rec
    r[:_KEY] = serial_key(mv[ss:se])
    if when < 0:
        when = 0
    elif when > 0xFFFFFFFF:
        when = 0xFFFFFFFF
    struct.pack_into(">IB", r, _KEY, when, reason)
    emit(r)
    src.consume(e - o)


# ---------------------------------------------------------------- sorting on flash


class _Runs:
    """Sorted runs of run_records records appended to one scratch file.  The
    record slots are allocated once: long-lived objects allocated amid the
    per-entry churn would fragment a small heap."""

    def __init__(self, path, run_records):
        self.path = path
        self.slots = [bytearray(_REC) for _ in range(run_records)]
        self.n = 0
        self.total = 0
        self.f = open(path, "wb")

    def add(self, rec):
        self.slots[self.n][:] = rec
        self.n += 1
        if self.n == len(self.slots):
            self._flush()

    def _flush(self):
        if not self.n:
            return
        part = self.slots if self.n == len(self.slots) else self.slots[: self.n]
        part.sort()
        for r in part:
            self.f.write(r)
        self.total += self.n
        self.n = 0

    def finish(self):
        """Close the file; return (records per run, total records)."""
        self._flush()
        self.f.close()
        self.f = None
        size = len(self.slots)
        self.slots = None
        return size, self.total


def _run_bounds(run_size, total, first, count):
    """(start, count) of runs first .. first+count-1 for runs of run_size records."""
    out = []
    for i in range(first, first + count):
        start = i * run_size
        if start >= total:
            break
        out.append((start, min(run_size, total - start)))
    return out


class _Merger:
    """k-way merge of runs of one scratch file, with buffers allocated once:
    each heap item is a 21-byte slot (record | run number), so a merge step
    allocates nothing that lives."""

    def __init__(self, fan_in, per_buffer):
        self.per_buffer = per_buffer
        self.bufs = [bytearray(per_buffer * _REC) for _ in range(fan_in)]
        self.slots = [bytearray(_REC + 1) for _ in range(fan_in)]
        self.pos = [0] * fan_in  # next byte in the buffer
        self.lim = [0] * fan_in  # valid bytes in the buffer
        self.next = [0] * fan_in  # next record of the run in the file
        self.left = [0] * fan_in  # records of the run not yet read

    def merge(self, f, bounds, out_write):
        import heapq

        heap = []
        for i in range(len(bounds)):
            self.next[i], self.left[i] = bounds[i]
            self.pos[i] = self.lim[i] = 0
            if self._load(f, i):
                heap.append(self.slots[i])
        heapq.heapify(heap)
        while heap:
            slot = heapq.heappop(heap)
            out_write(slot)
            i = slot[_REC]
            if self._load(f, i):
                heapq.heappush(heap, slot)

    def _load(self, f, i):
        if self.pos[i] >= self.lim[i]:
            n = min(self.per_buffer, self.left[i])
            if n == 0:
                return False
            f.seek(self.next[i] * _REC)
            got = f.readinto(memoryview(self.bufs[i])[: n * _REC])
            if got != n * _REC:
                raise CRLError("CRL scratch file short read")
            self.next[i] += n
            self.left[i] -= n
            self.pos[i] = 0
            self.lim[i] = n * _REC
        o = self.pos[i]
        slot = self.slots[i]
        slot[:_REC] = memoryview(self.bufs[i])[o : o + _REC]
        slot[_REC] = i
        self.pos[i] = o + _REC
        return True


class _PageWriter:
    """Records into 512-byte pages; first key of each page to a key file."""

    def __init__(self, write, per_page, size, keys_path):
        self.write = write
        self.per_page = per_page
        self.size = size
        self.page = bytearray(_PAGE)
        self.n = 0
        self.pages = 0
        self.keys = open(keys_path, "wb") if keys_path else None

    def add(self, rec):
        if self.n == 0 and self.keys is not None:
            self.keys.write(memoryview(rec)[:_KEY])
        o = self.n * self.size
        self.page[o : o + self.size] = memoryview(rec)[: self.size]
        self.n += 1
        if self.n == self.per_page:
            self.flush()

    def flush(self):
        if self.n:
            for i in range(self.n * self.size, _PAGE):
                self.page[i] = 0xFF
            self.write(self.page)
            self.pages += 1
            self.n = 0

    def close(self):
        self.flush()
        if self.keys is not None:
            self.keys.close()


# ---------------------------------------------------------------- ingest


def ingest(nvram, name, f, length, issuer, now=None, source="", run_records=32,
           fan_in=8, scratch=None, min_number=None):
    """Read a DER CRL of length bytes from file f, check it and store its
    index as NVRAM record name.  issuer: the CA certificate (upki.x509) or a
    tuple (subject Name DER, (n, e)).  now: trusted time for the
    thisUpdate/nextUpdate checks (None: not checked).  min_number: the
    cRLNumber of the CRL stored before; an older one (a replay) is refused.
    Returns the Info.
    Raises CRLError (with .code) or DERError; the stored record is then untouched."""
    import gc

    if isinstance(issuer, tuple):
        issuer_name, issuer_key = issuer
    else:
        issuer_name = issuer.subject.der()
        issuer_key = issuer
    base = scratch or nvram.root
    run_path = base + "/crlrun.tmp"
    gc.collect()
    runs = _Runs(run_path, run_records)
    try:
        sizes = []
        info, hash_name, sig, tbs_digest = _parse(
            _Source(f, length), runs.add, lambda: sizes.extend(runs.finish())
        )
        run_size, total = sizes
        info.source = source
        info.fetched = int(now or 0)
        if bytes(info.issuer_der) != bytes(issuer_name):
            raise CRLError("CRL issuer does not match the CA certificate's subject",
                           "crl-wrong-issuer")
        err = _check_sig(issuer_key, hash_name, tbs_digest, sig)
        if err:
            raise CRLError("CRL signature check failed: " + err, "crl-bad-signature")
        check_times(info, now)
        if min_number is not None:
            n = info.crl_number_int
            if n is None or n < min_number:
                raise CRLError("CRL number %s is older than the stored CRL's %d (a replayed "
                               "CRL?)" % ("(none)" if n is None else n, min_number),
                               "crl-replayed")
        if info.is_delta:
            raise CRLError("delta CRLs are not supported", "crl-unsupported")
        if info.idp and (info.idp["indirect"] or info.idp["onlySomeReasons"]
                         or info.idp["onlyAttribute"]):
            raise CRLError("partitioned CRL (issuingDistributionPoint) not supported",
                           "crl-unsupported")
        gc.collect()
        _build(nvram, name, run_path, run_size, total, info, fan_in, base)
    finally:
        if runs.f is not None:
            runs.f.close()
        for p in (run_path, base + "/crlrun2.tmp", base + "/crlkeys.tmp", base + "/crlkeys2.tmp"):
            try:
                os.remove(p)
            except OSError:
                pass
    return info


def check_times(info, now):
    if now is None:
        return
    if info.this_update > now:
        raise CRLError("CRL is not yet valid (thisUpdate is in the future)", "crl-not-yet-valid")
    if info.next_update is not None and info.next_update < now:
        raise CRLError("CRL has expired (nextUpdate has passed)", "crl-expired")


def _hasher(hash_name):
    import hashlib

    if hasattr(hashlib, hash_name):
        return getattr(hashlib, hash_name)()
    from upki import digest  # SHA-384/512 in Python where hashlib lacks them

    return digest.new(hash_name)


def _check_sig(issuer_key, hash_name, tbs_digest, sig):
    """RSASSA-PKCS1-v1_5 check of a digest (RFC 8017 8.2.2: rebuild the
    encoding and compare it whole).  Kept here rather than calling upki.rsa so
    that CRL ingest fits a 64 KB heap with the firmware loaded as .mpy."""
    try:
        if isinstance(issuer_key, tuple):
            n, e = issuer_key
        else:
            n, e = issuer_key.rsa_public_numbers()
    except (ValueError, PKIError) as ex:
        return "issuer key unusable: %s" % ex
    if n is None:
        return "issuer key is not RSA"
    if n < 3 or not n & 1 or e < 3 or not e & 1:
        return "issuer key unusable: bad RSA numbers"
    k = (len("%x" % n) + 1) // 2
    t = _DIGEST_INFO[hash_name] + tbs_digest
    if len(sig) != k or k < len(t) + 11:
        return "signature does not match the issuer's key"
    s = int.from_bytes(sig, "big")
    if s >= n:
        return "signature does not match the issuer's key"
    m = pow(s, e, n).to_bytes(k, "big")
    if m != b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t:
        return "signature does not match the issuer's key"
    return None


def _build(nvram, name, run_path, run_size, total, info, fan_in, base):
    per_buffer = 12
    merger = _Merger(fan_in, per_buffer)
    src = run_path
    other = base + "/crlrun2.tmp"
    # merge passes until at most fan_in runs are left
    while (total + run_size - 1) // run_size > fan_in:
        nruns = (total + run_size - 1) // run_size
        fin = open(src, "rb")
        fout = open(other, "wb")

        def put(slot):
            fout.write(memoryview(slot)[:_REC])

        try:
            for g in range(0, nruns, fan_in):
                merger.merge(fin, _run_bounds(run_size, total, g, fan_in), put)
        finally:
            fin.close()
            fout.close()
        run_size *= fan_in
        src, other = other, src
    w = nvram.writer(name)
    try:
        keys_path = base + "/crlkeys.tmp"
        leaves = _PageWriter(w.write, _PER_LEAF, _REC, keys_path)
        fin = open(src, "rb")
        try:
            merger.merge(fin, _run_bounds(run_size, total, 0, fan_in), leaves.add)
        finally:
            fin.close()
        leaves.close()
        merger = None
        levels = [leaves.pages]
        page_no = leaves.pages
        starts = [0]
        count_keys = leaves.pages
        other_keys = base + "/crlkeys2.tmp"
        key = bytearray(_KEY)
        for _ in range(8):
            if count_keys <= 1:
                break
            starts.append(page_no)
            pw = _PageWriter(w.write, _PER_FENCE, _KEY, other_keys)
            kf = open(keys_path, "rb")
            try:
                for _k in range(count_keys):
                    kf.readinto(key)
                    pw.add(key)
            finally:
                kf.close()
            pw.close()
            levels.append(pw.pages)
            page_no += pw.pages
            count_keys = pw.pages
            keys_path, other_keys = other_keys, keys_path
        # the meta page reuses the leaf writer's page buffer: at this point a
        # fresh 512-byte allocation may not fit between the merge's leftovers
        w.write(_meta(info, starts, levels, leaves.page))
    except BaseException:
        w.abort()
        raise
    w.close()


def _meta(info, starts, levels, page):
    """The meta page, written into page (a 512-byte bytearray)."""
    for i in range(_PAGE):
        page[i] = 0xFF
    nlev = len(levels)
    page[0:5] = _MAGIC
    struct.pack_into(">IqqB", page, 5, info.count, info.this_update,
                     -1 if info.next_update is None else info.next_update, nlev)
    p = 26
    for i in range(nlev):
        struct.pack_into(">II", page, p, starts[i], levels[i])
        p += 8
    flags = (1 if info.is_delta else 0) | (2 if info.idp else 0)
    struct.pack_into(">Bq", page, p, flags, info.fetched)
    p += 9
    for blob in (info.issuer_der, info.crl_number or b"", info.authority_key_id or b"",
                 info.source.encode()):
        if p + 2 + len(blob) > _PAGE:
            raise CRLError("CRL issuer name and source too long to index (%d bytes)" % (
                p + 2 + len(blob)))
        struct.pack_into(">H", page, p, len(blob))
        page[p + 2 : p + 2 + len(blob)] = blob
        p += 2 + len(blob)
    return page


# ---------------------------------------------------------------- lookups


class Index:
    """An ingested CRL in NVRAM.  Opened once (the record is verified whole),
    then each lookup reads one page per level."""

    def __init__(self, nvram, name, verify=True):
        self.name = name
        self.path = nvram.path(name)
        size = nvram.verify(name) if verify else nvram.size(name)
        if size < _PAGE or size % _PAGE:
            from upki.errors import NVRAMError

            raise NVRAMError(name, "not a CRL index (%d bytes)" % size)
        self.pages_total = size // _PAGE
        self.blocks_read = 0
        self._buf = bytearray(_PAGE)  # every page read lands here: lookups allocate little
        page = self._page(self.pages_total - 1)
        if page[:5] != _MAGIC:
            from upki.errors import NVRAMError

            raise NVRAMError(name, "not a CRL index (bad magic)")
        count, this_u, next_u, nlev = struct.unpack_from(">IqqB", page, 5)
        p = 5 + 21
        self.levels = []
        for _ in range(nlev):
            self.levels.append(struct.unpack_from(">II", page, p))
            p += 8
        flags, fetched = struct.unpack_from(">Bq", page, p)
        p += 9
        blobs = []
        for _ in range(4):
            n = struct.unpack_from(">H", page, p)[0]
            blobs.append(bytes(page[p + 2 : p + 2 + n]))
            p += 2 + n
        info = Info()
        info.count = count
        info.this_update = this_u
        info.next_update = None if next_u < 0 else next_u
        info.is_delta = bool(flags & 1)
        info.idp = {} if flags & 2 else None
        info.fetched = fetched
        info.issuer_der, cn, aki, src = blobs
        info.crl_number = cn or None
        info.authority_key_id = aki or None
        info.source = src.decode()
        self.info = info
        self.blocks_read = 0

    def _page(self, n):
        page = self._buf
        f = open(self.path, "rb")
        try:
            f.seek(n * _PAGE)
            got = f.readinto(page)
        finally:
            f.close()
        if got != _PAGE:
            from upki.errors import NVRAMError

            raise NVRAMError(self.name, "short read")
        self.blocks_read += 1
        return page

    def lookup(self, serial):
        """serial: the certificate's serialNumber INTEGER content octets (or
        an int).  Returns None, or (revocationDate, reason code or None)."""
        if isinstance(serial, int):
            serial = _int_octets(serial)
        if self.info.count == 0:
            return None
        key = serial_key(serial)
        # descend from the root: each fence page holds the first keys of its children
        child = 0
        for lev in range(len(self.levels) - 1, 0, -1):
            start, npages = self.levels[lev]
            below = self.levels[lev - 1][1]
            first = child * _PER_FENCE
            n = min(_PER_FENCE, below - first)
            page = self._page(start + child)
            i = _last_le(page, n, _KEY, key)
            if i < 0:
                return None
            child = first + i
        n = min(_PER_LEAF, self.info.count - child * _PER_LEAF)
        page = self._page(child)
        i = _last_le(page, n, _REC, key)
        if i < 0 or page[i * _REC : i * _REC + _KEY] != key:
            return None
        when, reason = struct.unpack_from(">IB", page, i * _REC + _KEY)
        return when, (None if reason == _NO_REASON else reason)


def _last_le(page, n, size, key):
    """Index of the last of n entries (key-prefixed, size bytes each) <= key; -1 if none."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if page[mid * size : mid * size + _KEY] <= key:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1
