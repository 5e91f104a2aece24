"""From Kubernetes changes to the fewest announce/withdraw calls.

The reconciler keeps two tables:

- *wanted*: each source object (``Pod/ns/name``, ``Subnet/name``...) and the
  prefixes its policy decision wants, and for each prefix the set of sources
  holding it.  A prefix two sources want (a pod IP also named by an EIP, a
  Service IP shared after a re-create) stays announced until the last one lets
  go.
- *announced*: what has been handed to the speaker, which is exactly the set
  of prefixes with at least one holder.

Each watcher change recomputes the decision of the object it concerns (and,
for a Subnet, of the pods on that subnet, found through an index), diffs it
against what that object wanted before, and calls the speaker with only the
prefixes whose holder count crossed zero.  A relist that changes nothing
therefore sends nothing, and the router sees no flap.

Both tables hold an entry per pod, so they are stored compactly (a 100k-pod
cluster is 100k of each): see ``_Wanted`` and ``_Holders``.
"""

from __future__ import annotations

import functools
import heapq
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ryu_kovn import policy
from ryu_kovn.k8s.objects import IptablesEIP, Pod, Service, Subnet
from ryu_kovn.prefixes import sort_key

LOG = logging.getLogger(__name__)


# What one source wants: its (prefix, policy) pairs, sorted and flattened into
# one tuple, e.g. ("10.16.0.12/32", "cluster").  Nearly every source wants one
# prefix, and this is one small tuple where a frozenset of Want is a 216-byte
# set plus a Want and a copy of the source's ref per prefix (the ref is the
# table's key already).  Sorted, so that equal decisions compare equal.
_Wanted = tuple[str, ...]

# Who holds a prefix: the one ref itself while there is one (nearly always),
# a set of refs only while several sources want the prefix.
_Holders = dict[str, str | set[str]]


class RouteSink(Protocol):
    def announce(self, prefixes: Iterable[str]) -> None: ...
    def withdraw(self, prefixes: Iterable[str]) -> None: ...


@dataclass
class Counters:
    changes: int = 0
    announced: int = 0
    withdrawn: int = 0
    problems: int = 0


def _timed(method: Callable[..., None]) -> Callable[..., None]:
    """Report how long a change took, from the watch event to the speaker calls."""

    @functools.wraps(method)
    def wrapper(self: Reconciler, *args: Any) -> None:
        started = time.perf_counter()
        try:
            method(self, *args)
        finally:
            if self._observe is not None:
                self._observe(time.perf_counter() - started)

    return wrapper


