"""The emulator, as a subprocess, driven by the official ``kubernetes`` client.

Why through the official client: the speaker uses it (typed calls and raw
``_preload_content=False`` list/watch), so what matters is that *it* sees a real API server:
the same resourceVersion rules, watch replay, bookmarks, 410 Gone, selectors, pagination
and status subresources. Each test works in its own namespace (or on its own cluster-scoped
names) on one shared server, to stay fast; nothing here sleeps to "let things happen", it
waits for the event or state it expects.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, dynamic, watch
from kubernetes.client.exceptions import ApiException

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubeapi import KubeAPI, KubeAPIError, WatchReader

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "kube-ovn" / "samples.yaml"
GROUP, VERSION = "kubeovn.io", "v1"
MERGE = "application/merge-patch+json"
_names = itertools.count()


@pytest.fixture(scope="module")
def api() -> Iterator[KubeAPI]:
    loads = [SAMPLES] if SAMPLES.exists() else []
    with KubeAPI(load=loads, bookmark_interval=0.2) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_faults(api: KubeAPI) -> None:
    api.admin.reset()


@pytest.fixture
def v1(api: KubeAPI) -> Any:
    return api.core_v1()


@pytest.fixture
def co(api: KubeAPI) -> Any:
    return api.custom_objects()


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own (created on first use by the emulator)."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"{base}-{next(_names)}".strip("-")


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def pod(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A pod body the typed client accepts (it validates ``spec.containers``)."""
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "registry.invalid/c"}], **spec}}


def subnet(name: str, cidr: str = "10.99.0.0/24") -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Subnet",
            "metadata": {"name": name}, "spec": {"cidrBlock": cidr}}


def raw_json(response: Any) -> Any:
    return json.loads(response.data)


def watch_pods(v1: Any, namespace: str, **kw: Any) -> WatchReader:
    return WatchReader(v1.list_namespaced_pod(namespace, watch=True, _preload_content=False,
                                              **kw))


def rv_of(obj: Any) -> int:
    meta = obj["metadata"] if isinstance(obj, dict) else obj.metadata
    return int(meta["resourceVersion"] if isinstance(meta, dict) else meta.resource_version)


# ------------------------------------------------------------------------------- basics

def test_samples_are_served_as_loaded_with_status(v1: Any, co: Any) -> None:
    if not SAMPLES.exists():
        pytest.skip("shared/kube-ovn/samples.yaml is not beside the repository")
    pods = raw_json(v1.list_pod_for_all_namespaces(_preload_content=False))
    names = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods["items"]}
    assert ("shop", "web-0") in names and ("monitoring", "node-exporter-abcde") in names
    assert "kind" not in pods["items"][0]  # built-in list items carry no kind, as for real
    subnets = co.list_cluster_custom_object(GROUP, VERSION, "subnets")
    by_name = {s["metadata"]["name"]: s for s in subnets["items"]}
    assert by_name["pending"]["status"]["conditions"][0]["reason"] == "ValidationFailed"
    assert by_name["edge"]["kind"] == "Subnet"  # custom resource list items keep it
    eip = co.get_cluster_custom_object(GROUP, VERSION, "iptables-eips", "eip-web")
    assert eip["status"] == {"ready": True, "ip": "198.51.100.10"}
    assert eip["metadata"]["labels"]["ovn.kubernetes.io/vpc-nat-gw-name"] == "gw1"
    namespaces = [n.metadata.name for n in v1.list_namespace().items]
    assert {"shop", "monitoring"} <= set(namespaces)


def test_discovery_is_enough_for_the_dynamic_client(api: KubeAPI) -> None:
    dyn = dynamic.DynamicClient(api.api_client())
    subnets = dyn.resources.get(api_version=f"{GROUP}/{VERSION}", kind="Subnet")
    assert subnets.namespaced is False
    name = unique("dyn")
    subnets.create(body=subnet(name))
    assert subnets.get(name=name).metadata.name == name
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    assert pods.namespaced is True
    version = client.VersionApi(api.api_client()).get_code()
    assert version.major == "1"


