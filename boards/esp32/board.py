# SPDX-License-Identifier: MIT
# The ESP32 / ESP32-S3 hardware layer for upki (stock MicroPython or a frozen
# build): upki.mcuboard.MCUBoard, which has the interface of
# boards/unix/board.py. unique_id() is the Wi-Fi MAC; urandom() is the
# hardware RNG (true entropy once the radio is on).
from upki.mcuboard import NVRAM_DIR, MCUBoard  # noqa: F401  (NVRAM_DIR for tools)


class Board(MCUBoard):
    name = "esp32"

    def __init__(self):
        import sys

        if "S3" in getattr(sys.implementation, "_machine", "").upper():
            self.name = "esp32s3"
        MCUBoard.__init__(self)
