# SPDX-License-Identifier: MIT
"""`crypto key ...` on the simulated board, judged by cryptography."""

import re

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from mpy import ROOT, board

DATA = ROOT / "tests" / "data"


def run(image, *lines):
    r = board(image, "\n".join(lines) + "\n", timeout=300)
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert "Internal error" not in r.stdout, r.stdout
    return r.stdout


def key_data(out, label):
    """The 'Key Data' hex block of one key in show crypto key mypubkey rsa."""
    block = out.split("Key name: %s\n" % label, 1)[1]
    hexlines = []
    for line in block.split(" Key Data:\n", 1)[1].split("\n"):
        if not re.match(r"^  [0-9A-F]{2,8}( [0-9A-F]{2,8})*$", line):
            break
        hexlines.append(line)
    return bytes.fromhex("".join(hexlines).replace(" ", ""))


def test_generate_export_and_cross_check(tmp_path):
    img = tmp_path / "b.img"
    out = run(img, "conf t", "ip domain-name lab.test",
              "crypto key generate rsa label lab modulus 1024 exportable",
              "crypto key export rsa lab pem", "end", "show crypto key mypubkey rsa")
    assert re.search(r"% Generating 1024 bit RSA keys, keys will be exportable\.\.\.[.+]*\[OK\]", out)
    pem = out.split("Key data:\n", 1)[1]
    priv_pem = pem[pem.index("-----BEGIN PRIVATE KEY-----"):]
    priv_pem = priv_pem[: priv_pem.index("-----END PRIVATE KEY-----") + 25]
    key = serialization.load_pem_private_key(priv_pem.encode(), None)
    assert key.key_size == 1024 and key.public_key().public_numbers().e == 65537
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key_data(out, "lab") == spki
    assert " Usage: General Purpose Key\n Key is exportable.\n" in out
    # a signature by the exported key verifies (the key is consistent)
    sig = key.sign(b"upki", padding.PKCS1v15(), hashes.SHA256())
    key.public_key().verify(sig, b"upki", padding.PKCS1v15(), hashes.SHA256())


def test_default_label_needs_domain_and_keys_survive_reboot(tmp_path):
    img = tmp_path / "b.img"
    out = run(img, "conf t", "crypto key generate rsa modulus 1024")
    assert "% Please define a domain-name first." in out
    out = run(img, "conf t", "hostname r1", "ip domain-name lab.test",
              "crypto key generate rsa usage-keys modulus 1024", "end", "write memory")
    assert "The name for the keys will be: r1.lab.test" in out
    assert out.count("[OK] (elapsed time was") == 2
    out = run(img, "show crypto key mypubkey rsa", "show flash")
    assert "Key name: r1.lab.test-sign\n Usage: Signature Key\n Key is not exportable." in out
    assert "Key name: r1.lab.test-encrypt\n Usage: Encryption Key" in out
    assert "(clock not authoritative)" in out
    assert "rsa/r1.lab.test-sign" in out


def test_import_committed_key_matches_cryptography(tmp_path):
    img = tmp_path / "b.img"
    pem = (DATA / "rsa_2048_pkcs8.pem").read_text().strip().split("\n")
    out = run(img, "conf t", "crypto key import rsa imported pem", *pem, "quit", "end",
              "show crypto key mypubkey rsa imported", "conf t",
              "crypto key export rsa imported pem")
    assert "% Key pair imported imported (2048 bits)" in out
    ref = serialization.load_pem_private_key((DATA / "rsa_2048_pkcs8.pem").read_bytes(), None)
    spki = ref.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key_data(out, "imported") == spki
    assert "% RSA keypair imported is not exportable." in out  # imported without `exportable`


def test_import_pkcs1_exportable_round_trip(tmp_path):
    img = tmp_path / "b.img"
    pem = (DATA / "rsa_1024_pkcs1.pem").read_text().strip().split("\n")
    out = run(img, "conf t", "crypto key import rsa k1 pem exportable terminal", *pem, "quit",
              "crypto key export rsa k1 pem")
    exported = out[out.index("-----BEGIN PRIVATE KEY-----"):]
    exported = exported[: exported.index("-----END PRIVATE KEY-----") + 25]
    ref = serialization.load_pem_private_key((DATA / "rsa_1024_pkcs1.pem").read_bytes(), None)
    assert exported.strip() + "\n" == ref.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()


def test_bad_import_stores_nothing(tmp_path):
    img = tmp_path / "b.img"
    out = run(img, "conf t", "crypto key import rsa bad pem", "-----BEGIN PRIVATE KEY-----",
              "AAAA", "-----END PRIVATE KEY-----", "quit", "end", "show crypto key mypubkey rsa",
              "show flash")
    assert "% Import of RSA keypair bad failed" in out
    assert "Key name: bad" not in out and "rsa/bad" not in out


