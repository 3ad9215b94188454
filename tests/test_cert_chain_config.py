# SPDX-License-Identifier: MIT
"""`crypto ca certificate chain`: certificates shown as IOS hex, and installed from it."""

from cryptography import x509

from host_tools.upki_host.nvimage import Image
from mpy import ROOT, board

DATA = ROOT / "tests" / "data"
CA = (DATA / "x509_root.der").read_bytes()
LEAF = (DATA / "x509_leaf.der").read_bytes()


def hexlines(der):
    h = der.hex().upper()
    words = [h[i : i + 8] for i in range(0, len(h), 8)]
    return ["  " + " ".join(words[i : i + 8]) for i in range(0, len(words), 8)]


def serial(der):
    return "%X" % x509.load_der_x509_certificate(der).serial_number


def chain_lines():
    return (["crypto ca certificate chain lab", " certificate %s" % serial(LEAF)] + hexlines(LEAF)
            + ["  quit", " certificate ca %s" % serial(CA).rjust(2, "0")] + hexlines(CA)
            + ["  quit"])


def run(image, *lines):
    r = board(image, "\n".join(lines) + "\n")
    assert "Traceback" not in r.stdout + r.stderr and "Internal error" not in r.stdout, r.stdout
    return r.stdout


def test_pasted_chain_is_stored_shown_and_replayed_without_writes(tmp_path):
    img = tmp_path / "b.img"
    out = run(img, "conf t", "crypto ca trustpoint lab", "exit", *chain_lines(), "end",
              "write memory", "show running-config")
    assert "Router(config-pubkey)#" in out
    shown = out.split("show running-config")[1]
    assert "\n".join(chain_lines()) + "\n!\nend" in shown
    image = Image.load(img)
    assert image.read("tp/lab/cert") == LEAF and image.read("tp/lab/ca") == CA
    out = run(img, "show running-config", "show flash")
    assert "\n".join(chain_lines()) in out
    assert "NVRAM writes since boot: 0 records" in out  # identical certificates: nothing written


def test_startup_config_made_on_the_host_installs_the_ca(tmp_path):
    image = Image(size=512 * 1024)
    ca_only = ["crypto ca certificate chain lab", " certificate ca %s" % serial(CA).rjust(2, "0")]
    image.write("startup-config", "\n".join(["hostname prov", "crypto ca trustpoint lab", "!"]
                                             + ca_only + hexlines(CA) + ["  quit", "!", "end"]) + "\n")
    img = tmp_path / "p.img"
    image.save(img)
    run(img, "show flash")
    assert Image.load(img).read("tp/lab/ca") == CA


def test_bad_chain_input_is_refused_and_stores_nothing(tmp_path):
    img = tmp_path / "b.img"
    bad_serial = ["crypto ca certificate chain lab", " certificate ca 77"] + hexlines(CA) + ["quit"]
    truncated = [" certificate ca %s" % serial(CA)] + hexlines(CA)[:-3] + ["quit"]
    not_hex = [" certificate 01", "  3082zz", "quit"]
    huge = [" certificate 01"] + ["  " + " ".join(["AAAAAAAA"] * 8)] * 300 + ["quit"]
    out = run(img, "conf t", "crypto ca certificate chain nope", "crypto ca trustpoint lab", "exit",
              *bad_serial, *truncated, *not_hex, *huge, "end", "show flash")
    assert "% Trustpoint nope does not exist" in out
    assert "does not match the 77 typed: not installed" in out
    assert "%% Certificate %s not installed:" % serial(CA) in out
    assert "% Bad hex in certificate 01: input ignored" in out
    assert "is larger than 8192 bytes: input ignored" in out
    assert "tp/lab" not in out.split("#show flash")[1]


def test_no_certificate_removes_one(tmp_path):
    img = tmp_path / "b.img"
    run(img, "conf t", "crypto ca trustpoint lab", "exit", *chain_lines(), "end", "write memory")
    out = run(img, "conf t", "crypto ca certificate chain lab", "no certificate %s" % serial(LEAF),
              "no certificate 99", "end", "show flash")
    assert "% Certificate 99 is not in this chain" in out
    listing = out.split("#show flash")[1]
    assert "tp/lab/ca" in listing and "tp/lab/cert" not in listing


def test_show_crypto_ca_trustpoints(tmp_path):
    img = tmp_path / "b.img"
    out = run(img, "conf t", "crypto ca trustpoint lab", "enrollment url http://127.0.0.1:8080/scep",
              "crl query ldap://127.0.0.1:389/cn=Lab", "crypto ca trustpoint empty", "exit",
              *chain_lines(), "end", "show crypto ca trustpoints")
    shown = out.split("#show crypto ca trustpoints\n")[1]
    assert shown.startswith(
        "Trustpoint lab:\n    Subject Name:\n    CN = lab-root\n     O = cisco\n     C = US\n"
        "          Serial Number: 01\n    Certificate configured.\n"
        "    CEP URL: http://127.0.0.1:8080/scep\n    CRL query url: ldap://127.0.0.1:389/cn=Lab\n")
    assert "Trustpoint empty:\n    Not authenticated" in shown


def test_saved_config_is_the_running_config_byte_for_byte(tmp_path):
    # write memory streams the configuration to NVRAM in ~1 KB pieces; with
    # two certificates in hex it is several pieces, and must still be exactly
    # what show running-config prints
    img = tmp_path / "b.img"
    out = run(img, "conf t", "crypto ca trustpoint lab", "exit", *chain_lines(), "end",
              "write memory", "show running-config")
    shown = out.split("show running-config\n", 1)[1]
    shown = shown.split("Current configuration : ", 1)[1]
    size, text = shown.split(" bytes\n", 1)
    saved = Image.load(img).read("startup-config").decode()
    assert len(saved) == int(size) > 3000
    assert text.startswith(saved), (text[:200], saved[:200])
