"""A domain object changed once per cause: the change, a log line unique per (object, action,
cause), and the jobs it cancels and adds, in one transaction. A handler run again for the same
event (or a job fired again) finds its log line and gets the object as it is, changing nothing.

The bots' stores (tickets, notices) keep their own tables and records; this holds the one
sequence they share. Its log table has the columns `<owner>`, `at`, `actor`, `action`,
`cause` and `detail`, and a unique constraint on (owner, action, cause).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.store.database import Database
from bridge.store.jobs import JobSpec, add_jobs, cancel_jobs
from bridge.store.models import Base

Row = TypeVar("Row", bound=Base)
Rec = TypeVar("Rec")


class ChangeLog(Generic[Row, Rec]):
    """How one kind of object is changed once per cause: its table, its log table and the
    log's column naming the object, and how a row becomes the record callers see."""

    def __init__(
        self, model: type[Row], log: type[Base], owner: str, record: Callable[[Row], Rec]
    ) -> None:
        self.model = model
        self.log = log
        self.owner = owner
        self.record = record
        columns: Any = log  # its columns are named by the convention above, not by a type
        self._owner_column = getattr(columns, owner)
        self._log_id, self._log_action, self._log_cause = columns.id, columns.action, columns.cause

    async def change(
        self,
        session: AsyncSession,
        object_id: int,
        *,
        cause: str,
        action: str,
        at: datetime,
        actor: str | None,
        detail: Mapping[str, Any] | None = None,
        check: Callable[[Row], None] | None = None,
        cancel: Sequence[str] = (),
        jobs: Callable[[Rec], list[JobSpec]] | None = None,
        changes: Mapping[str, Any] | None = None,
    ) -> tuple[Rec, bool]:
        """In the caller's transaction: set `changes` on the object, log why, cancel the jobs
        under the `cancel` key prefixes and add `jobs(record after the change)`. Returns the
        record and whether the change was made now (False: this cause made it before; then
        nothing is checked or changed). `check` may refuse a new change by raising."""
        made = await session.execute(
            select(self._log_id).where(
                self._owner_column == object_id,
                self._log_action == action,
                self._log_cause == cause,
            )
        )
        row = await session.get_one(self.model, object_id)
        if made.first() is not None:
            return self.record(row), False
        if check is not None:
            check(row)
        for name, value in (changes or {}).items():
            setattr(row, name, value)
        session.add(
            self.log(
                **{
                    self.owner: object_id,
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "cause": cause,
                    "detail": dict(detail or {}),
                }
            )
        )
        for prefix in cancel:
            await cancel_jobs(session, prefix)
        await session.flush()
        record = self.record(row)
        if jobs is not None:
            await add_jobs(session, jobs(record))
        return record, True

    async def changed_by(
        self, session: AsyncSession, object_id: int, cause: str, action: str | None = None
    ) -> bool:
        """Whether this cause (an event ID or a job key) changed the object already (by this
        action, when one is given)."""
        query = select(self._log_id).where(
            self._owner_column == object_id, self._log_cause == cause
        )
        if action is not None:
            query = query.where(self._log_action == action)
        return (await session.execute(query.limit(1))).first() is not None

    async def post_once(
        self,
        db: Database,
        object_id: int,
        *,
        cause: str,
        purpose: str,
        at: datetime,
        post: Callable[[], Awaitable[str]],
    ) -> str:
        """Post something a change of the object causes once per (cause, purpose), however
        long after the homeserver forgot the transaction ID: the event posted is logged, and a
        handler run again gets it back instead of posting again. (A crash between the post
        and its log line is covered by the transaction ID, for the homeserver's ~30 minutes.)"""
        action = f"post:{purpose}"[:32]
        columns: Any = self.log
        async with db.sessions() as session:
            done = (
                await session.execute(
                    select(columns.detail).where(
                        self._owner_column == object_id,
                        self._log_action == action,
                        self._log_cause == cause,
                    )
                )
            ).scalar_one_or_none()
        if done is not None:
            return str(done.get("event_id", ""))
        event_id = await post()
        async with db.transaction() as session:
            await self.change(
                session,
                object_id,
                cause=cause,
                action=action,
                at=at,
                actor=None,
                detail={"event_id": event_id},
            )
        return event_id

    async def posted(self, db: Database, object_id: int, purpose: str) -> str | None:
        """The event `post_once` posted for this purpose (whatever its cause), or None."""
        columns: Any = self.log
        async with db.sessions() as session:
            detail = (
                await session.execute(
                    select(columns.detail)
                    .where(
                        self._owner_column == object_id,
                        self._log_action == f"post:{purpose}"[:32],
                    )
                    .limit(1)
                )
            ).scalar_one_or_none()
        return None if detail is None else str(detail.get("event_id", "")) or None
