"""The trimmed objects share the strings that repeat across pods, and stay equal as before.

The watcher's cache holds one Pod per pod of the cluster: a field that is the same in
100k pods (namespace, node, phase, subnet...) must be one string, not 100k copies.
"""

from __future__ import annotations

import json
from typing import Any

from ryu_kovn.k8s.objects import Pod


def raw_pod(name: str, ip: str) -> dict[str, Any]:
    # Through JSON text, as the watcher gets it: the decoder makes a new string per value.
    return json.loads(json.dumps({
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": "7", "annotations": {
            "ovn.kubernetes.io/bgp": "true",
            "ovn.kubernetes.io/ip_address": ip, "ovn.kubernetes.io/logical_switch": "net",
            "attach.default.ovn.kubernetes.io/ip_address": ip,
            "attach.default.ovn.kubernetes.io/logical_switch": "attach"}},
        "spec": {"nodeName": "node-a", "restartPolicy": "Always"},
        "status": {"phase": "Failed", "reason": "Evicted"},
    }))  # fmt: skip


def test_fields_that_repeat_across_pods_are_one_string() -> None:
    a = Pod.from_raw(raw_pod("a", "10.16.0.1"))
    b = Pod.from_raw(raw_pod("b", "10.16.0.2"))
    for field in ("namespace", "bgp", "node_name", "restart_policy", "phase", "reason"):
        assert getattr(a, field) is getattr(b, field), field
    for x, y in zip(a.addresses, b.addresses, strict=True):
        assert x.provider is y.provider and x.logical_switch is y.logical_switch


def test_sharing_strings_changes_no_value() -> None:
    pod = Pod.from_raw(raw_pod("a", "10.16.0.1"))
    assert (pod.namespace, pod.name, pod.node_name, pod.phase, pod.reason) == (
        "shop", "a", "node-a", "Failed", "Evicted")
    assert [(a.provider, a.ip_address, a.logical_switch) for a in pod.addresses] == [
        ("attach.default.ovn", "10.16.0.1", "attach"), ("ovn", "10.16.0.1", "net")]
    assert pod == Pod.from_raw(raw_pod("a", "10.16.0.1"))
    assert pod.ref == "Pod/shop/a"


def test_mistyped_fields_still_become_none() -> None:
    raw = raw_pod("a", "10.16.0.1")
    raw["metadata"]["namespace"] = 5
    raw["spec"] = {"nodeName": ["node-a"], "restartPolicy": None}
    raw["status"] = {"phase": {}, "reason": 1.5}
    raw["metadata"]["annotations"]["ovn.kubernetes.io/logical_switch"] = 3
    pod = Pod.from_raw(raw)
    assert pod.namespace == ""
    assert (pod.node_name, pod.restart_policy, pod.phase, pod.reason) == (None, None, None, None)
    assert [a.logical_switch for a in pod.addresses] == ["attach", None]
