# SPDX-License-Identifier: MIT
"""The simulated board as a user drives it: boot, console, config, reload, bad input."""

import re

from mpy import board


def run(image, *lines, **kw):
    r = board(image, "\n".join(lines) + "\n", **kw)
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r


def test_boot_formats_missing_image_and_clock_starts_in_2000(tmp_path):
    img = tmp_path / "b.img"
    r = run(img, "show clock")
    assert r.returncode == 0
    assert "created and formatted" in r.stdout
    assert img.stat().st_size == 2 * 1024 * 1024
    assert "Press RETURN to get started!" in r.stdout
    assert "not authoritative" in r.stdout
    assert re.search(r"Router#show clock\n\*00:00:0\d\.\d{3} UTC Sat Jan 1 2000\n", r.stdout)


def test_configurable_size_and_stable_board_id(tmp_path):
    img = tmp_path / "s.img"
    r1 = run(img, "show version", args=("--size", str(512 * 1024)))
    assert img.stat().st_size == 512 * 1024
    assert "512K bytes of flash" in r1.stdout
    r2 = run(img, "show version")
    id1 = re.search(r"Board ID (\w+)", r1.stdout).group(1)
    assert re.search(r"Board ID (\w+)", r2.stdout).group(1) == id1
    other = run(tmp_path / "o.img", "show version")
    assert re.search(r"Board ID (\w+)", other.stdout).group(1) != id1


def test_write_memory_survives_reboot(tmp_path):
    img = tmp_path / "b.img"
    r = run(img, "configure terminal", "hostname lab7", "ip domain-name example.com", "end",
            "write memory", "show running-config")
    assert "[OK]" in r.stdout
    running = r.stdout.split("Current configuration : ")[1].split("lab7#")[0]
    running = running.split("\n", 1)[1]
    r2 = run(img, "show startup-config", "show running-config")
    assert "lab7#show startup-config" in r2.stdout  # the saved hostname is live after boot
    assert re.search(r"Using \d+ out of \d+ bytes\n" + re.escape(running), r2.stdout)
    running2 = r2.stdout.split("Current configuration : ")[1].split("\n", 1)[1].split("lab7#")[0]
    assert running2 == running


def test_reload_in_one_script_reboots_and_reads_on(tmp_path):
    img = tmp_path / "b.img"
    r = run(img, "conf t", "hostname r9", "end", "write memory", "reload", "", "show startup-config",
            "show version")
    assert r.stdout.count("Press RETURN to get started!") == 2
    assert "%SYS-5-RELOAD" in r.stdout
    assert "r9#show startup-config" in r.stdout and "hostname r9" in r.stdout
    assert "r9 uptime is 0 minutes" in r.stdout


def test_reload_asks_to_save_modified_config(tmp_path):
    img = tmp_path / "b.img"
    r = run(img, "conf t", "hostname unsaved", "end", "reload", "yes", "", "show startup-config")
    assert "System configuration has been modified. Save? [yes/no]: " in r.stdout
    assert "[OK]" in r.stdout
    assert "unsaved#show startup-config" in r.stdout
    r = run(img, "conf t", "hostname dropped", "end", "reload", "no", "")
    r = run(img, "show running-config")
    assert "hostname unsaved" in r.stdout and "dropped" not in r.stdout


def test_ios_abbreviations(tmp_path):
    r = run(tmp_path / "b.img", "conf t", "hostn short", "ip domain-n ex.org", "end", "wr mem",
            "sh run", "sh flash", "sh start")
    assert "short#sh run" in r.stdout
    assert "ip domain-name ex.org" in r.stdout
    assert "   1  " in r.stdout and "startup-config" in r.stdout


