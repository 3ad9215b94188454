# SPDX-License-Identifier: MIT
"""upki.sntp.parse_reply on a server reply. The first input byte picks the
key (none, or one of the keys tests/chrony_peer.py gives chronyd) and whether
our request's timestamp is the one the reply echoes (so the fuzzer gets past
the origin check); the rest is the UDP payload. Only ClockError may escape."""

import common

with common.instrumented():
    from upki import sntp
    from upki.errors import ClockError

ALLOWED = (ClockError,)

# the keys tests/chrony_peer.py writes into chronyd's keyfile
KEYS = (
    None,
    (11, "sha1", bytes(range(1, 21))),
    (12, "md5", b"upki-md5-secret!"),
    (13, "aes128cmac", bytes(range(100, 116))),
    (14, "sha256", b"a sha-256 key for chrony, 32 by"),
)


def one(data):
    if not data:
        return
    sel = data[0]
    packet = data[1:]
    key = KEYS[(sel & 0x3F) % len(KEYS)]
    sent_ts = bytes(packet[24:32]) if sel & 0x80 else b"\x01" * 8
    t1 = 3_000_000_000_000_000 if sel & 0x40 else 0
    try:
        s = sntp.parse_reply(packet, sent_ts, key, t1, t1 + 1000)
    except ALLOWED:
        return
    repr(s)
    if not isinstance(s.offset_us, int) or s.delay_us < 0:
        raise common.Finding("bad sample %r" % (s,))


if __name__ == "__main__":
    common.main(one)
