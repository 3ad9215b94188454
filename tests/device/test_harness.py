# SPDX-License-Identifier: MIT
# The harness itself: runs on the Unix port, reports per test.
import devtest  # first: it puts firmware/ on the path for a bare run
import sys


def test_runs_on_micropython():
    assert sys.implementation.name == "micropython"


def test_firmware_on_path():
    import upki

    assert upki.__version__


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
