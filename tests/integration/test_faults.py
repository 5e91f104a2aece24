"""Fault injection: what the routers see when a peer, a link or the API server fails.

Every test breaks one thing on purpose and judges the speaker by what a real
GoBGP router recorded: its RIB, its session state and a streaming monitor of
best-path changes (so a withdrawal that was undone a moment later still
counts).  Where the fault hits one peer, a second router shows that the
others are never disturbed: its session stays up with one established
transition (as the speaker counts it) and its monitor sees no withdrawal.

Kubernetes faults use the emulated API server's admin API; each such test
also checks that the speaker said what happened in one clear warning naming
the resource, and never dropped a route it still wants.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster_objects import pod, subnet
from kubeapi.harness import KubeAPI
from netlab import Lab, ensure_never, wait_for
from routers import GoBGPRouter, PeerSpec, RibMonitor
from speaker import BIN, SpeakerProcess
from topology import CLUSTER_AS, Side, Topology, build

PREFIXES = ["10.16.0.0/16", "10.16.0.12/32", "10.16.0.13/32", "172.31.0.5/32"]
# The speaker retries a peer every 5 s and GoBGP refuses reconnects for ~5 s
# after a drop: a re-establishment takes one or two rounds of both.
REESTABLISH = 40


# -- helpers ---------------------------------------------------------------------------


def _v4_peer(side: Side, **kw: Any) -> list[PeerSpec]:
    return [PeerSpec(side.speaker_v4, CLUSTER_AS, families=("ipv4",), **kw)]


def _exactly(prefixes: set[str] | list[str]) -> Callable[[dict[str, Any]], bool]:
    want = set(prefixes)
    return lambda rib: set(rib) == want


def _uptime_since(router: GoBGPRouter, address: str) -> int | None:
    """When GoBGP's session with *address* came up (epoch seconds): changes on any flap."""
    raw = router.neighbor(address)["raw"]
    uptime = ((raw.get("timers") or {}).get("state") or {}).get("uptime") or {}
    return uptime.get("seconds")


@dataclass
class Bystander:
    """The router that is not touched: its view before the fault, to compare after."""

    side: Side
    router: GoBGPRouter
    monitor: RibMonitor
    up_since: int | None

    def assert_undisturbed(self, spk: SpeakerProcess, prefixes: set[str]) -> None:
        detail = spk.neighbor(self.side.v4)
        assert detail["state"] == "established", f"the other peer went down: {detail}"
        assert detail["established_transitions"] == 1, (
            f"the other peer's session flapped: {detail['established_transitions']} "
            f"established transitions"
        )
        assert self.router.session_state(self.side.speaker_v4) == "established"
        assert _uptime_since(self.router, self.side.speaker_v4) == self.up_since, (
            "the other router's session was re-established"
        )
        withdrawn = [e.prefix for e in self.monitor.withdrawals()]
        assert withdrawn == [], f"the other router saw withdrawals: {withdrawn}"
        assert set(self.router.rib("ipv4")) == prefixes


@dataclass
class Pair:
    topo: Topology
    target: GoBGPRouter  # the router the fault hits
    other: GoBGPRouter
    spk: SpeakerProcess

    @property
    def side(self) -> Side:
        return self.topo.sides[0]

    @property
    def other_side(self) -> Side:
        return self.topo.sides[1]


def _two_routers(lab: Lab, workdir: Path, **options: Any) -> Pair:
    """The speaker with two GoBGP routers (IPv4 sessions), every prefix announced."""
    topo = build(lab, workdir, "gobgp", routers=2)
    routers = []
    for side in topo.sides:
        router = topo.router(side, _v4_peer(side))
        assert isinstance(router, GoBGPRouter)
        router.start()
        routers.append(router)
    spk = topo.speaker(neighbor_ipv6_address=None, **options).start()
    for side, router in zip(topo.sides, routers, strict=True):
        router.wait_established(side.speaker_v4)
    spk.announce(PREFIXES)
    for router in routers:
        router.wait_rib(_exactly(PREFIXES), "ipv4")
    return Pair(topo, routers[0], routers[1], spk)


