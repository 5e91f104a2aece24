"""Properties of ryu_kovn.policy over random objects, plausible and junk.

The table tests (test_policy.py) pin the contract case by case; these check
what must hold for *every* input a watcher could hand over: no decision ever
raises, every wanted prefix is canonical and safe, policies are what the
object kind allows, and Local is only ever wanted on the pod's own node.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import netaddr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ryu_kovn.k8s.objects import IptablesEIP, Pod, PodAddress, Service, Subnet
from ryu_kovn.policy import (
    CLUSTER,
    LOCAL,
    Context,
    Decision,
    check_prefix,
    eip_decision,
    parse_policy,
    pod_decision,
    service_decision,
    subnet_decision,
)

BGP = "ovn.kubernetes.io/bgp"
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- strategies

# Any JSON value, small: what a broken object could hold in place of a field.
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def often(
    plausible: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], one_in: int = 8
) -> st.SearchStrategy[Any]:
    """Mostly ``plausible``, ``rare`` one time in ``one_in``: random objects must still announce.

    (``one_of(p, p, p, p, r)`` would not do: hypothesis drops repeated branches.)
    """
    # The rare branch is the largest draw: hypothesis favours the smallest ones.
    return st.integers(1, one_in).flatmap(lambda i: rare if i == one_in else plausible)


def sometimes_junk(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return often(plausible, junk)


annotation_value = often(
    st.sampled_from(["true", "yes", "cluster", "local"]),
    st.sampled_from(["True", "LOCAL", "", " yes", "clutser", "x" * 10240]) | st.text(max_size=12),
)

SPECIAL_IPS = [
    "127.0.0.1", "0.0.0.0", "255.255.255.255", "169.254.1.1", "224.0.0.5",
    "::", "::1", "fe80::1", "ff02::1", "::ffff:10.0.0.1", "fe80::1%eth0",
]  # fmt: skip
# Addresses a cluster really uses (hypothesis favours 0.0.0.0 and ::, which are refused).
ordinary_ip = (
    st.ip_addresses(network="10.0.0.0/8")
    | st.ip_addresses(network="100.64.0.0/10")
    | st.ip_addresses(network="fd00::/8")
    | st.ip_addresses(network="2001:db8::/32")
)
ip_text = often(
    ordinary_ip.map(str),
    st.ip_addresses().map(str)
    | st.sampled_from(SPECIAL_IPS)
    | st.sampled_from(["10.0.0.999", "", " ", "010.0.0.1", "10.0.0.1/32", "None", "FD00::C"])
    | st.text(alphabet="0123456789abcdef.:%/ ", max_size=16),
)
ip_list_text = st.lists(ip_text, min_size=1, max_size=2).map(",".join)


@st.composite
def cidr_text(draw: st.DrawFn) -> str:
    """A CIDR: mostly canonical, else with host bits set, too long a length, or special."""
    address = draw(often(ordinary_ip, st.ip_addresses(), 4))
    top = address.max_prefixlen
    if draw(st.integers(0, 3)):
        length = draw(st.integers(min_value=top // 4, max_value=top))
        return str(ipaddress.ip_network((address, length), strict=False))
    length = draw(st.integers(min_value=0, max_value=top + 2))
    return draw(
        st.sampled_from(
            [f"{address}/{length}", "0.0.0.0/0", "::/0", "127.0.0.0/8", "fe80::/64", "10.16.0.1/16"]
        )
    )


cidr_block = often(
    st.lists(cidr_text(), min_size=1, max_size=2).map(",".join), st.text(max_size=12)
)

SWITCHES = ["ovn-default", "edge", "attach-net", "pending", "nowhere"]
NODES = ["", "node-a", "node-b"]


def with_bgp(meta: dict[str, Any], bgp: Any, extra: dict[str, Any] | None = None) -> None:
    annotations = dict(extra or {})
    if bgp is not None:
        annotations[BGP] = bgp
    meta["annotations"] = annotations


@st.composite
def subnet_raw(draw: st.DrawFn, name: str | None = None) -> Any:
    names = st.sampled_from(SWITCHES) if name is None else st.just(name)
    meta: dict[str, Any] = {"name": draw(sometimes_junk(names))}
    with_bgp(meta, draw(often(annotation_value, st.none(), 4)))
    ready = draw(often(st.just("True"), st.sampled_from(["False", "true", None]) | junk, 4))
    raw = {
        "metadata": meta,
        "spec": {"cidrBlock": draw(sometimes_junk(cidr_block))},
        "status": {
            "conditions": [
                {"type": "Validated", "status": "True"},
                {"type": "Ready", "status": ready},
            ]
        },
    }
    return draw(often(st.just(raw), junk))


@st.composite
def pod_raw(draw: st.DrawFn) -> Any:
    extra: dict[str, Any] = {}
    for provider in draw(
        often(
            st.lists(
                st.sampled_from(["ovn", "attachnet.default.ovn", "x"]), min_size=1, max_size=3
            ),
            st.just([]),
        )
    ):
        extra[f"{provider}.kubernetes.io/ip_address"] = draw(sometimes_junk(ip_list_text))
        if draw(often(st.just(True), st.just(False))):
            switch = draw(sometimes_junk(st.sampled_from(SWITCHES)))
            extra[f"{provider}.kubernetes.io/logical_switch"] = switch
    meta: dict[str, Any] = {
        "name": draw(sometimes_junk(st.text(max_size=8))),
        "namespace": draw(sometimes_junk(st.just("shop"))),
    }
    with_bgp(meta, draw(often(annotation_value, st.none(), 4)), extra)
    spec = {
        "nodeName": draw(sometimes_junk(st.sampled_from(NODES))),
        "hostNetwork": draw(often(st.just(False), junk | st.just(True))),
        "restartPolicy": draw(sometimes_junk(st.sampled_from(["Always", "OnFailure", "Never"]))),
    }
    status = {
        "phase": draw(
            often(st.just("Running"), st.sampled_from(["Pending", "Succeeded", "Failed"]))
        ),
        "reason": draw(often(st.none(), st.sampled_from(["Evicted", "OOMKilled"]) | junk)),
    }
    return draw(often(st.just({"metadata": meta, "spec": spec, "status": status}), junk))


@st.composite
def service_raw(draw: st.DrawFn) -> Any:
    meta: dict[str, Any] = {"name": "svc", "namespace": "shop"}
    with_bgp(meta, draw(often(annotation_value, st.none(), 4)))
    ips = draw(st.lists(often(ip_text, st.just("None")), max_size=2))
    spec = {
        "type": draw(
            often(st.just("ClusterIP"), st.sampled_from(["NodePort", "LoadBalancer"]) | junk)
        ),
        "clusterIP": draw(often(st.just(ips[0] if ips else ""), ip_text | st.just("None") | junk)),
        "clusterIPs": draw(often(st.just(ips), junk)),
    }
    return draw(often(st.just({"metadata": meta, "spec": spec}), junk))


v4_rare = st.none() | st.just("") | ip_text | junk
v6_rare = ip_text | junk


@st.composite
def eip_raw(draw: st.DrawFn) -> Any:
    gateway = draw(sometimes_junk(st.sampled_from(["gw1", "gw2"])))
    meta: dict[str, Any] = {"name": "eip", "labels": {"ovn.kubernetes.io/vpc-nat-gw-name": gateway}}
    with_bgp(meta, draw(often(annotation_value, st.none(), 4)))
    spec = {
        "v4ip": draw(often(st.ip_addresses(network="198.51.100.0/24").map(str), v4_rare)),
        "v6ip": draw(often(st.none(), st.ip_addresses(network="2001:db8::/32").map(str) | v6_rare)),
    }
    status = {"ready": draw(often(st.just(True), junk))}
    return draw(often(st.just({"metadata": meta, "spec": spec, "status": status}), junk))


contexts = st.builds(
    Context,
    node_name=st.sampled_from(NODES),
    announce_cluster_ip=often(st.just(True), st.just(False)),
    gateway_name=st.sampled_from([None, "", "gw1", "gw1", "gw2"]),
    min_prefix_len_v4=often(st.just(8), st.integers(0, 33)),
    min_prefix_len_v6=often(st.just(16), st.integers(0, 129)),
    allow_special=st.booleans(),
)


@st.composite
def subnet_maps(draw: st.DrawFn) -> dict[str, Subnet]:
    """Subnets by name, most of the names pods use present (a pod may still miss its own)."""
    subnets = [Subnet.from_raw(draw(subnet_raw(name))) for name in SWITCHES[:-1]]
    return {s.name: s for s in subnets if draw(often(st.just(True), st.just(False)))}


# --------------------------------------------------------------------------- the properties


def assert_sound(decision: Decision, ref: str, ctx: Context, policies: set[str]) -> None:
    """What holds for every decision: canonical, safe prefixes; one printable problem line."""
    assert isinstance(decision, Decision)
    for want in decision.wants:
        assert want.source == ref
        assert want.policy in policies
        net = ipaddress.ip_network(want.prefix, strict=True)
        assert str(net) == want.prefix
        # The speaker side speaks netaddr: both libraries must print it alike.
        assert str(netaddr.IPNetwork(want.prefix).cidr) == want.prefix
        assert check_prefix(want.prefix, ctx) is None
    if decision.problem is not None:
        assert decision.problem.isprintable()
        assert decision.problem != ""


@SETTINGS
@given(raw=subnet_raw(), ctx=contexts)
def test_subnet_decision_is_sound(raw: Any, ctx: Context) -> None:
    subnet = Subnet.from_raw(raw)
    decision = subnet_decision(subnet, ctx)
    assert_sound(decision, subnet.ref, ctx, {CLUSTER})
    assert decision == subnet_decision(subnet, ctx)
    if decision.wants:
        assert subnet.ready and parse_policy(subnet.bgp) == CLUSTER  # type: ignore[arg-type]


@settings(SETTINGS, max_examples=200)
@given(raw=pod_raw(), subnets=subnet_maps(), ctx=contexts)
def test_pod_decision_is_sound(raw: Any, subnets: Mapping[str, Subnet], ctx: Context) -> None:
    pod = Pod.from_raw(raw)
    decision = pod_decision(pod, subnets, ctx)
    assert_sound(decision, pod.ref, ctx, {CLUSTER, LOCAL})
    assert decision == pod_decision(pod, subnets, ctx)
    if any(w.policy == LOCAL for w in decision.wants):
        assert ctx.node_name != "" and pod.node_name == ctx.node_name
    if decision.wants:
        assert not pod.host_network
    # The problem a speaker reports about a pod does not depend on its node.
    for node in NODES:
        other = Context(
            node,
            ctx.announce_cluster_ip,
            ctx.gateway_name,
            ctx.min_prefix_len_v4,
            ctx.min_prefix_len_v6,
            ctx.allow_special,
        )
        assert pod_decision(pod, subnets, other).problem == decision.problem


@SETTINGS
@given(raw=service_raw(), ctx=contexts)
def test_service_decision_is_sound(raw: Any, ctx: Context) -> None:
    service = Service.from_raw(raw)
    decision = service_decision(service, ctx)
    assert_sound(decision, service.ref, ctx, {CLUSTER})
    if not ctx.announce_cluster_ip:
        assert decision.wants == frozenset() and decision.problem is None
    if decision.wants:
        assert service.type == "ClusterIP" and service.cluster_ip not in (None, "", "None")


@SETTINGS
@given(raw=eip_raw(), ctx=contexts)
def test_eip_decision_is_sound(raw: Any, ctx: Context) -> None:
    eip = IptablesEIP.from_raw(raw)
    decision = eip_decision(eip, ctx)
    assert_sound(decision, eip.ref, ctx, {CLUSTER})
    if not ctx.gateway_name or eip.gateway != ctx.gateway_name:
        assert decision.wants == frozenset() and decision.problem is None
    named = set()
    for field, version in ((eip.v4ip, 4), (eip.v6ip, 6)):
        try:
            address = ipaddress.ip_address(field)  # type: ignore[arg-type]
        except ValueError:
            continue
        if address.version == version:
            named.add(ipaddress.ip_network(address))
    assert {ipaddress.ip_network(w.prefix) for w in decision.wants} <= named


# Objects built directly, every field any type: the decisions must survive a
# watcher that got the trimming wrong, not only what from_raw produces.
any_field = junk | annotation_value | ip_list_text
addresses = st.lists(
    st.builds(PodAddress, provider=any_field, ip_address=any_field, logical_switch=any_field)
    | junk,
    max_size=3,
)


@settings(SETTINGS, max_examples=150)
@given(
    pod=st.builds(
        Pod,
        namespace=any_field,
        name=any_field,
        bgp=any_field,
        addresses=addresses.map(tuple) | junk,
        node_name=any_field | st.sampled_from(NODES),
        host_network=any_field,
        restart_policy=any_field,
        phase=any_field,
        reason=any_field,
    ),
    subnet=st.builds(
        Subnet,
        name=st.sampled_from(SWITCHES),
        bgp=any_field,
        cidr_block=any_field | cidr_block,
        provider=any_field,
        ready=any_field,
    ),
    service=st.builds(
        Service,
        namespace=any_field,
        name=any_field,
        bgp=any_field,
        type=any_field,
        cluster_ip=any_field,
        cluster_ips=st.lists(any_field, max_size=3).map(tuple) | junk,
    ),
    eip=st.builds(
        IptablesEIP,
        name=any_field,
        bgp=any_field,
        gateway=any_field | st.just("gw1"),
        v4ip=any_field,
        v6ip=any_field,
        ready=any_field,
    ),
    ctx=contexts,
)
def test_decisions_survive_mistyped_fields(
    pod: Pod, subnet: Subnet, service: Service, eip: IptablesEIP, ctx: Context
) -> None:
    assert_sound(subnet_decision(subnet, ctx), subnet.ref, ctx, {CLUSTER})
    assert_sound(pod_decision(pod, {subnet.name: subnet}, ctx), pod.ref, ctx, {CLUSTER, LOCAL})
    assert_sound(service_decision(service, ctx), service.ref, ctx, {CLUSTER})
    assert_sound(eip_decision(eip, ctx), eip.ref, ctx, {CLUSTER})


@SETTINGS
@given(prefix=cidr_text() | st.text(max_size=20), ctx=contexts)
def test_check_prefix_never_raises_and_allows_only_canonical(prefix: str, ctx: Context) -> None:
    reason = check_prefix(prefix, ctx)
    if reason is None:
        net = ipaddress.ip_network(prefix, strict=True)
        minimum = ctx.min_prefix_len_v4 if net.version == 4 else ctx.min_prefix_len_v6
        assert net.prefixlen >= minimum
        if not ctx.allow_special:
            assert net.prefixlen > 0
            assert not (net.is_loopback or net.is_link_local or net.is_multicast)
    else:
        assert isinstance(reason, str) and reason


@SETTINGS
@given(value=junk | annotation_value)
def test_parse_policy_is_exact(value: Any) -> None:
    expected = {"true": CLUSTER, "yes": CLUSTER, "cluster": CLUSTER, "local": LOCAL}
    assert parse_policy(value) == (expected.get(value) if isinstance(value, str) else None)


# --------------------------------------------------------------------------- fast paths

# Addresses near and inside every special IPv4 range, and anywhere else.
_edges = [int(ipaddress.ip_address(a)) + d for a in (
    "0.0.0.0", "127.0.0.0", "127.255.255.255", "169.254.0.0", "169.254.255.255",
    "224.0.0.0", "239.255.255.255", "255.255.255.255") for d in (-1, 0, 1)]
v4_values = st.sampled_from([v for v in _edges if 0 <= v < 2**32]) | st.integers(0, 2**32 - 1)


@SETTINGS
@given(value=v4_values, allow_special=st.booleans(), min_v4=st.integers(0, 40))
def test_the_ipv4_host_fast_path_agrees_with_the_general_check(
    value: int, allow_special: bool, min_v4: int
) -> None:
    """check_prefix's integer path for canonical /32s says what the ipaddress path says."""
    from ryu_kovn.policy import _check_prefix_general

    prefix = f"{ipaddress.IPv4Address(value)}/32"
    ctx = Context(node_name="n", allow_special=allow_special, min_prefix_len_v4=min_v4)
    assert check_prefix(prefix, ctx) == _check_prefix_general(prefix, ctx)


@SETTINGS
@given(value=v4_values, junk_text=st.text(max_size=12))
def test_pod_addresses_read_fast_or_slow_give_the_same_decision(value: int, junk_text: str) -> None:
    """A pod's canonical IPv4 address and its other spellings decide alike."""
    address = str(ipaddress.IPv4Address(value))
    subnets = {"net": Subnet("net", "true", "10.0.0.0/8", "ovn", True)}
    ctx = Context(node_name="n")
    for raw in (address, f"{address},{junk_text}", f"{junk_text},{address}"):
        pod = Pod("ns", "p", None, (PodAddress("ovn", raw, "net"),), "n", False, None,
                  "Running", None)
        decision = pod_decision(pod, subnets, ctx)
        items = raw.split(",")
        try:
            parsed = [ipaddress.ip_address(i) for i in items if "%" not in i]
            ok = len(parsed) == len(items)
        except ValueError:
            ok = False
        if not ok:
            assert decision.wants == frozenset() and decision.problem
            continue
        expected = {f"{a}/{a.max_prefixlen}" for a in parsed}
        expected = {p for p in expected if check_prefix(p, ctx) is None}
        assert {w.prefix for w in decision.wants} == expected
