"""The few fields of each Kubernetes object that the policy reads.

The watchers keep only these (a Pod is kilobytes of JSON, the policy needs a
dozen strings), built straight from the raw JSON without the client's model
classes.  Building never fails: a missing or mistyped field becomes ``None``
(or empty) and the policy decides what that means and says so.  Annotation
values stay raw strings, so a bad value can be reported as it was written.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, ClassVar

BGP_ANNOTATION = "ovn.kubernetes.io/bgp"
NAT_GW_LABEL = "ovn.kubernetes.io/vpc-nat-gw-name"
_IP_SUFFIX = ".kubernetes.io/ip_address"
_SWITCH_SUFFIX = ".kubernetes.io/logical_switch"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _shared(value: Any) -> str | None:
    """``_str``, interned: for a field whose few values repeat across thousands of objects.

    The JSON decoder makes a new string for every occurrence, so without this
    100k pods in one namespace hold 100k copies of its name (and of their
    node's, phase, provider, subnet...).  Only for fields with few distinct
    values in a cluster: CPython 3.12 never frees an interned string (3.11
    and 3.13 do), so interning names, IPs or resource versions would leak one
    string per object ever seen, and save nothing as they are unique anyway.
    """
    return sys.intern(value) if isinstance(value, str) else None


def _meta(raw: Any) -> dict[str, Any]:
    return _dict(_dict(raw).get("metadata"))


def _parts(raw: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    body = _dict(raw)
    return _dict(body.get("metadata")), _dict(body.get("spec")), _dict(body.get("status"))


def _annotations(raw: Any) -> dict[str, Any]:
    return _dict(_meta(raw).get("annotations"))


def object_key(raw: Any) -> str:
    """``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones."""
    meta = _meta(raw)
    name = _str(meta.get("name")) or ""
    namespace = _str(meta.get("namespace"))
    return f"{namespace}/{name}" if namespace else name


def resource_version(raw: Any) -> str | None:
    return _str(_meta(raw).get("resourceVersion"))


class _Namespaced:
    """``key`` and ``ref`` of a namespaced kind (fields ``namespace``, ``name``)."""

    __slots__ = ()
    KIND: ClassVar[str]
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ref(self) -> str:
        return f"{self.KIND}/{self.namespace}/{self.name}"


class _ClusterScoped:
    """``key`` and ``ref`` of a cluster-scoped kind (field ``name``)."""

    __slots__ = ()
    KIND: ClassVar[str]
    name: str

    @property
    def key(self) -> str:
        return self.name

    @property
    def ref(self) -> str:
        return f"{self.KIND}/{self.name}"


@dataclass(frozen=True, slots=True)
class PodAddress:
    """One provider's addresses of a pod, e.g. provider ``ovn`` or ``attachnet.default.ovn``."""

    provider: str
    ip_address: str  # raw annotation value: "10.16.0.12" or "10.16.0.12,fd00::c"
    logical_switch: str | None  # the Subnet's name


@dataclass(frozen=True, slots=True)
class Pod(_Namespaced):
    KIND: ClassVar[str] = "Pod"
    namespace: str
    name: str
    bgp: str | None  # raw annotation value, None when absent
    addresses: tuple[PodAddress, ...]
    node_name: str | None
    host_network: bool
    restart_policy: str | None
    phase: str | None
    reason: str | None
    resource_version: str | None = None

    @classmethod
    def from_raw(cls, raw: Any) -> Pod:
        meta, spec, status = _parts(raw)
        ann = _dict(meta.get("annotations"))
        addresses = []
        for key, value in ann.items():
            if not (isinstance(key, str) and key.endswith(_IP_SUFFIX)) or not isinstance(
                value, str
            ):
                continue
            provider = sys.intern(key[: -len(_IP_SUFFIX)])
            switch = _shared(ann.get(provider + _SWITCH_SUFFIX))
            addresses.append(PodAddress(provider, value, switch))
        return cls(
            namespace=_shared(meta.get("namespace")) or "",
            name=_str(meta.get("name")) or "",
            bgp=_shared(ann.get(BGP_ANNOTATION)),
            addresses=tuple(addresses) if len(addresses) < 2 else tuple(
                sorted(addresses, key=lambda a: a.provider)),
            node_name=_shared(spec.get("nodeName")),
            host_network=spec.get("hostNetwork") is True,
            restart_policy=_shared(spec.get("restartPolicy")),
            phase=_shared(status.get("phase")),
            reason=_shared(status.get("reason")),
            resource_version=_str(meta.get("resourceVersion")),
        )


@dataclass(frozen=True, slots=True)
class Subnet(_ClusterScoped):
    KIND: ClassVar[str] = "Subnet"
    name: str
    bgp: str | None
    cidr_block: str | None  # raw: "10.16.0.0/16" or "10.16.0.0/16,fd00:10:16::/64"
    provider: str | None
    ready: bool
    resource_version: str | None = None

    @classmethod
    def from_raw(cls, raw: Any) -> Subnet:
        meta, spec, status = _parts(raw)
        conditions = status.get("conditions")
        ready = any(
            isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
            for c in (conditions if isinstance(conditions, list) else [])
        )
        return cls(
            name=_str(meta.get("name")) or "",
            bgp=_str(_annotations(raw).get(BGP_ANNOTATION)),
            cidr_block=_str(spec.get("cidrBlock")),
            provider=_str(spec.get("provider")),
            ready=ready,
            resource_version=_str(meta.get("resourceVersion")),
        )


@dataclass(frozen=True, slots=True)
class Service(_Namespaced):
    KIND: ClassVar[str] = "Service"
    namespace: str
    name: str
    bgp: str | None
    type: str | None
    cluster_ip: str | None
    cluster_ips: tuple[str, ...]
    resource_version: str | None = None

    @classmethod
    def from_raw(cls, raw: Any) -> Service:
        meta, spec = _meta(raw), _dict(_dict(raw).get("spec"))
        ips = spec.get("clusterIPs")
        return cls(
            namespace=_str(meta.get("namespace")) or "",
            name=_str(meta.get("name")) or "",
            bgp=_str(_annotations(raw).get(BGP_ANNOTATION)),
            # The API server defaults an absent type to ClusterIP.
            type=_str(spec.get("type")) if "type" in spec else "ClusterIP",
            cluster_ip=_str(spec.get("clusterIP")),
            cluster_ips=tuple(
                ip for ip in (ips if isinstance(ips, list) else []) if isinstance(ip, str)
            ),
            resource_version=_str(meta.get("resourceVersion")),
        )


@dataclass(frozen=True, slots=True)
class IptablesEIP(_ClusterScoped):
    KIND: ClassVar[str] = "IptablesEIP"
    name: str
    bgp: str | None
    gateway: str | None  # label ovn.kubernetes.io/vpc-nat-gw-name
    v4ip: str | None
    v6ip: str | None
    ready: bool
    resource_version: str | None = None

    @classmethod
    def from_raw(cls, raw: Any) -> IptablesEIP:
        meta, spec, status = _parts(raw)
        return cls(
            name=_str(meta.get("name")) or "",
            bgp=_str(_annotations(raw).get(BGP_ANNOTATION)),
            gateway=_str(_dict(meta.get("labels")).get(NAT_GW_LABEL)),
            v4ip=_str(spec.get("v4ip")) or None,
            v6ip=_str(spec.get("v6ip")) or None,
            ready=status.get("ready") is True,
            resource_version=_str(meta.get("resourceVersion")),
        )
