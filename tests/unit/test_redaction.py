from __future__ import annotations

import io
import logging

from ryu_kovn.redaction import MASK, install


def _logger_with_stream() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger("test-redaction")
    logger.handlers = [logging.StreamHandler(stream)]
    logger.propagate = False
    return logger, stream


def test_secret_is_masked_in_messages_args_and_tracebacks():
    logger, stream = _logger_with_stream()
    install(["hunter2-unique"], root=logger)
    logger.warning("password is %s", "hunter2-unique")
    try:
        raise ValueError("bad key hunter2-unique")
    except ValueError:
        logger.exception("failed with %r", {"password": "hunter2-unique"})
    text = stream.getvalue()
    assert "hunter2-unique" not in text
    assert text.count(MASK) == 4
    assert "ValueError" in text  # the traceback itself is kept


def test_nothing_registered_changes_nothing():
    logger, stream = _logger_with_stream()
    install([], root=logger)
    logger.warning("plain %d", 1)
    assert stream.getvalue() == "plain 1\n"