def _watch_other(pair: Pair, monitor: RibMonitor) -> Bystander:
    side = pair.other_side
    return Bystander(side, pair.other, monitor, _uptime_since(pair.other, side.speaker_v4))


def _full_table_from_scratch(router: GoBGPRouter, side: Side, spk: SpeakerProcess) -> None:
    """The router's session with the speaker is back and carries every prefix."""
    router.wait_established(side.speaker_v4, timeout=REESTABLISH)
    rib = router.wait_rib(_exactly(PREFIXES), "ipv4", timeout=15)
    assert {p["nexthop"] for paths in rib.values() for p in paths} == {side.speaker_v4}
    assert router.neighbor(side.speaker_v4)["accepted"] == len(PREFIXES)
    detail = spk.wait_state(side.v4, "established", timeout=10)
    assert detail["prefixes"]["sent"] == len(PREFIXES)


# -- BGP side --------------------------------------------------------------------------


def test_peer_process_restart_gets_the_full_table_again(lab, workdir):
    pair = _two_routers(lab, workdir)
    side, spk = pair.side, pair.spk
    with pair.other.monitor("ipv4") as other_seen:
        other = _watch_other(pair, other_seen)
        pair.target.restart()
        # A fresh gobgpd starts with an empty RIB: whatever it holds afterwards
        # came over the new session.
        assert pair.target.rib("ipv4") == {}
        _full_table_from_scratch(pair.target, side, spk)
        assert spk.neighbor(side.v4)["established_transitions"] == 2
        other.assert_undisturbed(spk, set(PREFIXES))


def test_link_cut_until_hold_timer_then_link_up(lab, workdir):
    pair = _two_routers(lab, workdir, holdtime="3s")
    side, spk, target = pair.side, pair.spk, pair.target
    router_if = f"{pair.topo.speaker_ns.short}0"  # the router's end of the first link
    assert any(a["ifname"] == router_if for a in side.ns.addresses())
    assert spk.neighbor(side.v4)["hold_time"]["negotiated"] == 3
    with target.monitor("ipv4") as seen, pair.other.monitor("ipv4") as other_seen:
        other = _watch_other(pair, other_seen)
        side.ns.link_set(router_if, up=False)
        cut_at = time.monotonic()
        detail = wait_for(
            lambda: (d := spk.neighbor(side.v4))["state"] != "established" and d,
            timeout=15,
            interval=0.2,
            message="speaker kept the unreachable peer established",
        )
        down_after = time.monotonic() - cut_at
        assert 2 <= down_after < 8, f"peer declared down after {down_after:.1f}s, hold time 3s"
        assert detail["last_error"] and re.search(r"hold.?tim", detail["last_error"], re.I), (
            f"last_error does not say the hold timer expired: {detail['last_error']!r}"
        )
        # The router, as cut off as the speaker, drops the routes on its own timer.
        target.wait_rib(_exactly(set()), "ipv4", timeout=15)
        # Still cut: the speaker retries but cannot come back.
        ensure_never(lambda: spk.neighbor(side.v4)["state"] == "established", duration=3,
                     message="session came back over a cut link")  # fmt: skip
        assert {e.prefix for e in seen.withdrawals()} == set(PREFIXES)
        up_at = time.time()
        side.ns.link_set(router_if, up=True)
        _full_table_from_scratch(target, side, spk)
        announced_again = [e.prefix for e in seen.announcements() if e.timestamp >= up_at]
        assert sorted(announced_again) == sorted(PREFIXES), announced_again
        other.assert_undisturbed(spk, set(PREFIXES))
    log = spk.log_text()
    assert re.search(rf"neighbor {re.escape(side.v4)}: session down", log)


