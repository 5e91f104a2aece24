"""Next-hop drift: routing toward a peer changes while the BGP session stays up.

The Go speaker derived its next hop once and kept a stale one after routing
changed (a day-long blackhole in one report).  Here the speaker reaches the
router's 203.0.113.1 through a static route whose preferred source is first
192.0.2.1, then 198.51.100.1.  The TCP session stays bound to 192.0.2.1, so
nothing at the session level changes; only the speaker's periodic route
lookup can notice.  The router must end up with every prefix at the new next
hop, with no session reset.

Topology (one veth link, two subnets on it):

    spk  192.0.2.1/24, 198.51.100.1/24  <->  r1  192.0.2.2/24, 198.51.100.2/24
                                              r1  203.0.113.1/32 on lo (the BGP address)

BIRD runs the same scenario: its multihop session resolves the BGP next hop
recursively through its table (direct routes of both subnets), so the new next
hop is resolvable and the route must stay usable.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from netlab import ensure_never, wait_for
from routers import BirdRouter, GoBGPRouter, PeerSpec, Router
from speaker import SpeakerProcess
from topology import CLUSTER_AS, ROUTER_AS, ROUTER_KINDS, Side, Topology

PEER = "203.0.113.1"
OLD_SRC, OLD_GW = "192.0.2.1", "192.0.2.2"
NEW_SRC, NEW_GW = "198.51.100.1", "198.51.100.2"
PREFIXES = {"10.16.0.0/16", "10.16.0.12/32", "172.31.0.5/32"}


@pytest.fixture(params=["gobgp", "bird"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def _route_via(spk_ns: Any, gateway: str, source: str) -> None:
    spk_ns.run(["ip", "route", "replace", f"{PEER}/32", "via", gateway, "src", source])


def _next_hops(router: Router) -> dict[str, set[str | None]]:
    return {prefix: {p["nexthop"] for p in paths} for prefix, paths in router.rib().items()}


def _session_since(router: Router) -> object:
    """A value that changes whenever the router's session with the speaker restarts."""
    raw = router.neighbor(OLD_SRC)["raw"]
    if isinstance(router, GoBGPRouter):
        return ((raw.get("timers") or {}).get("state") or {}).get("uptime")
    return raw.get("since")


def _next_hop_log(spk: SpeakerProcess) -> str:
    """The speaker's lines about next hops, with any traceback that follows one."""
    lines, keep = [], False
    for line in spk.log_text().splitlines():
        if "next hop" in line or "next-hop" in line:
            keep = True
        elif re.match(r"^\d{4}-\d\d-\d\d ", line):
            keep = False
        if keep:
            lines.append(line)
    return "\n".join(lines[-30:])


def _setup(lab, workdir, kind):  # type: ignore[no-untyped-def]
    spk_ns, r_ns = lab.ns("spk"), lab.ns("r1")
    spk_if, _ = lab.link(spk_ns, r_ns, [f"{OLD_SRC}/24", f"{NEW_SRC}/24"],
                         [f"{OLD_GW}/24", f"{NEW_GW}/24"])  # fmt: skip
    r_ns.add_address("lo", f"{PEER}/32")
    _route_via(spk_ns, OLD_GW, OLD_SRC)
    spk_ns.wait_ping(PEER)
    # The router knows the speaker by the address its TCP session comes from.
    peers = [PeerSpec(OLD_SRC, CLUSTER_AS, families=("ipv4",), multihop_ttl=2, passive=True)]
    router = ROUTER_KINDS[kind](r_ns, workdir, ROUTER_AS, PEER, peers)
    router.start()
    topo = Topology(lab, workdir, kind, spk_ns)
    lab.on_close(topo.close)
    topo.sides.append(Side(r_ns, PEER, "2001:db8:1::2", OLD_SRC, "2001:db8:1::1", spk_if))
    spk = topo.speaker(neighbor_address=[PEER], neighbor_ipv6_address=None, ebgp_multihop=2,
                       env={"POD_IP": OLD_SRC})  # fmt: skip
    spk.start()
    router.wait_established(OLD_SRC)
    spk.announce(sorted(PREFIXES))
    router.wait_rib(lambda rib: set(rib) == PREFIXES)
    assert _next_hops(router) == {p: {OLD_SRC} for p in PREFIXES}
    detail = spk.neighbor(PEER)
    assert detail["local_address"] == OLD_SRC and detail["next_hop"] == OLD_SRC
    return spk_ns, router, spk


def _drift(spk_ns: Any, router: Router, spk: SpeakerProcess, gateway: str, source: str,
           stale: str) -> float:  # fmt: skip
    """Move the route; return how long the router took to hold every prefix at *source*."""
    since = _session_since(router)
    moved_at = time.monotonic()
    _route_via(spk_ns, gateway, source)
    want = {p: {source} for p in PREFIXES}
    try:
        wait_for(lambda: _next_hops(router) == want, timeout=15, interval=0.2,
                 message=f"the router kept the stale next hop {stale} after the route moved "
                         f"to {source}")  # fmt: skip
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nrouter: {_next_hops(router)}\nspeaker log:\n{_next_hop_log(spk)}"
        ) from None
    took = time.monotonic() - moved_at
    if isinstance(router, BirdRouter):
        # BIRD resolves a multihop session's next hop through its own table: the
        # route must be usable (unicast, not unreachable) via the new address.
        for prefix, paths in router.rib().items():
            (path,) = paths
            assert " unicast " in path["raw"][0] and path["gateway"] == source, (
                f"BIRD cannot use {prefix} through {source}: {path['raw']}"
            )
    # Nothing reset: same session on both sides, still bound to the old address.
    assert router.session_state(OLD_SRC) == "established"
    assert _session_since(router) == since, "the router's session was re-established"
    detail = spk.neighbor(PEER)
    assert detail["established_transitions"] == 1, detail
    assert detail["local_address"] == OLD_SRC
    assert detail["next_hop"] == source
    assert {row["next_hop"] for row in spk.ctl("neighbor", PEER, "adj-out")} == {source}
    text = spk.ctl_text("neighbor", PEER)  # what an operator reads
    assert f"next hop sent {source}" in text, text
    warning = rf"WARNING .*next hop toward {re.escape(PEER)} changed: {re.escape(stale)} -> "
    assert re.search(warning + re.escape(source), spk.log_text()), spk.tail(30)
    return took


def test_next_hop_follows_the_route_source_without_a_reset(lab, workdir, kind):
    spk_ns, router, spk = _setup(lab, workdir, kind)
    took = _drift(spk_ns, router, spk, NEW_GW, NEW_SRC, stale=OLD_SRC)
    # The check runs every 2 s; one UPDATE round trip on top.
    assert took < 8, f"the new next hop took {took:.1f}s to reach the router"
    # Routing unchanged from now on: no more UPDATEs (the next hop is stable).
    sent = spk.neighbor(PEER)["messages"]["sent"]["update"]
    ensure_never(lambda: spk.neighbor(PEER)["messages"]["sent"]["update"] != sent, duration=5,
                 message="the speaker kept re-sending with an unchanged next hop")  # fmt: skip
    # And back: the drift is followed both ways.
    _drift(spk_ns, router, spk, OLD_GW, OLD_SRC, stale=NEW_SRC)
    assert router.neighbor(OLD_SRC)["accepted"] == len(PREFIXES)
