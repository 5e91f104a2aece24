"""The kube-ovn objects the integration tests write, as the API server takes them."""

from __future__ import annotations

from typing import Any

BGP = "ovn.kubernetes.io/bgp"


def subnet(name: str, cidr: str, bgp: str | None = None, ready: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "kubeovn.io/v1", "kind": "Subnet",
        "metadata": {"name": name, "annotations": {BGP: bgp} if bgp is not None else {}},
        "spec": {"cidrBlock": cidr, "provider": "ovn"},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }  # fmt: skip


def pod(
    name: str,
    ips: str,
    switch: str,
    node: str = "node-a",
    bgp: str | None = None,
    restart: str = "Always",
    namespace: str = "shop",
) -> dict[str, Any]:
    """A running pod with kube-ovn's address annotations (``bgp`` None: not annotated)."""
    ann = {"ovn.kubernetes.io/ip_address": ips, "ovn.kubernetes.io/logical_switch": switch}
    if bgp is not None:
        ann[BGP] = bgp
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "annotations": ann},
        "spec": {"nodeName": node, "restartPolicy": restart},
        "status": {"phase": "Running"},
    }  # fmt: skip
