"""Keeping a trimmed, current copy of one Kubernetes resource: list, then watch, forever.

One :class:`Watcher` per resource. It is plain blocking code on purpose: unit tests run it
in a real thread, ``ryu-manager`` runs it in a greenthread, where eventlet's monkey-patching
makes every socket read, ``threading.Event.wait`` and ``time.sleep`` it does cooperative.
Nothing here imports eventlet, and nothing may bind a blocking primitive at import time
(a default argument ``sleep=time.sleep`` would capture the unpatched function if this
module were imported before ``monkey_patch()`` and freeze the whole hub during a backoff).

The protocol is the API server's, as client-go's reflector speaks it:

1. **LIST**, paginated (``limit``/``continue``), so a 10k-pod cluster arrives in pages that
   the server can serve from etcd without building one huge response. The list's
   ``resourceVersion`` is the point in history the watch continues from.
2. **WATCH** from that resourceVersion, with bookmarks (so a quiet resource still advances
   our position in history, and a re-watch does not fall off the end of the server's
   window), ``timeoutSeconds`` (the server ends streams now and then, which rebalances
   watches across API servers), and the resource's selectors.
3. When a stream ends or breaks, **re-watch from the last resourceVersion seen**, in an
   event or a bookmark. No relist: a relist of every pod on every node is exactly the load
   that takes an API server down after a blip.
4. Only when the server says that position is gone (**410**: compacted) relist, and diff
   the new list against the cache. That is the only way to learn of deletions made while
   the stream was down, and the diff means the relist costs downstream nothing for the
   objects that did not change.

Everything is delivered as trimmed objects (:mod:`.objects`); the callback is not called
when the trimmed object did not change, whatever happened to the full object (status
updates, managedFields, annotations nobody reads): that is most of the API server's
traffic, and it must not reach the BGP side.

Failures (connection refused or reset, HTTP 5xx, timeouts, a line that is not JSON, an
event of unexpected shape) are logged as one warning line each, naming the resource and
what happened, then retried after an exponential, jittered, capped backoff, forever:
the speaker must outlive any API server outage without a restart.

Raw JSON, never kubernetes' model classes or its ``Watch`` helper: those build a typed
object for every event (and the typed client validates and deserialises whole lists),
which for pods costs far more than the rest of the speaker's work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import random
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import urllib3
from urllib3 import exceptions as u3

from ryu_kovn import gc_bulk

from .objects import object_key, resource_version
from .resources import Resource

logger = logging.getLogger(__name__)

OnChange = Callable[[str, Any, Any], object]

# How much of an offending line or error body goes into a log message.
_EXCERPT = 120

# Deliveries between two cooperative yields while a whole list is delivered: under eventlet
# a 10k-object sync would otherwise hold the hub (BGP keepalives, the REST API) for as long
# as 10k on_change calls take.
_YIELD_EVERY = 200


def _yield() -> None:
    """Let other greenthreads run (a no-op-ish GIL release in a real thread).

    ``time.sleep`` is looked up at call time, so it is eventlet's once monkey-patched.
    """
    time.sleep(0)


class _Gone(Exception):
    """The resourceVersion we would continue from is compacted away (HTTP or ERROR 410)."""


class _Failure(Exception):
    """An expected failure of one list or watch attempt; the message says what happened.

    ``retry_after`` carries the server's Retry-After (seconds), a lower bound for the
    backoff.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _excerpt(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = text.strip()
    return repr(text if len(text) <= _EXCERPT else text[:_EXCERPT] + "...")


class _Prefetch:
    """One call run in a thread of its own (a greenthread under ryu-manager): its
    result, or its exception raised again, when asked for."""

    def __init__(self, call: Callable[[dict[str, Any]], Any], query: dict[str, Any]) -> None:
        self._call = call
        self._query = dict(query)
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="list-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call(self._query)
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _same_apart_from_rv(old: Any, new: Any) -> bool:
    """Whether two trimmed objects are equal once their resource versions are ignored.

    The resourceVersion changes with every write to the full object; everything else in
    a trimmed object is what downstream reads, so only those fields count.
    """
    try:
        return dataclasses.replace(old, resource_version=None) == dataclasses.replace(
            new, resource_version=None)
    except TypeError:  # not a dataclass, or one without resource_version
        return bool(old == new)


class Watcher:
    """List then watch one :class:`~.resources.Resource`; call ``on_change`` per change.

    ``on_change(key, old, new)`` gets trimmed objects: ``old`` None for an object that
    appeared, ``new`` None for one that went away. It runs in the watcher's own thread (or
    greenthread), one call at a time. An exception from it is logged with the key and the
    watcher goes on; the cache keeps the new state, since the change did happen.

    ``run(stop)`` blocks until ``stop`` is set; it never raises for a failure of the API
    server, the network or the data, only retries.

    Timeouts:

    - ``watch_timeout``: asked of the server (``timeoutSeconds``, jittered up to 1.5x so
      that the speakers of a whole cluster do not re-watch in step); it then ends the
      stream cleanly and we re-watch from where we were.
    - ``read_timeout``: the longest silence accepted on a socket. On a watch, silence longer
      than that means a half-open connection or a hung server: we re-watch. It defaults to
      30 s past the longest ``timeoutSeconds`` we ask for, so it never fires on a healthy
      but quiet stream, even on servers that send no periodic bookmarks; lower it when the
      server sends bookmarks (kube-apiserver sends one about every minute).
    - ``connect_timeout``: for the TCP (and TLS) connection.
    """

    def __init__(self, api_client: Any, resource: Resource, on_change: OnChange, *,
                 page_size: int = 500, watch_timeout: float = 300.0,
                 read_timeout: float | None = None, connect_timeout: float = 10.0,
                 backoff_initial: float = 0.2, backoff_max: float = 30.0,
                 sleep: Callable[[float], object] | None = None,
                 log: logging.Logger = logger) -> None:
        self.api_client = api_client
        self.resource = resource
        self.on_change = on_change
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.read_timeout = (read_timeout if read_timeout is not None
                             else watch_timeout * 1.5 + 30.0)
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        # None: wait on the stop event, so that stop() interrupts a backoff at once.
        self._sleep = sleep
        self.log = log
        self._cache: dict[str, Any] = {}
        self._cache_view: Mapping[str, Any] = MappingProxyType(self._cache)
        self.synced_event = threading.Event()
        self.stats: dict[str, Any] = {
            "lists": 0,  # complete lists (the first one included)
            "relists": 0,  # complete lists after the first (each one follows a 410)
            "watches": 0,  # watch requests answered with 200
            "restarts": 0,  # watch requests after the first, from the last resourceVersion
            "events": 0,  # ADDED/MODIFIED/DELETED events applied
            "bookmarks": 0,
            "changes": 0,  # on_change calls
            "callback_errors": 0,
            "errors": 0,  # failed attempts (each one logged as a warning)
            "last_resource_version": None,
        }
        self._rv: str | None = None  # where the next watch continues; None: must list
        self._failures = 0  # consecutive failed attempts, for the backoff
        self._gone_in_a_row = 0
        self._stop = threading.Event()
        self._response: Any = None  # the open watch response, for interrupt()

    # ------------------------------------------------------------------------- public

    @property
    def synced(self) -> bool:
        """True once the first complete list has been delivered to ``on_change``."""
        return self.synced_event.is_set()

    @property
    def cache(self) -> Mapping[str, Any]:
        """key -> trimmed object, as last delivered (read-only, live).

        Mutated by the watcher's thread; from another real thread, copy it (``dict(...)``)
        rather than iterate it. Under eventlet nothing runs concurrently with a greenthread
        between two cooperative yields, so iteration is safe there.
        """
        return self._cache_view

    @property
    def resource_version(self) -> str | None:
        """Where the next watch would continue (None before the first list)."""
        return self._rv

    def run(self, stop: threading.Event) -> None:
        """List, watch, re-watch, relist on 410, back off on errors, until ``stop`` is set."""
        self._stop = stop
        while not stop.is_set():
            try:
                if self._rv is None:
                    self._list()
                else:
                    self._watch()
            except _Gone as exc:
                if stop.is_set():
                    break
                self._relist_after_gone(str(exc))
            except _Failure as exc:
                if stop.is_set():
                    break
                self._failed(str(exc), exc.retry_after)
            except Exception as exc:  # a bug, or a failure we did not foresee: never die
                if stop.is_set():
                    break
                self.log.exception("kubernetes %s: unexpected error: %s", self.resource, exc)
                self._failed(f"unexpected {type(exc).__name__}: {exc}", None, logged=True)
        self.log.debug("kubernetes %s: watcher stopped at resourceVersion %s",
                       self.resource, self._rv)

    def interrupt(self) -> None:
        """Make a watch blocked in a socket read return now (call after setting ``stop``).

        A healthy but quiet watch only returns at the next event, bookmark or
        ``timeoutSeconds``; shutting the socket down lets a stop take effect at once. Safe
        from any thread (or greenthread).
        """
        response = self._response
        if response is None:
            return
        with contextlib.suppress(Exception):
            if hasattr(response, "shutdown"):  # urllib3 >= 2.3, meant for exactly this
                response.shutdown()
                return
        with contextlib.suppress(Exception):
            response.connection.sock.shutdown(socket.SHUT_RDWR)

    # ------------------------------------------------------------------------- HTTP

    def _request(self, query: dict[str, Any], *, watch: bool) -> Any:
        """One GET on the resource's path; the unread urllib3 response (status 200).

        Straight on the client's urllib3 pool, which carries the TLS and proxy settings of
        the configuration, with ``retries=False``: every failure comes back to us to be
        counted, logged once and backed off (urllib3's own silent retries would hide an
        outage and pile up on a struggling server). Credentials are read per request, so an
        in-cluster token that rotates (or an exec plugin's) is refreshed by the client's
        hook.
        """
        configuration = self.api_client.configuration
        headers = dict(getattr(self.api_client, "default_headers", {}) or {})
        headers["Accept"] = "application/json"
        for auth in configuration.auth_settings().values():
            if auth.get("in") == "header" and auth.get("value"):
                headers[auth["key"]] = auth["value"]
        params = {**query, **self.resource.selectors()}
        url = (configuration.host.rstrip("/") + self.resource.path() + "?"
               + urllib.parse.urlencode(params))
        verb = "watch" if watch else "list"
        try:
            response = self.api_client.rest_client.pool_manager.request(
                "GET", url, headers=headers, preload_content=False, retries=False,
                redirect=False,
                timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout))
        except u3.HTTPError as exc:
            raise _Failure(f"{verb} request failed: {_describe_urllib3(exc)}") from None
        except OSError as exc:
            raise _Failure(f"{verb} request failed: {exc}") from None
        if response.status == 200:
            return response
        self._raise_for_status(response, verb)
        return None  # not reached

    def _raise_for_status(self, response: Any, verb: str) -> None:
        """Turn a non-200 answer into :class:`_Gone` (410) or :class:`_Failure`."""
        try:
            body = response.read(65536)
        except Exception:
            body = b""
        finally:
            response.close()
            response.release_conn()
        reason = message = ""
        try:
            status = json.loads(body)
            if isinstance(status, dict):
                reason = str(status.get("reason") or "")
                message = str(status.get("message") or "")
        except ValueError:
            message = _excerpt(body) if body else ""
        code = response.status
        what = f"HTTP {code}{' ' + reason if reason else ''}"
        if message:
            what += f": {message}"
        if code == 410:
            raise _Gone(f"{verb} answered {what}")
        retry_after: float | None = None
        with contextlib.suppress(TypeError, ValueError):
            retry_after = float(response.headers.get("Retry-After"))
        raise _Failure(f"{verb} answered {what}", retry_after)

    # ------------------------------------------------------------------------- LIST

    def _fetch_list(self) -> tuple[dict[str, Any], str]:
        """Every object (trimmed, by key) and the list's resourceVersion, page by page.

        Each page is trimmed as it arrives, so at most two pages of raw JSON are alive at a
        time (the next one is fetched meanwhile). A continue token that expired between
        pages (410: the list took longer than the server keeps history) falls back to one
        unpaginated list, as client-go does: a consistent snapshot is needed, and paging
        again could expire again.
        """
        fresh: dict[str, Any] = {}
        trim = self.resource.trim
        query: dict[str, Any] = {"limit": self.page_size} if self.page_size > 0 else {}
        # Until the first list is complete, objects not cached yet are delivered page
        # by page: routes start while the later pages are still coming.  Changes and
        # disappearances wait for the complete list (_sync), as on every relist.
        early = not self.synced_event.is_set()
        ahead: _Prefetch | None = None  # the next page, requested before this one is read
        while True:
            if self._stop.is_set():
                raise _Failure("stopped while listing")  # run() returns on stop
            try:
                page = ahead.result() if ahead is not None else self._list_page(query)
            except _Gone:
                if "continue" not in query:
                    raise
                self.log.info("kubernetes %s: list continue token expired; listing again "
                              "without pagination", self.resource)
                fresh.clear()
                query = {}
                ahead = None
                continue
            items = page.get("items")
            meta = page.get("metadata")
            if not isinstance(items, list) or not isinstance(meta, dict):
                raise _Failure(f"list answered a document of unexpected shape "
                               f"(keys {sorted(page)[:8]})")
            token = meta.get("continue")
            if token:
                # The server prepares the next page while this one is trimmed and
                # delivered: 200 round trips for 100k pods, otherwise waited out one by one.
                query = {"limit": self.page_size, "continue": token}
                ahead = _Prefetch(self._list_page, query)
            page_objects = [(object_key(raw), trim(raw)) for raw in items if isinstance(raw, dict)]
            del page, items
            fresh.update(page_objects)
            if early:
                self._deliver_new(page_objects)
            if not token:
                rv = meta.get("resourceVersion")
                if not isinstance(rv, str) or not rv:
                    raise _Failure("list answered without a resourceVersion")
                return fresh, rv

    def _deliver_new(self, objects: list[tuple[str, Any]]) -> None:
        cache = self._cache
        for key, new in objects:
            if key not in cache:
                cache[key] = new
                self._deliver(key, None, new)
        _yield()

    def _list_page(self, query: dict[str, Any]) -> dict[str, Any]:
        response = self._request(query, watch=False)
        try:
            data = response.read()
        except u3.HTTPError as exc:
            response.close()
            raise _Failure(f"list response broke: {_describe_urllib3(exc)}") from None
        finally:
            response.release_conn()
        try:
            page = json.loads(data)
        except ValueError as exc:
            raise _Failure(f"list answered something that is not JSON ({exc}): "
                           f"{_excerpt(data)}") from None
        if not isinstance(page, dict):
            raise _Failure(f"list answered a JSON {type(page).__name__}, not an object")
        return page

    def _list(self) -> None:
        """List, diff against the cache, deliver, and continue from the list's version."""
        first = not self.synced_event.is_set()
        with gc_bulk.bulk():  # every listed object may live as long as the process
            fresh, rv = self._fetch_list()
            if self._stop.is_set():
                return
            self._recovered()
            self._sync(fresh)
        self.stats["lists"] += 1
        if not first:
            self.stats["relists"] += 1
        self._set_rv(rv)
        self.log.info("kubernetes %s: %s %d objects at resourceVersion %s", self.resource,
                      "listed" if first else "relisted", len(fresh), rv)
        if first:
            self.synced_event.set()

    def _sync(self, fresh: dict[str, Any]) -> None:
        """Make the cache equal to a complete list, delivering only what differs.

        Appearances and changes go first, disappearances last: when an address moves from
        one object to another (a pod recreated under a new name while we were away), the
        new owner is announced before the old one is withdrawn, so the route does not flap.
        """
        cache = self._cache
        for count, (key, new) in enumerate(fresh.items(), 1):
            old = cache.get(key)
            if old is new:
                continue  # delivered as its page came in
            cache[key] = new
            if old is None or not _same_apart_from_rv(old, new):
                self._deliver(key, old, new)
            if count % _YIELD_EVERY == 0:
                _yield()
        for key in [k for k in cache if k not in fresh]:
            self._deliver(key, cache.pop(key), None)

    def _relist_after_gone(self, why: str) -> None:
        """410: our position in history is gone; relist (immediately, the first time).

        A second 410 with no progress in between (the server compacts faster than we can
        list and watch) is treated as a failure, with backoff, rather than a relist loop.
        """
        self._rv = None
        self._gone_in_a_row += 1
        if self._gone_in_a_row > 1:
            self._failed(f"{why} again right after a relist", None)
        else:
            self.log.info("kubernetes %s: %s; relisting", self.resource, why)

    # ------------------------------------------------------------------------- WATCH

    def _watch(self) -> None:
        """One watch stream from ``self._rv``, until it ends, breaks or ``stop``."""
        rv = self._rv
        timeout = max(1, int(self.watch_timeout * random.uniform(1.0, 1.5)))
        query = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true",
                 "timeoutSeconds": timeout}
        response = self._request(query, watch=True)
        self.stats["watches"] += 1
        if self.stats["watches"] > 1:
            self.stats["restarts"] += 1
        self._response = response
        clean = False
        lines = 0
        started = time.monotonic()
        try:
            if self._stop.is_set():  # stopped while the request was in flight: interrupt()
                return  # found no response to shut down, so it is up to us
            for line in _lines(response):
                lines += 1
                self._handle_line(line)
                if self._stop.is_set():
                    return
            clean = True
        except (u3.ReadTimeoutError, TimeoutError):
            raise _Failure(f"watch from resourceVersion {self._rv}: nothing received for "
                           f"{self.read_timeout:g}s (half-open connection or hung "
                           f"server)") from None
        except u3.HTTPError as exc:
            raise _Failure(f"watch from resourceVersion {self._rv} broke: "
                           f"{_describe_urllib3(exc)}") from None
        except OSError as exc:
            raise _Failure(f"watch from resourceVersion {self._rv} broke: {exc}") from None
        finally:
            self._response = None
            if clean:
                response.release_conn()  # fully read: the connection can be reused
            else:
                response.close()  # unread data may follow: never reuse this connection
                response.release_conn()
        elapsed = time.monotonic() - started
        if lines == 0 and elapsed < 1.0:
            # A server that ends every watch at once would otherwise be hammered.
            raise _Failure(f"watch from resourceVersion {rv} ended at once with no event")
        self.log.debug("kubernetes %s: watch ended after %.1fs and %d lines; re-watching "
                       "from resourceVersion %s", self.resource, elapsed, lines, self._rv)

    def _handle_line(self, line: bytes) -> None:
        """Parse one event (once) and apply it; work proportional to that one object."""
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise _Failure(f"watch sent a line that is not JSON ({exc}): "
                           f"{_excerpt(line)}") from None
        kind = event.get("type") if isinstance(event, dict) else None
        obj = event.get("object") if isinstance(event, dict) else None
        if not isinstance(kind, str) or not isinstance(obj, dict):
            raise _Failure(f"watch sent an event of unexpected shape: {_excerpt(line)}")
        if kind == "BOOKMARK":
            rv = resource_version(obj)
            if rv:
                self._set_rv(rv)
            self.stats["bookmarks"] += 1
            self._progress()
            return
        if kind == "ERROR":
            code = obj.get("code")
            what = (f"{code} {obj.get('reason') or ''}: {obj.get('message') or ''}"
                    .replace(" :", ":"))
            if code == 410:
                raise _Gone(f"watch from resourceVersion {self._rv} answered ERROR {what}")
            raise _Failure(f"watch from resourceVersion {self._rv} answered ERROR {what}")
        rv = resource_version(obj)
        if kind not in ("ADDED", "MODIFIED", "DELETED") or not rv:
            raise _Failure(f"watch sent an event of unexpected shape (type {kind!r}, "
                           f"resourceVersion {rv!r}): {_excerpt(line)}")
        key = object_key(obj)
        self.stats["events"] += 1
        if kind == "DELETED":
            old = self._cache.pop(key, None)
            if old is not None:
                self._deliver(key, old, None)
        else:
            new = self.resource.trim(obj)
            old = self._cache.get(key)
            self._cache[key] = new
            if old is None or not _same_apart_from_rv(old, new):
                self._deliver(key, old, new)
        self._set_rv(rv)
        self._progress()

    # ------------------------------------------------------------------------- helpers

    def _deliver(self, key: str, old: Any, new: Any) -> None:
        self.stats["changes"] += 1
        try:
            self.on_change(key, old, new)
        except Exception:
            self.stats["callback_errors"] += 1
            change = "added" if old is None else "deleted" if new is None else "modified"
            self.log.exception("kubernetes %s: on_change failed for %s (%s); the watcher "
                               "goes on", self.resource, key, change)

    def _set_rv(self, rv: str) -> None:
        self._rv = rv
        self.stats["last_resource_version"] = rv

    def _progress(self) -> None:
        """The stream delivered something valid: the server works, reset the backoff."""
        self._gone_in_a_row = 0
        self._recovered()

    def _recovered(self) -> None:
        if self._failures > 1:  # one failure and its retry tell their own story
            self.log.info("kubernetes %s: API server answering again after %d failed "
                          "attempts", self.resource, self._failures)
        self._failures = 0

    def _failed(self, what: str, retry_after: float | None, *, logged: bool = False) -> None:
        """Count, log one warning, and wait out the backoff (interrupted by ``stop``)."""
        self._failures += 1
        self.stats["errors"] += 1
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (self._failures - 1))
        delay = ceiling * random.uniform(0.5, 1.0)  # jitter: no stampede of speakers
        if retry_after:
            delay = max(delay, min(retry_after, self.backoff_max))
        if not logged:
            then = (f"re-watching from resourceVersion {self._rv}" if self._rv is not None
                    else "listing again")
            self.log.warning("kubernetes %s: %s; %s in %.2fs (consecutive failures: %d)",
                             self.resource, what, then, delay, self._failures)
        if self._sleep is None:
            self._stop.wait(delay)
        else:
            self._sleep(delay)


