"""Listen for BGP connections on IPv4 and IPv6 alike.

``CoreService._run`` loops over ``bgp_server_hosts`` and calls
``server_thread.wait()`` inside the loop, so it blocks on the first host's
listener forever: with the default ``('0.0.0.0', '::')`` a passive speaker
never accepts an IPv6 peer.  The core is started with port 0 (no listener) and
one listener per family is opened here through the core's own ``_listen_tcp``,
registered in ``listen_sockets`` before neighbors are added so that their TCP
MD5 keys are set on both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

LOG = logging.getLogger(__name__)


def listen(core: Any, hosts: Iterable[str], port: int) -> None:
    for host in hosts:
        _server, sockets = core._listen_tcp((host, port), core.start_protocol)
        if not sockets:
            raise OSError(f"cannot listen for BGP on [{host}]:{port} (see the log above)")
        core.listen_sockets.update(sockets)
        LOG.info("accepting BGP sessions on [%s]:%d", host, port)
