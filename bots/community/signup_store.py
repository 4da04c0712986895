"""The 接龙 itself: signing up and leaving once per cause, who moves up, the reaction that
stands for a sign-up, and the version of the list its posted message shows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bots.community.models import Activity, SignUp
from bots.community.rules import Kind, moved_up
from bots.community.store import ActivityRecord, Joined, Left, StoreBase, _record, places_of
from bridge.store.jobs import add_jobs


class SignUpStore(StoreBase):
    async def sign_up(
        self,
        activity: ActivityRecord,
        user_id: str,
        kind: Kind,
        *,
        cause: str,
        at: datetime,
        name: str,
        note: str = "",
        reaction_event_id: str | None = None,
    ) -> Joined:
        """Put someone on the list once per cause: at its end (signing up again after leaving
        moves them there), or nothing when they are on it already. The list's edit is
        scheduled unless one is already due (a burst of sign-ups makes one edit)."""
        try:
            async with self.db.transaction() as session:
                return await self._sign_up(
                    session, activity, user_id, kind, cause, at, name, note, reaction_event_id
                )
        except IntegrityError:
            # The same person signing up in another room's lane at the same moment: that one
            # put them on the list.
            return Joined("already", made_now=False)

    async def _sign_up(
        self,
        session: AsyncSession,
        activity: ActivityRecord,
        user_id: str,
        kind: Kind,
        cause: str,
        at: datetime,
        name: str,
        note: str,
        reaction_event_id: str | None,
    ) -> Joined:
        row = (
            await session.execute(
                select(SignUp).where(
                    SignUp.activity_id == activity.id,
                    SignUp.user_id == user_id,
                    SignUp.kind == kind,
                )
            )
        ).scalar_one_or_none()
        done = await self._changes.changed_by(session, activity.id, cause, "join")
        if done:
            return Joined("joined", made_now=False)
        if row is not None and row.active:
            if reaction_event_id is not None and row.reaction_event_id is None:
                row.reaction_event_id = reaction_event_id  # the tap now stands for it
            return Joined("already", made_now=False)
        seq = await self._next_seq(session, activity)
        if row is None:
            session.add(
                SignUp(
                    activity_id=activity.id,
                    user_id=user_id,
                    kind=kind,
                    seq=seq,
                    active=True,
                    note=note,
                    name=name,
                    joined_at=at,
                    reaction_event_id=reaction_event_id,
                    checked_in=False,
                )
            )
        else:
            row.active, row.seq, row.note, row.name = True, seq, note, name
            row.joined_at, row.reaction_event_id, row.promoted_by = at, reaction_event_id, None
        await self._changes.change(
            session,
            activity.id,
            cause=cause,
            action="join",
            at=at,
            actor=user_id,
            detail={"kind": kind},
        )
        return Joined("joined", made_now=True)

    async def leave(
        self,
        activity: ActivityRecord,
        user_id: str,
        kinds: tuple[Kind, ...],
        *,
        cause: str,
        at: datetime,
    ) -> Left:
        """Take someone off the list once per cause; who moves up from the waiting list is
        stored with the cause, so a replay tells them again (with the same transaction IDs)."""
        async with self.db.transaction() as session:
            if await self._changes.changed_by(session, activity.id, cause, "leave"):
                told = (
                    await session.execute(
                        select(SignUp.user_id).where(
                            SignUp.activity_id == activity.id, SignUp.promoted_by == cause
                        )
                    )
                ).scalars()
                return Left(True, sorted(told))
            rows = list(
                (
                    await session.execute(
                        select(SignUp).where(
                            SignUp.activity_id == activity.id,
                            SignUp.user_id == user_id,
                            SignUp.kind.in_(kinds),
                            SignUp.active.is_(True),
                        )
                    )
                ).scalars()
            )
            if not rows:
                return Left(False, [])
            before = places_of(await self._entries(session, activity.id), activity)
            for row in rows:
                row.active = False
            await session.flush()
            after = places_of(await self._entries(session, activity.id), activity)
            promoted = sorted(moved_up(before, after))
            if promoted:
                await session.execute(
                    update(SignUp)
                    .where(SignUp.activity_id == activity.id, SignUp.user_id.in_(promoted))
                    .values(promoted_by=cause)
                )
            await self._next_seq(session, activity)
            await self._changes.change(
                session,
                activity.id,
                cause=cause,
                action="leave",
                at=at,
                actor=user_id,
                detail={"promoted": len(promoted)},
            )
            return Left(True, promoted)

    async def by_reaction(self, reaction_event_id: str) -> tuple[int, str, Kind] | None:
        """The sign-up a reaction stands for: (activity ID, user, kind). Also when it is no
        longer on the list: the removal is handled again after a crash (the leave is found
        made, and the one it moved up is told what a crash kept from them)."""
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(SignUp.activity_id, SignUp.user_id, SignUp.kind).where(
                        SignUp.reaction_event_id == reaction_event_id
                    )
                )
            ).first()
            return (row[0], row[1], row[2]) if row is not None else None  # type: ignore[return-value]

    async def list_shown(self, activity_id: int, seq: int) -> None:
        """The posted list now shows version `seq`: if sign-ups came meanwhile, the next edit
        is scheduled in the same transaction (none is lost between the read and this)."""
        async with self.db.transaction() as session:
            row = await session.get_one(Activity, activity_id)
            row.shown_seq = max(row.shown_seq, seq)
            if row.seq > seq and row.status == "open":
                await add_jobs(session, [self._refresh_job(_record(row), row.seq)])
                row.refresh_due = True
            else:
                row.refresh_due = False

    async def stale_lists(self) -> list[ActivityRecord]:
        """Open activities whose posted list is behind and no edit is due (after a crash)."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Activity).where(
                        Activity.status == "open", Activity.seq > Activity.shown_seq
                    )
                )
            ).scalars()
            return [_record(r) for r in rows]

    async def refresh_soon(self, activity: ActivityRecord) -> None:
        async with self.db.transaction() as session:
            await add_jobs(session, [self._refresh_job(activity, activity.seq)])
            await session.execute(
                update(Activity).where(Activity.id == activity.id).values(refresh_due=True)
            )
