#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: boot the simulated board on a fresh flash image and drive its
# console as an operator would.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build
img=build/demo.img
rm -f "$img" "$img.uid"
echo "=== upki demo: a clockless board boots, is configured, saves and reboots ==="
boards/unix/run "$img" <<'CONSOLE'
show version
show clock
show flash
configure terminal
hostname demo-router
ip domain-name lab.example
end
write memory
reload

show startup-config
show running-config
clock set 12:00:00 28 Nov 2026
show clock detail
show flash
CONSOLE
cat <<'NOTE'

=== What is not built yet ===
This demo shows the board, its flash NVRAM and the IOS console. The rest of
the main job -- NTP-trusted time, key generation from the console, SCEP
enrollment with a lab CA, CRL checking and auto-renewal -- is being built
(see README.md, "Status"); `make demo` will run it end to end when it lands.
NOTE
