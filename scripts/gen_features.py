#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write firmware/upki/features.py: which commands each feature module serves.

The console imports a module only when a line names one of its commands
(heap is the scarce thing on a board). Run
after adding or renaming a command; tests/test_features_table.py fails while
the table is out of date.

    python scripts/gen_features.py [--check]
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ROOT / "firmware" / "upki" / "features.py"

# Feature modules, in the order their sections print in running-config.
MODULES = (
    "upki.cli_exec",
    "upki.cli_keys",
    "upki.cli_ca",
    "upki.cli_chain",
    "upki.cli_pubkey",
    "upki.ntp",
    "upki.cli_enroll",
    "upki.revocation",
)
# Imported at boot whatever the configuration (none need to be today).
EAGER = ()
# Only the modes a session can be in before any feature module is loaded.
ENTRY_MODES = ("exec", "config")

_PROBE = r"""
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from upki import cli
for m in sys.argv[3].split(","):
    __import__(m)
owners = {}

def walk(mode, node, prefix):
    for w, child in node[0].items():
        words = prefix + [w]
        fn = child[1]
        if fn is not None:
            owners.setdefault(fn.__module__, []).append((mode, " ".join(words)))
        walk(mode, child, words)

for mode in %r:
    walk(mode, cli._trees[mode], [])
print(json.dumps(owners))
""" % (ENTRY_MODES,)


def owners():
    """{module: [(mode, words), ...]}: each command under the module defining its handler."""
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, str(ROOT / "firmware"), str(ROOT / "tests" / "shims"),
         ",".join(MODULES)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(r.stdout)


def render():
    lines = [
        "# SPDX-License-Identifier: MIT",
        "# The feature modules and the commands each serves. Written by",
        "# scripts/gen_features.py: do not edit by hand. When a line matches no",
        "# loaded command, the console looks it up here and imports the module",
        "# that serves it (first use, or its first line in startup-config);",
        "# importing it registers its handlers, running-config section and hooks.",
        "MODULES = %r" % (EAGER,),
        "LAZY = (",
    ]
    table = owners()
    for module in MODULES:
        lines.append("    (")
        lines.append("        %r," % module)
        lines.append("        (")
        for mode, words in sorted(table.get(module, ()), key=lambda e: (e[0] != "exec", e[1])):
            lines.append("            (%r, %r)," % (mode, words))
        lines.append("        ),")
        lines.append("    ),")
    lines.append(")")
    return "\n".join(lines) + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        if FEATURES.read_text() != text:
            print("firmware/upki/features.py is out of date: run python scripts/gen_features.py")
            return 1
        return 0
    FEATURES.write_text(text)
    print("wrote", FEATURES.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
