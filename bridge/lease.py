"""One Linli at a time on a PostgreSQL database, and a second one standing by to take over.

Two Linli processes handling the same inbox and firing the same jobs would each answer every
resident (derived transaction IDs keep duplicates out only while the homeserver remembers
them). So `linli run` on PostgreSQL first takes a session advisory lock on the database and
holds it, on a connection of its own, for as long as it runs; a second `linli run` finds the
lock taken and waits as the standby, trying again every `poll` seconds, without listening,
applying or handling anything. When the holder dies (SIGKILL included) PostgreSQL ends its
session and releases the lock; the standby takes it within `poll` seconds and starts as any
Linli does: the inbox's pending events and the due jobs first, then a ping that makes the
homeserver deliver what queued up meanwhile.

A holder that loses its connection (the database restarted, a network cut) can no longer be
sure nobody else holds the lock, so it stops at once (exit code 75, "try again"), leaving the
next start to its supervisor (Docker's restart policy, systemd): crash-only, which the inbox,
the derived transaction IDs and the claimed jobs make safe at any moment.

SQLite needs none of this: its database is a file on one machine, and bridge/instance.py's
file lock already refuses a second Linli there.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# pg_advisory_lock's key: "Linli" in ASCII. Every Linli on the database takes the same one.
LOCK_KEY = 0x4C696E6C69
LOST_LEASE_EXIT = 75


def uses_lease(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


def where(database_url: str) -> str:
    """The database as a log line may name it: host and name, never a password."""
    url = make_url(database_url)
    return f"{url.host or 'localhost'}/{url.database}"


def _dsn(database_url: str) -> str:
    """asyncpg's own URL for SQLAlchemy's (the password, if not in it, from PGPASSWORD)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Lease:
    """The advisory lock, on a connection held open by this process."""

    def __init__(self, database_url: str, *, poll: float = 1.0) -> None:
        self.dsn = _dsn(database_url)
        self.poll = poll
        self.held = False
        self._conn: Any = None  # an asyncpg connection
        self._watch: asyncio.Task[None] | None = None

    async def acquire(self, waiting: Callable[[], None] | None = None) -> None:
        """Until this process holds the lock; `waiting` is called once if another holds it."""
        import asyncpg

        told = False
        while True:
            try:
                if self._conn is None:
                    self._conn = await asyncpg.connect(self.dsn)
                got = await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                log.warning("cannot reach the database for the lease (%s); trying again", e)
                await self._close()
                got = False
            if got:
                self.held = True
                return
            if not told and waiting is not None:
                waiting()
                told = True
            await asyncio.sleep(self.poll)

    def watch(self, lost: Callable[[], None] | None = None) -> None:
        """From now, check the lock's connection every `poll` seconds; if it is gone, `lost`
        (by default: stop the process at once, see the module's docstring)."""
        self._watch = asyncio.create_task(self._watching(lost or _stop_now), name="lease watch")

    async def _watching(self, lost: Callable[[], None]) -> None:
        import asyncpg

        while True:
            await asyncio.sleep(self.poll)
            try:
                assert self._conn is not None
                async with asyncio.timeout(max(5.0, self.poll * 5)):
                    await self._conn.fetchval("SELECT 1")
            except (
                OSError,
                TimeoutError,
                AssertionError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
            ) as e:
                self.held = False
                log.error("lost the database lease (%s): stopping, another Linli may run", e)
                lost()
                return

    async def release(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self.held = False
        await self._close()  # ending the session releases the lock

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # a dead connection has nothing left to close
                pass


def _stop_now() -> None:
    logging.shutdown()
    os._exit(LOST_LEASE_EXIT)
