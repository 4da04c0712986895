"""Residents bound to households, and resident roles granted at run time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, select, update

from bridge.roles import Role
from bridge.store.database import Database, table_of
from bridge.store.models import (
    DirectRoom,
    InboxEvent,
    PersonalMessage,
    Resident,
    RoleGrant,
    VerificationRequest,
)


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
        self,
        compound: str,
        user_id: str,
        building: str,
        unit: str,
        room: str,
        now: datetime,
        *,
        name: str | None = None,
        is_owner: bool = False,
    ) -> None:
        async with self.db.transaction(touches="people") as session:
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
                        name=name,
                        is_owner=is_owner,
                    )
                )
            else:
                row.building, row.unit, row.room = building, unit, room
                row.name, row.is_owner, row.verified_at = name, is_owner, now

    async def residents(self, compound: str) -> list[ResidentRecord]:
        # Plain rows through the session's connection, not ORM objects: a compound has
        # thousands (a notice's reach reads them all). The session's, not one of the engine's:
        # `linli plan` works inside one connection it rolls back (bridge/store/read_only.py).
        columns = (Resident.compound, Resident.user_id, Resident.building, Resident.unit)
        async with self.db.sessions() as session:
            conn = await session.connection()
            rows = await conn.execute(
                select(*columns, Resident.room)
                .where(Resident.compound == compound)
                .order_by(Resident.id)
            )
            return [ResidentRecord(*row) for row in rows.all()]

    async def buildings_of_all(self) -> dict[str, dict[str, str]]:
        """Every compound's verified residents and their buildings, in one query (a plan of a
        thousand compounds asks once, not a thousand times)."""
        async with self.db.sessions() as session:
            conn = await session.connection()
            rows = await conn.execute(
                select(Resident.compound, Resident.user_id, Resident.building).order_by(Resident.id)
            )
            found: dict[str, dict[str, str]] = {}
            for compound, user_id, building in rows.all():
                found.setdefault(compound, {})[user_id] = building
            return found

    async def grants_of_all(self) -> dict[str, dict[str, frozenset[Role]]]:
        """Every compound's role grants, in one query."""
        async with self.db.sessions() as session:
            conn = await session.connection()
            rows = await conn.execute(select(RoleGrant.compound, RoleGrant.user_id, RoleGrant.role))
            found: dict[str, dict[str, set[Role]]] = {}
            for compound, user_id, role in rows.all():
                found.setdefault(compound, {}).setdefault(user_id, set()).add(Role(role))
            return {
                compound: {user: frozenset(roles) for user, roles in users.items()}
                for compound, users in found.items()
            }

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
        async with self.db.transaction(touches="people") as session:
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
        async with self.db.transaction(touches="people") as session:
            result = await session.execute(
                delete(RoleGrant).where(
                    RoleGrant.compound == compound,
                    RoleGrant.user_id == user_id,
                    RoleGrant.role == role.value,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def resident(self, compound: str, user_id: str) -> ResidentRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(Resident).where(
                        Resident.compound == compound, Resident.user_id == user_id
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            return ResidentRecord(row.compound, row.user_id, row.building, row.unit, row.room)

    async def unbind(self, compound: str, user_id: str) -> bool:
        """Move a resident out: the household binding and resident roles go."""
        async with self.db.transaction(touches="people") as session:
            result = await session.execute(
                delete(Resident).where(Resident.compound == compound, Resident.user_id == user_id)
            )
            await session.execute(
                delete(RoleGrant).where(
                    RoleGrant.compound == compound, RoleGrant.user_id == user_id
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def show_role(self, compound: str, user_id: str, role: Role, shown: bool) -> bool:
        async with self.db.transaction(touches="people") as session:
            result = await session.execute(
                update(RoleGrant)
                .where(
                    RoleGrant.compound == compound,
                    RoleGrant.user_id == user_id,
                    RoleGrant.role == role.value,
                )
                .values(shown=shown)
            )
            return bool(getattr(result, "rowcount", 0))

    async def shown(self, compound: str, role: Role) -> list[str]:
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(RoleGrant.user_id).where(
                    RoleGrant.compound == compound,
                    RoleGrant.role == role.value,
                    RoleGrant.shown.is_(True),
                )
            )
            return sorted(r[0] for r in rows.all())

    # ------------------------------------------------------------ personal data

    async def export(self, user_id: str) -> dict[str, Any]:
        """Everything stored about a person, by compound (for `!me` and `!me export`)."""
        async with self.db.sessions() as session:
            residents = (
                await session.execute(select(Resident).where(Resident.user_id == user_id))
            ).scalars()
            grants = (
                await session.execute(select(RoleGrant).where(RoleGrant.user_id == user_id))
            ).scalars()
            requests = (
                await session.execute(
                    select(VerificationRequest).where(VerificationRequest.user_id == user_id)
                )
            ).scalars()
            return {
                "user_id": user_id,
                "households": [
                    {
                        "compound": r.compound,
                        "household": f"{r.building}-{r.unit}-{r.room}",
                        "name": r.name,
                        "owner": r.is_owner,
                        "verified_at": r.verified_at.isoformat(),
                    }
                    for r in residents
                ],
                "roles": [
                    {"compound": g.compound, "role": g.role, "shown": g.shown} for g in grants
                ],
                "verification_requests": [
                    {
                        "compound": q.compound,
                        "household": f"{q.building}-{q.unit}-{q.room}",
                        "name": q.name,
                        "status": q.status,
                        "requested_at": q.requested_at.isoformat(),
                    }
                    for q in requests
                ],
            }

    async def personal_messages(self, user_id: str) -> list[tuple[str, str]]:
        """(room, event) of Linli's messages that name this person."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(PersonalMessage.room_id, PersonalMessage.event_id).where(
                    PersonalMessage.user_id == user_id
                )
            )
            return [(room_id, event_id) for room_id, event_id in rows.all()]

    async def forget(self, user_id: str) -> None:
        """Erase a person's name, households, roles, requests, direct room and the records of
        Linli's messages naming them (redact those first), and the events they sent that the
        inbox still holds."""
        naming = PersonalMessage.user_id == user_id
        inbox = table_of(InboxEvent)
        async with self.db.transaction(touches="people") as session:
            await session.execute(delete(Resident).where(Resident.user_id == user_id))
            await session.execute(delete(RoleGrant).where(RoleGrant.user_id == user_id))
            # Requests stay as empty husks, so their numbers are never given out again (the
            # committee's room still shows the old ones, redacted).
            await session.execute(
                update(VerificationRequest)
                .where(VerificationRequest.user_id == user_id)
                .values(
                    user_id="",
                    building="",
                    unit="",
                    room="",
                    name=None,
                    reason=None,
                    status=case(
                        (VerificationRequest.status == "pending", "withdrawn"),
                        else_=VerificationRequest.status,
                    ),
                )
            )
            await session.execute(delete(DirectRoom).where(DirectRoom.user_id == user_id))
            # Handled events only: the one being handled (this very request) stays pending.
            await session.execute(
                delete(inbox).where(
                    inbox.c.body["sender"].as_string() == user_id, inbox.c.status != "pending"
                )
            )
            await session.execute(delete(PersonalMessage).where(naming))

    async def record_personal_message(
        self, user_id: str, room_id: str, event_id: str, now: datetime
    ) -> None:
        """A message of Linli's that names this person: redacted if they ask to be forgotten."""
        async with self.db.transaction() as session:
            await session.merge(
                PersonalMessage(event_id=event_id, user_id=user_id, room_id=room_id, posted_at=now)
            )

    async def direct_room(self, user_id: str) -> str | None:
        async with self.db.sessions() as session:
            row = await session.get(DirectRoom, user_id)
            return row.room_id if row is not None else None

    async def set_direct_room(self, user_id: str, room_id: str, now: datetime) -> None:
        async with self.db.transaction() as session:
            await session.merge(DirectRoom(user_id=user_id, room_id=room_id, created_at=now))