def test_kubeconfig_is_accepted_by_the_official_loader(api: KubeAPI) -> None:
    api_client = config.new_client_from_config(config_file=str(api.kubeconfig_path))
    assert api_client.configuration.host == api.url
    assert client.CoreV1Api(api_client).list_namespace().metadata.resource_version


def test_create_fills_metadata_and_every_write_takes_a_higher_rv(
        api: KubeAPI, v1: Any, co: Any, ns: str) -> None:
    created = v1.create_namespaced_pod(ns, pod("a"))
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.metadata.generation == 1 and created.status.phase == "Pending"
    sub = co.create_cluster_custom_object(GROUP, VERSION, "subnets", subnet(unique("s")))
    svc = v1.create_namespaced_service(ns, {"metadata": {"name": "svc"},
                                            "spec": {"clusterIP": "10.96.0.10"}})
    patched = v1.patch_namespaced_pod("a", ns, {"metadata": {"labels": {"x": "1"}}})
    rvs = [rv_of(created), rv_of(sub), int(svc.metadata.resource_version), rv_of(patched)]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4
    assert svc.spec.cluster_ips == ["10.96.0.10"]  # defaulted from clusterIP, as for real
    listed = raw_json(v1.list_namespaced_pod(ns, _preload_content=False))
    assert int(listed["metadata"]["resourceVersion"]) == api.admin.resource_version()
    assert all(rv_of(item) <= rv_of(listed) for item in listed["items"])


def test_errors_are_kubernetes_status_objects(v1: Any, co: Any, ns: str) -> None:
    with pytest.raises(ApiException) as missing:
        v1.read_namespaced_pod("nope", ns)
    assert missing.value.status == 404
    body = json.loads(missing.value.body)
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'pods "nope" not found'
    v1.create_namespaced_pod(ns, pod("twice"))
    with pytest.raises(ApiException) as twice:
        v1.create_namespaced_pod(ns, pod("twice"))
    assert twice.value.status == 409
    with pytest.raises(ApiException) as crd_missing:
        co.get_cluster_custom_object(GROUP, VERSION, "subnets", "nope")
    assert json.loads(crd_missing.value.body)["message"] == 'subnets.kubeovn.io "nope" not found'


# ------------------------------------------------------------------------------- writes

def test_merge_patch_of_annotations_including_removal_via_null(v1: Any, co: Any,
                                                                ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("p"))
    # The typed client sends a dict as a strategic merge patch (applied as a merge patch).
    added = v1.patch_namespaced_pod("p", ns, {"metadata": {"annotations": {
        "ovn.kubernetes.io/bgp": "true", "keep": "me"}}})
    assert added.metadata.annotations == {"ovn.kubernetes.io/bgp": "true", "keep": "me"}
    removed = v1.patch_namespaced_pod("p", ns, {"metadata": {"annotations": {
        "ovn.kubernetes.io/bgp": None}}}, _content_type=MERGE)
    assert removed.metadata.annotations == {"keep": "me"}
    name = unique("s")
    co.create_cluster_custom_object(GROUP, VERSION, "subnets", subnet(name))
    annotated = co.patch_cluster_custom_object(GROUP, VERSION, "subnets", name, {
        "metadata": {"annotations": {"ovn.kubernetes.io/bgp": "cluster"}}})
    assert annotated["metadata"]["annotations"] == {"ovn.kubernetes.io/bgp": "cluster"}
    cleared = co.patch_cluster_custom_object(GROUP, VERSION, "subnets", name, {
        "metadata": {"annotations": {"ovn.kubernetes.io/bgp": None}}})
    assert "annotations" not in cleared["metadata"]  # omitempty, as a real server


