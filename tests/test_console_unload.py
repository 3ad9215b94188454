# SPDX-License-Identifier: MIT
"""The console drops the transient modules a command loaded once the command is
done (upki.cli._drop, features.TRANSIENT), keeps what must stay, and replays
startup-config a line at a time. All on the Unix port, in-process."""

import ast
import json

from mpy import ROOT, board, run_code

FIRMWARE = ROOT / "firmware" / "upki"


def _booted(image, rest):
    return (
        "import sys, json\nsys.path.insert(0, '%s')\nfrom board import Board\n"
        "b = Board('%s'); b.mount()\nfrom upki import cli\n"
        "router, session, msgs = cli.boot(b)\n"
        "def loaded():\n"
        "    return sorted(m for m in sys.modules if m.startswith('upki.'))\n"
        % (ROOT / "boards" / "unix", image)
    ) + rest


def _gen_features():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_features", ROOT / "scripts" / "gen_features.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _json(code):
    return json.loads(run_code(code).strip().splitlines()[-1])


def test_a_command_s_modules_leave_with_it_and_come_back_on_use(tmp_path):
    out = _json(_booted(tmp_path / "b.img", (
        "before = loaded()\n"
        "a = session.execute('show version')\n"
        "after = loaded()\n"
        "b2 = session.execute('sh ver')\n"  # the abbreviation loads it again
        "c = session.execute('show clock')\n"
        "print(json.dumps([before, after, a, b2, loaded(), c]))\n"
    )))
    before, after, first, again, end, clock = out
    assert "upki.cli_exec" not in before
    assert after == before, "the exec commands' module stayed loaded"
    assert end == before
    assert "upki " in first and first == again
    assert "UTC" in clock or "%" not in clock


def test_resident_modules_and_submodes_stay(tmp_path):
    out = _json(_booted(tmp_path / "b.img", (
        "session.execute('configure terminal')\n"
        "session.execute('crypto ca trustpoint lab')\n"
        "in_tp = loaded()\n"
        "session.execute('exit')\n"
        "session.execute('crypto ca certificate chain lab')\n"
        "in_chain = loaded()\n"
        "prompt = session.prompt()\n"
        "session.execute('exit')\n"
        "out_chain = loaded()\n"
        "session.execute('end')\n"
        "print(json.dumps([in_tp, in_chain, prompt, out_chain]))\n"
    )))
    in_tp, in_chain, prompt, out_chain = out
    assert "upki.cli_tp" in in_tp and "upki.trustpoint" in in_tp
    # the chain submode's module stays while the session is in it
    assert "upki.cli_chain" in in_chain and prompt == "Router(config-cert-chain)#"
    assert "upki.cli_chain" not in out_chain
    # the trustpoint commands went with the submode; the section and hooks stay
    assert "upki.cli_tp" not in out_chain
    assert "upki.cli_ca" in out_chain and "upki.trustpoint" in out_chain


def test_what_a_hook_refers_to_stays(tmp_path):
    # enroll.watch() puts enroll.poll_due in the background list: enroll and
    # what it imports at module level (scep, and der under it) stay until the
    # task is gone
    out = _json(_booted(tmp_path / "b.img", (
        "from upki import config\n"
        "before = loaded()\n"
        "from upki import enroll\n"
        "enroll.watch()\n"
        "enroll = None\n"
        "cli.release(before)\n"
        "watching = loaded()\n"
        "config.background.remove(sys.modules['upki.enroll'].poll_due)\n"
        "cli.release(before)\n"
        "unwatched = loaded()\n"
        "print(json.dumps([watching, unwatched]))\n"
    )))
    watching, unwatched = out
    for m in ("upki.enroll", "upki.scep", "upki.der"):
        assert m in watching, m
        assert m not in unwatched, m


def test_background_work_leaves_the_heap_as_a_command_does(tmp_path):
    out = _json(_booted(tmp_path / "b.img", (
        "from upki import config\n"
        "def task(router):\n"
        "    from upki import x509\n"
        "    x509.Certificate\n"
        "config.background.append(task)\n"
        "cli._background(router)\n"
        "after = loaded()\n"
        "config.background.remove(task)\n"
        "print(json.dumps(after))\n"
    )))
    assert "upki.x509" not in out and "upki.der" not in out


def test_nothing_is_dropped_when_the_port_cannot_tell_a_function_s_module(tmp_path):
    out = _json(_booted(tmp_path / "b.img", (
        "cli._owner = lambda fn: None\n"
        "session.execute('show version')\n"
        "print(json.dumps(loaded()))\n"
    )))
    assert "upki.cli_exec" in out


