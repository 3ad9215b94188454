# SPDX-License-Identifier: MIT
"""The lazy command table (firmware/upki/features.py) matches what the modules register,
and a board boots without loading feature modules it has no use for."""

import subprocess
import sys

from mpy import ROOT, board


def _booted(image, rest):
    """Code that boots a board on image in-process, then runs rest."""
    return (
        "import sys\nsys.path.insert(0, '%s')\nfrom board import Board\n"
        "b = Board('%s'); b.mount()\nfrom upki import cli\n"
        "router, session, msgs = cli.boot(b)\n" % (ROOT / "boards" / "unix", image)
    ) + rest


def test_features_table_is_in_sync():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_features.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_feature_modules_load_on_first_use_only(tmp_path):
    img = tmp_path / "b.img"
    probe = ("show version", "conf t", "crypto key pubkey-chain rsa", "end", "show version")
    r = board(img, "\n".join(probe) + "\n")
    assert "Router(config-pubkey-chain)#" in r.stdout  # the stub loaded the module and ran it
    # a fresh board whose config names no trustpoint never imports the trustpoint module
    code = _booted(tmp_path / "c.img", (
        "print(sorted(m for m in sys.modules if m.startswith('upki.')))\n"
        "session.execute('configure terminal')\nsession.execute('crypto ca trustpoint t')\n"
        "print('upki.cli_ca' in sys.modules, session.prompt())\n"
    ))
    from mpy import run_code

    out = run_code(code).strip().split("\n")
    loaded = out[-2]
    for heavy in ("cli_ca", "cli_enroll", "cms", "scep", "x509", "rsa", "ntp", "revocation"):
        assert "upki.%s'" % heavy not in loaded, loaded
    assert out[-1] == "True Router(ca-trustpoint)#"


def test_a_feature_that_runs_out_of_memory_loading_loads_on_the_next_try(tmp_path):
    # A board short of heap can fail mid-import of a feature module; its
    # commands must stay known (tried again next time), not turn into
    # "% Invalid input" for the rest of the boot. The failure is injected by
    # a module-global __import__ that cli._load finds before the builtin one.
    code = _booted(tmp_path / "c.img", (
        "real = __import__\nfailed = []\n"
        "def once(name, *a):\n"
        "    if name == 'upki.cli_tp' and not failed:\n"
        "        failed.append(name)\n"
        "        raise MemoryError('memory allocation failed')\n"
        "    return real(name, *a)\n"
        "cli.__import__ = once\n"
        "session.execute('configure terminal')\n"
        "print(repr(session.execute('crypto ca trustpoint t')))\n"
        "print('upki.cli_tp' in sys.modules, failed)\n"
        "print(repr(session.execute('crypto ca trustpoint t')), session.prompt())\n"
    ))
    from mpy import run_code

    out = run_code(code).strip().split("\n")
    assert out[-3] == "'% Not enough memory to complete: crypto ca trustpoint t\\n'", out
    assert out[-2] == "False ['upki.cli_tp']", out
    assert out[-1] == "'' Router(ca-trustpoint)#", out
