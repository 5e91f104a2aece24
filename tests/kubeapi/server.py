"""The HTTP side of the emulator: Kubernetes API routes, watch streams, faults, admin API.

Written directly on aiohttp's low-level ``web.Server`` (see the package docstring for why
not on kmock). The design choices that the speaker's tests depend on:

- **No polling.** Every committed write calls :meth:`EmulatorServer._on_event`
  synchronously, which puts the event in each interested watcher's queue; the watcher's task
  wakes on the next loop iteration and writes one chunk. Replay-from-history and
  registration happen in one synchronous step, so a watch can neither miss nor duplicate an
  event that races with its start.
- **Real stream endings.** ``timeoutSeconds`` and "too old resource version" end the chunked
  stream cleanly (terminating chunk). Fault injection closes or resets the TCP connection
  *without* it, which is what a client sees when an API server or a load balancer dies.
- **Faults never touch the admin API** (``/_emulator/...``), so a test can always undo what
  it did, except during ``down`` where nothing listens at all (it is timed for that reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from .loading import parse_documents
from .resources import (
    SERVER_VERSION,
    Registry,
    ResourceType,
    api_group_doc,
    api_groups_doc,
    api_versions_doc,
    resource_list_doc,
)
from .selectors import FieldSelector, LabelSelector, SelectorError
from .store import (
    ApiError,
    Event,
    Predicate,
    Store,
    Version,
    bad_request,
    make_predicate,
    parse_rv,
    too_large_rv,
    watch_view,
)

log = logging.getLogger("kubeapi")

_TRUE = frozenset({"1", "t", "true", "yes"})
# The deprecated watch prefix: /api/v1/watch/... and /apis/GROUP/VERSION/watch/...
_LEGACY_WATCH = re.compile(r"^/(api/[^/]+|apis/[^/]+/[^/]+)/watch/")
JSON = "application/json"


def _is_true(value: str | None) -> bool:
    return value is not None and value.lower() in _TRUE


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None
                   ) -> web.Response:
    return web.Response(body=_dumps(obj), status=status, content_type=JSON, headers=headers)


def _raw_json_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON)


def _event_line(type_: str, rtype: ResourceType, version: Version) -> bytes:
    return b'{"type":"' + type_.encode() + b'","object":' + version.full(rtype) + b"}\n"


def _bookmark_line(rtype: ResourceType, rv: int, *, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta}
    return _dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


def _error_line(error: ApiError) -> bytes:
    return _dumps({"type": "ERROR", "object": error.status()}) + b"\n"


def _status_error(code: int, message: str | None = None) -> ApiError:
    """An ApiError for an injected HTTP status, with the reason the real server uses."""
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 422: "Invalid",
               429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
               504: "Timeout"}
    return ApiError(code, reasons.get(code, "Unknown"),
                    message or f"injected by the kubeapi emulator (HTTP {code})")


@dataclass
class Config:
    """Server settings; every field is a CLI flag of ``python -m tests.kubeapi``."""

    host: str = "127.0.0.1"
    port: int = 0
    bookmark_interval: float = 1.0  # seconds between periodic BOOKMARKs (<= 0: never)
    max_events: int = 10000  # history kept for watch-from-RV; older RVs get 410
    strict_namespaces: bool = False  # True: namespaced writes need the Namespace to exist
    state_file: str | None = None  # saved on shutdown, restored on start
    too_large_wait: float = 3.0  # how long a request for a future RV waits before 504
    access_log: bool = False


@dataclass
class Rule:
    """A fault or delay matched against requests (never against /_emulator/ paths)."""

    id: str
    path: str  # regular expression, searched in the request path
    method: str | None = None
    watch: bool | None = None  # True: only watch requests; False: only non-watch
    times: int | None = 1  # remaining uses; None: until cleared
    status: int = 500
    message: str | None = None
    action: str = "respond"  # "respond" with ``status``, or "reset" the connection
    retry_after: int | None = None
    seconds: float = 0.0  # for delays
    hits: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False)

    def matches(self, method: str, path: str, is_watch: bool) -> bool:
        if self._regex is None:
            self._regex = re.compile(self.path)
        if self.method is not None and self.method.upper() != method:
            return False
        if self.watch is not None and self.watch != is_watch:
            return False
        return self._regex.search(path) is not None

    def consume(self) -> bool:
        """Use the rule once; False when it is exhausted (and must be removed)."""
        self.hits += 1
        if self.times is not None:
            self.times -= 1
            return self.times > 0
        return True

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_regex", None)
        return data


class Watcher:
    """One open watch stream: its filter, its queue and its connection."""

    _ids = itertools.count(1)

    def __init__(self, rtype: ResourceType, path: str, query: str, predicate: Predicate,
                 bookmarks: bool, transport: asyncio.BaseTransport | None,
                 since: int | None) -> None:
        self.id = next(self._ids)
        self.rtype = rtype
        self.path = path
        self.query = query
        self.predicate = predicate
        self.bookmarks = bookmarks
        self.transport = transport
        self.since = since
        self.queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.started = time.time()
        self.events_sent = 0

    def offer(self, event: Event) -> None:
        view = watch_view(event, self.predicate)
        if view is not None:
            self.queue.put_nowait(("event", view[0], view[1]))

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "query": self.query,
                "resource": self.rtype.key, "bookmarks": self.bookmarks,
                "since": self.since, "eventsSent": self.events_sent,
                "queued": self.queue.qsize(), "ageSeconds": round(time.time() - self.started, 3)}


def _check_loopback(host: str) -> str:
    """Resolve and refuse anything but a loopback address: this server is for tests only."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"--host must be a loopback IP address, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"--host must be a loopback address (127.0.0.0/8 or ::1), not {host}")
    return host


