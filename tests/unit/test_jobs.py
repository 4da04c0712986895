"""Scheduled jobs: cancelling a record's jobs by key prefix reads only that record's jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Update
from sqlalchemy.dialects import sqlite

from bridge.store import Store
from bridge.store.jobs import _first_after, cancel_prefix_statement, cancel_statement

NOON = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)


async def open_store(tmp_path: Path) -> Store:
    return await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}")


async def test_cancel_prefix_cancels_only_the_pending_jobs_of_that_record(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        keys = [
            "ticket:1:first_response:remind",
            "ticket:1:first_response:escalate",
            "ticket:1:resolution:remind",
            "ticket:10:first_response:remind",  # "ticket:1" is a prefix of it, "ticket:1:" not
            "ticket:2:first_response:remind",
            "TICKET:1:first_response:remind",  # SQLite's LIKE would have taken it
            "ticket_1:first_response:remind",
        ]
        await store.jobs.schedule_many([(k, "remind", NOON, {}) for k in keys])
        done = await store.jobs.get("ticket:1:first_response:escalate")
        assert done is not None
        await store.jobs.finish(done.id, NOON)
        await store.jobs.cancel_prefix("ticket:1:first_response:")
        assert {k: await store.jobs.status(k) for k in keys} == {
            "ticket:1:first_response:remind": "cancelled",
            "ticket:1:first_response:escalate": "done",
            "ticket:1:resolution:remind": "pending",
            "ticket:10:first_response:remind": "pending",
            "ticket:2:first_response:remind": "pending",
            "TICKET:1:first_response:remind": "pending",
            "ticket_1:first_response:remind": "pending",
        }
        # a LIKE wildcard in the prefix is a plain character
        await store.jobs.cancel_prefix("ticket_1:")
        assert await store.jobs.status("ticket_1:first_response:remind") == "cancelled"
        assert await store.jobs.status("ticket:1:resolution:remind") == "pending"
        await store.jobs.cancel_prefix("ticket:1:")
        assert await store.jobs.status("ticket:1:resolution:remind") == "cancelled"
        assert await store.jobs.status("ticket:10:first_response:remind") == "pending"
        assert await store.jobs.next_due() == NOON
    finally:
        await store.close()


async def plan(store: Store, statement: Update) -> list[str]:
    sql = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    async with store.db.engine.connect() as conn:
        return [row[-1] for row in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]


async def test_cancelling_reads_the_key_index_not_every_pending_job(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        await store.jobs.schedule_many(
            [(f"ticket:{i}:close", "close", NOON + timedelta(minutes=i), {}) for i in range(50)]
        )
        # the unique constraint on `key` (migration 0002) is SQLite's first automatic index
        by_key = "SEARCH scheduled_jobs USING INDEX sqlite_autoindex_scheduled_jobs_1"
        assert await plan(store, cancel_prefix_statement("ticket:12:", "sqlite")) == [
            f"{by_key} (key>? AND key<?)"
        ]
        assert await plan(
            store, cancel_statement(["ticket:1:close", "ticket:2:close"], "sqlite")
        ) == [f"{by_key} (key=?)"]
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("prefix", "first_after"),
    [
        ("ticket:12:", "ticket:12;"),
        ("工单", "工卖"),
        ("a\U0010ffff", "b"),
        ("a\U0010ffff\U0010ffff", "b"),
        ("\U0010ffff", None),
        ("", None),
        ("a\ud7ff", "a\ue000"),
    ],
)
def test_first_string_after_a_prefix(prefix: str, first_after: str | None) -> None:
    assert _first_after(prefix) == first_after
