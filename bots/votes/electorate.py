"""Who may vote, read from the plumbing's tables (residents, roster) without changing them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from bridge.store.database import Database
from bridge.store.models import Resident, RosterHousehold


@dataclass(frozen=True)
class Voter:
    user_id: str
    household: str  # "3-2-1101"
    is_owner: bool


def household_name(building: str, unit: str, room: str) -> str:
    return f"{building}-{unit}-{room}"


def electorate_of(
    eligibility: str, voters: Sequence[Voter], areas: dict[str, Decimal]
) -> dict[str, Decimal]:
    """Who may vote and with which weight, as the roster and residents stand now (the same
    rule as the SQL of a formal close, `tally_store._electorate`)."""
    if eligibility == "owners":
        return dict(areas)
    one = Decimal(1)
    if eligibility == "households":
        return {v.household: one for v in voters}
    return {v.user_id: one for v in voters}


class ElectorateStore:
    """Voters, households and floor areas of a compound, as they stand now."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def voter(self, compound: str, user_id: str) -> Voter | None:
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
            return Voter(
                row.user_id, household_name(row.building, row.unit, row.room), row.is_owner
            )

    async def voters(self, compound: str) -> list[Voter]:
        # Columns, not ORM objects: an owners' vote may read 100,000 of them at its close.
        async with self.db.sessions() as session:
            connection = await session.connection()
            rows = await connection.execute(
                select(
                    Resident.user_id,
                    Resident.building,
                    Resident.unit,
                    Resident.room,
                    Resident.is_owner,
                )
                .where(Resident.compound == compound)
                .order_by(Resident.id)
            )
            return [Voter(user, household_name(b, u, r), owner) for user, b, u, r, owner in rows]

    async def area_of(self, compound: str, household: str) -> Decimal | None:
        """One household's floor area, or None when the roster does not have it."""
        building, unit, room = [*household.split("-"), "", "", ""][:3]
        async with self.db.sessions() as session:
            area = (
                await session.execute(
                    select(RosterHousehold.floor_area).where(
                        RosterHousehold.compound == compound,
                        RosterHousehold.building == building,
                        RosterHousehold.unit == unit,
                        RosterHousehold.room == room,
                    )
                )
            ).scalar_one_or_none()
            return Decimal(area) if area is not None else None

    async def floor_areas(self, compound: str) -> dict[str, Decimal]:
        """Every roster household and its floor area, exact (the roster keeps it as text)."""
        async with self.db.sessions() as session:
            connection = await session.connection()
            rows = await connection.execute(
                select(
                    RosterHousehold.building,
                    RosterHousehold.unit,
                    RosterHousehold.room,
                    RosterHousehold.floor_area,
                ).where(RosterHousehold.compound == compound)
            )
            return {f"{b}-{u}-{r}": Decimal(area) for b, u, r, area in rows}
