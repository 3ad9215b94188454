# SPDX-License-Identifier: MIT
"""python -m host_tools.upki_host.labca ARGS: the same as `upki-host labca ARGS`."""

import sys

from .cli import main

sys.exit(main(["labca"] + sys.argv[1:]))
