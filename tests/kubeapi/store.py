"""The emulator's storage: objects, one global resourceVersion, and a bounded event history.

It plays the part etcd and the registry strategies play for kube-apiserver, synchronously and
in memory, with no I/O and no event loop, so that every semantic can be reasoned about (and
unit-tested) on its own:

- one revision counter for every write of every resource, as etcd's, so a resourceVersion
  from one resource is comparable with any other and a list's RV is "now";
- every write appends an event ``(rv, type, key, new, old)`` to a history that is bounded
  (``max_events``) and can be compacted on demand. ``compacted_rv`` is the highest revision
  no longer kept: a watch or an Exact list from an RV below it is 410 Gone, as on a real
  server. Keeping ``old`` lets a watch with a selector turn "stopped matching" into DELETED
  and lets a list be served *as of* an older revision (paginated lists stay consistent);
- writes follow the registry strategies a client can observe: status subresource isolation,
  generation bumps on spec changes only, no-op updates that write nothing, optimistic
  concurrency on resourceVersion, finalizers and graceful pod deletion, namespace cascade.

Every stored object version is immutable once committed: its dict is shared by the current
table, the history and the watchers, and its JSON body is serialised once at commit time so
that listing 100k objects is a byte join, not 100k ``json.dumps`` calls.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import gc
import json
import random
import re
import secrets
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .patches import PatchError, json_patch, merge_patch
from .resources import NAMESPACES, PODS, SERVICES, Registry, ResourceType
from .selectors import FieldSelector, LabelSelector

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class ApiError(Exception):
    """An error answered as a ``kind: Status`` body with the real server's code and reason."""

    def __init__(self, code: int, reason: str, message: str, *,
                 details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        }
        if self.details:
            doc["details"] = self.details
        return doc


def _details(rtype: ResourceType, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": rtype.plural}
    if rtype.group:
        details["group"] = rtype.group
    return details


def _qualified(rtype: ResourceType) -> str:
    return f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(rtype)} "{name}" not found',
                    details=_details(rtype, name))


