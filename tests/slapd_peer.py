# SPDX-License-Identifier: MIT
"""A throwaway OpenLDAP slapd on 127.0.0.1 for tests (recipe: /work/shared/PEERS.md).

    with Slapd(tmp_path, entries={"cn=Lab CA": {"crl": crl_der, "ca": ca_der}}) as s:
        s.url("cn=Lab CA")   # ldap://127.0.0.1:PORT/cn%3DLab%20CA%2Cdc%3Dlab%2Cdc%3Dtest?...

Entries live under dc=lab,dc=test with objectClass cRLDistributionPoint +
pkiCA, loaded offline with slapadd; the server runs in the foreground
(`-d stats`) so the PID held is the server's, and is stopped by that PID.
"""

import shutil
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

from conftest import require

SUFFIX = "dc=lab,dc=test"


def find(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Slapd:
    def __init__(self, workdir, entries, port=None):
        """entries: {rdn like "cn=Lab CA": {"crl": DER or None, "ca": DER or None}};
        port: chosen beforehand when certificates must name the server's URL
        (url() works before the server starts), else a free one at start."""
        self.dir = Path(workdir)
        self.entries = entries
        self.proc = None
        self.port = port

    def __enter__(self):
        slapd = find("slapd")
        slapadd = find("slapadd")
        require("slapd", slapd and slapadd, "install the Debian slapd package (make setup)")
        db = self.dir / "db"
        db.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "slapd.conf"
        conf.write_text(
            "include /etc/ldap/schema/core.schema\n"
            "include /etc/ldap/schema/cosine.schema\n"
            "pidfile %s/slapd.pid\n"
            "modulepath /usr/lib/ldap\n"
            "moduleload back_mdb\n"
            "database mdb\n"
            "maxsize 10485760\n"
            "suffix \"%s\"\n"
            "rootdn \"cn=admin,%s\"\n"
            "directory %s\n"
            "access to * by * read\n" % (self.dir, SUFFIX, SUFFIX, db)
        )
        ldif = ["dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: lab\ndc: lab\n"
                % SUFFIX]
        for i, (rdn, attrs) in enumerate(self.entries.items()):
            lines = ["dn: %s,%s" % (rdn, SUFFIX), "objectClass: cRLDistributionPoint",
                     "objectClass: pkiCA", "cn: %s" % rdn.split("=", 1)[1]]
            for key, attr in (("crl", "certificateRevocationList;binary"),
                              ("ca", "cACertificate;binary")):
                if attrs.get(key) is not None:
                    f = self.dir / ("entry%d.%s.der" % (i, key))
                    f.write_bytes(attrs[key])
                    lines.append("%s:< file://%s" % (attr, f))
            ldif.append("\n".join(lines) + "\n")
        data = self.dir / "data.ldif"
        data.write_text("\n".join(ldif))
        r = subprocess.run([slapadd, "-q", "-f", str(conf), "-l", str(data)],
                           capture_output=True, text=True, timeout=60)
        if r.returncode:
            raise RuntimeError("slapadd failed: %s%s" % (r.stdout, r.stderr))
        self.port = self.port or _free_port()
        self.log = open(self.dir / "slapd.log", "w")
        self.proc = subprocess.Popen(
            [slapd, "-f", str(conf), "-h", "ldap://127.0.0.1:%d/" % self.port, "-d", "stats"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("slapd exited: %s" % (self.dir / "slapd.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not listen on 127.0.0.1:%d" % self.port)

    def url(self, rdn, attr="certificateRevocationList;binary"):
        dn = "%s,%s" % (rdn, SUFFIX)
        return "ldap://127.0.0.1:%d/%s?%s" % (self.port, urllib.parse.quote(dn, safe=""), attr)

    def ldapsearch(self, rdn, attr):
        """The value as OpenLDAP's own client reads it (a second opinion)."""
        exe = find("ldapsearch")
        require("ldapsearch", exe, "install the Debian ldap-utils package")
        r = subprocess.run(
            [exe, "-x", "-LLL", "-o", "ldif-wrap=no", "-H", "ldap://127.0.0.1:%d" % self.port,
             "-b", "%s,%s" % (rdn, SUFFIX), "-s", "base", attr],
            capture_output=True, text=True, timeout=20,
        )
        return r.stdout

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
            self.log.close()

    def __exit__(self, *exc):
        self.stop()
