# SPDX-License-Identifier: MIT
"""Hardening figures (issue 9): the fuzz targets under atheris, and on demand the
power-cut and network-fault campaigns.

fuzz: every target of fuzz/ for BENCH_FUZZ_SECONDS (default 10) each, two at a
time, from its seed corpus alone (a fresh work directory): executions and edges
per target, the total, and the findings (0 expected: every crash found so far
is fixed and is a regression test, tests/test_fuzz_regressions.py; docs/FUZZING.md).
`make fuzz FUZZ_SECONDS=3600` goes deeper.

campaigns (BENCH_CAMPAIGNS=1; about 6 minutes): tests/test_campaign_powercut.py,
tests/test_autoenroll_powercut.py and tests/test_campaign_faults.py through
pytest -s, and the figures they print: cut points survived per operation,
fault cases survived."""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TITLE = "hardening"
ROOT = Path(__file__).resolve().parent.parent


def _fuzz(ctx):
    seconds = int(os.environ.get("BENCH_FUZZ_SECONDS", "10"))
    with tempfile.TemporaryDirectory(prefix="upki-bench-fuzz-") as work:
        r = subprocess.run([sys.executable, str(ROOT / "fuzz" / "run.py"), "--seconds",
                            str(seconds), "--jobs", "2", "--work", work],
                           capture_output=True, text=True, cwd=str(ROOT),
                           timeout=seconds * 20 + 600)
    if r.returncode == 2:
        raise RuntimeError("fuzz/run.py: " + r.stderr.strip())
    rows = re.findall(r"^\| (\w+) \| \d+ \| (\d+) \| (\d+) \| (\d+) \| \d+ \| \d+ \| (.+) \|$",
                      r.stdout, re.M)
    if not rows:
        raise RuntimeError("no fuzz table:\n" + r.stdout[-2000:] + r.stderr[-2000:])
    total = 0
    for name, execs, rate, edges, result in rows:
        total += int(execs)
        ctx.report("fuzz %s: executions (%d s)" % (name, seconds), int(execs), "",
                   "%s exec/s, %s" % (rate, result))
        ctx.report("fuzz %s: edges in upki" % name, int(edges))
    ctx.report("fuzz: executions, all targets", total)
    ctx.report("fuzz: findings", sum(1 for row in rows if row[4] != "ok"))


def _campaigns(ctx):
    tests = ["tests/test_campaign_powercut.py", "tests/test_autoenroll_powercut.py",
             "tests/test_campaign_faults.py"]
    r = subprocess.run([str(ROOT / ".venv" / "bin" / "pytest"), "-q", "-s", "-p",
                        "no:cacheprovider", *tests], capture_output=True, text=True,
                       cwd=str(ROOT), timeout=1800)
    out = r.stdout
    m = re.search(r"power-cut campaign: (\d+) cut points survived in ([\d.]+) s: (\{.*?\})", out)
    if m:
        for name, n in re.findall(r"'([\w-]+)': (\d+)", m.group(3)):
            ctx.report("power cut: %s, cut points survived" % name, int(n))
    m = re.search(r"auto-renewal with regenerate: (\d+) flash operations, (\d+) cut points "
                  r"survived", out)
    if m:
        ctx.report("power cut: auto-renewal, cut points survived", int(m.group(2)), "",
                   "of %s flash operations" % m.group(1))
    swap = re.search(r"swap writes (\d+) outcomes", out)
    if swap:
        ctx.report("power cut: regenerate swap, cut points survived", int(swap.group(1)))
    cases = len(re.findall(r"^(?:SCEP|HTTP-CDP|LDAP|NTP|cdp|ldap|auto-enroll) .*->", out, re.M))
    ctx.report("network faults: cases survived", cases)
    summary = re.findall(r"^(?:(\d+) failed, )?(\d+) passed", out, re.M)
    failed, passed = (int(summary[-1][0] or 0), int(summary[-1][1])) if summary else (0, 0)
    ctx.report("campaign tests passed", passed, "", "%d failed" % failed)
    if r.returncode != 0:
        raise RuntimeError("campaigns failed:\n" + out[-3000:])


def run(ctx):
    _fuzz(ctx)
    if os.environ.get("BENCH_CAMPAIGNS") == "1":
        _campaigns(ctx)
