# SPDX-License-Identifier: MIT
"""Write package.json (the mip package of upki) from firmware/upki/*.py.

    python scripts/gen_package_json.py          # rewrite package.json
    python scripts/gen_package_json.py --check  # exit 1 when it is out of date

`mpremote mip install /path/to/upki/package.json` (a checkout) or
`mpremote mip install github:OWNER/REPO` (a URL) then installs every module
under /lib/upki on the board.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
PACKAGE_JSON = ROOT / "package.json"


def version():
    text = (FIRMWARE / "upki" / "__init__.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def modules():
    """firmware/upki/*.py as committed (git's index), else as on disk."""
    try:
        r = subprocess.run(["git", "ls-files", "firmware/upki/*.py"], cwd=ROOT,
                           capture_output=True, text=True, timeout=30)
        names = [Path(line).name for line in r.stdout.split() if r.returncode == 0]
    except OSError:
        names = []
    if not names:
        names = [p.name for p in (FIRMWARE / "upki").glob("*.py")]
    return sorted(n for n in names if "/" not in n)


def render():
    urls = [["upki/" + name, "firmware/upki/" + name] for name in modules()]
    doc = {"urls": urls, "deps": [], "version": version()}
    return json.dumps(doc, indent=2) + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        current = PACKAGE_JSON.read_text() if PACKAGE_JSON.exists() else ""
        if current != text:
            print("package.json is out of date: run python scripts/gen_package_json.py",
                  file=sys.stderr)
            return 1
        print("package.json: in sync (%d files)" % len(json.loads(text)["urls"]))
        return 0
    PACKAGE_JSON.write_text(text)
    print("package.json: %d files, version %s" % (len(json.loads(text)["urls"]), version()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
