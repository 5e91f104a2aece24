"""A client for the emulator's admin API (``/_emulator/...``), standard library only.

Why stdlib (urllib) and not the kubernetes client or aiohttp: tests call it from any
context, including code that monkey-patches sockets (eventlet), and the admin API is a
handful of JSON POSTs. Each method maps to one endpoint; see the package docstring.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


class AdminError(RuntimeError):
    """The admin API answered with an error status."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"admin API answered HTTP {status}: {body}")
        self.status = status
        self.body = body


class AdminClient:
    """Fault injection and introspection of one running emulator."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, action: str, body: Any = None, *,
              raw: bytes | None = None, content_type: str = "application/json") -> Any:
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(f"{self.url}/_emulator/{action}", data=data,
                                         method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AdminError(exc.code, exc.read().decode(errors="replace")) from None

    # -- introspection

    def healthz(self) -> dict[str, Any]:
        return self._call("GET", "healthz")

    def stats(self) -> dict[str, Any]:
        """Counters: resourceVersion, objects per resource, open watches, requests per path."""
        return self._call("GET", "stats")

    def open_watches(self, path: str | None = None) -> int:
        """Open watch streams, optionally only those whose path contains ``path``."""
        watches = self.stats()["watches"]
        return sum(1 for w in watches if path is None or path in w["path"])

    def requests(self) -> dict[str, int]:
        """Requests served per ``"METHOD /path"`` (watches counted as ``"WATCH /path"``)."""
        return self._call("GET", "stats")["requests"]

    def resource_version(self) -> int:
        return int(self.healthz()["resourceVersion"])

    def wait_for(self, condition: Callable[[dict[str, Any]], bool], timeout: float = 10.0,
                 what: str = "condition") -> dict[str, Any]:
        """Poll stats until ``condition(stats)`` holds; the stats that satisfied it."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if condition(stats):
                return stats
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}; last stats: {stats}")
            time.sleep(0.01)

    def wait_watches(self, count: int, path: str | None = None, timeout: float = 10.0) -> None:
        """Wait until exactly ``count`` watch streams (matching ``path``) are open."""
        self.wait_for(lambda s: sum(1 for w in s["watches"]
                                    if path is None or path in w["path"]) == count,
                      timeout, f"{count} open watches on {path or 'any path'}")

    # -- state

    def reset(self, objects: bool = False) -> dict[str, Any]:
        """Clear faults, delays, hang and counters; with ``objects``, delete every object."""
        return self._call("POST", "reset", {"objects": objects})

    def load(self, documents: list[dict[str, Any]] | str | bytes) -> dict[str, Any]:
        """Load objects as given (status kept): a list of dicts, or YAML/JSON text."""
        if isinstance(documents, list):
            return self._call("POST", "load", raw=json.dumps(documents).encode())
        raw = documents.encode() if isinstance(documents, str) else documents
        return self._call("POST", "load", raw=raw, content_type="application/yaml")

    def compact(self, resource_version: int | None = None) -> int:
        """Forget watch history up to an RV (default: all); returns the compacted RV."""
        body = {} if resource_version is None else {"resourceVersion": resource_version}
        return int(self._call("POST", "compact", body)["compactedResourceVersion"])

    def save(self, path: str | None = None) -> str | None:
        return self._call("POST", "save", {} if path is None else {"path": path})["path"]

    def configure(self, *, bookmark_interval: float | None = None,
                  max_events: int | None = None,
                  too_large_wait: float | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if bookmark_interval is not None:
            body["bookmarkInterval"] = bookmark_interval
        if max_events is not None:
            body["maxEvents"] = max_events
        if too_large_wait is not None:
            body["tooLargeWait"] = too_large_wait
        return self._call("POST", "config", body)

    # -- watch stream faults

    def drop_watches(self, path: str | None = None, mode: str = "close") -> int:
        """Cut open watch connections mid-stream (``close``: FIN, ``reset``: RST)."""
        return int(self._call("POST", "drop-watches", {"path": path, "mode": mode})["dropped"])

    def expire_watches(self, path: str | None = None) -> int:
        """Send ERROR 410 Expired on open watches and end them cleanly."""
        return int(self._call("POST", "expire-watches", {"path": path})["expired"])

    def garbage(self, path: str | None = None, line: str = "this is not JSON {{{") -> int:
        """Write one non-JSON line into open watch streams."""
        return int(self._call("POST", "garbage", {"path": path, "line": line})["sent"])

    def bookmark(self, path: str | None = None) -> int:
        """Send a BOOKMARK now to every open watch that asked for bookmarks."""
        return int(self._call("POST", "bookmark", {"path": path})["sent"])

    # -- request faults

    def fail(self, path: str, status: int = 500, times: int | None = 1, *,
             method: str | None = None, watch: bool | None = None,
             message: str | None = None, retry_after: int | None = None) -> str:
        """Answer the next ``times`` requests whose path matches the regex with ``status``."""
        return self._call("POST", "faults", {
            "path": path, "status": status, "times": times, "method": method, "watch": watch,
            "message": message, "retryAfter": retry_after})["id"]

    def reset_connections(self, path: str, times: int | None = 1, *,
                          method: str | None = None, watch: bool | None = None) -> str:
        """Reset (RST) the connection of the next matching requests instead of answering."""
        return self._call("POST", "faults", {"path": path, "times": times, "method": method,
                                             "watch": watch, "action": "reset"})["id"]

    def clear_faults(self) -> int:
        return int(self._call("DELETE", "faults", {})["cleared"])

    def delay(self, path: str, seconds: float, times: int | None = None, *,
              method: str | None = None, watch: bool | None = None) -> str:
        """Delay responses to matching requests by ``seconds`` (until cleared by default)."""
        return self._call("POST", "delays", {"path": path, "seconds": seconds, "times": times,
                                             "method": method, "watch": watch})["id"]

    def clear_delays(self) -> int:
        return int(self._call("DELETE", "delays", {})["cleared"])

    # -- availability

    def down(self, seconds: float) -> None:
        """Stop listening and kill all connections for ``seconds``, then listen again."""
        self._call("POST", "down", {"seconds": seconds})

    def hang(self, seconds: float | None = None) -> None:
        """Accept connections but answer nothing (watches freeze) until :meth:`up`."""
        self._call("POST", "hang", {"seconds": seconds})

    def up(self) -> None:
        self._call("POST", "up", {})

    def shutdown(self) -> None:
        """Save state (if the server has a state file) and exit."""
        self._call("POST", "shutdown", {})