def test_invalid_input_marker_under_the_bad_word(tmp_path):
    r = run(tmp_path / "b.img", "show flsh", "bogus", "sh", "c", "conf t", "hostname 9bad",
            "hostname a b")
    lines = r.stdout.split("\n")

    def marker_after(cmd):
        i = next(k for k, line in enumerate(lines) if line.endswith(cmd))
        return lines[i], lines[i + 1], lines[i + 2]

    cmd, caret, msg = marker_after("#show flsh")
    assert caret.index("^") == cmd.index("flsh") and msg == "% Invalid input detected at '^' marker."
    cmd, caret, msg = marker_after("#bogus")
    assert caret.index("^") == cmd.index("bogus")
    assert "% Incomplete command." in r.stdout
    assert '% Ambiguous command:  "c"' in r.stdout
    cmd, caret, msg = marker_after("#hostname 9bad")
    assert caret.index("^") == cmd.index("9bad")
    cmd, caret, msg = marker_after("#hostname a b")
    assert caret.index("^") == cmd.index(" b") + 1


def test_garbage_lines_never_traceback(tmp_path):
    junk = ["\x00\x01\x02", "show " + "x" * 5000, "conf t", "hostname " + "h" * 100, "\xe9\xe8",
            "clock set 99:99:99 1 Jan 2020", "clock set 10:00:00 32 Jan 2020",
            "clock set 10:00:00 1 Foo 2020", "end", "write memory extra", "show clock detail x",
            "configure terminal now"]
    r = run(tmp_path / "b.img", *junk)
    assert r.returncode == 0
    assert "Internal error" not in r.stdout
    assert r.stdout.count("% Invalid input detected") >= 8


def test_clock_set_and_show_clock_detail(tmp_path):
    r = run(tmp_path / "b.img", "clock set 10:11:12 28 Nov 2026", "show clock detail",
            "clock set 23:59:59 Feb 28 2030", "show clock")
    assert re.search(r"\n10:11:1\d\.\d{3} UTC Sat Nov 28 2026\nTime source is user configuration", r.stdout)
    assert re.search(r"\n(23:59:59|00:00:00)\.\d{3} UTC", r.stdout)


def test_do_and_exit_from_config_mode(tmp_path):
    r = run(tmp_path / "b.img", "conf t", "do show clock", "exit", "show flash")
    assert "Router(config)#do show clock\n*00:00" in r.stdout
    assert "Router#show flash" in r.stdout


def test_corrupt_startup_config_is_reported_and_kept(tmp_path):
    img = tmp_path / "b.img"
    run(img, "conf t", "hostname good", "end", "write memory")
    # One flipped bit in the stored text, below the filesystem (littlefs checks its
    # metadata but not file data blocks, so bit rot there reaches the record check).
    from mpy import ROOT, run_code

    run_code(
        "import sys\nsys.path.insert(0, '%s')\nfrom board import Board\n"
        "b = Board('%s'); b.mount()\n"
        "f = open('/flash/startup-config', 'r+b'); d = f.read(); i = d.find(b'good')\n"
        "f.seek(i); f.write(bytes([d[i] ^ 0x20])); f.close()\n" % (ROOT / "boards" / "unix", img)
    )
    r = run(img, "show running-config", "show flash")
    assert "%NVRAM-3-BADCONFIG" in r.stdout and "startup-config" in r.stdout
    assert "checksum mismatch" in r.stdout
    assert "Router#show running-config" in r.stdout  # default configuration
    assert "startup-config.corrupt" in r.stdout  # kept for inspection, not deleted


def test_truncated_or_garbage_image_refused_without_change(tmp_path):
    img = tmp_path / "b.img"
    run(img, "conf t", "hostname keep", "end", "write memory")
    good = img.read_bytes()
    img.write_bytes(good[: 100 * 1024 + 17])
    r = board(img, "show flash\n")
    assert r.returncode != 0 and "not a whole number of 4096-byte blocks" in r.stdout
    assert img.stat().st_size == 100 * 1024 + 17
    junk = b"\x5a" * len(good)
    img.write_bytes(junk)
    r = board(img, "show flash\n")
    assert r.returncode != 0 and "holds no valid littlefs filesystem" in r.stdout
    assert img.read_bytes() == junk  # never reformatted behind the user's back


