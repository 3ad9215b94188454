# SPDX-License-Identifier: MIT
"""make fuzz: run every fuzz target (fuzz/fuzz_*.py) with atheris for its time
budget, then print one table: executions, edges and features reached in the
firmware (atheris instruments the upki modules only), the corpus grown, and
what was found.

    .venv/bin/python fuzz/run.py [--seconds N] [--jobs J] [--work DIR] [TARGET ...]
                                                    (FUZZ_SECONDS=N, FUZZ_JOBS=J)

Work files go to build/fuzz/<target>/ (the grown corpus, crash and timeout
artifacts), or DIR/<target>/ with --work (a fresh DIR: the run starts from the
seed corpus alone, as tests/test_fuzz_smoke.py does); --jobs runs J targets at
once. An input is a finding when the target lets an exception other
than the documented ones escape (a Python traceback), runs longer than
--timeout seconds (a hang), or takes more than --rss-mb of memory. Exits 1
when any target found something, 0 otherwise.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = ROOT / "build" / "fuzz"


def targets(where=HERE):
    return sorted(p.stem[len("fuzz_"):] for p in Path(where).glob("fuzz_*.py"))


def run_target(name, seconds, timeout, rss_mb, jobs_log, root=WORK, where=HERE):
    work = Path(root) / name
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts = work / "artifacts"
    if artifacts.exists():
        shutil.rmtree(artifacts)
    artifacts.mkdir()
    where = Path(where)
    cmd = [sys.executable, str(where / ("fuzz_%s.py" % name)),
           "-max_total_time=%d" % seconds, "-timeout=%d" % timeout,
           "-rss_limit_mb=%d" % rss_mb, "-print_final_stats=1", "-max_len=16384",
           "-artifact_prefix=%s/" % artifacts, str(corpus), str(where / "corpus" / name)]
    t0 = time.monotonic()
    log = work / "fuzz.log"
    with open(log, "wb") as out:
        # a hard stop well past the budget: libFuzzer's own timer is the normal end
        try:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT),
                                timeout=seconds + 120 + 2 * timeout).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    took = time.monotonic() - t0
    text = log.read_text(errors="replace")
    row = {"target": name, "seconds": took, "execs": 0, "edges": 0, "features": 0,
           "corpus": len(list(corpus.iterdir())), "result": "ok", "log": log}
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", text)
    if m:
        row["execs"] = int(m.group(1))
    stats = re.findall(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)", text)
    if stats:
        last = stats[-1]
        row["execs"] = max(row["execs"], int(last[0]))
        row["edges"] = int(last[1])
        row["features"] = int(last[2])
    found = sorted(p for p in artifacts.iterdir())
    if found or rc not in (0,):
        kind = "crash"
        if "ERROR: libFuzzer: timeout" in text:
            kind = "hang"
        elif "out-of-memory" in text:
            kind = "memory"
        exc = re.findall(r"^(\w+(?:Error|Exception|Finding)\b.*)$", text, re.M)
        row["result"] = "%s: %s" % (kind, (exc[-1] if exc else "exit %d" % rc)[:90])
        row["artifacts"] = found
    jobs_log.append(row)
    return row


def table(rows):
    head = ("target", "seconds", "execs", "exec/s", "edges", "features", "corpus", "result")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        rate = r["execs"] / r["seconds"] if r["seconds"] else 0
        lines.append("| %s | %.0f | %d | %.0f | %d | %d | %d | %s |" % (
            r["target"], r["seconds"], r["execs"], rate, r["edges"], r["features"],
            r["corpus"], r["result"]))
    total = sum(r["execs"] for r in rows)
    lines.append("")
    lines.append("%d targets, %d executions, %d findings" % (
        len(rows), total, sum(1 for r in rows if r["result"] != "ok")))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")))
    ap.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    ap.add_argument("--rss-mb", type=int, default=2048)
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("FUZZ_JOBS", "1")),
                    help="targets run at once")
    ap.add_argument("--work", default=str(WORK), help="work directory (default build/fuzz)")
    ap.add_argument("--targets", default=str(HERE),
                    help="where the fuzz_*.py scripts and their corpus/ are (default fuzz/)")
    ap.add_argument("names", nargs="*", help="targets (default: all)")
    args = ap.parse_args(argv)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("fuzz: atheris is not installed (make setup installs it)", file=sys.stderr)
        return 2
    names = args.names or targets(args.targets)
    unknown = [n for n in names if n not in targets(args.targets)]
    if unknown:
        print("fuzz: unknown target(s) %s; have %s"
              % (", ".join(unknown), ", ".join(targets(args.targets))), file=sys.stderr)
        return 2
    rows = []

    def one(n):
        r = run_target(n, args.seconds, args.timeout, args.rss_mb, rows, args.work,
                       args.targets)
        print("fuzz %-8s %7d execs %5d edges  %s" % (n, r["execs"], r["edges"], r["result"]),
              flush=True)
        for a in r.get("artifacts", []):
            print("       input: %s  (log: %s)" % (a, r["log"]), flush=True)

    if args.jobs > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(one, names))
        rows.sort(key=lambda r: r["target"])
    else:
        for n in names:
            one(n)
    print()
    print(table(rows))
    return 1 if any(r["result"] != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
