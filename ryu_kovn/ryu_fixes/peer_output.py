"""What Ryu sends to a peer: only our own routes, only negotiated families,
many prefixes per UPDATE, and never a dead sink.

Transit
    Ryu advertises every best path to every peer, routes learned from one
    upstream router included: a node would offer itself as a transit path
    between the routers.  ryu-kovn announces only what it originates.

Wrong family
    ``Peer.communicate_path`` exempts IPv4 and IPv6 unicast from its
    capability check (``... or path_rf in [RF_IPv4_UC, RF_IPv6_UC]``), so a
    prefix announced while sessions are up goes to every peer, IPv4 routes to
    IPv6-only peers included.  Such an UPDATE carries an IPv6 NEXT_HOP that
    cannot be encoded, raising in the peer's send loop.  A path is passed on
    only when the session negotiated its family (RFC 4760).

One UPDATE per prefix
    ``Peer._send_outgoing_route`` builds one UPDATE for each path ("TODO(PH):
    optimized by sending several prefixes per update"): 100k prefixes are
    100k messages.  The send loop here takes the run of consecutive queued
    local paths of one family and direction, and packs them into UPDATEs up
    to the 4096-byte message limit: they share every attribute, the next hop
    included, because every local path to one peer gets the same.

Stale announcements
    Ryu's ``_best_path_lost`` sends a withdrawal only to the peers in the
    destination's sent routes, which are recorded when the peer's send loop
    sends.  A route withdrawn while its announcement still waits in a peer's
    queue gets no withdrawal, and the queued announcement then goes out: the
    route leaks (seen at 3,200 changes/s).  An announcement is sent only while
    its path is still the destination's best path.

Dead sink
    Any exception in the send loop ends the greenthread that owns the peer;
    the peer then never reconnects ("Tried to spawn a child thread before this
    Activity was started").  A message that cannot be sent is logged with its
    prefixes and skipped instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ryu.lib.packet.bgp import (
    BGP_ATTR_TYPE_AS_PATH,
    RF_RTC_UC,
    BGPPathAttributeMpReachNLRI,
    BGPPathAttributeMpUnreachNLRI,
    BGPRouteRefresh,
    BGPUpdate,
    RF_IPv4_UC,
    RF_IPv6_UC,
)
from ryu.services.protocols.bgp.model import OutgoingRoute, SentRoute
from ryu.services.protocols.bgp.peer import Peer, PeerCounterNames
from ryu.services.protocols.bgp.signals.emit import BgpSignalBus

LOG = logging.getLogger(__name__)
_MARK = "_ryu_kovn_peer_output"

# RFC 4271: 4096 bytes per message.  What is not NLRI in one of our UPDATEs
# (header, lengths, ORIGIN, AS_PATH with a few ASNs, NEXT_HOP or MP_REACH with
# a link-local second next hop) stays well under this reserve.
MAX_MESSAGE = 4096
RESERVED = 160
# While more routes are on their way (the table still being built, or routes going
# through Ryu's tables), the send loop waits for more before sending a part-filled
# UPDATE, until none has arrived for this long: the pages of a 100k-pod list come
# every ~50 ms.  A single change finds the speaker idle and goes out at once.
COALESCE_SECONDS = 0.1
COALESCE_POLL_SECONDS = 0.002


def _never_busy() -> bool:
    return False


# Whether more routes are on their way to the peers' queues (the speaker's answer).
_busy: Callable[[], bool] = _never_busy


def _nlri_bytes(path: Any) -> int:
    return 1 + (path.nlri.length + 7) // 8


def _packable(msg: Any) -> bool:
    return (
        isinstance(msg, OutgoingRoute)
        and msg.path.source is None
        and msg.path.route_family in (RF_IPv4_UC, RF_IPv6_UC)
        and not msg.for_route_refresh
    )


def _take_run(peer: Any, first: Any, run: list[Any] | None = None) -> list[Any]:
    """*first* and the queued routes right behind it that can share its UPDATEs.

    Returns *run* (a new list when None) extended with them; stops at the first
    queued message that cannot join, leaving it at the head of the queue.
    """
    key = (first.path.route_family, first.path.is_withdraw)
    if run is None:
        run = [first]
    queue = peer.outgoing_msg_list
    while True:
        nxt = queue.pop_first()
        if nxt is None:
            return run
        if not _packable(nxt) or (nxt.path.route_family, nxt.path.is_withdraw) != key:
            queue.prepend(nxt)
            return run
        run.append(nxt)


def _coalesce(peer: Any, run: list[Any]) -> list[Any]:
    """Let a bulk still being fed fill the UPDATE before it is sent.

    The wait ends when an UPDATE's worth is there, when the speaker has nothing
    more on its way, or when no route arrived for ``COALESCE_SECONDS``.
    """
    budget = MAX_MESSAGE - RESERVED
    deadline = time.monotonic() + COALESCE_SECONDS
    while (
        _nlri_bytes(run[0].path) * len(run) < budget  # one family per run: alike sizes
        and _busy()
        and peer.outgoing_msg_list.is_empty()
        and time.monotonic() < deadline
    ):
        # A short sleep, not a bare yield: no spinning while the table waits for
        # the API server's next page, and not a wake-up per queued route either.
        peer.pause(COALESCE_POLL_SECONDS)
        before = len(run)
        run = _take_run(peer, run[0], run)
        if len(run) > before:
            deadline = time.monotonic() + COALESCE_SECONDS  # still flowing
    return run


def _hold_back_partial(peer: Any, run: list[Any]) -> list[Any]:
    """While more routes are on their way, the ones past the last full UPDATE
    of *run* go back to the head of the queue, to fill an UPDATE with the next.

    Returns what to send now: *run* whole when nothing more is coming or when it
    does not fill one UPDATE (``_coalesce`` has waited for it already).
    """
    if not _busy():
        return run
    budget = MAX_MESSAGE - RESERVED
    size = cut = 0
    for index, route in enumerate(run):
        need = _nlri_bytes(route.path)
        if size + need > budget:
            cut, size = index, 0
        size += need
    if cut == 0:
        return run
    queue = peer.outgoing_msg_list
    for route in reversed(run[cut:]):
        queue.prepend(route)
    return run[:cut]


def _record(peer: Any, routes: list[Any]) -> list[Any]:
    """Ryu's per-path bookkeeping (Adj-RIB-Out, sent routes); the routes to send.

    An announcement is dropped when its destination no longer holds it as best
    path (withdrawn or replaced while queued: nothing to say).
    """
    tables = peer._core_service.table_manager
    adj_rib_out = peer._adj_rib_out
    bus = peer._signal_bus
    # Ryu emits this for BMP; nothing else listens, and it costs per route.
    announce_change = bool(bus._listeners.get(BgpSignalBus.BGP_ADJ_RIB_OUT_CHANGED))
    to_send = []
    # One time for the batch, shared: Ryu takes a struct_time per route (240
    # bytes each, kept as long as the route) when none is given.
    stamp = time.gmtime()
    table = None
    family = None
    for route in routes:
        path = route.path
        if path.route_family is not family:
            family = path.route_family
            table = tables.get_global_table_by_route_family(family)
        dest = table._get_dest(path.nlri)
        if not path.is_withdraw and (dest is None or dest.best_path is not path):
            continue
        blocked, _ = peer._apply_out_filter(path)
        sent = SentRoute(path, peer, blocked, timestamp=stamp)
        adj_rib_out[path.nlri.formatted_nlri_str] = sent
        if announce_change:
            bus.adj_rib_out_changed(peer, sent)
        if not blocked:
            to_send.append(route)
        if not path.is_withdraw:
            dest.add_sent_route(sent)  # table.insert_sent_route, without a second lookup
    return to_send


def _chunks(routes: list[Any]) -> list[list[Any]]:
    chunks: list[list[Any]] = []
    current: list[Any] = []
    size = 0
    for route in routes:
        need = _nlri_bytes(route.path)
        if current and size + need > MAX_MESSAGE - RESERVED:
            chunks.append(current)
            current, size = [], 0
        current.append(route)
        size += need
    if current:
        chunks.append(current)
    return chunks


def _add_nlri(update: Any, path: Any, more: list[Any]) -> None:

    if path.route_family == RF_IPv4_UC:
        (update.withdrawn_routes if path.is_withdraw else update.nlri).extend(more)
        return
    wanted = BGPPathAttributeMpUnreachNLRI if path.is_withdraw else BGPPathAttributeMpReachNLRI
    for attr in update.path_attributes:
        if isinstance(attr, wanted):
            (attr.withdrawn_routes if path.is_withdraw else attr.nlri).extend(more)
            return
    raise ValueError(f"no {wanted.__name__} in the UPDATE for {path.nlri.formatted_nlri_str}")


def send_packed(peer: Any, routes: list[Any]) -> None:

    for chunk in _chunks(_record(peer, routes)):
        update = peer._construct_update(chunk[0])
        _add_nlri(update, chunk[0].path, [r.path.nlri for r in chunk[1:]])
        peer._protocol.send(update)
        peer.state.incr(PeerCounterNames.SENT_UPDATES)


def _process_outgoing(self) -> None:  # type: ignore[no-untyped-def]
    """The peer's send loop: Ryu's message kinds, local routes packed."""
    while True:
        msg = self.outgoing_msg_list.pop_first() if self._protocol is not None else None
        if msg is None:
            self.outgoing_msg_event.clear()
            self.outgoing_msg_event.wait()
            continue
        batch = [msg]
        try:
            if _packable(msg):
                batch = _hold_back_partial(self, _coalesce(self, _take_run(self, msg)))
                send_packed(self, batch)
            elif isinstance(msg, OutgoingRoute):
                self._send_outgoing_route(msg)
            elif isinstance(msg, BGPRouteRefresh):
                self._send_outgoing_route_refresh_msg(msg)
            elif isinstance(msg, BGPUpdate):  # End-of-RIB
                self._protocol.send(msg)
                self.state.incr(PeerCounterNames.SENT_UPDATES)
        except Exception:
            prefixes = [m.path.nlri.formatted_nlri_str for m in batch if hasattr(m, "path")]
            what = ", ".join(prefixes[:5]) or type(msg).__name__
            LOG.exception("could not send %s to %s; skipped", what, self.ip_address)


def _plain(peer: Any) -> bool:
    """Whether Ryu's checks for a local path would just queue it for *peer*.

    They look at route-target filters, the peer's own AS in the path (a local
    path has an empty AS_PATH, and the check deep-copies it each time: a tenth
    of a cold start) and a per-neighbor MED; ryu-kovn configures none of them.
    """
    return not (
        peer.is_route_server_client
        or peer._neigh_conf.multi_exit_disc
        or peer.is_mpbgp_cap_valid(RF_RTC_UC)
    )


def install(busy: Callable[[], bool] | None = None) -> None:

    global _busy
    if busy is not None:
        _busy = busy
    if getattr(Peer, _MARK, False):
        return
    communicate_path = Peer.communicate_path

    def communicate_own_negotiated_path(self, path):  # type: ignore[no-untyped-def]
        if path.source is not None:
            return None  # learned from a peer: never passed on (not a transit node)
        if not self.in_established() or not self.is_mbgp_cap_valid(path.route_family):
            return None
        as_path = path.get_pattr(BGP_ATTR_TYPE_AS_PATH)
        if _plain(self) and (as_path is None or as_path.get_as_path_len() == 0):
            # enque_outgoing_msg, without waking the send loop again while its
            # event is still set (Ryu's Event.set makes a new eventlet Event each time).
            self.outgoing_msg_list.append(OutgoingRoute(path))
            if not self.outgoing_msg_event.is_set():
                self.outgoing_msg_event.set()
            self.messages_queued += 1
            return None
        return communicate_path(self, path)

    Peer.communicate_path = communicate_own_negotiated_path
    Peer._process_outgoing_msg_list = _process_outgoing
    setattr(Peer, _MARK, True)
