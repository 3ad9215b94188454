# SPDX-License-Identifier: MIT
# Freeze upki into an ESP32 / ESP32-S3 MicroPython build:
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/upki/boards/esp32/manifest.py
# (BOARD=ESP32_GENERIC_S3 for the S3).  board.py and main.py stay on the
# filesystem (deploy them with `upki-host deploy`), so they can be edited.
include("$(PORT_DIR)/boards/manifest.py")
require("bundle-networking")
include("../../firmware/manifest.py")
