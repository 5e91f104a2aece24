"""The demo's ExaBGP router keeps its table here: an ExaBGP API process.

ExaBGP has no routing table of its own to show: it hands what it receives to
API processes.  This one is started by ExaBGP (``process ... { run ...; encoder
json; }``), reads the parsed messages it receives on stdin, one JSON object a
line, and keeps the table the router learned from its neighbour: an UPDATE's
``announce`` adds or replaces prefixes, its ``withdraw`` removes them, and the
session going down empties the table (BGP drops a peer's routes with the
session).  After each change it rewrites ``PATH`` (atomically) as JSON::

    {"state": "up", "peer": "127.0.0.1", "updates": 3,
     "routes": {"10.16.0.0/16": {"next-hop": "192.0.2.10", "as-path": [65010],
                                 "origin": "igp", "since": 1700000000.0}}}

The demo reads that file to print "the router's own table".  Standard library
only: ExaBGP runs it with the demo's Python.

Usage: exabgp_rib.py PATH
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def nlri_prefix(entry: Any) -> str | None:
    """The prefix of one NLRI as ExaBGP writes it: ``{"nlri": "p/len"}`` or ``"p/len"``."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        prefix = entry.get("nlri")
        return prefix if isinstance(prefix, str) else None
    return None


def as_path(value: Any) -> list[int | list[int]]:
    """The AS path, flat: ExaBGP 5 writes ``{"0": {"element": "as-sequence", "value": [65010]}}``,
    older releases a plain list.  An AS_SET becomes a nested list."""
    if isinstance(value, list):
        return value
    path: list[int | list[int]] = []
    if isinstance(value, dict):
        for _, segment in sorted(value.items(), key=lambda item: int(item[0])):
            asns = list(segment.get("value", []))
            if str(segment.get("element", "")).endswith("set"):
                path.append(asns)
            else:
                path.extend(asns)
    return path


class Table:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.state = "down"
        self.peer = ""
        self.updates = 0
        self.routes: dict[str, dict[str, Any]] = {}

    def save(self) -> None:
        doc = {"state": self.state, "peer": self.peer, "updates": self.updates,
               "routes": dict(sorted(self.routes.items()))}  # fmt: skip
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, self.path)

    def handle(self, message: dict[str, Any]) -> bool:
        """Apply one ExaBGP message; whether the table (or the session state) changed."""
        kind = message.get("type")
        neighbor = message.get("neighbor") or {}
        if kind == "state":
            self.state = str(neighbor.get("state", self.state))
            self.peer = str((neighbor.get("address") or {}).get("peer", self.peer))
            if self.state != "up":
                self.routes.clear()
            return True
        if kind != "update" or neighbor.get("direction", "receive") != "receive":
            return False
        update = (neighbor.get("message") or {}).get("update")
        if not isinstance(update, dict):
            return False  # an End-of-RIB marker, for instance
        self.updates += 1
        attribute = update.get("attribute") or {}
        now = time.time()
        for family in (update.get("withdraw") or {}).values():
            for entry in family:
                prefix = nlri_prefix(entry)
                if prefix:
                    self.routes.pop(prefix, None)
        for family in (update.get("announce") or {}).values():
            for next_hop, entries in family.items():
                for entry in entries:
                    prefix = nlri_prefix(entry)
                    if prefix:
                        self.routes[prefix] = {
                            "next-hop": next_hop,
                            "as-path": as_path(attribute.get("as-path")),
                            "origin": attribute.get("origin", ""),
                            "since": now,
                        }
        return True


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    table = Table(Path(argv[1]))
    table.save()
    for line in sys.stdin:
        line = line.strip()
        if not line.startswith("{"):
            continue  # ExaBGP also writes plain-text notices ("shutdown")
        try:
            message = json.loads(line)
        except ValueError:
            print(f"exabgp_rib: not JSON: {line[:200]}", file=sys.stderr, flush=True)
            continue
        if table.handle(message):
            table.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