def test_full_flash_write_memory_fails_cleanly(tmp_path):
    img = tmp_path / "small.img"
    # 8 blocks of 4 KiB: littlefs keeps some for itself; fill the rest, then save.
    lines = ["conf t", "hostname full", "end", "write memory"]
    r = run(img, *lines, args=("--size", str(8 * 4096)))
    assert "[OK]" in r.stdout
    # Fill the flash from the board itself with a large record, then try to save.
    fill = (
        "import sys\nsys.path.insert(0, '%s')\nfrom board import Board\n"
        "b = Board('%s'); b.mount()\n"
        "from upki.nvram import NVRAM\nnv = NVRAM('/flash')\n"
        "try:\n    nv.write('filler', b'f' * 100000)\nexcept Exception as e:\n    print('FILL', e)\n"
        "w = nv.writer('filler2')\n"
        "try:\n    [w.write(b'f' * 1024) for _ in range(20)]\n    w.close()\n"
        "except Exception as e:\n    print('FILL2', e)\n"
    )
    from mpy import ROOT, run_code

    out = run_code(fill % (ROOT / "boards" / "unix", img))
    assert "flash full" in out
    r = run(img, "conf t", "hostname other" + "x" * 40, "end", "write memory", "show startup-config")
    # either it fits or it fails with a clear message; the old copy is intact
    if "[OK]" not in r.stdout:
        assert "%Error" in r.stdout and "flash full" in r.stdout
        assert "hostname full" in r.stdout.split("show startup-config")[1]


def test_debug_crypto_pki_switches(tmp_path):
    r = run(tmp_path / "b.img", "debug crypto pki transactions", "debug crypto pki messages",
            "show debugging", "no debug crypto pki messages", "show debugging", "undebug all",
            "show debugging", "debug crypto pki bogus")
    out = r.stdout
    assert "Crypto PKI Trans debugging is on\n" in out and "Crypto PKI Msg debugging is on\n" in out
    shows = out.split("#show debugging\n")[1:]
    assert "Trans debugging is on" in shows[0] and "Msg debugging is on" in shows[0]
    assert "Trans debugging is on" in shows[1] and "Msg" not in shows[1].split("#")[0]
    assert shows[2].startswith("Router#undebug") is False and "debugging is on" not in shows[2].split("#")[0]
    assert "All possible debugging has been turned off" in out
    assert "% Invalid input detected at '^' marker." in out


def test_uptime_does_not_jump_when_the_clock_is_set(tmp_path):
    r = run(tmp_path / "b.img", "clock set 10:00:00 1 Jan 2030", "show version")
    assert "Router uptime is 0 minutes" in r.stdout


def test_interactive_console_on_a_terminal(tmp_path):
    """boards/unix/run on a pseudo-terminal: the prompt, typed commands echoed,
    their output, the prompt following the mode and the hostname, and Ctrl-D at
    the prompt ending the console."""
    from console import Console

    t = Console(tmp_path / "b.img", tty=True)
    try:
        t.expect(r"Press RETURN to get started!")
        t.expect(r"Router#")
        t.send("show clock")
        # the line echoed after the prompt, then the answer (the tty adds \r)
        t.expect(r"Router#show clock\r*\n\*00:00:\d\d\.\d{3} UTC Sat Jan 1 2000\r*\n")
        t.expect(r"Router#")
        t.send("configure terminal")
        t.expect(r"configure terminal\r*\nEnter configuration commands, one per line\.")
        t.expect(r"Router\(config\)#")
        t.send("hostname x")
        t.expect(r"hostname x\r*\n")
        t.expect(r"x\(config\)#")
        t.send("end")
        t.expect(r"\bx#")
        t.send("show running-config")
        t.expect(r"\nhostname x\r*\n")
        t.expect(r"\bx#")
        t.send("sh clck")  # a typo: the marker, never a traceback
        t.expect(r"\^\r*\n% Invalid input detected at '\^' marker\.")
        t.expect(r"\bx#")
    finally:
        t.close()  # Ctrl-D at the prompt: end of input
    assert t.p.returncode == 0


