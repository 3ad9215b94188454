# SPDX-License-Identifier: MIT
"""Background CertPoll against a lab CA that hangs: the next poll waits the
`enrollment retry period` counted from the END of the failed poll, not from its
start -- a CA hung for longer than the period is not polled again at once."""

import time

import labca_peer
from autoenroll_board import (
    Console,
    ca_chain_lines,
    key_record,
    make_image,
    startup_config,
    trustpoint_lines,
)


def test_next_poll_counts_the_retry_period_from_the_end_of_a_hung_poll(tmp_path, ts):
    # hang_seconds outlasts the background poll's 5 s deadline; retry period 2 s
    with labca_peer.running(tmp_path, ra=False, challenge="s3cret", manual=True,
                            hang_seconds=9) as server:
        stamps = []
        log = server._log

        def stamped(line):
            stamps.append((time.monotonic(), line))
            log(line)

        server._log = stamped
        cfg = startup_config(ts.port, [(
            trustpoint_lines("lab", server.url, keypair="r1key 1024"),
            ca_chain_lines("lab", server.ca.ca_cert))])
        img = make_image(tmp_path / "b.img", cfg, [("r1key", key_record())])
        c = Console(img)
        try:
            c.expect(r"CRYPTO_PKI: status = 102: certificate request pending")
            server.forge("hang")  # the next PKIOperation: the first CertPoll
            c.expect(r"%CRYPTO-4-CERTPOLL: trustpoint lab: poll failed: .*no complete answer "
                     r"within 5 s", timeout=30)
            failed = time.monotonic()
            c.expect(r"CRYPTO_PKI: status = 102: certificate request pending", timeout=30)
        finally:
            c.close()
    polls = [t for t, line in stamps if "CertPoll" in line]
    assert len(polls) >= 2, stamps
    assert polls[1] - polls[0] >= 5 + 1.8, polls  # the 5 s hang, then the 2 s period
    assert polls[1] - failed >= 1.5, (polls, failed)
