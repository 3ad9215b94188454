# SPDX-License-Identifier: MIT
"""auto-enroll regenerate: the old key pair and certificate stay in use until the new
certificate is granted, and the swap is atomic: a power cut at each flash write of the
swap (UPKI_CUT_AFTER's block device, here set from a snippet just before the swap)
leaves a board that boots with the old identity or the new one, never a mix or none."""

import json
import shutil
import time

import labca_peer
import pytest
from autoenroll_board import (
    Console,
    ca_chain_lines,
    cert_of,
    key_of,
    key_record,
    make_image,
    port_snippet,
    records,
    same_key,
    startup_config,
    trustpoint_lines,
)

BOOT = """
import json
from upki import cli, trustpoint, autoenroll
router, session, msgs = cli.boot(b)
router.clock.set(%(now)d, "test")
tp = trustpoint.get("lab")
"""

ENROLL = BOOT + """
for i in range(40):
    autoenroll._tick(router)
    if tp.has("cert"):
        break
print(json.dumps({"cert": tp.has("cert")}))
"""

# the renewal runs while a configuration session is open: everything new is staged
# and held (NOAUTOSAVE), nothing in use is touched
STAGE = BOOT + """
router.config_sessions = 1
for i in range(40):
    autoenroll._tick(router)
    if autoenroll.status(tp).startswith("new certificate held"):
        break
print(json.dumps({"status": autoenroll.status(tp)}))
"""

SWAP = BOOT + """
w0 = b.bdev.writes + b.bdev.erases
b.bdev.cut_after = (w0 + %(cut)d) if %(cut)d >= 0 else 0
autoenroll.commit(tp, router)
print(json.dumps({"writes": b.bdev.writes + b.bdev.erases - w0}))
"""


def snippet(code, img, **kw):
    r = port_snippet(code % kw, img)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


NOW = int(time.time())
SWAP_NOW = NOW + 63000


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """An image mid-rollover: enrolled (1-day certificate), then, 17.5 h later, the new
    key and certificate staged and held (a configuration session was open)."""
    tmp_path = tmp_path_factory.mktemp("staged")
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", days=1) as server:
        cfg = startup_config(None, [(
            trustpoint_lines("lab", server.url, auto="auto-enroll 70 regenerate",
                             keypair="r1key 1024"),
            ca_chain_lines("lab", server.ca.ca_cert))])
        img = make_image(tmp_path / "b.img", cfg, [("r1key", key_record())])
        assert snippet(ENROLL, img, now=NOW)["cert"]
        old = cert_of(img), key_of(img, "r1key")
        server.responder.days = 30
        got = snippet(STAGE, img, now=NOW + int(17.5 * 3600))
        assert got["status"] == "new certificate held until write memory", got
    new = cert_of(img, "cert.new"), key_of(img, "r1key.new")
    whole = tmp_path / "whole.img"
    shutil.copy(img, whole)
    writes = snippet(SWAP, whole, now=SWAP_NOW, cut=-1)["writes"]
    return img, old, new, writes, whole


def test_staging_leaves_the_identity_in_use_untouched(staged):
    img, (old_cert, old_key), (new_cert, new_key), writes, whole = staged
    assert key_of(img, "r1key").private_numbers() == old_key.private_numbers()
    assert cert_of(img).serial_number == old_cert.serial_number
    assert same_key(new_cert, new_key) and not same_key(new_cert, old_key)
    assert 4 <= writes <= 200, writes
    assert same_key(cert_of(whole), key_of(whole, "r1key"))
    assert cert_of(whole).serial_number == new_cert.serial_number


def cut_and_boot(staged, tmp_path, cut, tear):
    """Cut power at write `cut` of the swap, boot the board (its boot hook recovers),
    and say which identity it has: "old" or "new" (anything else fails)."""
    img, (old_cert, old_key), (new_cert, new_key), _writes, _whole = staged
    run = tmp_path / ("cut%d-%s.img" % (cut, tear))
    shutil.copy(img, run)
    r = port_snippet(SWAP % {"now": SWAP_NOW, "cut": cut}, run, tear=tear)
    assert "%POWER-CUT" in r.stdout, (cut, r.stdout, r.stderr)
    c = Console(run)
    try:
        c.send("show crypto key mypubkey rsa")
        c.expect(r"Key name: r1key\n")
    finally:
        c.close()
    key, cert = key_of(run, "r1key"), cert_of(run)
    assert same_key(cert, key), cut  # the certificate in use is for the key in use
    left = [n for n in records(run) if n.endswith((".new", "/swap"))]
    assert not left, (cut, left)
    if cert.serial_number == new_cert.serial_number:
        assert key.private_numbers() == new_key.private_numbers(), cut
        return "new"
    assert cert.serial_number == old_cert.serial_number, cut
    assert key.private_numbers() == old_key.private_numbers(), cut
    return "old"


def test_regenerate_swap_survives_a_power_cut_at_every_write(staged, tmp_path):
    writes = staged[3]
    # cut_after = w0 + cut tears write number `cut` of the swap (1..writes, the last included)
    seq = [cut_and_boot(staged, tmp_path, cut, 0.5) for cut in range(1, writes + 1)]
    print("swap writes", writes, "outcomes", seq)
    # early cuts fall before the journal (old identity), late ones after it (new)
    assert seq[0] == "old" and seq[-1] == "new", seq
    assert seq == sorted(seq, key=lambda o: o == "new"), seq  # old..., then new...


@pytest.mark.parametrize("tear", [0.0, 1.0])
def test_swap_power_cut_with_nothing_or_all_of_the_write_reaching_flash(staged, tmp_path,
                                                                        tear):
    writes = staged[3]
    cuts = sorted(set(list(range(1, writes + 1, 4)) + [writes]))
    seq = [cut_and_boot(staged, tmp_path, cut, tear) for cut in cuts]
    assert seq[0] == "old" and "new" in seq, seq
    assert seq == sorted(seq, key=lambda o: o == "new"), seq
