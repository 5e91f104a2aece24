"""Kubernetes objects become routes: emulated API server, real speaker, real routers.

Each test writes objects through the emulated API server (real watch
semantics) and judges the result by the router's own table: what arrives,
with which next hop (so from which node), and what the router saw withdrawn.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_objects import BGP, pod, subnet
from kubeapi.harness import KubeAPI
from kubelink import KubeLink
from netlab import Lab, ensure_never, wait_for
from routers import PeerSpec, Router
from speaker import SpeakerProcess
from topology import CLUSTER_AS, ROUTER_AS, ROUTER_KINDS, Side, build, speaker_peers

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "kube-ovn" / "samples.yaml"


@pytest.fixture(params=["gobgp", "bird"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def _samples() -> list[dict[str, Any]]:
    if not SAMPLES.exists():
        pytest.skip(f"shared samples not found at {SAMPLES}")
    return [d for d in yaml.safe_load_all(SAMPLES.read_text()) if d]




def _exactly(prefixes: set[str]):  # type: ignore[no-untyped-def]
    return lambda rib: set(rib) == prefixes


@dataclass
class OneNode:
    side: Side
    router: Router
    api: KubeAPI
    spk: SpeakerProcess


def _one_node(lab: Lab, workdir: Path, kind: str, **options: Any) -> OneNode:
    topo = build(lab, workdir, kind)
    side = topo.sides[0]
    router = topo.router(side, speaker_peers(side))
    router.start()
    api = topo.cluster()
    spk = topo.speaker(**options).start()
    router.wait_established(side.speaker_v4)
    router.wait_established(side.speaker_v6)
    return OneNode(side, router, api, spk)


def test_pod_annotation_deletion_and_death(lab, workdir, kind):
    one = _one_node(lab, workdir, kind)
    router, api, spk = one.router, one.api, one.spk
    api.create(subnet("ovn-default", "10.16.0.0/16,fd00:10:16::/64"))
    api.create(pod("web-0", "10.16.0.12,fd00:10:16::c", "ovn-default"))
    spk.wait_ready()
    assert spk.ctl("announcements") == []

    api.annotate("Pod", "web-0", namespace="shop", annotations={BGP: "true"})
    router.wait_rib(_exactly({"10.16.0.12/32"}), "ipv4")
    router.wait_rib(_exactly({"fd00:10:16::c/128"}), "ipv6")

    api.annotate("Pod", "web-0", namespace="shop", annotations={BGP: None})
    router.wait_rib(_exactly(set()), "ipv4")
    router.wait_rib(_exactly(set()), "ipv6")

    api.annotate("Pod", "web-0", namespace="shop", annotations={BGP: "true"})
    router.wait_rib(_exactly({"10.16.0.12/32"}), "ipv4")
    api.delete("Pod", "web-0", "shop")
    router.wait_rib(_exactly(set()), "ipv4")
    router.wait_rib(_exactly(set()), "ipv6")

    # A Job's pod that finishes: announced while running, withdrawn once Succeeded.
    api.create(pod("job-1", "10.16.0.99", "ovn-default", bgp="true", restart="Never"))
    router.wait_rib(_exactly({"10.16.0.99/32"}), "ipv4")
    api.patch_status("Pod", "job-1", namespace="shop", status={"phase": "Succeeded"})
    router.wait_rib(_exactly(set()), "ipv4")


def _two_nodes(lab: Lab, workdir: Path, kind: str):  # type: ignore[no-untyped-def]
    """One router, two speakers (node-a on 192.0.2.0/24, node-b on 198.51.100.0/24)."""
    r = lab.ns("r1")
    nodes = {"node-a": ("spka", "192.0.2"), "node-b": ("spkb", "198.51.100")}
    api = KubeAPI(workdir=workdir / "kubeapi")
    api.start()
    lab.on_close(api.close)
    peers, speakers = [], {}
    for node, (short, net) in nodes.items():
        ns = lab.ns(short)
        lab.link(ns, r, [f"{net}.1/24"], [f"{net}.2/24"])
        peers.append(PeerSpec(f"{net}.1", CLUSTER_AS, families=("ipv4",)))
        link = KubeLink(ns, api.port)
        lab.on_close(link.close)
        speakers[node] = SpeakerProcess(ns, workdir, {
            "kubeconfig": str(link.kubeconfig), "node_name": node,
            "cluster_as": CLUSTER_AS, "neighbor_as": ROUTER_AS,
            "neighbor_address": f"{net}.2",
        }, env={"POD_IP": f"{net}.1"}, name=f"speaker-{node}")  # fmt: skip
    router: Router = ROUTER_KINDS[kind](r, workdir, ROUTER_AS, "192.0.2.2", peers)
    router.start()
    for spk in speakers.values():
        spk.start()
    router.wait_established("192.0.2.1")
    router.wait_established("198.51.100.1")
    return router, api, speakers


def _paths(rib: dict[str, list[dict[str, Any]]]) -> dict[str, set[str]]:
    return {prefix: {p["nexthop"] for p in paths} for prefix, paths in rib.items()}


def test_subnet_between_cluster_and_local_from_two_nodes(lab, workdir, kind):
    router, api, _ = _two_nodes(lab, workdir, kind)
    both = {"192.0.2.1", "198.51.100.1"}
    api.create(subnet("edge", "10.70.0.0/24", bgp="cluster"))
    api.create(pod("on-a", "10.70.0.10", "edge", node="node-a"))
    api.create(pod("on-b", "10.70.0.9", "edge", node="node-b"))
    cluster = {"10.70.0.0/24": both, "10.70.0.10/32": both, "10.70.0.9/32": both}
    router.wait_rib(lambda rib: _paths(rib) == cluster, "ipv4")

    api.annotate("Subnet", "edge", namespace=None, annotations={BGP: "local"})
    local = {"10.70.0.10/32": {"192.0.2.1"}, "10.70.0.9/32": {"198.51.100.1"}}
    router.wait_rib(lambda rib: _paths(rib) == local, "ipv4")

    api.annotate("Subnet", "edge", namespace=None, annotations={BGP: "cluster"})
    router.wait_rib(lambda rib: _paths(rib) == cluster, "ipv4")

    # A pod's own annotation overrides its subnet's: Local on node-a only.
    api.annotate("Pod", "on-a", namespace="shop", annotations={BGP: "local"})
    override = {**cluster, "10.70.0.10/32": {"192.0.2.1"}}
    router.wait_rib(lambda rib: _paths(rib) == override, "ipv4")


def test_samples_as_seen_from_node_a(lab, workdir, kind):
    one = _one_node(lab, workdir, kind, announce_cluster_ip=True)
    router, api, spk = one.router, one.api, one.spk
    api.load(_samples())
    v4 = {"10.16.0.0/16", "10.16.0.12/32", "172.31.0.5/32", "10.70.0.10/32", "10.16.0.44/32",
          "10.96.12.7/32"}  # fmt: skip
    v6 = {"fd00:10:16::/64", "fd00:10:16::c/128", "fd00:10:96::a07/128"}
    rib = router.wait_rib(_exactly(v4), "ipv4")
    router.wait_rib(_exactly(v6), "ipv6")
    assert {p["nexthop"] for paths in rib.values() for p in paths} == {one.side.speaker_v4}

    why = {row["prefix"]: row["reasons"] for row in spk.ctl("announcements")}
    assert why["172.31.0.5/32"] == [{"source": "Pod/shop/web-0", "policy": "cluster"}]
    assert why["10.70.0.10/32"] == [{"source": "Pod/shop/cache-2", "policy": "local"}]
    assert why["10.96.12.7/32"] == [{"source": "Service/shop/api", "policy": "cluster"}]
    assert why["10.16.0.0/16"] == [{"source": "Subnet/ovn-default", "policy": "cluster"}]
    table = spk.ctl_text("announcements")
    assert "Pod/shop/cache-2" in table and "local" in table
    # The typo pod was skipped with one warning naming it; the rest went on.
    assert spk.log_text().count("Pod/shop/typo") >= 1
    assert "clutser" in spk.log_text()

    # ClusterIP service: de-annotating withdraws both families.
    api.annotate("Service", "api", namespace="shop", annotations={BGP: None})
    router.wait_rib(_exactly(v4 - {"10.96.12.7/32"}), "ipv4")
    router.wait_rib(_exactly(v6 - {"fd00:10:96::a07/128"}), "ipv6")


def test_nat_gateway_mode_announces_only_its_ready_eips(lab, workdir):
    topo = build(lab, workdir, "gobgp")
    side = topo.sides[0]
    router = topo.router(side, speaker_peers(side))
    router.start()
    api = topo.cluster()
    api.load(_samples())
    topo.speaker(nat_gw_mode=True,
                 env={"POD_IP": side.speaker_v4, "GATEWAY_NAME": "gw1"}).start()  # fmt: skip
    router.wait_rib(_exactly({"198.51.100.10/32"}), "ipv4")
    api.patch_status("IptablesEIP", "eip-new", namespace=None, status={"ready": True})
    router.wait_rib(_exactly({"198.51.100.10/32", "198.51.100.11/32"}), "ipv4")
    api.delete("IptablesEIP", "eip-web")
    router.wait_rib(_exactly({"198.51.100.11/32"}), "ipv4")
    # Pods, Subnets and Services are not even watched in this mode.
    asked = " ".join(api.admin.requests())
    assert "iptables-eips" in asked
    assert "/pods" not in asked and "subnets" not in asked and "/services" not in asked
    ensure_never(lambda: "10.16.0.0/16" in router.rib("ipv4"), duration=2)


def test_relist_withdraws_only_what_was_deleted_meanwhile(lab, workdir):
    one = _one_node(lab, workdir, "gobgp")
    router, api, spk = one.router, one.api, one.spk
    api.load([d for d in _samples() if d["kind"] in ("Subnet", "Pod")])
    kept = {"10.16.0.0/16", "10.16.0.12/32", "172.31.0.5/32", "10.16.0.44/32"}
    router.wait_rib(_exactly(kept | {"10.70.0.10/32"}), "ipv4")

    with router.monitor("ipv4") as seen:
        # The pod stream goes down and stays down while cache-2 is deleted and
        # history is compacted: the watcher can only resume through 410 + relist.
        api.admin.fail(r"/api/v1/pods", status=500, times=None, watch=True)
        api.admin.drop_watches()
        api.delete("Pod", "cache-2", "shop")
        api.admin.compact()
        api.admin.expire_watches()  # the Subnet stream gets its 410 too
        api.admin.clear_faults()
        router.wait_rib(_exactly(kept), "ipv4")
        wait_for(lambda: spk.ctl("announcements") and
                 {r["prefix"] for r in spk.ctl("announcements")} == kept | _v6_samples(),
                 timeout=10, message="speaker's wanted set after the relist")  # fmt: skip
    assert [e.prefix for e in seen.withdrawals()] == ["10.70.0.10/32"]
    assert [e.prefix for e in seen.announcements()] == []  # nothing re-announced: no flap


def _v6_samples() -> set[str]:
    return {"fd00:10:16::/64", "fd00:10:16::c/128"}


def test_bad_objects_never_stop_the_good_ones(lab, workdir):
    one = _one_node(lab, workdir, "gobgp")
    router, api, spk = one.router, one.api, one.spk
    api.create(subnet("net", "10.16.0.0/16"))
    bad: list[dict[str, Any]] = []
    for i, (bgp, ips) in enumerate([
        ("clutser", "10.16.1.1"), ("", "10.16.1.2"), ("x" * 10240, "10.16.1.3"),
        ("true", "10.0.0.999"), ("true", "fe80::1%eth0"), ("true", "10.16.1.5,,"),
    ]):  # fmt: skip
        obj = pod(f"bad-{i}", ips, "net", bgp=bgp)
        bad.append(obj)
        api.create(obj)
    broken = copy.deepcopy(pod("no-spec", "10.16.1.9", "net", bgp="true"))
    del broken["spec"]
    api.create(broken)  # no nodeName: Cluster policy still announces it
    api.create(pod("good", "10.16.0.5", "net", bgp="true"))
    # The subnet itself is not annotated: only the two good pods' own annotations count.
    good = {"10.16.0.5/32", "10.16.1.9/32"}
    rib = router.wait_rib(lambda r: good <= set(r), "ipv4")
    assert set(rib) == good
    log = spk.log_text()
    for obj in bad:
        assert f"Pod/shop/{obj['metadata']['name']}" in log
    assert ("x" * 200) not in log  # junk is quoted short


def test_sigterm_without_graceful_restart_makes_the_router_withdraw_at_once(lab, workdir):
    one = _one_node(lab, workdir, "gobgp")
    one.api.create(subnet("net", "10.16.0.0/16", bgp="true"))
    one.router.wait_rib(_exactly({"10.16.0.0/16"}), "ipv4")
    started = time.monotonic()
    assert one.spk.stop() == 0
    # Hold time is 90 s: only the Cease can empty the table this fast.
    one.router.wait_rib(_exactly(set()), "ipv4", timeout=10)
    assert time.monotonic() - started < 10
    assert one.router.log_lines("administrative shutdown")
    assert "sent Cease" in one.spk.log_text()


def test_metrics_follow_a_live_session(lab, workdir):
    one = _one_node(lab, workdir, "gobgp")
    one.api.create(subnet("net", "10.16.0.0/16", bgp="true"))
    one.router.wait_rib(_exactly({"10.16.0.0/16"}), "ipv4")
    text = one.spk.fetch("/metrics")
    peer = one.side.v4
    assert f'ryukovn_bgp_session_state{{peer="{peer}",state="established"}} 1.0' in text
    assert f'ryukovn_bgp_prefixes_sent{{peer="{peer}"}} 1.0' in text
    assert 'ryukovn_prefixes_announced{family="ipv4"} 1.0' in text
