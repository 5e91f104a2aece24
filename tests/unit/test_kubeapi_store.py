"""Unit tests of the emulator's pieces that need no HTTP: selectors, patches, the store.

Why test these apart from the server: they hold the semantics (which objects a selector
matches, what a watch sees when an object stops matching, which RV is too old); testing
them directly keeps each rule's test short and the failure message precise. The HTTP tests
(test_kubeapi_server.py) then check that the server exposes them faithfully.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubeapi.patches import PatchError, json_patch, merge_patch
from kubeapi.resources import NAMESPACES, PODS, SERVICES, SUBNETS, Registry
from kubeapi.selectors import FieldSelector, LabelSelector, SelectorError
from kubeapi.server import Config, ServerThread
from kubeapi.store import (
    ADDED,
    DELETED,
    MODIFIED,
    ApiError,
    Store,
    make_predicate,
    watch_view,
)

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "kube-ovn" / "samples.yaml"


def pod(name: str, ns: str = "default", labels: dict[str, str] | None = None,
        **spec: object) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": dict(spec)}


# ------------------------------------------------------------------------------- selectors

@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("", {}, True),
    ("a=b", {"a": "b"}, True),
    ("a==b", {"a": "b"}, True),
    ("a=b", {"a": "c"}, False),
    ("a!=b", {}, True),  # as apimachinery: a missing key matches !=
    ("a!=b", {"a": "b"}, False),
    ("a", {"a": ""}, True),
    ("!a", {"a": "x"}, False),
    ("!a", {}, True),
    ("a in (x, y)", {"a": "y"}, True),
    ("a in (x,y)", {"a": "z"}, False),
    ("a notin (x,y)", {}, True),
    ("a notin (x,y)", {"a": "x"}, False),
    ("a=b,c in (d)", {"a": "b", "c": "d"}, True),
    ("a=b,c in (d)", {"a": "b", "c": "e"}, False),
    ("ovn.kubernetes.io/vpc-nat-gw-name=gw1", {"ovn.kubernetes.io/vpc-nat-gw-name": "gw1"}, True),
    ("n>3", {"n": "4"}, True),
    ("n<3", {"n": "x"}, False),
])
def test_label_selector_semantics(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelSelector.parse(selector).matches({"metadata": {"labels": labels}}) is expected


@pytest.mark.parametrize("bad", ["a=b=c", "a in x", "=b", "a,,b", "a=(b)", "a in ()"])
def test_label_selector_rejects_what_the_real_server_rejects(bad: str) -> None:
    with pytest.raises(SelectorError):
        LabelSelector.parse(bad)


def test_field_selector_defaults_and_allowed_labels() -> None:
    allowed = PODS.all_field_labels
    no_host = {"metadata": {"name": "p"}, "spec": {"nodeName": "node-a"}}
    host = {"metadata": {"name": "p"}, "spec": {"nodeName": "node-a", "hostNetwork": True}}
    selector = FieldSelector.parse("spec.hostNetwork=false", allowed)
    assert selector.matches(no_host, PODS.field_value)  # absent reads as "false"
    assert not selector.matches(host, PODS.field_value)
    assert FieldSelector.parse("spec.nodeName!=node-b,metadata.name==p", allowed).matches(
        no_host, PODS.field_value)
    assert FieldSelector.parse(r"metadata.name=a\,b", allowed).terms == (
        ("metadata.name", "=", "a,b"),)
    with pytest.raises(SelectorError, match=r"field label not supported: spec\.foo"):
        FieldSelector.parse("spec.foo=x", allowed)
    with pytest.raises(SelectorError):
        FieldSelector.parse("spec.nodeName", allowed)


# ------------------------------------------------------------------------------- patches

def test_merge_patch_removes_with_null_and_merges_nested() -> None:
    target = {"metadata": {"annotations": {"a": "1", "b": "2"}}, "spec": {"x": [1, 2]}}
    patched = merge_patch(target, {"metadata": {"annotations": {"a": None, "c": "3"}},
                                   "spec": {"x": [3]}})
    assert patched == {"metadata": {"annotations": {"b": "2", "c": "3"}}, "spec": {"x": [3]}}
    assert target["metadata"]["annotations"] == {"a": "1", "b": "2"}  # not mutated


def test_json_patch_operations_and_failures() -> None:
    doc = {"metadata": {"annotations": {"a/b": "1"}}, "list": [1, 2]}
    patched = json_patch(doc, [
        {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
        {"op": "remove", "path": "/metadata/annotations/a~1b"},
        {"op": "replace", "path": "/list/0", "value": 9},
        {"op": "add", "path": "/list/-", "value": 3},
        {"op": "copy", "from": "/list/0", "path": "/copied"},
        {"op": "move", "from": "/copied", "path": "/moved"},
        {"op": "test", "path": "/moved", "value": 9},
    ])
    assert patched == {"metadata": {"annotations": {}, "labels": {"x": "y"}},
                       "list": [9, 2, 3], "moved": 9}
    with pytest.raises(PatchError) as failed:
        json_patch(doc, [{"op": "test", "path": "/list/0", "value": 5}])
    assert failed.value.code == 422
    with pytest.raises(PatchError) as malformed:
        json_patch(doc, {"op": "add"})
    assert malformed.value.code == 400


# ------------------------------------------------------------------------------- store

def test_every_write_takes_the_next_global_revision() -> None:
    store = Store()
    a = store.create(PODS, pod("a"))
    s = store.create(SUBNETS, {"metadata": {"name": "s"}, "spec": {"cidrBlock": "10.0.0.0/24"}})
    b = store.patch(PODS, "default", "a", "application/merge-patch+json",
                    {"metadata": {"labels": {"x": "1"}}})
    # The namespace "default" was created on first use (rv 1) and counts as a write too.
    assert [a.rv, s.rv, b.rv] == [2, 3, 4]
    assert b.obj["metadata"]["resourceVersion"] == "4"
    assert store.rv == 4
    assert a.obj["metadata"]["resourceVersion"] == "2"  # committed versions are immutable


def test_create_fills_metadata_and_drops_status_of_status_subresource_types() -> None:
    store = Store()
    created = store.create(SUBNETS, {"metadata": {"name": "s", "namespace": "ignored"},
                                     "status": {"ready": True}})
    meta = created.obj["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1 and "namespace" not in meta
    assert "status" not in created.obj  # as a real server: status only via /status
    assert created.obj["kind"] == "Subnet" and created.obj["apiVersion"] == "kubeovn.io/v1"
    assert store.create(PODS, pod("p")).obj["status"] == {"phase": "Pending"}
    generated = store.create(PODS, {"metadata": {"generateName": "web-"}}).obj["metadata"]
    assert generated["name"].startswith("web-") and len(generated["name"]) == len("web-") + 5
    with pytest.raises(ApiError) as exists:
        store.create(SUBNETS, {"metadata": {"name": "s"}})
    assert exists.value.code == 409 and exists.value.reason == "AlreadyExists"


def test_status_subresource_isolation_and_generation() -> None:
    store = Store()
    store.create(SUBNETS, {"metadata": {"name": "s"}, "spec": {"cidrBlock": "10.0.0.0/24"}})
    merge = "application/merge-patch+json"
    via_main = store.patch(SUBNETS, None, "s", merge,
                           {"metadata": {"annotations": {"a": "1"}}, "status": {"x": 1}})
    assert "status" not in via_main.obj and via_main.obj["metadata"]["generation"] == 1
    via_status = store.patch(SUBNETS, None, "s", merge,
                             {"spec": {"cidrBlock": "x"}, "status": {"x": 1}},
                             subresource="status")
    assert via_status.obj["status"] == {"x": 1}
    assert via_status.obj["spec"] == {"cidrBlock": "10.0.0.0/24"}
    bumped = store.patch(SUBNETS, None, "s", merge, {"spec": {"cidrBlock": "10.1.0.0/24"}})
    assert bumped.obj["metadata"]["generation"] == 2
    assert bumped.obj["status"] == {"x": 1}


def test_noop_write_takes_no_revision_and_sends_no_event() -> None:
    store = Store()
    store.create(PODS, pod("a", labels={"x": "1"}))
    events = []
    store.listeners.append(events.append)
    rv = store.rv
    same = store.patch(PODS, "default", "a", "application/merge-patch+json",
                       {"metadata": {"labels": {"x": "1"}}})
    assert same.rv == rv and store.rv == rv and events == []


def test_removing_the_last_annotation_removes_the_map() -> None:
    store = Store()
    store.create(PODS, {"metadata": {"name": "a", "annotations": {"k": "v"}}})
    patched = store.patch(PODS, "default", "a", "application/merge-patch+json",
                          {"metadata": {"annotations": {"k": None}}})
    assert "annotations" not in patched.obj["metadata"]


def test_update_with_stale_resource_version_conflicts() -> None:
    store = Store()
    first = store.create(PODS, pod("a"))
    store.patch(PODS, "default", "a", "application/merge-patch+json",
                {"metadata": {"labels": {"x": "1"}}})
    with pytest.raises(ApiError) as stale:
        store.update(PODS, "default", "a", first.obj)
    assert stale.value.code == 409 and stale.value.reason == "Conflict"


def test_strategic_merge_patch_is_refused_for_custom_resources() -> None:
    store = Store()
    store.create(SUBNETS, {"metadata": {"name": "s"}})
    with pytest.raises(ApiError) as refused:
        store.patch(SUBNETS, None, "s", "application/strategic-merge-patch+json", {})
    assert refused.value.code == 415
    store.create(PODS, pod("p"))
    store.patch(PODS, "default", "p", "application/strategic-merge-patch+json",
                {"metadata": {"labels": {"a": "b"}}})


def test_watch_view_turns_unmatching_into_deleted_and_matching_into_added() -> None:
    store = Store()
    events = []
    store.listeners.append(events.append)
    store.create(PODS, pod("a", labels={"app": "web"}))
    merge = "application/merge-patch+json"
    store.patch(PODS, "default", "a", merge, {"metadata": {"labels": {"app": "db"}}})
    store.patch(PODS, "default", "a", merge, {"metadata": {"labels": {"app": "web"}}})
    store.patch(PODS, "default", "a", merge, {"metadata": {"annotations": {"n": "1"}}})
    store.delete(PODS, "default", "a")
    matches = make_predicate(PODS, None, None, LabelSelector.parse("app=web"), FieldSelector())
    seen = [view[0] for e in events if e.rtype is PODS and (view := watch_view(e, matches))]
    assert seen == [ADDED, DELETED, ADDED, MODIFIED, DELETED]


def test_history_bound_compaction_and_snapshots() -> None:
    store = Store(max_events=3)
    for i in range(5):
        store.create(SUBNETS, {"metadata": {"name": f"s{i}"}})
    assert len(store.events) == 3 and store.compacted_rv == 2
    assert [s.obj["metadata"]["name"] for s in store.snapshot(SUBNETS, 3).values()] == [
        "s0", "s1", "s2"]
    with pytest.raises(ApiError) as gone:
        store.snapshot(SUBNETS, 1)
    assert gone.value.code == 410
    assert store.compact() == 5 and not store.events


def test_paginated_list_is_consistent_at_the_first_page_revision() -> None:
    store = Store()
    for i in range(5):
        store.create(PODS, pod(f"p{i}", ns="a"))
    first = store.list(PODS, "a", limit=2)
    assert [v.obj["metadata"]["name"] for v in first.items] == ["p0", "p1"]
    assert first.remaining == 3 and first.continue_token
    store.delete(PODS, "a", "p3")
    store.create(PODS, pod("p5", ns="a"))
    second = store.list(PODS, "a", limit=10, continue_token=first.continue_token)
    assert [v.obj["metadata"]["name"] for v in second.items] == ["p2", "p3", "p4"]
    assert second.rv == first.rv and second.continue_token is None


def test_namespace_scoped_list_and_namespace_cascade() -> None:
    store = Store()
    store.create(PODS, pod("x", ns="a"))
    store.create(PODS, pod("x", ns="ab"))
    store.create(SERVICES, {"metadata": {"name": "s", "namespace": "a"}})
    assert [v.obj["metadata"]["namespace"] for v in store.list(PODS, "a").items] == ["a"]
    store.delete(NAMESPACES, None, "a")
    assert store.count(SERVICES) == 0
    assert [v.obj["metadata"]["namespace"] for v in store.list(PODS, None).items] == ["ab"]


def test_finalizers_delay_deletion_until_removed() -> None:
    store = Store()
    store.create(PODS, {"metadata": {"name": "f", "finalizers": ["x/y"]}})
    marked, gone = store.delete(PODS, "default", "f")
    assert not gone and marked.obj["metadata"]["deletionTimestamp"]
    types = []
    store.listeners.append(lambda e: types.append(e.type))
    store.patch(PODS, "default", "f", "application/merge-patch+json",
                {"metadata": {"finalizers": None}})
    assert types == [DELETED] and store.count(PODS) == 0


def test_dump_and_restore_keep_objects_rvs_and_history() -> None:
    store = Store()
    store.load([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
                 "status": {"phase": "Running"}}])
    state = store.dump()
    copy = Store(Registry())
    copy.restore(state)
    assert copy.rv == store.rv and len(copy.events) == len(store.events)
    assert copy.get(PODS, "default", "a").obj["status"] == {"phase": "Running"}
    assert [e.type for e in copy.replay(0, PODS)] == [ADDED]


def test_load_samples_keeps_status_and_registers_crds() -> None:
    if not SAMPLES.exists():
        pytest.skip(f"{SAMPLES} is not there (shared/ is laid beside the repository)")
    from kubeapi.loading import load_file

    store = Store()
    store.load(load_file(SAMPLES))
    eip = store.get(store.registry.find("IptablesEIP"), None, "eip-web").obj
    assert eip["status"] == {"ready": True, "ip": "198.51.100.10"}
    assert store.count(PODS) == 8 and store.count(SUBNETS) == 4
    crds = SAMPLES.parent / "crds.yaml"
    registry = Registry([])
    Store(registry).load(load_file(crds))
    assert registry.find("vpc-nat-gateways").namespaced is False


def test_server_thread_serves_in_process() -> None:
    """The in-process mode serves the same API; used where the store must be at hand."""
    import json
    import urllib.request

    with ServerThread(Config(port=0), [{"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": "x"}}]) as thread:
        with urllib.request.urlopen(f"{thread.url}/api/v1/namespaces") as response:
            names = [i["metadata"]["name"] for i in json.load(response)["items"]]
        assert names == ["x"]
        assert thread.call(lambda: thread.server.store.rv) == 1


def test_cli_refuses_any_address_but_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    from kubeapi.__main__ import main

    assert main(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err
