"""Prefix strings as every part of ryu-kovn writes and orders them."""

from __future__ import annotations

import re

import netaddr

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# An IPv4 host route already written canonically, as policy writes every pod's:
# returned as it is, without a parse (a third of a 100k-prefix batch otherwise).
_CANONICAL_V4_HOST = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}/32")


def canonical(prefix: str) -> str:
    """``10.0.0.1`` -> ``10.0.0.1/32``; host bits set is an error, not a guess."""
    if _CANONICAL_V4_HOST.fullmatch(prefix):
        return prefix
    net = netaddr.IPNetwork(prefix)
    if net.ip != net.network:
        raise ValueError(f"{prefix!r} has host bits set (did you mean {net.cidr}?)")
    return str(net.cidr)


def sort_key(prefix: str) -> tuple[int, int, int]:
    """IPv4 before IPv6, then numerically (``10.0.0.9`` before ``10.0.0.12``)."""
    net = netaddr.IPNetwork(prefix)
    return (net.version, int(net.network), net.prefixlen)
