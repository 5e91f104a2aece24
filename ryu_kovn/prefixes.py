"""Prefix strings as every part of ryu-kovn writes and orders them."""

from __future__ import annotations

import netaddr


def canonical(prefix: str) -> str:
    """``10.0.0.1`` -> ``10.0.0.1/32``; host bits set is an error, not a guess."""
    net = netaddr.IPNetwork(prefix)
    if net.ip != net.network:
        raise ValueError(f"{prefix!r} has host bits set (did you mean {net.cidr}?)")
    return str(net.cidr)


def sort_key(prefix: str) -> tuple[int, int, int]:
    """IPv4 before IPv6, then numerically (``10.0.0.9`` before ``10.0.0.12``)."""
    net = netaddr.IPNetwork(prefix)
    return (net.version, int(net.network), net.prefixlen)
