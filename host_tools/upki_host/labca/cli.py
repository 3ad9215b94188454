# SPDX-License-Identifier: MIT
"""`upki-host labca ...`: the command line of the lab CA (main(argv), argv[0] == "labca")."""

import argparse
import sys

from .ca import REASONS, LabCA, LabCAError, name_text, parse_serial
from .scep import DEFAULT_CAPS


def _parser():
    p = argparse.ArgumentParser(prog="upki-host labca", description="a lab CA with SCEP and CRLs")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.required = True

    def add(name, help_text):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("--dir", required=True, help="the CA's directory")
        return s

    s = add("init", "create the root CA (and sub-CA), RA signing and RA encryption certificates")
    s.add_argument("--sub-ca", action="store_true", help="issue from a sub-CA under the root")
    s.add_argument(
        "--no-ra", action="store_true", help="no RA certificates: the CA answers itself"
    )
    s.add_argument("--key-size", type=int, default=2048)
    s.add_argument("--cn", default="upki Lab Root CA", help="the root CA's common name")
    s.add_argument("--years", type=int, default=10)
    s.add_argument("--force", action="store_true", help="replace a CA already in DIR")
    s.add_argument(
        "--cdp-base",
        default=None,
        help="URL serve will answer at (http://127.0.0.1:PORT): CRL distribution points "
        "for the sub-CA (BASE/crl/root.crl) and RA certificates (BASE/crl/ca.crl)",
    )

    s = add("serve", "SCEP (/scep, /cgi-bin/pkiclient.exe) and CRLs (/crl/ca.crl) on 127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument(
        "--caps",
        default=",".join(DEFAULT_CAPS),
        help="GetCACaps list, comma-separated (default: %(default)s)",
    )
    s.add_argument("--manual", action="store_true", help="queue requests for approve/deny")
    s.add_argument("--challenge", default=None, help="challenge password requests must carry")
    s.add_argument("--cdp-url", default=None, help="CRL distribution point for issued certs")
    s.add_argument("--days", type=int, default=365, help="validity of issued certificates")

    add("list", "show the requests and the issued certificates")
    s = add("approve", "grant a pending request")
    s.add_argument("id", type=int)
    s = add("deny", "refuse a pending request")
    s.add_argument("id", type=int)
    s = add("revoke", "revoke an issued certificate and regenerate the CRL")
    s.add_argument("serial", help="hexadecimal, as `list` shows it")
    s.add_argument("reason", nargs="?", default="unspecified", choices=sorted(REASONS))
    s = add("crl", "regenerate the CRL and print it")
    s.add_argument("--out", default=None, help="also write the CRL (DER) to this file")
    return p


def main(argv):
    args = _parser().parse_args(list(argv[1:]))
    ca = LabCA(args.dir)
    try:
        return _run(ca, args)
    except LabCAError as e:
        print("labca: error: %s" % e, file=sys.stderr)
        return 1


def _run(ca, args):
    if args.cmd == "init":
        ca.init(
            sub_ca=args.sub_ca,
            ra=not args.no_ra,
            key_size=args.key_size,
            cn=args.cn,
            years=args.years,
            force=args.force,
            cdp_base=args.cdp_base,
        )
        print("labca: CA created in %s" % ca.dir)
        for label, cert in _certs(ca):
            print("  %-14s %s  SHA-256 %s" % (label, name_text(cert.subject), _fp(cert)))
        return 0
    if args.cmd == "serve":
        from .server import serve_main

        caps = [c.strip() for c in args.caps.split(",") if c.strip()]
        return serve_main(
            ca.dir,
            args.port,
            caps=caps,
            manual=args.manual,
            challenge=args.challenge,
            cdp_url=args.cdp_url,
            days=args.days,
        )
    if args.cmd == "list":
        reqs = ca.requests()
        print(
            "%-4s %-8s %-10s %-16s %-8s %-20s %s"
            % ("ID", "STATUS", "KIND", "ALGORITHMS", "SERIAL", "RECEIVED", "SUBJECT")
        )
        for r in reqs:
            print(
                "%-4d %-8s %-10s %-16s %-8s %-20s %s"
                % (
                    r["id"],
                    r["status"],
                    r["kind"],
                    "%s/%s" % (r.get("digest") or "?", r.get("cipher") or "?"),
                    r["serial"] or "-",
                    r["received"][:19],
                    r["subject"],
                )
            )
        st = ca.state()
        if st["revoked"]:
            print(
                "revoked: "
                + ", ".join("%s (%s)" % (s, v["reason"]) for s, v in sorted(st["revoked"].items()))
            )
        return 0
    if args.cmd == "approve":
        cert = ca.approve(args.id)
        print(
            "labca: request %d approved: serial %X, %s"
            % (args.id, cert.serial_number, name_text(cert.subject))
        )
        return 0
    if args.cmd == "deny":
        ca.deny(args.id)
        print("labca: request %d denied" % args.id)
        return 0
    if args.cmd == "revoke":
        serial = parse_serial(args.serial)
        ca.revoke(serial, args.reason)
        print("labca: serial %X revoked (%s); CRL regenerated" % (serial, args.reason))
        return 0
    if args.cmd == "crl":
        crl = ca.write_crls()
        from cryptography.hazmat.primitives import serialization

        if args.out:
            with open(args.out, "wb") as f:
                f.write(crl.public_bytes(serialization.Encoding.DER))
        print("CRL issuer: %s" % name_text(crl.issuer))
        print(
            "  this update: %s  next update: %s"
            % (crl.last_update_utc.isoformat(), crl.next_update_utc.isoformat())
        )
        for entry in crl:
            reason = "unspecified"
            try:
                from cryptography import x509

                reason = entry.extensions.get_extension_for_class(
                    x509.CRLReason
                ).value.reason.value
            except Exception:
                pass
            print(
                "  serial %X revoked %s (%s)"
                % (entry.serial_number, entry.revocation_date_utc.isoformat(), reason)
            )
        if len(crl) == 0:
            print("  no revoked certificates")
        return 0
    return 2


def _certs(ca):
    out = [("root CA", ca.root_cert)]
    if ca.sub_cert is not None:
        out.append(("issuing sub-CA", ca.sub_cert))
    if ca.ra_sign_cert is not None:
        out.append(("RA signature", ca.ra_sign_cert))
    if ca.ra_enc_cert is not None:
        out.append(("RA encryption", ca.ra_enc_cert))
    return out


def _fp(cert):
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256()).hex().upper()
