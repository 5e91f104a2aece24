"""The table "What gets announced" of shared/SPEC.md, row by row, and what breaks it.

Every case builds its object from raw JSON with ``X.from_raw``, as the
watchers do, so what is tested is what a real (or a broken) API object gives.
The expected outcome of a case is the exact set of (prefix, policy) it wants
and, when something is wrong with it, fragments its one problem line must
hold (the line always starts with the object's ref).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from ryu_kovn.k8s.objects import IptablesEIP, Pod, Service, Subnet
from ryu_kovn.policy import (
    CLUSTER,
    LOCAL,
    Context,
    Decision,
    Want,
    check_prefix,
    eip_decision,
    parse_policy,
    pod_alive,
    pod_decision,
    service_decision,
    subnet_decision,
    subnet_pod_policy,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "kube-ovn" / "samples.yaml"

BGP = "ovn.kubernetes.io/bgp"
NODE_A = Context("node-a", announce_cluster_ip=True, gateway_name="gw1")
NODE_B = Context("node-b", announce_cluster_ip=True, gateway_name="gw1")
JUNK = "x" * 10240

Expected = tuple[set[tuple[str, str]], tuple[str, ...] | None]


# --------------------------------------------------------------------------- raw objects


def subnet_raw(
    name: str = "net",
    bgp: Any = "true",
    cidr: Any = "10.16.0.0/16",
    ready: Any = "True",
    **extra: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "annotations": {} if bgp is None else {BGP: bgp}}
    return {
        "apiVersion": "kubeovn.io/v1",
        "kind": "Subnet",
        "metadata": meta,
        "spec": {"cidrBlock": cidr, "provider": "ovn"},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
        **extra,
    }


def pod_raw(
    ann: Mapping[str, Any] | None = None,
    *,
    bgp: Any = None,
    node: Any = "node-a",
    phase: Any = "Running",
    restart: Any = None,
    reason: Any = None,
    host: Any = None,
    name: str = "p",
) -> dict[str, Any]:
    annotations = dict(ann or {})
    if bgp is not None:
        annotations[BGP] = bgp
    spec: dict[str, Any] = {"nodeName": node}
    if restart is not None:
        spec["restartPolicy"] = restart
    if host is not None:
        spec["hostNetwork"] = host
    status: dict[str, Any] = {"phase": phase}
    if reason is not None:
        status["reason"] = reason
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations},
        "spec": spec,
        "status": status,
    }


def addr(ip: Any, switch: Any = "ovn-default", provider: str = "ovn") -> dict[str, Any]:
    """The two annotations kube-ovn writes for one provider of a pod."""
    out: dict[str, Any] = {f"{provider}.kubernetes.io/ip_address": ip}
    if switch is not None:
        out[f"{provider}.kubernetes.io/logical_switch"] = switch
    return out


def service_raw(
    bgp: Any = "true",
    *,
    type_: Any = "ClusterIP",
    cluster_ip: Any = "10.96.0.10",
    cluster_ips: Any = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"clusterIP": cluster_ip}
    if type_ is not None:
        spec["type"] = type_
    spec["clusterIPs"] = [cluster_ip] if cluster_ips is None else cluster_ips
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "svc",
            "namespace": "shop",
            "annotations": {} if bgp is None else {BGP: bgp},
        },
        "spec": spec,
    }


def eip_raw(
    bgp: Any = "true",
    *,
    gw: Any = "gw1",
    v4: Any = "198.51.100.10",
    v6: Any = None,
    ready: Any = True,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"natGwDp": gw}
    if v4 is not None:
        spec["v4ip"] = v4
    if v6 is not None:
        spec["v6ip"] = v6
    return {
        "apiVersion": "kubeovn.io/v1",
        "kind": "IptablesEIP",
        "metadata": {
            "name": "eip",
            "labels": {} if gw is None else {"ovn.kubernetes.io/vpc-nat-gw-name": gw},
            "annotations": {} if bgp is None else {BGP: bgp},
        },
        "spec": spec,
        "status": {"ready": ready},
    }


def _subnets(*raws: dict[str, Any]) -> dict[str, Subnet]:
    subnets = [Subnet.from_raw(r) for r in raws]
    return {s.name: s for s in subnets}


# The subnets pods of the table live in.
SUBNETS = _subnets(
    subnet_raw("ovn-default", "true", "10.16.0.0/16,fd00:10:16::/64"),
    subnet_raw("edge", "local", "10.70.0.0/24"),
    subnet_raw("yes-net", "yes", "10.71.0.0/24"),
    subnet_raw("pending", "cluster", "10.80.0.0/24", ready="False"),
    subnet_raw("attach-net", None, "172.31.0.0/24"),
    subnet_raw("typo-net", "clutser", "10.90.0.0/24"),
)


def check(decision: Decision, expected: Expected, ref: str) -> None:
    """The decision wants exactly ``expected[0]``; its problem holds each of ``expected[1]``."""
    wants, fragments = expected
    assert {(w.prefix, w.policy) for w in decision.wants} == wants
    assert {w.source for w in decision.wants} <= {ref}
    if fragments is None:
        assert decision.problem is None
    else:
        assert decision.problem is not None
        assert decision.problem.startswith(f"{ref}: ")
        assert "\n" not in decision.problem
        for fragment in fragments:
            assert fragment in decision.problem


def C(*prefixes: str) -> set[tuple[str, str]]:
    return {(p, CLUSTER) for p in prefixes}


def L(*prefixes: str) -> set[tuple[str, str]]:
    return {(p, LOCAL) for p in prefixes}


NONE: set[tuple[str, str]] = set()
UNKNOWN = "for annotation ovn.kubernetes.io/bgp (expected true, yes, cluster or local)"
UNKNOWN_CLUSTER = "for annotation ovn.kubernetes.io/bgp (expected true, yes or cluster)"


# --------------------------------------------------------------------------- parse_policy


@pytest.mark.parametrize(
    ("value", "policy"),
    [
        pytest.param("true", CLUSTER, id="true"),
        pytest.param("yes", CLUSTER, id="yes"),
        pytest.param("cluster", CLUSTER, id="cluster"),
        pytest.param("local", LOCAL, id="local"),
        pytest.param("True", None, id="case-True"),
        pytest.param("YES", None, id="case-YES"),
        pytest.param("Local", None, id="case-Local"),
        pytest.param(" true", None, id="leading-space"),
        pytest.param("true\n", None, id="trailing-newline"),
        pytest.param("", None, id="empty"),
        pytest.param("false", None, id="false"),
        pytest.param("no", None, id="no"),
        pytest.param("1", None, id="one"),
        pytest.param(JUNK, None, id="junk-10k"),
        pytest.param(None, None, id="none"),
        pytest.param(True, None, id="bool"),
        pytest.param(["true"], None, id="list"),
    ],
)
def test_parse_policy(value: Any, policy: str | None) -> None:
    assert parse_policy(value) == policy


@pytest.mark.parametrize(
    ("bgp", "policy"),
    [
        pytest.param("true", CLUSTER, id="true"),
        pytest.param("cluster", CLUSTER, id="cluster"),
        pytest.param("local", LOCAL, id="local"),
        pytest.param(None, None, id="absent"),
        pytest.param("clutser", None, id="bad"),
    ],
)
def test_subnet_pod_policy(bgp: str | None, policy: str | None) -> None:
    assert subnet_pod_policy(Subnet.from_raw(subnet_raw(bgp=bgp))) == policy


# --------------------------------------------------------------------------- check_prefix


@pytest.mark.parametrize(
    ("prefix", "ctx", "fragment"),
    [
        pytest.param("10.16.0.0/16", NODE_A, None, id="private-v4"),
        pytest.param("198.51.100.10/32", NODE_A, None, id="host-v4"),
        pytest.param("fd00:10:16::/64", NODE_A, None, id="ula-v6"),
        pytest.param("2001:db8::1/128", NODE_A, None, id="host-v6"),
        pytest.param("10.0.0.0/8", NODE_A, None, id="exactly-min-v4"),
        pytest.param("fd00::/16", NODE_A, None, id="exactly-min-v6"),
        pytest.param("0.0.0.0/0", NODE_A, "default route", id="default-v4"),
        pytest.param("::/0", NODE_A, "default route", id="default-v6"),
        pytest.param("127.0.0.0/8", NODE_A, "loopback 127.0.0.0/8", id="loopback-v4"),
        pytest.param("127.0.0.1/32", NODE_A, "loopback", id="loopback-host"),
        pytest.param("::1/128", NODE_A, "loopback ::1/128", id="loopback-v6"),
        pytest.param("169.254.0.0/16", NODE_A, "link-local 169.254.0.0/16", id="ll-v4"),
        pytest.param("169.254.169.254/32", NODE_A, "link-local", id="ll-metadata"),
        pytest.param("fe80::/64", NODE_A, "link-local fe80::/10", id="ll-v6"),
        pytest.param("224.0.0.0/4", NODE_A, "multicast 224.0.0.0/4", id="mcast-v4"),
        pytest.param("239.1.1.1/32", NODE_A, "multicast", id="mcast-host"),
        pytest.param("ff02::1/128", NODE_A, "multicast ff00::/8", id="mcast-v6"),
        pytest.param("0.0.0.0/32", NODE_A, "unspecified", id="unspec-v4"),
        pytest.param("0.0.0.0/8", NODE_A, "unspecified", id="this-network-v4"),
        pytest.param("::/128", NODE_A, "unspecified", id="unspec-v6"),
        pytest.param("255.255.255.255/32", NODE_A, "broadcast", id="broadcast"),
        pytest.param("240.0.0.0/4", NODE_A, "broadcast", id="class-e-holds-broadcast"),
        pytest.param("::ffff:0:0/96", NODE_A, "IPv4-mapped", id="mapped"),
        pytest.param("::ffff:a00:1/128", NODE_A, "IPv4-mapped", id="mapped-host"),
        pytest.param("::a00:1/128", NODE_A, "IPv4-compatible", id="v4-compatible"),
        pytest.param("64.0.0.0/2", NODE_A, "loopback", id="covers-loopback"),
        pytest.param("10.0.0.0/7", NODE_A, "shorter than the IPv4 minimum", id="short-v4"),
        pytest.param("fd00::/15", NODE_A, "shorter than the IPv6 minimum", id="short-v6"),
        pytest.param("10.16.0.1/16", NODE_A, "not a valid prefix", id="host-bits"),
        pytest.param("10.16.0.0/33", NODE_A, "not a valid prefix", id="bad-len"),
        pytest.param("fe80::%eth0/64", NODE_A, "not a valid prefix", id="zone"),
        pytest.param("", NODE_A, "not a valid prefix", id="empty"),
        pytest.param(
            "127.0.0.0/8", Context("n", allow_special=True), None, id="allow-special-loopback"
        ),
        pytest.param(
            "0.0.0.0/0",
            Context("n", allow_special=True),
            "shorter than the IPv4 minimum prefix length /8",
            id="allow-special-keeps-length",
        ),
        pytest.param(
            "0.0.0.0/0",
            Context("n", allow_special=True, min_prefix_len_v4=0),
            None,
            id="allow-everything",
        ),
        pytest.param("10.16.0.0/16", Context("n", min_prefix_len_v4=24), "/24", id="custom-min-v4"),
        pytest.param("fd00::/48", Context("n", min_prefix_len_v6=64), "/64", id="custom-min-v6"),
    ],
)
def test_check_prefix(prefix: str, ctx: Context, fragment: str | None) -> None:
    reason = check_prefix(prefix, ctx)
    if fragment is None:
        assert reason is None
    else:
        assert reason is not None and fragment in reason


# --------------------------------------------------------------------------- Subnet


@pytest.mark.parametrize(
    ("raw", "ctx", "expected"),
    [
        pytest.param(subnet_raw(bgp="true"), NODE_A, (C("10.16.0.0/16"), None), id="true"),
        pytest.param(subnet_raw(bgp="yes"), NODE_A, (C("10.16.0.0/16"), None), id="yes"),
        pytest.param(subnet_raw(bgp="cluster"), NODE_A, (C("10.16.0.0/16"), None), id="cluster"),
        pytest.param(subnet_raw(bgp="local"), NODE_A, (NONE, None), id="local-no-cidr"),
        pytest.param(subnet_raw(bgp=None), NODE_A, (NONE, None), id="absent"),
        pytest.param(
            subnet_raw(cidr="10.16.0.0/16,fd00:10:16::/64"),
            NODE_A,
            (C("10.16.0.0/16", "fd00:10:16::/64"), None),
            id="dual-stack",
        ),
        pytest.param(
            subnet_raw(cidr="FD00:10:16:0::/64"),
            NODE_A,
            (C("fd00:10:16::/64"), None),
            id="v6-canonicalised",
        ),
        pytest.param(
            subnet_raw(cidr="10.16.0.0/16,10.16.0.0/16"),
            NODE_A,
            (C("10.16.0.0/16"), None),
            id="duplicate-cidr",
        ),
        pytest.param(subnet_raw(ready="False"), NODE_A, (NONE, None), id="not-ready"),
        pytest.param(subnet_raw(ready=True), NODE_A, (NONE, None), id="ready-bool-not-string"),
        pytest.param(
            subnet_raw(status={"conditions": "Ready"}), NODE_A, (NONE, None), id="conditions-junk"
        ),
        pytest.param(subnet_raw(status=None), NODE_A, (NONE, None), id="status-missing"),
        pytest.param(
            subnet_raw(cidr="10.16.0.1/16", ready="False"),
            NODE_A,
            (NONE, None),
            id="not-ready-bad-cidr-silent",
        ),
        # Bad annotation values: skipped, and said so even while not Ready.
        pytest.param(
            subnet_raw(bgp="True"),
            NODE_A,
            (NONE, ("unknown value 'True' " + UNKNOWN, "did you mean 'true'?")),
            id="bad-True",
        ),
        pytest.param(
            subnet_raw(bgp="clutser"),
            NODE_A,
            (NONE, ("unknown value 'clutser' " + UNKNOWN,)),
            id="bad-typo",
        ),
        pytest.param(
            subnet_raw(bgp="clutser", ready="False"),
            NODE_A,
            (NONE, ("'clutser'",)),
            id="bad-typo-not-ready",
        ),
        pytest.param(
            subnet_raw(bgp=""), NODE_A, (NONE, ("unknown value '' " + UNKNOWN,)), id="bad-empty"
        ),
        pytest.param(
            subnet_raw(bgp=JUNK),
            NODE_A,
            (NONE, ("'" + "x" * 40 + "'... (10240 characters)",)),
            id="bad-junk-10k",
        ),
        pytest.param(
            subnet_raw(bgp="LOCAL"),
            NODE_A,
            (NONE, ("'LOCAL'", "did you mean 'local'?")),
            id="bad-LOCAL",
        ),
        pytest.param(
            subnet_raw(bgp="yes\n"),
            NODE_A,
            (NONE, ("'yes\\n'", "did you mean 'yes'?")),
            id="bad-newline",
        ),
        # CIDRs that do not parse.
        pytest.param(
            subnet_raw(cidr=None), NODE_A, (NONE, ("no spec.cidrBlock",)), id="cidr-missing"
        ),
        pytest.param(subnet_raw(cidr=""), NODE_A, (NONE, ("no spec.cidrBlock",)), id="cidr-empty"),
        pytest.param(
            subnet_raw(cidr=1016), NODE_A, (NONE, ("no spec.cidrBlock",)), id="cidr-wrong-type"
        ),
        pytest.param(
            subnet_raw(cidr="10.16.0.0/33"),
            NODE_A,
            (NONE, ("CIDR '10.16.0.0/33' does not parse",)),
            id="cidr-len-33",
        ),
        pytest.param(
            subnet_raw(cidr="10.16.0.1/16"),
            NODE_A,
            (NONE, ("CIDR '10.16.0.1/16' has host bits set", "10.16.0.0/16")),
            id="cidr-host-bits",
        ),
        pytest.param(
            subnet_raw(cidr="10.16.0.0"),
            NODE_A,
            (NONE, ("'10.16.0.0' does not parse",)),
            id="cidr-no-length",
        ),
        pytest.param(
            subnet_raw(cidr="10.16.0.0/255.255.0.0"),
            NODE_A,
            (NONE, ("does not parse",)),
            id="cidr-netmask",
        ),
        pytest.param(
            subnet_raw(cidr="fe80::%eth0/64"), NODE_A, (NONE, ("does not parse",)), id="cidr-zone"
        ),
        pytest.param(
            subnet_raw(cidr="10.16.0.0/16,"),
            NODE_A,
            (NONE, ("CIDR '' does not parse in spec.cidrBlock '10.16.0.0/16,'",)),
            id="cidr-trailing-comma",
        ),
        pytest.param(
            subnet_raw(cidr="10.16.0.0/16, fd00::/64"),
            NODE_A,
            (NONE, ("CIDR ' fd00::/64' does not parse",)),
            id="cidr-space",
        ),
        pytest.param(
            subnet_raw(cidr="10.16.0.0/16,fd00::1/64"),
            NODE_A,
            (NONE, ("host bits",)),
            id="cidr-dual-one-bad-skips-all",
        ),
        pytest.param(
            subnet_raw(cidr=JUNK), NODE_A, (NONE, ("(10240 characters)",)), id="cidr-junk-10k"
        ),
        # Dangerous prefixes: refused one by one, the others stay.
        pytest.param(
            subnet_raw(cidr="0.0.0.0/0"),
            NODE_A,
            (NONE, ("refused 0.0.0.0/0: it is a default route",)),
            id="danger-default-v4",
        ),
        pytest.param(
            subnet_raw(cidr="::/0"), NODE_A, (NONE, ("refused ::/0",)), id="danger-default-v6"
        ),
        pytest.param(
            subnet_raw(cidr="10.16.0.0/16,127.0.0.0/8"),
            NODE_A,
            (C("10.16.0.0/16"), ("refused 127.0.0.0/8: it overlaps loopback",)),
            id="danger-loopback-keeps-other",
        ),
        pytest.param(
            subnet_raw(cidr="169.254.0.0/16,fd00::/64"),
            NODE_A,
            (C("fd00::/64"), ("refused 169.254.0.0/16",)),
            id="danger-link-local",
        ),
        pytest.param(
            subnet_raw(cidr="224.0.0.0/4,ff00::/8"),
            NODE_A,
            (NONE, ("refused 224.0.0.0/4", "; refused ff00::/8")),
            id="danger-two-joined",
        ),
        pytest.param(
            subnet_raw(cidr="10.0.0.0/7"),
            NODE_A,
            (NONE, ("refused 10.0.0.0/7: it is shorter than the IPv4 minimum prefix length /8",)),
            id="danger-too-short",
        ),
        pytest.param(
            subnet_raw(cidr="127.0.0.0/8"),
            Context("node-a", allow_special=True),
            (C("127.0.0.0/8"), None),
            id="allow-special",
        ),
        # Broken object shapes.
        pytest.param({}, NODE_A, (NONE, None), id="empty-object"),
        pytest.param(
            {"metadata": {"name": "net", "annotations": ["ovn.kubernetes.io/bgp"]}},
            NODE_A,
            (NONE, None),
            id="annotations-list",
        ),
        pytest.param(subnet_raw(bgp=True), NODE_A, (NONE, None), id="annotation-bool-is-absent"),
        pytest.param(
            subnet_raw(spec="10.16.0.0/16"),
            NODE_A,
            (NONE, ("no spec.cidrBlock",)),
            id="spec-string",
        ),
    ],
)
def test_subnet(raw: dict[str, Any], ctx: Context, expected: Expected) -> None:
    subnet = Subnet.from_raw(raw)
    check(subnet_decision(subnet, ctx), expected, subnet.ref)


# --------------------------------------------------------------------------- Pod


@pytest.mark.parametrize(
    ("raw", "ctx", "expected"),
    [
        # Policy: the pod's own annotation, else its subnet's.
        pytest.param(
            pod_raw(addr("10.16.0.12,fd00:10:16::c")),
            NODE_A,
            (C("10.16.0.12/32", "fd00:10:16::c/128"), None),
            id="inherit-cluster-dual",
        ),
        pytest.param(
            pod_raw(addr("10.71.0.5", "yes-net")),
            NODE_A,
            (C("10.71.0.5/32"), None),
            id="inherit-yes",
        ),
        pytest.param(
            pod_raw(addr("10.70.0.10", "edge")),
            NODE_A,
            (L("10.70.0.10/32"), None),
            id="inherit-local-here",
        ),
        pytest.param(
            pod_raw(addr("10.70.0.9", "edge"), node="node-b"),
            NODE_A,
            (NONE, None),
            id="inherit-local-elsewhere",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.44"), bgp="local"),
            NODE_A,
            (L("10.16.0.44/32"), None),
            id="own-local-overrides-cluster",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.44"), bgp="local", node="node-b"),
            NODE_A,
            (NONE, None),
            id="own-local-elsewhere",
        ),
        pytest.param(
            pod_raw(addr("10.70.0.9", "edge"), bgp="true", node="node-b"),
            NODE_A,
            (C("10.70.0.9/32"), None),
            id="own-true-overrides-local",
        ),
        pytest.param(
            pod_raw(addr("172.31.0.5", "attach-net"), bgp="cluster"),
            NODE_A,
            (C("172.31.0.5/32"), None),
            id="own-cluster-unannotated-subnet",
        ),
        pytest.param(
            pod_raw(addr("172.31.0.5", "attach-net")), NODE_A, (NONE, None), id="no-policy"
        ),
        pytest.param(
            pod_raw(
                {
                    **addr("10.16.0.12,fd00:10:16::c"),
                    **addr("172.31.0.5", "attach-net", "attachnet.default.ovn"),
                },
                bgp="true",
            ),
            NODE_A,
            (C("10.16.0.12/32", "fd00:10:16::c/128", "172.31.0.5/32"), None),
            id="every-provider-counts",
        ),
        pytest.param(
            pod_raw(
                {
                    **addr("10.16.0.12"),
                    **addr("172.31.0.5", "attach-net", "attachnet.default.ovn"),
                }
            ),
            NODE_A,
            (C("10.16.0.12/32"), None),
            id="provider-policy-is-per-subnet",
        ),
        pytest.param(
            pod_raw({**addr("10.16.0.12"), **addr("10.70.0.9", "edge", "second")}, node="node-b"),
            NODE_A,
            (C("10.16.0.12/32"), None),
            id="mixed-cluster-and-local-elsewhere",
        ),
        # Subnet missing or not ready: nothing, silently (caches may be filling).
        pytest.param(
            pod_raw(addr("10.16.0.12", "nowhere"), bgp="true"),
            NODE_A,
            (NONE, None),
            id="subnet-unknown",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.12", None), bgp="true"),
            NODE_A,
            (NONE, None),
            id="no-logical-switch",
        ),
        pytest.param(
            pod_raw(addr("10.80.0.3", "pending"), bgp="true"),
            NODE_A,
            (NONE, None),
            id="subnet-not-ready",
        ),
        pytest.param(
            pod_raw({**addr("10.16.0.12"), **addr("10.80.0.3", "pending", "p2")}),
            NODE_A,
            (C("10.16.0.12/32"), None),
            id="one-provider-not-ready",
        ),
        pytest.param(
            pod_raw(addr("10.90.0.3", "typo-net")),
            NODE_A,
            (NONE, None),
            id="subnet-bad-annotation-silent",
        ),
        pytest.param(
            pod_raw(addr("10.90.0.3", "typo-net"), bgp="true"),
            NODE_A,
            (C("10.90.0.3/32"), None),
            id="subnet-bad-annotation-own-true",
        ),
        pytest.param(pod_raw(bgp="true"), NODE_A, (NONE, None), id="no-addresses"),
        # Local needs a known node on both sides.
        pytest.param(
            pod_raw(addr("10.70.0.10", "edge"), node=None),
            NODE_A,
            (NONE, None),
            id="local-pod-without-node",
        ),
        pytest.param(
            pod_raw(addr("10.70.0.10", "edge"), node=""),
            Context(""),
            (NONE, None),
            id="local-speaker-without-node",
        ),
        pytest.param(
            pod_raw(addr("10.70.0.10", "edge"), node="Node-A"),
            NODE_A,
            (NONE, None),
            id="local-node-case-differs",
        ),
        # Host network and dead pods: nothing, whatever the annotations say.
        pytest.param(
            pod_raw(addr("10.16.0.12"), bgp="true", host=True),
            NODE_A,
            (NONE, None),
            id="host-network",
        ),
        pytest.param(
            pod_raw(addr("10.0.0.999"), bgp="clutser", host=True),
            NODE_A,
            (NONE, None),
            id="host-network-broken-silent",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.12"), host="true"),
            NODE_A,
            (C("10.16.0.12/32"), None),
            id="host-network-string-is-not-true",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.99"), phase="Succeeded", restart="Never"),
            NODE_A,
            (NONE, None),
            id="dead-succeeded-never",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.99"), phase="Succeeded", restart="OnFailure"),
            NODE_A,
            (NONE, None),
            id="dead-succeeded-onfailure",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.99"), phase="Succeeded", restart="Always"),
            NODE_A,
            (C("10.16.0.99/32"), None),
            id="alive-succeeded-always",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.99"), phase="Succeeded"),
            NODE_A,
            (C("10.16.0.99/32"), None),
            id="alive-succeeded-default-always",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.99"), phase="Failed", restart="Never"),
            NODE_A,
            (NONE, None),
            id="dead-failed-never",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.99"), phase="Failed", restart="OnFailure"),
            NODE_A,
            (C("10.16.0.99/32"), None),
            id="alive-failed-onfailure",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.77"), phase="Failed", restart="Always", reason="Evicted"),
            NODE_A,
            (NONE, None),
            id="dead-evicted",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.77"), phase="Failed", reason="Evicted", bgp="clutser"),
            NODE_A,
            (NONE, None),
            id="dead-broken-silent",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.5"), phase="Pending"),
            NODE_A,
            (C("10.16.0.5/32"), None),
            id="alive-pending",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.5"), phase=None),
            NODE_A,
            (C("10.16.0.5/32"), None),
            id="alive-phase-missing",
        ),
        # Bad annotation values.
        pytest.param(
            pod_raw(addr("10.16.0.50"), bgp="clutser"),
            NODE_A,
            (NONE, ("unknown value 'clutser' " + UNKNOWN,)),
            id="bad-typo",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.50"), bgp="True"),
            NODE_A,
            (NONE, ("'True'", "did you mean 'true'?")),
            id="bad-True",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.50"), bgp=""),
            NODE_A,
            (NONE, ("unknown value ''",)),
            id="bad-empty",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.50"), bgp=JUNK),
            NODE_A,
            (NONE, ("(10240 characters)",)),
            id="bad-junk-10k",
        ),
        pytest.param(
            pod_raw(bgp="clutser"), NODE_A, (NONE, ("'clutser'",)), id="bad-typo-no-addresses"
        ),
        # Addresses that do not parse: the whole pod is skipped.
        pytest.param(
            pod_raw(addr("10.0.0.999")),
            NODE_A,
            (NONE, ("annotation ovn.kubernetes.io/ip_address: '10.0.0.999' is not an IP",)),
            id="addr-999",
        ),
        pytest.param(
            pod_raw(addr("fe80::1%eth0")),
            NODE_A,
            (NONE, ("'fe80::1%eth0' is not an IP address (zone index)",)),
            id="addr-zone",
        ),
        pytest.param(
            pod_raw(addr("")), NODE_A, (NONE, ("'' is not an IP address",)), id="addr-empty"
        ),
        pytest.param(
            pod_raw(addr(" ")), NODE_A, (NONE, ("' ' is not an IP address",)), id="addr-space"
        ),
        pytest.param(
            pod_raw(addr("10.0.0.1,,")),
            NODE_A,
            (NONE, ("'' is not an IP address in '10.0.0.1,,'",)),
            id="addr-empty-items",
        ),
        pytest.param(
            pod_raw(addr("10.16.0.12, fd00:10:16::c")),
            NODE_A,
            (NONE, ("' fd00:10:16::c' is not an IP address",)),
            id="addr-space-after-comma",
        ),
        pytest.param(
            pod_raw(addr("010.16.0.12")), NODE_A, (NONE, ("'010.16.0.12'",)), id="addr-octal"
        ),
        pytest.param(
            pod_raw(addr("10.16.0.12/32")), NODE_A, (NONE, ("'10.16.0.12/32'",)), id="addr-cidr"
        ),
        pytest.param(
            pod_raw(addr(JUNK)), NODE_A, (NONE, ("(10240 characters)",)), id="addr-junk-10k"
        ),
        pytest.param(
            pod_raw(
                {
                    **addr("10.16.0.12"),
                    **addr("172.31.0.999", "attach-net", "attachnet.default.ovn"),
                },
                bgp="true",
            ),
            NODE_A,
            (NONE, ("annotation attachnet.default.ovn.kubernetes.io/ip_address: '172.31.0.999'",)),
            id="addr-bad-attachment-skips-pod",
        ),
        pytest.param(
            pod_raw(addr("10.70.0.999", "edge"), node="node-b"),
            NODE_A,
            (NONE, ("'10.70.0.999'",)),
            id="addr-bad-local-elsewhere-still-reported",
        ),
        pytest.param(
            pod_raw(addr("10.0.0.999", "attach-net")),
            NODE_A,
            (NONE, None),
            id="addr-bad-not-announced-silent",
        ),
        pytest.param(
            pod_raw(addr(["10.16.0.12"])), NODE_A, (NONE, None), id="addr-list-type-ignored"
        ),
        # Dangerous addresses: refused one by one.
        pytest.param(
            pod_raw(addr("127.0.0.1,fd00:10:16::c")),
            NODE_A,
            (C("fd00:10:16::c/128"), ("refused 127.0.0.1/32: it overlaps loopback",)),
            id="danger-loopback",
        ),
        pytest.param(
            pod_raw(addr("169.254.1.1")), NODE_A, (NONE, ("link-local",)), id="danger-ll-v4"
        ),
        pytest.param(pod_raw(addr("fe80::1")), NODE_A, (NONE, ("link-local",)), id="danger-ll-v6"),
        pytest.param(pod_raw(addr("::1")), NODE_A, (NONE, ("loopback",)), id="danger-lo-v6"),
        pytest.param(pod_raw(addr("0.0.0.0")), NODE_A, (NONE, ("unspecified",)), id="danger-zero"),
        pytest.param(
            pod_raw(addr("255.255.255.255")), NODE_A, (NONE, ("broadcast",)), id="danger-bcast"
        ),
        pytest.param(pod_raw(addr("224.0.0.5")), NODE_A, (NONE, ("multicast",)), id="danger-mcast"),
        pytest.param(
            pod_raw(addr("::ffff:10.16.0.12")),
            NODE_A,
            (NONE, ("IPv4-mapped",)),
            id="danger-mapped",
        ),
        pytest.param(
            pod_raw(addr("127.0.0.1", "edge"), node="node-b"),
            NODE_A,
            (NONE, ("refused 127.0.0.1/32",)),
            id="danger-local-elsewhere-still-reported",
        ),
        # Broken shapes.
        pytest.param({}, NODE_A, (NONE, None), id="empty-object"),
        pytest.param(
            {"metadata": "pod", "spec": [], "status": 3}, NODE_A, (NONE, None), id="wrong-types"
        ),
    ],
)
def test_pod(raw: dict[str, Any], ctx: Context, expected: Expected) -> None:
    pod = Pod.from_raw(raw)
    check(pod_decision(pod, SUBNETS, ctx), expected, pod.ref)


def test_pod_problem_is_the_same_on_every_node() -> None:
    """Every speaker says the same about a pod, whichever node it is on."""
    for raw in (
        pod_raw(addr("10.70.0.999", "edge"), node="node-b"),
        pod_raw(addr("127.0.0.1,10.70.0.3", "edge"), node="node-b"),
        pod_raw(addr("10.16.0.1"), bgp="True"),
    ):
        pod = Pod.from_raw(raw)
        problems = {pod_decision(pod, SUBNETS, ctx).problem for ctx in (NODE_A, NODE_B)}
        assert len(problems) == 1 and None not in problems


def test_pod_name_cannot_forge_log_lines() -> None:
    raw = pod_raw(addr("10.0.0.999"), name="evil\nWARNING forged\x1b[31m")
    decision = pod_decision(Pod.from_raw(raw), SUBNETS, NODE_A)
    assert decision.problem is not None
    assert decision.problem.isprintable()
    assert decision.problem.startswith("Pod/shop/evil\\nWARNING forged\\x1b[31m: ")


def test_subnets_mapping_is_by_name() -> None:
    """A pod waits for its subnet: nothing until the subnet is cached, then its IP."""
    pod = Pod.from_raw(pod_raw(addr("10.16.0.12")))
    assert pod_decision(pod, {}, NODE_A).wants == frozenset()
    subnets = {"ovn-default": SUBNETS["ovn-default"]}
    assert pod_decision(pod, subnets, NODE_A).wants == {
        Want("10.16.0.12/32", CLUSTER, "Pod/shop/p")
    }


@pytest.mark.parametrize(
    ("phase", "restart", "reason", "alive"),
    [
        ("Running", None, None, True),
        ("Succeeded", None, None, True),
        ("Succeeded", "Always", None, True),
        ("Succeeded", "OnFailure", None, False),
        ("Succeeded", "Never", None, False),
        ("Failed", None, None, True),
        ("Failed", "OnFailure", None, True),
        ("Failed", "Never", None, False),
        ("Failed", "Always", "Evicted", False),
        ("Running", "Always", "Evicted", True),
    ],
)
def test_pod_alive(phase: str, restart: str | None, reason: str | None, alive: bool) -> None:
    pod = Pod.from_raw(pod_raw(phase=phase, restart=restart, reason=reason))
    assert pod_alive(pod) is alive


# --------------------------------------------------------------------------- Service

OFF = Context("node-a", announce_cluster_ip=False)


@pytest.mark.parametrize(
    ("raw", "ctx", "expected"),
    [
        pytest.param(service_raw("true"), NODE_A, (C("10.96.0.10/32"), None), id="true"),
        pytest.param(service_raw("yes"), NODE_A, (C("10.96.0.10/32"), None), id="yes"),
        pytest.param(service_raw("cluster"), NODE_A, (C("10.96.0.10/32"), None), id="cluster"),
        pytest.param(service_raw(None), NODE_A, (NONE, None), id="absent"),
        pytest.param(service_raw("true"), OFF, (NONE, None), id="option-off"),
        pytest.param(service_raw("clutser"), OFF, (NONE, None), id="option-off-bad-silent"),
        pytest.param(
            service_raw("true", cluster_ip="10.96.12.7", cluster_ips=["10.96.12.7", "fd00::a07"]),
            NODE_A,
            (C("10.96.12.7/32", "fd00::a07/128"), None),
            id="dual-stack",
        ),
        pytest.param(
            service_raw("true", cluster_ips=[]),
            NODE_A,
            (C("10.96.0.10/32"), None),
            id="falls-back-to-clusterIP",
        ),
        pytest.param(
            service_raw("true", cluster_ips="10.96.0.10"),
            NODE_A,
            (C("10.96.0.10/32"), None),
            id="clusterIPs-wrong-type",
        ),
        pytest.param(
            service_raw("true", type_="NodePort"), NODE_A, (NONE, None), id="type-nodeport"
        ),
        pytest.param(service_raw("true", type_="LoadBalancer"), NODE_A, (NONE, None), id="type-lb"),
        pytest.param(
            service_raw("true", type_=None), NODE_A, (C("10.96.0.10/32"), None), id="type-default"
        ),
        pytest.param(service_raw("true", type_=7), NODE_A, (NONE, None), id="type-wrong-type"),
        pytest.param(service_raw("true", cluster_ip="None"), NODE_A, (NONE, None), id="headless"),
        pytest.param(
            service_raw("true", cluster_ip="", cluster_ips=[]), NODE_A, (NONE, None), id="no-ip"
        ),
        pytest.param(
            service_raw("true", cluster_ip=None, cluster_ips=[]),
            NODE_A,
            (NONE, None),
            id="no-ip-field",
        ),
        pytest.param(
            service_raw("true", cluster_ip="10.96.0.10", cluster_ips=["10.96.0.10", "None"]),
            NODE_A,
            (C("10.96.0.10/32"), None),
            id="None-entry-ignored",
        ),
        pytest.param(
            service_raw("local"),
            NODE_A,
            (NONE, ("'local'", "Services support the Cluster policy only")),
            id="local-refused",
        ),
        pytest.param(
            service_raw("True"),
            NODE_A,
            (NONE, ("unknown value 'True' " + UNKNOWN_CLUSTER, "did you mean 'true'?")),
            id="bad-True",
        ),
        pytest.param(
            service_raw("Local"),
            NODE_A,
            (NONE, ("unknown value 'Local' " + UNKNOWN_CLUSTER,)),
            id="bad-Local-no-hint",
        ),
        pytest.param(service_raw(""), NODE_A, (NONE, ("unknown value ''",)), id="bad-empty"),
        pytest.param(service_raw(JUNK), NODE_A, (NONE, ("(10240 characters)",)), id="bad-junk"),
        pytest.param(
            service_raw("true", cluster_ip="10.96.0.999", cluster_ips=["10.96.0.999", "fd00::1"]),
            NODE_A,
            (NONE, ("spec.clusterIPs: '10.96.0.999' is not an IP address",)),
            id="bad-ip-skips-service",
        ),
        pytest.param(
            service_raw("true", cluster_ip="10.96.0.999", cluster_ips=[]),
            NODE_A,
            (NONE, ("spec.clusterIP: '10.96.0.999'",)),
            id="bad-clusterIP",
        ),
        pytest.param(
            service_raw("true", cluster_ip="127.0.0.1", cluster_ips=["127.0.0.1", "fd00::1"]),
            NODE_A,
            (C("fd00::1/128"), ("refused 127.0.0.1/32",)),
            id="danger-loopback",
        ),
        pytest.param({}, NODE_A, (NONE, None), id="empty-object"),
    ],
)
def test_service(raw: dict[str, Any], ctx: Context, expected: Expected) -> None:
    service = Service.from_raw(raw)
    check(service_decision(service, ctx), expected, service.ref)


# --------------------------------------------------------------------------- IptablesEIP

NO_GW = Context("node-a", announce_cluster_ip=True)


@pytest.mark.parametrize(
    ("raw", "ctx", "expected"),
    [
        pytest.param(eip_raw("true"), NODE_A, (C("198.51.100.10/32"), None), id="true"),
        pytest.param(eip_raw("yes"), NODE_A, (C("198.51.100.10/32"), None), id="yes"),
        pytest.param(eip_raw("cluster"), NODE_A, (C("198.51.100.10/32"), None), id="cluster"),
        pytest.param(eip_raw(None), NODE_A, (NONE, None), id="absent"),
        pytest.param(
            eip_raw(v6="2001:db8::10"),
            NODE_A,
            (C("198.51.100.10/32", "2001:db8::10/128"), None),
            id="dual",
        ),
        pytest.param(
            eip_raw(v4=None, v6="2001:db8::10"),
            NODE_A,
            (C("2001:db8::10/128"), None),
            id="v6-only",
        ),
        pytest.param(eip_raw(v4=None), NODE_A, (NONE, None), id="no-ips"),
        pytest.param(eip_raw(v4=""), NODE_A, (NONE, None), id="empty-v4"),
        pytest.param(eip_raw(), NO_GW, (NONE, None), id="not-nat-gw-mode"),
        pytest.param(eip_raw(), Context("x", gateway_name=""), (NONE, None), id="gateway-empty"),
        pytest.param(eip_raw(gw="gw2"), NODE_A, (NONE, None), id="other-gateway"),
        pytest.param(eip_raw("clutser", gw="gw2"), NODE_A, (NONE, None), id="other-gw-bad-silent"),
        pytest.param(eip_raw(gw=None), NODE_A, (NONE, None), id="no-label"),
        pytest.param(eip_raw(ready=False), NODE_A, (NONE, None), id="not-ready"),
        pytest.param(eip_raw(ready="true"), NODE_A, (NONE, None), id="ready-string"),
        pytest.param(
            eip_raw("local"),
            NODE_A,
            (NONE, ("'local'", "EIPs are announced by their NAT gateway")),
            id="local-refused",
        ),
        pytest.param(eip_raw("True"), NODE_A, (NONE, ("did you mean 'true'?",)), id="bad-True"),
        pytest.param(eip_raw(""), NODE_A, (NONE, ("unknown value ''",)), id="bad-empty"),
        pytest.param(
            eip_raw(v4="198.51.100.999"),
            NODE_A,
            (NONE, ("spec.v4ip: '198.51.100.999' is not an IP address",)),
            id="bad-v4",
        ),
        pytest.param(
            eip_raw(v4="2001:db8::10"),
            NODE_A,
            (NONE, ("spec.v4ip: '2001:db8::10' is not an IPv4 address",)),
            id="v4-holds-v6",
        ),
        pytest.param(
            eip_raw(v6="198.51.100.11"),
            NODE_A,
            (NONE, ("spec.v6ip: '198.51.100.11' is not an IPv6 address",)),
            id="v6-holds-v4",
        ),
        pytest.param(eip_raw(v6="fe80::1%net1"), NODE_A, (NONE, ("zone index",)), id="v6-zone"),
        pytest.param(
            eip_raw(v4="0.0.0.0", v6="2001:db8::10"),
            NODE_A,
            (C("2001:db8::10/128"), ("refused 0.0.0.0/32",)),
            id="danger-unspecified",
        ),
        pytest.param({}, NODE_A, (NONE, None), id="empty-object"),
    ],
)
def test_eip(raw: dict[str, Any], ctx: Context, expected: Expected) -> None:
    eip = IptablesEIP.from_raw(raw)
    check(eip_decision(eip, ctx), expected, eip.ref)


def test_problem_format_exactly() -> None:
    """The documented problem line, to the character."""
    pod = Pod.from_raw(pod_raw(addr("10.16.0.50"), bgp="clutser", name="typo"))
    assert pod_decision(pod, SUBNETS, NODE_A).problem == (
        "Pod/shop/typo: unknown value 'clutser' for annotation ovn.kubernetes.io/bgp"
        " (expected true, yes, cluster or local)"
    )
    subnet = Subnet.from_raw(subnet_raw("all", cidr="0.0.0.0/0,10.0.0.0/7"))
    assert subnet_decision(subnet, NODE_A).problem == (
        "Subnet/all: refused 0.0.0.0/0: it is a default route (special addresses are refused);"
        " refused 10.0.0.0/7: it is shorter than the IPv4 minimum prefix length /8"
    )


def test_prefixes_are_canonical() -> None:
    subnet = Subnet.from_raw(subnet_raw(cidr="FD00:0010:0016:0000::/64"))
    pod = Pod.from_raw(pod_raw(addr("10.16.0.12,FD00:10:16:0:0:0:0:C")))
    wants = subnet_decision(subnet, NODE_A).wants | pod_decision(pod, SUBNETS, NODE_A).wants
    assert {w.prefix for w in wants} == {"fd00:10:16::/64", "10.16.0.12/32", "fd00:10:16::c/128"}
    for w in wants:
        assert str(ipaddress.ip_network(w.prefix)) == w.prefix


# --------------------------------------------------------------------------- shared samples

# Object by object, what the comments of samples.yaml say, from node-a's and node-b's view.
SAMPLE_EXPECTATIONS: dict[tuple[str, str], dict[str, Expected]] = {
    ("Subnet", "ovn-default"): {
        "node-a": (C("10.16.0.0/16", "fd00:10:16::/64"), None),
        "node-b": (C("10.16.0.0/16", "fd00:10:16::/64"), None),
    },
    ("Subnet", "edge"): {"node-a": (NONE, None), "node-b": (NONE, None)},
    ("Subnet", "pending"): {"node-a": (NONE, None), "node-b": (NONE, None)},
    ("Subnet", "attach-net"): {"node-a": (NONE, None), "node-b": (NONE, None)},
    ("Pod", "web-0"): {
        "node-a": (C("10.16.0.12/32", "fd00:10:16::c/128", "172.31.0.5/32"), None),
        "node-b": (C("10.16.0.12/32", "fd00:10:16::c/128", "172.31.0.5/32"), None),
    },
    ("Pod", "cache-1"): {"node-a": (NONE, None), "node-b": (L("10.70.0.9/32"), None)},
    ("Pod", "cache-2"): {"node-a": (L("10.70.0.10/32"), None), "node-b": (NONE, None)},
    ("Pod", "db-0"): {"node-a": (L("10.16.0.44/32"), None), "node-b": (NONE, None)},
    ("Pod", "migrate-x7k2p"): {"node-a": (NONE, None), "node-b": (NONE, None)},
    ("Pod", "worker-evicted"): {"node-a": (NONE, None), "node-b": (NONE, None)},
    ("Pod", "node-exporter-abcde"): {"node-a": (NONE, None), "node-b": (NONE, None)},
    ("Pod", "typo"): {
        "node-a": (NONE, ("unknown value 'clutser'",)),
        "node-b": (NONE, ("unknown value 'clutser'",)),
    },
    ("Service", "api"): {
        "node-a": (C("10.96.12.7/32", "fd00:10:96::a07/128"), None),
        "node-b": (C("10.96.12.7/32", "fd00:10:96::a07/128"), None),
    },
    ("Service", "db"): {"node-a": (NONE, None), "node-b": (NONE, None)},
    ("IptablesEIP", "eip-web"): {
        "node-a": (C("198.51.100.10/32"), None),
        "node-b": (C("198.51.100.10/32"), None),
    },
    ("IptablesEIP", "eip-new"): {"node-a": (NONE, None), "node-b": (NONE, None)},
    ("IptablesEIP", "eip-other"): {"node-a": (NONE, None), "node-b": (NONE, None)},
}


def _load_samples() -> list[dict[str, Any]]:
    if not SAMPLES.is_file():
        pytest.skip(f"shared samples not found at {SAMPLES} (tests run outside the workspace)")
    with SAMPLES.open(encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def _decide(
    raw: dict[str, Any], subnets: Mapping[str, Subnet], ctx: Context
) -> tuple[Decision, str]:
    deciders: dict[str, Callable[[dict[str, Any]], tuple[Decision, str]]] = {
        "Subnet": lambda r: (subnet_decision(s := Subnet.from_raw(r), ctx), s.ref),
        "Pod": lambda r: (pod_decision(p := Pod.from_raw(r), subnets, ctx), p.ref),
        "Service": lambda r: (service_decision(v := Service.from_raw(r), ctx), v.ref),
        "IptablesEIP": lambda r: (eip_decision(e := IptablesEIP.from_raw(r), ctx), e.ref),
    }
    return deciders[raw["kind"]](raw)


def test_samples_all_have_an_expectation() -> None:
    """A sample added to shared/ without a row here fails, rather than going untested."""
    docs = _load_samples()
    assert {(d["kind"], d["metadata"]["name"]) for d in docs} == set(SAMPLE_EXPECTATIONS)


@pytest.mark.parametrize("ctx", [NODE_A, NODE_B], ids=["node-a", "node-b"])
@pytest.mark.parametrize(
    "key", list(SAMPLE_EXPECTATIONS), ids=[f"{k}/{n}" for k, n in SAMPLE_EXPECTATIONS]
)
def test_samples(key: tuple[str, str], ctx: Context) -> None:
    docs = _load_samples()
    subnets = {s.name: s for s in (Subnet.from_raw(d) for d in docs if d["kind"] == "Subnet")}
    (raw,) = [d for d in docs if (d["kind"], d["metadata"]["name"]) == key]
    decision, ref = _decide(raw, subnets, ctx)
    check(decision, SAMPLE_EXPECTATIONS[key][ctx.node_name], ref)