def test_json_patch_and_strategic_merge_patch_rules(api: KubeAPI, v1: Any, ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("p", labels={"a": "1"}))
    patched = v1.patch_namespaced_pod("p", ns, [
        {"op": "add", "path": "/metadata/annotations", "value": {"x": "y"}},
        {"op": "replace", "path": "/metadata/labels/a", "value": "2"}])
    assert patched.metadata.annotations == {"x": "y"} and patched.metadata.labels == {"a": "2"}
    name = unique("s")
    api.create(subnet(name))
    with pytest.raises(KubeAPIError) as refused:  # custom resources refuse strategic merge
        api.patch("Subnet", name, None, {"metadata": {"labels": {"a": "b"}}},
                  patch_type="strategic")
    assert refused.value.status == 415 and refused.value.reason == "UnsupportedMediaType"


def test_replace_with_a_stale_resource_version_conflicts(v1: Any, ns: str) -> None:
    first = v1.create_namespaced_pod(ns, pod("p"))
    v1.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"b": "1"}}})
    first.metadata.labels = {"c": "1"}
    with pytest.raises(ApiException) as stale:
        v1.replace_namespaced_pod("p", ns, first)
    assert stale.value.status == 409
    current = v1.read_namespaced_pod("p", ns)
    current.metadata.labels = {"c": "1"}
    assert v1.replace_namespaced_pod("p", ns, current).metadata.labels == {"c": "1"}


def test_noop_patch_does_not_take_a_revision(v1: Any, ns: str) -> None:
    created = v1.create_namespaced_pod(ns, pod("p", labels={"a": "1"}))
    same = v1.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"a": "1"}}})
    assert same.metadata.resource_version == created.metadata.resource_version


def test_status_subresource_for_pods_subnets_and_eips(api: KubeAPI, v1: Any, co: Any,
                                                      ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("p"))
    current = v1.read_namespaced_pod("p", ns)
    current.status = client.V1PodStatus(phase="Running", pod_ip="10.16.0.5")
    running = v1.replace_namespaced_pod_status("p", ns, current)
    assert running.status.phase == "Running" and running.status.pod_ip == "10.16.0.5"
    ignored = v1.patch_namespaced_pod("p", ns, {"status": {"phase": "Failed"}})
    assert ignored.status.phase == "Running"  # the main resource cannot change status
    name = unique("s")
    co.create_cluster_custom_object(GROUP, VERSION, "subnets", subnet(name))
    ready = {"conditions": [{"type": "Ready", "status": "True"}]}
    after = co.patch_cluster_custom_object_status(
        GROUP, VERSION, "subnets", name, {"status": ready, "spec": {"cidrBlock": "x"}})
    assert after["status"] == ready and after["spec"]["cidrBlock"] == "10.99.0.0/24"
    assert after["metadata"]["generation"] == 1  # status writes never bump generation
    bumped = co.patch_cluster_custom_object(GROUP, VERSION, "subnets", name,
                                            {"spec": {"cidrBlock": "10.98.0.0/24"}})
    assert bumped["metadata"]["generation"] == 2 and bumped["status"] == ready
    eip_name = unique("eip")
    api.create({"apiVersion": f"{GROUP}/{VERSION}", "kind": "IptablesEIP",
                "metadata": {"name": eip_name}, "spec": {"v4ip": "198.51.100.30"},
                "status": {"ready": False}})
    eip = co.get_cluster_custom_object_status(GROUP, VERSION, "iptables-eips", eip_name)
    eip["status"]["ready"] = True
    replaced = co.replace_cluster_custom_object_status(GROUP, VERSION, "iptables-eips",
                                                       eip_name, eip)
    assert replaced["status"]["ready"] is True