def test_peer_notification_reconnects_and_resends(lab, workdir):
    pair = _two_routers(lab, workdir)
    side, spk, target = pair.side, pair.spk, pair.target
    with target.monitor("ipv4") as seen, pair.other.monitor("ipv4") as other_seen:
        other = _watch_other(pair, other_seen)
        target.reset_neighbor(side.speaker_v4)  # NOTIFICATION Cease, gobgpd keeps running
        # The reset empties the router's view of the speaker; every prefix must
        # then be sent again over the new session.
        seen.wait_for(lambda ev: {e.prefix for e in ev if e.withdrawal} == set(PREFIXES),
                      timeout=10)  # fmt: skip
        # While it is down, the speaker's view should say why: the peer's Cease.
        down = wait_for(
            lambda: (d := spk.neighbor(side.v4))["state"] != "established" and d,
            timeout=5,
            message="the speaker still reports the session up",
        )
        _full_table_from_scratch(target, side, spk)
        withdrawn_at = max(e.timestamp for e in seen.withdrawals())
        resent = {e.prefix for e in seen.announcements() if e.timestamp >= withdrawn_at}
        assert resent == set(PREFIXES), f"re-sent after the reset: {resent}"
        detail = spk.neighbor(side.v4)
        assert detail["established_transitions"] == 2
        assert detail["messages"]["received"]["notification"] == 1
        other.assert_undisturbed(spk, set(PREFIXES))
    # Last, so that the recovery above is checked even while this fails.
    assert down["last_error"] and re.search(r"code=6\b|cease", down["last_error"], re.I), (
        f"while down, last_error does not name the NOTIFICATION received: {down!r}"
    )


def test_unreachable_peer_at_start_up_never_delays_the_others(lab, workdir):
    topo = build(lab, workdir, "gobgp", routers=2)
    dead_side, live_side = topo.sides
    dead = "192.0.2.99"  # on the first link, where nothing answers (yet): ARP fails
    live = topo.router(live_side, _v4_peer(live_side))
    assert isinstance(live, GoBGPRouter)
    live.start()
    with live.monitor("ipv4") as live_seen:
        started = time.monotonic()
        # Production logging (no --verbose): the log an operator would read.
        spk = topo.speaker(neighbor_address=[dead, live_side.v4], neighbor_ipv6_address=None,
                           verbose=False).start()  # fmt: skip
        spk.announce(PREFIXES)
        live.wait_established(live_side.speaker_v4, timeout=15)
        live.wait_rib(_exactly(PREFIXES), "ipv4", timeout=10)
        took = time.monotonic() - started
        assert took < 15, f"the working router waited {took:.1f}s for its routes"
        up_since = _uptime_since(live, live_side.speaker_v4)

        # The dead peer is tried again and again (connect -> not connected ->
        # connect), never reported up.
        states: list[str] = []

        def retried() -> bool:
            state = spk.neighbor(dead)["state"]
            assert state != "established", f"{dead} reported established"
            if not states or states[-1] != state:
                states.append(state)
            return states.count("connect") >= 2

        wait_for(retried, timeout=30, interval=0.1,
                 message=f"the speaker did not retry {dead}")  # fmt: skip
        tries_logged = _connect_failures(spk, dead)

        # A router appears at that address: it gets the full table.
        dead_side.ns.add_address(f"{topo.speaker_ns.short}0", f"{dead}/24")
        router = GoBGPRouter(dead_side.ns, workdir, 65000, dead, _v4_peer(dead_side))
        topo.routers.append(router)
        router.start()
        router.wait_established(dead_side.speaker_v4, timeout=REESTABLISH)
        rib = router.wait_rib(_exactly(PREFIXES), "ipv4", timeout=15)
        assert {p["nexthop"] for paths in rib.values() for p in paths} == {dead_side.speaker_v4}
        assert spk.neighbor(dead)["state"] == "established"

        detail = spk.neighbor(live_side.v4)
        assert detail["state"] == "established" and detail["established_transitions"] == 1
        assert _uptime_since(live, live_side.speaker_v4) == up_since
        assert live_seen.withdrawals() == []
    # Last, so that everything above is checked even while this fails: the
    # operator's log must say that the peer is being retried, and why.
    assert tries_logged, (
        f"{len(states)} state changes toward {dead} ({states}), yet the speaker's log "
        f"(default level) never mentions a failed connection to it:\n{spk.tail(15)}"
    )


def _connect_failures(spk: SpeakerProcess, address: str) -> list[str]:
    """Log lines saying that a connection to *address* failed or is retried."""
    rx = re.compile(
        rf"(?i)\b{re.escape(address)}\b.*(reconnect|retry|retrying|unreachable|"
        rf"refused|timed out|timeout|could not|cannot|failed)"
    )
    return [line for line in spk.log_text().splitlines() if rx.search(line)]


