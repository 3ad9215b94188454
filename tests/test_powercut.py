# SPDX-License-Identifier: MIT
"""Power cut at every flash write of a record update: the old or new record survives, intact.

The simulated board's block device tears the Nth write (none, half or all of
its bytes reach the image) and kills the board process at once. After each cut
a fresh boot must find each record either in its old or in its new version,
verified by its checksum, and must clean up what the cut left behind.
"""

import shutil

from mpy import ROOT, board, run_micropython

SCRIPT = str(ROOT / "tests" / "board_scripts" / "nvram_update.py")
KILLED = (-9, 137)


def _mp(*args):
    return run_micropython([SCRIPT, *map(str, args)], timeout=60)


def test_power_cut_at_every_write_of_two_record_updates(tmp_path):
    base = tmp_path / "base.img"
    r = _mp(base, "init")
    assert r.returncode == 0, r.stderr
    # How many flash writes the full update takes, without a cut.
    full = tmp_path / "full.img"
    shutil.copy(base, full)
    r = _mp(full, "write")
    assert "COMPLETE" in r.stdout, r.stdout + r.stderr
    assert "startup-config=new rsa/router.key=new" in _mp(full, "check").stdout

    points = 0
    seen = set()
    n = 1
    while True:
        completed = False
        for tear in (0, 0.5, 1):
            img = tmp_path / "cut.img"
            shutil.copy(base, img)
            r = _mp(img, "write", n, tear)
            if "COMPLETE" in r.stdout:
                completed = True
                break
            assert r.returncode in KILLED, (n, tear, r.returncode, r.stdout, r.stderr)
            assert "%POWER-CUT" in r.stdout
            points += 1
            c = _mp(img, "check")
            assert c.returncode == 0, c.stderr
            state = c.stdout.split("STATE ", 1)[1].strip()
            assert "BAD" not in state and "OTHER" not in state, (n, tear, state)
            # the key is written after the config: never a new key with an old config
            assert "startup-config=old rsa/router.key=new" not in state
            seen.add(state.split(" recovered")[0])
            # and a second boot sees the same (recovery is itself power-safe and final)
            assert _mp(img, "check").stdout.split(" recovered")[0] == c.stdout.split(" recovered")[0]
        if completed:
            break
        n += 1
        assert n < 2000, "the update never completed"
    assert points >= 100, points
    # the campaign saw all three intermediate outcomes
    assert "startup-config=old rsa/router.key=old" in seen
    assert "startup-config=new rsa/router.key=old" in seen
    assert "startup-config=new rsa/router.key=new" in seen


def test_power_cut_during_write_memory_on_the_console(tmp_path):
    base = tmp_path / "base.img"
    r = board(base, "conf t\nhostname before\nip domain-name old.example\nend\nwrite memory\n")
    assert "[OK]" in r.stdout
    script = "conf t\nhostname after\nip domain-name new.example\nend\nwrite memory\n"
    outcomes = set()
    for n in range(1, 200):
        img = tmp_path / "c.img"
        shutil.copy(base, img)
        r = board(img, script, env={"UPKI_CUT_AFTER": str(n), "UPKI_CUT_TEAR": "0.5"})
        if "[OK]" in r.stdout:
            break
        assert r.returncode in KILLED, r.stdout + r.stderr
        r2 = board(img, "show startup-config\n")
        assert "BADCONFIG" not in r2.stdout and "Traceback" not in r2.stdout + r2.stderr
        if "before#show startup-config" in r2.stdout:
            assert "ip domain-name old.example" in r2.stdout
            outcomes.add("old")
        else:
            assert "after#show startup-config" in r2.stdout, r2.stdout
            assert "ip domain-name new.example" in r2.stdout
            outcomes.add("new")
    else:
        raise AssertionError("write memory never completed")
    assert "old" in outcomes
