# SPDX-License-Identifier: MIT
"""`crypto ca enroll` with the serial number asked for (trustpoint `serial-number`,
or "yes" at the prompt): the PKCS#10 request the board sends carries the board's
unique id -- the `Board ID` that `show version` prints -- as the subject's
serialNumber, read back with cryptography from the request the lab CA received."""

import hashlib
import re
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

import labca_peer
from host_tools.upki_host.nvimage import Image
from mpy import BOARD_RUN, mpy_env

DATA = Path(__file__).resolve().parent / "data"


def image_with_key(path, label="r1.lab.test"):
    # the board's key pair put in from the host (the NVRAM record upki.keys
    # writes): no key generation on the port
    image = Image()
    head = b"upki-key usage=general exportable=0 generated=0 trusted=0\n"
    image.write("rsa/" + label, head + (DATA / "rsa_1024_pkcs8.der").read_bytes())
    image.save(path)
    return path


def run_board(image, lines):
    r = subprocess.run([str(BOARD_RUN), str(image)], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, timeout=120, env=mpy_env())
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "Internal error" not in out, out[-3000:]
    return r.stdout


@pytest.mark.parametrize("how", ["trustpoint", "prompt"])
def test_csr_serial_number_is_the_board_id(tmp_path, how):
    img = image_with_key(tmp_path / "b.img")
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret") as server:
        tp = ["crypto ca trustpoint lab", " enrollment url " + server.url, " password s3cret",
              " ip-address none"]
        if how == "trustpoint":
            tp.append(" serial-number")
            answers = []
        else:  # asked at enroll: serial "yes", then "yes" to send the request
            answers = ["yes", "yes"]
        lines = ["clock set " + time.strftime("%H:%M:%S %d %b %Y", time.gmtime()),
                 "show version", "conf t", "hostname r1", "ip domain-name lab.test", *tp,
                 " exit", "crypto ca authenticate lab", "yes", "crypto ca enroll lab",
                 *answers, "end"]
        out = run_board(img, lines)
        reqs = server.ca.requests()
    board_id = re.search(r"Board ID ([0-9A-F]+)", out.split("r1(config)#")[0]).group(1)
    # an image made on the host has no .uid file: the board derives its id from the path
    assert board_id == hashlib.sha256(str(img).encode()).digest()[:8].hex().upper()
    assert "%% The serial number in the certificate will be: %s\n" % board_id in out
    if how == "prompt":
        assert "% Include the router serial number in the subject name? [yes/no]: " in out
    assert "%CRYPTO-6-CERTRET" in out, out[-3000:]
    assert len(reqs) == 1, reqs
    csr = x509.load_der_x509_csr(bytes.fromhex(reqs[0]["csr"]))
    assert csr.is_signature_valid
    serials = csr.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    assert [a.value for a in serials] == [board_id]
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [
        "r1.lab.test"]
