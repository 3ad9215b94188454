# SPDX-License-Identifier: MIT
# The one exception hierarchy of upki: errors travel up to one place (the CLI,
# the enroll state machine) that reports them in IOS words.


class PKIError(Exception):
    pass


class DERError(PKIError):
    # Malformed DER. (Not also a ValueError: MicroPython refuses two
    # exception bases; catch PKIError for "bad input from outside".)
    pass


class CryptoError(PKIError):
    pass


class NVRAMError(PKIError):
    # A record is missing its trailer, fails its check, or cannot be written.
    def __init__(self, name, why):
        super().__init__("NVRAM record %s: %s" % (name, why))
        self.name = name
        self.why = why


class ClockError(PKIError):
    pass


class SCEPError(PKIError):
    def __init__(self, msg, fail_info=None):
        super().__init__(msg)
        self.fail_info = fail_info


class ConfigError(PKIError):
    pass
