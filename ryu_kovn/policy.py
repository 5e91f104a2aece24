"""Which prefixes this speaker wants announced, and why: the table of shared SPEC.md.

Every function here is pure: cached objects (``ryu_kovn.k8s.objects``) and a
``Context`` in, a ``Decision`` out.  No I/O, no clock, no Ryu, no logging, so
that the whole contract can be tested as a table and the reconciler can call
it as often as it likes.  A decision is a set of ``Want`` (prefix, policy,
source object) plus at most one ``problem`` line that the caller logs once per
object version (and may record as a Kubernetes Event).

Rules that shape the code below:

* The one annotation is ``ovn.kubernetes.io/bgp``.  Its values are matched
  exactly, case-sensitive, as the Go speaker does: ``True`` is unknown (the
  problem then suggests ``true``).  An unknown value skips the object.
* An object with an address or CIDR that does not parse is skipped whole: half
  of a dual-stack pod announced is harder to notice than none of it.
* Every prefix passes ``check_prefix`` (no default route, loopback,
  link-local, multicast..., nothing shorter than the configured minimum).  A
  refused prefix drops only itself; the object's other prefixes stay.
* Nothing here raises, whatever the cached fields hold: a watcher fed junk
  must not stop announcing everything else.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ryu_kovn.k8s.objects import (
    BGP_ANNOTATION,
    IptablesEIP,
    Pod,
    PodAddress,
    Service,
    Subnet,
)

CLUSTER = "cluster"
LOCAL = "local"

# Exactly the spellings the Go speaker accepts; no case folding, no trimming.
_POLICIES: dict[str, str] = {"true": CLUSTER, "yes": CLUSTER, "cluster": CLUSTER, "local": LOCAL}
_EXPECTED_ANY = "true, yes, cluster or local"
_EXPECTED_CLUSTER = "true, yes or cluster"

_IP_SUFFIX = ".kubernetes.io/ip_address"

# How much of a bad value a problem line quotes: enough to recognise a typo,
# not enough for a 10 KB annotation to flood the log.
_QUOTE_MAX = 40
# Names are at most 253 characters in Kubernetes; anything longer is junk.
_REF_MAX = 300

# "address/length" with a plain decimal length: ipaddress would also take a
# netmask ("/255.255.0.0") or no length at all, which kube-ovn never writes.
_CIDR_RE = re.compile(r"([^/]+)/([0-9]{1,3})")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Want:
    """One prefix an object wants announced.

    ``prefix`` is canonical (as ``ipaddress`` prints it), so two objects that
    want the same route spell it the same way and the reconciler can count
    them.  ``source`` is the object's ref, e.g. ``Pod/shop/web-0``.
    """

    prefix: str
    policy: str
    source: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What one object wants announced, and what is wrong with it if anything.

    ``problem`` is one printable line that names the object; several problems
    of one object are joined with ``"; "``.
    """

    wants: frozenset[Want]
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """What a decision depends on besides the object: this speaker's identity and options."""

    node_name: str  # "" when unknown: then Local never matches
    announce_cluster_ip: bool = False
    gateway_name: str | None = None  # NAT-gateway mode's GATEWAY_NAME
    min_prefix_len_v4: int = 8
    min_prefix_len_v6: int = 16
    allow_special: bool = False


NOTHING = Decision(frozenset())

