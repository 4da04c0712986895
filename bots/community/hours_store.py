"""Check-in at an activity and the volunteer hours it credits: a person's own, the monthly
ranking, a compound's total (the erased included, unnamed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from bots.community.models import SignUp, VolunteerHours
from bots.community.rules import PARTICIPANT
from bots.community.store import ActivityRecord, StoreBase, places_of


class HoursStore(StoreBase):
    async def check_in(
        self, activity: ActivityRecord, users: list[str], *, cause: str, at: datetime, actor: str
    ) -> tuple[list[str], list[str]]:
        """Mark who came, once per cause; each volunteer among them is credited the activity's
        hours (once per activity). Returns (checked in, not on the list)."""
        async with self.db.transaction() as session:
            rows = list(
                (
                    await session.execute(
                        select(SignUp).where(
                            SignUp.activity_id == activity.id,
                            SignUp.user_id.in_(users),
                            SignUp.active.is_(True),
                        )
                    )
                ).scalars()
            )
            found = {r.user_id for r in rows}
            missing = [u for u in users if u not in found]
            if await self._changes.changed_by(session, activity.id, cause, "checkin"):
                return sorted(found), missing
            places = places_of(await self._entries(session, activity.id), activity)
            confirmed = {e.user_id for e in places.volunteers}
            credited = set()
            for row in rows:
                row.checked_in = True
                if row.kind != PARTICIPANT and row.user_id in confirmed:
                    credited.add(row.user_id)
            for user in sorted(credited):
                exists = (
                    await session.execute(
                        select(VolunteerHours.id).where(
                            VolunteerHours.activity_id == activity.id,
                            VolunteerHours.user_id == user,
                        )
                    )
                ).first()
                if exists is None:
                    session.add(
                        VolunteerHours(
                            compound=activity.compound,
                            user_id=user,
                            activity_id=activity.id,
                            minutes=activity.minutes,
                            at=activity.starts_at,
                        )
                    )
            await self._next_seq(session, activity)  # the list shows who came
            await self._changes.change(
                session,
                activity.id,
                cause=cause,
                action="checkin",
                at=at,
                actor=actor,
                detail={"checked": len(found), "credited": len(credited)},
            )
            return sorted(found), missing

    async def hours_of(self, compound: str, user_id: str, since: datetime) -> tuple[int, int, int]:
        """(minutes in all, minutes since `since`, activities) credited to a volunteer."""
        async with self.db.sessions() as session:
            total, count = (
                await session.execute(
                    select(func.coalesce(func.sum(VolunteerHours.minutes), 0), func.count()).where(
                        VolunteerHours.compound == compound, VolunteerHours.user_id == user_id
                    )
                )
            ).one()
            recent = (
                await session.execute(
                    select(func.coalesce(func.sum(VolunteerHours.minutes), 0)).where(
                        VolunteerHours.compound == compound,
                        VolunteerHours.user_id == user_id,
                        VolunteerHours.at >= since,
                    )
                )
            ).scalar_one()
            return int(total), int(recent), int(count)

    async def ranking(
        self, compound: str, since: datetime, until: datetime, limit: int = 10
    ) -> list[tuple[str, int]]:
        """The volunteers with the most minutes in [since, until), most first."""
        minutes = func.sum(VolunteerHours.minutes)
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(VolunteerHours.user_id, minutes)
                .where(
                    VolunteerHours.compound == compound,
                    VolunteerHours.user_id.is_not(None),
                    VolunteerHours.at >= since,
                    VolunteerHours.at < until,
                )
                .group_by(VolunteerHours.user_id)
                .order_by(minutes.desc(), VolunteerHours.user_id)
                .limit(limit)
            )
            return [(u, int(m)) for u, m in rows if u is not None]

    async def total_minutes(self, compound: str, since: datetime, until: datetime) -> int:
        """Every volunteer's minutes in the compound (the erased ones too, unnamed)."""
        async with self.db.sessions() as session:
            value = (
                await session.execute(
                    select(func.coalesce(func.sum(VolunteerHours.minutes), 0)).where(
                        VolunteerHours.compound == compound,
                        VolunteerHours.at >= since,
                        VolunteerHours.at < until,
                    )
                )
            ).scalar_one()
            return int(value)
