"""The scheduler's queries with many pending jobs: the next due time, a batch of due jobs, and
cancelling one ticket's jobs by key prefix (on the event path: a first response, a ticket done),
beside the LIKE query cancel_prefix used before, measured in the same run on the same database.
No homeserver: a temporary SQLite database opened as Linli opens it.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Update, text, update
from sqlalchemy.dialects import sqlite

from bridge.store import Store
from bridge.store.jobs import JobSpec, add_jobs, cancel_prefix_statement
from bridge.store.models import ScheduledJob

START = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
# A ticket's jobs as bots/tickets/ticket_clock.py keys them: a reminder and three escalation
# steps for each of its two deadlines.
STEPS = [
    f"{which}:r0:{step}"
    for which in ("first", "resolution")
    for step in ("remind", "escalate:0", "escalate:1", "escalate:2")
]


def ticket_jobs(ticket: int) -> list[JobSpec]:
    opened = START + timedelta(minutes=ticket)  # spread over the weeks ahead
    return [
        (
            f"ticket:{ticket}:{step}",
            "ticket.remind",
            opened + timedelta(hours=i),
            {"ticket": ticket},
        )
        for i, step in enumerate(STEPS)
    ]


def old_statement(prefix: str) -> Update:
    """cancel_prefix as it was: `key LIKE prefix || '%'`, which reads the whole table."""
    return (
        update(ScheduledJob)
        .where(ScheduledJob.key.startswith(prefix), ScheduledJob.status == "pending")
        .values(status="cancelled")
    )


async def old_cancel_prefix(store: Store, prefix: str) -> None:
    async with store.db.transaction() as session:
        await session.execute(old_statement(prefix))


async def _timed(calls: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    times = []
    for i in range(calls):
        start = time.perf_counter()
        await call(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def _ms(times: list[float]) -> str:
    return f"p50 {statistics.median(times):7.3f} ms, mean {statistics.fmean(times):7.3f} ms"


async def _plan(store: Store, statement: Update) -> str:
    sql = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    async with store.db.engine.connect() as conn:
        rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
        return "; ".join(row[-1] for row in rows)


async def run(pending: int = 100_000, calls: int = 200) -> None:
    tickets = pending // len(STEPS)
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'jobs.db'}")
        try:
            start = time.perf_counter()
            for first in range(0, tickets, 2_000):
                async with store.db.transaction() as session:
                    jobs = [
                        j for t in range(first, min(first + 2_000, tickets)) for j in ticket_jobs(t)
                    ]
                    await add_jobs(session, jobs, fresh=True)
            fill = time.perf_counter() - start
            async with store.db.engine.connect() as conn:
                count = (
                    await conn.execute(text("SELECT count(*) FROM scheduled_jobs"))
                ).scalar_one()

            next_due = await _timed(calls, lambda _: store.jobs.next_due())
            # More than 100 due three hours in: the scheduler takes a batch of 100 at once.
            now = START + timedelta(hours=3)
            assert len(await store.jobs.due(now, limit=100)) == 100
            due = await _timed(calls, lambda _: store.jobs.due(now, limit=100))

            # In turn, each on tickets of its own, so all three see the same database and disk.
            # The floor cancels as many jobs (a deadline's four) by their exact keys, an
            # equality on the same index: what no query by prefix can beat.
            old: list[float] = []
            new: list[float] = []
            floor: list[float] = []
            for i in range(calls):
                start = time.perf_counter()
                await old_cancel_prefix(store, f"ticket:{3 * i}:first:")
                old.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                await store.jobs.cancel_prefix(f"ticket:{3 * i + 1}:first:")
                new.append((time.perf_counter() - start) * 1000)
                keys = [k for k, *_ in ticket_jobs(3 * i + 2) if ":first:" in k]
                start = time.perf_counter()
                await store.jobs.cancel(*keys)
                floor.append((time.perf_counter() - start) * 1000)
            for ticket in range(3 * calls):
                assert await store.jobs.status(f"ticket:{ticket}:first:r0:remind") == "cancelled"
            assert await store.jobs.status(f"ticket:{3 * calls}:first:r0:remind") == "pending"
            old_plan = await _plan(store, old_statement("ticket:7:first:"))
            new_plan = await _plan(store, cancel_prefix_statement("ticket:7:first:", "sqlite"))
        finally:
            await store.close()
    print(f"scheduled jobs: {count:,} pending ({tickets:,} tickets × {len(STEPS)}), SQLite")
    print(f"  filled in {fill:.1f} s; {calls} calls each, one transaction per cancel")
    print(f"  next_due:                  {_ms(next_due)}")
    print(f"  due(now, limit=100):       {_ms(due)}")
    print(f"  cancel_prefix, LIKE (old): {_ms(old)}")
    print(f"    plan: {old_plan}")
    print(f"  cancel_prefix, key range:  {_ms(new)}")
    print(f"    plan: {new_plan}")
    print(f"  cancel by exact keys:      {_ms(floor)}  (the floor: the same number of jobs)")
    ratio = statistics.median(old) / statistics.median(new)
    floor_ratio = statistics.median(new) / statistics.median(floor)
    print(
        f"  the key range takes 1/{ratio:.1f} of the LIKE's time (p50),"
        f" {floor_ratio:.2f}× the floor's"
    )


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    asyncio.run(run(20_000 if quick else 100_000, 50 if quick else 200))
