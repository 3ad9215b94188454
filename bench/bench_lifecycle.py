# SPDX-License-Identifier: MIT
"""The whole lifecycle on the simulated board's console, and the smallest heap it
runs in (issue 9 point 4: "the board stays within 96 KB of heap through the
whole lifecycle under these faults").

Three boots of the board on one flash image, each a fresh process with
-X heapsize as boards/unix/run passes UPKI_HEAP:

  1. boot on a fresh image (an RSA-2048 key pair already in NVRAM, put there
     from the host: tests/data/x509_key_2048b.der, so every run is the same
     and no run spends a minute in key generation on the port); configure the
     authenticated NTP server (the lab time server, SHA-1 key) and the
     trustpoint (the lab CA in RA mode, an http:// `crl query` to its CRL);
     `write memory`; `reload`
  2. boot: the NTP sync; `crypto ca authenticate lab`, `crypto ca enroll lab`,
     `crypto ca crl request lab` (HTTP), `show crypto ca certificates`,
     `write memory`, `reload`
  3. boot: the NTP sync, `show crypto ca certificates`: the identity is there

with the firmware as .mpy (the board's Path 1: the .mpy build on the path,
boards/unix/board.py and main.py as sources) and with the code in ROM (as
`boards/unix/run --rom IMAGE` boots it: the .mpy build in a ROMFS image,
mounted at /rom and run in place; the figure is the heap beside the image,
see bench/run.py), both without faults and with tests/faultproxy.py between
the board and every peer injecting, in boot 2: a delayed NTP reply
(delay:0.3, within the 1 s timeout), the PKIOperation of the enrollment
dropped (`% Enrollment failed`, then the operator enrolls again) and the CRL
body from the distribution point truncated (the board refuses it and falls
back to SCEP GetCRL, so the one `crypto ca crl request` still succeeds).

A run fits when every step's line is in the console output (SYNC, CA
accepted, CERTRET, CRL received, Status: Available, [OK], the reload, the
identity after it; under faults also the enrollment failure line, and each
fault was delivered by its proxy) and it holds no
"Not enough memory", "MemoryError", "Internal error" or "Traceback".  The
smallest heap is bisected per mode, each step a whole lifecycle on a fresh
copy of the image; the note says which step fails first one KB below it.
The ranges are 96..1024 KB (.mpy) and 64..1024 KB (ROM): the lifecycle needs
about 235 KB with the code in the heap on this 64-bit port.
The boundary is not sharp (heap fragmentation; under faults also timing), so
the heap found is then run REPEAT times, raised by STEP KB until all fit.
The console has no `show memory`: the live heap after each command
(gc.collect(), gc.mem_alloc()) comes from one more run, clean, at the top of
each range, with main.py patched to print it (instrumentation only).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TITLE = "lifecycle"
ROOT = Path(__file__).resolve().parent.parent
BOARD_DIR = ROOT / "boards" / "unix"
sys.path.insert(0, str(ROOT / "tests"))

KEY_FILE = "x509_key_2048b.der"  # not the lab CA's key when it has no sub-CA
KEY_BITS = 2048
MPY_RANGE = (96, 1024)
REPEAT = 3  # the smallest heap found, run again
STEP = 4  # KB: and raised by this until REPEAT runs in a row fit
ROM_RANGE = (64, 1024)
MARKERS_BAD = ("Not enough memory", "MemoryError", "Internal error", "Traceback")


def _mp():
    exe = Path(sys.executable).parent / "micropython"
    return str(exe) if exe.exists() else "micropython"


class Lab:
    """The lab CA (RA mode), its CRL over HTTP and the lab time server, each behind
    a FaultProxy."""

    def __init__(self, tmp):
        import labca_peer
        from faultproxy import FaultProxy
        from host_tools.upki_host.timeserver import TimeServer
        from test_campaign_faults import NTP_KEY

        self.tmp = tmp
        # the CRL proxy first: issued certificates name it as their CRL distribution point
        self.crl = FaultProxy(None, "tcp").start()
        self._ca = labca_peer.running(tmp / "lab", ra=True, challenge="s3cret",
                                      cdp_url=self.url(self.crl, "/crl/ca.crl"))
        self.ca = self._ca.__enter__()
        self.crl.upstream = ("127.0.0.1", self.ca.port)
        self.kid, self.secret = NTP_KEY
        self.ts = TimeServer(port=0, keys={self.kid: ("sha1", self.secret)})
        self.ts.start()
        self.scep = FaultProxy(("127.0.0.1", self.ca.port), "tcp").start()
        self.ntp = FaultProxy(("127.0.0.1", self.ts.port), "udp").start()

    def close(self):
        for p in (self.scep, self.crl, self.ntp):
            p.stop()
        self.ts.stop()
        self._ca.__exit__(None, None, None)

    @staticmethod
    def url(proxy, path):
        return "http://127.0.0.1:%d%s" % (proxy.port, path)


def _boots(lab, faults):
    """[(console lines, [(step, line that shows it done)], exit status)] per boot."""
    from test_enroll_labca import trustpoint_lines

    scep_url = lab.ca.url.replace(":%d/" % lab.ca.port, ":%d/" % lab.scep.port)
    tp = trustpoint_lines(scep_url, extra=[" crl query " + lab.url(lab.crl, "/crl/ca.crl")])
    ntp = ["ntp authentication-key %d sha1 %s" % (lab.kid, lab.secret.hex()),
           "ntp trusted-key %d" % lab.kid, "ntp authenticate",
           "ntp server 127.0.0.1 port %d key %d" % (lab.ntp.port, lab.kid)]
    first = tp[:-1] + ntp + ["end", "write memory", "reload", ""]
    steps1 = [("configure, write memory", "[OK]"), ("reload", "%SYS-5-RELOAD")]
    second = ["crypto ca authenticate lab", "yes", "crypto ca enroll lab"]
    steps2 = [("boot NTP sync", "%NTP-5-SYNC"),
              ("authenticate", "Trustpoint CA certificate accepted.")]
    if faults:
        second += ["crypto ca enroll lab"]
        steps2 += [("enroll fails (dropped reply)", "% Enrollment failed:")]
    second += ["crypto ca crl request lab"]
    steps2 += [("enroll", "%CRYPTO-6-CERTRET")]
    second += ["show crypto ca certificates", "write memory", "reload", ""]
    steps2 += [("CRL request", "% CRL received for trustpoint lab"),
               ("show certificates", "Certificate\n  Status: Available"),
               ("write memory", "[OK]"), ("reload", "%SYS-5-RELOAD")]
    third = ["show crypto ca certificates"]
    steps3 = [("reboot NTP sync", "%NTP-5-SYNC"),
              ("identity after reboot", "Certificate\n  Status: Available")]
    return [(first, steps1, 3), (second, steps2, 3), (third, steps3, 0)]


def _check(out, steps):
    """None when out shows every step done in order and no memory or internal error;
    else what went wrong first."""
    for bad in MARKERS_BAD:
        j = out.find(bad)
        if j >= 0:
            return out[j:].split("\n", 1)[0].strip()[:70]
    pos = 0
    for step, marker in steps:
        j = out.find(marker, pos)
        if j < 0:
            return step
        pos = j + len(marker)
    return None


class Runner:
    def __init__(self, ctx, lab, base):
        self.ctx, self.lab, self.base = ctx, lab, base
        self.scep_drop = None  # schedules for the faults, from a clean run
        self.crl_trunc = None
        self.n = 0
        self.main = BOARD_DIR / "main.py"

    def _cmd(self, image, kb, rom):
        if rom:
            env = {"MICROPYPATH": "%s:.frozen" % BOARD_DIR}
            heap = kb + self.ctx.rom_kb  # as boards/unix/run does with UPKI_HEAP
            args = ["--rom", str(self.ctx.rom_image)]
        else:
            env = {"MICROPYPATH": "%s:%s:.frozen" % (self.ctx.mpy_dir, BOARD_DIR)}
            heap = kb
            args = []
        return [_mp(), "-X", "heapsize=%dk" % heap, str(self.main), *args,
                str(image)], env

    def lifecycle(self, kb, rom=False, faults=False, outs=None):
        """(fits, first failed step or None, seconds, SCEP and CRL connections in boot 2);
        outs: a list to which each boot's console output is appended."""
        lab = self.lab
        self.n += 1
        img = lab.tmp / ("run%d.img" % self.n)
        shutil.copy(self.base, img)
        t0 = time.monotonic()
        conns = None
        try:
            for i, (lines, steps, status) in enumerate(_boots(lab, faults)):
                if i == 1:
                    before = [p.count() for p in (lab.ntp, lab.scep, lab.crl)]
                    if faults:
                        lab.ntp.schedule(["delay:0.3"])
                        lab.scep.schedule(self.scep_drop)
                        lab.crl.schedule(self.crl_trunc)
                cmd, env = self._cmd(img, kb, rom)
                try:
                    r = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True,
                                       text=True, timeout=180, env=dict(os.environ, **env))
                except subprocess.TimeoutExpired:
                    return False, "boot %d: timeout" % (i + 1), time.monotonic() - t0, conns
                if outs is not None:
                    outs.append(r.stdout)
                failed = _check(r.stdout + r.stderr, steps)
                if failed is None and r.returncode != status:
                    failed = "exit status %d" % r.returncode
                if i == 1:
                    conns = (lab.scep.count() - before[1], lab.crl.count() - before[2])
                    if faults and failed is None:  # each fault was delivered
                        for p, f, n in zip((lab.ntp, lab.scep, lab.crl),
                                           ("delay:0.3", "drop", "truncate"), before):
                            if f not in [e[0] for e in p.events[n:]]:
                                failed = "no %s fault delivered" % f
                if failed:
                    return False, "boot %d: %s" % (i + 1, failed), time.monotonic() - t0, conns
            return True, None, time.monotonic() - t0, conns
        finally:
            for p in (lab.ntp, lab.scep, lab.crl):
                p.set_fault(None)
            img.unlink()

    def calibrate(self, kb):
        """A clean lifecycle at a generous heap: where the faults go (the last SCEP
        connection of boot 2 is the PKIOperation, the last CRL one the CRL request)."""
        ok, step, took, (scep, crl) = self.lifecycle(kb)
        if not ok:
            raise RuntimeError("the clean lifecycle fails at %d KB: %s" % (kb, step))
        self.scep_drop = [None] * (scep - 1) + ["drop"]
        self.crl_trunc = [None] * (crl - 1) + ["truncate"]
        return took, scep, crl

    def smallest(self, lo, hi, rom, faults):
        """As ctx.smallest_heap: the smallest kb in (lo, hi] that fits (lo if lo
        fits), None if hi does not; with the first failed step just below it."""
        runs = []

        def fits(kb):
            ok, step, took, _ = self.lifecycle(kb, rom, faults)
            runs.append(took)
            print("    %s%s %3d KB: %s (%.1f s)" % ("ROM " if rom else ".mpy",
                  " faults" if faults else "", kb, "fits" if ok else step, took), flush=True)
            return ok, step

        ok, step = fits(hi)
        if not ok:
            return None, step, runs
        ok, step = fits(lo)
        if ok:
            return lo, None, runs
        below = step
        while hi - lo > 1:
            mid = (lo + hi) // 2
            ok, step = fits(mid)
            if ok:
                hi = mid
            else:
                lo, below = mid, step
        return hi, below, runs


