"""The peers' outgoing queue: Ryu's list semantics, a deque underneath."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ryu.services.protocols.bgp.base import Sink

from ryu_kovn.ryu_fixes import outgoing_queue
from ryu_kovn.ryu_fixes.outgoing_queue import OutgoingQueue


@pytest.fixture
def installed() -> Iterator[None]:
    before = Sink.OutgoingMsgList
    outgoing_queue.install()
    yield
    Sink.OutgoingMsgList = before


def test_first_in_first_out_prepend_first_and_none_when_empty() -> None:
    q = OutgoingQueue()
    assert q.is_empty() and q.pop_first() is None
    a, b, c, urgent = object(), object(), object(), object()
    for m in (a, b, c):
        q.append(m)
    q.prepend(urgent)
    assert list(q) == [urgent, a, b, c] and len(q) == 4  # iterating leaves it whole
    assert [q.pop_first() for _ in range(5)] == [urgent, a, b, c, None]
    assert q.is_empty()


def test_a_message_can_be_queued_again_after_it_was_popped() -> None:
    """Ryu's list links through the message itself; nothing of the kind here."""
    q = OutgoingQueue()
    m = object()  # no attributes can be set on it: Ryu's list would fail
    q.append(m)
    q.append(m)
    assert q.pop_first() is m and q.pop_first() is m


def test_every_sink_made_after_install_queues_in_a_deque(installed: None) -> None:
    sink = Sink()
    assert isinstance(sink.outgoing_msg_list, OutgoingQueue)
    first, second = object(), object()
    sink.enque_outgoing_msg(first)
    sink.enque_first_outgoing_msg(second)
    assert sink.outgoing_msg_event.is_set()
    assert next(sink) is second and next(sink) is first
    sink.enque_outgoing_msg(object())
    sink.clear_outgoing_msg_list()  # a session reset drops what was queued
    assert isinstance(sink.outgoing_msg_list, OutgoingQueue)
    assert sink.outgoing_msg_list.is_empty()