class Reconciler:
    def __init__(
        self,
        sink: RouteSink,
        ctx: policy.Context,
        observe: Callable[[float], None] | None = None,
        defer: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        """*defer* schedules a call for when the current greenthread yields.

        With it, the speaker calls of consecutive changes (a list of 100k
        pods, a burst of events) are merged into one call and one log line;
        a single event still goes out at the next yield, within milliseconds.
        Without it every change calls the speaker at once.
        """
        self._sink = sink
        self._ctx = ctx
        self._observe = observe
        self._defer = defer
        self._to_announce: set[str] = set()
        self._to_withdraw: set[str] = set()
        self._drain_scheduled = False
        self._lock = threading.Lock()
        self._wants: dict[str, _Wanted] = {}
        self._holders: _Holders = {}
        self._subnets: dict[str, Subnet] = {}
        # Subnet name -> the pods with an address on it, by key; kept for
        # subnets not seen yet too, so a late Subnet reaches its pods.  Only a
        # Subnet change re-reads pods, so this index is the only pod table: a
        # pod on no subnet has nothing a Subnet change could alter.
        self._pods_on: dict[str, dict[str, Pod]] = {}
        self._warned: dict[str, tuple[str | None, str]] = {}
        self.counters = Counters()

    # -- watcher callbacks: (key, old, new), new None = deleted ---------------

    @_timed
    def on_subnet(self, key: str, old: Subnet | None, new: Subnet | None) -> None:
        with self._lock:
            if new is None:
                self._subnets.pop(key, None)
            else:
                self._subnets[key] = new
            announce, withdraw = set(), set()
            ref = (new or old).ref  # type: ignore[union-attr]
            decision = policy.subnet_decision(new, self._ctx) if new else None
            self._apply(ref, decision, new, announce, withdraw)
            if _pod_relevant(old) != _pod_relevant(new):
                for pod in tuple(self._pods_on.get(key, {}).values()):
                    self._decide_pod(pod, announce, withdraw)
            self._flush(announce, withdraw)

    @_timed
    def on_pod(self, key: str, old: Pod | None, new: Pod | None) -> None:
        with self._lock:
            announce, withdraw = set(), set()
            if old is not None:
                for switch in _switches(old):
                    pods = self._pods_on.get(switch)
                    if pods is not None:
                        pods.pop(key, None)
                        if not pods:
                            del self._pods_on[switch]
            if new is None:
                self._apply(old.ref, None, old, announce, withdraw)  # type: ignore[union-attr]
            else:
                for switch in _switches(new):
                    self._pods_on.setdefault(switch, {})[key] = new
                self._decide_pod(new, announce, withdraw)
            self._flush(announce, withdraw)

    @_timed
    def on_service(self, key: str, old: Service | None, new: Service | None) -> None:
        self._on_simple(old, new, policy.service_decision)

    @_timed
    def on_eip(self, key: str, old: IptablesEIP | None, new: IptablesEIP | None) -> None:
        self._on_simple(old, new, policy.eip_decision)

    def _on_simple(self, old: Any, new: Any, decide: Callable[[Any, policy.Context], Any]) -> None:
        with self._lock:
            announce, withdraw = set(), set()
            decision = decide(new, self._ctx) if new is not None else None
            self._apply((new or old).ref, decision, new, announce, withdraw)
            self._flush(announce, withdraw)

    # -- the tables -----------------------------------------------------------

    def _decide_pod(self, pod: Pod, announce: set[str], withdraw: set[str]) -> None:
        decision = policy.pod_decision(pod, self._subnets, self._ctx)
        self._apply(pod.ref, decision, pod, announce, withdraw)

    def _apply(
        self,
        ref: str,
        decision: policy.Decision | None,
        obj: Any,
        announce: set[str],
        withdraw: set[str],
    ) -> None:
        """Replace what *ref* wants; collect prefixes whose holder count crossed zero."""
        self.counters.changes += 1
        new = _compact(decision.wants) if decision is not None else ()
        old = self._wants.get(ref, ())
        if decision is not None and decision.problem:
            self._warn(ref, getattr(obj, "resource_version", None), decision.problem)
        else:
            self._warned.pop(ref, None)
        if new == old:
            return
        if new:
            self._wants[ref] = new
        else:
            self._wants.pop(ref, None)
        old_prefixes = set(old[::2])
        new_prefixes = set(new[::2])
        for prefix in old_prefixes - new_prefixes:
            if self._release(prefix, ref):
                if prefix in announce:
                    announce.discard(prefix)
                else:
                    withdraw.add(prefix)
        for prefix in new_prefixes - old_prefixes:
            if self._hold(prefix, ref):
                if prefix in withdraw:
                    withdraw.discard(prefix)
                else:
                    announce.add(prefix)

    def _hold(self, prefix: str, ref: str) -> bool:
        """Add *ref* to the holders of *prefix*; whether it is the first holder."""
        holders = self._holders.get(prefix)
        if holders is None:
            self._holders[prefix] = ref
            return True
        if isinstance(holders, str):
            if holders != ref:
                self._holders[prefix] = {holders, ref}
        else:
            holders.add(ref)
        return False

    def _release(self, prefix: str, ref: str) -> bool:
        """Remove *ref* from the holders of *prefix*; whether none is left."""
        holders = self._holders.get(prefix)
        if isinstance(holders, set):
            holders.discard(ref)
            if len(holders) > 1:
                return False
            if holders:
                # Back to the compact form once one holder is left.
                self._holders[prefix] = next(iter(holders))
                return False
        elif holders is not None and holders != ref:
            return False
        self._holders.pop(prefix, None)
        return True

    def _warn(self, ref: str, version: str | None, problem: str) -> None:
        # Once per object version: a bad object re-sent by a relist or a
        # status update must not flood the log.
        if self._warned.get(ref) == (version, problem):
            return
        self._warned[ref] = (version, problem)
        self.counters.problems += 1
        LOG.warning("skipped: %s", problem)

    def _flush(self, announce: set[str], withdraw: set[str]) -> None:
        # A prefix withdrawn and wanted again before the speaker heard of
        # either (or the reverse) cancels out: the router sees nothing.
        for prefix in withdraw:
            if prefix in self._to_announce:
                self._to_announce.discard(prefix)
            else:
                self._to_withdraw.add(prefix)
        for prefix in announce:
            if prefix in self._to_withdraw:
                self._to_withdraw.discard(prefix)
            else:
                self._to_announce.add(prefix)
        if self._defer is None:
            self._drain()
        elif not self._drain_scheduled and (self._to_announce or self._to_withdraw):
            self._drain_scheduled = True
            self._defer(self._drain_locked)

    def _drain_locked(self) -> None:
        with self._lock:
            self._drain()

    def _drain(self) -> None:
        self._drain_scheduled = False
        withdraw, self._to_withdraw = self._to_withdraw, set()
        announce, self._to_announce = self._to_announce, set()
        if withdraw:
            self._sink.withdraw(sorted(withdraw))
            self.counters.withdrawn += len(withdraw)
            LOG.info("withdrawn %d: %s", len(withdraw), _summary(withdraw))
        if announce:
            self._sink.announce(sorted(announce))
            self.counters.announced += len(announce)
            LOG.info("announced %d: %s", len(announce), _summary(announce))

    def pending(self) -> bool:
        """Whether changes are decided but not yet handed to the speaker; a drain in
        progress counts.  Never waits on the lock: the peers' send loops ask it."""
        return bool(self._to_announce or self._to_withdraw or self._lock.locked())

    # -- views ----------------------------------------------------------------

    def wanted(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._holders)

    def announcements(self) -> list[dict[str, Any]]:
        """Every wanted prefix with the objects and policy behind it."""
        with self._lock:
            reasons: dict[str, list[dict[str, str]]] = defaultdict(list)
            for ref, wants in self._wants.items():
                for prefix, why in zip(wants[::2], wants[1::2], strict=True):
                    reasons[prefix].append({"source": ref, "policy": why})
            rows = [
                {"prefix": prefix, "reasons": sorted(why, key=lambda r: r["source"])}
                for prefix, why in reasons.items()
            ]
        return sorted(rows, key=lambda r: sort_key(r["prefix"]))

    def problems(self) -> dict[str, str]:
        with self._lock:
            return {ref: problem for ref, (_, problem) in self._warned.items()}


def _compact(wants: frozenset[policy.Want]) -> _Wanted:
    """*wants* as ``_Wanted``; ``Want.source`` is dropped, it is the ref the table is keyed by."""
    if len(wants) == 1:  # nearly always: no set, no sort
        (want,) = wants
        return (want.prefix, want.policy)
    pairs = sorted({(w.prefix, w.policy) for w in wants})
    return tuple(item for pair in pairs for item in pair)


def _switches(pod: Pod) -> set[str]:
    return {a.logical_switch for a in pod.addresses if a.logical_switch}


def _pod_relevant(subnet: Subnet | None) -> tuple[Any, ...] | None:
    """What of a Subnet its pods' decisions read."""
    if subnet is None:
        return None
    return (subnet.bgp, subnet.ready)


def _summary(prefixes: set[str], limit: int = 8) -> str:
    # Only the few shown are parsed for numeric order: a 100k-prefix batch
    # must not cost 100k address parses for one log line.
    shown = sorted(heapq.nsmallest(limit, prefixes), key=sort_key)
    more = len(prefixes) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")
