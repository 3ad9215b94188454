# SPDX-License-Identifier: MIT
"""The flash image is plain littlefs2: the host reads what the board wrote, and back."""

import pytest

from host_tools.upki_host.nvimage import Image, RecordError
from mpy import board


def test_host_reads_records_the_board_wrote(tmp_path):
    img = tmp_path / "b.img"
    r = board(img, "conf t\nhostname crossread\nip domain-name lab.test\nend\nwrite memory\n")
    assert "[OK]" in r.stdout
    image = Image.load(img)
    assert image.names() == ["startup-config"]
    text = image.read("startup-config").decode()
    assert "hostname crossread\n" in text and "ip domain-name lab.test\n" in text
    assert text.endswith("end\n")


def test_board_boots_from_an_image_the_host_made(tmp_path):
    image = Image(size=1024 * 1024)
    image.write("startup-config", "hostname hostmade\n!\nip domain-name made.test\nend\n")
    image.write("rsa/spare.bin", b"\x01" * 3000)
    img = tmp_path / "host.img"
    image.save(img)
    r = board(img, "show running-config\nshow flash\n")
    assert "hostmade#show running-config" in r.stdout
    assert "ip domain-name made.test" in r.stdout
    assert "rsa/spare.bin" in r.stdout
    assert "1024K bytes of flash" in r.stdout


def test_host_detects_a_corrupt_record(tmp_path):
    image = Image(size=256 * 1024)
    image.write("startup-config", "hostname x\n")
    with image.fs.open("startup-config", "rb") as f:
        raw = bytearray(f.read())
    raw[3] ^= 1
    with image.fs.open("startup-config", "wb") as f:
        f.write(bytes(raw))
    with pytest.raises(RecordError, match="checksum mismatch"):
        image.read("startup-config")
