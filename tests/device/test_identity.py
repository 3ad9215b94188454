# SPDX-License-Identifier: MIT
# upki.identity on the committed validation fixtures: `crypto identity` dn and
# fqdn lines, certificate maps with eq/ne/co/nc, and bad configuration.
import devtest  # first: it puts firmware/ on the path for a bare run
from upki import identity, x509
from upki.errors import ConfigError



def cert(name):
    return x509.Certificate(devtest.read_data("val_%s.der" % name))


def test_name_text_is_ios_order_normalized():
    assert identity.name_text(cert("leaf").subject) == "cn=r1.lab.test,ou=vpn,o=upki lab,c=us"
    assert identity.name_text(cert("leaf").issuer) == "cn=val-int2,o=upki lab,c=us"


def test_dn_lines():
    identity.clear()
    i = identity.identity("vpn", create=True)
    i.add_dn("OU = VPN, O=upki   lab")
    got = identity.match(cert("leaf"), "vpn")
    assert got == (True, "identity vpn (dn OU = VPN, O=upki   lab)"), got
    ok, why = identity.match(cert("leaf2"), "vpn")
    assert not ok and "matches no line of crypto identity vpn" in why
    i.add_dn("cn=r2.lab.test")  # a second line: either matches
    assert identity.match(cert("leaf2"), "vpn")[0]


def test_fqdn_uses_san_then_cn():
    identity.clear()
    i = identity.identity("f", create=True)
    i.add_fqdn("R1.Lab.Test.")
    assert identity.match(cert("leaf"), "f") == (True, "identity f (fqdn r1.lab.test)")
    j = identity.identity("g", create=True)
    j.add_fqdn("r2.lab.test")  # leaf2 has no subjectAltName: its CN counts
    assert identity.match(cert("leaf2"), "g")[0]
    assert not identity.match(cert("leaf"), "g")[0]


def test_certificate_map_operators():
    identity.clear()
    leaf = cert("leaf")
    cases = [
        ("subject-name", "eq", "CN=r1.lab.test, OU=vpn, O=upki lab, C=US", True),
        ("subject-name", "eq", "cn=r1.lab.test", False),
        ("subject-name", "ne", "cn=r1.lab.test", True),
        ("subject-name", "co", "ou=vpn", True),
        ("subject-name", "co", "finance", False),
        ("subject-name", "nc", "finance", True),
        ("issuer-name", "co", "cn = val-int2", True),
        ("issuer-name", "nc", "val-int2", False),
    ]
    for n, (field, op, value, expect) in enumerate(cases):
        m = identity.certificate_map("m%d" % n, 10, create=True)
        m.add_rule(field, op, value)
        assert identity.match(leaf, "m%d" % n)[0] == expect, (field, op, value)
    # all rules of a sequence must hold; any sequence may match
    m = identity.certificate_map("both", 10, create=True)
    m.add_rule("subject-name", "co", "vpn")
    m.add_rule("issuer-name", "co", "nobody")
    assert not identity.match(leaf, "both")[0]
    identity.certificate_map("both", 20, create=True).add_rule("subject-name", "co", "r1")
    assert identity.match(leaf, "both") == (True, "certificate map both 20")


def test_bad_configuration():
    identity.clear()
    i = identity.identity("x", create=True)
    e = devtest.raises(ConfigError, i.add_dn, "ou")
    assert "'ou' is not ATTRIBUTE=VALUE" in str(e)
    e = devtest.raises(ConfigError, i.add_dn, "frobnicate=1")
    assert "unknown attribute 'frobnicate'" in str(e)
    m = identity.certificate_map("m", 1, create=True)
    devtest.raises(ConfigError, m.add_rule, "subject-name", "lt", "x")
    devtest.raises(ConfigError, m.add_rule, "serial", "eq", "x")
    assert identity.match(cert("leaf"), "nothing")[1] == (
        "no crypto identity or certificate map named nothing")


def test_running_config_lines():
    identity.clear()
    identity.identity("vpn", create=True).add_dn("ou=vpn")
    identity.certificate_map("m", 10, create=True).add_rule("subject-name", "co", "vpn")
    assert identity.all_lines() == ["crypto identity vpn", " dn ou=vpn", "!",
                                    "crypto pki certificate map m 10",
                                    " subject-name co vpn", "!"]


if __name__ == "__main__":
    import devtest

    devtest.main(globals())
