# SPDX-License-Identifier: MIT
"""upki-host: the host side of upki (lab CA, builds, provisioning, flashing).

Each subcommand lives in its own module with a main(argv) -> int; this table
is the only place that names them, so modules load only when used.
"""

import importlib
import sys

COMMANDS = {
    # name: (module, one-line help)
    "labca": ("host_tools.upki_host.labca", "run a lab CA: init, serve (SCEP + CRL over HTTP), approve, revoke"),
    "build": ("host_tools.upki_host.boards", "compile the firmware to .mpy (--romfs: and a ROMFS image) for a board"),
    "deploy": ("host_tools.upki_host.boards", "copy the firmware to a board with mpremote"),
    "provision": ("host_tools.upki_host.provision", "write a board's startup-config, CA fingerprint, NTP keys"),
    "flash": ("host_tools.upki_host.flash", "flash MicroPython firmware with esptool"),
    "image": ("host_tools.upki_host.nvimage_cmd", "make a littlefs NVRAM image for mass production"),
    "fleet": ("host_tools.upki_host.fleet", "provision many boards in parallel"),
    "timeserver": ("host_tools.upki_host.timeserver", "lab SNTP server on 127.0.0.1 with a time offset and keys"),
}


def usage():
    lines = ["usage: upki-host COMMAND [ARGS...]", "", "commands:"]
    for name, (_mod, text) in COMMANDS.items():
        lines.append("  %-10s %s" % (name, text))
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print("upki-host: error: unknown command %r (try: upki-host help)" % name, file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[name][0])
    except ImportError as e:
        print("upki-host: error: %s is not available here (%s)" % (name, e), file=sys.stderr)
        return 2
    return module.main(argv) or 0


if __name__ == "__main__":
    sys.exit(main())