def conflict(rtype: ResourceType, name: str, why: str) -> ApiError:
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {_qualified(rtype)} "{name}": {why}',
                    details=_details(rtype, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(rtype: ResourceType, name: str, message: str) -> ApiError:
    return ApiError(422, "Invalid", f'{rtype.kind} "{name}" is invalid: {message}',
                    details=_details(rtype, name))


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_large_rv(requested: int, current: int) -> ApiError:
    """What kube-apiserver answers when asked for a revision it has not reached yet."""
    return ApiError(
        504, "Timeout",
        f"Too large resource version: {requested}, current: {current}",
        details={"causes": [{"reason": "ResourceVersionTooLarge",
                             "message": "Too large resource version"}],
                 "retryAfterSeconds": 1},
    )


_clock: list[Any] = [0, ""]  # the last second formatted, and its text


def now_rfc3339(offset_seconds: float = 0.0) -> str:
    """The time as Kubernetes writes it (seconds precision, UTC); cached per second."""
    now = int(time.time() + offset_seconds)
    if now != _clock[0]:
        moment = datetime.datetime.fromtimestamp(now, datetime.UTC)
        _clock[0], _clock[1] = now, moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(_clock[1])


def new_uid() -> str:
    """A random (version 4) UID; not cryptographic, and ten times cheaper than uuid4()."""
    h = f"{random.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _dumps(obj: Any) -> bytes:
    return _ENCODER.encode(obj).encode()


class Version:
    """One committed, immutable version of an object.

    ``body`` is the JSON of the object *without* ``kind``/``apiVersion``: built-in list
    items are served that way by the real server, and the full form is a cheap prefix join.
    """

    __slots__ = ("body", "obj", "rv")

    def __init__(self, obj: dict[str, Any], rv: int) -> None:
        self.obj = obj
        self.rv = rv
        self.body = _dumps({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})

    @property
    def meta(self) -> dict[str, Any]:
        return self.obj.get("metadata") or {}

    def full(self, rtype: ResourceType) -> bytes:
        """The JSON of the object with kind and apiVersion first, as GET and watch send it."""
        return _prefix(rtype) + self.body[1:]

    def item(self, rtype: ResourceType) -> bytes:
        """The JSON of the object as an item of a list response."""
        return self.body if rtype.is_core else self.full(rtype)


_PREFIXES: dict[str, bytes] = {}


def _prefix(rtype: ResourceType) -> bytes:
    prefix = _PREFIXES.get(rtype.key)
    if prefix is None:
        prefix = _dumps({"kind": rtype.kind, "apiVersion": rtype.api_version})[:-1] + b","
        _PREFIXES[rtype.key] = prefix
    return prefix


class Event:
    """One write, as kept in the history and fanned out to watchers."""

    __slots__ = ("key", "new", "old", "rtype", "rv", "type")

    def __init__(self, rv: int, type_: str, rtype: ResourceType, key: str,
                 new: Version, old: Version | None) -> None:
        self.rv = rv
        self.type = type_
        self.rtype = rtype
        self.key = key
        self.new = new  # for DELETED: the last state, carrying the deletion's RV
        self.old = old  # None for ADDED


Predicate = Callable[[Version], bool]


def watch_view(event: Event, matches: Predicate) -> tuple[str, Version] | None:
    """What a watcher whose filter is ``matches`` must see for ``event``, if anything.

    The real server compares the old and new versions against the watch's selectors: an
    object that stops matching is DELETED for that watcher, one that starts matching is
    ADDED, and in both cases the object sent is the new version.
    """
    if event.type == ADDED:
        return (ADDED, event.new) if matches(event.new) else None
    if event.type == DELETED:
        return (DELETED, event.new) if matches(event.new) else None
    now = matches(event.new)
    before = event.old is not None and matches(event.old)
    if now and before:
        return MODIFIED, event.new
    if now:
        return ADDED, event.new
    if before:
        return DELETED, event.new
    return None


def object_key(rtype: ResourceType, namespace: str | None, name: str) -> str:
    """The storage key; sorted like etcd keys, so pagination order matches a real server."""
    return f"{namespace}/{name}" if rtype.namespaced else name


@dataclass
class ListResult:
    items: list[Version]
    rv: int
    continue_token: str | None
    remaining: int | None


def make_predicate(rtype: ResourceType, namespace: str | None, name: str | None,
                   labels: LabelSelector, fields: FieldSelector) -> Predicate:
    """A filter over versions for a list or watch request."""
    value_of = rtype.field_value

    def matches(version: Version) -> bool:
        meta = version.meta
        if namespace is not None and meta.get("namespace") != namespace:
            return False
        if name is not None and meta.get("name") != name:
            return False
        if not labels.empty and not labels.matches(version.obj):
            return False
        return fields.empty or fields.matches(version.obj, value_of)

    return matches


def _omit_empty(meta: dict[str, Any]) -> None:
    """Drop empty maps/lists from metadata, as Go's ``omitempty`` does on a real server.

    Removing the last annotation with a merge patch leaves no ``annotations`` key at all.
    """
    for key in ("labels", "annotations", "finalizers", "ownerReferences", "managedFields"):
        if key in meta and not meta[key]:
            del meta[key]


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


class Store:
    """Objects of every served resource type, the revision counter and the history."""

    def __init__(self, registry: Registry | None = None, *, max_events: int = 10000,
                 strict_namespaces: bool = False) -> None:
        self.registry = registry or Registry()
        self.max_events = max_events
        self.strict_namespaces = strict_namespaces
        self.rv = 0
        self.compacted_rv = 0
        self.events: deque[Event] = deque()
        self.crds: list[dict[str, Any]] = []
        self._objects: dict[str, dict[str, Version]] = {}
        self._sorted: dict[str, list[str] | None] = {}
        self.listeners: list[Callable[[Event], None]] = []

    # ----------------------------------------------------------------------------- reading

    def table(self, rtype: ResourceType) -> dict[str, Version]:
        return self._objects.setdefault(rtype.key, {})

    def count(self, rtype: ResourceType) -> int:
        return len(self._objects.get(rtype.key, {}))

    def sorted_keys(self, rtype: ResourceType) -> list[str]:
        keys = self._sorted.get(rtype.key)
        if keys is None:
            keys = sorted(self.table(rtype))
            self._sorted[rtype.key] = keys
        return keys

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> Version:
        version = self.table(rtype).get(object_key(rtype, namespace, name))
        if version is None:
            raise not_found(rtype, name)
        return version

    def current(self, rtype: ResourceType, predicate: Predicate,
                namespace: str | None = None) -> list[Version]:
        """Every current object passing ``predicate``, in key order (for synthetic ADDED)."""
        table = self.table(rtype)
        return [table[k] for k in self._key_range(self.sorted_keys(rtype), rtype, namespace)
                if predicate(table[k])]

    def replay(self, since: int, rtype: ResourceType) -> list[Event]:
        """Events of ``rtype`` after revision ``since`` (caller checked it is not compacted)."""
        out: list[Event] = []
        for event in reversed(self.events):
            if event.rv <= since:
                break
            if event.rtype is rtype:
                out.append(event)
        out.reverse()
        return out

    def snapshot(self, rtype: ResourceType, rv: int) -> dict[str, Version]:
        """The objects of ``rtype`` as they were at revision ``rv``, undoing later events."""
        if rv < self.compacted_rv:
            raise expired(f"too old resource version: {rv} ({self.compacted_rv})")
        state = dict(self.table(rtype))
        for event in reversed(self.events):
            if event.rv <= rv:
                break
            if event.rtype is not rtype:
                continue
            if event.type == ADDED:
                state.pop(event.key, None)
            elif event.old is not None:
                state[event.key] = event.old
        return state

    @staticmethod
    def _key_range(keys: list[str], rtype: ResourceType, namespace: str | None,
                   start: str | None = None) -> Iterator[str]:
        lo, hi = 0, len(keys)
        if namespace is not None and rtype.namespaced:
            lo = bisect_left(keys, f"{namespace}/")
            hi = bisect_left(keys, f"{namespace}0")  # "0" sorts right after "/"
        if start is not None:
            lo = max(lo, bisect_left(keys, start))
        for i in range(lo, hi):
            yield keys[i]

    def list(self, rtype: ResourceType, namespace: str | None, *,
             labels: LabelSelector | None = None, fields: FieldSelector | None = None,
             limit: int | None = None, continue_token: str | None = None,
             resource_version: str | None = None, rv_match: str | None = None) -> ListResult:
        """A list as kube-apiserver serves it: consistent at one revision, paginated by key."""
        labels = labels or LabelSelector()
        fields = fields or FieldSelector()
        start: str | None = None
        at: int | None = None
        if continue_token:
            at, start = self._decode_continue(continue_token)
            if at < self.compacted_rv:
                raise expired(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use "
                    "the continue token in this response to retrieve the remainder of the "
                    "results. Continuing with the provided token results in an inconsistent "
                    "list - objects that were created, modified, or deleted between the time "
                    "the first chunk was returned and now may show up in the list."
                )
        elif resource_version not in (None, "", "0"):
            requested = parse_rv(resource_version)
            if requested > self.rv:
                raise too_large_rv(requested, self.rv)
            if rv_match == "Exact":
                if requested < self.compacted_rv:
                    raise expired("The resourceVersion for the provided list is too old.")
                at = requested
        elif rv_match == "Exact":
            raise bad_request("resourceVersionMatch: Exact requires a non-zero resourceVersion")
        if at is None or at == self.rv:
            at = self.rv
            table = self.table(rtype)
            keys = self.sorted_keys(rtype)
        else:
            table = self.snapshot(rtype, at)
            keys = sorted(table)
        predicate = make_predicate(rtype, namespace, None, labels, fields)
        filtered = not labels.empty or not fields.empty
        items: list[Version] = []
        last_key: str | None = None
        more = False
        key_iter = self._key_range(keys, rtype, namespace, start)
        for key in key_iter:
            version = table[key]
            if not filtered or predicate(version):
                if limit is not None and len(items) >= limit:
                    more = True
                    break
                items.append(version)
                last_key = key
        token = None
        remaining = None
        if more and last_key is not None:
            token = self._encode_continue(at, last_key + "\x00")
            if not filtered:
                remaining = 1 + sum(1 for _ in key_iter)
        return ListResult(items, at, token, remaining)

    @staticmethod
    def _encode_continue(rv: int, start: str) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start},
                         separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @staticmethod
    def _decode_continue(token: str) -> tuple[int, str]:
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
            return int(data["rv"]), str(data["start"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise bad_request(f"continue key is not valid: {exc}") from exc

    # ----------------------------------------------------------------------------- writing

    def _commit(self, rtype: ResourceType, key: str, type_: str,
                obj: dict[str, Any], old: Version | None) -> Version:
        """Assign the next revision, store or remove the object, record and fan out."""
        self.rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self.rv)
        version = Version(obj, self.rv)
        table = self.table(rtype)
        if type_ == DELETED:
            del table[key]
            self._sorted[rtype.key] = None
        else:
            if key not in table:
                self._sorted[rtype.key] = None
            table[key] = version
        event = Event(self.rv, type_, rtype, key, version, old)
        self.events.append(event)
        if len(self.events) > self.max_events:
            self._trim(len(self.events) - self.max_events)
        for listener in self.listeners:
            listener(event)
        return version

    def _trim(self, count: int) -> None:
        for _ in range(count):
            dropped = self.events.popleft()
            self.compacted_rv = max(self.compacted_rv, dropped.rv)

    def compact(self, rv: int | None = None) -> int:
        """Forget history up to ``rv`` (default: everything); returns the new compacted RV.

        After this, a watch or Exact list from an RV below the returned value is 410 Gone,
        exactly as after an etcd compaction.
        """
        target = self.rv if rv is None else min(rv, self.rv)
        while self.events and self.events[0].rv <= target:
            self.events.popleft()
        self.compacted_rv = max(self.compacted_rv, target)
        return self.compacted_rv

    def set_max_events(self, max_events: int) -> None:
        self.max_events = max(0, max_events)
        if len(self.events) > self.max_events:
            self._trim(len(self.events) - self.max_events)

    def ensure_namespace(self, namespace: str) -> None:
        if object_key(NAMESPACES, None, namespace) in self.table(NAMESPACES):
            return
        if self.strict_namespaces:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                           details={"name": namespace, "kind": "namespaces"})
        self.create(NAMESPACES, {"metadata": {"name": namespace},
                                 "status": {"phase": "Active"}}, keep_status=True)

    def create(self, rtype: ResourceType, obj: dict[str, Any], namespace: str | None = None,
               *, keep_status: bool = False) -> Version:
        """POST semantics. ``keep_status`` is for fixtures: the status is stored as given."""
        if not isinstance(obj, dict):
            raise bad_request("the body of the request is not a JSON object")
        self._check_type(rtype, obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        meta = dict(meta)
        obj = dict(obj)
        obj["metadata"] = meta
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
        name = meta.get("name")
        if not name:
            raise invalid(rtype, "", "metadata.name: Required value: name or generateName "
                                     "is required")
        name_re = _LABEL_NAME_RE if rtype is NAMESPACES else _NAME_RE
        if not isinstance(name, str) or len(name) > 253 or not name_re.match(name):
            raise invalid(rtype, str(name), f"metadata.name: Invalid value: {name!r}: a "
                                            "lowercase RFC 1123 subdomain must consist of "
                                            "lower case alphanumeric characters, '-' or '.'")
        if rtype.namespaced:
            ns = meta.get("namespace")
            if namespace and ns and ns != namespace:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            ns = namespace or ns or "default"
            meta["namespace"] = ns
        else:
            ns = None
            meta.pop("namespace", None)
        key = object_key(rtype, ns, name)
        if key in self.table(rtype):
            raise ApiError(409, "AlreadyExists", f'{_qualified(rtype)} "{name}" already exists',
                           details=_details(rtype, name))
        if ns is not None:
            self.ensure_namespace(ns)
        if not keep_status and meta.get("resourceVersion"):
            raise ApiError(500, "InternalError",
                           "resourceVersion should not be set on objects to be created")
        obj["kind"] = rtype.kind
        obj["apiVersion"] = rtype.api_version
        obj = {"kind": obj.pop("kind"), "apiVersion": obj.pop("apiVersion"),
               "metadata": obj.pop("metadata"), **obj}
        meta.setdefault("uid", new_uid())
        meta.setdefault("creationTimestamp", now_rfc3339())
        meta.setdefault("generation", 1)
        if not keep_status:
            for drop in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(drop, None)
            meta["uid"] = new_uid()
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            if rtype.has_status:
                obj.pop("status", None)
                default_status = _DEFAULT_STATUS.get(rtype.key)
                if default_status is not None:
                    obj["status"] = copy.deepcopy(default_status)
        _omit_empty(meta)
        self._default(rtype, obj)
        return self._commit(rtype, key, ADDED, obj, None)

    @staticmethod
    def _check_type(rtype: ResourceType, obj: dict[str, Any]) -> None:
        api_version = obj.get("apiVersion")
        if api_version and api_version != rtype.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the "
                              f"expected API version ({rtype.api_version})")
        kind = obj.get("kind")
        if kind and kind != rtype.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected "
                              f"kind ({rtype.kind})")

    @staticmethod
    def _default(rtype: ResourceType, obj: dict[str, Any]) -> None:
        """The little defaulting a reader can observe: Service clusterIPs from clusterIP."""
        if rtype is SERVICES:
            spec = obj.get("spec")
            if isinstance(spec, dict) and spec.get("clusterIP") and not spec.get("clusterIPs"):
                obj["spec"] = {**spec, "clusterIPs": [spec["clusterIP"]]}

    def update(self, rtype: ResourceType, namespace: str | None, name: str,
               obj: dict[str, Any], *, subresource: str | None = None,
               check_rv: bool = True) -> Version:
        """PUT semantics, for the object or its ``status`` subresource."""
        if not isinstance(obj, dict):
            raise bad_request("the body of the request is not a JSON object")
        self._check_type(rtype, obj)
        current = self.get(rtype, namespace, name)
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        if meta.get("name") and meta["name"] != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name "
                              f"on the URL ({name})")
        if rtype.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the "
                              "namespace sent on the request")
        if check_rv and meta.get("resourceVersion") and \
                str(meta["resourceVersion"]) != current.meta.get("resourceVersion"):
            raise conflict(rtype, name, "the object has been modified; please apply your "
                                        "changes to the latest version and try again")
        return self._write(rtype, current, obj, subresource)

    def patch(self, rtype: ResourceType, namespace: str | None, name: str,
              content_type: str, patch: Any, *, subresource: str | None = None) -> Version:
        """PATCH semantics for merge, strategic-merge (as merge) and JSON patches."""
        current = self.get(rtype, namespace, name)
        ctype = content_type.split(";")[0].strip().lower()
        try:
            if ctype == MERGE_PATCH or (ctype == STRATEGIC_PATCH and rtype.is_core):
                if not isinstance(patch, dict):
                    raise bad_request("a merge patch must be a JSON object")
                patched = merge_patch(current.obj, patch)
                wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")
                if wanted_rv and str(wanted_rv) != current.meta.get("resourceVersion"):
                    raise conflict(rtype, name, "the object has been modified; please apply "
                                                "your changes to the latest version and try "
                                                "again")
            elif ctype == JSON_PATCH:
                patched = json_patch(current.obj, patch)
            else:
                accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
                if rtype.is_core:
                    accepted.insert(2, STRATEGIC_PATCH)
                message = ("the body of the request was in an unknown format - accepted media "
                           f"types include: {', '.join(accepted)}")
                if ctype == APPLY_PATCH:
                    message = "server-side apply is not supported by the kubeapi emulator"
                raise ApiError(415, "UnsupportedMediaType", message)
        except PatchError as exc:
            if exc.code == 400:
                raise bad_request(str(exc)) from exc
            raise invalid(rtype, name, str(exc)) from exc
        if not isinstance(patched, dict):
            raise bad_request("the patched object is not a JSON object")
        return self._write(rtype, current, patched, subresource)

    def _write(self, rtype: ResourceType, current: Version, obj: dict[str, Any],
               subresource: str | None) -> Version:
        """Common tail of PUT and PATCH: strategy rules, no-op detection, finalizers."""
        old = current.obj
        if subresource == "status":
            new = {k: v for k, v in old.items() if k != "status"}
            if "status" in obj:
                new["status"] = obj["status"]
        elif subresource is not None:
            raise ApiError(404, "NotFound", f"the server could not find the requested "
                                            f"resource ({rtype.plural}/{subresource})")
        else:
            new = {"kind": rtype.kind, "apiVersion": rtype.api_version,
                   **{k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}}
            if rtype.has_status:
                new.pop("status", None)
                if "status" in old:
                    new["status"] = old["status"]
        meta = dict(new.get("metadata") if isinstance(new.get("metadata"), dict) else {})
        old_meta = current.meta
        if subresource == "status":
            meta = dict(old_meta)
        for fixed in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation", "resourceVersion"):
            if fixed in old_meta:
                meta[fixed] = old_meta[fixed]
            else:
                meta.pop(fixed, None)
        if old_meta.get("deletionTimestamp"):
            # Finalizers may only shrink once deletion started, as on a real server.
            old_finalizers = old_meta.get("finalizers") or []
            if any(f not in old_finalizers for f in meta.get("finalizers") or []):
                raise ApiError(422, "Invalid", f'{rtype.kind} "{old_meta.get("name")}" is '
                               "invalid: metadata.finalizers: Forbidden: no new finalizers "
                               "can be added if the object is being deleted")
        new["metadata"] = meta
        _omit_empty(meta)
        self._default(rtype, new)
        if _spec_part(new) != _spec_part(old):
            meta["generation"] = int(old_meta.get("generation") or 1) + 1
        if new == old:
            return current  # a no-op write is not written: no new RV, no event
        key = object_key(rtype, old_meta.get("namespace"), str(old_meta.get("name")))
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and \
                not meta.get("deletionGracePeriodSeconds"):
            return self._commit(rtype, key, DELETED, new, current)
        return self._commit(rtype, key, MODIFIED, new, current)

    def delete(self, rtype: ResourceType, namespace: str | None, name: str, *,
               preconditions: dict[str, Any] | None = None,
               grace_period: int | None = None) -> tuple[Version, bool]:
        """DELETE semantics. Returns the version answered and whether it is gone already.

        An object with finalizers only gets a deletionTimestamp (MODIFIED). A pod deleted
        with ``gracePeriodSeconds > 0`` is marked terminating and the caller removes it after
        the grace period (the kubelet's part). Anything else is gone at once (DELETED).
        """
        current = self.get(rtype, namespace, name)
        meta = current.meta
        for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            wanted = (preconditions or {}).get(field)
            if wanted and str(wanted) != str(meta.get(field)):
                raise conflict(rtype, name, f"Precondition failed: {label} in precondition: "
                                            f"{wanted}, {label} in object meta: {meta.get(field)}")
        key = object_key(rtype, namespace, name)
        if rtype is NAMESPACES:
            self._delete_namespace_contents(name)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return current, False
            new = {**current.obj, "metadata": {**meta, "deletionTimestamp": now_rfc3339(),
                                               "deletionGracePeriodSeconds": 0}}
            return self._commit(rtype, key, MODIFIED, new, current), False
        if rtype is PODS and grace_period and grace_period > 0 and \
                not meta.get("deletionTimestamp"):
            new = {**current.obj, "metadata": {
                **meta, "deletionTimestamp": now_rfc3339(grace_period),
                "deletionGracePeriodSeconds": grace_period}}
            return self._commit(rtype, key, MODIFIED, new, current), False
        new = {**current.obj, "metadata": dict(meta)}
        return self._commit(rtype, key, DELETED, new, current), True

    def finish_deletion(self, rtype: ResourceType, namespace: str | None, name: str,
                        uid: str) -> Version | None:
        """Remove a terminating object after its grace period (if it is still that object)."""
        version = self.table(rtype).get(object_key(rtype, namespace, name))
        if version is None or version.meta.get("uid") != uid or \
                not version.meta.get("deletionTimestamp") or version.meta.get("finalizers"):
            return None
        new = {**version.obj, "metadata": dict(version.meta)}
        return self._commit(rtype, object_key(rtype, namespace, name), DELETED, new, version)

    def _delete_namespace_contents(self, namespace: str) -> None:
        for rtype in self.registry:
            if not rtype.namespaced:
                continue
            table = self.table(rtype)
            for key in list(self._key_range(self.sorted_keys(rtype), rtype, namespace)):
                version = table[key]
                new = {**version.obj, "metadata": dict(version.meta)}
                self._commit(rtype, key, DELETED, new, version)

    def delete_collection(self, rtype: ResourceType, namespace: str | None,
                          labels: LabelSelector, fields: FieldSelector) -> list[Version]:
        predicate = make_predicate(rtype, namespace, None, labels, fields)
        victims = self.current(rtype, predicate, namespace)
        out: list[Version] = []
        for version in victims:
            meta = version.meta
            deleted, _ = self.delete(rtype, meta.get("namespace"), str(meta.get("name")))
            out.append(deleted)
        return out

    # ----------------------------------------------------------------------------- fixtures

    def load(self, documents: Iterable[Any]) -> list[tuple[ResourceType, Version]]:
        """Store fixture objects as given (status included), creating or replacing each.

        ``kind: List`` documents are unpacked; CustomResourceDefinitions register their
        resource types. Loading is a write like any other: it takes revisions and is seen by
        open watches.
        """
        # A bulk load allocates millions of small containers: the cyclic collector would
        # walk the growing heap again and again (a third of the time for 100k pods), and
        # our versions hold no cycles, so it is paused for the duration.
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._load(documents)
        finally:
            if paused:
                gc.enable()

    def _load(self, documents: Iterable[Any]) -> list[tuple[ResourceType, Version]]:
        out: list[tuple[ResourceType, Version]] = []
        for doc in documents:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise bad_request(f"cannot load a non-object document: {doc!r:.80}")
            kind = doc.get("kind", "")
            if kind.endswith("List") and isinstance(doc.get("items"), list):
                out.extend(self._load(doc["items"]))
                continue
            if kind == "CustomResourceDefinition":
                self.registry.add_crd(doc)
                self.crds.append(doc)
                continue
            rtype = self.registry.by_kind(str(doc.get("apiVersion", "")), kind)
            if rtype is None:
                raise bad_request(f"no served resource for apiVersion={doc.get('apiVersion')!r}"
                                  f" kind={kind!r}")
            meta = doc.get("metadata") or {}
            ns = (meta.get("namespace") or "default") if rtype.namespaced else None
            existing = self.table(rtype).get(object_key(rtype, ns, str(meta.get("name"))))
            if existing is None:
                out.append((rtype, self.create(rtype, doc, ns, keep_status=True)))
            else:
                out.append((rtype, self._replace_as_given(rtype, existing, doc)))
        return out

    def _replace_as_given(self, rtype: ResourceType, current: Version,
                          doc: dict[str, Any]) -> Version:
        old_meta = current.meta
        meta = dict(doc.get("metadata") or {})
        for fixed in ("uid", "creationTimestamp", "namespace", "name"):
            if fixed in old_meta:
                meta[fixed] = old_meta[fixed]
        meta["resourceVersion"] = old_meta.get("resourceVersion")
        meta.setdefault("generation", old_meta.get("generation", 1))
        new = {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta,
               **{k: v for k, v in doc.items() if k not in ("kind", "apiVersion", "metadata")}}
        _omit_empty(meta)
        self._default(rtype, new)
        if new == current.obj:
            return current
        key = object_key(rtype, old_meta.get("namespace"), str(old_meta.get("name")))
        return self._commit(rtype, key, MODIFIED, new, current)

    def clear(self) -> int:
        """Delete every object (DELETED events included); a test-isolation helper."""
        count = 0
        for rtype in self.registry:
            table = self.table(rtype)
            for key in sorted(table):
                version = table[key]
                self._commit(rtype, key, DELETED, {**version.obj, "metadata": dict(version.meta)},
                             version)
                count += 1
        return count

    # ----------------------------------------------------------------------------- persistence

    def dump(self) -> dict[str, Any]:
        """Everything needed to come back after a restart with the same state and history."""
        return {
            "format": 1,
            "rv": self.rv,
            "compacted_rv": self.compacted_rv,
            "crds": self.crds,
            "objects": [{"resource": rtype.key, "object": v.obj}
                        for rtype in self.registry for v in self.table(rtype).values()],
            "events": [{"rv": e.rv, "type": e.type, "resource": e.rtype.key, "key": e.key,
                        "new": e.new.obj, "old": e.old.obj if e.old else None}
                       for e in self.events],
        }

    def restore(self, state: dict[str, Any]) -> None:
        for crd in state.get("crds") or []:
            self.registry.add_crd(crd)
            self.crds.append(crd)
        self._objects.clear()
        self._sorted.clear()
        shared: dict[tuple[str, int], Version] = {}
        for entry in state.get("objects") or []:
            rtype = self._rtype(entry["resource"])
            obj = entry["object"]
            meta = obj["metadata"]
            version = Version(obj, int(meta["resourceVersion"]))
            shared[(rtype.key, version.rv)] = version
            self.table(rtype)[object_key(rtype, meta.get("namespace"), meta["name"])] = version
        self.events.clear()
        for entry in state.get("events") or []:
            rtype = self._rtype(entry["resource"])

            def version_of(obj: dict[str, Any] | None, rtype: ResourceType = rtype
                           ) -> Version | None:
                if obj is None:
                    return None
                rv = int(obj["metadata"]["resourceVersion"])
                return shared.get((rtype.key, rv)) or Version(obj, rv)

            new = version_of(entry["new"])
            assert new is not None
            self.events.append(Event(int(entry["rv"]), entry["type"], rtype, entry["key"], new,
                                     version_of(entry.get("old"))))
        self.rv = int(state["rv"])
        self.compacted_rv = int(state["compacted_rv"])

    def _rtype(self, key: str) -> ResourceType:
        rtype = self.registry.by_key(key)
        if rtype is None:
            raise ValueError(f"state refers to an unknown resource {key!r}")
        return rtype


_DEFAULT_STATUS: dict[str, dict[str, Any]] = {
    PODS.key: {"phase": "Pending"},
    SERVICES.key: {"loadBalancer": {}},
    NAMESPACES.key: {"phase": "Active"},
}


def parse_rv(value: str | None) -> int:
    """Parse a resourceVersion parameter the way the real server does (400 if not a number)."""
    try:
        rv = int(str(value))
    except ValueError:
        raise bad_request(f"invalid resource version: {value!r}") from None
    if rv < 0:
        raise bad_request(f"invalid resource version: {value!r}")
    return rv
