# SPDX-License-Identifier: MIT
# upki as a frozen package (boards/*/manifest.py include this file).
metadata(version="0.1.0", description="IOS-style PKI client: keys, SCEP, CRLs, NTP-trusted time")
package("upki")
