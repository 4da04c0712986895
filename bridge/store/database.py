"""The database connection and its schema version: migrations run at start, never create_all()."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseTooNew(RuntimeError):
    """The database was written by a newer Linli; running older code on it could corrupt it."""


class DatabaseUnavailable(RuntimeError):
    """The database could not be opened (a server that does not answer, a file that cannot be
    created): said in one line, with the URL's password left out."""

    @classmethod
    def of(cls, url: str, error: BaseException) -> DatabaseUnavailable:
        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return cls(
            f"the database {shown} cannot be opened ({type(error).__name__}: {reason}); "
            "check database.url in bridge.yaml, and that its server runs"
        )


def _alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


class Database:
    def __init__(
        self, url: str, sqlite_synchronous: str = "full", *, bind: AsyncConnection | None = None
    ) -> None:
        """`bind`: work inside that connection's open transaction instead of an engine of its
        own (each unit of work a savepoint in it), for a caller that rolls it all back
        (`linli plan`, bridge/store/read_only.py)."""
        self.url = url
        # Counts write transactions: the inbox worker uses it to see whether handling an event
        # changed anything, and caches use it to know when to reload.
        self.writes = 0
        # Bumped by the repositories whose tables the dispatcher caches (rooms, people).
        self.generations: Counter[str] = Counter()
        self.engine: AsyncEngine
        if bind is not None:
            self.engine = bind.engine
            self.sessions = async_sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            return
        sqlite = url.startswith("sqlite")
        # Every unit of work here ends in a commit or a rollback (a connection closed inside a
        # transaction rolls it back), so SQLite's extra rollback when a connection goes back to
        # the pool is a wasted round trip to aiosqlite's thread on every query.
        # hide_parameters: a failed statement's error (logged, and stored with a failed inbox
        # entry) would otherwise quote its parameters: residents' names and messages.
        self.engine = create_async_engine(
            url, pool_reset_on_return=None if sqlite else "rollback", hide_parameters=True
        )
        if sqlite:
            synchronous = {"full": "FULL", "normal": "NORMAL"}[sqlite_synchronous]

            def pragmas(dbapi_connection: Any, _record: Any) -> None:
                # WAL lets the scheduler read while the appservice writes; foreign keys are
                # off by default in SQLite.
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute(f"PRAGMA synchronous={synchronous}")
                cursor.close()

            event.listen(self.engine.sync_engine, "connect", pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self, *, touches: str | None = None) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back if it raises.

        `touches`: the cached domain ("rooms", "people", ...) it changes. Its generation is
        bumped after the commit, never before: a reader running meanwhile sees the old rows
        under the old generation, and reloads once the new one is visible."""
        self.writes += 1
        try:
            async with self.sessions() as session, session.begin():
                yield session
        finally:
            if touches is not None:
                self.generations[touches] += 1

    async def migrate(self, target: str = "head") -> None:
        """Upgrade the schema; refuse a database whose revision this code does not know."""
        async with self.engine.begin() as conn:
            await conn.run_sync(self.upgrade, target)

    async def current_revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )

    @staticmethod
    def head_revision() -> str:
        """The schema revision this code writes."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        assert head is not None
        return head

    @staticmethod
    def revision_of(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def upgrade(connection: Connection, target: str) -> None:
        """Bring the schema on `connection` to `target`, inside its transaction."""
        cfg = _alembic_config(connection)
        current = MigrationContext.configure(connection).get_current_revision()
        known = {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}
        if current is not None and current not in known:
            raise DatabaseTooNew(
                f"the database is at schema revision {current}, which this version of Linli "
                "does not know; upgrade Linli before starting it on this database"
            )
        command.upgrade(cfg, target)

    async def ping(self) -> None:
        """One round trip to the database (the health check); raises if it does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def table_of(model: type[Any]) -> Table:
    """The Core table of an ORM model, for statements run many times: a Core INSERT with
    parameters is compiled once and cached, where the ORM's unit of work costs more per row."""
    return cast(Table, model.__table__)


def insert_ignoring_duplicates(bind: AsyncSession | AsyncConnection, model: Any) -> Any:
    """An INSERT that skips rows violating a unique key, in the SQL dialect of the session or
    connection."""
    dialect = bind.get_bind().dialect if isinstance(bind, AsyncSession) else bind.dialect
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model).on_conflict_do_nothing()
