"""Notices, their posts, the order of events in their rooms and their reach: queries named by
what the notices bot asks, and one method per kind of change, keyed by its cause (the event or
job key that caused it), so a handler run again finds the change made."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update

from bots.notices.models import Notice, NoticeLog, NoticePost, NoticeReach, NoticeRoomEvent
from bots.notices.records import (
    ACK,
    READ,
    TOLD,
    TRACKED,
    Created,
    NewNotice,
    NoticeRecord,
    PostRecord,
    ReachRows,
    record_of,
)
from bridge.store.changes import ChangeLog
from bridge.store.database import Database, insert_ignoring_duplicates, table_of
from bridge.store.jobs import JobSpec, add_jobs
from bridge.store.numbering import numbered


class NoticeStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._changes = ChangeLog(Notice, NoticeLog, "notice_id", record_of)

    # ------------------------------------------------------------ notices

    async def create(
        self, new: NewNotice, jobs: Callable[[NoticeRecord], list[JobSpec]] | None = None
    ) -> Created:
        """The notice this cause creates (the one it created before, when run again), under
        the compound's next number, with its jobs, in one transaction."""

        async def attempt() -> Created:
            existing = await self.by_cause(new.cause)
            if existing is not None:
                return Created(existing, made_now=False)
            async with self.db.transaction() as session:
                last = (
                    await session.execute(
                        select(func.coalesce(func.max(Notice.number), 0)).where(
                            Notice.compound == new.compound
                        )
                    )
                ).scalar_one()
                row = Notice(**{k: getattr(new, k) for k in new.__dataclass_fields__})
                row.number = last + 1
                session.add(row)
                await session.flush()
                record = record_of(row)
                if jobs is not None:
                    await add_jobs(session, jobs(record))
                return Created(record, made_now=True)

        # Another room's lane may take the number (or this cause) meanwhile: look again.
        return await numbered(attempt, f"a notice for {new.cause}")

    async def by_cause(self, cause: str) -> NoticeRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(select(Notice).where(Notice.cause == cause))
            ).scalar_one_or_none()
            return record_of(row) if row is not None else None

    async def get(self, compound: str, number: int) -> NoticeRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(Notice).where(Notice.compound == compound, Notice.number == number)
                )
            ).scalar_one_or_none()
            return record_of(row) if row is not None else None

    async def by_id(self, notice_id: int) -> NoticeRecord | None:
        async with self.db.sessions() as session:
            row = await session.get(Notice, notice_id)
            return record_of(row) if row is not None else None

    async def listing(self, compound: str, limit: int = 20) -> list[NoticeRecord]:
        """The compound's notices still current: scheduled, recurring, posted (newest first)."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Notice)
                    .where(
                        Notice.compound == compound,
                        Notice.status.in_(("scheduled", "recurring", "posting", "posted")),
                    )
                    .order_by(Notice.number.desc())
                    .limit(limit)
                )
            ).scalars()
            return [record_of(r) for r in rows]

    async def posted_since(self, compound: str, since: datetime) -> list[NoticeRecord]:
        """The compound's notices posted since `since` whose reach counts (oldest first)."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Notice)
                    .where(
                        Notice.compound == compound,
                        Notice.status.in_(TRACKED),
                        Notice.posted_at >= since,
                    )
                    .order_by(Notice.number)
                )
            ).scalars()
            return [record_of(r) for r in rows]

    async def change(
        self,
        notice_id: int,
        *,
        cause: str,
        action: str,
        at: datetime,
        actor: str | None,
        detail: dict[str, Any] | None = None,
        cancel: Sequence[str] = (),
        jobs: Callable[[NoticeRecord], list[JobSpec]] | None = None,
        **changes: Any,
    ) -> tuple[NoticeRecord, bool]:
        """Change a notice, log why, cancel the jobs under the `cancel` key prefixes and add
        `jobs(notice after the change)`, once per (action, cause). Returns the notice after
        the change and whether it was made now (False: this cause made it before)."""
        async with self.db.transaction() as session:
            return await self._changes.change(
                session,
                notice_id,
                cause=cause,
                action=action,
                at=at,
                actor=actor,
                detail=detail,
                cancel=cancel,
                jobs=jobs,
                changes=changes,
            )

    async def changed_by(self, notice_id: int, cause: str, action: str) -> bool:
        async with self.db.sessions() as session:
            return await self._changes.changed_by(session, notice_id, cause, action)

    # ------------------------------------------------------------ posts and room order

    async def add_post(self, notice_id: int, room_id: str, event_id: str, ts: int) -> None:
        """The notice's event in one room: kept with its place in the room's order."""
        async with self.db.transaction() as session:
            await session.execute(
                insert_ignoring_duplicates(session, NoticePost),
                {"notice_id": notice_id, "room_id": room_id, "event_id": event_id, "pinned": False},
            )
            await session.execute(
                insert_ignoring_duplicates(session, NoticeRoomEvent),
                {"room_id": room_id, "event_id": event_id, "ts": ts},
            )

    async def set_pinned(self, notice_id: int, room_id: str, pinned: bool) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(NoticePost)
                .where(NoticePost.notice_id == notice_id, NoticePost.room_id == room_id)
                .values(pinned=pinned)
            )

    async def posts(self, notice_id: int) -> list[PostRecord]:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(NoticePost)
                    .where(NoticePost.notice_id == notice_id)
                    .order_by(NoticePost.id)
                )
            ).scalars()
            return [PostRecord(r.notice_id, r.room_id, r.event_id, r.pinned) for r in rows]

    async def post_by_event(self, event_id: str) -> PostRecord | None:
        async with self.db.sessions() as session:
            r = (
                await session.execute(select(NoticePost).where(NoticePost.event_id == event_id))
            ).scalar_one_or_none()
            return PostRecord(r.notice_id, r.room_id, r.event_id, r.pinned) if r else None

    async def rooms_with_posts(self) -> set[str]:
        async with self.db.sessions() as session:
            return set((await session.execute(select(NoticePost.room_id).distinct())).scalars())

    async def saw_event(self, room_id: str, event_id: str, ts: int) -> None:
        """An event in a room that carries notices, in the order Linli handled it."""
        async with self.db.transaction() as session:
            await session.execute(
                insert_ignoring_duplicates(session, NoticeRoomEvent),
                {"room_id": room_id, "event_id": event_id, "ts": ts},
            )

    # ------------------------------------------------------------ reach

    async def notices_read_by(self, room_id: str, event_id: str) -> list[int] | None:
        """The tracked notices a read receipt on `event_id` covers: those posted in the room at
        or before that event (in Linli's order of the room, and not after it by the
        homeserver's clock). None when Linli never saw that event in the room (see
        `notices_read_until`). Read-only: most receipts repeat what is recorded already."""
        mark = (
            select(NoticeRoomEvent.id, NoticeRoomEvent.ts)
            .where(NoticeRoomEvent.event_id == event_id, NoticeRoomEvent.room_id == room_id)
            .subquery()
        )
        post_event = table_of(NoticeRoomEvent).alias("post_event")
        query = (
            select(mark.c.id, NoticePost.notice_id)
            .select_from(mark)
            .outerjoin(
                table_of(NoticePost)
                .join(post_event, post_event.c.event_id == NoticePost.event_id)
                .join(table_of(Notice), Notice.id == NoticePost.notice_id),
                and_(
                    NoticePost.room_id == room_id,
                    post_event.c.id <= mark.c.id,
                    post_event.c.ts <= mark.c.ts,
                    Notice.status.in_(TRACKED),
                ),
            )
        )
        async with self.db.sessions() as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return None
        return [notice for _, notice in rows if notice is not None]

    async def notices_read_until(self, room_id: str, ts: int) -> list[int]:
        """The tracked notices of the room posted before `ts` by the homeserver's clock: for a
        receipt on an event Linli did not see (sent while it was down, or never given to it)."""
        post_event = table_of(NoticeRoomEvent).alias("post_event")
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(NoticePost.notice_id)
                .join(post_event, post_event.c.event_id == NoticePost.event_id)
                .join(Notice, Notice.id == NoticePost.notice_id)
                .where(
                    NoticePost.room_id == room_id,
                    post_event.c.ts <= ts,
                    Notice.status.in_(TRACKED),
                )
            )
            return list(rows.scalars())

    async def add_reads(self, user_id: str, notices: Iterable[int], at: datetime) -> None:
        """`user_id` read these notices (a repeat is ignored)."""
        rows = [{"notice_id": n, "who": user_id, "kind": READ, "at": at} for n in notices]
        if not rows:
            return
        async with self.db.transaction() as session:
            await session.execute(insert_ignoring_duplicates(session, NoticeReach), rows)

    async def any_open(self) -> bool:
        """Whether some notice is posted and not yet expired (its reach still moves)."""
        async with self.db.sessions() as session:
            found = await session.execute(
                select(Notice.id).where(Notice.status == "posted").limit(1)
            )
            return found.first() is not None

    async def rooms_of_current(self, since: datetime) -> set[str]:
        """Rooms carrying notices posted since `since` and still tracked."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(NoticePost.room_id)
                .join(Notice, Notice.id == NoticePost.notice_id)
                .where(Notice.status.in_(TRACKED), Notice.posted_at >= since)
                .distinct()
            )
            return set(rows.scalars())

    async def record_reach(
        self, notice_id: int, who: str, kind: str, at: datetime, by: str | None = None
    ) -> bool:
        """An acknowledgement ("ack", by user) or a household told in person ("told", by the
        楼长 `by`); False if it was recorded before."""
        async with self.db.transaction() as session:
            # One row in VALUES (not a list of parameters): its rowcount says if it was new.
            result = await session.execute(
                insert_ignoring_duplicates(session, NoticeReach).values(
                    notice_id=notice_id, who=who, kind=kind, at=at, by=by
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def reach_rows(self, notice_id: int) -> ReachRows:
        # Through the connection: plain rows, without the ORM's per-row work (thousands here).
        async with self.db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(NoticeReach.who, NoticeReach.kind).where(
                        NoticeReach.notice_id == notice_id
                    )
                )
            ).all()
        found = ReachRows(set(), set(), set())
        for who, kind in rows:
            {READ: found.read, ACK: found.acknowledged, TOLD: found.told}[kind].add(who)
        return found

    async def acknowledged_by(self, notice_id: int, users: Iterable[str]) -> set[str]:
        wanted = list(users)
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(NoticeReach.who).where(
                    and_(
                        NoticeReach.notice_id == notice_id,
                        NoticeReach.kind == ACK,
                        NoticeReach.who.in_(wanted),
                    )
                )
            )
            return set(rows.scalars())

    async def export(self, user_id: str) -> list[dict[str, Any]]:
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(Notice.compound, Notice.number, NoticeReach.kind, NoticeReach.at)
                .join(Notice, Notice.id == NoticeReach.notice_id)
                .where(NoticeReach.who == user_id)
            )
            return [
                {"compound": c, "notice": n, "kind": k, "at": at.isoformat()}
                for c, n, k, at in rows
            ]

    async def erase(self, user_id: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(table_of(NoticeReach).delete().where(NoticeReach.who == user_id))