def test_delete_returns_the_object_and_honours_finalizers_and_grace(
        api: KubeAPI, v1: Any, ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("gone"))
    deleted = raw_json(v1.delete_namespaced_pod("gone", ns, _preload_content=False))
    assert deleted["metadata"]["name"] == "gone"
    with pytest.raises(ApiException):
        v1.read_namespaced_pod("gone", ns)
    body = pod("held")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    v1.create_namespaced_pod(ns, body)
    reader = watch_pods(v1, ns, resource_version=str(api.admin.resource_version()))
    v1.delete_namespaced_pod("held", ns)
    marked = reader.next()
    assert marked["type"] == "MODIFIED" and marked["object"]["metadata"]["deletionTimestamp"]
    v1.patch_namespaced_pod("held", ns, {"metadata": {"finalizers": None}},
                            _content_type=MERGE)
    assert reader.next()["type"] == "DELETED"
    v1.create_namespaced_pod(ns, pod("slow"))
    v1.delete_namespaced_pod("slow", ns, grace_period_seconds=1)
    terminating = reader.next()
    assert terminating["type"] == "ADDED"
    terminating = reader.next()
    assert terminating["object"]["metadata"]["deletionGracePeriodSeconds"] == 1
    assert reader.next(timeout=5)["type"] == "DELETED"  # the kubelet's part, after 1 s
    reader.close()


def test_events_can_be_created_and_listed(v1: Any, ns: str) -> None:
    event = {"metadata": {"name": "web-0.1"},
             "involvedObject": {"kind": "Pod", "namespace": ns, "name": "web-0"},
             "reason": "InvalidAnnotation", "message": "bad ovn.kubernetes.io/bgp",
             "type": "Warning", "source": {"component": "ryu-kovn"}}
    v1.create_namespaced_event(ns, event)
    found = v1.list_namespaced_event(ns, field_selector="involvedObject.name=web-0,"
                                                        "reason=InvalidAnnotation")
    assert [e.message for e in found.items] == ["bad ovn.kubernetes.io/bgp"]


# ------------------------------------------------------------------------------- lists

