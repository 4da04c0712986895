"""One Linli per database, and the SQLite database's backup and restore (`linli run`,
`linli backup`, `linli restore`): what touches the database file itself, beside the CLI."""

from __future__ import annotations

import fcntl
import socket
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from bridge.app import StartError
from bridge.config import BridgeConfig


@contextmanager
def single_instance(config: BridgeConfig, *, check_port: bool = True) -> Iterator[None]:
    """One Linli per database (DESIGN.md): a second `run` on the same SQLite file stops at
    once, before touching the homeserver, and so does one whose port is taken."""
    lock = None
    path = sqlite_path(config.database.url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.with_name(path.name + ".lock"), "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise StartError(
                f"another Linli is running on {path}; stop it first (one Linli per database)"
            ) from None
    try:
        if check_port:
            _port_free(config)
        yield
    finally:
        if lock is not None:
            lock.close()


def _port_free(config: BridgeConfig) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.appservice.listen_host, config.appservice.listen_port))
        except OSError as e:
            raise StartError(
                f"cannot listen on {config.appservice.listen_host}:"
                f"{config.appservice.listen_port} ({e.strerror}); another program uses it, "
                "or change appservice.listen_port (and the registration's url)"
            ) from None


def backup_database(config: BridgeConfig, output: Path) -> int:
    """A consistent copy of the SQLite database while Linli runs (SQLite's online backup: a
    plain `cp` of a WAL database is not safe), readable by its owner alone, checked by reading
    its schema revision back. PostgreSQL is backed up with pg_dump (docs/self-hosting.md)."""
    source = sqlite_path(config.database.url)
    if source is None:
        print(
            "linli: the database is not a SQLite file; back it up with pg_dump "
            "(docs/self-hosting.md, Backups)",
            file=sys.stderr,
        )
        return 2
    if not source.exists():
        print(f"linli: no database at {source}", file=sys.stderr)
        return 2
    if output.exists():
        print(f"linli: {output} exists; name a new file", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.touch(mode=0o600)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(output)) as dst:
        src.backup(dst)
        revision = dst.execute("SELECT version_num FROM alembic_version").fetchone()
    output.chmod(0o600)
    print(f"wrote {output} (schema revision {revision[0] if revision else 'none'})")
    return 0


def restore_database(config: BridgeConfig, backup: Path) -> int:
    """Put a backup made by `linli backup` back, Linli stopped (the database's lock is free)."""
    target = sqlite_path(config.database.url)
    if target is None:
        print(
            "linli: the database is not a SQLite file; restore it with pg_restore", file=sys.stderr
        )
        return 2
    if not backup.is_file():
        print(f"linli: no backup at {backup}", file=sys.stderr)
        return 2
    with closing(sqlite3.connect(backup)) as check:
        found = check.execute(
            "SELECT name FROM sqlite_master WHERE name = 'alembic_version'"
        ).fetchone()
    if found is None:
        print(f"linli: {backup} is not a Linli database", file=sys.stderr)
        return 2
    with single_instance(config, check_port=False):  # refuses while Linli runs
        for extra in (target.with_name(target.name + s) for s in ("-wal", "-shm")):
            extra.unlink(missing_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        target.touch(mode=0o600)
        with closing(sqlite3.connect(backup)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        target.chmod(0o600)
    print(f"restored {target} from {backup}; start Linli again")
    return 0


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1]
    return Path(path) if path and path != ":memory:" else None
