# SPDX-License-Identifier: MIT
"""Keep the fuzz targets working: each runs its seed corpus and a few thousand
deterministic mutations of it on CPython (fuzz/smoke.py, no atheris), and no
input may raise anything but the parser's documented errors or take more than
two seconds; every upki module a target reaches, loaded late or not, comes
through the harness's instrumenting finder (fuzz/common.py). Then every target
runs coverage-guided under atheris for a short budget (ATHERIS_SECONDS, 2 s
each, two at a time, from the seed corpus alone): a finding fails the test, and
each target must reach at least its floor of edges in the firmware. `make
fuzz` runs them for longer."""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import require
from mpy import ROOT

FUZZ = ROOT / "fuzz"
TARGETS = sorted(p.stem[len("fuzz_"):] for p in FUZZ.glob("fuzz_*.py"))
COUNT = 2000
ATHERIS_SECONDS = int(os.environ.get("ATHERIS_SECONDS", "2"))

# upki modules each target must reach although they load late (on first use, or
# again after an unload): fuzz/common.py must instrument them too
LATE = {
    "pending": {"enrollpoll"},
    "rsa": {"rsacodec"},
    "scep": {"sceprep", "scepca", "cms", "cmsenv", "rsacodec"},
    "cms": {"cmsenv", "rsacodec"},
    "keys": {"rsa", "rsacodec"},
    "x509": {"rsa"},
    "validate": {"rsa"},
    "cli": {"config", "nvram", "trustpoint", "keys", "revocation", "cli_enroll", "cli_keys"},
}

# the fewest edges (libFuzzer's cov, over the upki modules) each target reaches in
# its short atheris run from the seed corpus. Measured on 2 cores (two targets at a
# time): the seed replay alone reaches cli 995, cms 534, crl 416, csr 178, der 148,
# http 181, keys 183, ldap 145, nvram 34, pending 47, rsa 180, scep 610, sntp 76,
# validate 430, x509 435; instrumenting only the modules a target imported itself
# (the harness before) gave cli 296, cms 323, keys 69, pending 8, rsa 76, scep 490,
# sntp 50, validate 385, x509 380, which these floors are above.
EDGE_FLOORS = {
    "cli": 600, "cms": 430, "crl": 350, "csr": 150, "der": 120, "http": 150, "keys": 120,
    "ldap": 120, "nvram": 30, "pending": 30, "rsa": 130, "scep": 550, "sntp": 60,
    "validate": 400, "x509": 400,
}


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
    # every upki module loaded came through the harness (instrumented under atheris),
    # the late ones included
    assert out["uninstrumented"] == [], out["uninstrumented"]
    reached = {m[len("upki."):] for m in out["modules"] if m.startswith("upki.")}
    assert LATE.get(target, set()) <= reached, (target, LATE[target] - reached)


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


def test_every_target_under_atheris_finds_nothing_and_reaches_its_floor(tmp_path):
    try:
        import atheris  # noqa: F401

        ok = True
    except ImportError:
        ok = False
    require("atheris", ok, "pip install -r requirements.txt")
    assert set(EDGE_FLOORS) == set(TARGETS), "a target without an edge floor"
    r = subprocess.run([sys.executable, str(FUZZ / "run.py"), "--seconds", str(ATHERIS_SECONDS),
                        "--jobs", "2", "--work", str(tmp_path)],
                       capture_output=True, text=True, timeout=900, cwd=str(ROOT))
    print(r.stdout)
    # run.py exits 1 on any finding (an escaping exception, a hang, memory)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    rows = dict((m[0], tuple(map(int, m[1:]))) for m in re.findall(
        r"^\| (\w+) \| \d+ \| (\d+) \| \d+ \| (\d+) \| (\d+) \| \d+ \| ok \|$",
        r.stdout, re.M))
    assert set(rows) == set(TARGETS), r.stdout
    low = {}
    for name, (execs, edges, features) in rows.items():
        assert execs > 50 and features >= edges, (name, execs, edges, features)
        if edges < EDGE_FLOORS[name]:
            low[name] = (edges, EDGE_FLOORS[name])
    assert not low, "targets under their edge floor (edges, floor): %s" % low
    assert re.search(r"^%d targets, \d+ executions, 0 findings$" % len(TARGETS), r.stdout,
                     re.M), r.stdout


def test_atheris_runner_fails_on_a_finding(tmp_path):
    """The atheris run must be able to fail: a target whose parser lets an
    undocumented exception escape is a finding, reported with its input, and the
    runner exits 1."""
    try:
        import atheris  # noqa: F401

        ok = True
    except ImportError:
        ok = False
    require("atheris", ok, "pip install -r requirements.txt")
    (tmp_path / "fuzz_broken.py").write_text(
        "import common\n\nwith common.instrumented():\n    from upki import der\n\n"
        "def one(data):\n    if data[:2] == b'xy':\n        data[99]\n\n"
        "if __name__ == '__main__':\n    common.main(one)\n")
    (tmp_path / "corpus" / "broken").mkdir(parents=True)
    (tmp_path / "corpus" / "broken" / "seed").write_bytes(b"xy")
    r = subprocess.run([sys.executable, str(FUZZ / "run.py"), "--seconds", "2", "--targets",
                        str(tmp_path), "--work", str(tmp_path / "work"), "broken"],
                       capture_output=True, text=True, timeout=120, cwd=str(ROOT),
                       env=dict(os.environ, PYTHONPATH=str(FUZZ)))
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r"^\| broken \| .* \| crash: IndexError", r.stdout, re.M), r.stdout
    assert "1 targets, " in r.stdout and ", 1 findings" in r.stdout, r.stdout
    found = list((tmp_path / "work" / "broken" / "artifacts").iterdir())
    assert found and found[0].read_bytes()[:2] == b"xy", found
