# SPDX-License-Identifier: MIT
"""upki-host provision: give a board its identity over USB (mpremote).

    upki-host provision --port PORT --config router.cfg [--board NAME]

router.cfg is the startup-config you want the router to boot with, in IOS
words (hostname, ip domain-name, ntp authentication-key/trusted-key/server,
crypto ca trustpoint ...), plus host directives on lines starting `!@`
(IOS reads every `!` line as a comment):

    !@ wifi-ssid LABNET              board-config record: the Wi-Fi the board joins
    !@ wifi-password SECRET
    !@ wifi-country GB               (Pico W radio regulatory domain)
    !@ ca-certificate LABCA ca.pem   install the CA certificate(s) of trustpoint LABCA
                                     (PEM or DER; path relative to router.cfg) and add
                                     its SHA-256 `fingerprint` to the trustpoint

{index}, {port} and {uid} in the file are replaced by the board's position in
a fleet run, its port and its unique id (hex), so one template serves a lab.

Records are written the way upki.nvram writes them (payload + UPK1 trailer,
copied to NAME.tmp, hash checked on the board, then renamed into place), so a
board that loses power mid-way keeps its old records.  Nothing is ever read
back from the board but hashes: private keys are generated on the board
(`crypto key generate rsa`) and never leave it; a router.cfg or CA file that
carries a private key is refused.
"""

import argparse
import hashlib
import re
import sys
import tempfile
import time
from pathlib import Path

from host_tools.upki_host import boards
from host_tools.upki_host.boards import HostError
from host_tools.upki_host.nvimage import encode_record

STARTUP = "startup-config"
BOARD_CONFIG = "board-config"
MAX_STARTUP = 32 * 1024
_WIFI_KEYS = ("wifi-ssid", "wifi-password", "wifi-country", "wifi-hostname", "wifi-timeout")


class Provisioning:
    """What one board receives: NVRAM records (name -> payload) and a summary."""

    def __init__(self):
        self.records = {}
        self.hostname = "Router"
        self.trustpoints = []  # (name, sha256 fingerprint)


def ca_record(trustpoint):
    # upki.trustpoint keeps a trustpoint's CA certificates as one record of
    # concatenated DER, issuing CA first ("tp/NAME/ca").
    return "tp/%s/ca" % trustpoint


def _load_certs(path):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise HostError("cannot read CA certificate %s (%s)" % (path, e.strerror))
    if b"PRIVATE KEY" in data:
        raise HostError("%s holds a private key: only CA certificates are installed" % path)
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise HostError("%s is not a certificate (%s)" % (path, e))
    for c in certs:
        try:
            bc = c.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = bc.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise HostError("%s: %s is not a CA certificate (no basicConstraints CA:TRUE)"
                            % (path, c.subject.rfc4514_string()))
    return [c.public_bytes(Encoding.DER) for c in certs]


