# SPDX-License-Identifier: MIT
"""cmswrite.sign / scepreq.pki_message as a list of DER parts (as_parts=True):
what http.request sends unjoined.  The parts, written one after the other on the
board, are the same bytes as the joined message, carry the content without a copy,
and are a SignedData that openssl verifies."""

from test_cms_openssl import BOARD_PRELUDE, openssl, pems  # noqa: F401 (fixture)

from mpy import run_code


def test_sign_as_parts_is_the_signed_data_unjoined(pems, tmp_path):  # noqa: F811
    out = tmp_path / "parts.der"
    got = run_code(
        BOARD_PRELUDE
        + "from upki import cmswrite\n"
        "parts = cmswrite.sign(CONTENT, LEAF, KEY, 'sha256', ATTRS, certificates=[ROOT],\n"
        "                      signing_time=1767225600, as_parts=True)\n"
        "whole = cmswrite.sign(CONTENT, LEAF, KEY, 'sha256', ATTRS, certificates=[ROOT],\n"
        "                      signing_time=1767225600)\n"
        "with open(%r, 'wb') as f:\n"
        "    for p in parts:\n"
        "        f.write(p)\n"
        "print(type(parts).__name__, len(parts) > 3, b''.join(parts) == whole,\n"
        "      [p is CONTENT for p in parts].count(True))\n" % str(out)
    )
    assert got.split() == ["list", "True", "True", "1"]
    r = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", out,
                "-CAfile", pems / "root.pem", "-purpose", "any")
    assert b"Verification successful" in r.stderr


def test_pki_message_as_parts_is_one_signed_data(pems, tmp_path):  # noqa: F811
    out = tmp_path / "msg.der"
    got = run_code(
        BOARD_PRELUDE
        + "from upki import scepreq\n"
        "a = scepreq.pki_message(19, b'csr', LEAF, KEY, ROOT, 'T1', b'N' * 16,\n"
        "                        signing_time=1767225600, as_parts=True)\n"
        "b = scepreq.pki_message(19, b'csr', LEAF, KEY, ROOT, 'T1', b'N' * 16,\n"
        "                        signing_time=1767225600)\n"
        "whole = b''.join(a)\n"
        "wr(%r, whole)\n"
        "print(type(a).__name__, type(b).__name__, len(whole) == len(b),\n"
        "      der.read_single(whole)[0] == 0x30)\n" % str(out)
    )
    assert got.split() == ["list", "bytes", "True", "True"]
    r = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", out, "-noverify",
                "-out", tmp_path / "envelope.der")
    assert b"Verification successful" in r.stderr
    assert (tmp_path / "envelope.der").read_bytes()[:1] == b"\x30"  # the EnvelopedData