def test_replace_asks_and_no_keeps_old_key(tmp_path):
    img = tmp_path / "b.img"
    pem = (DATA / "rsa_1024_pkcs8.pem").read_text().strip().split("\n")
    out = run(img, "conf t", "crypto key import rsa keep pem", *pem, "quit",
              "crypto key generate rsa label keep modulus 1024", "no", "end",
              "show crypto key mypubkey rsa")
    assert "% You already have RSA keys defined named keep." in out
    assert "% Generating" not in out
    ref = serialization.load_pem_private_key((DATA / "rsa_1024_pkcs8.pem").read_bytes(), None)
    assert key_data(out, "keep") == ref.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_zeroize_one_and_all(tmp_path):
    img = tmp_path / "b.img"
    pem1 = (DATA / "rsa_1024_pkcs8.pem").read_text().strip().split("\n")
    out = run(img, "conf t", "crypto key import rsa a pem", *pem1, "quit",
              "crypto key import rsa b pem", *pem1, "quit",
              "crypto key zeroize rsa a", "yes", "do show crypto key mypubkey rsa")
    assert "Key name: a\n" not in out and "Key name: b\n" in out
    out = run(img, "conf t", "crypto key zeroize rsa", "no", "do show flash",
              "crypto key zeroize rsa", "yes", "do show flash", "crypto key zeroize rsa nothere")
    assert "% All RSA keys will be removed." in out
    first, second = out.split("Router(config)#do show flash", 2)[1:]
    assert "rsa/b" in first and "rsa/b" not in second
    assert "% RSA keypair nothere does not exist" in out


def test_bad_arguments_get_markers(tmp_path):
    out = run(tmp_path / "b.img", "conf t", "crypto key generate rsa label x modulus 512",
              "crypto key generate rsa modulus 99999", "crypto key generate rsa frob",
              "crypto key generate rsa label", "crypto key generate rsa label ../x",
              "crypto key export rsa x der")
    assert "% Key modulus of 512 bits refused: choose 1024 to 4096 bits" in out
    assert out.count("% Invalid input detected at '^' marker.") >= 4
    assert "% Incomplete command." in out


def test_corrupt_key_record_is_named(tmp_path):
    img = tmp_path / "b.img"
    pem = (DATA / "rsa_1024_pkcs8.pem").read_text().strip().split("\n")
    run(img, "conf t", "crypto key import rsa rot pem", *pem, "quit")
    from mpy import run_code

    run_code(
        "import sys\nsys.path.insert(0, '%s')\nfrom board import Board\n"
        "b = Board('%s'); b.mount()\n"
        "f = open('/flash/rsa/rot', 'r+b'); f.seek(200); c = f.read(1); f.seek(200)\n"
        "f.write(bytes([c[0] ^ 1])); f.close()\n" % (ROOT / "boards" / "unix", img)
    )
    out = run(img, "show crypto key mypubkey rsa")
    assert "NVRAM record rsa/rot: corrupt (checksum mismatch)" in out


def key_record(img, label):
    """(header line, PKCS#8 DER) of the NVRAM record rsa/LABEL, read on the host
    with littlefs-python (the record's SHA-256 trailer checked)."""
    from host_tools.upki_host.nvimage import Image

    head, der = Image.load(img).read("rsa/" + label).split(b"\n", 1)
    return head.decode(), der


def spki_of(der):
    return serialization.load_der_private_key(der, None).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_general_keys_one_general_purpose_pair(tmp_path):
    img = tmp_path / "b.img"
    out = run(img, "conf t", "hostname r2", "ip domain-name lab.test",
              "crypto key generate rsa general-keys modulus 1024", "end",
              "show crypto key mypubkey rsa")
    assert "The name for the keys will be: r2.lab.test" in out
    assert out.count("[OK] (elapsed time was") == 1  # one pair, not a -sign/-encrypt pair
    assert "Key name: r2.lab.test\n Usage: General Purpose Key\n Key is not exportable." in out
    assert "r2.lab.test-sign" not in out and "r2.lab.test-encrypt" not in out
    head, der = key_record(img, "r2.lab.test")
    assert head.startswith("upki-key usage=general exportable=0 ")
    key = serialization.load_der_private_key(der, None)  # OpenSSL's key check
    assert key.key_size == 1024
    assert key_data(out, "r2.lab.test") == spki_of(der)
    # the abbreviation and the label/modulus options in another order
    out = run(img, "conf t", "crypto key generate rsa ge label g2 mod 1024", "end",
              "show crypto key mypubkey rsa g2")
    assert "Key name: g2\n Usage: General Purpose Key" in out
    assert key_record(img, "g2")[0].startswith("upki-key usage=general ")


def test_replace_yes_generates_a_new_key_and_replaces_the_record(tmp_path):
    img = tmp_path / "b.img"
    pem = (DATA / "rsa_1024_pkcs8.pem").read_text().strip().split("\n")
    run(img, "conf t", "crypto key import rsa keep pem", *pem, "quit")
    _, old_der = key_record(img, "keep")
    old_spki = spki_of((DATA / "rsa_1024_pkcs8.der").read_bytes())
    assert spki_of(old_der) == old_spki
    out = run(img, "conf t", "crypto key generate rsa label keep modulus 1024", "yes", "end",
              "show crypto key mypubkey rsa")
    assert "% You already have RSA keys defined named keep." in out
    assert "% Do you really want to replace them? [yes/no]: yes" in out
    assert re.search(r"% Generating 1024 bit RSA keys, keys will be non-exportable\.\.\.[.+]*"
                     r"\[OK\]", out)
    new_head, new_der = key_record(img, "keep")
    assert new_der != old_der and spki_of(new_der) != old_spki
    new = serialization.load_der_private_key(new_der, None)
    old_n = serialization.load_der_private_key(old_der, None).public_key().public_numbers().n
    assert new.key_size == 1024 and new.public_key().public_numbers().n != old_n
    assert key_data(out, "keep") == spki_of(new_der)  # what the console shows is the new key
    assert out.count("Key name: keep\n") == 1
    assert new_head.startswith("upki-key usage=general exportable=0 ")
    from host_tools.upki_host.nvimage import Image

    assert Image.load(img).fs.listdir("/rsa") == ["keep"]  # replaced in place, no leftover
