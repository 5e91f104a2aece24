"""``ryu-kovn-ctl``: the REST views printed as tables, like ``gobgp neighbor``.

    ryu-kovn-ctl neighbor                 every peer, one line each
    ryu-kovn-ctl neighbor ADDR            one peer in detail
    ryu-kovn-ctl neighbor ADDR adj-out    prefixes sent to ADDR
    ryu-kovn-ctl neighbor ADDR adj-in     prefixes received from ADDR
    ryu-kovn-ctl rib [-a ipv6]            the local table
    ryu-kovn-ctl announcements            what is wanted, and why

Add ``-j`` for the raw JSON.  The speaker's REST address comes from ``--url``
or ``RYU_KOVN_URL`` (default http://127.0.0.1:8080, Ryu's wsapi default).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"


def _get(base: str, path: str) -> Any:
    url = base.rstrip("/") + path
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as err:
        try:
            detail = json.load(err).get("error", err.reason)
        except (ValueError, AttributeError):
            detail = err.reason
        raise SystemExit(f"ryu-kovn-ctl: {detail}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise SystemExit(f"ryu-kovn-ctl: cannot reach the speaker at {base}: {reason}") from None


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = int(seconds)
    days, s = divmod(s, 86400)
    text = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{days}d {text}" if days else text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def show_neighbors(data: list[dict[str, Any]]) -> str:
    rows = [
        (
            n["address"],
            n["remote_as"],
            _uptime(n["uptime_seconds"]),
            n["state"].capitalize(),
            n["prefixes"]["sent"],
            n["prefixes"]["received"],
            f'{n["messages"]["sent"]["update"]}/{n["messages"]["received"]["update"]}',
        )
        for n in data
    ]
    return table(("Peer", "AS", "Up/Down", "State", "#Sent", "#Received", "Updates out/in"), rows)


def show_neighbor(n: dict[str, Any]) -> str:
    hold = n["hold_time"]
    lines = [
        f'BGP neighbor is {n["address"]}, remote AS {n["remote_as"]}, local AS {n["local_as"]}',
        f'  BGP state = {n["state"]}, up for {_uptime(n["uptime_seconds"])}',
        f'  Remote router ID {n["remote_router_id"] or "-"}, family {n["family"]}',
        f'  Local address {n["local_address"] or "-"}, next hop sent {n["next_hop"] or "-"}',
        f'  Port {n["port"]}, {"passive" if n["passive"] else "active"}, TTL {n["ttl"]}, '
        f'authentication {n["authentication"]}',
        f'  Hold time configured {hold["configured"]}s, negotiated '
        f'{str(hold["negotiated"]) + "s" if hold["negotiated"] is not None else "-"}, '
        f'keepalive {n["keepalive_interval"] or "-"}',
        f'  Capabilities sent:     {", ".join(n["capabilities"]["sent"]) or "-"}',
        f'  Capabilities received: {", ".join(n["capabilities"]["received"]) or "-"}',
        f'  Prefixes sent {n["prefixes"]["sent"]}, received {n["prefixes"]["received"]}',
        "  Messages:       Sent  Rcvd",
    ]
    for kind in ("update", "notification", "route_refresh"):
        sent, rcvd = n["messages"]["sent"][kind], n["messages"]["received"][kind]
        lines.append(f"    {kind:<13}{sent:>6}{rcvd:>6}")
    lines.append(f'  Established {n["established_transitions"]} times; '
                 f'last error: {n["last_error"] or "none"}')
    return "\n".join(lines)


def show_routes(data: list[dict[str, Any]], when_key: str | None) -> str:
    headers = ["Network", "Next Hop", "AS_PATH"] + (["Since"] if when_key else [])
    rows = [
        [r["prefix"], r["next_hop"], " ".join(map(str, r["as_path"]))]
        + ([r[when_key]] if when_key else [])
        for r in data
    ]
    return table(headers, rows)


def show_rib(data: list[dict[str, Any]]) -> str:
    rows = [
        ("*>" if r["best"] else "* ", r["prefix"], r["next_hop"] or "local", r["source"],
         " ".join(map(str, r["as_path"])))
        for r in data
    ]
    return table(("", "Network", "Next Hop", "Source", "AS_PATH"), rows)


def show_announcements(data: list[dict[str, Any]]) -> str:
    rows = []
    for a in data:
        reasons = a.get("reasons") or [{}]
        for i, why in enumerate(reasons):
            prefix = a["prefix"] if i == 0 else ""
            rows.append((prefix, why.get("source", ""), why.get("policy", "")))
    return table(("Prefix", "Wanted by", "Policy"), rows)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ryu-kovn-ctl", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=os.environ.get("RYU_KOVN_URL", DEFAULT_URL))
    p.add_argument("-j", "--json", action="store_true", help="print the raw JSON")
    sub = p.add_subparsers(dest="command", required=True)
    nb = sub.add_parser("neighbor", help="BGP peers")
    nb.add_argument("address", nargs="?")
    nb.add_argument("view", nargs="?", choices=("adj-out", "adj-in"))
    rib = sub.add_parser("rib", help="the local table")
    rib.add_argument("-a", "--address-family", default="ipv4", choices=("ipv4", "ipv6"))
    sub.add_parser("announcements", help="every wanted prefix and why")
    return p


def run(argv: Sequence[str] | None = None) -> str:
    args = build_parser().parse_args(argv)
    quoted = urllib.parse.quote(getattr(args, "address", None) or "", safe="")
    if args.command == "neighbor" and not args.address:
        path, render = "/bgp/neighbors", show_neighbors
    elif args.command == "neighbor" and args.view is None:
        path, render = f"/bgp/neighbors/{quoted}", show_neighbor
    elif args.command == "neighbor":
        when = "sent_at" if args.view == "adj-out" else "received_at"
        path = f"/bgp/neighbors/{quoted}/{args.view}"
        render = lambda d: show_routes(d, when)  # noqa: E731
    elif args.command == "rib":
        path, render = f"/bgp/rib/{args.address_family}", show_rib
    else:
        path, render = "/bgp/announcements", show_announcements
    data = _get(args.url, path)
    return json.dumps(data, indent=2, sort_keys=True) if args.json else render(data)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        print(run(argv))
    except BrokenPipeError:
        sys.exit(0)