# -- Kubernetes side -------------------------------------------------------------------

PODS_PATH = r"^/api/v1/pods$"  # regex: the speaker's list and watch path (all namespaces)
PODS_WATCH = "/api/v1/pods"  # the path the emulator's stats give the speaker's pod watch
PODS_LOG = "kubernetes v1/pods"  # how the speaker's log lines name that resource
SUBNET = subnet("net", "10.16.0.0/16", bgp="true")
KEPT = {"10.16.0.0/16", "10.16.0.10/32", "10.16.0.12/32"}
DELETED, ADDED = "10.16.0.11/32", "10.16.0.13/32"



def _pod(name: str, ip: str) -> dict[str, Any]:
    return pod(name, ip, "net")


INITIAL = [SUBNET, _pod("a", "10.16.0.10"), _pod("b", "10.16.0.11"), _pod("c", "10.16.0.12")]


@dataclass
class Cluster:
    side: Side
    router: GoBGPRouter
    api: KubeAPI
    spk: SpeakerProcess


def _cluster(lab: Lab, workdir: Path, *, slow_pods: float = 0.0) -> Cluster:
    """One GoBGP router, the emulated cluster loaded, the speaker synced and announcing."""
    topo = build(lab, workdir, "gobgp")
    side = topo.sides[0]
    router = topo.router(side, _v4_peer(side))
    assert isinstance(router, GoBGPRouter)
    router.start()
    api = topo.cluster()
    api.load(INITIAL)
    if slow_pods:
        api.admin.delay(PODS_PATH, slow_pods, times=None)
    spk = topo.speaker(neighbor_ipv6_address=None)
    return Cluster(side, router, api, spk)


def _started(cluster: Cluster) -> Cluster:
    cluster.spk.start()
    cluster.router.wait_established(cluster.side.speaker_v4)
    cluster.router.wait_rib(_exactly(KEPT | {DELETED}), "ipv4")
    cluster.spk.wait_ready()
    return cluster


def _change_pods(api: KubeAPI) -> None:
    """The change the speaker must learn of: pod b goes away, pod d appears."""
    api.delete("Pod", "b", "shop")
    api.create(_pod("d", "10.16.0.13"))


def _converged_after_change(cluster: Cluster, seen: RibMonitor, timeout: float = 30) -> None:
    """The router holds the exact wanted set; it saw exactly one withdrawal and one
    announcement (the changed pods), so no still-wanted prefix ever flapped."""
    cluster.router.wait_rib(_exactly(KEPT | {ADDED}), "ipv4", timeout=timeout)
    _quiet(seen, 1.0)
    withdrawn = [e.prefix for e in seen.withdrawals()]
    announced = [e.prefix for e in seen.announcements()]
    assert withdrawn == [DELETED], f"the router saw withdrawals {withdrawn}"
    assert announced == [ADDED], f"the router saw announcements {announced}"


def _quiet(seen: RibMonitor, seconds: float) -> None:
    """No new monitor event for *seconds* (late flaps would show up here)."""
    count = len(seen.events)
    ensure_never(lambda: len(seen.events) != count and seen.events[count:], duration=seconds,
                 message="the router kept receiving updates after converging")  # fmt: skip


def _warnings(spk: SpeakerProcess, resource: str, pattern: str = "") -> list[str]:
    rx = re.compile(rf"WARNING\s+\S+: {re.escape(resource)}\b.*{pattern}")
    return [line for line in spk.log_text().splitlines() if rx.search(line)]


def _assert_no_k8s_traceback(spk: SpeakerProcess) -> None:
    log = spk.log_text()
    assert "unexpected error" not in log and "on_change failed" not in log, (
        "the watcher met an unforeseen error:\n" + spk.tail(40)
    )


def _lists(api: KubeAPI) -> int:
    return int(api.admin.requests().get("GET /api/v1/pods", 0))


def _next_pod_watch(api: KubeAPI, after: int, timeout: float = 15) -> int:
    """Wait for the speaker's pod watch newer than watch *after* to be open; its id."""

    def newer() -> int:
        ids = [w["id"] for w in api.admin.stats()["watches"] if PODS_WATCH in w["path"]]
        return max([i for i in ids if i > after], default=0)

    return wait_for(newer, timeout=timeout, interval=0.05,
                    message=f"no new pod watch after watch {after}")  # fmt: skip