def test_the_background_poller_stops_when_nothing_is_pending(tmp_path):
    out = _json(_booted(tmp_path / "b.img", (
        "for line in ('configure terminal', 'crypto ca trustpoint lab', 'end'):\n"
        "    session.execute(line)\n"
        "from upki import config, enroll\n"
        "router.clock.set(1790000000, 'test')\n"
        "enroll.watch(); enroll.watch()\n"
        "n = config.background.count(enroll.poll_due)\n"
        "router.run_background()\n"
        "print(json.dumps([n, enroll.poll_due in config.background, router.pending_log]))\n"
    )))
    assert out == [1, False, []]


def test_transient_modules_keep_no_state():
    # a transient module is forgotten between commands: module-level state in
    # one would be lost without a word. Constants (UPPER_CASE) and scratch
    # buffers (bytearray) are fine.
    transient = _gen_features().transient

    allowed = {"upki.enroll": {"timings", "_due"}}  # bench timings; the poller's schedule
    found = {}
    for m in transient():
        tree = ast.parse((FIRMWARE / (m[5:] + ".py")).read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(
                    node.value, (ast.List, ast.Dict, ast.Set, ast.Call)):
                if isinstance(node.value, ast.Call) and not (
                        isinstance(node.value.func, ast.Name)
                        and node.value.func.id in ("set", "dict", "list")):
                    continue
                for t in node.targets:
                    if isinstance(t, ast.Name) and not t.id.isupper() \
                            and t.id not in allowed.get(m, ()):
                        found.setdefault(m, []).append(t.id)
    assert not found, "module-level state in transient modules: %r" % found


def test_startup_config_is_replayed_a_line_at_a_time(tmp_path):
    # a line that is not UTF-8 and an over-long line are reported and skipped;
    # the lines around them apply
    img = tmp_path / "b.img"
    r = board(img, "show version\n")
    assert r.returncode == 0, r.stderr
    code = (
        "import sys\nsys.path.insert(0, '%s')\nfrom board import Board\n"
        "b = Board('%s'); b.mount()\nfrom upki.config import Router\n"
        "r = Router(b)\n"
        "w = r.nvram.writer('startup-config')\n"
        "w.write(b'hostname one\\n')\n"
        "w.write(b'hostname \\xff\\xfe\\n')\n"
        "w.write(b'! ' + b'x' * 2000 + b'\\n')\n"
        "w.write(b'ip domain-name lab.test\\nend\\nhostname after-end\\n')\n"
        "w.close()\n"
        "from upki import cli\n"
        "router, session, msgs = cli.boot(b)\n"
        "print(router.hostname, router.domain)\n"
        "for m in msgs: print(m)\n"
    ) % (ROOT / "boards" / "unix", img)
    out = run_code(code).strip().splitlines()
    assert out[0] == "one lab.test"
    assert any("startup-config line 2: not UTF-8 text" in m for m in out), out
    assert any("startup-config line 3: longer than 1024 bytes" in m for m in out), out
    assert len([m for m in out if "BADCFG" in m]) == 2, out
    assert not any("after-end" in m for m in out)


def test_shows_stream_on_a_console_and_say_the_same(tmp_path):
    # on a console (session.emit set) show running-config and show
    # startup-config go out a piece at a time; the text is the same as the
    # string a script gets back
    out = _json(_booted(tmp_path / "b.img", (
        "for line in ('configure terminal', 'hostname r9', 'crypto ca trustpoint lab',\n"
        "             ' enrollment url http://192.0.2.1/x', 'end', 'write memory'):\n"
        "    session.execute(line)\n"
        "cmds = ('show running-config', 'show startup-config')\n"
        "plain = [session.execute(c) for c in cmds]\n"
        "got = []\n"
        "session.emit = got.append\n"
        "streamed = []\n"
        "for c in cmds:\n"
        "    del got[:]\n"
        "    r = session.execute(c)\n"
        "    streamed.append(''.join(got) + r)\n"
        "print(json.dumps([plain, streamed, len(got)]))\n"
    )))
    plain, streamed, pieces = out
    assert streamed == plain
    assert "Current configuration : " in plain[0] and "hostname r9" in plain[0]
    assert plain[1].startswith("Using ") and "hostname r9" in plain[1]
    assert pieces > 1  # startup-config went out a line at a time
    n = int(plain[0].split("Current configuration : ")[1].split(" ")[0])
    assert n == len(plain[0].split(" bytes\n", 1)[1])


def test_boot_sets_the_collector_threshold(tmp_path):
    # the collector runs every GC_THRESHOLD bytes, not only on a full heap:
    # finished work's holes are reused before the heap fragments
    out = _json(_booted(tmp_path / "b.img", (
        "import gc\n"
        "print(json.dumps([gc.threshold(), cli.GC_THRESHOLD]))\n"
    )))
    threshold, wanted = out
    assert 4096 <= wanted <= 65536
    assert threshold == wanted
