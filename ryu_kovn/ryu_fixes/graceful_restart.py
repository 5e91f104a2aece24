"""Advertise the Graceful Restart capability (RFC 4724), which Ryu never sends.

``NeighborConf.get_configured_capabilities`` builds the OPEN's capabilities
and has no graceful-restart entry.  The wrapper adds one built by ryu-kovn
for the neighbor (restart time, Restart State bit, and per address family the
Forwarding State bit); the neighbor gets none when the resolver returns None.
End-of-RIB, the other half of the procedure, is sent by ryu-kovn's speaker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# neighbor address -> the capability object to send, or None
Resolver = Callable[[str], "Any | None"]

_ORIGINAL = "_ryu_kovn_original_capabilities"


def capability(restart_time: int, restarting: bool, families: list[tuple[int, int]]) -> Any:
    """RFC 4724 section 3: flags R (0x8), 12-bit restart time, (AFI, SAFI, F bit 0x80)."""
    from ryu.lib.packet.bgp import BGPOptParamCapabilityGracefulRestart

    flags = 0x8 if restarting else 0
    return BGPOptParamCapabilityGracefulRestart(
        flags, restart_time, [(afi, safi, 0x80) for afi, safi in families]
    )


def install(resolver: Resolver) -> None:
    from ryu.lib.packet.bgp import BGP_CAP_GRACEFUL_RESTART
    from ryu.services.protocols.bgp.rtconf.neighbors import NeighborConf

    original = getattr(NeighborConf, _ORIGINAL, NeighborConf.get_configured_capabilities)

    def get_configured_capabilities(self):  # type: ignore[no-untyped-def]
        capabilities = original(self)
        cap = resolver(self.ip_address)
        if cap is not None:
            capabilities[BGP_CAP_GRACEFUL_RESTART] = [cap]
        return capabilities

    setattr(NeighborConf, _ORIGINAL, original)
    NeighborConf.get_configured_capabilities = get_configured_capabilities