def _watch_requests(api: KubeAPI) -> int:
    return int(api.admin.requests().get("WATCH /api/v1/pods", 0))


def test_api_server_down_60s_keeps_every_route_and_catches_up(lab, workdir):
    cluster = _started(_cluster(lab, workdir))
    router, api, spk = cluster.router, cluster.api, cluster.spk
    with router.monitor("ipv4") as seen:
        # The pod stream goes dark first, so the speaker cannot see the change
        # below before the outage; history is compacted, so it can only learn
        # of the deletion by relisting after the outage.
        api.admin.fail(PODS_PATH, status=500, times=None, watch=True)
        api.admin.drop_watches(path=PODS_PATH)
        wait_for(lambda: _warnings(spk, PODS_LOG, "HTTP 500"), timeout=10,
                 message="the speaker never tried to re-watch the pods")  # fmt: skip
        _change_pods(api)
        api.admin.compact()
        warned_before = len(_warnings(spk, PODS_LOG))
        # admin.down keeps the process, so its port, objects, history and the fault
        # above; api.restart(keep_state=True) would keep the port and objects too,
        # but block this thread for the whole outage and lose the injected fault.
        api.admin.down(60)
        down_at = time.monotonic()
        before = KEPT | {DELETED}

        def disturbed() -> object:
            rib = set(router.rib("ipv4"))
            return seen.events or (rib != before and rib)

        ensure_never(
            disturbed,
            duration=57,
            interval=0.5,
            message="the router's table changed while the API server was down",
        )
        wait_for(api.admin.healthz, timeout=15, interval=0.2,
                 message="the emulator never came back")  # fmt: skip
        outage = time.monotonic() - down_at
        api.admin.clear_faults()
        _converged_after_change(cluster, seen, timeout=45)
    assert outage >= 59, f"the outage lasted only {outage:.1f}s"
    assert spk.neighbor(cluster.side.v4)["established_transitions"] == 1
    # Said, once per attempt and with backoff (not a flood): what failed, for which resource.
    outage_warnings = _warnings(spk, PODS_LOG)[warned_before:]
    assert outage_warnings, "no warning about the pods while the API server was down"
    assert len(outage_warnings) <= 20, f"{len(outage_warnings)} warnings: no backoff?"
    assert any(re.search(r"(?i)refused|closed|reset|disconnect|aborted", line)
               for line in outage_warnings), outage_warnings  # fmt: skip
    assert _warnings(spk, "kubernetes kubeovn.io/v1/subnets"), "the subnets' outage unsaid"
    assert re.search(rf"{re.escape(PODS_LOG)}.*relisted", spk.log_text())
    _assert_no_k8s_traceback(spk)


def test_watch_connection_resets_lose_nothing(lab, workdir):
    cluster = _started(_cluster(lab, workdir))
    router, api, spk = cluster.router, cluster.api, cluster.spk
    lists = _lists(api)
    with router.monitor("ipv4") as seen:
        watch = 0
        for _ in range(4):
            watch = _next_pod_watch(api, watch)
            assert api.admin.drop_watches(path=PODS_PATH, mode="reset") == 1
        # Then every re-watch is reset before any answer, while the pods change:
        # the re-watch from the last resourceVersion must replay the change.
        watch = _next_pod_watch(api, watch)
        watches = _watch_requests(api)
        api.admin.reset_connections(PODS_PATH, times=None, watch=True)
        assert api.admin.drop_watches(path=PODS_PATH, mode="reset") == 1
        wait_for(lambda: _watch_requests(api) >= watches + 2, timeout=10,
                 message="the speaker did not retry the reset watch")  # fmt: skip
        _change_pods(api)
        ensure_never(lambda: set(router.rib("ipv4")) != KEPT | {DELETED}, duration=1,
                     message="the change arrived though no pod stream could open")  # fmt: skip
        api.admin.clear_faults()
        _converged_after_change(cluster, seen)
    _next_pod_watch(api, watch)
    assert _lists(api) == lists, "a broken stream must be resumed, not relisted"
    # One warning per broken stream (5) and per reset request (at least 2).
    assert len(_warnings(spk, PODS_LOG, "broke")) >= 5
    assert len(_warnings(spk, PODS_LOG, "request failed.*(aborted|reset|closed)")) >= 2
    _assert_no_k8s_traceback(spk)


