"""Say when a peer cannot be reached.

Ryu reports a failed connect only as ``bgpspeaker.peer`` INFO ("Will try to
reconnect"), among that logger's per-activity chatter that ryu-kovn quiets at
INFO: an unreachable router would never be mentioned.  The wrapper logs a
warning for the first failure, whenever the reason changes, and every tenth
attempt after that, then lets Ryu's retry loop go on.
"""

from __future__ import annotations

import logging
from typing import Any

LOG = logging.getLogger("ryu_kovn.bgp.speaker")
_MARK = "_ryu_kovn_connect_log"
EVERY = 10


def install(retry_seconds: int) -> None:
    from ryu.services.protocols.bgp.peer import Peer

    if getattr(Peer, _MARK, False):
        return
    original = Peer._connect_tcp
    failures: dict[str, tuple[str, int]] = {}

    def _connect_tcp(peer: Any, peer_addr: Any, *args: Any, **kwargs: Any) -> Any:
        address = str(peer_addr[0])
        try:
            sock = original(peer, peer_addr, *args, **kwargs)
        except OSError as exc:
            reason = str(exc) or type(exc).__name__
            last, count = failures.get(address, ("", 0))
            count += 1
            failures[address] = (reason, count)
            if count == 1 or reason != last or count % EVERY == 0:
                LOG.warning("neighbor %s: connection failed (%d in a row): %s; retrying every %ds",
                            address, count, reason, retry_seconds)  # fmt: skip
            raise
        if failures.pop(address, None) is not None:
            LOG.info("neighbor %s: connected", address)
        return sock

    Peer._connect_tcp = _connect_tcp
    setattr(Peer, _MARK, True)
