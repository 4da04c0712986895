"""The logger Linli's HTTP listeners give aiohttp (the appservice port, which also serves the
webhooks and /health, and the metrics port).

A request aiohttp cannot parse (a header over 8 KB, a broken request line) comes from whoever
can reach the port, without a token: aiohttp logs it at ERROR with a traceback whose message
quotes the offending header. Here it is one WARNING line naming the kind of error, never the
header, so a stranger cannot fill the log or write into it. Every other record passes as is.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

LOGGER_NAME = "bridge.http"


class MalformedRequests(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "refused a request from %s that is not valid HTTP (%s, answered %s)"
            record.args = (remote, type(error).__name__, error.code)
            record.exc_info, record.exc_text = None, None
        return True


def server_logger() -> logging.Logger:
    """The logger for `web.AppRunner(..., logger=server_logger())`."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(f, MalformedRequests) for f in logger.filters):
        logger.addFilter(MalformedRequests())
    return logger