def test_repeated_410_relists_without_flapping(lab, workdir):
    cluster = _started(_cluster(lab, workdir))
    router, api, spk = cluster.router, cluster.api, cluster.spk
    lists = _lists(api)
    with router.monitor("ipv4") as seen:
        watch = 0
        for round_ in range(3):
            watch = _next_pod_watch(api, watch)
            if round_ == 1:
                _change_pods(api)  # between the first two 410s
            api.admin.compact()
            assert api.admin.expire_watches(path=PODS_PATH) == 1
            wait_for(lambda n=round_: _lists(api) >= lists + n + 1, timeout=15,
                     message="the speaker did not relist after 410")  # fmt: skip
        # And 410 straight on the watch requests that follow a relist, twice.
        watch = _next_pod_watch(api, watch)
        api.admin.fail(PODS_PATH, status=410, times=2, watch=True)
        api.admin.compact()
        assert api.admin.expire_watches(path=PODS_PATH) == 1
        _next_pod_watch(api, watch, timeout=20)  # after the two 410 answers
        _converged_after_change(cluster, seen)
    # Six 410s (four ERROR events, two HTTP answers): six relists, each said in one line
    # naming the resource; those that come right after a relist are warnings.
    assert _lists(api) == lists + 6, f"{_lists(api) - lists} relists for six 410s"
    pod_lines = [line for line in spk.log_text().splitlines() if PODS_LOG in line]
    # In the message, not the timestamp: "19:26:19,410" is a millisecond count.
    said = [line for line in pod_lines if "410" in line.split(PODS_LOG, 1)[1]]
    assert len(said) == 6, "\n".join(said)
    assert len([line for line in pod_lines if "relisted" in line]) == 6
    assert len(_warnings(spk, PODS_LOG, "410.*again right after a relist")) >= 2
    _assert_no_k8s_traceback(spk)


_READYZ = """
import sys, urllib.error, urllib.request
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=2)
    print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
"""


def test_slow_pod_list_and_watch_still_converge(lab, workdir):
    delay = 3.0
    cluster = _cluster(lab, workdir, slow_pods=delay)
    router, api, spk = cluster.router, cluster.api, cluster.spk
    spk.start(wait=False)
    listed_at: list[float] = []
    waiting: list[str] = []

    def readyz() -> bool:
        if not listed_at and _lists(api):
            listed_at.append(time.monotonic())  # counted when asked, before the delay
        spk.check_alive()
        argv = [str(BIN / "python"), "-c", _READYZ, spk.url + "/readyz"]
        out = spk.ns.run(argv, check=False).stdout
        code, _, body = out.partition(" ")
        if code == "503":
            waiting.append(body)
        return code == "200"

    wait_for(readyz, timeout=30, interval=0.1, message="speaker never became ready")
    ready_at = time.monotonic()
    assert listed_at, "ready before the pods were even listed"
    assert ready_at - listed_at[0] >= delay - 0.5, (
        f"ready {ready_at - listed_at[0]:.1f}s after the pod list was asked, which takes {delay}s"
    )
    assert any("pods list" in body for body in waiting), waiting
    wanted = {r["prefix"] for r in spk.ctl("announcements")}
    assert wanted == KEPT | {DELETED}, f"ready, but the announcements are {wanted}"
    router.wait_established(cluster.side.speaker_v4)
    router.wait_rib(_exactly(KEPT | {DELETED}), "ipv4")
    with router.monitor("ipv4") as seen:
        _next_pod_watch(api, 0)
        assert api.admin.drop_watches(path=PODS_PATH) == 1  # the re-watch is slow too
        _change_pods(api)
        _converged_after_change(cluster, seen, timeout=30)
    assert api.stats()["delays"][0]["hits"] >= 3  # list, watch, re-watch: all slow
    _assert_no_k8s_traceback(spk)
