"""What Ryu sends to a peer: only negotiated families, and never a dead sink.

Wrong family
    ``Peer.communicate_path`` exempts IPv4 and IPv6 unicast from its
    capability check (``... or path_rf in [RF_IPv4_UC, RF_IPv6_UC]``), so a
    prefix announced while sessions are up goes to every peer, IPv4 routes to
    IPv6-only peers included.  Such an UPDATE carries an IPv6 NEXT_HOP that
    cannot be encoded, raising in the peer's send loop.  The wrapper passes a
    path on only when the session negotiated its family (RFC 4760).

Dead sink
    Any exception in ``Peer._send_outgoing_route`` ends the greenthread that
    owns the peer; the peer then never reconnects ("Tried to spawn a child
    thread before this Activity was started").  One message that cannot be
    sent must not take the session's future with it: it is logged with its
    prefix and skipped.
"""

from __future__ import annotations

import logging

LOG = logging.getLogger(__name__)
_MARK = "_ryu_kovn_peer_output"


def install() -> None:
    from ryu.services.protocols.bgp.peer import Peer

    if getattr(Peer, _MARK, False):
        return
    communicate_path = Peer.communicate_path
    send_outgoing_route = Peer._send_outgoing_route

    def communicate_negotiated_path(self, path):  # type: ignore[no-untyped-def]
        if self.in_established() and not self.is_mbgp_cap_valid(path.route_family):
            return None
        return communicate_path(self, path)

    def send_or_skip(self, outgoing_route):  # type: ignore[no-untyped-def]
        try:
            return send_outgoing_route(self, outgoing_route)
        except Exception:
            LOG.exception(
                "could not send %s to %s; skipped",
                outgoing_route.path.nlri.formatted_nlri_str,
                self.ip_address,
            )
            return None

    Peer.communicate_path = communicate_negotiated_path
    Peer._send_outgoing_route = send_or_skip
    setattr(Peer, _MARK, True)
