"""The community bot's records and its activities' repository: queries named by what the
bot asks, and one method per kind of change, keyed by its cause (the event or job key), so a
handler run again finds the change made. Sign-ups are in `signup_store.py`, hours in
`hours_store.py`, a person's data in `personal_store.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.community.jobs import REFRESH, ActivityJob, activity_key, activity_prefix
from bots.community.models import Activity, ActivityLog, ActivityPost, SignUp
from bots.community.rules import Entry, Kind, Places, split_places
from bridge.clock import Clock
from bridge.store.changes import ChangeLog
from bridge.store.database import Database
from bridge.store.jobs import JobSpec, add_jobs
from bridge.store.numbering import numbered


@dataclass(frozen=True)
class ActivityRecord:
    id: int
    compound: str
    number: int
    cause: str
    organizer: str | None
    title: str
    place: str
    starts_at: datetime
    minutes: int
    deadline: datetime
    capacity: int | None
    volunteers: int
    checkin_code: str
    status: str
    created_at: datetime
    seq: int
    shown_seq: int
    refresh_due: bool


_FIELDS = [f.name for f in fields(ActivityRecord)]


def _record(row: Activity) -> ActivityRecord:
    return ActivityRecord(**{name: getattr(row, name) for name in _FIELDS})


@dataclass(frozen=True)
class NewActivity:
    compound: str
    cause: str
    organizer: str
    title: str
    place: str
    starts_at: datetime
    minutes: int
    deadline: datetime
    capacity: int | None
    volunteers: int
    checkin_code: str
    created_at: datetime


@dataclass(frozen=True)
class SignUpRow:
    user_id: str
    kind: Kind
    seq: int
    note: str
    name: str
    checked_in: bool
    promoted_by: str | None


@dataclass(frozen=True)
class Joined:
    """What a sign-up did: "joined" (now on the list) or "already" (was on it)."""

    outcome: str
    made_now: bool


@dataclass(frozen=True)
class Left:
    left: bool  # False: they were not on the list
    promoted: list[str]  # moved up from the waiting list by this leave


class StoreBase:
    """What the community bot's repositories share: the database, the change log of
    activities, and the list's version (every change to a list bumps it and schedules the
    coalesced edit)."""

    def __init__(self, db: Database, clock: Clock, refresh_delay: timedelta) -> None:
        self.db = db
        self.clock = clock
        # How long a list waits for more sign-ups before it is edited (the edits coalesced).
        self.refresh_delay = refresh_delay
        self._changes = ChangeLog(Activity, ActivityLog, "activity_id", _record)

    async def entries(self, activity_id: int) -> list[SignUpRow]:
        async with self.db.sessions() as session:
            return await self._entries(session, activity_id)

    async def _entries(self, session: AsyncSession, activity_id: int) -> list[SignUpRow]:
        rows = (
            await session.execute(
                select(SignUp)
                .where(SignUp.activity_id == activity_id, SignUp.active.is_(True))
                .order_by(SignUp.seq)
            )
        ).scalars()
        return [
            SignUpRow(r.user_id, r.kind, r.seq, r.note, r.name, r.checked_in, r.promoted_by)  # type: ignore[arg-type]
            for r in rows
        ]

    async def _next_seq(self, session: AsyncSession, activity: ActivityRecord) -> int:
        """The activity's next number, taken atomically (two lanes may sign up at once), and
        the list's edit scheduled if none is due."""
        seq: int = (
            await session.execute(
                update(Activity)
                .where(Activity.id == activity.id)
                .values(seq=Activity.seq + 1)
                .returning(Activity.seq)
            )
        ).scalar_one()
        scheduled = await session.execute(
            update(Activity)
            .where(Activity.id == activity.id, Activity.refresh_due.is_(False))
            .values(refresh_due=True)
        )
        if getattr(scheduled, "rowcount", 0):
            await add_jobs(session, [self._refresh_job(activity, seq)])
        return seq

    def _refresh_job(self, activity: ActivityRecord, seq: int) -> JobSpec:
        due = self.clock.now() + self.refresh_delay
        return REFRESH.spec(
            activity_key(activity.id, "list", seq),
            due,
            ActivityJob(activity=activity.id, compound=activity.compound),
        )


