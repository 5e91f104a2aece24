"""Accepting BGP connections: on both families, and telling them from our own.

Only the first host listens
    ``CoreService._run`` loops over ``bgp_server_hosts`` and calls
    ``server_thread.wait()`` inside the loop, so it blocks on the first host's
    listener forever: with the default ``('0.0.0.0', '::')`` a passive speaker
    never accepts an IPv6 peer.  The core is started with port 0 (no listener)
    and :func:`listen` opens one listener per family through the core's own
    ``_listen_tcp``, registered in ``listen_sockets`` before neighbors are
    added so that their TCP MD5 keys are set on both.

Direction guessed from port 179
    ``CoreService.build_protocol`` calls a connection "reactive" (accepted)
    unless the *remote* port is 179.  A connection ryu-kovn opens to a peer on
    any other port (``neighbor_port``) is taken for an incoming one and, in
    active mode, rejected with a Cease.  :func:`install` decides by a fact
    instead: a connection is accepted exactly when its local port is one the
    core listens on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

LOG = logging.getLogger(__name__)
_MARK = "_ryu_kovn_listeners"


def listen(core: Any, hosts: Iterable[str], port: int) -> None:
    for host in hosts:
        _server, sockets = core._listen_tcp((host, port), core.start_protocol)
        if not sockets:
            raise OSError(f"cannot listen for BGP on [{host}]:{port} (see the log above)")
        core.listen_sockets.update(sockets)
        LOG.info("accepting BGP sessions on [%s]:%d", host, port)


def install() -> None:
    from ryu.services.protocols.bgp.core import CoreService

    if getattr(CoreService, _MARK, False):
        return

    def build_protocol(self, socket):  # type: ignore[no-untyped-def]
        listening = {address[1] for address in getattr(self, "listen_sockets", {})}
        _, local_port = self.get_localname(socket)
        return self.protocol(
            socket, self._signal_bus, is_reactive_conn=int(local_port) in listening
        )

    CoreService.build_protocol = build_protocol
    setattr(CoreService, _MARK, True)
