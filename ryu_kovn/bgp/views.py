"""Read-only views of the speaker's sessions and tables, as plain JSON-able dicts.

These are what ``/bgp/...`` serves and ``ryu-kovn-ctl`` prints: the same facts
an operator reads with ``gobgp neighbor`` and ``gobgp neighbor ADDR adj-out``.
They are built from ryu-kovn's own neighbor list and Ryu's peer objects, never
from Ryu's neighbor configuration dump (which carries the MD5 password in clear).
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from ryu_kovn.bgp.speaker import Neighbor, Speaker
from ryu_kovn.prefixes import sort_key

_CAPABILITY_NAMES = {
    1: "multiprotocol",
    2: "route-refresh",
    4: "carrying-label-info",
    5: "extended-nexthop",
    6: "extended-message",
    64: "graceful-restart",
    65: "4-octet-as",
    69: "add-path",
    70: "enhanced-route-refresh",
    71: "long-lived-graceful-restart",
    73: "fqdn",
    128: "cisco-route-refresh",
}
_AFI_SAFI_NAMES = {(1, 1): "ipv4-unicast", (2, 1): "ipv6-unicast"}


def _family_of(neighbor: Neighbor):  # type: ignore[no-untyped-def]
    from ryu.lib.packet.bgp import RF_IPv4_UC, RF_IPv6_UC

    return RF_IPv4_UC if neighbor.family == "ipv4" else RF_IPv6_UC


def _capabilities(open_msg: Any) -> list[str]:
    if open_msg is None:
        return []
    names = []
    for param in open_msg.opt_param:
        code = getattr(param, "cap_code", None)
        if code is None:
            continue
        name = _CAPABILITY_NAMES.get(code, f"capability-{code}")
        if code == 1:
            name += "(" + _AFI_SAFI_NAMES.get((param.afi, param.safi), f"{param.afi}/{param.safi}")
            name += ")"
        elif code == 65:
            name += f"({param.as_number})"
        names.append(name)
    return names


def _last_error(peer: Any) -> str | None:
    error = getattr(peer.state, "_last_bgp_error", None)
    if not error:
        return None
    # Only the fields an operator needs; the dict also holds object references.
    parts = [f"{k}={error[k]}" for k in ("code", "subcode", "reason") if k in error]
    return ", ".join(parts) or str(error.get("info", "error"))


def _peer(speaker: Speaker, address: str) -> Any:
    core = speaker.core
    return None if core is None else core.peer_manager.get_by_addr(address)


def _state(peer: Any) -> str:
    return peer.state.bgp_state.lower() if peer is not None else "idle"


def _sent_routes(peer: Any) -> list[Any]:
    if peer is None or not peer.in_established():
        return []
    return [
        r for r in peer._adj_rib_out.values() if not r.path.is_withdraw and not r.filtered
    ]


def _received_routes(peer: Any) -> list[Any]:
    if peer is None or not peer.in_established():
        return []
    return [
        r for r in peer._adj_rib_in.values() if not r.path.is_withdraw and not r.filtered
    ]


def neighbor_summary(speaker: Speaker, neighbor: Neighbor) -> dict[str, Any]:
    peer = _peer(speaker, neighbor.address)
    counters = peer.state.counters if peer is not None else {}
    established_at = getattr(peer.state, "_established_time", 0) if peer is not None else 0
    return {
        "address": neighbor.address,
        "family": neighbor.family,
        "remote_as": neighbor.remote_as,
        "local_as": speaker.settings.cluster_as,
        "state": _state(peer),
        "uptime_seconds": round(time.time() - established_at, 3) if established_at else None,
        "messages": {
            "sent": {
                "update": counters.get("sent_updates", 0),
                "notification": counters.get("sent_notification", 0),
                "route_refresh": counters.get("sent_refresh", 0),
            },
            "received": {
                "update": counters.get("recv_updates", 0),
                "notification": counters.get("recv_notification", 0),
                "route_refresh": counters.get("recv_refresh", 0),
            },
        },
        "prefixes": {
            "sent": len(_sent_routes(peer)),
            "received": len(_received_routes(peer)),
        },
    }


def neighbor_detail(speaker: Speaker, neighbor: Neighbor) -> dict[str, Any]:
    peer = _peer(speaker, neighbor.address)
    protocol = peer.protocol if peer is not None and peer.in_established() else None
    recv_open = getattr(protocol, "recv_open_msg", None)
    detail = neighbor_summary(speaker, neighbor)
    detail.update(
        {
            "port": neighbor.port,
            "passive": neighbor.passive,
            "authentication": "tcp-md5" if neighbor.authenticated else "none",
            "ttl": speaker.settings.ebgp_multihop,
            "hold_time": {
                "configured": neighbor.hold_time,
                "negotiated": getattr(protocol, "holdtime", None),
            },
            # Ryu sends a KEEPALIVE every third of the negotiated hold time.
            "keepalive_interval": (
                protocol.holdtime // 3 if getattr(protocol, "holdtime", None) else None
            ),
            "local_address": peer.host_bind_ip if protocol is not None else None,
            "remote_router_id": recv_open.bgp_identifier if recv_open is not None else None,
            "next_hop": speaker.next_hops.for_neighbor(
                neighbor.address, peer.host_bind_ip if protocol is not None else None
            ),
            "capabilities": {
                "sent": _capabilities(getattr(protocol, "sent_open_msg", None)),
                "received": _capabilities(recv_open),
            },
            "established_transitions": (
                peer.state.counters.get("fms_established_transitions", 0) if peer else 0
            ),
            "last_error": _last_error(peer) if peer is not None else None,
        }
    )
    return detail


def _as_path(path: Any) -> list[int]:
    from ryu.lib.packet.bgp import BGP_ATTR_TYPE_AS_PATH

    attr = path.get_pattr(BGP_ATTR_TYPE_AS_PATH)
    if attr is None:
        return []
    return [asn for segment in attr.path_seg_list for asn in segment]


def _when(route: Any) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", route.timestamp)


def adj_out(speaker: Speaker, neighbor: Neighbor) -> list[dict[str, Any]]:
    peer = _peer(speaker, neighbor.address)
    ebgp = neighbor.remote_as != speaker.settings.cluster_as
    rows = []
    for route in _sent_routes(peer):
        path = route.path
        rows.append(
            {
                "prefix": path.nlri.formatted_nlri_str,
                "next_hop": peer._session_next_hop(path) if path.is_local() else path.nexthop,
                "as_path": ([speaker.settings.cluster_as] if ebgp else []) + _as_path(path),
                "sent_at": _when(route),
                "age_seconds": round(time.time() - calendar.timegm(route.timestamp)),
            }
        )
    return sorted(rows, key=lambda r: sort_key(r["prefix"]))


def adj_in(speaker: Speaker, neighbor: Neighbor) -> list[dict[str, Any]]:
    peer = _peer(speaker, neighbor.address)
    rows = [
        {
            "prefix": r.path.nlri.formatted_nlri_str,
            "next_hop": r.path.nexthop,
            "as_path": _as_path(r.path),
            "received_at": _when(r),
        }
        for r in _received_routes(peer)
    ]
    return sorted(rows, key=lambda r: sort_key(r["prefix"]))


def rib(speaker: Speaker, family: str) -> list[dict[str, Any]]:
    from ryu.lib.packet.bgp import RF_IPv4_UC, RF_IPv6_UC

    core = speaker.core
    if core is None:
        return []
    rf = RF_IPv4_UC if family == "ipv4" else RF_IPv6_UC
    table = core.table_manager.get_global_table_by_route_family(rf)
    rows = []
    for dest in table.values():
        best = dest.best_path
        for path in dest.known_path_list:
            local = path.source is None
            rows.append(
                {
                    "prefix": path.nlri.formatted_nlri_str,
                    "next_hop": None if local else path.nexthop,
                    "source": "local" if local else path.source.ip_address,
                    "as_path": _as_path(path),
                    "best": path is best,
                }
            )
    return sorted(rows, key=lambda r: sort_key(r["prefix"]))


