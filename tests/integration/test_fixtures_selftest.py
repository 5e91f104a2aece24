"""Self-test of the lab and router fixtures, with no ryu-kovn code involved.

GoBGP and BIRD peer with each other here, so when a speaker test fails later
the fixtures are already known to report sessions, timers, paths, next hops
and withdrawals correctly; each check reads state from a real daemon.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from netlab import Lab, Netns, ensure_never, reap_stale_namespaces, wait_for
from routers import BirdRouter, GoBGPRouter, PeerSpec

GOBGP_AS, BIRD_AS = 65001, 65002
G4, B4 = "192.0.2.1", "192.0.2.2"
G6, B6 = "2001:db8:1::1", "2001:db8:1::2"
V4_PREFIX, V6_PREFIX = "203.0.113.0/24", "2001:db8:ff::/48"
BIRD_PREFIX = "198.51.100.0/24"


@dataclass
class Pair:
    gobgp: GoBGPRouter
    bird: BirdRouter
    gns: Netns
    bns: Netns


def make_pair(
    lab: Lab,
    workdir: Path,
    *,
    families: tuple[str, ...] = ("ipv4",),
    gobgp_kw: dict[str, Any] | None = None,
    bird_kw: dict[str, Any] | None = None,
    gobgp_port: int = 179,
    bird_port: int = 179,
) -> Pair:
    """GoBGP and BIRD on one veth link; one session per requested family."""
    gns, bns = lab.ns("gobgp"), lab.ns("bird")
    lab.link(gns, bns, [f"{G4}/24", f"{G6}/64"], [f"{B4}/24", f"{B6}/64"])
    gkw, bkw = gobgp_kw or {}, bird_kw or {}
    addr = {"ipv4": (B4, G4), "ipv6": (B6, G6)}
    gobgp = GoBGPRouter(
        gns, workdir, GOBGP_AS, G4,
        [PeerSpec(addr[f][0], BIRD_AS, port=bird_port, families=(f,), **gkw)
         for f in families],
        listen_port=gobgp_port,
    )  # fmt: skip
    bird = BirdRouter(
        bns, workdir, BIRD_AS, B4,
        [PeerSpec(addr[f][1], GOBGP_AS, port=gobgp_port, families=(f,), **bkw)
         for f in families],
        listen_port=bird_port,
    )  # fmt: skip
    gobgp.start()
    bird.start()
    return Pair(gobgp, bird, gns, bns)


def test_ipv4_and_ipv6_sessions_routes_and_withdraw(lab: Lab, workdir: Path) -> None:
    pair = make_pair(
        lab, workdir, families=("ipv4", "ipv6"),
        gobgp_kw={"hold_time": 9}, bird_kw={"hold_time": 12},
    )  # fmt: skip
    g, b = pair.gobgp, pair.bird
    for gob_peer, bird_peer in ((B4, G4), (B6, G6)):
        gview = g.wait_established(gob_peer, timeout=20)
        bview = b.wait_established(bird_peer, timeout=20)
        # Both ends must agree on the smaller offer (RFC 4271 4.2).
        assert gview["hold_time"] == 9, gview
        assert bview["hold_time"] == 9, bview
        assert g.session_state(gob_peer) == b.session_state(bird_peer) == "established"
        assert gview["uptime"] is not None and gview["uptime"] >= 0
        assert bview["uptime"] is not None and bview["uptime"] >= 0

    g.announce(V4_PREFIX)
    g.announce(V6_PREFIX)
    rib4 = b.wait_rib(lambda r: V4_PREFIX in r, "ipv4", timeout=10)
    rib6 = b.wait_rib(lambda r: V6_PREFIX in r, "ipv6", timeout=10)
    (p4,) = rib4[V4_PREFIX]
    (p6,) = rib6[V6_PREFIX]
    assert p4["nexthop"] == G4 and p4["as_path"] == [GOBGP_AS] and p4["neighbor"] == G4
    # GoBGP sends only the global IPv6 next hop; BIRD accepts it (gateway direct).
    assert p6["nexthop"] == G6 and p6["as_path"] == [GOBGP_AS] and p6["neighbor"] == G6
    assert p6["gateway"] == G6
    assert b.neighbor(G4)["received"] == 1
    assert g.neighbor(B4)["advertised"] == 1

    g.withdraw(V4_PREFIX)
    b.wait_rib(lambda r: V4_PREFIX not in r, "ipv4", timeout=10)
    assert V6_PREFIX in b.rib("ipv6"), "only the IPv4 prefix was withdrawn"
    assert b.neighbor(G4)["received"] == 0

    # BIRD (gateway direct) drops a path whose next hop is off-link and says
    # so only in its log: a missing route may mean a bad next hop.
    g.announce("203.0.113.128/25", nexthop="198.51.100.77")
    wait_for(
        lambda: b.log_lines(r"Invalid NEXT_HOP .*198\.51\.100\.77"),
        10,
        message="BIRD did not report the off-link next hop",
    )
    assert "203.0.113.128/25" not in b.rib("ipv4")


def test_bird_announces_and_gobgp_monitor_sees_withdrawal(lab: Lab, workdir: Path) -> None:
    pair = make_pair(lab, workdir)
    g, b = pair.gobgp, pair.bird
    g.wait_established(B4, timeout=20)
    with g.monitor("ipv4") as mon:
        b.announce(BIRD_PREFIX)
        mon.wait_for(lambda ev: any(e.prefix == BIRD_PREFIX for e in ev), timeout=10)
        rib = g.rib("ipv4")
        (path,) = rib[BIRD_PREFIX]
        assert path["nexthop"] == B4 and path["as_path"] == [BIRD_AS] and path["best"]
        assert g.neighbor(B4)["accepted"] == 1
        b.withdraw(BIRD_PREFIX)
        mon.wait_for(lambda ev: any(e.withdrawal for e in ev), timeout=10)
        events = mon.events
    assert [(e.prefix, e.withdrawal) for e in events] == [
        (BIRD_PREFIX, False),
        (BIRD_PREFIX, True),
    ], events
    assert events[0].nexthop == B4 and events[0].as_path == [BIRD_AS]
    assert events[0].timestamp <= events[1].timestamp
    assert BIRD_PREFIX not in g.rib("ipv4")
    # The monitor's readiness sentinel must never leak to peers.
    assert b.neighbor(G4)["raw"]["channels"]["ipv4"]["import_updates"]["received"] == 0


def test_md5_matching_passwords_passive_and_custom_ports(lab: Lab, workdir: Path) -> None:
    # GoBGP is passive and both listen on non-standard ports, so the session
    # can only come up if BIRD dials GoBGP's port with a valid MD5 signature.
    # (GoBGP, not BIRD, is the passive one: GoBGP's own first connect attempt
    # comes 5-10 s after start, which would slow the suite down.)
    pair = make_pair(
        lab, workdir,
        gobgp_kw={"password": "s3cret pw", "passive": True}, bird_kw={"password": "s3cret pw"},
        gobgp_port=1790, bird_port=1791,
    )  # fmt: skip
    pair.gobgp.wait_established(B4, timeout=20)
    pair.bird.wait_established(G4, timeout=20)
    established = pair.gns.run(["ss", "-Htn", "state", "established"]).stdout.split()
    assert f"{G4}:1790" in established, established
    assert not any(a.endswith(":1791") for a in established), "GoBGP must not have dialled"


def test_md5_mismatch_never_establishes(lab: Lab, workdir: Path) -> None:
    pair = make_pair(lab, workdir, gobgp_kw={"password": "one"}, bird_kw={"password": "two"})

    def md5_rejections() -> int:
        return sum(
            v
            for ns in (pair.gns, pair.bns)
            for k, v in ns.netstat_counters().items()
            if k.startswith("TcpExt.TCPMD5")
        )

    ensure_never(
        lambda: "established" in (pair.gobgp.session_state(B4), pair.bird.session_state(G4)),
        duration=3,
        message="session came up despite mismatched MD5 passwords",
    )
    # Proves the routers did try, and the kernel dropped the segments for MD5.
    wait_for(md5_rejections, 5, message="no TCP MD5 failures counted")


def test_two_hop_multihop_session(lab: Lab, workdir: Path) -> None:
    a, b = lab.ns("a"), lab.ns("b")
    topo = lab.two_hop(a, b)
    assert a.ping(topo.b4, ttl=2) and not a.ping(topo.b4, ttl=1), "router must decrement TTL"
    g = GoBGPRouter(a, workdir, GOBGP_AS, topo.a4,
                    [PeerSpec(topo.b4, BIRD_AS, multihop_ttl=2),
                     PeerSpec(topo.b6, BIRD_AS, multihop_ttl=2, families=("ipv6",))])  # fmt: skip
    br = BirdRouter(b, workdir, BIRD_AS, topo.b4,
                    [PeerSpec(topo.a4, GOBGP_AS, multihop_ttl=2),
                     PeerSpec(topo.a6, GOBGP_AS, multihop_ttl=2, families=("ipv6",))])  # fmt: skip
    g.start()
    br.start()
    for gp, bp in ((topo.b4, topo.a4), (topo.b6, topo.a6)):
        g.wait_established(gp, timeout=20)
        br.wait_established(bp, timeout=20)
    g.announce(V4_PREFIX)
    g.announce(V6_PREFIX)
    # The next hop is two hops away: BIRD must resolve it recursively.
    (p4,) = br.wait_rib(lambda r: V4_PREFIX in r, "ipv4", timeout=10)[V4_PREFIX]
    (p6,) = br.wait_rib(lambda r: V6_PREFIX in r, "ipv6", timeout=10)[V6_PREFIX]
    assert p4["nexthop"] == topo.a4 and p4["gateway"] == topo.r_b4, p4
    assert p6["nexthop"] == topo.a6 and p6["gateway"] == topo.r_b6, p6


def test_restart_and_kill_are_seen_by_peer(lab: Lab, workdir: Path) -> None:
    pair = make_pair(lab, workdir)
    g, b = pair.gobgp, pair.bird
    b.wait_established(G4, timeout=30)
    g.kill()
    b.wait_state(G4, ("idle", "connect", "active"), timeout=10)
    g.start()
    b.wait_established(G4, timeout=30)
    b.restart()
    g.wait_established(B4, timeout=30)


def test_lab_close_removes_namespaces_and_processes(workdir: Path) -> None:
    with Lab() as lab:
        ns = lab.ns("x")
        proc = ns.popen(["sleep", "300"])
        name = ns.name
        assert Path("/run/netns", name).exists()
    assert proc.poll() is not None, "tracked process survived lab.close()"
    assert not Path("/run/netns", name).exists()

    # A namespace left behind by a dead test process is reaped by the next lab.
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"rk{dead.pid}xdead-left"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        assert not os.path.exists(f"/proc/{dead.pid}")
        assert stale in reap_stale_namespaces()
        assert not Path("/run/netns", stale).exists()
    finally:
        subprocess.run(["ip", "netns", "del", stale], check=False, capture_output=True)


@pytest.mark.parametrize("router_cls", [GoBGPRouter, BirdRouter])
def test_unknown_neighbor_is_an_error(lab: Lab, workdir: Path, router_cls: type) -> None:
    ns = lab.ns("solo")
    router = router_cls(ns, workdir, GOBGP_AS, G4, [PeerSpec(B4, BIRD_AS)])
    router.start()
    assert router.session_state(B4) in ("idle", "connect", "active")
    with pytest.raises(Exception):  # noqa: B017 - either daemon's own error type
        router.neighbor("192.0.2.99")