def test_ctrl_c_on_a_terminal_aborts_key_generation(tmp_path):
    """Ctrl-C typed on the terminal while `crypto key generate` runs: the key is
    not stored, the console says so and takes the next command, three times in
    a row. While a command runs the terminal is raw and Ctrl-C is a key the
    command polls for: the Unix port raises KeyboardInterrupt from its signal
    handler wherever the VM is, and one landing in a garbage collection leaves
    the heap locked (about one Ctrl-C in five did)."""
    from console import Console

    t = Console(tmp_path / "b.img", tty=True)
    try:
        t.expect(r"Router#")
        t.send("configure terminal")
        t.expect(r"Router\(config\)#")
        for _ in range(3):
            t.send("crypto key generate rsa label k modulus 4096")
            t.expect(r"% Generating 4096 bit RSA keys, keys will be non-exportable\.\.\.")
            t.expect(r"[.+]", timeout=60)  # generation is under way
            t.type("\x03")
            t.expect(r"% Key generation aborted; no key was stored\r*\n", timeout=60)
            t.expect(r"Router\(config\)#")
        t.send("do show flash")
        m = t.expect(r"NVRAM writes since boot: (\d+) records")
        t.expect(r"Router\(config\)#")
        t.send("end")
        t.expect(r"Router#")
    finally:
        text = t.close()  # Ctrl-D at the prompt: end of input
    assert t.p.returncode == 0
    assert m.group(1) == "0" and "rsa/k" not in text
    assert "heap is locked" not in text and "[OK]" not in text


def test_show_flash_sizes_and_free_space_add_up(tmp_path):
    """`show flash` lists every record with its real size on the flash, and its
    used/available/total line agrees with itself and with littlefs-python
    reading the same image on the host."""
    from host_tools.upki_host.nvimage import BLOCK_SIZE, Image
    from mpy import ROOT

    img = tmp_path / "b.img"
    pems = [(ROOT / "tests" / "data" / ("rsa_%s_pkcs8.pem" % b)).read_text().strip().split("\n")
            for b in (1024, 4096)]
    r = run(img, "conf t", "hostname fl", "ip domain-name lab.test",
            "crypto key import rsa small pem", *pems[0], "quit",
            "crypto key import rsa big pem", *pems[1], "quit", "end", "write memory",
            "show flash")
    out = r.stdout.split("fl#show flash\n", 1)[1]
    listed = {}
    for m in re.finditer(r"^ +(\d+)  (\d+) +(\S+)$", out, re.M):
        assert int(m.group(1)) == len(listed) + 1  # numbered from 1, in order
        listed[m.group(3)] = int(m.group(2))
    used, avail, total = map(int, re.search(
        r"^\[(\d+) bytes used, (\d+) available, (\d+) total\]$", out, re.M).groups())
    # the host's view of the same image (nothing is written after show flash)
    image = Image.load(img)
    assert sorted(listed) == image.names() == ["rsa/big", "rsa/small", "startup-config"]
    for name, size in listed.items():
        assert size == image.fs.stat(name).size  # the file's length on the flash
        assert size == len(image.read(name)) + 40  # payload + the 40-byte integrity trailer
    assert listed["rsa/big"] > listed["rsa/small"] > 500
    assert total == img.stat().st_size == 2 * 1024 * 1024
    assert used + avail == total
    # littlefs-python counts the blocks in use as littlefs lays them out (2 for
    # the superblock/root, 2 per directory, 1 per file of up to a block, small
    # files inline); the board's littlefs (MicroPython's, statvfs -> lfs_fs_size)
    # counts each subdirectory's metadata pair twice: 2 blocks more per
    # directory (here rsa/), so the board's free figure errs on the safe side
    assert used == (image.fs.used_block_count + 2 * 1) * BLOCK_SIZE
    assert used >= sum(listed.values()) and used % BLOCK_SIZE == 0
    assert "%dK bytes of flash (Read/Write)" % (total // 1024) in out
