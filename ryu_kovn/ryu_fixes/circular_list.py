"""Ryu's intrusive lists compare nodes with ``==``; they must compare identity.

``CircularListType.node_is_on_list`` asks ``next == node``.  For the BGP
processor's queue of ``Destination`` objects that calls
``Destination.__eq__``, which compares ``str(self) == str(other)``, and
``__str__`` renders the whole table through ``ryu.lib.stringify`` and
``inspect.getmembers``.  Every enqueue, dequeue and emptiness check of a
destination paid for two of those: a third of a cold start with 10k prefixes.
A node is "linked to itself" exactly when it is the same object.
"""

from __future__ import annotations

from typing import Any

_MARK = "_ryu_kovn_identity"


def _node_is_on_list(self: Any, node: Any) -> bool:
    following = self.node_next(node)
    return following is not None and following is not node


def install() -> None:
    from ryu.services.protocols.bgp.utils.circlist import CircularListType

    if not getattr(CircularListType, _MARK, False):
        CircularListType.node_is_on_list = _node_is_on_list
        setattr(CircularListType, _MARK, True)
