"""Linli's database as `linli plan` reads it: nothing created, migrated or written.

SQLite: the file is copied into memory (SQLite's backup API) and the copy brought to this
code's schema; a missing file is an empty database. The file is opened read-only, and while no
Linli holds it open (no `-wal` file beside it) as immutable: a plain read-only open of a WAL
database would leave new `-wal` and `-shm` files behind.
PostgreSQL: one connection whose transaction, migrations included, is rolled back at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

from bridge.store import Store
from bridge.store.database import Database, DatabaseUnavailable


@asynccontextmanager
async def read_only_store(url: str) -> AsyncIterator[tuple[Store, str | None]]:
    """A store to read from, and what to say about the database itself (None: it is
    at this code's schema revision). A database newer than the code raises DatabaseTooNew."""
    engine, note = _engine(url)
    try:
        try:
            connection = await engine.connect()
        except (OSError, OperationalError, InterfaceError) as e:
            raise DatabaseUnavailable.of(url, e) from e
        try:
            await connection.begin()
            current = await connection.run_sync(Database.revision_of)
            head = Database.head_revision()
            if note is None and current is None:
                note = "the database holds no schema yet; apply (or run) creates it"
            elif note is None and current != head:
                note = (
                    f"the database is at schema revision {current}: `linli db upgrade` "
                    f"(or apply, or run) migrates it to {head}; planned as if migrated"
                )
            await connection.run_sync(Database.upgrade, "head")
            yield Store(Database(url, bind=connection)), note
        finally:
            await connection.rollback()
            await connection.close()
    finally:
        await engine.dispose()


def _engine(url: str) -> tuple[AsyncEngine, str | None]:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, poolclass=NullPool, hide_parameters=True), None
    path = Path(parsed.database) if parsed.database not in (None, "", ":memory:") else None
    source = path if path is not None and path.exists() else None

    async def in_memory_copy() -> aiosqlite.Connection:
        copy = await aiosqlite.connect(":memory:")
        if source is not None:
            mode = "mode=ro" if source.with_name(source.name + "-wal").exists() else "immutable=1"
            original = await aiosqlite.connect(f"{source.resolve().as_uri()}?{mode}", uri=True)
            try:
                await original.backup(copy)
            finally:
                await original.close()
        return copy

    engine = create_async_engine(
        "sqlite+aiosqlite://",
        async_creator=in_memory_copy,
        poolclass=StaticPool,
        hide_parameters=True,
    )
    note = None
    if path is not None and source is None:
        note = f"the database {path} does not exist yet; apply (or run) creates it"
    return engine, note
