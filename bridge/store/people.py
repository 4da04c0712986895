"""Residents bound to households, and resident roles granted at run time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from bridge.roles import Role
from bridge.store.database import Database
from bridge.store.models import Resident, RoleGrant


@dataclass(frozen=True)
class ResidentRecord:
    compound: str
    user_id: str
    building: str
    unit: str
    room: str


class PeopleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def bind_household(
        self, compound: str, user_id: str, building: str, unit: str, room: str, now: datetime
    ) -> None:
        self.db.generations["people"] += 1
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    select(Resident).where(
                        Resident.compound == compound, Resident.user_id == user_id
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                session.add(
                    Resident(
                        compound=compound,
                        user_id=user_id,
                        building=building,
                        unit=unit,
                        room=room,
                        verified_at=now,
                    )
                )
            else:
                row.building, row.unit, row.room = building, unit, room

    async def residents(self, compound: str) -> list[ResidentRecord]:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Resident).where(Resident.compound == compound).order_by(Resident.id)
                )
            ).scalars()
            return [ResidentRecord(r.compound, r.user_id, r.building, r.unit, r.room) for r in rows]

    async def grants(self, compound: str) -> dict[str, frozenset[Role]]:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(select(RoleGrant).where(RoleGrant.compound == compound))
            ).scalars()
            found: dict[str, set[Role]] = {}
            for row in rows:
                found.setdefault(row.user_id, set()).add(Role(row.role))
            return {user: frozenset(roles) for user, roles in found.items()}

    async def grant(
        self, compound: str, user_id: str, role: Role, granted_by: str, now: datetime
    ) -> bool:
        """Grant a role; False if the user already had it."""
        self.db.generations["people"] += 1
        async with self.db.transaction() as session:
            existing = await session.execute(
                select(RoleGrant.id).where(
                    RoleGrant.compound == compound,
                    RoleGrant.user_id == user_id,
                    RoleGrant.role == role.value,
                )
            )
            if existing.first() is not None:
                return False
            session.add(
                RoleGrant(
                    compound=compound,
                    user_id=user_id,
                    role=role.value,
                    granted_by=granted_by,
                    granted_at=now,
                )
            )
            return True

    async def revoke(self, compound: str, user_id: str, role: Role) -> bool:
        self.db.generations["people"] += 1
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(RoleGrant).where(
                    RoleGrant.compound == compound,
                    RoleGrant.user_id == user_id,
                    RoleGrant.role == role.value,
                )
            )
            return bool(getattr(result, "rowcount", 0))
