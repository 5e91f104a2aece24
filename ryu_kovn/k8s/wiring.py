"""Which resources this speaker watches, and where their changes go.

NAT-gateway mode watches only its own gateway's IptablesEIPs; otherwise
Subnets and Pods, and Services when ClusterIPs are announced (the RBAC of
each mode allows exactly that).
"""

from __future__ import annotations

from typing import Any

from ryu_kovn import policy
from ryu_kovn.config import Settings
from ryu_kovn.k8s import resources
from ryu_kovn.k8s.watch import Watcher
from ryu_kovn.reconcile import Reconciler


def context(settings: Settings) -> policy.Context:
    return policy.Context(
        node_name=settings.node_name,
        announce_cluster_ip=settings.announce_cluster_ip,
        gateway_name=settings.gateway_name if settings.nat_gw_mode else None,
        min_prefix_len_v4=settings.min_prefix_length_v4,
        min_prefix_len_v6=settings.min_prefix_length_v6,
        allow_special=settings.allow_special_prefixes,
    )


def watchers(settings: Settings, api: Any, reconciler: Reconciler) -> list[Watcher]:
    if settings.nat_gw_mode:
        eips = resources.iptables_eips_for(settings.gateway_name or "")
        return [Watcher(api, eips, reconciler.on_eip)]
    found = [
        Watcher(api, resources.SUBNETS, reconciler.on_subnet),
        Watcher(api, resources.PODS, reconciler.on_pod),
    ]
    if settings.announce_cluster_ip:
        found.append(Watcher(api, resources.SERVICES, reconciler.on_service))
    return found
