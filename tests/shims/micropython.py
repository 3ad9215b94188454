# SPDX-License-Identifier: MIT
# CPython stand-in for MicroPython's `micropython` module, so firmware imports
# on CPython (coverage, fuzzing). Tests only; never shipped to a board.


def const(x):
    return x


def native(f):
    return f


def viper(f):
    return f


def mem_info(*args):
    pass
