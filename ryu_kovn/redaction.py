"""Keep secrets out of every log line, whoever writes it.

Ryu, eventlet and the kubernetes client log and raise with their own texts;
any of them could carry the BGP password (Ryu's API logged it at INFO).  A
filter on every handler replaces each registered secret with ``***`` in the
final message and in formatted tracebacks, so one mistake anywhere cannot put
it on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "***"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install(secrets: Iterable[str], root: logging.Logger | None = None) -> RedactSecrets:
    """Attach the filter to every handler that exists now (call after log set-up)."""
    flt = RedactSecrets(secrets)
    loggers = [root or logging.getLogger()]
    loggers += [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            handler.addFilter(flt)
    return flt
