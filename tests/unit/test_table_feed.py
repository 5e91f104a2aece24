"""The shared attribute map of ryu-kovn's routes: one object, read-only."""

from __future__ import annotations

import copy

import pytest
from ryu.lib.packet.bgp import (
    BGP_ATTR_ORIGIN_IGP,
    BGP_ATTR_TYPE_AS_PATH,
    BGP_ATTR_TYPE_MULTI_EXIT_DISC,
    BGP_ATTR_TYPE_ORIGIN,
    BGPPathAttributeAsPath,
    BGPPathAttributeOrigin,
    IPAddrPrefix,
)
from ryu.services.protocols.bgp.info_base.ipv4 import Ipv4Path
from ryu.services.protocols.bgp.utils.bgp import clone_path_and_update_med_for_target_neighbor

from ryu_kovn.bgp.table_feed import SharedAttributes


def shared() -> SharedAttributes:
    return SharedAttributes([
        (BGP_ATTR_TYPE_ORIGIN, BGPPathAttributeOrigin(BGP_ATTR_ORIGIN_IGP)),
        (BGP_ATTR_TYPE_AS_PATH, BGPPathAttributeAsPath([[]])),
    ])  # fmt: skip


def test_every_path_holds_the_one_map() -> None:
    attrs = shared()
    paths = [Ipv4Path(None, IPAddrPrefix(32, f"10.0.0.{i}"), 1, pattrs=attrs, nexthop="0.0.0.0")
             for i in range(3)]  # fmt: skip
    assert all(p.pathattr_map is attrs for p in paths)
    assert copy.copy(attrs) is attrs and copy.deepcopy(attrs) is attrs
    assert paths[0].get_pattr(BGP_ATTR_TYPE_AS_PATH).get_as_path_len() == 0
    assert list(attrs) == [BGP_ATTR_TYPE_ORIGIN, BGP_ATTR_TYPE_AS_PATH]  # Ryu's order


@pytest.mark.parametrize("change", [
    lambda a: a.__setitem__(BGP_ATTR_TYPE_MULTI_EXIT_DISC, None),
    lambda a: a.__delitem__(BGP_ATTR_TYPE_ORIGIN),
    lambda a: a.pop(BGP_ATTR_TYPE_ORIGIN),
    lambda a: a.popitem(),
    lambda a: a.clear(),
    lambda a: a.update({}),
    lambda a: a.setdefault(99, None),
    lambda a: a.move_to_end(BGP_ATTR_TYPE_ORIGIN),
])  # fmt: skip
def test_changing_the_shared_map_raises_instead_of_changing_every_route(change) -> None:  # type: ignore[no-untyped-def]
    attrs = shared()
    with pytest.raises(TypeError, match="shared"):
        change(attrs)
    assert len(attrs) == 2


def test_ryus_per_neighbor_med_clone_would_raise_not_corrupt() -> None:
    """The one Ryu code path that edits a path's map (a neighbor MED, never configured)."""
    attrs = shared()
    path = Ipv4Path(None, IPAddrPrefix(32, "10.0.0.1"), 1, pattrs=attrs, nexthop="0.0.0.0")
    with pytest.raises(TypeError):
        clone_path_and_update_med_for_target_neighbor(path, 100)
    assert BGP_ATTR_TYPE_MULTI_EXIT_DISC not in attrs
