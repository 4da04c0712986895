"""A person's data in the community bot: how they appear on lists, `!我 导出` and
`!我 删除` (off every list, hours kept as anonymous totals)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from bots.community.models import (
    Activity,
    ActivityLog,
    BoardPost,
    ShowAs,
    SignUp,
    VolunteerHours,
)
from bots.community.store import ActivityRecord, StoreBase, _record


class PersonalStore(StoreBase):
    async def show_as(self, compound: str) -> dict[str, str]:
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(ShowAs.user_id, ShowAs.show).where(ShowAs.compound == compound)
            )
            return {u: s for u, s in rows}

    async def set_show_as(self, compound: str, user_id: str, show: str) -> None:
        async with self.db.transaction() as session:
            row = await session.get(ShowAs, (compound, user_id))
            if row is None:
                session.add(ShowAs(compound=compound, user_id=user_id, show=show))
            else:
                row.show = show
            # Every open list showing them is edited.
            activities = (
                await session.execute(
                    select(Activity)
                    .join(SignUp, SignUp.activity_id == Activity.id)
                    .where(
                        Activity.compound == compound,
                        Activity.status == "open",
                        SignUp.user_id == user_id,
                        SignUp.active.is_(True),
                    )
                )
            ).scalars()
            for activity in set(activities):
                await self._next_seq(session, _record(activity))

    # ------------------------------------------------------------ personal data

    async def export(self, user_id: str) -> dict[str, Any]:
        async with self.db.sessions() as session:
            signups = await session.execute(
                select(Activity.compound, Activity.number, Activity.title, SignUp)
                .join(SignUp, SignUp.activity_id == Activity.id)
                .where(SignUp.user_id == user_id)
                .order_by(Activity.id)
            )
            organised = await session.execute(
                select(Activity.compound, Activity.number, Activity.title)
                .where(Activity.organizer == user_id)
                .order_by(Activity.id)
            )
            hours = await session.execute(
                select(
                    VolunteerHours.compound,
                    Activity.number,
                    BoardPost.number,
                    VolunteerHours.minutes,
                )
                .outerjoin(Activity, Activity.id == VolunteerHours.activity_id)
                .outerjoin(BoardPost, BoardPost.id == VolunteerHours.post_id)
                .where(VolunteerHours.user_id == user_id)
                .order_by(VolunteerHours.id)
            )
            shown = await session.execute(
                select(ShowAs.compound, ShowAs.show).where(ShowAs.user_id == user_id)
            )
            return {
                "activities_organised": [
                    {"compound": c, "number": n, "title": t} for c, n, t in organised
                ],
                "sign_ups": [
                    {
                        "compound": c,
                        "activity": n,
                        "title": t,
                        "as": s.kind,
                        "on_list": s.active,
                        "note": s.note,
                        "checked_in": s.checked_in,
                    }
                    for c, n, t, s in signups
                ],
                "volunteer_hours": [
                    {"compound": c, "activity": n, "minutes": m}
                    if n is not None
                    else {"compound": c, "help_request": p, "minutes": m}
                    for c, n, p, m in hours
                ],
                "shown_on_lists_as": {c: s for c, s in shown},
            }

    async def erase(self, user_id: str, compound: str | None) -> list[ActivityRecord]:
        """Forget a person: off every list (their lists are edited), their name and notes
        gone, their hours kept unnamed, activities they organised kept without them.
        Returns the open activities whose lists change."""
        async with self.db.transaction() as session:
            in_compound = (
                select(Activity.id).where(Activity.compound == compound)
                if compound is not None
                else select(Activity.id)
            )
            touched = list(
                (
                    await session.execute(
                        select(Activity)
                        .join(SignUp, SignUp.activity_id == Activity.id)
                        .where(
                            SignUp.user_id == user_id,
                            SignUp.active.is_(True),
                            Activity.status == "open",
                            Activity.id.in_(in_compound),
                        )
                    )
                ).scalars()
            )
            await session.execute(
                delete(SignUp).where(SignUp.user_id == user_id, SignUp.activity_id.in_(in_compound))
            )
            hours = update(VolunteerHours).where(VolunteerHours.user_id == user_id)
            if compound is not None:
                hours = hours.where(VolunteerHours.compound == compound)
            await session.execute(hours.values(user_id=None))
            organised = update(Activity).where(Activity.organizer == user_id)
            if compound is not None:
                organised = organised.where(Activity.compound == compound)
            await session.execute(organised.values(organizer=None))
            await session.execute(
                update(ActivityLog)
                .where(ActivityLog.actor == user_id, ActivityLog.activity_id.in_(in_compound))
                .values(actor=None)
            )
            shown = delete(ShowAs).where(ShowAs.user_id == user_id)
            if compound is not None:
                shown = shown.where(ShowAs.compound == compound)
            await session.execute(shown)
            records = []
            for activity in {a.id: a for a in touched}.values():
                await self._next_seq(session, _record(activity))
                records.append(_record(activity))
            return records
