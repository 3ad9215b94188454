# SPDX-License-Identifier: MIT
# upki.cmac on the Unix port: the RFC 4493 test vectors.
import devtest  # first: it puts firmware/ on the path for a bare run
from binascii import unhexlify
from devtest import raises
from upki import cmac

_KEY = unhexlify("2b7e151628aed2a6abf7158809cf4f3c")
_MSG = unhexlify(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)


def test_subkeys():
    import cryptolib

    l = bytearray(16)
    cryptolib.aes(_KEY, 1).encrypt(l, l)
    assert bytes(l) == unhexlify("7df76b0c1ab899b33e42f047b91b546f")
    k1 = cmac._double(l)
    assert bytes(k1) == unhexlify("fbeed618357133667c85e08f7236a8de")
    assert bytes(cmac._double(k1)) == unhexlify("f7ddac306ae266ccf90bc11ee46d513b")


def test_example_1_empty():
    assert cmac.aes_cmac(_KEY, b"") == unhexlify("bb1d6929e95937287fa37d129b756746")


def test_example_2_one_block():
    assert cmac.aes_cmac(_KEY, _MSG[:16]) == unhexlify("070a16b46b4d4144f79bdd9dd04a287c")


def test_example_3_40_bytes():
    assert cmac.aes_cmac(_KEY, _MSG[:40]) == unhexlify("dfa66747de9ae63030ca32611497c827")


def test_example_4_64_bytes():
    assert cmac.aes_cmac(_KEY, _MSG) == unhexlify("51f0bebf7e3b9d92fc49741779363cfe")


def test_memoryview_input_and_bad_key():
    assert cmac.aes_cmac(bytearray(_KEY), memoryview(_MSG)[:40]) == unhexlify(
        "dfa66747de9ae63030ca32611497c827"
    )
    raises(ValueError, cmac.aes_cmac, bytes(24), b"x")


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
