# SPDX-License-Identifier: MIT
# upki: the IOS PKI client for MicroPython boards.
__version__ = "0.1.0"
