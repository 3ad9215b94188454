# SPDX-License-Identifier: MIT
"""`crypto ca trustpoint` configuration: IOS words, saved and replayed at boot."""

from mpy import board

FULL = [
    "crypto ca trustpoint lab",
    " enrollment mode ra",
    " enrollment url http://127.0.0.1:8080/cgi-bin/pkiclient.exe",
    " enrollment retry period 10s",
    " enrollment retry count 5",
    " usage ike",
    " serial-number none",
    " fqdn r1.lab.test",
    " ip-address 10.0.0.1",
    " password s3cret words",
    " subject-name OU=lab, O=Example Corp, C=US",
    " crl query ldap://127.0.0.1:11389/cn=Lab%20CA,dc=lab,dc=test",
    " crl best-effort",
    " rsakeypair lab 2048 1024",
    " auto-enroll 70 regenerate",
    " fingerprint 2DCEC066FCABB674BF81BFAF76CD10FA",
    "!",
]


def run(image, *lines):
    r = board(image, "\n".join(lines) + "\n")
    assert "Traceback" not in r.stdout + r.stderr and "Internal error" not in r.stdout, r.stdout
    return r.stdout


def test_every_trustpoint_command_round_trips_through_nvram(tmp_path):
    img = tmp_path / "b.img"
    out = run(img, "conf t", *[line.strip() for line in FULL if line != "!"], "end", "write memory")
    assert "Router(ca-trustpoint)#" in out
    assert "Invalid input" not in out
    out = run(img, "show running-config")
    block = out.split("crypto ca trustpoint lab\n", 1)[1].split("!\n", 1)[0]
    assert ["crypto ca trustpoint lab"] + block.rstrip("\n").split("\n") + ["!"] == FULL


def test_defaults_and_no_forms(tmp_path):
    img = tmp_path / "b.img"
    out = run(img, "conf t", "crypto ca trustpoint t", "enrollment retry period 2",
              "serial-number", "auto-enroll", "no enrollment retry period", "no serial-number",
              "no auto-enroll",
              "end", "show running-config")
    assert "crypto ca trustpoint t\n!\n" in out  # all back to defaults
    out = run(img, "conf t", "crypto ca trustpoint t", "enrollment retry period 2", "serial-number",
              "auto-enroll", "end", "show running-config")
    assert (" enrollment retry period 2\n serial-number\n auto-enroll\n!") in out


def test_bad_values_marked_and_mode_kept(tmp_path):
    out = run(tmp_path / "b.img", "conf t", "crypto ca trustpoint t", "enrollment url ftp://x",
              "fingerprint 1234", "rsakeypair k 512", "auto-enroll 170", "ip-address 300.1.1.1",
              "usage web", "bogus", "enrollment retry count 999", "end")
    assert out.count("% Invalid input detected at '^' marker.") == 8
    assert "Router(ca-trustpoint)#end" in out  # never left the submode on bad input
    assert "% fingerprint: 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hex digits" in out


def test_global_command_leaves_submode_and_exit_returns(tmp_path):
    out = run(tmp_path / "b.img", "conf t", "crypto ca trustpoint t", "hostname gw",
              "crypto pki trustpoint u", "exit", "end")
    assert "Router(ca-trustpoint)#hostname gw\ngw(config)#crypto pki trustpoint u" in out
    assert "gw(ca-trustpoint)#exit\ngw(config)#end" in out


def test_removing_a_trustpoint(tmp_path):
    img = tmp_path / "b.img"
    out = run(img, "conf t", "crypto ca trustpoint gone", "exit", "no crypto ca trustpoint gone",
              "no crypto ca trustpoint never", "end", "show running-config")
    assert "% Trustpoint never does not exist" in out
    assert "trustpoint gone" not in out.split("show running-config")[1]


def test_removing_a_trustpoint_destroys_every_record_kept_for_it(tmp_path):
    # what auto-enroll may leave mid-renewal (a staged certificate, the swap
    # journal; here one that recovery at boot cannot read, so it stays) goes
    # with the trustpoint; the records of a trustpoint with a longer name stay
    from host_tools.upki_host.nvimage import Image

    img = tmp_path / "b.img"
    run(img, "conf t", "crypto ca trustpoint gone", "exit", "crypto ca trustpoint gone2",
        "end", "write memory")
    im = Image.load(img)
    for rec in ("tp/gone/cert.new", "tp/gone/swap", "tp/gone/pending", "tp/gone2/other"):
        im.write(rec, b"x")
    im.save(img)
    out = run(img, "show flash", "conf t", "no crypto ca trustpoint gone", "end", "write memory")
    assert "tp/gone/cert.new" in out.split("show flash")[1]  # there before the removal
    names = Image.load(img).names()
    assert not [n for n in names if n.startswith("tp/gone/")], names
    assert "tp/gone2/other" in names