def test_pagination_is_consistent_at_the_first_page_revision(api: KubeAPI, v1: Any,
                                                             ns: str) -> None:
    api.load([{"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"p{i:02d}", "namespace": ns}} for i in range(25)])
    first = raw_json(v1.list_namespaced_pod(ns, limit=10, _preload_content=False))
    assert len(first["items"]) == 10 and first["metadata"]["remainingItemCount"] == 15
    api.delete("Pod", "p15", ns)  # after the first page: must still be listed
    api.annotate("Pod", "p20", ns, {"changed": "yes"})  # listed as it was
    names: list[str] = [p["metadata"]["name"] for p in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        page = raw_json(v1.list_namespaced_pod(ns, limit=10, _continue=token,
                                               _preload_content=False))
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
        for item in page["items"]:
            if item["metadata"]["name"] == "p20":
                assert "annotations" not in item["metadata"]
    assert names == [f"p{i:02d}" for i in range(25)]


def test_continue_token_is_410_once_its_revision_is_compacted(api: KubeAPI, v1: Any,
                                                              ns: str) -> None:
    api.load([{"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"p{i}", "namespace": ns}} for i in range(3)])
    first = raw_json(v1.list_namespaced_pod(ns, limit=1, _preload_content=False))
    api.annotate("Pod", "p0", ns, {"x": "1"})
    api.compact()
    with pytest.raises(ApiException) as gone:
        v1.list_namespaced_pod(ns, limit=1, _continue=first["metadata"]["continue"])
    assert gone.value.status == 410
    assert json.loads(gone.value.body)["reason"] == "Expired"


def test_list_at_an_exact_revision_and_410_when_too_old(api: KubeAPI, v1: Any,
                                                        ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("old", labels={"v": "1"}))
    before = api.admin.resource_version()
    v1.patch_namespaced_pod("old", ns, {"metadata": {"labels": {"v": "2"}}})
    v1.create_namespaced_pod(ns, pod("new"))
    exact = raw_json(v1.list_namespaced_pod(ns, resource_version=str(before),
                                            resource_version_match="Exact",
                                            _preload_content=False))
    assert exact["metadata"]["resourceVersion"] == str(before)
    assert [(p["metadata"]["name"], p["metadata"]["labels"]) for p in exact["items"]] == [
        ("old", {"v": "1"})]
    api.compact()
    with pytest.raises(ApiException) as gone:
        v1.list_namespaced_pod(ns, resource_version=str(before),
                               resource_version_match="Exact")
    assert gone.value.status == 410
    assert json.loads(gone.value.body)["message"] == (
        "The resourceVersion for the provided list is too old.")


def test_list_from_a_future_revision_waits_then_answers_504(api: KubeAPI, v1: Any,
                                                            ns: str) -> None:
    api.admin.configure(too_large_wait=0.2)
    try:
        future = api.admin.resource_version() + 1000
        started = time.monotonic()
        with pytest.raises(ApiException) as too_large:
            v1.list_namespaced_pod(ns, resource_version=str(future),
                                   resource_version_match="NotOlderThan")
        assert too_large.value.status == 504 and time.monotonic() - started >= 0.2
        assert "Too large resource version" in json.loads(too_large.value.body)["message"]
    finally:
        api.admin.configure(too_large_wait=3.0)


def test_label_and_field_selectors_on_lists(api: KubeAPI, v1: Any, ns: str) -> None:
    api.load([
        {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "a", "namespace": ns, "labels": {"app": "web", "tier": "1"}},
         "spec": {"nodeName": "node-a"}, "status": {"phase": "Running"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "b", "namespace": ns, "labels": {"app": "db"}},
         "spec": {"nodeName": "node-b", "hostNetwork": True}, "status": {"phase": "Running"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c", "namespace": ns},
         "spec": {"nodeName": "node-a"}, "status": {"phase": "Succeeded"}},
    ])

    def names(**kw: Any) -> list[str]:
        listed = raw_json(v1.list_namespaced_pod(ns, _preload_content=False, **kw))
        return [p["metadata"]["name"] for p in listed["items"]]

    assert names(label_selector="app=web") == ["a"]
    assert names(label_selector="app!=web") == ["b", "c"]
    assert names(label_selector="app") == ["a", "b"]
    assert names(label_selector="!app") == ["c"]
    assert names(label_selector="app in (web,db),tier notin (2)") == ["a", "b"]
    assert names(field_selector="spec.nodeName=node-a") == ["a", "c"]
    assert names(field_selector="spec.hostNetwork=false") == ["a", "c"]
    assert names(field_selector="status.phase!=Succeeded,spec.nodeName=node-a") == ["a"]
    everywhere = raw_json(v1.list_pod_for_all_namespaces(
        field_selector=f"metadata.namespace={ns},metadata.name=b", _preload_content=False))
    assert [p["metadata"]["name"] for p in everywhere["items"]] == ["b"]
    with pytest.raises(ApiException) as unsupported:
        v1.list_namespaced_pod(ns, field_selector="spec.containers=x")
    assert unsupported.value.status == 400
    assert "field label not supported" in json.loads(unsupported.value.body)["message"]


# ------------------------------------------------------------------------------- watches

def test_watch_from_a_resource_version_replays_only_later_events(api: KubeAPI, v1: Any,
                                                                 ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("before"))
    mark = api.admin.resource_version()
    v1.create_namespaced_pod(ns, pod("x"))
    v1.patch_namespaced_pod("x", ns, {"metadata": {"labels": {"l": "1"}}})
    v1.delete_namespaced_pod("x", ns)
    with watch_pods(v1, ns, resource_version=str(mark)) as reader:
        replay = reader.take(3)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in replay] == [
            ("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x")]
        rvs = [rv_of(e["object"]) for e in replay]
        assert rvs == sorted(rvs) and rvs[0] > mark
        assert replay[2]["object"]["kind"] == "Pod"  # watch objects carry kind/apiVersion
        v1.create_namespaced_pod(ns, pod("live"))
        live = reader.next()
        assert (live["type"], live["object"]["metadata"]["name"]) == ("ADDED", "live")
        assert reader.pending() == []


def test_watch_without_resource_version_starts_with_synthetic_added(api: KubeAPI, v1: Any,
                                                                     ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("one"))
    v1.create_namespaced_pod(ns, pod("two"))
    for kw in ({}, {"resource_version": "0"}):
        with watch_pods(v1, ns, **kw) as reader:
            first = reader.take(2)
            assert [(e["type"], e["object"]["metadata"]["name"]) for e in first] == [
                ("ADDED", "one"), ("ADDED", "two")]
            api.annotate("Pod", "one", ns, {"n": str(kw)})
            assert reader.next()["type"] == "MODIFIED"


def test_bookmarks_arrive_periodically_and_on_demand(api: KubeAPI, v1: Any, ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("p"))
    with watch_pods(v1, ns, allow_watch_bookmarks=True,
                    resource_version=str(api.admin.resource_version())) as reader:
        bookmark = reader.next(timeout=3, skip_bookmarks=False)
        assert bookmark["type"] == "BOOKMARK"
        assert bookmark["object"] == {"kind": "Pod", "apiVersion": "v1", "metadata": {
            "resourceVersion": str(api.admin.resource_version())}}
    api.admin.configure(bookmark_interval=0)
    try:
        with watch_pods(v1, ns, allow_watch_bookmarks=True, resource_version="0") as reader:
            assert reader.next()["type"] == "ADDED"
            api.admin.wait_watches(1, path=ns)
            assert api.admin.bookmark(path=ns) == 1
            assert reader.next(timeout=2, skip_bookmarks=False)["type"] == "BOOKMARK"
    finally:
        api.admin.configure(bookmark_interval=0.2)


def test_no_bookmarks_unless_allowed(api: KubeAPI, v1: Any, ns: str) -> None:
    with watch_pods(v1, ns, resource_version=str(api.admin.resource_version())) as reader:
        api.admin.wait_watches(1, path=ns)
        assert api.admin.bookmark(path=ns) == 0
        v1.create_namespaced_pod(ns, pod("p"))
        assert reader.next(skip_bookmarks=False)["type"] == "ADDED"


def test_timeout_seconds_ends_the_stream_cleanly(api: KubeAPI, v1: Any, ns: str) -> None:
    started = time.monotonic()
    reader = watch_pods(v1, ns, timeout_seconds=1)
    # Meanwhile, the official Watch with timeout_seconds returns when the server ends it.
    events = list(watch.Watch().stream(v1.list_namespaced_pod, ns, timeout_seconds=1))
    assert events == []
    assert reader.wait_end(timeout=5) is None  # a clean end, not a broken connection
    assert 0.9 <= time.monotonic() - started < 3


def test_watch_from_a_compacted_revision_gets_410_error_event(api: KubeAPI, v1: Any,
                                                              ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("p"))
    old = api.admin.resource_version()
    v1.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"a": "b"}}})
    compacted = api.compact()
    reader = watch_pods(v1, ns, resource_version=str(old))
    line = reader.next_line()
    assert json.loads(line) == {"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"too old resource version: {old} ({compacted})", "reason": "Expired",
        "code": 410}}
    assert reader.wait_end() is None and reader.pending() == []
    with pytest.raises(ApiException) as gone:
        for _ in watch.Watch().stream(v1.list_namespaced_pod, ns, resource_version=str(old),
                                      timeout_seconds=5):
            pass
    assert gone.value.status == 410
    # From the current revision, watching works again.
    with watch_pods(v1, ns, resource_version=str(compacted)) as fresh:
        v1.delete_namespaced_pod("p", ns)
        assert fresh.next()["type"] == "DELETED"


def test_bounded_history_expires_old_revisions(api: KubeAPI, v1: Any, ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("p"))
    old = api.admin.resource_version()
    api.admin.configure(max_events=3)
    try:
        for i in range(5):
            v1.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"i": str(i)}}})
        expired = watch_pods(v1, ns, resource_version=str(old))
        assert json.loads(expired.next_line())["object"]["code"] == 410
        recent = api.admin.resource_version() - 2
        with watch_pods(v1, ns, resource_version=str(recent)) as reader:
            assert [e["object"]["metadata"]["labels"]["i"] for e in reader.take(2)] == [
                "3", "4"]
    finally:
        api.admin.configure(max_events=10000)


