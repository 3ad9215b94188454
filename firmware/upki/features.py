# SPDX-License-Identifier: MIT
# The feature modules the console loads at boot. Each registers its commands
# (upki.cli.command), its running-config section (upki.config.section) and its
# boot/background hooks (upki.config.boot_hooks / background) when imported.
MODULES = ("upki.cli_keys", "upki.cli_ca", "upki.cli_pubkey", "upki.ntp", "upki.cli_enroll", "upki.revocation")
