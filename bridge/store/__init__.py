"""The store: one Database and the plumbing's repositories, with methods named by intent.
A bot's own repository lives in its folder (`bots/<name>/store.py`) and is built by the bot
from `store.db`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError

from bridge.store.database import Database, DatabaseUnavailable
from bridge.store.inbox import InboxStore
from bridge.store.jobs import JobStore
from bridge.store.outbox import OutboxStore
from bridge.store.people import PeopleStore
from bridge.store.rooms import RoomStore
from bridge.store.roster import RosterStore


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.inbox = InboxStore(db)
        self.rooms = RoomStore(db)
        self.people = PeopleStore(db)
        self.roster = RosterStore(db)
        self.jobs = JobStore(db)
        self.outbox = OutboxStore(db)

    @classmethod
    async def open(cls, url: str, sqlite_synchronous: str = "full") -> Store:
        """Connect and bring the schema to this code's revision (refusing a newer database)."""
        _make_sqlite_folder(url)
        db = Database(url, sqlite_synchronous)
        try:
            await db.migrate()
        except (OSError, OperationalError, InterfaceError) as e:
            await db.close()
            raise DatabaseUnavailable.of(url, e) from e
        except BaseException:
            await db.close()
            raise
        _owner_only(url)
        return cls(db)

    async def close(self) -> None:
        await self.db.close()


def _make_sqlite_folder(url: str) -> None:
    """SQLite creates its file but not the folder for it (`linli init` names data/linli.db)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _owner_only(url: str) -> None:
    """The database holds residents' names and households: readable by Linli's user alone
    (its WAL and shared-memory files too, which SQLite creates with the same mode)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if file.exists():
                file.chmod(0o600)


__all__ = ["Database", "Store"]
