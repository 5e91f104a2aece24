"""Packed UPDATEs: many prefixes per message, within 4096 bytes, decodable."""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace

import pytest
from ryu.lib.packet.bgp import (
    BGP_ATTR_TYPE_AS_PATH,
    BGP_ATTR_TYPE_ORIGIN,
    BGPMessage,
    BGPPathAttributeAsPath,
    BGPPathAttributeMpReachNLRI,
    BGPPathAttributeMpUnreachNLRI,
    BGPPathAttributeNextHop,
    BGPPathAttributeOrigin,
    BGPUpdate,
    IP6AddrPrefix,
    IPAddrPrefix,
)
from ryu.services.protocols.bgp.info_base.ipv4 import Ipv4Path
from ryu.services.protocols.bgp.info_base.ipv6 import Ipv6Path
from ryu.services.protocols.bgp.model import OutgoingRoute
from ryu.services.protocols.bgp.utils.circlist import CircularListType

from ryu_kovn.ryu_fixes import peer_output


def _local_attrs() -> OrderedDict[int, object]:
    """The attributes Ryu gives a locally originated path (update_global_table)."""
    return OrderedDict([(BGP_ATTR_TYPE_ORIGIN, BGPPathAttributeOrigin(0)),
                        (BGP_ATTR_TYPE_AS_PATH, BGPPathAttributeAsPath([[]]))])  # fmt: skip


def v4(i: int, withdraw: bool = False) -> OutgoingRoute:
    nlri = IPAddrPrefix(32, f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    path = Ipv4Path(None, nlri, 1, pattrs=_local_attrs(), nexthop="0.0.0.0", is_withdraw=withdraw)
    return OutgoingRoute(path)


def v6(i: int) -> OutgoingRoute:
    nlri = IP6AddrPrefix(128, f"fd00::{i:x}")
    return OutgoingRoute(Ipv6Path(None, nlri, 1, pattrs=_local_attrs(), nexthop="::"))


def queue_of(*msgs: object) -> SimpleNamespace:
    q = CircularListType(next_attr_name="next_sink_out_route",
                         prev_attr_name="prev_sink_out_route").create()  # fmt: skip
    for m in msgs:
        q.append(m)
    return SimpleNamespace(outgoing_msg_list=q)


def test_a_run_stops_at_a_change_of_family_or_direction():
    first, same, other_family, later = v4(1), v4(2), v6(3), v4(4)
    withdraw = v4(5, withdraw=True)
    peer = queue_of(same, other_family, later, withdraw)
    assert peer_output._take_run(peer, first) == [first, same]
    assert peer.outgoing_msg_list.pop_first() is other_family  # put back, order kept
    assert peer.outgoing_msg_list.pop_first() is later
    assert peer_output._take_run(peer, later) == [later]
    assert peer.outgoing_msg_list.pop_first() is withdraw


def test_chunks_respect_the_message_size():
    chunks = peer_output._chunks([v4(i) for i in range(2000)])
    budget = peer_output.MAX_MESSAGE - peer_output.RESERVED
    assert all(5 * len(c) <= budget for c in chunks)  # a /32 takes 5 bytes
    assert sum(len(c) for c in chunks) == 2000
    assert len(chunks) == 3  # ~787 per message: far better than one per prefix


@pytest.mark.parametrize("busy", [True, False])
def test_a_part_filled_last_update_waits_for_more_only_while_more_is_coming(
    busy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peer_output, "_busy", lambda: busy)
    run = [v4(i) for i in range(2000)]
    later = v4(5000)
    peer = queue_of(later)
    sent = peer_output._hold_back_partial(peer, run)
    full = sum(len(c) for c in peer_output._chunks(run)[:-1])
    assert full == 1574  # two full UPDATEs of 787 /32s
    if busy:
        assert sent == run[:full]
        queued = []
        while (msg := peer.outgoing_msg_list.pop_first()) is not None:
            queued.append(msg)
        assert queued == [*run[full:], later]  # back at the head, in order
    else:
        assert sent == run
        assert peer.outgoing_msg_list.pop_first() is later


def test_less_than_one_update_is_sent_whole_even_while_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(peer_output, "_busy", lambda: True)
    run = [v4(i) for i in range(100)]
    peer = queue_of()
    assert peer_output._hold_back_partial(peer, run) == run
    assert peer.outgoing_msg_list.is_empty()


def _roundtrip(update: BGPUpdate) -> BGPUpdate:
    wire = update.serialize()
    assert len(wire) <= peer_output.MAX_MESSAGE
    parsed, _, _ = BGPMessage.parser(wire)
    return parsed


def _attrs(nexthop_attr: object) -> list[object]:
    return [BGPPathAttributeOrigin(0), BGPPathAttributeAsPath([[65010]]), nexthop_attr]


def test_ipv4_announcements_fill_one_update_and_decode():
    routes = peer_output._chunks([v4(i) for i in range(2000)])[0]
    update = BGPUpdate(path_attributes=_attrs(BGPPathAttributeNextHop("192.0.2.1")),
                       nlri=[routes[0].path.nlri])  # fmt: skip
    peer_output._add_nlri(update, routes[0].path, [r.path.nlri for r in routes[1:]])
    parsed = _roundtrip(update)
    assert [n.prefix for n in parsed.nlri] == [r.path.nlri.prefix for r in routes]


def test_ipv4_withdrawals_are_packed_into_withdrawn_routes():
    routes = [v4(i, withdraw=True) for i in range(300)]
    update = BGPUpdate(withdrawn_routes=[routes[0].path.nlri])
    peer_output._add_nlri(update, routes[0].path, [r.path.nlri for r in routes[1:]])
    assert len(_roundtrip(update).withdrawn_routes) == 300


@pytest.mark.parametrize("withdraw", [False, True])
def test_ipv6_prefixes_are_packed_into_mp_reach_and_unreach(withdraw):
    routes = peer_output._chunks([v6(i) for i in range(1000)])[0]
    assert len(routes) > 200  # 17 bytes per /128
    first = routes[0].path
    if withdraw:
        first = Ipv6Path(None, first.nlri, 1, pattrs=_local_attrs(), nexthop="::",
                         is_withdraw=True)  # fmt: skip
        attr = BGPPathAttributeMpUnreachNLRI(2, 1, [first.nlri])
        update = BGPUpdate(path_attributes=[attr])
    else:
        attr = BGPPathAttributeMpReachNLRI(2, 1, "2001:db8::1", [first.nlri])
        update = BGPUpdate(path_attributes=_attrs(attr))
    peer_output._add_nlri(update, first, [r.path.nlri for r in routes[1:]])
    parsed = _roundtrip(update)
    kind = BGPPathAttributeMpUnreachNLRI if withdraw else BGPPathAttributeMpReachNLRI
    (mp,) = [a for a in parsed.path_attributes if isinstance(a, kind)]
    assert len(mp.withdrawn_routes if withdraw else mp.nlri) == len(routes)