class EmulatorServer:
    """A Kubernetes API server emulator listening on a loopback address."""

    def __init__(self, config: Config | None = None, store: Store | None = None) -> None:
        self.config = config or Config()
        self.config.host = _check_loopback(self.config.host)
        self.store = store or Store(Registry(), max_events=self.config.max_events,
                                    strict_namespaces=self.config.strict_namespaces)
        self.store.listeners.append(self._on_event)
        self.port: int = self.config.port
        self._web: web.Server | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._watchers: dict[str, set[Watcher]] = {}
        self._faults: list[Rule] = []
        self._delays: list[Rule] = []
        self._rule_ids = itertools.count(1)
        self._requests: Counter[str] = Counter()
        self._watches_started = 0
        self._up = asyncio.Event()
        self._up.set()
        self._down = False
        self._rv_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = asyncio.Event()
        self._stop_task: asyncio.Task[None] | None = None
        self._bookmark_wakeup = asyncio.Event()

    # ----------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def make_request(message: Any, payload: Any, protocol: Any, writer: Any,
                         task: Any) -> web.BaseRequest:
            # Fixture loads of 100k objects are tens of MB: lift aiohttp's 1 MiB default.
            return web.BaseRequest(message, payload, protocol, writer, task, loop,
                                   client_max_size=2**31)

        kwargs: dict[str, Any] = {}
        if not self.config.access_log:
            kwargs["access_log"] = None
        self._web = web.Server(self._handle, request_factory=make_request,
                               handler_cancellation=True, **kwargs)
        await self._listen()
        self._spawn(self._bookmark_ticker())
        log.info("kubeapi emulator serving %s", self.url)

    async def _listen(self) -> None:
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        # Reusable at once: a restarted process must get the same port back even while the
        # previous one's connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.port))
        sock.listen(512)
        sock.setblocking(False)
        self.port = self.config.port = sock.getsockname()[1]
        assert self._web is not None
        self._listener = await asyncio.get_running_loop().create_server(self._web, sock=sock)

    async def stop(self) -> None:
        """Save state (if configured), close every connection and stop listening."""
        self.save_state()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._abort_connections()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._web is not None:
            with contextlib.suppress(Exception):
                await self._web.shutdown(0.5)
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def request_stop(self) -> None:
        """Stop from a signal handler or a timer (outside any request)."""
        if self._stop_task is None:
            # Not in self._tasks: stop() cancels those, and must not cancel itself.
            self._stop_task = asyncio.get_running_loop().create_task(self.stop())

    def save_state(self, path: str | None = None) -> str | None:
        target = path or self.config.state_file
        if not target:
            return None
        tmp = f"{target}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.store.dump(), fh, separators=(",", ":"))
        os.replace(tmp, target)
        return target

    def restore_state(self) -> bool:
        path = self.config.state_file
        if not path or not os.path.exists(path):
            return False
        with open(path, encoding="utf-8") as fh:
            self.store.restore(json.load(fh))
        return True

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _abort_connections(self, keep: asyncio.BaseTransport | None = None) -> int:
        count = 0
        if self._web is None:
            return 0
        for handler in self._web.connections:
            transport = handler.transport
            if transport is not None and transport is not keep:
                transport.abort()
                count += 1
        return count

    # ----------------------------------------------------------------------------- fan-out

    def _on_event(self, event: Event) -> None:
        for watcher in self._watchers.get(event.rtype.key, ()):
            watcher.offer(event)
        if self._rv_waiters:
            ready = [w for w in self._rv_waiters if w[0] <= event.rv]
            for item in ready:
                self._rv_waiters.remove(item)
                if not item[1].done():
                    item[1].set_result(None)

    async def _wait_for_rv(self, rv: int) -> None:
        """Wait (bounded) until the store reaches ``rv``; 504 if it does not, as a real one."""
        if rv <= self.store.rv:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (rv, future)
        self._rv_waiters.append(entry)
        try:
            await asyncio.wait_for(future, self.config.too_large_wait)
        except TimeoutError:
            raise too_large_rv(rv, self.store.rv) from None
        finally:
            if entry in self._rv_waiters:
                self._rv_waiters.remove(entry)

    async def _bookmark_ticker(self) -> None:
        while True:
            interval = self.config.bookmark_interval
            if interval <= 0:
                self._bookmark_wakeup.clear()
                await self._bookmark_wakeup.wait()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._bookmark_wakeup.wait(), interval)
                self._bookmark_wakeup.clear()
                continue  # the interval changed: start a fresh period
            self.send_bookmarks()

    def _matching_watchers(self, path: str | None) -> list[Watcher]:
        regex = re.compile(path) if path else None
        return [w for ws in self._watchers.values() for w in ws
                if regex is None or regex.search(w.path)]

    def send_bookmarks(self, path: str | None = None) -> int:
        """Queue a BOOKMARK at the current RV for every watch that asked for bookmarks."""
        count = 0
        for watcher in self._matching_watchers(path):
            if watcher.bookmarks:
                watcher.queue.put_nowait(("bookmark", self.store.rv))
                count += 1
        return count

    # ----------------------------------------------------------------------------- requests

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_emulator/"):
            try:
                return await self._admin(request)
            except ApiError as exc:
                return _json_response(exc.status(), exc.code)
            except (ValueError, KeyError, TypeError) as exc:
                return _json_response(bad_request(str(exc)).status(), 400)
        is_watch = _is_true(request.query.get("watch")) or _LEGACY_WATCH.match(path) is not None
        self._requests[f"{'WATCH' if is_watch else request.method} {path}"] += 1
        if not self._up.is_set():
            await self._up.wait()
        method = request.method
        for rule in list(self._delays):
            if rule.matches(method, path, is_watch):
                if not rule.consume():
                    self._delays.remove(rule)
                await asyncio.sleep(rule.seconds)
                break
        for rule in list(self._faults):
            if rule.matches(method, path, is_watch):
                if not rule.consume():
                    self._faults.remove(rule)
                return await self._inject(request, rule)
        try:
            return await self._route(request, is_watch)
        except ApiError as exc:
            return _json_response(exc.status(), exc.code, exc.headers)

    async def _inject(self, request: web.BaseRequest, rule: Rule) -> web.StreamResponse:
        if rule.action == "reset":
            if request.transport is not None:
                request.transport.abort()
            await asyncio.sleep(30)  # cancelled as soon as aiohttp notices the lost connection
            return web.Response(status=499)
        error = _status_error(rule.status, rule.message)
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
        return _json_response(error.status(), rule.status, headers)

    async def _read_json(self, request: web.BaseRequest) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"the body of the request is not valid JSON: {exc}") from exc

    async def _route(self, request: web.BaseRequest, is_watch: bool) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"  # the client asks for "/version/"
        method = request.method
        if path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok")
        if path == "/version":
            return _json_response(SERVER_VERSION)
        segs = [s for s in path.split("/") if s]
        registry = self.store.registry
        not_found = ApiError(404, "NotFound", "the server could not find the requested resource")
        if not segs:
            return _json_response({"paths": ["/api", "/api/v1", "/apis", "/version"]})
        if segs[0] == "api":
            if len(segs) == 1:
                return _json_response(api_versions_doc())
            group, version, rest = "", segs[1], segs[2:]
        elif segs[0] == "apis":
            if len(segs) == 1:
                return _json_response(api_groups_doc(registry))
            if len(segs) == 2:
                doc = api_group_doc(registry, segs[1])
                if doc is None:
                    raise not_found
                return _json_response(doc)
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise not_found
        if not rest:
            doc = resource_list_doc(registry, group, version)
            if doc is None:
                raise not_found
            return _json_response(doc)
        if rest[0] == "watch":
            is_watch, rest = True, rest[1:]
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces" and not (
                group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise not_found
        rtype = registry.get(group, version, rest[0])
        if rtype is None or (namespace is not None and not rtype.namespaced):
            raise not_found
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in rtype.subresources:
            raise not_found
        if "dryRun" in request.query:
            raise bad_request("dryRun is not supported by the kubeapi emulator")
        if method == "GET":
            if is_watch:
                return await self._watch(request, rtype, namespace, name)
            if name is None:
                return await self._list(request, rtype, namespace)
            return _raw_json_response(self.store.get(rtype, namespace, name).full(rtype))
        scope_ok = namespace is not None or not rtype.namespaced
        if method == "POST" and name is None and scope_ok:
            body = await self._read_json(request)
            version_ = self.store.create(rtype, body, namespace)
            return _raw_json_response(version_.full(rtype), 201)
        if method == "PUT" and name is not None and scope_ok:
            body = await self._read_json(request)
            version_ = self.store.update(rtype, namespace, name, body, subresource=sub)
            return _raw_json_response(version_.full(rtype))
        if method == "PATCH" and name is not None and scope_ok:
            body = await self._read_json(request)
            content_type = request.headers.get("Content-Type", "")
            version_ = self.store.patch(rtype, namespace, name, content_type, body,
                                        subresource=sub)
            return _raw_json_response(version_.full(rtype))
        if method == "DELETE" and sub is None and scope_ok:
            body = await self._read_json(request) or {}
            if name is None:
                return self._delete_collection(request, rtype, namespace)
            return self._delete(request, rtype, namespace, name, body)
        raise ApiError(405, "MethodNotAllowed",
                       f"the server does not allow this method on the requested resource "
                       f"({method} {path})")

    def _delete(self, request: web.BaseRequest, rtype: ResourceType, namespace: str | None,
                name: str, body: dict[str, Any]) -> web.Response:
        grace_raw = request.query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
        try:
            grace = int(grace_raw) if grace_raw is not None else None
        except ValueError:
            raise bad_request(f"invalid gracePeriodSeconds: {grace_raw!r}") from None
        version_, gone = self.store.delete(rtype, namespace, name,
                                           preconditions=body.get("preconditions"),
                                           grace_period=grace)
        if not gone and grace and version_.meta.get("deletionGracePeriodSeconds"):
            uid = str(version_.meta.get("uid"))
            asyncio.get_running_loop().call_later(
                grace, self.store.finish_deletion, rtype, namespace, name, uid)
        return _raw_json_response(version_.full(rtype))

    def _selectors(self, request: web.BaseRequest, rtype: ResourceType
                   ) -> tuple[LabelSelector, FieldSelector]:
        try:
            labels = LabelSelector.parse(request.query.get("labelSelector"))
            fields = FieldSelector.parse(request.query.get("fieldSelector"),
                                         rtype.all_field_labels)
        except SelectorError as exc:
            raise bad_request(str(exc)) from exc
        return labels, fields

    def _delete_collection(self, request: web.BaseRequest, rtype: ResourceType,
                           namespace: str | None) -> web.Response:
        labels, fields = self._selectors(request, rtype)
        deleted = self.store.delete_collection(rtype, namespace, labels, fields)
        meta = _dumps({"resourceVersion": str(self.store.rv)})
        items = b",".join(v.item(rtype) for v in deleted)
        head = _dumps({"kind": rtype.list_kind, "apiVersion": rtype.api_version})[:-1]
        return _raw_json_response(head + b',"metadata":' + meta + b',"items":[' + items + b"]}")

    async def _list(self, request: web.BaseRequest, rtype: ResourceType,
                    namespace: str | None) -> web.Response:
        query = request.query
        labels, fields = self._selectors(request, rtype)
        limit_raw = query.get("limit")
        try:
            limit = int(limit_raw) if limit_raw else None
        except ValueError:
            raise bad_request(f"invalid limit: {limit_raw!r}") from None
        if limit is not None and limit <= 0:
            limit = None
        rv_match = query.get("resourceVersionMatch") or None
        if rv_match not in (None, "Exact", "NotOlderThan"):
            raise bad_request(f"resourceVersionMatch: Unsupported value: {rv_match!r}")
        resource_version = query.get("resourceVersion")
        if resource_version not in (None, "", "0") and not query.get("continue"):
            await self._wait_for_rv(parse_rv(resource_version))
        result = self.store.list(rtype, namespace, labels=labels, fields=fields, limit=limit,
                                 continue_token=query.get("continue"),
                                 resource_version=resource_version, rv_match=rv_match)
        meta: dict[str, Any] = {"resourceVersion": str(result.rv)}
        if result.continue_token:
            meta["continue"] = result.continue_token
        if result.remaining is not None:
            meta["remainingItemCount"] = result.remaining
        head = _dumps({"kind": rtype.list_kind, "apiVersion": rtype.api_version})[:-1]
        body = b"".join((head, b',"metadata":', _dumps(meta), b',"items":[',
                         b",".join([v.item(rtype) for v in result.items]), b"]}"))
        return _raw_json_response(body)

    async def _watch(self, request: web.BaseRequest, rtype: ResourceType,
                     namespace: str | None, name: str | None) -> web.StreamResponse:
        query = request.query
        labels, fields = self._selectors(request, rtype)
        bookmarks = _is_true(query.get("allowWatchBookmarks"))
        send_initial = _is_true(query.get("sendInitialEvents"))
        timeout_raw = query.get("timeoutSeconds")
        try:
            timeout = float(timeout_raw) if timeout_raw else None
        except ValueError:
            raise bad_request(f"invalid timeoutSeconds: {timeout_raw!r}") from None
        if send_initial and (not bookmarks or query.get("resourceVersionMatch") != "NotOlderThan"):
            raise bad_request("sendInitialEvents requires allowWatchBookmarks=true and "
                              "resourceVersionMatch=NotOlderThan")
        rv_param = query.get("resourceVersion")
        since: int | None = None
        if rv_param not in (None, "", "0"):
            since = parse_rv(rv_param)
            await self._wait_for_rv(since)
        if send_initial:
            since = None
        predicate = make_predicate(rtype, namespace, name, labels, fields)
        store = self.store
        # From here to registration nothing awaits: no write can slip between the
        # replay (or the synthetic ADDED events) and the live queue.
        watcher: Watcher | None = None
        if since is not None and since < store.compacted_rv:
            lines = [_error_line(ApiError(
                410, "Expired", f"too old resource version: {since} ({store.compacted_rv})"))]
        else:
            if since is None:
                lines = [_event_line("ADDED", rtype, v)
                         for v in store.current(rtype, predicate, namespace)]
            else:
                lines = []
                for event in store.replay(since, rtype):
                    view = watch_view(event, predicate)
                    if view is not None:
                        lines.append(_event_line(view[0], rtype, view[1]))
            if send_initial:
                lines.append(_bookmark_line(rtype, store.rv, initial_end=True))
            watcher = Watcher(rtype, request.path, request.query_string, predicate, bookmarks,
                              request.transport, since)
            self._watchers.setdefault(rtype.key, set()).add(watcher)
            self._watches_started += 1
        response = web.StreamResponse(status=200, headers={
            "Content-Type": JSON, "Cache-Control": "no-cache, private"})
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            if lines:
                await response.write(b"".join(lines))
            if watcher is None:
                await response.write_eof()
                return response
            if timeout is not None and timeout > 0:
                async with asyncio.timeout(timeout):
                    await self._pump(watcher, response)
            else:
                await self._pump(watcher, response)
        except TimeoutError:
            pass  # timeoutSeconds elapsed: end the stream cleanly, as the real server does
        except ConnectionError:
            return response
        finally:
            if watcher is not None:
                self._watchers.get(rtype.key, set()).discard(watcher)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    async def _pump(self, watcher: Watcher, response: web.StreamResponse) -> None:
        """Copy the watcher's queue to the stream until it is told to end."""
        rtype = watcher.rtype
        queue = watcher.queue
        while True:
            item = await queue.get()
            if not self._up.is_set():
                await self._up.wait()
            chunks: list[bytes] = []
            while True:
                kind = item[0]
                if kind == "event":
                    chunks.append(_event_line(item[1], rtype, item[2]))
                    watcher.events_sent += 1
                elif kind == "bookmark":
                    chunks.append(_bookmark_line(rtype, item[1]))
                elif kind == "raw":
                    chunks.append(item[1])
                elif kind == "end":
                    if item[1]:
                        chunks.append(item[1])
                    await response.write(b"".join(chunks))
                    return
                if queue.empty():
                    break
                item = queue.get_nowait()
            await response.write(b"".join(chunks))

    # ----------------------------------------------------------------------------- admin

    async def _admin(self, request: web.BaseRequest) -> web.StreamResponse:
        action = request.path[len("/_emulator/"):].strip("/")
        method = request.method
        body: dict[str, Any] = {}
        if method in ("POST", "PUT", "DELETE") and action != "load":
            raw = await request.read()
            body = json.loads(raw) if raw.strip() else {}
        if action == "healthz":
            return _json_response({"ok": True, "resourceVersion": self.store.rv})
        if action == "stats" and method == "GET":
            return _json_response(self.stats())
        if method == "GET":
            raise ApiError(404, "NotFound", f"no admin endpoint GET /_emulator/{action}")
        if action == "reset":
            return _json_response(self.reset(objects=bool(body.get("objects", False))))
        if action == "load":
            raw = await request.read()
            docs = parse_documents(raw, content_type=request.headers.get("Content-Type", ""))
            loaded = self.store.load(docs)
            if len(loaded) > 1000:
                gc.freeze()  # keep later collections from walking a big fixture again
            return _json_response({"loaded": len(loaded), "resourceVersion": self.store.rv})
        if action == "compact":
            rv = body.get("resourceVersion")
            compacted = self.store.compact(int(rv) if rv is not None else None)
            return _json_response({"compactedResourceVersion": compacted,
                                   "resourceVersion": self.store.rv})
        if action == "drop-watches":
            return _json_response({"dropped": self.drop_watches(body.get("path"),
                                                                body.get("mode", "close"))})
        if action == "expire-watches":
            return _json_response({"expired": self.expire_watches(body.get("path"))})
        if action == "garbage":
            line = str(body.get("line", "this is not JSON {{{"))
            return _json_response({"sent": self.send_raw(line.encode() + b"\n",
                                                         body.get("path"))})
        if action == "bookmark":
            return _json_response({"sent": self.send_bookmarks(body.get("path"))})
        if action in ("faults", "delays"):
            rules = self._faults if action == "faults" else self._delays
            if method == "DELETE":
                count = len(rules)
                rules.clear()
                return _json_response({"cleared": count})
            rule = Rule(id=f"{action[:-1]}-{next(self._rule_ids)}", path=str(body["path"]),
                        method=body.get("method"), watch=body.get("watch"),
                        times=body.get("times", 1), status=int(body.get("status", 500)),
                        message=body.get("message"), action=body.get("action", "respond"),
                        retry_after=body.get("retryAfter"),
                        seconds=float(body.get("seconds", 0.0)))
            re.compile(rule.path)
            if rule.action not in ("respond", "reset"):
                raise bad_request(f"unknown fault action {rule.action!r}")
            rules.append(rule)
            return _json_response({"id": rule.id})
        if action == "down":
            seconds = float(body["seconds"])
            self._spawn(self._go_down(seconds, request.transport))
            return _json_response({"downFor": seconds}, 202, {"Connection": "close"})
        if action == "hang":
            self._up.clear()
            seconds = body.get("seconds")
            if seconds is not None:
                asyncio.get_running_loop().call_later(float(seconds), self._up.set)
            return _json_response({"hanging": True})
        if action == "up":
            self._up.set()
            return _json_response({"hanging": False})
        if action == "save":
            path = self.save_state(body.get("path"))
            return _json_response({"path": path})
        if action == "config":
            if "bookmarkInterval" in body:
                self.config.bookmark_interval = float(body["bookmarkInterval"])
                self._bookmark_wakeup.set()
            if "maxEvents" in body:
                self.config.max_events = int(body["maxEvents"])
                self.store.set_max_events(self.config.max_events)
            if "tooLargeWait" in body:
                self.config.too_large_wait = float(body["tooLargeWait"])
            return _json_response(asdict(self.config))
        if action == "shutdown":
            asyncio.get_running_loop().call_later(0.05, self.request_stop)
            return _json_response({"stopping": True}, 202, {"Connection": "close"})
        raise ApiError(404, "NotFound", f"no admin endpoint {method} /_emulator/{action}")

    async def _go_down(self, seconds: float, keep: asyncio.BaseTransport | None) -> None:
        """Stop listening and kill every connection, then listen again on the same port."""
        await asyncio.sleep(0.01)  # let the admin answer leave first
        self._down = True
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._abort_connections(keep)
        await asyncio.sleep(seconds)
        await self._listen()
        self._down = False

    def drop_watches(self, path: str | None = None, mode: str = "close") -> int:
        """Close (FIN) or reset (RST) open watch connections, with no terminating chunk."""
        if mode not in ("close", "reset"):
            raise bad_request(f"unknown drop mode {mode!r}")
        count = 0
        for watcher in self._matching_watchers(path):
            transport = watcher.transport
            if transport is not None and not transport.is_closing():
                if mode == "reset":
                    transport.abort()
                else:
                    transport.close()
                count += 1
        return count

    def expire_watches(self, path: str | None = None) -> int:
        """Send an ERROR 410 Expired event to open watches and end them cleanly."""
        count = 0
        for watcher in self._matching_watchers(path):
            error = ApiError(410, "Expired",
                             f"too old resource version: {watcher.since or 0} ({self.store.rv})")
            watcher.queue.put_nowait(("end", _error_line(error)))
            count += 1
        return count

    def send_raw(self, line: bytes, path: str | None = None) -> int:
        count = 0
        for watcher in self._matching_watchers(path):
            watcher.queue.put_nowait(("raw", line))
            count += 1
        return count

    def reset(self, *, objects: bool = False) -> dict[str, Any]:
        """Back to a clean slate for the next test: faults, delays, counters (and objects)."""
        cleared = self.store.clear() if objects else 0
        self._faults.clear()
        self._delays.clear()
        self._requests.clear()
        self._up.set()
        return {"deletedObjects": cleared, "resourceVersion": self.store.rv}

    def stats(self) -> dict[str, Any]:
        watchers = [w.public() for ws in self._watchers.values() for w in ws]
        return {
            "resourceVersion": self.store.rv,
            "compactedResourceVersion": self.store.compacted_rv,
            "historyLength": len(self.store.events),
            "objects": {rtype.key: self.store.count(rtype) for rtype in self.store.registry},
            "openWatches": len(watchers),
            "watches": sorted(watchers, key=lambda w: w["id"]),
            "watchesStarted": self._watches_started,
            "requests": dict(self._requests),
            "faults": [r.public() for r in self._faults],
            "delays": [r.public() for r in self._delays],
            "hanging": not self._up.is_set(),
            "connections": len(self._web.connections) if self._web else 0,
            "config": asdict(self.config),
        }


class ServerThread:
    """Run an :class:`EmulatorServer` in a thread with its own event loop (in-process tests).

    The subprocess mode (``python -m tests.kubeapi``, :class:`tests.kubeapi.harness.KubeAPI`)
    is what the speaker's tests use; this is for tests that want the store at hand.
    Use :meth:`call` to touch the store: it is not thread-safe and lives in the loop thread.
    """

    def __init__(self, config: Config | None = None, documents: Iterable[Any] = ()) -> None:
        self.config = config or Config()
        self._documents = list(documents)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.server: EmulatorServer | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def __enter__(self) -> ServerThread:
        self._thread = threading.Thread(target=self._run, name="kubeapi-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError("kubeapi emulator failed to start") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        self.server = EmulatorServer(self.config)
        self.server.store.load(self._documents)
        await self.server.start()
        self._ready.set()
        await self.server.wait_stopped()

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in the server's loop thread and return its result."""
        assert self._loop is not None
        import concurrent.futures

        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(10)

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self.server is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        if self._thread is not None:
            self._thread.join(10)


__all__ = ["Config", "EmulatorServer", "Rule", "ServerThread", "Watcher"]
