"""Files that hold tokens or passwords (bridge.yaml, the registration file, the demo's accounts):
written readable by their owner only, from the first byte."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

SECRET_MODE = 0o600


def write_secret(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` with mode 0600.

    A new file is created with that mode, so its text is never readable by others, not even for
    a moment. An existing file is rewritten in place (its owner and group stay) and loses every
    permission for others before its new text goes in; a read permission its group was given
    stays, provided others could not read it: a homeserver running as another user reads the
    registration file through its group, and writing the file again must not lock it out. A
    world-readable file (written before Linli restricted them) becomes 0600.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, SECRET_MODE)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        group_read = mode & stat.S_IRGRP if not mode & stat.S_IROTH else 0
        os.fchmod(fd, SECRET_MODE | group_read)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            fd = -1  # the file object owns it now
            file.write(text)
    finally:
        if fd != -1:
            os.close(fd)
    return path


def ensure_secret_key(path: Path) -> bytes:
    """A random key kept in a file of its own (mode 0600, never in the database): read, or
    made (32 random bytes, as hex) when the file does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_secret(path, secrets.token_hex(32) + "\n")
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise ValueError(f"{path}: the key is too short (at least 32 characters)")
    return key.encode()
