"""The Kubernetes watchers against the API emulator (a real HTTP server, as a subprocess).

Why against the emulator and not a mocked client: what the watcher must get right is the
API server's protocol (list then watch from a resourceVersion, bookmarks, 410 and relist,
selectors that turn into DELETED) and the ways a connection fails (a stream cut mid-way,
500s, a hung server, a server that is gone), and only a server that really does those
things over TCP can show it. Each test runs a Watcher in a thread, with short timeouts and
a backoff whose sleeps are recorded and can be held at a gate: holding the watcher in its
backoff is how a test writes "while the stream is down" without racing it.

Nothing here sleeps to let things happen; every wait is for the state it expects.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubeapi import KubeAPI, wait_until

from ryu_kovn.k8s import client as k8s_client
from ryu_kovn.k8s import resources
from ryu_kovn.k8s.objects import IptablesEIP, Pod, Subnet
from ryu_kovn.k8s.resources import Resource
from ryu_kovn.k8s.watch import Watcher

SUBNETS_PATH = "/apis/kubeovn.io/v1/subnets"
PODS_PATH = "/api/v1/pods"
EIPS_PATH = "/apis/kubeovn.io/v1/iptables-eips"
GW_LABEL = "ovn.kubernetes.io/vpc-nat-gw-name"
LOGGER = "ryu_kovn.k8s.watch"

Call = tuple[str, Any, Any]


# ------------------------------------------------------------------------------- objects

def pod(namespace: str, name: str, *, annotations: dict[str, str] | None = None,
        host_network: bool = False, phase: str = "Running") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "registry.invalid/c"}],
                            "nodeName": "node-1"}
    if host_network:
        spec["hostNetwork"] = True
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "annotations": annotations or {}},
            "spec": spec, "status": {"phase": phase}}


def subnet(name: str, cidr: str = "10.99.0.0/24", *, ready: bool = True) -> dict[str, Any]:
    return {"apiVersion": "kubeovn.io/v1", "kind": "Subnet", "metadata": {"name": name},
            "spec": {"cidrBlock": cidr, "provider": "ovn"},
            "status": {"conditions": [{"type": "Ready",
                                       "status": "True" if ready else "False"}]}}


def eip(name: str, gateway: str, v4ip: str = "198.51.100.10") -> dict[str, Any]:
    return {"apiVersion": "kubeovn.io/v1", "kind": "IptablesEIP",
            "metadata": {"name": name, "labels": {GW_LABEL: gateway},
                         "annotations": {"ovn.kubernetes.io/bgp": "true"}},
            "spec": {"v4ip": v4ip, "natGwDp": gateway}, "status": {"ready": True}}


# ------------------------------------------------------------------------------- harness

class Run:
    """A Watcher in a thread, its on_change calls, and its backoff sleeps.

    ``gate``: while clear, a backoff sleep blocks (``held`` is set) until it is set again.
    Sleeps themselves are real but short (the backoff is configured small), so a retry
    loop against a dead server is exercised for real.
    """

    def __init__(self, api: KubeAPI, resource: Resource, *,
                 on_change: Callable[[str, Any, Any], None] | None = None,
                 **kw: Any) -> None:
        self.calls: list[Call] = []
        self.sleeps: list[float] = []
        self.gate = threading.Event()
        self.gate.set()
        self.held = threading.Event()
        self.stop = threading.Event()
        self._extra = on_change
        options: dict[str, Any] = {"watch_timeout": 30.0, "read_timeout": 3.0,
                                   "connect_timeout": 2.0, "backoff_initial": 0.05,
                                   "backoff_max": 0.4, "page_size": 50}
        options.update(kw)
        self.watcher = Watcher(k8s_client.api_client(str(api.kubeconfig_path)), resource,
                               self._on_change, sleep=self._sleep, **options)
        self.thread = threading.Thread(target=self.watcher.run, args=(self.stop,),
                                       name=f"watch-{resource.plural}", daemon=True)

    def _on_change(self, key: str, old: Any, new: Any) -> None:
        self.calls.append((key, old, new))
        if self._extra is not None:
            self._extra(key, old, new)

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if not self.gate.is_set():
            self.held.set()
            while not self.gate.wait(0.005):
                if self.stop.is_set():
                    return
            self.held.clear()
        self.stop.wait(seconds)

    def start(self) -> Run:
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.gate.set()
        self.watcher.interrupt()
        self.thread.join(5)
        assert not self.thread.is_alive(), "the watcher did not stop"

    # -- waiting

    def synced(self, timeout: float = 10.0) -> None:
        assert self.watcher.synced_event.wait(timeout), "the first list never completed"

    def wait_calls(self, count: int, timeout: float = 10.0) -> list[Call]:
        wait_until(lambda: len(self.calls) >= count, timeout,
                   what=f"{count} on_change calls (have {self.calls})")
        return list(self.calls)

    def wait_key(self, key: str, timeout: float = 10.0) -> Call:
        """The last call for ``key`` once there is one."""
        wait_until(lambda: any(c[0] == key for c in self.calls), timeout,
                   what=f"a call for {key} (have {[c[0] for c in self.calls]})")
        return [c for c in self.calls if c[0] == key][-1]

    def wait_rv(self, rv: str | int, timeout: float = 10.0) -> None:
        """Wait until the watcher's position in history reaches ``rv``."""
        wait_until(lambda: int(self.watcher.stats["last_resource_version"] or 0) >= int(rv),
                   timeout, what=f"resourceVersion {rv} (have {self.watcher.stats})")

    def hold_after(self, action: Callable[[], object]) -> None:
        """Close the gate, do ``action`` (which must break the stream), wait until held."""
        self.gate.clear()
        action()
        assert self.held.wait(10), "the watcher never went into backoff"


