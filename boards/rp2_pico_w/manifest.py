# SPDX-License-Identifier: MIT
# Freeze upki into a Raspberry Pi Pico W MicroPython build:
#   make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=/path/to/upki/boards/rp2_pico_w/manifest.py
# board.py and main.py stay on the filesystem (`upki-host deploy` copies them).
include("$(PORT_DIR)/boards/manifest.py")
require("bundle-networking")
include("../../firmware/manifest.py")
