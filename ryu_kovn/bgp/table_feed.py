"""A batched path from ryu-kovn's prefixes into Ryu's global tables.

Ryu's way in, ``TableCoreManager.update_global_table``, costs 150 µs a prefix: it
builds fresh ORIGIN and AS_PATH objects for every prefix, parses the prefix with
netaddr, and ``Path.__init__`` copies the attribute map with ``copy.copy``, which
for an ``OrderedDict`` goes through ``__reduce_ex__`` and ``copyreg`` (the largest
single cost of a 100k-prefix cold start in the py-spy profile).

Every route ryu-kovn originates carries the same attributes (ORIGIN IGP, an empty
AS_PATH; the next hop is chosen per peer when the UPDATE is built), so they are
built once per family and shared by every path, read-only.  Each path then costs
its NLRI, its ``Path``, the table's insert and the destination's best-path step,
run at once (``learn_path`` queues the destination for Ryu's processor, which
runs the same step later: a queue round trip per prefix).

The feed yields to the hub every ``YIELD_EVERY`` prefixes, so that Ryu's processor
and the peers' send loops start on the first routes while the rest go in, and no
keepalive waits behind a 100k-prefix batch.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ryu_kovn import gc_bulk

YIELD_EVERY = 500


class SharedAttributes(OrderedDict):  # type: ignore[type-arg]
    """One attribute map for many paths: copying returns it, changing it raises.

    ``Path.__init__`` and ``Path.pathattr_map`` copy the map; a copy of a map no
    one can change is the map itself.  Ryu code that changes a path's attributes
    (``clone_path_and_update_med_for_target_neighbor``, only with a per-neighbor
    MED, which ryu-kovn never configures) would raise here instead of changing
    every route at once.
    """

    def __init__(self, items: Iterable[tuple[int, Any]]) -> None:
        super().__init__(items)
        self._frozen = True

    def __copy__(self) -> SharedAttributes:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedAttributes:
        return self

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise TypeError("the attributes of ryu-kovn's routes are shared: copy "
                        "them into a new OrderedDict to change one route")  # fmt: skip

    def __setitem__(self, key: Any, value: Any) -> None:
        if getattr(self, "_frozen", False):
            self._refuse()
        super().__setitem__(key, value)

    __delitem__ = _refuse
    pop = _refuse
    popitem = _refuse
    clear = _refuse
    update = _refuse
    setdefault = _refuse
    move_to_end = _refuse


class TableFeed:
    """Announce and withdraw canonical prefixes in Ryu's IPv4/IPv6 global tables."""

    def __init__(self, core: Any, pause: Callable[[], None]) -> None:
        from ryu.lib.packet.bgp import (
            BGP_ATTR_ORIGIN_IGP,
            BGP_ATTR_TYPE_AS_PATH,
            BGP_ATTR_TYPE_ORIGIN,
            BGPPathAttributeAsPath,
            BGPPathAttributeOrigin,
            IP6AddrPrefix,
            IPAddrPrefix,
        )
        from ryu.services.protocols.bgp.info_base.ipv4 import Ipv4Path
        from ryu.services.protocols.bgp.info_base.ipv6 import Ipv6Path

        attributes = SharedAttributes([
            (BGP_ATTR_TYPE_ORIGIN, BGPPathAttributeOrigin(BGP_ATTR_ORIGIN_IGP)),
            (BGP_ATTR_TYPE_AS_PATH, BGPPathAttributeAsPath([[]])),
        ])  # fmt: skip
        self._tables = core.table_manager
        # What update_global_table passes for a local route: no source, version 1,
        # the unspecified next hop (Ryu replaces it per peer).
        self._kinds = {4: (Ipv4Path, IPAddrPrefix, "0.0.0.0"), 6: (Ipv6Path, IP6AddrPrefix, "::")}
        self._attributes = attributes
        self._pause = pause
        self.busy = False

    def apply(self, prefixes: Sequence[str], withdraw: bool) -> int:
        """Insert a path (or a withdrawal) per prefix; returns how many went in.

        *prefixes* are canonical (``prefixes.canonical``): ``10.0.0.1/32``.
        """
        from ryu.lib.packet.bgp import RF_IPv4_UC, RF_IPv6_UC

        by_family = self._tables.get_global_table_by_route_family
        families = {
            4: (*self._kinds[4], by_family(RF_IPv4_UC)),
            6: (*self._kinds[6], by_family(RF_IPv6_UC)),
        }
        attributes = self._attributes
        count = 0
        self.busy = True
        # Only a bulk pauses the cycle collector: single changes never end one.
        pause_gc = gc_bulk.bulk() if len(prefixes) >= YIELD_EVERY else contextlib.nullcontext()
        try:
            with pause_gc:
                for prefix in prefixes:
                    address, _, length = prefix.partition("/")
                    path_cls, nlri_cls, unspecified, table = families[6 if ":" in address else 4]
                    path = path_cls(None, nlri_cls(int(length), address), 1,
                                    pattrs=attributes, nexthop=unspecified,
                                    is_withdraw=withdraw)
                    # Processed here rather than queued for Ryu's processor: the
                    # same best-path step, without a queue round trip per prefix.
                    table.insert(path).process()
                    count += 1
                    if count % YIELD_EVERY == 0:
                        self._pause()
        finally:
            self.busy = False
        return count
