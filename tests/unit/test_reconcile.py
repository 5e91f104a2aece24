"""The reconciler's tables: reference counts, the subnet index, no-flap relists.

The sink records every call, so each test states exactly which announce and
withdraw calls a change must cause, and that unrelated changes cause none.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ryu_kovn import policy
from ryu_kovn.k8s.objects import Pod, Service, Subnet
from ryu_kovn.reconcile import Reconciler


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.table: set[str] = set()

    def announce(self, prefixes):  # type: ignore[no-untyped-def]
        prefixes = list(prefixes)
        assert not self.table & set(prefixes), "announced twice"
        self.table |= set(prefixes)
        self.calls.append(("announce", prefixes))

    def withdraw(self, prefixes):  # type: ignore[no-untyped-def]
        prefixes = list(prefixes)
        assert set(prefixes) <= self.table, "withdrew what was not announced"
        self.table -= set(prefixes)
        self.calls.append(("withdraw", prefixes))

    def take(self) -> list[tuple[str, list[str]]]:
        calls, self.calls = self.calls, []
        return calls


def subnet(
    name: str, cidr: str, bgp: str | None = "true", ready: bool = True, rv: str = "1"
) -> Subnet:
    raw: dict[str, Any] = {
        "metadata": {"name": name, "resourceVersion": rv,
                     "annotations": {"ovn.kubernetes.io/bgp": bgp} if bgp else {}},
        "spec": {"cidrBlock": cidr, "provider": "ovn"},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }  # fmt: skip
    return Subnet.from_raw(raw)


def pod(name: str, ip: str, switch: str, bgp: str | None = None, node: str = "node-a",
        phase: str = "Running", rv: str = "1") -> Pod:  # fmt: skip
    ann = {"ovn.kubernetes.io/ip_address": ip, "ovn.kubernetes.io/logical_switch": switch}
    if bgp is not None:
        ann["ovn.kubernetes.io/bgp"] = bgp
    raw = {
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": rv, "annotations": ann},
        "spec": {"nodeName": node}, "status": {"phase": phase},
    }  # fmt: skip
    return Pod.from_raw(raw)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def rec(sink: Sink) -> Reconciler:
    return Reconciler(sink, policy.Context(node_name="node-a", announce_cluster_ip=True))


def test_pod_annotated_then_deannotated_then_deleted(rec, sink):
    rec.on_subnet("net", None, subnet("net", "10.16.0.0/16", bgp=None))
    p0 = pod("web-0", "10.16.0.12", "net")
    rec.on_pod("shop/web-0", None, p0)
    assert sink.take() == []
    p1 = pod("web-0", "10.16.0.12", "net", bgp="true", rv="2")
    rec.on_pod("shop/web-0", p0, p1)
    assert sink.take() == [("announce", ["10.16.0.12/32"])]
    rec.on_pod("shop/web-0", p1, p0)
    assert sink.take() == [("withdraw", ["10.16.0.12/32"])]
    rec.on_pod("shop/web-0", p0, p1)
    rec.on_pod("shop/web-0", p1, None)
    assert sink.take() == [("announce", ["10.16.0.12/32"]), ("withdraw", ["10.16.0.12/32"])]
    assert rec.wanted() == frozenset()


def test_a_pod_that_succeeds_is_withdrawn(rec, sink):
    rec.on_subnet("net", None, subnet("net", "10.16.0.0/16", bgp="local"))
    running = pod("job-1", "10.16.0.9", "net")
    rec.on_pod("shop/job-1", None, running)
    assert sink.take() == [("announce", ["10.16.0.9/32"])]
    ann = {"ovn.kubernetes.io/ip_address": "10.16.0.9", "ovn.kubernetes.io/logical_switch": "net"}
    done = Pod.from_raw({
        "metadata": {"name": "job-1", "namespace": "shop", "annotations": ann},
        "spec": {"nodeName": "node-a", "restartPolicy": "Never"}, "status": {"phase": "Succeeded"},
    })  # fmt: skip
    rec.on_pod("shop/job-1", running, done)
    assert sink.take() == [("withdraw", ["10.16.0.9/32"])]


def test_subnet_switch_between_cluster_and_local_touches_the_cidr_and_the_right_pods(rec, sink):
    cluster = subnet("edge", "10.70.0.0/24", bgp="cluster")
    rec.on_subnet("edge", None, cluster)
    here = pod("a", "10.70.0.10", "edge", node="node-a")
    there = pod("b", "10.70.0.9", "edge", node="node-b")
    rec.on_pod("shop/a", None, here)
    rec.on_pod("shop/b", None, there)
    assert sorted(p for _, ps in sink.take() for p in ps) == [
        "10.70.0.0/24", "10.70.0.10/32", "10.70.0.9/32"]  # fmt: skip

    local = subnet("edge", "10.70.0.0/24", bgp="local", rv="2")
    rec.on_subnet("edge", cluster, local)
    # One flush: the CIDR and the other node's pod go, this node's pod stays.
    assert sink.take() == [("withdraw", ["10.70.0.0/24", "10.70.0.9/32"])]
    assert rec.wanted() == {"10.70.0.10/32"}

    rec.on_subnet("edge", local, cluster)
    assert sink.take() == [("announce", ["10.70.0.0/24", "10.70.0.9/32"])]


def test_subnet_change_reaches_only_its_own_pods(rec, sink, monkeypatch):
    rec.on_subnet("a", None, subnet("a", "10.1.0.0/16", bgp=None))
    rec.on_subnet("b", None, subnet("b", "10.2.0.0/16", bgp=None))
    for i in range(50):
        rec.on_pod(f"shop/a{i}", None, pod(f"a{i}", f"10.1.0.{i + 1}", "a"))
        rec.on_pod(f"shop/b{i}", None, pod(f"b{i}", f"10.2.0.{i + 1}", "b"))
    decided: list[str] = []
    real = policy.pod_decision
    monkeypatch.setattr(policy, "pod_decision",
                        lambda p, s, c: decided.append(p.name) or real(p, s, c))  # fmt: skip
    rec.on_subnet("a", subnet("a", "10.1.0.0/16", bgp=None), subnet("a", "10.1.0.0/16", rv="2"))
    assert sorted(decided) == sorted(f"a{i}" for i in range(50))
    assert len(sink.take()[0][1]) == 51  # the CIDR and its 50 pods, in one call


def test_a_subnet_that_arrives_after_its_pods_reaches_them(rec, sink):
    rec.on_pod("shop/web-0", None, pod("web-0", "10.16.0.12", "late"))
    assert sink.take() == []
    rec.on_subnet("late", None, subnet("late", "10.16.0.0/16"))
    assert sink.take() == [("announce", ["10.16.0.0/16", "10.16.0.12/32"])]


def test_subnet_not_ready_withdraws_it_and_its_pods(rec, sink):
    ready = subnet("net", "10.16.0.0/16")
    rec.on_subnet("net", None, ready)
    rec.on_pod("shop/p", None, pod("p", "10.16.0.5", "net"))
    sink.take()
    rec.on_subnet("net", ready, subnet("net", "10.16.0.0/16", ready=False, rv="2"))
    assert sink.take() == [("withdraw", ["10.16.0.0/16", "10.16.0.5/32"])]


def test_a_prefix_wanted_twice_stays_until_the_last_source_goes(rec, sink):
    rec.on_subnet("net", None, subnet("net", "10.16.0.0/16", bgp=None))
    a = pod("a", "10.16.0.7", "net", bgp="true")
    b = pod("b", "10.16.0.7", "net", bgp="true")  # an IP reused before the old pod is gone
    rec.on_pod("shop/a", None, a)
    rec.on_pod("shop/b", None, b)
    assert sink.take() == [("announce", ["10.16.0.7/32"])]
    rec.on_pod("shop/a", a, None)
    assert sink.take() == []
    (row,) = rec.announcements()
    assert row["prefix"] == "10.16.0.7/32"
    assert row["reasons"] == [{"source": "Pod/shop/b", "policy": "cluster"}]
    rec.on_pod("shop/b", b, None)
    assert sink.take() == [("withdraw", ["10.16.0.7/32"])]


def test_the_same_object_again_sends_nothing(rec, sink):
    net = subnet("net", "10.16.0.0/16")
    rec.on_subnet("net", None, net)
    p = pod("p", "10.16.0.5", "net")
    rec.on_pod("shop/p", None, p)
    sink.take()
    # What a relist or a status-only update delivers: equal objects, new versions.
    rec.on_subnet("net", net, subnet("net", "10.16.0.0/16", rv="9"))
    rec.on_pod("shop/p", p, pod("p", "10.16.0.5", "net", rv="9"))
    assert sink.take() == []


def test_bad_object_is_skipped_warned_once_per_version_and_others_unaffected(rec, sink, caplog):
    rec.on_subnet("net", None, subnet("net", "10.16.0.0/16", bgp=None))
    good = pod("good", "10.16.0.5", "net", bgp="true")
    bad = pod("typo", "10.16.0.50", "net", bgp="clutser")
    rec.on_pod("shop/good", None, good)
    rec.on_pod("shop/typo", None, bad)
    rec.on_pod("shop/typo", bad, copy.copy(bad))  # same version again: no second warning
    assert sink.take() == [("announce", ["10.16.0.5/32"])]
    warnings = [r.getMessage() for r in caplog.records if "typo" in r.getMessage()]
    assert len(warnings) == 1 and "clutser" in warnings[0]
    assert "Pod/shop/typo" in rec.problems()
    rec.on_pod("shop/typo", bad, pod("typo", "10.16.0.50", "net", bgp="true", rv="2"))
    assert sink.take() == [("announce", ["10.16.0.50/32"])]
    assert "Pod/shop/typo" not in rec.problems()


def test_services_and_the_announcements_view(rec, sink):
    svc = Service.from_raw({
        "metadata": {"name": "api", "namespace": "shop",
                     "annotations": {"ovn.kubernetes.io/bgp": "true"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.12.7",
                 "clusterIPs": ["10.96.12.7", "fd00:10:96::a07"]},
    })  # fmt: skip
    rec.on_service("shop/api", None, svc)
    assert sink.take() == [("announce", ["10.96.12.7/32", "fd00:10:96::a07/128"])]
    assert [r["prefix"] for r in rec.announcements()] == ["10.96.12.7/32", "fd00:10:96::a07/128"]
    rec.on_service("shop/api", svc, None)
    assert sink.take() == [("withdraw", ["10.96.12.7/32", "fd00:10:96::a07/128"])]


def test_deferred_changes_are_merged_into_one_call_and_cancel_out(sink):
    scheduled: list = []
    rec = Reconciler(sink, policy.Context(node_name="node-a"), defer=scheduled.append)
    rec.on_subnet("net", None, subnet("net", "10.16.0.0/16", bgp=None))
    for i in range(100):
        rec.on_pod(f"shop/p{i}", None, pod(f"p{i}", f"10.16.0.{i + 1}", "net", bgp="true"))
    flapping = pod("p0", "10.16.0.1", "net", bgp="true")
    rec.on_pod("shop/p0", flapping, pod("p0", "10.16.0.1", "net", rv="2"))  # unwanted...
    rec.on_pod("shop/p0", None, pod("p0", "10.16.0.1", "net", bgp="true", rv="3"))  # ...wanted
    assert sink.take() == [] and rec.pending()
    assert len(scheduled) == 1  # one drain for the whole burst
    scheduled.pop()()
    (call,) = sink.take()
    assert call[0] == "announce" and len(call[1]) == 100  # p0 counted once, no withdraw
    assert not rec.pending()


def test_a_prefix_held_by_three_sources_goes_only_with_the_last_in_any_order(rec, sink):
    # The holders of a prefix are stored as one ref, or a set while there are
    # several: every shrink and regrowth must keep the count right.
    rec.on_subnet("net", None, subnet("net", "10.16.0.0/16", bgp=None))
    pods = {n: pod(n, "10.16.0.7", "net", bgp="true") for n in "abc"}
    for n, p in pods.items():
        rec.on_pod(f"shop/{n}", None, p)
    assert sink.take() == [("announce", ["10.16.0.7/32"])]
    rec.on_pod("shop/b", pods["b"], None)
    rec.on_pod("shop/a", pods["a"], None)
    assert sink.take() == []
    (row,) = rec.announcements()
    assert row["reasons"] == [{"source": "Pod/shop/c", "policy": "cluster"}]
    rec.on_pod("shop/c", pods["c"], None)
    assert sink.take() == [("withdraw", ["10.16.0.7/32"])]
    assert rec.wanted() == frozenset() and rec.announcements() == []

    rec.on_pod("shop/a", None, pods["a"])
    rec.on_pod("shop/b", None, pods["b"])  # one holder grows into two again
    rec.on_pod("shop/a", pods["a"], None)
    assert sink.take() == [("announce", ["10.16.0.7/32"])]
    rec.on_pod("shop/b", pods["b"], None)
    assert sink.take() == [("withdraw", ["10.16.0.7/32"])]


def test_a_source_moving_off_a_shared_prefix_keeps_it_for_the_other(rec, sink):
    rec.on_subnet("net", None, subnet("net", "10.16.0.0/16", bgp=None))
    a = pod("a", "10.16.0.7", "net", bgp="true")
    b = pod("b", "10.16.0.7", "net", bgp="true")
    rec.on_pod("shop/a", None, a)
    rec.on_pod("shop/b", None, b)
    sink.take()
    moved = pod("b", "10.16.0.8", "net", bgp="true", rv="2")
    rec.on_pod("shop/b", b, moved)
    assert sink.take() == [("announce", ["10.16.0.8/32"])]
    rec.on_pod("shop/a", a, None)
    assert sink.take() == [("withdraw", ["10.16.0.7/32"])]
    assert rec.wanted() == {"10.16.0.8/32"}


def test_an_unchanged_multi_prefix_decision_sends_nothing_whatever_its_order(rec, sink):
    def service(ips: list[str], rv: str) -> Service:
        return Service.from_raw({
            "metadata": {"name": "api", "namespace": "shop", "resourceVersion": rv,
                         "annotations": {"ovn.kubernetes.io/bgp": "true"}},
            "spec": {"type": "ClusterIP", "clusterIP": ips[0], "clusterIPs": ips},
        })  # fmt: skip

    first = service(["fd00:10:96::a07", "10.96.12.7"], "1")
    rec.on_service("shop/api", None, first)
    assert sink.take() == [("announce", ["10.96.12.7/32", "fd00:10:96::a07/128"])]
    again = service(["10.96.12.7", "fd00:10:96::a07"], "2")
    rec.on_service("shop/api", first, again)
    assert sink.take() == []
    assert [r["prefix"] for r in rec.announcements()] == ["10.96.12.7/32", "fd00:10:96::a07/128"]
    rec.on_service("shop/api", again, service(["10.96.12.7"], "3"))
    assert sink.take() == [("withdraw", ["fd00:10:96::a07/128"])]


def test_a_pod_that_moves_subnet_is_reached_only_by_its_new_subnet(rec, sink, monkeypatch):
    rec.on_subnet("a", None, subnet("a", "10.1.0.0/16", bgp=None))
    rec.on_subnet("b", None, subnet("b", "10.2.0.0/16", bgp=None))
    on_a = pod("p", "10.1.0.5", "a")
    on_b = pod("p", "10.2.0.5", "b", rv="2")
    rec.on_pod("shop/p", None, on_a)
    rec.on_pod("shop/p", on_a, on_b)
    decided: list[str] = []
    real = policy.pod_decision
    monkeypatch.setattr(
        policy, "pod_decision", lambda p, s, c: decided.append(p.resource_version) or real(p, s, c)
    )
    rec.on_subnet("a", subnet("a", "10.1.0.0/16", bgp=None), subnet("a", "10.1.0.0/16", rv="2"))
    assert decided == [] and sink.take() == [("announce", ["10.1.0.0/16"])]
    rec.on_subnet("b", subnet("b", "10.2.0.0/16", bgp=None), subnet("b", "10.2.0.0/16", rv="2"))
    assert decided == ["2"] and sink.take() == [("announce", ["10.2.0.0/16", "10.2.0.5/32"])]
    rec.on_pod("shop/p", on_b, None)
    decided.clear()
    rec.on_subnet("b", subnet("b", "10.2.0.0/16", rv="2"), subnet("b", "10.2.0.0/16", bgp=None))
    assert decided == []
