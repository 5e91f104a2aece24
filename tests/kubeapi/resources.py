"""The resource types the emulator serves, and the discovery documents built from them.

Why a table and not a schema: the speaker reads only a handful of resource types, and what
matters for it is the *API behaviour* of each type (scope, status subresource, which field
selectors the real server accepts, whether list items carry ``kind``), not validation of
their contents. Everything here is plain data, importable without aiohttp, so the harness
can map kinds to URLs with the same table the server uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Field labels every resource accepts (the real server's DefaultClusterScopedAttr /
# DefaultNamespaceScopedAttrs).
_META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})

# What the real server answers for a field that is absent: the Go struct's zero value or the
# defaulted value, never "missing". A selector ``spec.hostNetwork=false`` must match a pod
# that has no ``hostNetwork`` key at all, as it does on a real cluster.
_FIELD_DEFAULTS: dict[str, str] = {
    "spec.hostNetwork": "false",
    "spec.restartPolicy": "Always",
    "spec.schedulerName": "default-scheduler",
    "spec.serviceAccountName": "default",
}

VERBS_ALL = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource (group/version/plural) and the API behaviour that goes with it."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset({"status"})
    # Field labels accepted by fieldSelector beyond metadata.name/metadata.namespace. The
    # real server answers 400 for any other label, so do we.
    field_labels: frozenset[str] = frozenset()
    verbs: tuple[str, ...] = VERBS_ALL
    categories: tuple[str, ...] = ()
    # Extra field extractors for labels that are not a plain dotted path.
    field_getters: Mapping[str, Callable[[dict[str, Any]], str]] = field(
        default_factory=dict, compare=False, hash=False
    )

    # Derived names, computed once: they are looked up for every stored object.
    api_version: str = field(init=False, compare=False)  # "v1" or "group/version"
    key: str = field(init=False, compare=False)  # "v1/pods", "kubeovn.io/v1/subnets"

    def __post_init__(self) -> None:
        api_version = f"{self.group}/{self.version}" if self.group else self.version
        object.__setattr__(self, "api_version", api_version)
        object.__setattr__(self, "key", f"{api_version}/{self.plural}")

    @property
    def base_path(self) -> str:
        """The URL prefix of this resource's group/version."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def is_core(self) -> bool:
        """Built-in types omit kind/apiVersion in list items; custom resources keep them."""
        return self.group in CORE_GROUPS

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def all_field_labels(self) -> frozenset[str]:
        return _META_FIELDS | self.field_labels

    def path(self, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        """The URL path of a collection or an object of this type."""
        parts = [self.base_path]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
            if subresource:
                parts.append(subresource)
        return "/".join(parts)

    def field_value(self, obj: Mapping[str, Any], label: str) -> str:
        """The string value the real server would compare a field selector against."""
        getter = self.field_getters.get(label)
        if getter is not None:
            return getter(dict(obj))
        value: Any = obj
        for part in label.split("."):
            if not isinstance(value, Mapping):
                value = None
                break
            value = value.get(part)
        if value is None or value == "":
            return _FIELD_DEFAULTS.get(label, "")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


# Groups whose objects are "built-in" for list serialisation purposes.
CORE_GROUPS = frozenset({"", "events.k8s.io", "apps", "discovery.k8s.io"})


def _pod_ip(obj: dict[str, Any]) -> str:
    status = obj.get("status") or {}
    if status.get("podIP"):
        return str(status["podIP"])
    ips = status.get("podIPs") or []
    return str(ips[0].get("ip", "")) if ips else ""


def _event_source(obj: dict[str, Any]) -> str:
    return str((obj.get("source") or {}).get("component", "")) or str(
        obj.get("reportingComponent", "")
    )


PODS = ResourceType(
    "", "v1", "pods", "Pod", True, "pod", ("po",),
    frozenset({"status", "log", "eviction", "binding"}),
    frozenset({
        "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
        "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
        "status.nominatedNodeName",
    }),
    categories=("all",),
    field_getters={"status.podIP": _pod_ip},
)
SERVICES = ResourceType(
    "", "v1", "services", "Service", True, "service", ("svc",), frozenset({"status"}),
    frozenset({"spec.clusterIP", "spec.type"}), categories=("all",),
)
EVENTS = ResourceType(
    "", "v1", "events", "Event", True, "event", ("ev",), frozenset(),
    frozenset({
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
        "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type",
    }),
    field_getters={"source": _event_source},
)
NAMESPACES = ResourceType(
    "", "v1", "namespaces", "Namespace", False, "namespace", ("ns",),
    frozenset({"status", "finalize"}), frozenset({"status.phase"}),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
)
SUBNETS = ResourceType(
    "kubeovn.io", "v1", "subnets", "Subnet", False, "subnet", ("subnet",),
    categories=("kube-ovn",),
)
IPTABLES_EIPS = ResourceType(
    "kubeovn.io", "v1", "iptables-eips", "IptablesEIP", False, "iptables-eip", ("eip",),
    categories=("kube-ovn",),
)
VPC_NAT_GATEWAYS = ResourceType(
    "kubeovn.io", "v1", "vpc-nat-gateways", "VpcNatGateway", False, "vpc-nat-gateway",
    ("vpc-nat-gw",), categories=("kube-ovn",),
)

BUILTIN: tuple[ResourceType, ...] = (
    PODS, SERVICES, EVENTS, NAMESPACES, SUBNETS, IPTABLES_EIPS, VPC_NAT_GATEWAYS,
)


class Registry:
    """The set of served resource types, looked up by URL parts or by kind."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        for rtype in types:
            self.add(rtype)

    def add(self, rtype: ResourceType) -> None:
        """Register (or redefine) a resource type, e.g. from a CustomResourceDefinition."""
        self._by_path[(rtype.group, rtype.version, rtype.plural)] = rtype
        self._by_kind[(rtype.api_version, rtype.kind)] = rtype

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_path.values()))

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def by_key(self, key: str) -> ResourceType | None:
        for rtype in self._by_path.values():
            if rtype.key == key:
                return rtype
        return None

    def find(self, name: str) -> ResourceType:
        """Resolve a kind ("Pod"), plural ("iptables-eips"), singular or short name."""
        lowered = name.lower()
        for rtype in self._by_path.values():
            names = {rtype.kind.lower(), rtype.plural, rtype.singular, rtype.key,
                     *rtype.short_names}
            if lowered in names or name == rtype.key:
                return rtype
        raise KeyError(f"unknown resource type: {name!r}")

    def groups(self) -> dict[str, list[str]]:
        """Non-core groups and their versions, in registration order."""
        result: dict[str, list[str]] = {}
        for rtype in self._by_path.values():
            if rtype.group:
                versions = result.setdefault(rtype.group, [])
                if rtype.version not in versions:
                    versions.append(rtype.version)
        return result

    def add_crd(self, crd: Mapping[str, Any]) -> list[ResourceType]:
        """Register every served version of a CustomResourceDefinition document."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        added: list[ResourceType] = []
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            subresources = frozenset((version.get("subresources") or {}).keys())
            selectable = frozenset(
                str(f.get("jsonPath", "")).lstrip(".")
                for f in version.get("selectableFields") or []
            )
            rtype = ResourceType(
                group=str(spec["group"]),
                version=str(version["name"]),
                plural=str(names["plural"]),
                kind=str(names["kind"]),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=str(names.get("singular") or names["kind"].lower()),
                short_names=tuple(names.get("shortNames") or ()),
                subresources=subresources,
                field_labels=selectable,
                categories=tuple(names.get("categories") or ()),
            )
            self.add(rtype)
            added.append(rtype)
        return added


# ---------------------------------------------------------------------------------------------
# Discovery documents. The kubernetes client's typed APIs never read them, but its
# DynamicClient (and kubectl) do, so they must describe exactly what is served.

SERVER_VERSION: dict[str, str] = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-kubeapi-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions_doc() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }


def _group_doc(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_groups_doc(registry: Registry) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(g, vs) for g, vs in registry.groups().items()],
    }


def api_group_doc(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = registry.groups().get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


def resource_list_doc(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """The APIResourceList of one group/version, subresources included as ``plural/sub``."""
    types = [t for t in registry if t.group == group and t.version == version]
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rtype in types:
        resources.append({
            "name": rtype.plural,
            "singularName": rtype.singular,
            "namespaced": rtype.namespaced,
            "kind": rtype.kind,
            "verbs": list(rtype.verbs),
            "shortNames": list(rtype.short_names),
            "categories": list(rtype.categories),
        })
        for sub in sorted(rtype.subresources):
            resources.append({
                "name": f"{rtype.plural}/{sub}",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": ["get", "patch", "update"],
            })
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def kubeconfig_doc(url: str, name: str = "kubeapi-emulator") -> str:
    """A kubeconfig without TLS or credentials, pointing at ``url`` (JSON is valid YAML)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": url}}],
        "users": [{"name": name, "user": {}}],
        "contexts": [{"name": name,
                      "context": {"cluster": name, "user": name, "namespace": "default"}}],
        "current-context": name,
        "preferences": {},
    }
    return json.dumps(doc, indent=2) + "\n"