def test_label_selector_watch_sends_deleted_on_unmatch_and_added_on_match(
        api: KubeAPI, v1: Any, ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("p", labels={"app": "web"}))
    with watch_pods(v1, ns, label_selector="app=web",
                    resource_version=str(api.admin.resource_version())) as reader:
        v1.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"app": "db"}}})
        gone = reader.next()
        assert gone["type"] == "DELETED"
        assert gone["object"]["metadata"]["labels"] == {"app": "db"}  # the new version
        v1.patch_namespaced_pod("p", ns, {"metadata": {"annotations": {"ignored": "1"}}})
        v1.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"app": "web"}}})
        assert reader.next()["type"] == "ADDED"
        v1.patch_namespaced_pod("p", ns, {"metadata": {"annotations": {"seen": "1"}}})
        assert reader.next()["type"] == "MODIFIED"
        v1.create_namespaced_pod(ns, pod("other", labels={"app": "db"}))
        v1.delete_namespaced_pod("p", ns)
        assert reader.next()["type"] == "DELETED"
        assert reader.pending() == []


def test_field_selector_watch_on_node_name_and_phase(api: KubeAPI, v1: Any, ns: str) -> None:
    with watch_pods(v1, ns, field_selector="spec.nodeName=node-a,status.phase=Running",
                    resource_version=str(api.admin.resource_version())) as reader:
        v1.create_namespaced_pod(ns, pod("elsewhere", node_name="node-b"))
        v1.create_namespaced_pod(ns, pod("here", node_name="node-a"))
        api.patch_status("Pod", "elsewhere", ns, {"phase": "Running"})
        api.patch_status("Pod", "here", ns, {"phase": "Running"})
        added = reader.next()
        assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "here")
        api.patch_status("Pod", "here", ns, {"phase": "Succeeded"})
        assert reader.next()["type"] == "DELETED"
        assert reader.pending() == []


