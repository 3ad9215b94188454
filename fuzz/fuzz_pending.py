# SPDX-License-Identifier: MIT
"""upki.enroll.Transaction.from_record: the pending SCEP transaction a board
reads back from NVRAM after a reboot (record "pending" of a trustpoint) to go
on polling. The input is the record's payload (the trailer already checked),
as a buggy writer or an older firmware could have left it. Only PKIError
(SCEPError) may escape, and what reads back must write the same record."""

import common

with common.instrumented():
    from upki import enroll
    from upki.errors import PKIError

ALLOWED = (PKIError,)


def one(data):
    try:
        txn = enroll.Transaction.from_record(data)
    except ALLOWED:
        return
    again = enroll.Transaction.from_record(txn.to_record())
    for f in enroll.Transaction.FIELDS:
        if getattr(again, f) != getattr(txn, f):
            raise common.Finding("field %s does not survive a round trip: %r -> %r"
                                 % (f, getattr(txn, f), getattr(again, f)))


if __name__ == "__main__":
    common.main(one)
