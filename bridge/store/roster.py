"""The household roster and newcomers' verification requests, decided by the committee."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from bridge.store.database import Database
from bridge.store.models import RosterHousehold, VerificationRequest


class RosterStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------ roster

    async def import_roster(
        self,
        compound: str,
        rows: list[tuple[str, str, str, str, list[str], list[str]]],
        now: datetime,
    ) -> int:
        """Insert or update roster households (building, unit, room, area, owners, hashes)."""
        async with self.db.transaction(touches="roster") as session:
            existing = {
                (r.building, r.unit, r.room): r
                for r in (
                    await session.execute(
                        select(RosterHousehold).where(RosterHousehold.compound == compound)
                    )
                ).scalars()
            }
            for building, unit, room, area, owners, hashes in rows:
                row = existing.get((building, unit, room))
                if row is None:
                    session.add(
                        RosterHousehold(
                            compound=compound,
                            building=building,
                            unit=unit,
                            room=room,
                            floor_area=area,
                            owners=owners,
                            phone_hashes=hashes,
                            imported_at=now,
                        )
                    )
                else:
                    row.floor_area, row.owners, row.phone_hashes = area, owners, hashes
                    row.imported_at = now
        return len(rows)

    async def roster_size(self, compound: str) -> int:
        async with self.db.sessions() as session:
            return int(
                (
                    await session.execute(
                        select(func.count()).where(RosterHousehold.compound == compound)
                    )
                ).scalar_one()
            )

    async def households(self, compound: str) -> list[tuple[str, str, str]]:
        """Every household of the compound's roster: (building, unit, room)."""
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(RosterHousehold.building, RosterHousehold.unit, RosterHousehold.room).where(
                    RosterHousehold.compound == compound
                )
            )
            return [(b, u, r) for b, u, r in rows]

    async def roster_owners(
        self, compound: str, building: str, unit: str, room: str
    ) -> list[str] | None:
        """The household's owners' names, or None when the roster has no such household."""
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(RosterHousehold).where(
                        RosterHousehold.compound == compound,
                        RosterHousehold.building == building,
                        RosterHousehold.unit == unit,
                        RosterHousehold.room == room,
                    )
                )
            ).scalar_one_or_none()
            return list(row.owners) if row is not None else None

    # ------------------------------------------------------------ verification requests

    async def request_verification(
        self,
        compound: str,
        user_id: str,
        household: tuple[str, str, str],
        name: str,
        source_event_id: str,
        lobby_room_id: str,
        now: datetime,
    ) -> tuple[VerificationRecord, bool]:
        """A new pending request, or the one this event already made (reprocessing)."""
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    select(VerificationRequest).where(
                        VerificationRequest.source_event_id == source_event_id
                    )
                )
            ).scalar_one_or_none()
            if row is not None:
                return _request(row), False
            building, unit, room = household
            row = VerificationRequest(
                compound=compound,
                user_id=user_id,
                building=building,
                unit=unit,
                room=room,
                name=name,
                status="pending",
                source_event_id=source_event_id,
                lobby_room_id=lobby_room_id,
                requested_at=now,
            )
            session.add(row)
            await session.flush()
            return _request(row), True

    async def pending_request_of(self, compound: str, user_id: str) -> VerificationRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(VerificationRequest).where(
                        VerificationRequest.compound == compound,
                        VerificationRequest.user_id == user_id,
                        VerificationRequest.status == "pending",
                    )
                )
            ).scalar_one_or_none()
            return _request(row) if row is not None else None

    async def verification(self, compound: str, request_id: int) -> VerificationRecord | None:
        async with self.db.sessions() as session:
            row = await session.get(VerificationRequest, request_id)
            return _request(row) if row is not None and row.compound == compound else None

    async def decide(
        self,
        request_id: int,
        status: str,
        by: str,
        now: datetime,
        event_id: str,
        reason: str | None = None,
    ) -> None:
        """Record the committee's decision, made by the command `event_id` (once: a pending
        request only)."""
        async with self.db.transaction() as session:
            await session.execute(
                update(VerificationRequest)
                .where(
                    VerificationRequest.id == request_id, VerificationRequest.status == "pending"
                )
                .values(
                    status=status,
                    decided_by=by,
                    decided_at=now,
                    reason=reason,
                    decision_event_id=event_id,
                )
            )

    async def pending(self, compound: str) -> list[tuple[VerificationRecord, datetime]]:
        """A compound's requests waiting for the committee, oldest first, with when each came."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(VerificationRequest)
                    .where(
                        VerificationRequest.compound == compound,
                        VerificationRequest.status == "pending",
                    )
                    .order_by(VerificationRequest.id)
                )
            ).scalars()
            return [(_request(r), r.requested_at) for r in rows]


@dataclass(frozen=True)
class VerificationRecord:
    id: int
    compound: str
    user_id: str
    building: str
    unit: str
    room: str
    name: str | None
    status: str
    lobby_room_id: str
    source_event_id: str
    decision_event_id: str | None = None


def _request(row: VerificationRequest) -> VerificationRecord:
    return VerificationRecord(
        row.id,
        row.compound,
        row.user_id,
        row.building,
        row.unit,
        row.room,
        row.name,
        row.status,
        row.lobby_room_id,
        row.source_event_id,
        row.decision_event_id,
    )
