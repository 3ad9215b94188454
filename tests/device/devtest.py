# SPDX-License-Identifier: MIT
# Device-side test runner: runs every test_* function of a test module on the
# MicroPython Unix port and prints one line per test, which tests/conftest.py
# turns into pytest items.  A test module ends with
#     if __name__ == "__main__":
#         import devtest; devtest.main(globals())
# so `micropython tests/device/test_x.py` runs it bare, too.
import sys


def _setup_path():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    root = here + "/../.."
    for p in (root + "/firmware", here):
        if p not in sys.path:
            sys.path.insert(0, p)


_setup_path()

# Where tests find committed fixtures (tests/data) and a scratch directory.
DATA = (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/../data"


class Skip(Exception):
    pass


def skip(reason):
    raise Skip(reason)


def raises(exc, func, *args, **kw):
    """Assert that func(*args) raises exc; return the exception."""
    try:
        func(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %s" % (exc.__name__, func.__name__))


def read_data(name):
    with open(DATA + "/" + name, "rb") as f:
        return f.read()


def scratch_dir():
    import os

    d = os.getenv("UPKI_SCRATCH") or "/tmp/upki-devtest"
    try:
        os.mkdir(d)
    except OSError:
        pass
    return d


def main(namespace, only=None):
    names = sorted(n for n in namespace if n.startswith("test_") and callable(namespace[n]))
    if only:
        names = [n for n in names if n in only]
    passed = failed = skipped = 0
    for name in names:
        try:
            namespace[name]()
        except Skip as e:
            skipped += 1
            print("SKIP", name, e)
        except Exception as e:  # a failing test must not stop the others
            failed += 1
            print("FAIL", name)
            sys.print_exception(e) if hasattr(sys, "print_exception") else print(repr(e))
            print("END", name)
        else:
            passed += 1
            print("PASS", name)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    # devtest.py MODULE [TEST ...]: import a test module by name and run it.
    mod = __import__(sys.argv[1])
    main(mod.__dict__, sys.argv[2:] or None)
