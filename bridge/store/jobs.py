"""Scheduled jobs: the scheduler's only source of truth for what is due and when."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Update, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.store.database import Database, table_of
from bridge.store.models import ScheduledJob


@dataclass(frozen=True)
class Job:
    id: int
    key: str
    kind: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Linli stores is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _job(row: ScheduledJob) -> Job:
    return Job(row.id, row.key, row.kind, _aware(row.due_at), dict(row.payload), row.attempts)


JobSpec = tuple[str, str, datetime, dict[str, Any]]  # key, kind, due at, payload


async def add_jobs(session: AsyncSession, jobs: list[JobSpec], *, fresh: bool = False) -> None:
    """Schedule jobs inside a caller's transaction, so a record and its clock commit together.
    `fresh`: the keys are new (their record was just created), so none is looked up."""
    if not jobs:
        return
    if fresh:
        # A Core executemany on the session's connection: its compiled form is cached, and
        # nothing needs merging.
        connection = await session.connection()
        await connection.execute(
            insert(table_of(ScheduledJob)),
            [
                {
                    "key": key,
                    "kind": kind,
                    "due_at": due_at.astimezone(UTC),
                    "payload": payload,
                    "status": "pending",
                    "attempts": 0,
                }
                for key, kind, due_at, payload in jobs
            ],
        )
        return
    existing: dict[str, ScheduledJob] = {}
    if not fresh:
        rows = (
            await session.execute(
                select(ScheduledJob).where(ScheduledJob.key.in_([j[0] for j in jobs]))
            )
        ).scalars()
        existing = {row.key: row for row in rows}
    for key, kind, due_at, payload in jobs:
        row = existing.get(key)
        if row is None:
            session.add(
                ScheduledJob(
                    key=key,
                    kind=kind,
                    due_at=due_at.astimezone(UTC),
                    payload=payload,
                    status="pending",
                    attempts=0,
                )
            )
        elif row.status in ("pending", "cancelled"):
            row.due_at = due_at.astimezone(UTC)
            row.payload = payload
            row.status = "pending"


def cancel_statement(keys: Iterable[str], dialect: str) -> Update:
    """The UPDATE that cancels the pending jobs with these keys, read through the key index."""
    where = ScheduledJob.key.in_(list(keys))
    return update(ScheduledJob).where(where, _still_pending(dialect)).values(status="cancelled")


def cancel_prefix_statement(prefix: str, dialect: str) -> Update:
    """The UPDATE that cancels the pending jobs whose key starts with `prefix`.

    On SQLite it reads only those jobs, through the unique index on `key`: the keys starting
    with the prefix are exactly those from the prefix up to the first string past all of them,
    since SQLite compares text by its UTF-8 bytes (the BINARY collation), in code point order.
    `key LIKE 'ticket:12:%'` cannot use that index (SQLite's LIKE ignores case, and the pattern
    is built at run time): it read every pending job (bench/jobs.py).

    Elsewhere (PostgreSQL) it stays a LIKE: under a language's collation (en_US.UTF-8, say)
    "ticket:12:x" sorts after "ticket:12;", so a range would miss keys.
    """
    if dialect != "sqlite":
        keys = ScheduledJob.key.startswith(prefix, autoescape=True)
        return update(ScheduledJob).where(keys, _still_pending(dialect)).values(status="cancelled")
    first_after = _first_after(prefix)
    where = [ScheduledJob.key >= prefix, _still_pending(dialect)]
    if first_after is not None:
        where.append(ScheduledJob.key < first_after)
    return update(ScheduledJob).where(*where).values(status="cancelled")


def _still_pending(dialect: str) -> ColumnElement[bool]:
    """`status = 'pending'` in a statement that finds its jobs by key. Without statistics,
    SQLite's planner would read them through the (status, due_at) index instead, which holds
    every pending job; likely() tells it that this condition narrows nothing."""
    pending: ColumnElement[bool] = ScheduledJob.status == "pending"
    return func.likely(pending) if dialect == "sqlite" else pending


def _first_after(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix` (None if there is
    none): the prefix with its last character replaced by the next one."""
    while prefix:
        code = ord(prefix[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000  # surrogates are not characters; UTF-8 cannot hold them
        if code <= 0x10FFFF:
            return prefix[:-1] + chr(code)
        prefix = prefix[:-1]  # U+10FFFF has no next character: step back one
    return None


async def cancel_jobs(session: AsyncSession, prefix: str) -> None:
    """Cancel the pending jobs whose keys start with `prefix`, inside a caller's transaction
    (a record's change and the end of its clock commit together)."""
    dialect = session.get_bind().dialect.name
    await session.execute(cancel_prefix_statement(prefix, dialect))


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def schedule(
        self, key: str, kind: str, due_at: datetime, payload: dict[str, Any]
    ) -> None:
        """Create the job, or move it if it is still pending; a job already done stays done."""
        await self.schedule_many([(key, kind, due_at, payload)])

    async def schedule_many(self, jobs: list[JobSpec]) -> None:
        """Several jobs in one transaction (a ticket's reminders and escalation steps)."""
        if not jobs:
            return
        async with self.db.transaction() as session:
            await add_jobs(session, jobs)

    async def cancel(self, *keys: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(cancel_statement(keys, self.db.engine.dialect.name))

    async def cancel_prefix(self, prefix: str) -> None:
        """Cancel the pending jobs whose key starts with `prefix` (a record's, "ticket:12:")."""
        async with self.db.transaction() as session:
            await session.execute(cancel_prefix_statement(prefix, self.db.engine.dialect.name))

    async def next_due(self, exclude: Collection[int] = ()) -> datetime | None:
        """The earliest due time of a pending job, but those in `exclude` (being fired)."""
        query = select(func.min(ScheduledJob.due_at)).where(ScheduledJob.status == "pending")
        if exclude:
            query = query.where(ScheduledJob.id.not_in(list(exclude)))
        async with self.db.sessions() as session:
            value = (await session.execute(query)).scalar()
            return _aware(value) if value is not None else None

    async def due(
        self, now: datetime, limit: int = 100, exclude: Collection[int] = ()
    ) -> list[Job]:
        """Pending jobs due by `now`, oldest first, but those in `exclude` (being fired)."""
        query = select(ScheduledJob).where(
            ScheduledJob.status == "pending", ScheduledJob.due_at <= now.astimezone(UTC)
        )
        if exclude:
            query = query.where(ScheduledJob.id.not_in(list(exclude)))
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    query.order_by(ScheduledJob.due_at, ScheduledJob.id).limit(limit)
                )
            ).scalars()
            return [_job(r) for r in rows]

    async def get(self, key: str) -> Job | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(select(ScheduledJob).where(ScheduledJob.key == key))
            ).scalar_one_or_none()
            return _job(row) if row is not None else None

    async def status(self, key: str) -> str | None:
        async with self.db.sessions() as session:
            return (
                await session.execute(select(ScheduledJob.status).where(ScheduledJob.key == key))
            ).scalar_one_or_none()

    async def finish(self, job_id: int, now: datetime, *, failed: bool = False) -> bool:
        """Mark a pending job done (or failed); False if someone else already finished it."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(ScheduledJob)
                .where(ScheduledJob.id == job_id, ScheduledJob.status == "pending")
                .values(
                    status="failed" if failed else "done",
                    done_at=now,
                    attempts=ScheduledJob.attempts + 1,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def counts(self) -> dict[str, int]:
        """Jobs by status (for the metrics)."""
        async with self.db.sessions() as session:
            result = await session.execute(
                select(ScheduledJob.status, func.count())
                .where(ScheduledJob.status.in_(("pending", "failed")))
                .group_by(ScheduledJob.status)
            )
            return {status: count for status, count in result.all()}

    async def record_attempt(self, job_id: int) -> int:
        async with self.db.transaction() as session:
            await session.execute(
                update(ScheduledJob)
                .where(ScheduledJob.id == job_id)
                .values(attempts=ScheduledJob.attempts + 1)
            )
            return int(
                (
                    await session.execute(
                        select(ScheduledJob.attempts).where(ScheduledJob.id == job_id)
                    )
                ).scalar_one()
            )
