# SPDX-License-Identifier: MIT
# STUB of the rp2 port's `rp2` module: only country() (the CYW43 regulatory domain).
_country = ["XX"]


def country(code=None):
    if code is None:
        return _country[0]
    _country[0] = code
