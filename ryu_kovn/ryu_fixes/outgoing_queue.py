"""A peer's outgoing queue as a deque, not a list linked through its messages.

Ryu queues every message for a peer in a ``CircularListType`` list, which links
nodes through two attributes it sets and reads by name on each message
(``setattr``/``getattr`` per link, several per append and pop): 6% of a
100k-prefix cold start, for a FIFO that only ever appends, prepends and pops
the first message.  ``Sink.OutgoingMsgList``, the class each peer instantiates
for its queue (at creation and on every session reset), becomes one that does
those three in C.  Peers created before ``install`` keep Ryu's list.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any


class OutgoingQueue:
    """The part of Ryu's circular list API that peers use."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: deque[Any] = deque()

    def append(self, msg: Any) -> None:
        self._items.append(msg)

    def prepend(self, msg: Any) -> None:
        self._items.appendleft(msg)

    def pop_first(self) -> Any:
        """The first message, or None when there is none (as Ryu's list)."""
        return self._items.popleft() if self._items else None

    def is_empty(self) -> bool:
        return not self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._items))


def install() -> None:
    from ryu.services.protocols.bgp.base import Sink

    Sink.OutgoingMsgList = OutgoingQueue