# The console with a line after each command: the live heap then (gc.collect(),
# gc.mem_alloc()); instrumentation for one run, not part of the firmware.
HEAP_PATCH = """    from upki import cli
    import gc
    _exec = cli.Session.execute
    _seen = []

    def _heap(what):
        gc.collect()
        print("@@HEAP %d %s" % (gc.mem_alloc(), what))

    def execute(self, line):
        if not _seen:
            _seen.append(1)
            _heap("boot")
        out = _exec(self, line)
        _heap(line.strip())
        return out

    cli.Session.execute = execute
"""


def _phase_heaps(r, tmp, kb, rom, faults):
    """[(boot, step, live heap in bytes)] of one lifecycle at kb, after each command."""
    src = (BOARD_DIR / "main.py").read_text()
    assert "    from upki import cli\n" in src
    main = tmp / "main_heap.py"
    main.write_text(src.replace("    from upki import cli\n", HEAP_PATCH, 1))
    outs = []
    r.main = main
    try:
        ok, step, _, _ = r.lifecycle(kb, rom, faults, outs)
    finally:
        r.main = BOARD_DIR / "main.py"
    if not ok:
        raise RuntimeError("the instrumented lifecycle fails at %d KB: %s" % (kb, step))
    rows = []
    for i, out in enumerate(outs):
        for line in out.splitlines():
            if line.startswith("@@HEAP "):
                _, n, what = line.split(" ", 2)
                rows.append((i + 1, what, int(n)))
    return rows