@pytest.fixture(scope="module")
def api() -> Iterator[KubeAPI]:
    with KubeAPI(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(api: KubeAPI) -> None:
    """Every test starts with no objects, faults or request counters."""
    api.admin.reset(objects=True)


@pytest.fixture
def watch(api: KubeAPI) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def start(resource: Resource, *, server: KubeAPI | None = None, **kw: Any) -> Run:
        run = Run(server or api, resource, **kw)
        runs.append(run)
        return run.start()

    yield start
    for run in runs:
        run.close()


def requests(api: KubeAPI, verb: str, path: str) -> int:
    return int(api.stats()["requests"].get(f"{verb} {path}", 0))


def rv_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["resourceVersion"])


# ------------------------------------------------------------------------------- pure parts

def test_resource_paths_and_selectors() -> None:
    assert resources.PODS.path() == "/api/v1/pods"
    assert resources.PODS.selectors() == {"fieldSelector": "spec.hostNetwork=false"}
    assert resources.SERVICES.path() == "/api/v1/services"
    assert resources.SUBNETS.path() == SUBNETS_PATH and not resources.SUBNETS.namespaced
    assert resources.IPTABLES_EIPS.path() == EIPS_PATH
    gw1 = resources.iptables_eips_for("gw1")
    assert gw1.selectors() == {"labelSelector": f"{GW_LABEL}=gw1"}
    assert str(gw1) == f"kubeovn.io/v1/iptables-eips [{GW_LABEL}=gw1]"
    with pytest.raises(ValueError, match="GATEWAY_NAME"):
        resources.iptables_eips_for("")


