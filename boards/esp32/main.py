# SPDX-License-Identifier: MIT
# upki on a board: join Wi-Fi, then the IOS console on the USB serial port.
# Ctrl-C at the console returns to the MicroPython REPL (mpremote still works).
from board import Board
from upki import cli


def start():
    board = Board()
    board.mount()
    board.wifi_up()
    if cli.console(board) == "reload":
        board.reset()


start()
