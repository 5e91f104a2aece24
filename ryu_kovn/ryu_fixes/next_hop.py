"""Let ryu-kovn choose the next hop Ryu sends for locally originated routes.

Ryu's ``Peer._session_next_hop`` returns the neighbor's configured next hop or
else the address the TCP session is bound to.  kube-ovn semantics need more:
the address this host uses *now* to reach the neighbor (a route lookup, which
changes when routing changes while the session stays up on the old address),
with a node IP substituted when that address is the pod's own.  The method is
wrapped so that a resolver decides, falling back to Ryu's choice when it has no
answer.
"""

from __future__ import annotations

from collections.abc import Callable

# (neighbor address, session's local address or None, "ipv4" | "ipv6") -> next hop
Resolver = Callable[[str, "str | None", str], "str | None"]

_ORIGINAL = "_ryu_kovn_original_session_next_hop"


def install(resolver: Resolver) -> None:
    from ryu.lib.packet.bgp import RF_IPv6_UC
    from ryu.services.protocols.bgp.peer import Peer

    original = getattr(Peer, _ORIGINAL, Peer._session_next_hop)

    def _session_next_hop(self, path):  # type: ignore[no-untyped-def]
        family = "ipv6" if path.route_family == RF_IPv6_UC else "ipv4"
        chosen = resolver(self.ip_address, self.host_bind_ip, family)
        return chosen if chosen else original(self, path)

    setattr(Peer, _ORIGINAL, original)
    Peer._session_next_hop = _session_next_hop
