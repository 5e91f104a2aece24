"""The BGP speaker as the rest of ryu-kovn sees it.

Everything that touches Ryu's BGP core lives behind :class:`Speaker`:
``announce``/``withdraw`` take prefixes, the read-only views live in
:mod:`ryu_kovn.bgp.views`.  Ryu's ``BGPSpeaker`` class is not used: it cannot
pass a hold time, a connect-retry time or a per-family capability set, so the
core is driven through the same ``call()`` API that class wraps.

Ryu's core is a process-wide singleton, so there is one Speaker per process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ryu_kovn.bgp.nexthop import NextHops
from ryu_kovn.bgp.table_feed import TableFeed
from ryu_kovn.prefixes import canonical

if TYPE_CHECKING:
    from ryu_kovn.config import Settings

LOG = logging.getLogger(__name__)

# Seconds between connection attempts to a peer that is down.  Ryu's default is
# 30 s; GoBGP retries after 5 s, and routers restart in less than that.
CONNECT_RETRY_SECONDS = 5
# How long a TCP connect to a peer may take before it is retried.
TCP_CONNECT_TIMEOUT_SECONDS = 10
# How often the route toward each neighbor is looked up again (next-hop drift).
NEXT_HOP_CHECK_SECONDS = 2.0
# Passive mode accepts sessions on every address of both families.
LISTEN_HOSTS = ("0.0.0.0", "::")


@dataclass(frozen=True)
class Neighbor:
    address: str
    family: str  # "ipv4" | "ipv6": the only family exchanged with this peer
    remote_as: int
    port: int
    passive: bool
    hold_time: int
    authenticated: bool


def neighbors_from(settings: Settings) -> list[Neighbor]:
    common = dict(
        remote_as=settings.neighbor_as,
        port=settings.neighbor_port,
        passive=settings.passive,
        hold_time=settings.holdtime,
        authenticated=settings.auth_password is not None,
    )
    return [Neighbor(a, "ipv4", **common) for a in settings.neighbors_v4] + [
        Neighbor(a, "ipv6", **common) for a in settings.neighbors_v6
    ]


class Speaker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.neighbors = neighbors_from(settings)
        self.next_hops = NextHops(
            [n.address for n in self.neighbors],
            pod_ips=settings.pod_ips,
            node_ips=settings.node_ips,
            port=settings.neighbor_port,
        )
        self._announced: set[str] = set()
        self._core = None
        self._feed: TableFeed | None = None
        self._watcher = None
        # Whether more of the wanted table is still to come (lists not complete,
        # decisions not handed over yet); the app replaces it.  End-of-RIB waits
        # for it, and the peers' send loops ask it whether to fill an UPDATE further.
        self.table_incomplete: Callable[[], bool] = lambda: False
        self._started_at = time.monotonic()
        self._ever_up: set[str] = set()
        self.end_of_rib_sent: dict[str, int] = {}

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        from ryu.lib import hub
        from ryu.services.protocols.bgp.api.base import call
        from ryu.services.protocols.bgp.core_manager import CORE_MANAGER

        from ryu_kovn.ryu_fixes import (
            api_log,
            bgp_sockets,
            circular_list,
            connect_log,
            graceful_restart,
            listeners,
            next_hop,
            outgoing_queue,
            peer_output,
            rtconf_limits,
            withdraw_order,
        )

        api_log.install()
        circular_list.install()
        withdraw_order.install()
        connect_log.install(CONNECT_RETRY_SECONDS)
        rtconf_limits.install()
        bgp_sockets.install(ttl=self.settings.ebgp_multihop)
        next_hop.install(self._next_hop_for)
        outgoing_queue.install()
        peer_output.install(busy=self.busy)
        listeners.install()
        graceful_restart.install(self._graceful_restart_capability)
        self._started_at = time.monotonic()

        s = self.settings
        # Like the Go speaker: listen only in passive mode, so that a node
        # already running a BGP daemon on port 179 is not disturbed.
        listen_port = s.bgp_listen_port if s.passive else 0
        waiter = hub.Event()
        call(
            "core.start",
            waiter=waiter,
            local_as=s.cluster_as,
            router_id=s.router_id,
            bgp_server_port=0,  # listeners are opened below, see ryu_fixes.listeners
            bgp_conn_retry_time=CONNECT_RETRY_SECONDS,
            tcp_conn_timeout=TCP_CONNECT_TIMEOUT_SECONDS,
        )
        waiter.wait()
        self._core = CORE_MANAGER.get_core_service()
        self._feed = TableFeed(self._core, pause=lambda: hub.sleep(0))
        if listen_port:
            listeners.listen(self._core, LISTEN_HOSTS, listen_port)
        LOG.info(
            "BGP core started: AS %d, router ID %s, %s",
            s.cluster_as,
            s.router_id,
            f"listening on port {listen_port}" if listen_port else "active mode (not listening)",
        )
        for neighbor in self.neighbors:
            self._add_neighbor(neighbor)
        self._watch_peer_state()
        self._watcher = hub.spawn(self._watch_next_hops)

    def stop(self) -> None:
        from ryu.lib import hub
        from ryu.services.protocols.bgp.api.base import call

        if self._watcher is not None:
            hub.kill(self._watcher)
            self._watcher = None
        if self._core is not None:
            call("core.stop")
            self._core = None

    def shutdown(self, notify: bool) -> None:
        """Close every session: with *notify*, a Cease first (the peer withdraws
        at once); without, the TCP connection just ends, leaving the routes to a
        graceful-restart helper's timer."""
        from ryu.lib.packet.bgp import BGP_ERROR_CEASE, BGP_ERROR_SUB_ADMINISTRATIVE_SHUTDOWN

        if self._core is None:
            return
        for peer in self._core.peer_manager.iterpeers:
            protocol = peer.protocol
            if protocol is None or not peer.in_established():
                continue
            if notify:
                protocol.send_notification(
                    BGP_ERROR_CEASE, BGP_ERROR_SUB_ADMINISTRATIVE_SHUTDOWN
                )
                LOG.info("neighbor %s: sent Cease (administrative shutdown)", peer.ip_address)
            else:
                protocol._socket.close()
                LOG.info("neighbor %s: connection closed, routes left to its restart timer",
                         peer.ip_address)  # fmt: skip

    def _add_neighbor(self, n: Neighbor) -> None:
        from ryu.services.protocols.bgp.api.base import call

        password = self.settings.auth_password
        call(
            "neighbor.create",
            ip_address=n.address,
            remote_as=n.remote_as,
            remote_port=n.port,
            hold_time=n.hold_time,
            password=password.reveal() if password is not None else None,
            connect_mode="passive" if n.passive else "active",
            cap_mbgp_ipv4=n.family == "ipv4",
            cap_mbgp_ipv6=n.family == "ipv6",
            cap_four_octet_as_number=True,
            cap_enhanced_refresh=False,
        )
        self._remember_notifications(n.address)
        LOG.info(
            "neighbor %s added: AS %d, port %d, %s, hold time %ds, %s, TTL %d, MD5 %s",
            n.address,
            n.remote_as,
            n.port,
            n.family,
            n.hold_time,
            "passive" if n.passive else "active",
            self.settings.ebgp_multihop,
            "on" if n.authenticated else "off",
        )

    def _remember_notifications(self, address: str) -> None:
        """Ryu counts a received NOTIFICATION but keeps no last error for it."""
        from ryu.services.protocols.bgp.signals.emit import BgpSignalBus

        peer = self._core.peer_manager.get_by_addr(address)

        def remember(_, msg):  # type: ignore[no-untyped-def]
            reason = f"NOTIFICATION received: {msg.reason}"
            peer.state._last_bgp_error = {
                "code": msg.error_code, "subcode": msg.error_subcode, "reason": reason}  # fmt: skip
            LOG.warning("neighbor %s: %s", address, reason)

        self._core._signal_bus.register_listener(
            (*BgpSignalBus.BGP_NOTIFICATION_RECEIVED, peer), remember
        )

    def _watch_peer_state(self) -> None:
        from ryu.services.protocols.bgp.signals.emit import BgpSignalBus

        bus = self._core._signal_bus
        bus.register_listener(BgpSignalBus.BGP_ADJ_UP, lambda _, info: self._on_up(info["peer"]))
        bus.register_listener(
            BgpSignalBus.BGP_ADJ_DOWN,
            lambda _, info: LOG.warning("neighbor %s: session down", info["peer"].ip_address),
        )

    def _on_up(self, peer) -> None:  # type: ignore[no-untyped-def]
        from ryu.lib import hub

        LOG.info("neighbor %s: session established", peer.ip_address)
        self._ever_up.add(peer.ip_address)
        # Ryu queues the initial table right after this signal, in the same
        # greenthread: End-of-RIB, queued from a new one, comes after it.
        hub.spawn(self._send_end_of_rib, peer, peer.protocol)

    # -- graceful restart ---------------------------------------------------

    def _graceful_restart_capability(self, address: str):  # type: ignore[no-untyped-def]
        from ryu.lib.packet.bgp import RF_IPv4_UC, RF_IPv6_UC

        from ryu_kovn.ryu_fixes.graceful_restart import capability

        s = self.settings
        if not s.graceful_restart:
            return None
        neighbor = next((n for n in self.neighbors if n.address == address), None)
        if neighbor is None:
            return None
        rf = RF_IPv4_UC if neighbor.family == "ipv4" else RF_IPv6_UC
        # Restart State: this process has not had a session with the peer yet,
        # so it is (re)starting and the peer should not wait for our End-of-RIB
        # before sending its own.
        restarting = address not in self._ever_up
        return capability(s.graceful_restart_time, restarting, [(rf.afi, rf.safi)])

    def _send_end_of_rib(self, peer, protocol) -> None:  # type: ignore[no-untyped-def]
        """RFC 4724: after the initial table, End-of-RIB for each family.

        Not before the wanted table is complete (a peer keeping our routes
        stale would drop every one not re-sent yet), unless the deferral time
        runs out; and only once Ryu's processor has queued every route to the
        peer, so that End-of-RIB follows them in the peer's FIFO.
        """
        from ryu.lib import hub
        from ryu.lib.packet.bgp import (
            BGPPathAttributeMpUnreachNLRI,
            BGPUpdate,
            RF_IPv4_UC,
            RF_IPv6_UC,
        )

        deadline = self._started_at + self.settings.graceful_restart_deferral_time
        while self.table_incomplete() and time.monotonic() < deadline:
            hub.sleep(0.05)
        if self.table_incomplete():
            LOG.warning("neighbor %s: deferral time over with the table incomplete; "
                        "sending End-of-RIB anyway", peer.ip_address)  # fmt: skip
        while self.routes_in_flight():  # not busy(): the table may stay incomplete
            hub.sleep(0.01)
        if peer.protocol is not protocol or not peer.in_established():
            return  # that session is gone; the next one sends its own
        for rf in (RF_IPv4_UC, RF_IPv6_UC):
            if not peer.is_mbgp_cap_valid(rf):
                continue
            if rf == RF_IPv4_UC:
                update = BGPUpdate()  # the IPv4 End-of-RIB is an empty UPDATE
            else:
                unreach = BGPPathAttributeMpUnreachNLRI(rf.afi, rf.safi, [])
                update = BGPUpdate(path_attributes=[unreach])
            peer.enque_outgoing_msg(update)
            LOG.info("neighbor %s: End-of-RIB queued for %s", peer.ip_address,
                     "ipv4" if rf == RF_IPv4_UC else "ipv6")  # fmt: skip
        self.end_of_rib_sent[peer.ip_address] = self.end_of_rib_sent.get(peer.ip_address, 0) + 1

    # -- next hops ----------------------------------------------------------

    def _next_hop_for(self, neighbor: str, session_local: str | None, family: str) -> str | None:
        return self.next_hops.for_neighbor(neighbor, session_local)

    def _watch_next_hops(self) -> None:
        from ryu.lib import hub

        pending: set[str] = set()  # moved, not yet re-sent: tried again next round
        while True:
            hub.sleep(NEXT_HOP_CHECK_SECONDS)
            try:
                pending.update(self.next_hops.refresh())
            except Exception:  # a lookup bug must not stop the watcher for good
                LOG.exception("next-hop check failed; retrying")
            for neighbor in sorted(pending):
                try:
                    self.resend(neighbor)
                    pending.discard(neighbor)
                except Exception:
                    LOG.exception("re-sending to %s with its new next hop failed; retrying",
                                  neighbor)  # fmt: skip

    def resend(self, neighbor: str) -> None:
        """Send every route already sent to *neighbor* again (new attributes)."""
        from ryu.lib.packet.bgp import RF_IPv4_UC, RF_IPv6_UC
        from ryu.services.protocols.bgp.model import OutgoingRoute

        peer = self._core.peer_manager.get_by_addr(neighbor)
        if peer is None or not peer.in_established():
            return
        # Not peer_manager.resend_sent: it clones each path to set the peer's
        # MED and asserts one is configured (assert path and med).  The next
        # hop is chosen when the UPDATE is built, so re-queueing suffices.
        for family in (RF_IPv4_UC, RF_IPv6_UC):
            if not peer.is_mbgp_cap_valid(family):
                continue
            table = self._core.table_manager.get_global_table_by_route_family(family)
            for dest in list(table.values()):
                for sent in dest.sent_routes or ():
                    if sent.sent_peer is peer and not sent.path.is_withdraw:
                        peer.enque_outgoing_msg(OutgoingRoute(sent.path))

    # -- routes -------------------------------------------------------------

    def announce(self, prefixes: Iterable[str]) -> None:
        self._update(prefixes, withdraw=False)

    def withdraw(self, prefixes: Iterable[str]) -> None:
        self._update(prefixes, withdraw=True)

    def _update(self, prefixes: Iterable[str], withdraw: bool) -> None:
        if self._core is None or self._feed is None:
            raise RuntimeError("the speaker is not started")
        announced = self._announced
        # Already in the wanted state: no UPDATE for nothing.
        wanted = dict.fromkeys(map(canonical, prefixes))  # in order, once each
        changes = [p for p in wanted if withdraw != (p not in announced)]
        if withdraw:
            announced.difference_update(changes)
        else:
            announced.update(changes)
        self._feed.apply(changes, withdraw)

    def routes_in_flight(self) -> bool:
        """Whether routes are going into Ryu's tables or through its processor."""
        if self._core is None:
            return False
        feeding = self._feed is not None and self._feed.busy
        return feeding or not self._core._bgp_processor._dest_queue.is_empty()

    def busy(self) -> bool:
        """Whether more routes are on their way to the peers: in flight, or the
        table still being built (the send loops then fill UPDATEs further)."""
        return self.routes_in_flight() or self.table_incomplete()

    def announced(self) -> frozenset[str]:
        return frozenset(self._announced)

    @property
    def core(self):  # type: ignore[no-untyped-def]
        """Ryu's core service, for the read-only views (None before start)."""
        return self._core