class ActivityStore(StoreBase):
    async def create(
        self, new: NewActivity, jobs: Callable[[ActivityRecord], list[JobSpec]]
    ) -> tuple[ActivityRecord, bool]:
        """The activity this cause creates (the one it created before, when run again), under
        the compound's next number, with its jobs, in one transaction."""

        async def attempt() -> tuple[ActivityRecord, bool]:
            async with self.db.transaction() as session:
                found = (
                    await session.execute(select(Activity).where(Activity.cause == new.cause))
                ).scalar_one_or_none()
                if found is not None:
                    return _record(found), False
                last = (
                    await session.execute(
                        select(func.coalesce(func.max(Activity.number), 0)).where(
                            Activity.compound == new.compound
                        )
                    )
                ).scalar_one()
                row = Activity(**{k: getattr(new, k) for k in new.__dataclass_fields__})
                row.number, row.status = last + 1, "open"
                row.seq, row.shown_seq, row.refresh_due = 0, 0, False
                session.add(row)
                await session.flush()
                record = _record(row)
                await add_jobs(session, jobs(record))
                return record, True

        return await numbered(attempt, f"an activity for {new.cause}")

    async def by_number(self, compound: str, number: int) -> ActivityRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(Activity).where(Activity.compound == compound, Activity.number == number)
                )
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def by_id(self, activity_id: int) -> ActivityRecord | None:
        async with self.db.sessions() as session:
            row = await session.get(Activity, activity_id)
            return _record(row) if row is not None else None

    async def by_post(self, event_id: str) -> ActivityRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(Activity)
                    .join(ActivityPost, ActivityPost.activity_id == Activity.id)
                    .where(ActivityPost.event_id == event_id)
                )
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def open_activities(self, compound: str) -> list[ActivityRecord]:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Activity)
                    .where(Activity.compound == compound, Activity.status == "open")
                    .order_by(Activity.starts_at, Activity.number)
                )
            ).scalars()
            return [_record(r) for r in rows]

    async def started_by(self, compound: str, user_id: str, since: datetime) -> list[str]:
        """The causes of the activities someone started since then (the flood guard)."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(Activity.cause).where(
                    Activity.compound == compound,
                    Activity.organizer == user_id,
                    Activity.created_at >= since,
                )
            )
            return [c for (c,) in rows]

    async def changed_by(self, activity_id: int, cause: str) -> bool:
        async with self.db.sessions() as session:
            return await self._changes.changed_by(session, activity_id, cause)

    async def add_post(self, activity_id: int, room_id: str, event_id: str) -> None:
        async with self.db.transaction() as session:
            exists = (
                await session.execute(
                    select(ActivityPost.id).where(ActivityPost.event_id == event_id)
                )
            ).first()
            if exists is None:
                session.add(
                    ActivityPost(activity_id=activity_id, room_id=room_id, event_id=event_id)
                )

    async def posts(self, activity_id: int) -> list[tuple[str, str]]:
        """(room ID, event ID) of each message of the activity, in posting order."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(ActivityPost.room_id, ActivityPost.event_id)
                .where(ActivityPost.activity_id == activity_id)
                .order_by(ActivityPost.id)
            )
            return [(r, e) for r, e in rows]

    async def close(
        self, activity_id: int, *, cause: str, at: datetime, actor: str | None, status: str
    ) -> tuple[ActivityRecord, bool]:
        """Cancel (or finish) an activity once: a cancelled one's pending jobs go with it."""
        async with self.db.transaction() as session:
            return await self._changes.change(
                session,
                activity_id,
                cause=cause,
                action=status,
                at=at,
                actor=actor,
                cancel=[activity_prefix(activity_id)] if status == "cancelled" else [],
                changes={"status": status},
            )


def places_of(entries: list[SignUpRow], activity: ActivityRecord) -> Places:
    """The list split into places, labels left empty (the store needs only who is where)."""
    return split_places(
        [Entry(e.user_id, e.kind, e.seq, "") for e in entries],
        activity.capacity,
        activity.volunteers,
    )
