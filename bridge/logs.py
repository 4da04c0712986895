"""How Linli logs: one line per record, with a UTC timestamp, the level and the logger's name,
as text or as JSON lines (`linli --log-format json`, for a log collector).

What never reaches a log: tokens and secrets (masked wherever they appear, a net under the rule
that no code logs them), and residents' names and addresses. Linli's own log lines carry Matrix
IDs and event IDs only; the libraries that would print SQL with its parameters at DEBUG
(aiosqlite, SQLAlchemy's engine, asyncpg) stay at WARNING even with `-v`, and SQLAlchemy leaves
parameters out of its error messages (bridge/store/database.py).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TextIO

if TYPE_CHECKING:
    from bridge.config import LoggingConfig

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Their DEBUG output quotes SQL parameters or request bodies: residents' names and messages.
QUIET_LIBRARIES = ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "asyncpg", "alembic")
MASK = "[redacted]"
LOG_FILE_MODE = 0o600


class _UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


class JsonFormatter(_UTCFormatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class SecretMask(logging.Filter):
    """Replaces every known secret in a record's message (and its traceback) with a mask."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = _mask(message, self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if any(secret in text for secret in self.secrets):
                record.exc_info = None
                record.exc_text = _mask(text, self.secrets)
        return True


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A log file readable by its owner only (0600), and so each rotated one: the log carries
    Matrix IDs and event IDs, which a shared machine's other users have no business reading.
    A file an older Linli left readable by others is made 0600 when it is opened again."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, LOG_FILE_MODE)
        os.fchmod(fd, LOG_FILE_MODE)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def _mask(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


_mask_filter = SecretMask()


def hide(*secrets: str | None) -> None:
    """Secrets to mask from now on (the tokens and webhook secrets, once the config is read)."""
    # Short values would mask ordinary words; the config demands 16 characters or more anyway.
    _mask_filter.secrets.update(s for s in secrets if s and len(s) >= 8)


def configure(
    settings: LoggingConfig, *, verbose: bool = False, fmt: LogFormat | None = None
) -> None:
    """Logging as bridge.yaml's `logging:` says: its level (DEBUG with `-v`), format (the
    command line's `--log-format` wins when given), file with rotation, levels per logger."""
    handler: logging.Handler
    if settings.file is not None:
        settings.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = PrivateRotatingFileHandler(
            settings.file,
            maxBytes=settings.max_bytes,
            backupCount=settings.backups,
            encoding="utf-8",
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
    _install(handler, fmt or settings.format, logging.DEBUG if verbose else settings.level)
    for name, level in settings.levels.items():  # asked for by name: the operator's choice
        logging.getLogger(name).setLevel(level)


def setup(verbose: bool = False, fmt: LogFormat = "text", stream: TextIO | None = None) -> None:
    """Configure the root logger (again, if called twice): one handler, one format."""
    level = logging.DEBUG if verbose else logging.INFO
    _install(logging.StreamHandler(stream or sys.stderr), fmt, level)


def _install(handler: logging.Handler, fmt: LogFormat, level: int | str) -> None:
    """The root logger's one handler, its format and level; the quiet libraries quiet."""
    handler.setFormatter(JsonFormatter() if fmt == "json" else _UTCFormatter(TEXT_FORMAT))
    handler.addFilter(_mask_filter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
