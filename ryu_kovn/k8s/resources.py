"""The Kubernetes resources the speaker watches, as plain data.

Why a table of our own rather than the client's typed APIs: the watchers read raw JSON and
keep only the trimmed objects of :mod:`ryu_kovn.k8s.objects` (a 10k-pod cluster would
otherwise sit in memory as kubernetes model objects, and building them costs more than
the rest of the speaker's work). A :class:`Resource` is everything a
:class:`~ryu_kovn.k8s.watch.Watcher` needs to list and watch one kind: where it lives,
which objects of it matter (selectors, applied by the API server so the rest never even
crosses the network) and how to trim one.

The selectors are the ones kube-ovn's speaker uses: pods on the host network carry the
node's address, never a pod address, and a NAT-gateway speaker only announces the EIPs of
its own gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .objects import NAT_GW_LABEL, IptablesEIP, Pod, Service, Subnet

KUBEOVN_GROUP = "kubeovn.io"


@dataclass(frozen=True)
class Resource:
    """One listable, watchable collection, across all namespaces."""

    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool
    trim: Callable[[dict[str, Any]], Any]
    field_selector: str | None = None
    label_selector: str | None = None

    @property
    def api_version(self) -> str:
        """``v1`` or ``kubeovn.io/v1``: what objects of this resource say in ``apiVersion``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self) -> str:
        """The list/watch URL path across all namespaces: ``/api/v1/pods``,
        ``/apis/kubeovn.io/v1/subnets``.

        The same path serves both verbs (``?watch=true`` makes it a watch); the deprecated
        ``/watch/`` prefix is not used.
        """
        if self.group:
            return f"/apis/{self.group}/{self.version}/{self.plural}"
        return f"/api/{self.version}/{self.plural}"

    def selectors(self) -> dict[str, str]:
        """The query parameters that restrict the collection (empty when none)."""
        query: dict[str, str] = {}
        if self.field_selector:
            query["fieldSelector"] = self.field_selector
        if self.label_selector:
            query["labelSelector"] = self.label_selector
        return query

    def __str__(self) -> str:
        """What log messages call it: ``v1/pods [spec.hostNetwork=false]``."""
        text = f"{self.api_version}/{self.plural}"
        selectors = [s for s in (self.field_selector, self.label_selector) if s]
        return f"{text} [{', '.join(selectors)}]" if selectors else text


# Host-network pods are never announced (their address is the node's): let the API server
# drop them, so their churn (DaemonSets on every node) costs the speaker nothing. A real
# API server matches pods without a ``hostNetwork`` key, since the field defaults to false.
PODS = Resource("Pod", "", "v1", "pods", True, Pod.from_raw,
                field_selector="spec.hostNetwork=false")
SERVICES = Resource("Service", "", "v1", "services", True, Service.from_raw)
SUBNETS = Resource("Subnet", KUBEOVN_GROUP, "v1", "subnets", False, Subnet.from_raw)
IPTABLES_EIPS = Resource("IptablesEIP", KUBEOVN_GROUP, "v1", "iptables-eips", False,
                         IptablesEIP.from_raw)


def iptables_eips_for(gateway: str) -> Resource:
    """The EIPs of one VpcNatGateway (env ``GATEWAY_NAME``), selected by the API server.

    An EIP whose label is changed to another gateway stops matching, and the API server
    sends it to this watch as DELETED: the watcher needs no logic of its own for that.
    """
    if not gateway:
        raise ValueError("a NAT gateway name is required (env GATEWAY_NAME is empty)")
    return Resource("IptablesEIP", KUBEOVN_GROUP, "v1", "iptables-eips", False,
                    IptablesEIP.from_raw, label_selector=f"{NAT_GW_LABEL}={gateway}")


__all__ = ["IPTABLES_EIPS", "PODS", "SERVICES", "SUBNETS", "Resource", "iptables_eips_for"]