def _describe_urllib3(exc: Exception) -> str:
    """urllib3's errors say the useful part in ``reason`` (refused, reset, timed out)."""
    reason = getattr(exc, "reason", None)
    text = str(reason) if reason is not None else str(exc)
    return text or type(exc).__name__


def _chunks(response: Any) -> Iterator[bytes]:
    """The body as it arrives: one HTTP chunk at a time, never waiting for a fixed size.

    A watch is served chunked; ``read_chunked`` yields each chunk as soon as it is complete.
    Without chunked encoding (a proxy that buffers, HTTP/1.0) ``read1`` returns what the
    socket has, instead of blocking until some byte count is reached.
    """
    if getattr(response, "chunked", False) and response.supports_chunked_reads():
        yield from response.read_chunked(None, decode_content=True)
        return
    read1 = getattr(response, "read1", None)
    if read1 is None:  # urllib3 < 2
        yield from response.stream(None, decode_content=True)
        return
    while True:
        data = read1(65536)
        if not data:
            return
        yield data


def _lines(response: Any) -> Iterator[bytes]:
    """Complete lines of a watch stream (one event each), in linear time.

    Lines can be megabytes (a pod with large annotations) spread over many chunks; pieces
    are collected in a list and joined once, never concatenated chunk by chunk.
    """
    pending: list[bytes] = []
    for chunk in _chunks(response):
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                if start < len(chunk):
                    pending.append(chunk[start:])
                break
            piece = chunk[start:end]
            start = end + 1
            if pending:
                pending.append(piece)
                piece = b"".join(pending)
                pending = []
            if piece.strip():
                yield piece
    if pending:
        rest = b"".join(pending)
        if rest.strip():
            yield rest


__all__ = ["OnChange", "Watcher"]
