"""Rooms Linli provisioned: their IDs and the state last applied to each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bridge.store.database import Database
from bridge.store.models import ProvisionedRoom


@dataclass(frozen=True)
class RoomRecord:
    key: str
    room_id: str
    compound: str | None
    state: dict[str, Any]
    archived: bool


def _record(row: ProvisionedRoom) -> RoomRecord:
    return RoomRecord(row.key, row.room_id, row.compound, dict(row.state), row.archived)


class RoomStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> dict[str, RoomRecord]:
        async with self.db.sessions() as session:
            rows = (await session.execute(select(ProvisionedRoom))).scalars()
            return {row.key: _record(row) for row in rows}

    async def by_room_id(self, room_id: str) -> RoomRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(ProvisionedRoom).where(ProvisionedRoom.room_id == room_id)
                )
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def by_key(self, key: str) -> RoomRecord | None:
        async with self.db.sessions() as session:
            row = await session.get(ProvisionedRoom, key)
            return _record(row) if row is not None else None

    async def save(
        self,
        key: str,
        room_id: str,
        compound: str | None,
        state: dict[str, Any],
        now: datetime,
        archived: bool = False,
    ) -> None:
        async with self.db.transaction(touches="rooms") as session:
            row = await session.get(ProvisionedRoom, key)
            if row is None:
                session.add(
                    ProvisionedRoom(
                        key=key,
                        room_id=room_id,
                        compound=compound,
                        state=state,
                        archived=archived,
                        updated_at=now,
                    )
                )
            else:
                row.room_id = room_id
                row.compound = compound
                row.state = dict(state)
                row.archived = archived
                row.updated_at = now