def parse_config(text, base_dir=".", index=1, port="", uid=""):
    """router.cfg text -> Provisioning; HostError naming the bad line."""
    if "PRIVATE KEY" in text:
        raise HostError("router.cfg holds a private key: keys are generated on the board "
                        "(crypto key generate rsa) and never copied to it")
    text = text.replace("{index}", str(index)).replace("{port}", Path(port).name or port)
    text = text.replace("{uid}", uid)
    p = Provisioning()
    wifi = {}
    cas = []
    lines = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if line.startswith("!@"):
            words = line[2:].split()
            if not words:
                continue
            key = words[0].lower()
            if key in _WIFI_KEYS:
                if len(words) < 2:
                    raise HostError("router.cfg line %d: %s needs a value" % (n, key))
                wifi[key] = line[2:].strip()[len(words[0]):].strip()
            elif key == "ca-certificate":
                if len(words) != 3:
                    raise HostError("router.cfg line %d: ca-certificate TRUSTPOINT FILE" % n)
                cas.append((n, words[1], Path(base_dir) / words[2]))
            else:
                raise HostError("router.cfg line %d: unknown directive !@ %s (have: %s, "
                                "ca-certificate)" % (n, words[0], ", ".join(_WIFI_KEYS)))
            continue
        if any(ord(c) < 32 or ord(c) > 126 for c in line.replace("\t", " ")):
            raise HostError("router.cfg line %d: not printable ASCII" % n)
        if line.strip() == "end":
            break
        m = re.match(r"hostname\s+(\S+)\s*$", line)
        if m:
            p.hostname = m.group(1)
            if not re.match(r"^[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", p.hostname):
                raise HostError("router.cfg line %d: hostname %r contains illegal characters"
                                % (n, p.hostname))
        lines.append(line)
    for n, tp, path in cas:
        ders = _load_certs(path)
        fp = hashlib.sha256(ders[0]).hexdigest().upper()
        head = "crypto ca trustpoint " + tp
        try:
            at = next(i for i, ln in enumerate(lines) if ln.strip() == head)
        except StopIteration:
            raise HostError("router.cfg line %d: ca-certificate for %s, but there is no `%s`"
                            % (n, tp, head))
        j = at + 1
        has_fp = False
        while j < len(lines) and lines[j].startswith(" "):
            if lines[j].split()[:1] == ["fingerprint"]:
                has_fp = True
            j += 1
        if not has_fp:
            lines.insert(j, " fingerprint " + fp)
        p.records[ca_record(tp)] = b"".join(ders)
        p.trustpoints.append((tp, fp))
    startup = "\n".join(lines).strip("\n") + "\nend\n"
    if len(startup) > MAX_STARTUP:
        raise HostError("startup-config is %d bytes, more than %d" % (len(startup), MAX_STARTUP))
    p.records[STARTUP] = startup.encode()
    if wifi:
        p.records[BOARD_CONFIG] = "".join("%s %s\n" % kv for kv in sorted(wifi.items())).encode()
    return p


_CHECK = """
import sys
from board import Board
from upki import cli
b = Board(sys.argv[1])
b.mount()
router, session, msgs = cli.boot(b)
for m in msgs:
    print(m)
print('UPKI-HOSTNAME', router.hostname)
"""


def check_on_unix_port(prov):
    """Replay the records on the MicroPython Unix port (upki's own parser, no
    boot hooks, no network) and raise HostError for every line it refuses."""
    import os
    import subprocess

    from host_tools.upki_host.nvimage import Image
    from host_tools.upki_host.unixbridge import _micropython

    with tempfile.TemporaryDirectory(prefix="upki-check-") as tmp:
        img = Image(size=256 * 1024)
        for name, payload in prov.records.items():
            img.write(name, payload)
        path = Path(tmp) / "check.img"
        img.save(path)
        script = Path(tmp) / "check.py"
        script.write_text(_CHECK)
        env = dict(os.environ)
        env["MICROPYPATH"] = "%s:%s:.frozen" % (boards.ROOT / "firmware",
                                                boards.ROOT / "boards" / "unix")
        try:
            r = subprocess.run([_micropython(), str(script), str(path)], capture_output=True,
                               text=True, timeout=60, env=env, cwd=tmp)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise HostError("cannot check the configuration on the Unix port (%s)" % e)
    bad = [ln for ln in r.stdout.splitlines() if ln.startswith(("%PARSER", "%NVRAM"))]
    if bad:
        more = " (and %d more)" % (len(bad) - 1) if len(bad) > 1 else ""
        raise HostError("upki refuses router.cfg: %s%s" % (bad[0], more))
    if r.returncode != 0 or "UPKI-HOSTNAME " + prov.hostname not in r.stdout:
        tail = (r.stderr.strip() or r.stdout.strip() or "exit %d" % r.returncode).splitlines()
        raise HostError("checking router.cfg on the Unix port failed: %s" % tail[-1])


def load_config(path, **kw):
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise HostError("cannot read %s (%s)" % (path, getattr(e, "strerror", None) or e))
    return parse_config(text, Path(path).parent, **kw)


