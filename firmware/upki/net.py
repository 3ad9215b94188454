# SPDX-License-Identifier: MIT
# Socket addresses for the network clients (http, ldap, sntp), held to the
# caller's deadline as far as a board allows. MicroPython's getaddrinfo takes
# no timeout, so an IPv4 literal never reaches it (the address is built here:
# a raw struct sockaddr_in on the Unix port, an (address, port) tuple on lwIP
# ports and CPython); a name is looked up once per operation (the caller's
# cache, kept across redirects, retries and the servers of one NTP round),
# and the deadline is checked before and after the lookup. What is left is
# the resolver's own timeout (docs/SECURITY.md, Resource bounds).
import struct
import time


def address(host, port, deadline, cache, fail):
    """(family, sockaddr) for host:port, any socket type. deadline:
    ticks_ms; cache: a dict for the operation, or None; fail(text) makes the
    exception for a lookup that finds the deadline passed. An OSError from
    the resolver (or for a malformed literal) escapes as it is."""
    import socket

    raw = hasattr(socket, "sockaddr")  # the Unix port: connect/sendto take a struct
    p = struct.pack(">H", port)
    if host.count(".") == 3 and host.replace(".", "").isdigit():  # IPv4 literal
        af = socket.AF_INET
        if raw:
            return af, struct.pack("H", af) + p + socket.inet_pton(af, host) + bytes(8)
        return af, (host, port)
    hit = cache.get(host) if cache is not None else None
    if not hit:
        t = time.ticks_ms()
        if time.ticks_diff(deadline, t) > 0:
            hit = socket.getaddrinfo(host, port)  # no type: lwIP warns at SOCK_DGRAM
            if not hit:
                raise OSError(-2)
            hit = hit[0][0], hit[0][-1]
        if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
            raise fail("deadline passed looking up %s (%d ms)" % (
                host, time.ticks_diff(time.ticks_ms(), t)))
        if cache is not None:
            cache[host] = hit
    a = hit[1]  # the port of the lookup that filled the cache: set ours
    return hit[0], a[:2] + p + a[4:] if raw else (a[0], port) + a[2:]
