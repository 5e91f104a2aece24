"""Which next hop each neighbor is sent.

The contract (shared SPEC, "Next hop and router ID"): the address this host
uses to reach the neighbor; when ``node_ips`` is set and that address is the
pod's own IP (speaker not on the host network), the node IP of the same family.

The address is found by asking the kernel for a route (a connected UDP socket
reports its source address; no packet leaves), cached per neighbor, and looked
up again by :meth:`NextHops.refresh`.  The Go speaker derived it once and kept
a stale one for a day after routing changed; ``refresh`` reports which
neighbors' next hop moved so the speaker can re-announce to them.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable

import netaddr

LOG = logging.getLogger(__name__)

SourceLookup = Callable[[str, int], "str | None"]


def kernel_source_address(neighbor: str, port: int) -> str | None:
    """Source address the kernel would use toward *neighbor* (None: no route)."""
    family = socket.AF_INET6 if ":" in neighbor else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((neighbor, port))
            return str(netaddr.IPAddress(probe.getsockname()[0]))
    except OSError:
        return None


class NextHops:
    def __init__(
        self,
        neighbors: Iterable[str],
        pod_ips: Iterable[str],
        node_ips: Iterable[str],
        port: int,
        lookup: SourceLookup = kernel_source_address,
    ) -> None:
        self._neighbors = tuple(neighbors)
        self._pod_ips = frozenset(str(netaddr.IPAddress(ip)) for ip in pod_ips)
        self._node_ip = {}
        for ip in node_ips:
            addr = netaddr.IPAddress(ip)
            self._node_ip.setdefault(addr.version, str(addr))
        self._port = port
        self._lookup = lookup
        self._chosen: dict[str, str | None] = {}
        self.refresh()

    def _choose(self, neighbor: str, source: str | None) -> str | None:
        if source is None:
            return None
        if source in self._pod_ips:
            return self._node_ip.get(netaddr.IPAddress(source).version, source)
        return source

    def for_neighbor(self, neighbor: str, session_local: str | None = None) -> str | None:
        """Next hop for *neighbor*; the session's own address when routing has none."""
        chosen = self._chosen.get(neighbor)
        if chosen is None and session_local is not None:
            return self._choose(neighbor, str(netaddr.IPAddress(session_local)))
        return chosen

    def refresh(self) -> list[str]:
        """Look every neighbor up again; return those whose next hop changed."""
        moved = []
        for neighbor in self._neighbors:
            new = self._choose(neighbor, self._lookup(neighbor, self._port))
            old = self._chosen.get(neighbor)
            if new != old:
                if neighbor in self._chosen:
                    LOG.warning("next hop toward %s changed: %s -> %s", neighbor, old, new)
                    moved.append(neighbor)
                self._chosen[neighbor] = new
        return moved