# Ranges that must never leave this host as a route, whatever an object says:
# announcing any of them would hijack or blackhole traffic that is not ours.
# Checked in order; the first one that overlaps names the reason.
_SPECIAL: tuple[tuple[_Network, str], ...] = tuple(
    (ipaddress.ip_network(net), what)
    for net, what in (
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("0.0.0.0/32", "the unspecified address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("::1/128", "loopback"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
        ("::/128", "the unspecified address"),
    )
)

# IPv6 spellings of IPv4 addresses are never a pod's, a subnet's or a service's
# address, and they are the ranges ipaddress ("::ffff:a00:1", "::a00:1") and
# netaddr ("::ffff:10.0.0.1", "::10.0.0.1") print differently: refused even with
# allow_special, so every prefix has one spelling from policy to speaker.
_NEVER: tuple[tuple[_Network, str], ...] = tuple(
    (ipaddress.ip_network(net), what)
    for net, what in (
        ("::ffff:0:0/96", "IPv4-mapped addresses"),
        ("::/96", "IPv4-compatible addresses"),
    )
)


# IPv4 in the one spelling ipaddress accepts and prints (no leading zeros): the
# address of almost every pod.  Such an address or /32 is checked on integers
# against the special ranges instead of through ipaddress objects, which cost
# most of a 100k-pod list; anything else takes the general path.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4_CANONICAL = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_V4_HOST_PREFIX = re.compile(rf"({_OCTET}(?:\.{_OCTET}){{3}})/32")
_SPECIAL_V4_RANGES: tuple[tuple[int, int], ...] = tuple(
    (int(net.network_address), int(net.broadcast_address))
    for net, _ in _SPECIAL
    if net.version == 4
)


def _v4_host_allowed(address: str, ctx: Context) -> bool:
    """Whether check_prefix would pass ``address``/32 (canonical IPv4 only)."""
    if ctx.min_prefix_len_v4 > 32:
        return False  # nothing is long enough (the general path says so)
    if ctx.allow_special:
        return True
    value = int.from_bytes(socket.inet_aton(address), "big")
    for first, last in _SPECIAL_V4_RANGES:
        if first <= value <= last:
            return False
    return True


# --------------------------------------------------------------------------- text


def _printable(text: str, limit: int) -> str:
    """``text`` with control and other unprintable characters escaped, cut at ``limit``.

    Problem lines go to logs and Events: a newline or an ANSI escape in an
    object's name must not forge a second log line or repaint a terminal.
    """
    if len(text) > limit:
        text = text[:limit] + "..."
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _quote(value: object) -> str:
    """A value as a problem line quotes it: repr'd, at most ~40 characters, length when cut."""
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    if len(value) <= _QUOTE_MAX:
        return repr(value)
    return f"{value[:_QUOTE_MAX]!r}... ({len(value)} characters)"


def _ref(obj: object) -> str:
    """The object's ref (``Pod/ns/name``) as ``Want.source`` carries it; never raises."""
    try:
        ref = obj.ref  # type: ignore[attr-defined]
    except Exception:
        ref = None
    return ref if isinstance(ref, str) else f"{type(obj).__name__}/?"


def _decision(ref: str, wants: Iterable[Want], problems: list[str]) -> Decision:
    problem = None
    if problems:
        problem = f"{_printable(ref, _REF_MAX)}: " + "; ".join(problems)
    return Decision(frozenset(wants), problem)


# --------------------------------------------------------------------------- policy values


def parse_policy(value: str) -> str | None:
    """CLUSTER for ``true``, ``yes`` or ``cluster``, LOCAL for ``local``, else None.

    Exact match only: the Go speaker compares strings as they are, and an
    operator moving between the two must see the same objects announced.
    """
    return _POLICIES.get(value) if isinstance(value, str) else None


def _bad_value(value: object, expected: str, valid: Iterable[str]) -> str:
    """The problem text for an annotation value that is not one of ``valid``."""
    text = f"unknown value {_quote(value)} for annotation {BGP_ANNOTATION} (expected {expected})"
    if isinstance(value, str):
        guess = value.strip().lower()
        if guess in valid and guess != value:
            text += f"; values are matched exactly, did you mean {guess!r}?"
    return text


def _annotation_policy(value: object) -> tuple[str | None, str | None]:
    """(policy, problem) of an object's annotation; (None, None) when it is absent."""
    if value is None:
        return None, None
    policy = parse_policy(value)  # type: ignore[arg-type]
    if policy is None:
        return None, _bad_value(value, _EXPECTED_ANY, _POLICIES)
    return policy, None


def _cluster_only_policy(value: object, why: str) -> tuple[bool, str | None]:
    """(announce, problem) for kinds that support the Cluster policy only (Services, EIPs)."""
    if value is None:
        return False, None
    policy = parse_policy(value)  # type: ignore[arg-type]
    if policy == CLUSTER:
        return True, None
    if policy == LOCAL:
        return False, f"annotation {BGP_ANNOTATION} is 'local', but {why}"
    valid = [v for v, p in _POLICIES.items() if p == CLUSTER]
    return False, _bad_value(value, _EXPECTED_CLUSTER, valid)


def subnet_pod_policy(subnet: Subnet) -> str | None:
    """The policy a Subnet passes to its pods that have no annotation of their own.

    CLUSTER or LOCAL from the Subnet's annotation; None when it has none or a
    bad one (the Subnet's own decision reports a bad one, once, not once per
    pod).  Readiness is not looked at here: ``pod_decision`` checks it.
    """
    return parse_policy(getattr(subnet, "bgp", None))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- addresses


def _parse_address(text: object) -> tuple[_Address | None, str | None]:
    """(address, None), or (None, why not) for one item of an address list.

    Stricter than ``ipaddress.ip_address``: that one accepts a zone index
    (``fe80::1%eth0``), which a route cannot carry and the Go speaker refuses.
    """
    if not isinstance(text, str):
        return None, f"{_quote(text)} is not an IP address"
    if "%" in text:
        return None, f"{_quote(text)} is not an IP address (zone index)"
    try:
        return ipaddress.ip_address(text), None
    except ValueError:
        return None, f"{_quote(text)} is not an IP address"


def _host_prefixes(raw: object, where: str) -> tuple[list[str], str | None]:
    """The host prefixes of a comma-separated address list ("a" or "a,b"), or the
    first bad item.

    Items are not trimmed: kube-ovn writes none of the spaces a hand edit adds,
    and the Go speaker fails on them too.
    """
    if not isinstance(raw, str):
        return [], f"{where}: {_quote(raw)} is not an IP address"
    found: list[str] = []
    for item in raw.split(","):
        if _V4_CANONICAL.fullmatch(item):
            found.append(item + "/32")
            continue
        address, why = _parse_address(item)
        if address is None:
            whole = f" in {_quote(raw)}" if item != raw else ""
            return [], f"{where}: {why}{whole}"
        found.append(_host_prefix(address))
    return found, None


def _host_prefix(address: _Address) -> str:
    """``10.16.0.12/32`` or ``fd00:10:16::c/128``, canonical."""
    return str(ipaddress.ip_network((address, address.max_prefixlen)))


def _parse_cidr(text: str) -> tuple[_Network | None, str | None]:
    """(network, None), or (None, why not) for one CIDR of a cidrBlock."""
    if _CIDR_RE.fullmatch(text) is None or "%" in text:
        return None, f"CIDR {_quote(text)} does not parse"
    try:
        return ipaddress.ip_network(text, strict=True), None
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None, f"CIDR {_quote(text)} does not parse"
    return None, f"CIDR {_quote(text)} has host bits set (the network is {loose})"


# --------------------------------------------------------------------------- safety


def check_prefix(prefix: str, ctx: Context) -> str | None:
    """None if ``prefix`` may be announced, else why not (a phrase, without the prefix).

    The special ranges are refused unless ``ctx.allow_special``; prefixes
    shorter than the minimum lengths are always refused (those have their own
    knobs).  Overlapping is enough: 0.0.0.0/1 contains loopback, and a route
    for it would pull 127.0.0.0/8 traffic of every peer towards this node.
    """
    if not isinstance(prefix, str) or "%" in prefix:
        return "not a valid prefix"
    host = _V4_HOST_PREFIX.fullmatch(prefix)
    if host is not None and _v4_host_allowed(host.group(1), ctx):
        return None  # refusals take the general path, for their reason
    return _check_prefix_general(prefix, ctx)


def _check_prefix_general(prefix: str, ctx: Context) -> str | None:
    try:
        net = ipaddress.ip_network(prefix, strict=True)
    except ValueError:
        return "not a valid prefix"
    if not ctx.allow_special:
        if net.prefixlen == 0:
            return "it is a default route (special addresses are refused)"
        for special, what in _SPECIAL:
            if net.version == special.version and net.overlaps(special):
                return f"it overlaps {what} {special} (special addresses are refused)"
    for special, what in _NEVER:
        if net.version == special.version and net.subnet_of(special):
            return f"it is one of the {what} {special} (never announced)"
    minimum = ctx.min_prefix_len_v4 if net.version == 4 else ctx.min_prefix_len_v6
    if net.prefixlen < minimum:
        return f"it is shorter than the IPv{net.version} minimum prefix length /{minimum}"
    return None


def _safe(
    candidates: Iterable[tuple[str, str]], source: str, ctx: Context, problems: list[str]
) -> set[Want]:
    """Wants for the (prefix, policy) candidates that pass ``check_prefix``; notes the rest."""
    wants: set[Want] = set()
    refused: set[str] = set()
    for prefix, policy in candidates:
        why = check_prefix(prefix, ctx)
        if why is None:
            wants.add(Want(prefix, policy, source))
        elif prefix not in refused:
            refused.add(prefix)
            problems.append(f"refused {prefix}: {why}")
    return wants


# --------------------------------------------------------------------------- decisions


def subnet_decision(subnet: Subnet, ctx: Context) -> Decision:
    """Each CIDR of a Ready Subnet annotated with the Cluster policy.

    A ``local`` Subnet announces no CIDR: its pods are announced each by its
    own node (``pod_decision``).  A bad annotation is reported even while the
    Subnet is not Ready (the value is wrong either way); a bad CIDR only once it
    is Ready, because kube-ovn itself keeps a Subnet with a bad CIDR not Ready
    and says why in its conditions.
    """
    ref = _ref(subnet)
    policy, problem = _annotation_policy(getattr(subnet, "bgp", None))
    if problem is not None:
        return _decision(ref, (), [problem])
    if policy != CLUSTER or getattr(subnet, "ready", False) is not True:
        return NOTHING
    block = getattr(subnet, "cidr_block", None)
    if not isinstance(block, str) or block == "":
        return _decision(ref, (), ["annotated for BGP but has no spec.cidrBlock"])
    networks: list[_Network] = []
    for item in block.split(","):
        network, why = _parse_cidr(item)
        if network is None:
            whole = f" in spec.cidrBlock {_quote(block)}" if item != block else ""
            return _decision(ref, (), [f"{why}{whole}"])
        networks.append(network)
    problems: list[str] = []
    wants = _safe(((str(n), CLUSTER) for n in networks), ref, ctx, problems)
    return _decision(ref, wants, problems)


def pod_alive(pod: Pod) -> bool:
    """The Go speaker's ``isPodAlive``.

    An absent restartPolicy counts as Always, the value the API server defaults it to.
    """
    phase = getattr(pod, "phase", None)
    restart = getattr(pod, "restart_policy", None)
    restart = "Always" if restart is None else restart
    if phase == "Succeeded" and restart != "Always":
        return False
    if phase == "Failed" and restart == "Never":
        return False
    return not (phase == "Failed" and getattr(pod, "reason", None) == "Evicted")


def _pod_addresses(pod: Pod) -> tuple[PodAddress, ...]:
    addresses = getattr(pod, "addresses", ())
    if not isinstance(addresses, tuple | list):
        return ()
    return tuple(a for a in addresses if isinstance(a, PodAddress))


def pod_decision(pod: Pod, subnets: Mapping[str, Subnet], ctx: Context) -> Decision:
    """Each IP of each provider of a live pod whose policy says so, as /32 or /128.

    The policy of a provider is the pod's own annotation, else that of the
    provider's Subnet; the Subnet must exist in ``subnets`` and be Ready, or
    the provider contributes nothing and nothing is reported (the caches may
    still be filling).  Host-network and dead pods are never announced and
    never reported, whatever their annotations say.

    The problem does not depend on the node: addresses are checked for every
    provider that has a policy, Local ones on other nodes included, so every
    speaker says the same thing about the same pod.
    """
    if getattr(pod, "host_network", False) is True or not pod_alive(pod):
        return NOTHING
    ref = _ref(pod)
    own, problem = _annotation_policy(getattr(pod, "bgp", None))
    if problem is not None:
        return _decision(ref, (), [problem])
    node = getattr(pod, "node_name", None)
    here = isinstance(ctx.node_name, str) and ctx.node_name != "" and node == ctx.node_name

    candidates: list[tuple[str, str]] = []  # (prefix, policy) of every provider with a policy
    problems: list[str] = []
    for address in _pod_addresses(pod):
        switch = address.logical_switch
        subnet = subnets.get(switch) if isinstance(switch, str) else None
        if not isinstance(subnet, Subnet) or subnet.ready is not True:
            continue
        policy = own if own is not None else subnet_pod_policy(subnet)
        if policy is None:
            continue
        provider = address.provider if isinstance(address.provider, str) else "?"
        where = f"annotation {_printable(provider + _IP_SUFFIX, _REF_MAX)}"
        hosts, why = _host_prefixes(address.ip_address, where)
        if why is not None:
            problems.append(why)
        candidates.extend((prefix, policy) for prefix in hosts)
    if problems:
        # An address that does not parse skips the whole pod.
        return _decision(ref, (), problems)
    # Local prefixes of other nodes are checked too, then dropped, so that the
    # problem line is the same on every node.
    wants = _safe(candidates, ref, ctx, problems)
    mine = {w for w in wants if w.policy == CLUSTER or here}
    return _decision(ref, mine, problems)


def service_decision(service: Service, ctx: Context) -> Decision:
    """Each ClusterIP of an annotated ClusterIP Service, when ``announce_cluster_ip`` is on.

    Services have no node, so only the Cluster policy means anything for
    them; ``local`` is reported rather than silently ignored.  Services of
    other types, and headless ones, are not announced and not reported (as
    in the Go speaker).
    """
    if ctx.announce_cluster_ip is not True:
        return NOTHING
    ref = _ref(service)
    announce, problem = _cluster_only_policy(
        getattr(service, "bgp", None), "Services support the Cluster policy only"
    )
    if problem is not None:
        return _decision(ref, (), [problem])
    if not announce or getattr(service, "type", None) != "ClusterIP":
        return NOTHING
    cluster_ip = getattr(service, "cluster_ip", None)
    if not isinstance(cluster_ip, str) or cluster_ip in ("", "None"):
        return NOTHING
    listed = getattr(service, "cluster_ips", ())
    if isinstance(listed, tuple | list) and len(listed) > 0:
        ips, field = list(listed), "spec.clusterIPs"
    else:
        ips, field = [cluster_ip], "spec.clusterIP"
    prefixes: list[tuple[str, str]] = []
    for ip in ips:
        if ip == "None":
            continue
        address, why = _parse_address(ip)
        if address is None:
            return _decision(ref, (), [f"{field}: {why}"])
        prefixes.append((_host_prefix(address), CLUSTER))
    problems: list[str] = []
    wants = _safe(prefixes, ref, ctx, problems)
    return _decision(ref, wants, problems)


def eip_decision(eip: IptablesEIP, ctx: Context) -> Decision:
    """``v4ip``/32 and ``v6ip``/128 of a Ready, annotated EIP of this NAT gateway.

    Only in NAT-gateway mode (``ctx.gateway_name`` set) and only EIPs labelled
    with this gateway: another gateway's EIPs are its speaker's business, so
    they are neither announced nor reported here.
    """
    gateway = ctx.gateway_name
    if not isinstance(gateway, str) or gateway == "" or getattr(eip, "gateway", None) != gateway:
        return NOTHING
    ref = _ref(eip)
    announce, problem = _cluster_only_policy(
        getattr(eip, "bgp", None), "EIPs are announced by their NAT gateway (Cluster policy only)"
    )
    if problem is not None:
        return _decision(ref, (), [problem])
    if not announce or getattr(eip, "ready", False) is not True:
        return NOTHING
    prefixes: list[tuple[str, str]] = []
    for field, version in (("v4ip", 4), ("v6ip", 6)):
        raw: Any = getattr(eip, field, None)
        if raw is None or raw == "":
            continue
        address, why = _parse_address(raw)
        if address is None:
            return _decision(ref, (), [f"spec.{field}: {why}"])
        if address.version != version:
            why = f"{_quote(raw)} is not an IPv{version} address"
            return _decision(ref, (), [f"spec.{field}: {why}"])
        prefixes.append((_host_prefix(address), CLUSTER))
    problems: list[str] = []
    wants = _safe(prefixes, ref, ctx, problems)
    return _decision(ref, wants, problems)
