# SPDX-License-Identifier: MIT
"""upki host tools (CPython): .mpy builds, provisioning, flashing, the lab CA."""