def test_api_client_names_what_is_missing(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(k8s_client.ClientConfigError, match="does not exist"):
        k8s_client.api_client(str(tmp_path / "nope"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    with pytest.raises(k8s_client.ClientConfigError,
                       match=r"kubeconfig option is not set.*KUBERNETES_SERVICE_HOST"):
        k8s_client.api_client(None)


def test_api_client_from_kubeconfig_is_pooled(api: KubeAPI) -> None:
    client = k8s_client.api_client(str(api.kubeconfig_path))
    assert client.configuration.host == api.url
    assert client.configuration.connection_pool_maxsize == k8s_client.POOL_MAXSIZE


# ------------------------------------------------------------------------------- delivery

def test_list_then_watch_delivers_create_modify_delete(api: KubeAPI, watch: Any) -> None:
    api.load([pod("shop", "a"), pod("shop", "b"), pod("shop", "c")])
    run = watch(resources.PODS)
    run.synced()
    assert run.watcher.synced
    assert sorted((k, o) for k, o, _ in run.calls) == [
        ("shop/a", None), ("shop/b", None), ("shop/c", None)]
    assert all(isinstance(n, Pod) and n.phase == "Running" for _, _, n in run.calls)
    assert set(run.watcher.cache) == {"shop/a", "shop/b", "shop/c"}
    run.calls.clear()

    api.load([pod("shop", "d")])
    api.annotate("Pod", "a", namespace="shop", annotations={"ovn.kubernetes.io/bgp": "true"})
    api.delete("Pod", "b", namespace="shop")
    calls = run.wait_calls(3)
    assert [(k, o is None, n is None) for k, o, n in calls] == [
        ("shop/d", True, False), ("shop/a", False, False), ("shop/b", False, True)]
    _, old_a, new_a = calls[1]
    assert old_a.bgp is None and new_a.bgp == "true"
    assert calls[2][1].name == "b"
    assert set(run.watcher.cache) == {"shop/a", "shop/c", "shop/d"}
    assert run.watcher.cache["shop/a"] is new_a
    stats = run.watcher.stats
    assert stats["events"] == 3 and stats["lists"] == 1 and stats["relists"] == 0
    assert stats["errors"] == 0


def test_changes_the_trim_does_not_keep_cause_no_call(api: KubeAPI, watch: Any) -> None:
    api.load([pod("shop", "a")])
    run = watch(resources.PODS)
    run.synced()
    run.calls.clear()
    before = run.watcher.stats["events"]
    written = api.patch_status("Pod", "a", namespace="shop",
                               status={"podIP": "10.16.0.9", "conditions": [{"type": "Ready"}]})
    written = api.label("Pod", "a", namespace="shop", labels={"app": "web"})
    run.wait_rv(rv_of(written))
    assert run.calls == []
    assert run.watcher.stats["events"] == before + 2
    # The cache still follows the object's resourceVersion, silently.
    assert run.watcher.cache["shop/a"].resource_version == rv_of(written)
    api.patch_status("Pod", "a", namespace="shop", status={"phase": "Succeeded"})  # this one counts
    (key, old, new), = run.wait_calls(1)
    assert (key, old.phase, new.phase) == ("shop/a", "Running", "Succeeded")


def test_host_network_pods_are_excluded_by_the_field_selector(api: KubeAPI,
                                                              watch: Any) -> None:
    api.load([pod("kube-system", "node-agent", host_network=True), pod("shop", "web")])
    run = watch(resources.PODS)
    run.synced()
    assert [k for k, _, _ in run.calls] == ["shop/web"]
    api.load([pod("kube-system", "agent-2", host_network=True)])
    api.load([pod("shop", "web-2")])  # after it, so the one before would have arrived
    run.wait_key("shop/web-2")
    assert [k for k, _, _ in run.calls] == ["shop/web", "shop/web-2"]
    assert "kube-system/agent-2" not in run.watcher.cache


def test_eips_of_one_gateway_and_relabel_away_is_a_deletion(api: KubeAPI,
                                                           watch: Any) -> None:
    api.load([eip("eip-a", "gw1"), eip("eip-b", "gw2", "198.51.100.11")])
    run = watch(resources.iptables_eips_for("gw1"))
    run.synced()
    (key, old, new), = run.calls
    assert key == "eip-a" and old is None and isinstance(new, IptablesEIP)
    assert (new.gateway, new.v4ip, new.ready, new.bgp) == ("gw1", "198.51.100.10", True, "true")
    api.label("IptablesEIP", "eip-a", namespace=None, labels={GW_LABEL: "gw2"})
    key, old, new = run.wait_calls(2)[1]
    assert (key, old.gateway, new) == ("eip-a", "gw1", None)
    api.label("IptablesEIP", "eip-b", namespace=None, labels={GW_LABEL: "gw1"})
    key, old, new = run.wait_calls(3)[2]
    assert (key, old, new.v4ip) == ("eip-b", None, "198.51.100.11")
    assert set(run.watcher.cache) == {"eip-b"}


def test_cluster_scoped_subnets(api: KubeAPI, watch: Any) -> None:
    api.load([subnet("ovn-default", "10.16.0.0/16"), subnet("edge", ready=False)])
    run = watch(resources.SUBNETS)
    run.synced()
    by_key = {k: n for k, _, n in run.calls}
    assert set(by_key) == {"ovn-default", "edge"}
    assert isinstance(by_key["edge"], Subnet) and by_key["edge"].ready is False
    assert by_key["ovn-default"].cidr_block == "10.16.0.0/16"
    api.set_status("Subnet", "edge", namespace=None,
                   status={"conditions": [{"type": "Ready", "status": "True"}]})
    key, old, new = run.wait_calls(3)[2]
    assert (key, old.ready, new.ready) == ("edge", False, True)


def test_paginated_list_of_many_objects(api: KubeAPI, watch: Any) -> None:
    api.load([pod(f"ns-{i % 7}", f"p-{i}") for i in range(230)])
    run = watch(resources.PODS, page_size=50)
    run.synced()
    assert len(run.calls) == 230 and len(run.watcher.cache) == 230
    assert requests(api, "GET", PODS_PATH) == 5  # 50+50+50+50+30


def test_the_first_list_is_delivered_page_by_page(api: KubeAPI, watch: Any) -> None:
    """Routes start with the first page, not after the last (100k pods: 200 pages)."""
    api.load([pod(f"ns-{i % 7}", f"p-{i}") for i in range(230)])
    lists_at_first_call: list[int] = []

    def note(key: str, old: Any, new: Any) -> None:
        if not lists_at_first_call:
            lists_at_first_call.append(requests(api, "GET", PODS_PATH))

    run = watch(resources.PODS, page_size=50, on_change=note)
    run.synced()
    # Page one is delivered while page two is fetched: before pages three to five.
    assert lists_at_first_call in ([1], [2])
    assert len(run.calls) == 230 and {old for _, old, _ in run.calls} == {None}


def test_an_object_delivered_early_then_gone_from_the_full_list_is_deleted(
    api: KubeAPI, watch: Any
) -> None:
    """Page one is delivered; its continue token expires; the unpaginated list then
    lacks an object page one had: that object is delivered as deleted."""
    api.load([subnet(f"s{i}") for i in range(5)])
    trimmed: list[str] = []

    def trim_and_delete_after_the_first_page(raw: dict[str, Any]) -> Subnet:
        trimmed.append(raw["metadata"]["name"])
        if len(trimmed) == 2:
            api.delete("Subnet", "s0", namespace=None)
            api.compact()
        return Subnet.from_raw(raw)

    resource = dataclasses.replace(resources.SUBNETS, trim=trim_and_delete_after_the_first_page)
    run = watch(resource, page_size=2)
    run.synced()
    s0 = [(old, new) for k, old, new in run.calls if k == "s0"]
    assert [(old is None, new is None) for old, new in s0] == [(True, False), (False, True)]
    assert set(run.watcher.cache) == {"s1", "s2", "s3", "s4"}


# ------------------------------------------------------------------------------- resuming

def test_dropped_stream_resumes_from_last_rv_without_relist(api: KubeAPI,
                                                            watch: Any) -> None:
    run = watch(resources.SUBNETS)
    run.synced()
    last = api.create(subnet("s1"))
    run.wait_key("s1")
    run.wait_rv(rv_of(last))
    run.hold_after(api.drop_watches)
    api.load([subnet("s2")])  # written while the stream is down
    run.gate.set()
    run.wait_key("s2")
    api.load([subnet("s3")])
    run.wait_key("s3")
    assert [k for k, _, _ in run.calls].count("s2") == 1
    assert requests(api, "GET", SUBNETS_PATH) == 1  # the first list only
    assert requests(api, "WATCH", SUBNETS_PATH) == 2
    (open_watch,) = api.stats()["watches"]
    assert str(open_watch["since"]) == rv_of(last)  # resumed from where it was
    stats = run.watcher.stats
    assert (stats["relists"], stats["restarts"], stats["errors"]) == (0, 1, 1)


def test_410_relists_and_delivers_only_the_difference(api: KubeAPI, watch: Any) -> None:
    api.load([subnet("keep"), subnet("touch"), subnet("change"), subnet("remove")])
    run = watch(resources.SUBNETS)
    run.synced()
    api.admin.wait_watches(1, SUBNETS_PATH)
    run.calls.clear()
    run.hold_after(api.drop_watches)
    # A new resourceVersion, the same trimmed object:
    api.annotate("Subnet", "touch", namespace=None, annotations={"unrelated": "x"})
    api.patch("Subnet", "change", namespace=None, patch={"spec": {"cidrBlock": "10.98.0.0/24"}})
    api.delete("Subnet", "remove")
    api.load([subnet("add")])
    api.compact()  # the watch will ask for an RV that is gone: 410
    run.gate.set()
    run.wait_calls(3)
    wait_until(lambda: run.watcher.stats["relists"] == 1, what="the relist")
    calls = run.calls
    assert [(k, o is None, n is None) for k, o, n in calls] == [
        ("add", True, False), ("change", False, False), ("remove", False, True)]
    assert (calls[1][1].cidr_block, calls[1][2].cidr_block) == ("10.99.0.0/24",
                                                               "10.98.0.0/24")
    assert set(run.watcher.cache) == {"keep", "touch", "change", "add"}
    assert requests(api, "GET", SUBNETS_PATH) == 2
    api.load([subnet("after")])  # and the watch goes on from the relist
    run.wait_key("after")
    assert len(run.calls) == 4


def test_expired_watch_error_event_relists(api: KubeAPI, watch: Any) -> None:
    api.load([subnet("a")])
    run = watch(resources.SUBNETS)
    run.synced()
    api.admin.wait_watches(1, SUBNETS_PATH)
    assert api.admin.expire_watches() == 1  # ERROR 410 inside the stream
    wait_until(lambda: run.watcher.stats["relists"] == 1, what="the relist")
    assert len(run.calls) == 1 and run.watcher.stats["errors"] == 0


def test_http_410_on_the_watch_request_relists(api: KubeAPI, watch: Any) -> None:
    api.load([subnet("a")])
    run = watch(resources.SUBNETS)
    run.synced()
    api.admin.wait_watches(1, SUBNETS_PATH)
    api.fail(SUBNETS_PATH, 410, times=1, watch=True)
    api.drop_watches()
    wait_until(lambda: run.watcher.stats["relists"] == 1, what="the relist")
    api.load([subnet("b")])
    run.wait_key("b")
    assert requests(api, "GET", SUBNETS_PATH) == 2


def test_expired_continue_token_falls_back_to_one_full_list(
        api: KubeAPI, watch: Any) -> None:
    api.load([subnet(f"s{i}") for i in range(5)])
    trimmed: list[str] = []

    def trim_and_compact_after_the_first_page(raw: dict[str, Any]) -> Subnet:
        trimmed.append(raw["metadata"]["name"])
        if len(trimmed) == 2:  # the last item of page one: history moves on meanwhile
            api.load([subnet("late")])
            api.compact()
        return Subnet.from_raw(raw)

    resource = dataclasses.replace(resources.SUBNETS,
                                   trim=trim_and_compact_after_the_first_page)
    run = watch(resource, page_size=2)
    run.synced()
    assert sorted(k for k, _, _ in run.calls) == ["late", "s0", "s1", "s2", "s3", "s4"]
    # Page one; page two, asked for while page one was trimmed (before the compaction);
    # page three's 410; the one full list.
    assert requests(api, "GET", SUBNETS_PATH) == 4
    assert run.watcher.stats["relists"] == 0 and run.watcher.stats["errors"] == 0


def test_megabyte_lines_are_read_whole(api: KubeAPI, watch: Any) -> None:
    run = watch(resources.PODS)
    run.synced()
    big = {"example.com/blob": "x" * 3_000_000, "ovn.kubernetes.io/bgp": "true"}
    api.load([pod("shop", "big", annotations=big)])
    _, _, new = run.wait_key("shop/big")
    assert new.bgp == "true"


def test_lines_split_across_chunks_are_joined() -> None:
    class Chunked:
        chunked = True

        def __init__(self, chunks: list[bytes]) -> None:
            self.chunks = chunks

        def supports_chunked_reads(self) -> bool:
            return True

        def read_chunked(self, amt: Any, decode_content: bool) -> Iterator[bytes]:
            yield from self.chunks

    from ryu_kovn.k8s.watch import _lines

    stream = Chunked([b'{"a":', b"1", b'}\n{"b"', b":2}\n\n", b'{"c":3}\n{"d"', b":4}"])
    assert list(_lines(stream)) == [b'{"a":1}', b'{"b":2}', b'{"c":3}', b'{"d":4}']


def test_bookmarks_advance_the_resource_version(api: KubeAPI, watch: Any) -> None:
    run = watch(resources.SUBNETS)
    run.synced()
    written = api.load([pod("shop", "other")])  # a write the subnet watch never sees
    target = written["resourceVersion"]
    api.admin.wait_watches(1, SUBNETS_PATH)
    api.admin.bookmark()
    run.wait_rv(target)
    assert run.watcher.stats["bookmarks"] >= 1 and run.watcher.stats["events"] == 0
    assert run.calls == []


# ------------------------------------------------------------------------------- failures

def test_garbage_line_is_skipped_with_one_warning(api: KubeAPI, watch: Any,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    run = watch(resources.SUBNETS)
    run.synced()
    api.admin.wait_watches(1, SUBNETS_PATH)
    assert api.admin.garbage(line="<html>502 Bad Gateway</html>") == 1
    api.load([subnet("after-garbage")])
    run.wait_key("after-garbage")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "kubeovn.io/v1/subnets" in warnings[0] and "not JSON" in warnings[0]
    assert "<html>502 Bad Gateway</html>" in warnings[0]
    assert "re-watching from resourceVersion" in warnings[0]
    assert requests(api, "GET", SUBNETS_PATH) == 1  # no relist
    assert [k for k, _, _ in run.calls] == ["after-garbage"]


def test_event_of_unexpected_shape_is_a_warning_not_a_crash(
        api: KubeAPI, watch: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    run = watch(resources.SUBNETS)
    run.synced()
    api.admin.wait_watches(1, SUBNETS_PATH)
    api.admin.garbage(line='{"type": "MODIFIED", "object": ["not", "an", "object"]}')
    api.load([subnet("later")])
    run.wait_key("later")
    assert any("unexpected shape" in r.getMessage() for r in caplog.records)


def test_http_500s_are_retried_with_growing_backoff(api: KubeAPI, watch: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    api.fail(SUBNETS_PATH, 500, times=2, watch=False)  # the first list, twice
    run = watch(resources.SUBNETS)
    run.synced()
    api.admin.wait_watches(1, SUBNETS_PATH)
    api.fail(SUBNETS_PATH, 500, times=3, watch=True)
    api.drop_watches()
    api.load([subnet("s1")])
    run.wait_key("s1")
    assert requests(api, "GET", SUBNETS_PATH) == 3  # two 500s, then the list
    assert requests(api, "WATCH", SUBNETS_PATH) == 5  # first, three 500s, the resumed one
    assert run.watcher.stats["errors"] == 6
    # Two list failures, then (reset by the good list and stream) a drop and three 500s:
    # each sleep is within [0.5, 1] x its ceiling, and the ceilings double.
    ceilings = [0.05, 0.1, 0.05, 0.1, 0.2, 0.4]
    assert len(run.sleeps) == 6
    for slept, ceiling in zip(run.sleeps, ceilings, strict=True):
        assert ceiling * 0.5 <= slept <= ceiling, (run.sleeps, ceilings)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 6
    assert "HTTP 500 InternalError" in messages[0] and "listing again" in messages[0]
    assert "HTTP 500 InternalError" in messages[-1] and "re-watching" in messages[-1]


def test_api_server_down_then_back_with_its_state(tmp_path: Path, watch: Any) -> None:
    with KubeAPI(bookmark_interval=0.2, workdir=tmp_path / "api") as api:
        api.load([subnet("s1"), subnet("s2")])
        run = watch(resources.SUBNETS, server=api)
        run.synced()
        api.admin.wait_watches(1, SUBNETS_PATH)
        api.stop()  # SIGTERM: it saves its state, connections die, the port is closed
        wait_until(lambda: run.watcher.stats["errors"] >= 3, what="refused connections")
        run.hold_after(lambda: None)
        api.start()  # same port, same objects, same history
        api.load([subnet("s3")])
        api.delete("Subnet", "s1")
        run.gate.set()
        run.wait_calls(4)
        assert [(k, o is None, n is None) for k, o, n in run.calls[2:]] == [
            ("s3", True, False), ("s1", False, True)]
        assert requests(api, "GET", SUBNETS_PATH) == 0  # resumed, not relisted
        assert run.watcher.stats["relists"] == 0


def test_slow_responses_still_work_and_a_stall_times_out(
        api: KubeAPI, watch: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    api.delay(SUBNETS_PATH, 0.4, times=1, watch=False)  # slow list, within read_timeout
    api.delay(SUBNETS_PATH, 0.4, times=1, watch=True)  # slow watch
    run = watch(resources.SUBNETS, read_timeout=1.0)
    run.synced()
    api.load([subnet("s1")])
    run.wait_key("s1")
    assert run.watcher.stats["errors"] == 0
    # A server that stops answering (hung, or a half-open connection): the read times out
    # and the watcher re-watches, once the server answers again.
    api.admin.hang()
    wait_until(lambda: run.watcher.stats["errors"] >= 1, what="a read timeout")
    api.admin.up()
    api.load([subnet("s2")])
    run.wait_key("s2")
    assert any("nothing received for 1s" in r.getMessage() for r in caplog.records)
    assert requests(api, "GET", SUBNETS_PATH) == 1


def test_on_change_that_raises_does_not_stop_the_watcher(
        api: KubeAPI, watch: Any, caplog: pytest.LogCaptureFixture) -> None:
    failed: list[str] = []

    def explode_once(key: str, old: Any, new: Any) -> None:
        if not failed:
            failed.append(key)
            raise RuntimeError("downstream bug")

    run = watch(resources.SUBNETS, on_change=explode_once)
    run.synced()
    api.load([subnet("first")])
    api.load([subnet("second")])
    run.wait_key("second")
    assert failed == ["first"] and [k for k, _, _ in run.calls] == ["first", "second"]
    assert run.watcher.stats["callback_errors"] == 1
    assert set(run.watcher.cache) == {"first", "second"}
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "on_change failed for first" in errors[0].getMessage()
    assert errors[0].exc_info is not None


def test_stop_interrupts_a_quiet_watch_promptly(api: KubeAPI, watch: Any) -> None:
    api.admin.configure(bookmark_interval=0)  # nothing will arrive on the stream
    try:
        run = watch(resources.SUBNETS, read_timeout=30.0)
        run.synced()
        api.admin.wait_watches(1, SUBNETS_PATH)
        run.stop.set()
        run.watcher.interrupt()
        run.thread.join(2)
        assert not run.thread.is_alive()
    finally:
        api.admin.configure(bookmark_interval=0.2)


# ------------------------------------------------------------------------------- eventlet

GREEN_SCRIPT = textwrap.dedent("""
    import eventlet
    eventlet.monkey_patch()

    import json, sys, threading, time
    from eventlet import patcher
    from ryu_kovn.k8s import client, resources
    from ryu_kovn.k8s.watch import Watcher

    assert patcher.is_monkey_patched("socket") and patcher.is_monkey_patched("thread")
    expected = int(sys.argv[2])
    seen = []
    ticks = [0]
    stop = threading.Event()

    def on_change(key, old, new):
        seen.append(key)
        print(json.dumps({"key": key, "old": old is not None, "new": new is not None,
                          "rv": (new or old).resource_version}), flush=True)

    def ticker():  # proves the hub keeps running while the watcher waits on its socket
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.01)

    watcher = Watcher(client.api_client(sys.argv[1]), resources.SUBNETS, on_change,
                      watch_timeout=30, read_timeout=5, backoff_initial=0.05,
                      backoff_max=0.5)
    thread = eventlet.spawn(watcher.run, stop)
    eventlet.spawn(ticker)
    with eventlet.Timeout(20):
        watcher.synced_event.wait()
        # A quiet moment with the watcher blocked on its socket: the ticker must run.
        before = ticks[0]
        eventlet.sleep(0.3)
        assert ticks[0] - before >= 10, ticks
        print(json.dumps({"synced": True}), flush=True)
        while len(seen) < expected:
            eventlet.sleep(0.01)
    stop.set()
    watcher.interrupt()
    thread.wait()
    stats = {k: v for k, v in watcher.stats.items()}
    print(json.dumps({"done": True, "ticks": ticks[0], "stats": stats}), flush=True)
""")


def test_watcher_runs_green_under_eventlet_monkey_patching(api: KubeAPI,
                                                          tmp_path: Path) -> None:
    api.load([subnet("s0")])
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    # cwd outside the work tree: ryu_kovn is imported as installed, as ryu-manager does.
    proc = subprocess.Popen(
        [sys.executable, "-c", GREEN_SCRIPT, str(api.kubeconfig_path), "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    lines: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(json.loads(line))

    threading.Thread(target=read, daemon=True).start()

    def next_line() -> dict[str, Any]:
        try:
            return lines.get(timeout=20)
        except queue.Empty:
            proc.kill()
            raise AssertionError(f"no output; stderr: {proc.communicate()[1]}") from None

    try:
        first = next_line()
        assert first["key"] == "s0" and not first["old"]
        assert next_line() == {"synced": True}
        api.load([subnet("s1")])
        assert next_line()["key"] == "s1"
        api.drop_watches()  # the resume path, green
        api.load([subnet("s2")])
        api.delete("Subnet", "s0")
        got = [next_line(), next_line()]
        assert [(g["key"], g["new"]) for g in got] == [("s2", True), ("s0", False)]
        done = next_line()
        assert done["done"] and done["stats"]["relists"] == 0
        assert done["stats"]["events"] == 3 and done["ticks"] >= 10
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