# (boot, console line) after which the live heap is reported; "boot": before the first line
PHASES = [
    (1, "boot", "boot on a fresh image"),
    (1, "write memory", "configured (NTP, trustpoint), written"),
    (2, "boot", "boot 2, NTP synchronized"),
    (2, "crypto ca authenticate lab", "crypto ca authenticate"),
    (2, "crypto ca enroll lab", "crypto ca enroll"),
    (2, "crypto ca crl request lab", "crypto ca crl request"),
    (2, "show crypto ca certificates", "show crypto ca certificates"),
    (2, "write memory", "write memory"),
    (3, "boot", "boot 3 with the identity, NTP synchronized"),
    (3, "show crypto ca certificates", "show crypto ca certificates after reboot"),
]


def run(ctx):
    from test_enroll_labca import fresh_image

    ctx.rom_image  # build both before the clock starts  # noqa: B018
    with tempfile.TemporaryDirectory(prefix="upki-bench-lifecycle-") as d:
        tmp = Path(d)
        lab = Lab(tmp)
        try:
            base = fresh_image(tmp / "base.img", key_file=KEY_FILE)
            r = Runner(ctx, lab, base)
            took, scep, crl = r.calibrate(MPY_RANGE[1])
            ctx.report("lifecycle wall time, clean (.mpy, %d KB)" % MPY_RANGE[1], took, "s",
                       "3 boots; boot 2: %d SCEP + %d CRL connection(s)" % (scep, crl))
            for rom, (lo, hi) in ((False, MPY_RANGE), (True, ROM_RANGE)):
                what = "code in ROM" if rom else ".mpy"
                for faults in (False, True):
                    kb, below, runs = r.smallest(lo, hi, rom, faults)
                    note = ("heap beside the ROM image (%d KB); " % ctx.rom_kb) if rom else ""
                    note += "RSA-%d key in NVRAM; " % KEY_BITS
                    if kb is None:
                        note += "fails at %d KB: %s" % (hi, below)
                    elif kb == lo:
                        note += "fits at the bottom of the range"
                    else:
                        note += "at %d KB %s" % (kb - 1, below)
                    ctx.report("smallest heap, lifecycle%s (%s)"
                               % (" under faults" if faults else "", what),
                               kb if kb is not None else "> %d" % hi, "KB", note)
                    if kb is not None:
                        # fragmentation (and, under faults, timing) moves the boundary a
                        # little from run to run: from kb up, the first heap in which
                        # REPEAT lifecycles in a row fit
                        stable, tries = kb, []
                        while stable <= hi:
                            oks = [r.lifecycle(stable, rom, faults)[0] for _ in range(REPEAT)]
                            tries.append("%d KB %d/%d" % (stable, sum(oks), REPEAT))
                            if all(oks):
                                break
                            stable += STEP
                        ctx.report("  ... and %d lifecycles in a row (%s%s)" % (
                            REPEAT, what, ", faults" if faults else ""),
                            stable if stable <= hi else "> %d" % hi, "KB",
                            "%s; bisection: %d lifecycles, %.0f s" % (
                                ", ".join(tries), len(runs), sum(runs)))
            # the live heap after each phase, at the top of the range (one instrumented run)
            heaps = {}
            for rom, (lo, hi) in ((False, MPY_RANGE), (True, ROM_RANGE)):
                rows = _phase_heaps(r, tmp, hi, rom, False)
                for boot, step, n in rows:
                    if rom:
                        n -= ctx.rom_image.stat().st_size  # the image buffer is not heap
                    heaps.setdefault((boot, step), {})[rom] = n
            for boot, step, label in PHASES:
                h = heaps.get((boot, step), {})
                if False in h:
                    ctx.report("live heap after %s" % label, h[False] // 1024, "KB",
                               ".mpy; code in ROM: %s KB beside the image"
                               % (h[True] // 1024 if True in h else "?"))
        finally:
            lab.close()
