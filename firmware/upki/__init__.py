# SPDX-License-Identifier: MIT
# upki: the IOS PKI client for MicroPython boards.
__version__ = "0.1.0"


def forget(names):
    """Forget upki.<name> for each name (sys.modules and this package's
    attribute), so that the collector can free its code once nothing else
    refers to it: how a phase or a console command unloads what it loaded."""
    import sys

    package = globals()
    for name in names:
        sys.modules.pop("upki." + name, None)
        package.pop(name, None)