_INSTALL = """
import os, hashlib, binascii
def _mk(p):
 d=''
 for part in p.split('/')[:-1]:
  d=(d+'/'+part) if d else part
  try:
   os.mkdir(d)
  except OSError:
   pass
def _h(p):
 h=hashlib.sha256()
 f=open(p,'rb')
 while True:
  b=f.read(512)
  if not b:
   break
  h.update(b)
 f.close()
 return binascii.hexlify(h.digest()).decode()
_ok=True
for _p,_x in RECORDS:
 if _h(_p+'.tmp')!=_x:
  _ok=False
  print('UPKI-BAD',_p)
if _ok:
 for _p,_x in RECORDS:
  os.rename(_p+'.tmp',_p)
  print('UPKI-REC',_p,_h(_p))
else:
 for _p,_x in RECORDS:
  os.remove(_p+'.tmp')
"""

_MKDIRS = """
import os
for _p in DIRS:
 try:
  os.mkdir(_p)
 except OSError:
  pass
"""


def install(port, board, prov, log=print):
    """Write prov's records onto the board on port; HostError unless every hash checks."""
    with tempfile.TemporaryDirectory(prefix="upki-provision-") as tmp:
        steps = []
        dirs = []
        expect = []
        for i, (name, payload) in enumerate(sorted(prov.records.items())):
            path = boards.nvram_path(board, name)
            parts = path.split("/")[:-1]
            for k in range(1, len(parts) + 1):
                d = "/".join(parts[:k])
                if d not in dirs:
                    dirs.append(d)
            local = Path(tmp) / ("rec%d" % i)
            data = encode_record(payload)
            local.write_bytes(data)
            expect.append((path, hashlib.sha256(data).hexdigest()))
            steps.append(("fs", "cp", str(local), ":" + path + ".tmp"))
        if dirs:
            steps.insert(0, ("exec", "DIRS=%r\n" % dirs + _MKDIRS))
        steps.append(("exec", "RECORDS=%r\n" % expect + _INSTALL))
        log("provision: writing %d records to %s: %s" % (
            len(expect), port, ", ".join(sorted(prov.records))))
        out = boards.mpremote(port, *steps, timeout=300)
    bad = re.findall(r"UPKI-BAD (\S+)", out)
    if bad:
        raise HostError("%s arrived damaged on %s; nothing was changed" % (", ".join(bad), port))
    got = dict(re.findall(r"UPKI-REC (\S+) ([0-9a-f]{64})", out))
    for path, digest in expect:
        if got.get(path) != digest:
            raise HostError("record %s was not confirmed by the board on %s" % (path, port))


def provision(port, config, board=None, index=1, log=print):
    """Provision the board on port from router.cfg; returns a summary dict."""
    t0 = time.monotonic()
    # fail on a bad file before touching the board
    check_on_unix_port(load_config(config, index=index, port=port))
    name, uid = boards.probe(port)
    if board and board != name:
        if not (board == "esp32" and name == "esp32s3"):
            raise HostError("the board on %s is %s, not %s" % (port, name, board))
    board = board or name
    log("provision: %s on %s, board ID %s" % (boards.board_info(board)["title"], port, uid or "?"))
    prov = load_config(config, index=index, port=port, uid=uid)
    install(port, board, prov, log)
    return {
        "port": port,
        "board": board,
        "uid": uid,
        "hostname": prov.hostname,
        "records": sorted(prov.records),
        "trustpoints": prov.trustpoints,
        "seconds": time.monotonic() - t0,
    }


def main(argv):
    ap = argparse.ArgumentParser(prog="upki-host provision", description=__doc__.splitlines()[0])
    ap.add_argument("--port", required=True, help="serial port (or pty) of the board")
    ap.add_argument("--config", required=True, help="router.cfg: startup-config + !@ directives")
    ap.add_argument("--board", default=None, choices=sorted(boards.BOARDS),
                    help="default: ask the board")
    args = ap.parse_args(argv[1:])
    try:
        r = provision(args.port, args.config, args.board)
    except HostError as e:
        print("provision: error: %s" % e, file=sys.stderr)
        return 1
    for tp, fp in r["trustpoints"]:
        print("provision: trustpoint %s CA fingerprint (SHA-256) %s" % (tp, fp))
    print("provision: OK: %s on %s (%s, %d records, %.1f s); reset the board to boot it"
          % (r["hostname"], args.port, r["board"], len(r["records"]), r["seconds"]))
    return 0
