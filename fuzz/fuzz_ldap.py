# SPDX-License-Identifier: MIT
"""upki.ldap.fetch's reader (BindResponse, SearchResultEntry with its
attributes, references, SearchResultDone) on whatever an LDAP server sends.
The socket is fuzz_http's stand-in: the first input byte sets the recv size,
whether a sink takes the value, and whether the read times out at the end;
the rest is the server's byte stream. Only LDAPError (a PKIError) may escape,
and a value past the cap must never be delivered."""

import sys

import common
from fuzz_http import _fake_socket

with common.instrumented():
    from upki import ldap
    from upki.errors import PKIError

ALLOWED = (PKIError,)
MAX_SIZE = 4096
URL = "ldap://127.0.0.1:389/cn%3Dval-int2%2Cdc%3Dlab%2Cdc%3Dtest?certificateRevocationList;binary"


def one(data):
    if not data:
        return
    sel = data[0]
    step = (sel & 0x3F) * 16 or 1
    got = []
    saved = sys.modules.get("socket")
    sys.modules["socket"] = _fake_socket(bytes(data[1:]), step, bool(sel & 0x40))
    try:
        v = ldap.fetch(URL, timeout=5, max_size=MAX_SIZE,
                       sink=(lambda mv: got.append(len(mv))) if sel & 0x80 else None)
    except ALLOWED:
        return
    finally:
        if saved is not None:
            sys.modules["socket"] = saved
        else:
            del sys.modules["socket"]
    n = sum(got) if sel & 0x80 else len(v)
    if n > MAX_SIZE:
        raise common.Finding("value of %d bytes past the %d-byte cap" % (n, MAX_SIZE))


if __name__ == "__main__":
    common.main(one)
