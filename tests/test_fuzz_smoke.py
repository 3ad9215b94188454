# SPDX-License-Identifier: MIT
"""Keep the fuzz targets working: each runs its seed corpus and a few thousand
deterministic mutations of it on CPython (fuzz/smoke.py, no atheris), and no
input may raise anything but the parser's documented errors or take more than
two seconds. `make fuzz` runs them coverage-guided for longer; one short
atheris run here checks that path and its table too."""

import json
import re
import subprocess
import sys

import pytest

from conftest import require
from mpy import ROOT

FUZZ = ROOT / "fuzz"
TARGETS = sorted(p.stem[len("fuzz_"):] for p in FUZZ.glob("fuzz_*.py"))
COUNT = 2000


def test_every_parser_has_a_target_and_a_seed_corpus():
    for name in ("der", "x509", "crl", "cms", "rsa", "keys", "nvram", "sntp", "http", "csr",
                 "cli", "ldap", "scep", "validate", "pending"):
        assert name in TARGETS
    for name in TARGETS:
        seeds = [p for p in (FUZZ / "corpus" / name).iterdir() if p.is_file()]
        assert len(seeds) >= 3, name


@pytest.mark.parametrize("target", TARGETS)
def test_target_survives_seeds_and_mutations(target):
    r = subprocess.run([sys.executable, str(FUZZ / "smoke.py"), target, str(COUNT), "1"],
                       capture_output=True, text=True, timeout=300, cwd=str(FUZZ))
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["finding"] is None, json.dumps(out["finding"], indent=1)
    assert out["execs"] == COUNT
    assert out["slowest"] < 2.0, "an input took %.1f s" % out["slowest"]


def test_smoke_reports_an_escaping_exception(tmp_path):
    # the harness itself must be able to fail: a target whose parser raises
    # an undocumented exception is reported with the input that did it
    (tmp_path / "fuzz_broken.py").write_text(
        "import common\n\ndef one(data):\n    if data[:1] == b'x':\n        data[99]\n")
    corpus = FUZZ / "corpus" / "broken"
    corpus.mkdir()
    try:
        (corpus / "seed").write_bytes(b"x")
        r = subprocess.run([sys.executable, str(FUZZ / "smoke.py"), "broken", "10"],
                           capture_output=True, text=True, timeout=60, cwd=str(FUZZ),
                           env={"PYTHONPATH": "%s:%s" % (FUZZ, tmp_path), "PATH": "/usr/bin:/bin"})
    finally:
        (corpus / "seed").unlink()
        corpus.rmdir()
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["finding"]["type"] == "IndexError" and out["finding"]["input"] == "78"


def test_make_fuzz_runner_reports_executions_and_edges(tmp_path):
    try:
        import atheris  # noqa: F401

        ok = True
    except ImportError:
        ok = False
    require("atheris", ok, "pip install -r requirements.txt")
    r = subprocess.run([sys.executable, str(FUZZ / "run.py"), "--seconds", "3", "sntp"],
                       capture_output=True, text=True, timeout=180, cwd=str(ROOT))
    assert r.returncode == 0, r.stdout + r.stderr
    row = re.search(r"^\| sntp \| \d+ \| (\d+) \| \d+ \| (\d+) \| (\d+) \| \d+ \| ok \|$",
                    r.stdout, re.M)
    assert row, r.stdout
    execs, edges, features = map(int, row.groups())
    assert execs > 100 and edges > 20 and features >= edges
