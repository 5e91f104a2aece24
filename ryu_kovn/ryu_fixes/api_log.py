"""Silence the per-call argument log of Ryu's BGP API.

``ryu.services.protocols.bgp.api.base.call`` logs
``"API method %s called with args: %s"`` at INFO for every call.  For
``neighbor.create`` that prints the TCP MD5 password in clear, and for
``network.add`` it writes one line per announced prefix (100k lines for a large
cluster).  ryu-kovn logs its own summaries, so these records are dropped.
"""

from __future__ import annotations

import logging

_LOGGER = "bgpspeaker.api.base"
_TEMPLATE = "API method %s called with args: %s"


class _DropCallArguments(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != _TEMPLATE


def install() -> None:
    logger = logging.getLogger(_LOGGER)
    if not any(isinstance(f, _DropCallArguments) for f in logger.filters):
        logger.addFilter(_DropCallArguments())
