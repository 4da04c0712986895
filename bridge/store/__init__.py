"""The store: one Database and the plumbing's repositories, with methods named by intent.
A bot's own repository lives in its folder (`bots/<name>/store.py`) and is built by the bot
from `store.db`."""

from __future__ import annotations

from bridge.store.database import Database
from bridge.store.inbox import InboxStore
from bridge.store.jobs import JobStore
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

    @classmethod
    async def open(cls, url: str, sqlite_synchronous: str = "full") -> Store:
        """Connect and bring the schema to this code's revision (refusing a newer database)."""
        db = Database(url, sqlite_synchronous)
        try:
            await db.migrate()
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        await self.db.close()


__all__ = ["Database", "Store"]
