"""The neighbours' board: help requests and offers, idle items, lost and found. One method per
kind of change, once per cause (the event or job key), with the post's jobs (the author asked
before it expires, the expiry) set or cancelled in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from bots.community.models import BoardAnswer, BoardLog, BoardPost, VolunteerHours
from bridge.store.changes import ChangeLog
from bridge.store.database import Database
from bridge.store.jobs import JobSpec, add_jobs
from bridge.store.numbering import numbered


@dataclass(frozen=True)
class PostRecord:
    id: int
    compound: str
    number: int
    kind: str
    cause: str
    author: str | None
    text: str
    room_id: str
    event_id: str | None
    status: str
    created_at: datetime
    expires_at: datetime
    helper: str | None
    private_room_id: str | None
    photo_event_id: str | None


_FIELDS = [f.name for f in fields(PostRecord)]


def _record(row: BoardPost) -> PostRecord:
    return PostRecord(**{name: getattr(row, name) for name in _FIELDS})


def board_key(post_id: int, *parts: object) -> str:
    return ":".join(["community", "post", str(post_id), *map(str, parts)])


def board_prefix(post_id: int) -> str:
    return board_key(post_id) + ":"


class BoardStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._changes = ChangeLog(BoardPost, BoardLog, "post_id", _record)

    async def create(
        self,
        *,
        compound: str,
        kind: str,
        cause: str,
        author: str,
        text: str,
        room_id: str,
        at: datetime,
        expires_at: datetime,
        jobs: Callable[[PostRecord], list[JobSpec]],
    ) -> tuple[PostRecord, bool]:
        """The post this cause creates (found again when run again), numbered per compound."""

        async def attempt() -> tuple[PostRecord, bool]:
            async with self.db.transaction() as session:
                found = (
                    await session.execute(select(BoardPost).where(BoardPost.cause == cause))
                ).scalar_one_or_none()
                if found is not None:
                    return _record(found), False
                last = (
                    await session.execute(
                        select(func.coalesce(func.max(BoardPost.number), 0)).where(
                            BoardPost.compound == compound
                        )
                    )
                ).scalar_one()
                row = BoardPost(
                    compound=compound,
                    number=last + 1,
                    kind=kind,
                    cause=cause,
                    author=author,
                    text=text,
                    room_id=room_id,
                    status="open",
                    created_at=at,
                    expires_at=expires_at,
                )
                session.add(row)
                await session.flush()
                record = _record(row)
                await add_jobs(session, jobs(record))
                return record, True

        return await numbered(attempt, f"a board post for {cause}")

    async def by_number(self, compound: str, number: int) -> PostRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(BoardPost).where(
                        BoardPost.compound == compound, BoardPost.number == number
                    )
                )
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def by_id(self, post_id: int) -> PostRecord | None:
        async with self.db.sessions() as session:
            row = await session.get(BoardPost, post_id)
            return _record(row) if row is not None else None

    async def by_event(self, event_id: str) -> PostRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(select(BoardPost).where(BoardPost.event_id == event_id))
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def open_posts(self, compound: str, kinds: tuple[str, ...]) -> list[PostRecord]:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(BoardPost)
                    .where(
                        BoardPost.compound == compound,
                        BoardPost.kind.in_(kinds),
                        BoardPost.status == "open",
                    )
                    .order_by(BoardPost.number)
                )
            ).scalars()
            return [_record(r) for r in rows]

    async def posted_by(self, compound: str, author: str, since: datetime) -> list[str]:
        """The causes of the posts someone made since then (the flood guard)."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(BoardPost.cause).where(
                    BoardPost.compound == compound,
                    BoardPost.author == author,
                    BoardPost.created_at >= since,
                )
            )
            return [c for (c,) in rows]

    async def change(
        self,
        post_id: int,
        *,
        cause: str,
        action: str,
        at: datetime,
        actor: str | None,
        changes: dict[str, Any] | None = None,
        cancel: bool = False,
        jobs: Callable[[PostRecord], list[JobSpec]] | None = None,
    ) -> tuple[PostRecord, bool]:
        """One change of a post, once per cause; `cancel`: its pending jobs go."""
        async with self.db.transaction() as session:
            return await self._changes.change(
                session,
                post_id,
                cause=cause,
                action=action,
                at=at,
                actor=actor,
                changes=changes,
                cancel=[board_prefix(post_id)] if cancel else [],
                jobs=jobs,
            )

    async def change_made(self, post_id: int, cause: str, action: str | None = None) -> bool:
        async with self.db.sessions() as session:
            return await self._changes.changed_by(session, post_id, cause, action)

    async def answer(self, post_id: int, user_id: str, at: datetime, reaction: str) -> None:
        """Someone tapped 🤝: remembered once."""
        try:
            async with self.db.transaction() as session:
                if await session.get(BoardAnswer, (post_id, user_id)) is None:
                    session.add(
                        BoardAnswer(
                            post_id=post_id, user_id=user_id, at=at, reaction_event_id=reaction
                        )
                    )
        except IntegrityError:
            pass  # the same tap handled in another lane at once

    async def take_back(self, reaction: str, sender: str) -> None:
        """The 🤝 removed by the one who tapped it: no longer someone the author can pick."""
        async with self.db.transaction() as session:
            await session.execute(
                delete(BoardAnswer).where(
                    BoardAnswer.reaction_event_id == reaction, BoardAnswer.user_id == sender
                )
            )

    async def answered(self, post_id: int) -> list[str]:
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(BoardAnswer.user_id)
                .where(BoardAnswer.post_id == post_id)
                .order_by(BoardAnswer.at, BoardAnswer.user_id)
            )
            return [u for (u,) in rows]

    async def thank(
        self, post: PostRecord, *, cause: str, at: datetime, actor: str, minutes: int
    ) -> tuple[PostRecord, bool]:
        """A help request closed with thanks: its helper credited `minutes`, once."""
        async with self.db.transaction() as session:
            record, made = await self._changes.change(
                session,
                post.id,
                cause=cause,
                action="thanked",
                at=at,
                actor=actor,
                changes={"status": "done"},
                cancel=[board_prefix(post.id)],
            )
            # A request's helper is the one picked; an offer's is its author.
            volunteer = post.author if post.kind == "offer" and post.helper else post.helper
            if made and volunteer is not None and minutes:
                session.add(
                    VolunteerHours(
                        compound=post.compound,
                        user_id=volunteer,
                        post_id=post.id,
                        minutes=minutes,
                        at=at,
                    )
                )
            return record, made

    async def export(self, user_id: str) -> list[dict[str, Any]]:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(BoardPost).where(BoardPost.author == user_id).order_by(BoardPost.id)
                )
            ).scalars()
            return [
                {
                    "compound": r.compound,
                    "number": r.number,
                    "kind": r.kind,
                    "text": r.text,
                    "status": r.status,
                    "created_at": r.created_at.isoformat(),
                }
                for r in rows
            ]

    async def erase(self, user_id: str, compound: str | None) -> list[PostRecord]:
        """Forget a person's posts (their words and their name on them; removed from the
        board) and their taps and picks; returns the posts whose cards are to be redacted."""
        async with self.db.transaction() as session:
            query = select(BoardPost).where(BoardPost.author == user_id)
            if compound is not None:
                query = query.where(BoardPost.compound == compound)
            rows = list((await session.execute(query)).scalars())
            gone = [_record(r) for r in rows]
            for row in rows:
                row.author, row.text, row.status = None, "", "removed"
            ids = select(BoardPost.id)
            if compound is not None:
                ids = ids.where(BoardPost.compound == compound)
            await session.execute(
                update(BoardPost)
                .where(BoardPost.helper == user_id, BoardPost.id.in_(ids))
                .values(helper=None)
            )
            await session.execute(
                delete(BoardAnswer).where(
                    BoardAnswer.user_id == user_id, BoardAnswer.post_id.in_(ids)
                )
            )
            await session.execute(
                update(BoardLog)
                .where(BoardLog.actor == user_id, BoardLog.post_id.in_(ids))
                .values(actor=None)
            )
            for post in gone:
                await session.execute(
                    update(BoardLog).where(BoardLog.post_id == post.id).values(detail={})
                )
            return [p for p in gone if p.status != "removed"]
