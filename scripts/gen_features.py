#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write firmware/upki/features.py: which commands each feature module serves,
and which modules the console may drop again once a command is done.

The console imports a module only when a line names one of its commands
(heap is the scarce thing on a board), and forgets the modules a command
loaded when the command is over, unless something that stays refers to them
(see upki.cli._drop). Run after adding or renaming a command or a module, or
changing a module-level import; tests/test_features_table.py fails while the
table is out of date.

    python scripts/gen_features.py [--check]
"""

import ast
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
    "upki.cli_tp",
    "upki.cli_chain",
    "upki.cli_pubkey",
    "upki.cli_ntp",
    "upki.cli_enroll",
    "upki.revocation",
)
# Imported at boot whatever the configuration (none need to be today).
EAGER = ()
# Modules that stay loaded once imported: they hold state across commands
# (registries, caches, per-router state, the exception classes everything
# catches) or register hooks, sections or submodes that outlive a command.
# Every other module is transient: a console command that loads it drops it
# again when it is done (what a resident module imports at module level
# stays with it; see DEPS).
RESIDENT = (
    "upki.autoenroll",  # per-trustpoint renewal state, background task
    "upki.cli",  # the command tree
    "upki.cli_ca",  # the trustpoints' running-config section, boot and key hooks
    "upki.cli_pubkey",  # the peer public keys, running-config section
    "upki.clock",
    "upki.config",  # registries, the Router
    "upki.errors",  # the exception classes every module raises and catches
    "upki.features",
    "upki.identity",  # crypto identities and certificate maps
    "upki.keys",  # removal hooks
    "upki.log",  # debug switches
    "upki.mcuboard",
    "upki.ntp",  # NTP associations and keys, boot sync, background resync, section
    "upki.nvram",
    "upki.revocation",  # the CRL cache, running-config section, verifier
    "upki.trustpoint",  # the trustpoints
)
# Only the modes a session can be in before any feature module is loaded.
ENTRY_MODES = ("exec", "config")

_PROBE = r"""
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from upki import cli
for m in sys.argv[3].split(","):
    __import__(m)
owners = {}
for mode in %r:
    for words, fn in cli._commands.get(mode, ()):
        owners.setdefault(fn.__module__, []).append((mode, words))
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


def _module_imports(path):
    """The upki modules a module imports at module level (not inside functions,
    nor in an `except ImportError:` fallback, which runs on CPython only)."""
    names = set()
    pending = list(ast.parse(path.read_text()).body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, ast.ExceptHandler) and getattr(node.type, "id", None) == "ImportError":
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("upki."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "upki":
                names.update("upki." + a.name for a in node.names)
            elif node.module.startswith("upki."):
                names.add(node.module)
        else:
            pending.extend(ast.iter_child_nodes(node))
    return names


def modules():
    return sorted("upki." + p.stem for p in (ROOT / "firmware" / "upki").glob("*.py")
                  if p.stem != "__init__")


def transient():
    return [m for m in modules() if m not in RESIDENT]


def deps():
    """{module: transient modules it imports at module level}, for those that import any."""
    drop = set(transient())
    out = {}
    for m in modules():
        path = ROOT / "firmware" / "upki" / (m[len("upki."):] + ".py")
        found = sorted(n for n in _module_imports(path) if n in drop and n != m)
        if found:
            out[m] = found
    return out


def render():
    lines = [
        "# SPDX-License-Identifier: MIT",
        "# The feature modules and the commands each serves. Written by",
        "# scripts/gen_features.py: do not edit by hand. When a line matches no",
        "# loaded command, the console looks it up here and imports the module",
        "# that serves it (first use, or its first line in startup-config);",
        "# importing it registers its handlers, running-config section and hooks.",
        "# Each table is a few strings, not tuples of tuples: it stays in the heap",
        "# for as long as the board runs, and a string costs one object.",
        "MODULES = %r" % (EAGER,),
        "# (module, 'MODE WORDS|MODE WORDS|...')",
        "LAZY = (",
    ]
    table = owners()
    for module in MODULES:
        entries = sorted(table.get(module, ()), key=lambda e: (e[0] != "exec", e[1]))
        lines.append("    (")
        lines.append("        %r," % module)
        parts = ["%s %s" % tuple(e) for e in entries]
        for i, part in enumerate(parts):
            lines.append("        %r" % (part + ("|" if i < len(parts) - 1 else "")))
        lines.append("    ),")
    lines.append(")")
    lines.append("# The modules a console command may drop again once it is done (upki.cli._drop).")
    lines.append("TRANSIENT = (")
    for m in transient():
        lines.append("    %r" % (m + " "))
    lines.append(")")
    lines.append("# MODULE>TRANSIENT MODULES IT IMPORTS AT MODULE LEVEL;...: what stays with")
    lines.append("# a module that stays.")
    lines.append("DEPS = (")
    d = deps()
    items = ["%s>%s" % (m, " ".join(d[m])) for m in sorted(d)]
    for i, item in enumerate(items):
        lines.append("    %r" % (item + (";" if i < len(items) - 1 else "")))
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
