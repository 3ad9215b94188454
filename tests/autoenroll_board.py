# SPDX-License-Identifier: MIT
"""Helpers of the auto-enroll tests: a flash image with a pre-shipped startup-config,
the simulated board on a pipe (Console), and checks of what the image holds."""

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
import console
from mpy import ROOT, run_micropython

from host_tools.upki_host.nvimage import Image

DATA = Path(__file__).resolve().parent / "data"


def key_record(key_file="rsa_1024_pkcs8.der", usage="general"):
    head = ("upki-key usage=%s exportable=0 generated=0 trusted=0\n" % usage).encode()
    return head + (DATA / key_file).read_bytes()


def hexlines(der):
    h = der.hex().upper()
    words = [h[i : i + 8] for i in range(0, len(h), 8)]
    return ["  " + " ".join(words[i : i + 8]) for i in range(0, len(words), 8)]


def ca_chain_lines(name, ca_cert):
    der = ca_cert.public_bytes(serialization.Encoding.DER)
    serial = "%X" % ca_cert.serial_number
    if len(serial) % 2:
        serial = "0" + serial
    return ["crypto ca certificate chain " + name, " certificate ca " + serial,
            *hexlines(der), "  quit", "!"]


def trustpoint_lines(name, url, auto="auto-enroll 70", keypair=None, retry="2s", count=None,
                     extra=()):
    lines = ["crypto ca trustpoint " + name, " enrollment url " + url,
             " enrollment retry period " + retry]
    if count is not None:
        lines.append(" enrollment retry count %d" % count)
    lines += [" password s3cret", " serial-number none", " ip-address none"]
    if keypair:
        lines.append(" rsakeypair " + keypair)
    lines += list(extra)
    if auto:
        lines.append(" " + auto)
    lines.append("!")
    return lines


def startup_config(ntp_port, trustpoints):
    """trustpoints: [(trustpoint lines, CA chain lines)]."""
    lines = ["hostname r1", "ip domain-name lab.test", "!"]
    for tp_lines, chain in trustpoints:
        lines += tp_lines
    for tp_lines, chain in trustpoints:
        lines += chain
    if ntp_port:
        lines += ["ntp server 127.0.0.1 port %d" % ntp_port, "!"]
    lines.append("end")
    return "\n".join(lines) + "\n"


def make_image(path, config, keys=()):
    """A flash image with startup-config and key records [(label, record bytes)]."""
    image = Image()
    image.write("startup-config", config.encode())
    for label, rec in keys:
        image.write("rsa/" + label, rec)
    image.save(path)
    return path


def records(path):
    return set(Image.load(path).names())


def record(path, name):
    return Image.load(path).read(name)


def cert_of(path, kind="cert", tp="lab"):
    return x509.load_der_x509_certificate(record(path, "tp/%s/%s" % (tp, kind)))


def key_of(path, label):
    data = record(path, "rsa/" + label)
    return serialization.load_der_private_key(data[data.index(b"\n") + 1 :], None)


def same_key(cert, key):
    return cert.public_key().public_numbers() == key.public_key().public_numbers()


def scep_ops(server, op):
    return [line for line in server.log if op in line]


class Console(console.Console):
    """The shared console, nudged every 0.5 s by default while waiting."""

    def expect(self, pattern, timeout=30, nudge=0.5):
        return console.Console.expect(self, pattern, timeout, nudge)


def port_snippet(code, image, cut_after=0, timeout=120, tear=0.5):
    """Run code on the Unix port with the board's modules and `b` = Board(image) mounted
    (tear: the share of the cut write that reaches the flash)."""
    env = {"MICROPYPATH": "%s:%s:.frozen" % (ROOT / "firmware", ROOT / "boards" / "unix")}
    head = "from board import Board\nb = Board(%r, cut_after=%d, tear=%r)\nb.mount()\n" % (
        str(image), cut_after, tear)
    return run_micropython(["-c", head + code], env=env, timeout=timeout)
