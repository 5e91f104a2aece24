"""Log lines an operator can grep: time, level, component, message; no secrets.

Ryu's handlers print the bare message.  Every handler ryu-manager set up gets
a format with the level and the logger's name (the component), and the
password filter of :mod:`ryu_kovn.redaction`, unless the operator brought
their own logging configuration (``--log-config-file``), which is left alone
apart from the filter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ryu_kovn import redaction

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Ryu's BGP core is chatty at INFO about its own internals (every peer
# activity start and stop); its warnings and errors still come through.
_QUIET_AT_INFO = ("bgpspeaker.base", "bgpspeaker.peer", "bgpspeaker.speaker")


def setup(secrets: Iterable[str], own_config: bool) -> None:
    root = logging.getLogger()
    if not own_config:
        for handler in root.handlers:
            handler.setFormatter(logging.Formatter(FORMAT))
        if root.level > logging.DEBUG:
            for name in _QUIET_AT_INFO:
                logging.getLogger(name).setLevel(logging.WARNING)
    redaction.install(secrets)