def test_watch_of_cluster_scoped_custom_resources(api: KubeAPI, co: Any) -> None:
    name = unique("s")
    response = co.list_cluster_custom_object(
        GROUP, VERSION, "subnets", watch=True, _preload_content=False,
        field_selector=f"metadata.name={name}", resource_version="0")
    with WatchReader(response) as reader:
        co.create_cluster_custom_object(GROUP, VERSION, "subnets", subnet(name))
        co.create_cluster_custom_object(GROUP, VERSION, "subnets", subnet(unique("other")))
        co.patch_cluster_custom_object_status(GROUP, VERSION, "subnets", name, {
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        added, modified = reader.take(2)
        assert added["type"] == "ADDED" and added["object"]["kind"] == "Subnet"
        assert modified["object"]["status"]["conditions"][0]["status"] == "True"
        co.delete_cluster_custom_object(GROUP, VERSION, "subnets", name)
        assert reader.next()["type"] == "DELETED"


def test_every_watcher_gets_every_event(api: KubeAPI, v1: Any, ns: str) -> None:
    start = str(api.admin.resource_version())
    readers = [watch_pods(v1, ns, resource_version=start) for _ in range(5)]
    try:
        for i in range(10):
            v1.create_namespaced_pod(ns, pod(f"p{i}"))
        for reader in readers:
            assert [e["object"]["metadata"]["name"] for e in reader.take(10)] == [
                f"p{i}" for i in range(10)]
    finally:
        for reader in readers:
            reader.close()
    api.admin.wait_watches(0, path=ns)


def test_kubernetes_watch_tracks_resource_versions_and_bookmarks(api: KubeAPI, v1: Any,
                                                                 ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("p"))
    watcher = watch.Watch()
    seen: list[str] = []
    for event in watcher.stream(v1.list_namespaced_pod, ns, allow_watch_bookmarks=True,
                                timeout_seconds=5):
        seen.append(event["type"])
        if event["type"] == "ADDED":
            assert event["object"].metadata.name == "p"  # typed model, deserialised
        if event["type"] == "BOOKMARK":
            watcher.stop()
    assert seen[0] == "ADDED" and seen[-1] == "BOOKMARK"
    assert int(watcher.resource_version) == api.admin.resource_version()


def test_send_initial_events_ends_with_an_annotated_bookmark(api: KubeAPI, v1: Any,
                                                             ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("p"))
    response = v1.list_namespaced_pod(
        ns, watch=True, _preload_content=False, send_initial_events=True,
        allow_watch_bookmarks=True, resource_version_match="NotOlderThan")
    with WatchReader(response) as reader:
        assert reader.next()["type"] == "ADDED"
        end = reader.next(skip_bookmarks=False)
        assert end["type"] == "BOOKMARK"
        assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_delete_collection_by_selector_and_legacy_watch_path(api: KubeAPI, v1: Any,
                                                             ns: str) -> None:
    for name, app in (("a", "web"), ("b", "web"), ("c", "db")):
        v1.create_namespaced_pod(ns, pod(name, labels={"app": app}))
    legacy = f"{api.url}/api/v1/watch/namespaces/{ns}/pods"  # the deprecated /watch/ prefix
    response = urllib3.PoolManager().request(
        "GET", legacy, fields={"resourceVersion": str(api.admin.resource_version())},
        preload_content=False)
    with WatchReader(response) as reader:
        v1.delete_collection_namespaced_pod(ns, label_selector="app=web")
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in reader.take(2)] == [
            ("DELETED", "a"), ("DELETED", "b")]
    assert [p.metadata.name for p in v1.list_namespaced_pod(ns).items] == ["c"]
    assert v1.list_namespaced_pod("watch").items == []  # a namespace named "watch" is no watch
    one = urllib3.PoolManager().request(  # watch=1 is a watch too (Go's ParseBool)
        "GET", f"{api.url}/api/v1/namespaces/{ns}/pods",
        fields={"watch": "1", "timeoutSeconds": "1"}, preload_content=False)
    with WatchReader(one) as reader:
        assert reader.next()["object"]["metadata"]["name"] == "c"


def test_harness_helpers_speak_plain_json(api: KubeAPI, ns: str) -> None:
    created = api.create({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": "h", "namespace": ns},
                          "status": {"phase": "Running"}})
    assert created["status"] == {"phase": "Running"}  # POST, then PUT .../status
    api.label("Pod", "h", ns, {"app": "x"})
    assert [p["metadata"]["name"] for p in api.list("pods", ns, labelSelector="app=x")[
        "items"]] == ["h"]
    current = api.get("Pod", "h", ns)
    current["spec"] = {"nodeName": "node-a"}
    assert api.replace(current)["spec"] == {"nodeName": "node-a"}
    assert api.set_status("Pod", "h", ns, {"phase": "Succeeded"})["status"] == {
        "phase": "Succeeded"}
    api.load(f"apiVersion: v1\nkind: Service\nmetadata: {{name: s, namespace: {ns}}}\n")
    assert api.get("svc", "s", ns)["metadata"]["name"] == "s"
    api.delete("Pod", "h", ns)
    with pytest.raises(KubeAPIError) as missing:
        api.get("Pod", "h", ns)
    assert missing.value.status == 404 and missing.value.reason == "NotFound"
