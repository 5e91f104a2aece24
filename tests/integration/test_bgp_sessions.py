"""Every session option of the contract, judged by what a real router records.

Each test runs against GoBGP and against BIRD 2; the speaker is the real
``ryu-manager ryu_kovn.app`` in its own namespace.  Assertions read the
router's own view (``gobgp neighbor``/``global rib``, ``birdc show ...``).
"""

from __future__ import annotations

import os
import signal

import pytest
from netlab import ensure_never, wait_for
from routers import PeerSpec
from topology import CLUSTER_AS, build, speaker_peers

V4 = ["10.16.0.0/16", "10.16.0.12/32"]
V6 = ["fd00:10:16::/64", "fd00:10:16::c/128"]


@pytest.fixture(params=["gobgp", "bird"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def _has_exactly(prefixes: list[str]):  # type: ignore[no-untyped-def]
    return lambda rib: set(rib) == set(prefixes)


def test_dual_stack_switch_pair_announce_withdraw_and_resend(lab, workdir, kind):
    topo = build(lab, workdir, kind, routers=2)
    routers = [topo.router(s, speaker_peers(s)) for s in topo.sides]
    for r in routers:
        r.start()
    spk = topo.speaker().start()
    for side, r in zip(topo.sides, routers, strict=True):
        r.wait_established(side.speaker_v4)
        r.wait_established(side.speaker_v6)

    spk.announce(V4 + V6)
    for side, r in zip(topo.sides, routers, strict=True):
        # IPv4 prefixes only to IPv4 peers, IPv6 only to IPv6 peers.
        rib4 = r.wait_rib(_has_exactly(V4), "ipv4")
        rib6 = r.wait_rib(_has_exactly(V6), "ipv6")
        for prefix in V4:
            path = rib4[prefix][0]
            assert path["nexthop"] == side.speaker_v4
            assert path["as_path"] == [CLUSTER_AS]
        for prefix in V6:
            path = rib6[prefix][0]
            assert path["nexthop"] == side.speaker_v6  # global, not link-local
            assert path["as_path"] == [CLUSTER_AS]

    spk.withdraw(["10.16.0.12/32", "fd00:10:16::c/128"])
    for r in routers:
        r.wait_rib(_has_exactly(["10.16.0.0/16"]), "ipv4")
        r.wait_rib(_has_exactly(["fd00:10:16::/64"]), "ipv6")

    # A session reset re-sends everything still announced.
    first, side = routers[0], topo.sides[0]
    first.restart()
    first.wait_established(side.speaker_v4, timeout=40)
    first.wait_established(side.speaker_v6, timeout=40)
    first.wait_rib(_has_exactly(["10.16.0.0/16"]), "ipv4")
    first.wait_rib(_has_exactly(["fd00:10:16::/64"]), "ipv6")
    # The other router was not disturbed: still one established transition.
    other = spk.neighbor(topo.sides[1].v4)
    assert other["state"] == "established" and other["established_transitions"] == 1


def test_node_ips_replace_the_pod_ip_as_next_hop(lab, workdir, kind):
    topo = build(lab, workdir, kind)
    side = topo.sides[0]
    # The node owns a second address on the same link, so it is a valid
    # directly connected next hop for the router.
    node_v4, node_v6 = "192.0.2.11", "2001:db8:1::11"
    ifname = side.speaker_ifname
    topo.speaker_ns.add_address(ifname, f"{node_v4}/24")
    # Deprecated, so the kernel keeps choosing the pod IP as the IPv6 source.
    topo.speaker_ns.run(["ip", "addr", "add", f"{node_v6}/64", "dev", ifname,
                         "nodad", "preferred_lft", "0"])  # fmt: skip
    r = topo.router(side, speaker_peers(side))
    r.start()
    # The speaker runs as a pod: its route lookup source is the pod IP.
    spk = topo.speaker(
        node_ips=[node_v4, node_v6],
        env={"POD_IPS": f"{side.speaker_v4},{side.speaker_v6}"},
    ).start()
    spk.announce(["10.16.0.12/32", "fd00:10:16::c/128"])
    rib4 = r.wait_rib(_has_exactly(["10.16.0.12/32"]), "ipv4")
    rib6 = r.wait_rib(_has_exactly(["fd00:10:16::c/128"]), "ipv6")
    assert rib4["10.16.0.12/32"][0]["nexthop"] == node_v4
    assert rib6["fd00:10:16::c/128"][0]["nexthop"] == node_v6
    # The session itself still runs from the pod IP; the views say both.
    detail = spk.neighbor(side.v4)
    assert detail["local_address"] == side.speaker_v4
    assert detail["next_hop"] == node_v4
    assert {r["next_hop"] for r in spk.ctl("neighbor", side.v4, "adj-out")} == {node_v4}


def test_hold_time_is_negotiated_and_a_silent_peer_is_dropped(lab, workdir, kind):
    topo = build(lab, workdir, kind)
    side = topo.sides[0]
    r = topo.router(side, speaker_peers(side, hold_time=30))
    r.start()
    spk = topo.speaker(holdtime="3s", neighbor_ipv6_address=None).start()
    seen = r.wait_established(side.speaker_v4)
    assert seen["hold_time"] == 3  # the lower of 3 and 30, as the router sees it
    assert spk.neighbor(side.v4)["hold_time"] == {"configured": 3, "negotiated": 3}

    # Freeze the router: no more KEEPALIVEs.  The speaker must declare it
    # down once 3 s pass without one, not after Ryu's 40 s default.
    os.kill(r.proc.pid, signal.SIGSTOP)
    try:
        frozen_at = _now()
        detail = wait_for(
            lambda: (d := spk.neighbor(side.v4))["state"] != "established" and d,
            timeout=15, interval=0.2, message="speaker kept the silent peer established",
        )
        assert _now() - frozen_at < 10
        assert detail["last_error"], "the views should say why the session went down"
    finally:
        os.kill(r.proc.pid, signal.SIGCONT)


def _now() -> float:
    import time

    return time.monotonic()


def test_passive_speaker_never_connects(lab, workdir, kind):
    topo = build(lab, workdir, kind)
    side = topo.sides[0]
    # Both passive: nobody opens a connection, so no session can ever form.
    r = topo.router(side, speaker_peers(side, passive=True))
    r.start()
    spk = topo.speaker(passivemode=True).start()
    ensure_never(
        lambda: r.session_state(side.speaker_v4) == "established"
        or spk.neighbor(side.v4)["state"] == "established",
        duration=8, message="a session came up though both sides are passive",
    )
    r.stop()

    # An active router reaches the passive speaker on its listening port.
    active = topo.router(side, speaker_peers(side))
    active.start()
    active.wait_established(side.speaker_v4)
    active.wait_established(side.speaker_v6)
    spk.announce(["10.16.0.12/32"])
    active.wait_rib(_has_exactly(["10.16.0.12/32"]), "ipv4")


@pytest.mark.parametrize("router_password", ["s3cret-md5", "wrong-password", None])
def test_tcp_md5_password(lab, workdir, kind, router_password):
    topo = build(lab, workdir, kind)
    side = topo.sides[0]
    r = topo.router(side, speaker_peers(side, password=router_password))
    r.start()
    spk = topo.speaker(auth_password="s3cret-md5").start()
    if router_password == "s3cret-md5":
        r.wait_established(side.speaker_v4)
        r.wait_established(side.speaker_v6)
        spk.announce(["10.16.0.12/32"])
        r.wait_rib(_has_exactly(["10.16.0.12/32"]), "ipv4")
        assert spk.neighbor(side.v4)["authentication"] == "tcp-md5"
    else:
        ensure_never(
            lambda: r.session_state(side.speaker_v4) == "established"
            or spk.neighbor(side.v4)["state"] == "established",
            duration=8, message=f"session up with router password {router_password!r}",
        )
    assert "TypeError" not in spk.log_text()


@pytest.mark.parametrize("ttl", [1, 2])
def test_ebgp_multihop_sets_the_ip_ttl(lab, workdir, kind, ttl):
    hop = lab.two_hop(lab.ns("spk"), lab.ns("r1"))
    from topology import Side, Topology

    topo = Topology(lab, workdir, kind, hop.a)
    side = Side(hop.b, hop.b4, hop.b6, hop.a4, hop.a6)
    topo.sides.append(side)
    # The router accepts multihop sessions; only the speaker's TTL decides.
    r = topo.router(side, speaker_peers(side, multihop_ttl=255))
    r.start()
    spk = topo.speaker(ebgp_multihop=ttl, env={"POD_IP": hop.a4}).start()
    if ttl == 1:
        ensure_never(
            lambda: spk.neighbor(side.v4)["state"] == "established",
            duration=8, message="session crossed a router with TTL 1",
        )
    else:
        r.wait_established(side.speaker_v4)
        r.wait_established(side.speaker_v6)
        assert spk.neighbor(side.v4)["ttl"] == 2
        spk.announce(["10.16.0.12/32"])
        rib = r.wait_rib(_has_exactly(["10.16.0.12/32"]), "ipv4")
        assert rib["10.16.0.12/32"][0]["nexthop"] == hop.a4


def test_router_announcements_show_in_adj_in_and_rib(lab, workdir, kind):
    topo = build(lab, workdir, kind)
    side = topo.sides[0]
    r = topo.router(side, [PeerSpec(side.speaker_v4, CLUSTER_AS, families=("ipv4",))])
    r.start()
    spk = topo.speaker(neighbor_ipv6_address=None).start()
    r.wait_established(side.speaker_v4)
    r.announce("203.0.113.0/24", nexthop=side.v4)
    wait_for(lambda: spk.ctl("neighbor", side.v4, "adj-in"), timeout=20,
             message="adj-in stayed empty")  # fmt: skip
    (received,) = spk.ctl("neighbor", side.v4, "adj-in")
    assert received["prefix"] == "203.0.113.0/24"
    assert received["next_hop"] == side.v4
    rib = {row["prefix"]: row for row in spk.ctl("rib")}
    assert rib["203.0.113.0/24"]["source"] == side.v4


def test_peer_on_a_non_standard_port(lab, workdir, kind):
    # Ryu told its own connections from incoming ones by "remote port is 179":
    # an active session to any other port was rejected with a Cease.
    topo = build(lab, workdir, kind)
    side = topo.sides[0]
    r = topo.router(side, speaker_peers(side, passive=True), listen_port=1179)
    r.start()
    spk = topo.speaker(neighbor_port=1179).start()
    r.wait_established(side.speaker_v4)
    r.wait_established(side.speaker_v6)
    assert spk.neighbor(side.v6)["port"] == 1179
    assert "Connection Rejected" not in spk.log_text()
