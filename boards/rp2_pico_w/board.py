# SPDX-License-Identifier: MIT
# The Raspberry Pi Pico W hardware layer for upki (stock MicroPython or a
# frozen build): upki.mcuboard.MCUBoard, which has the interface of
# boards/unix/board.py. unique_id() is the flash chip's 64-bit id; urandom()
# is os.urandom (the RP2040's ring-oscillator bit, whitened by MicroPython).
from upki.mcuboard import NVRAM_DIR, MCUBoard  # noqa: F401  (NVRAM_DIR for tools)


class Board(MCUBoard):
    name = "rp2_pico_w"

    def radio_setup(self, cfg):
        country = cfg.get("wifi-country")
        if country:
            import rp2

            rp2.country(country)  # the CYW43 radio's regulatory domain
