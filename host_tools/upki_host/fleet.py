# SPDX-License-Identifier: MIT
"""upki-host fleet: provision many boards at once.

    upki-host fleet --config-dir DIR --ports P1,P2,... [--jobs N]

DIR holds router.cfg files.  A file named after a port (ttyUSB3.cfg for
/dev/ttyUSB3) goes to that port; otherwise, with one file (a template using
{index}, {port}, {uid}) every port gets it, and with as many files as ports
they are paired in sorted order.  Boards are provisioned in parallel; a
progress bar runs on stderr, a summary table follows, and the exit status is
1 when any board failed.
"""

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from host_tools.upki_host import provision
from host_tools.upki_host.boards import HostError


def assign(config_dir, ports):
    """[(port, config path, index)] or HostError."""
    d = Path(config_dir)
    cfgs = sorted(d.glob("*.cfg"))
    if not cfgs:
        raise HostError("no *.cfg files in %s" % d)
    by_name = {p.stem: p for p in cfgs}
    named = {Path(x).name for x in ports}
    left_ports = [x for x in ports if Path(x).name not in by_name]
    left_cfgs = [p for p in cfgs if p.stem not in named]
    if len(cfgs) == 1:
        pairs = dict.fromkeys(left_ports, cfgs[0])
    elif len(left_cfgs) == len(left_ports):
        pairs = dict(zip(left_ports, left_cfgs))
    else:
        raise HostError("%d config files for %d ports in %s: name them after the ports "
                        "(%s.cfg) or give one template" % (len(cfgs), len(ports), d,
                                                            Path(left_ports[0]).name))
    return [(port, by_name.get(Path(port).name) or pairs[port], i)
            for i, port in enumerate(ports, 1)]


class Progress:
    def __init__(self, total, stream=None):
        stream = stream or sys.stderr
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream
        self.lock = threading.Lock()
        self.tty = getattr(stream, "isatty", lambda: False)()
        self.draw()

    def step(self, ok):
        with self.lock:
            self.done += 1
            self.failed += 0 if ok else 1
            self.draw()

    def draw(self):
        width = 30
        fill = width * self.done // max(self.total, 1)
        bar = "[%s%s] %d/%d boards%s" % ("#" * fill, "." * (width - fill), self.done, self.total,
                                          (", %d failed" % self.failed) if self.failed else "")
        if self.tty:
            self.stream.write("\r" + bar + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write("fleet: " + bar + "\n")
        self.stream.flush()


def run(config_dir, ports, jobs=None, board=None):
    plan = assign(config_dir, ports)
    progress = Progress(len(plan))
    logs = {}

    def one(item):
        port, cfg, index = item
        lines = []
        try:
            r = provision.provision(port, cfg, board, index=index, log=lines.append)
            r["ok"] = True
            r["error"] = ""
        except HostError as e:
            r = {"port": port, "ok": False, "error": str(e), "hostname": "", "board": "",
                 "uid": "", "seconds": 0.0}
        except Exception as e:  # one broken board must not stop the others
            r = {"port": port, "ok": False, "error": "%s: %s" % (type(e).__name__, e),
                 "hostname": "", "board": "", "uid": "", "seconds": 0.0}
        r["config"] = Path(cfg).name
        logs[port] = lines
        progress.step(r["ok"])
        return r

    with ThreadPoolExecutor(max_workers=jobs or min(16, len(plan))) as pool:
        results = list(pool.map(one, plan))
    return results


def table(results):
    rows = [("PORT", "CONFIG", "BOARD", "BOARD ID", "HOSTNAME", "TIME", "RESULT")]
    for r in results:
        rows.append((r["port"], r["config"], r["board"] or "-", r["uid"] or "-",
                     r["hostname"] or "-", "%.1fs" % r["seconds"],
                     "OK" if r["ok"] else "FAILED: " + r["error"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    out = []
    for row in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    return "\n".join(out)


def main(argv):
    ap = argparse.ArgumentParser(prog="upki-host fleet", description=__doc__.splitlines()[0])
    ap.add_argument("--config-dir", required=True)
    ap.add_argument("--ports", required=True, help="comma-separated serial ports")
    ap.add_argument("--jobs", type=int, default=None, help="boards at once (default: all, <=16)")
    ap.add_argument("--board", default=None, help="expected board (default: ask each)")
    args = ap.parse_args(argv[1:])
    ports = [p for p in args.ports.split(",") if p]
    if not ports:
        print("fleet: error: no ports given", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    try:
        results = run(args.config_dir, ports, args.jobs, args.board)
    except HostError as e:
        print("fleet: error: %s" % e, file=sys.stderr)
        return 1
    print(table(results))
    bad = [r for r in results if not r["ok"]]
    if bad:
        print("fleet: error: %d of %d boards failed (%s)" % (
            len(bad), len(results), ", ".join(r["port"] for r in bad)), file=sys.stderr)
        return 1
    print("fleet: OK: %d boards provisioned in %.1f s" % (len(results), time.monotonic() - t0))
    return 0
