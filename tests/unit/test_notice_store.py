"""NoticeStore on SQLite and PostgreSQL (tests/conftest.py): numbering under concurrency, one
notice and one change per cause, reach rows written once, receipts against the rooms' order,
and a person's reach exported and erased."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bots.notices.records import ACK, NewNotice
from bots.notices.store import NoticeStore
from bridge.store import Store
from bridge.store.jobs import JobSpec, JobStore

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ROOM = "!b3:linli.localhost"


@pytest.fixture
async def notices(database_url: str) -> AsyncIterator[NoticeStore]:
    store = await Store.open(database_url)
    yield NoticeStore(store.db)
    await store.close()


def jobs_of(notices: NoticeStore) -> JobStore:
    return JobStore(notices.db)


def new(cause: str, targets: list[str] | None = None) -> NewNotice:
    return NewNotice(
        compound="heping",
        cause=cause,
        author="@staff:x",
        origin="staff",
        staff_room_id="!staff:x",
        text="停水",
        targets=targets,
        urgent=False,
        status="posted",
        created_at=NOW,
        post_at=None,
        cron=None,
        expires_at=NOW + timedelta(days=7),
        posted_at=NOW,
    )


async def test_notices_created_at_once_get_distinct_numbers_once_per_cause(
    notices: NoticeStore,
) -> None:
    # Twelve at once: on PostgreSQL most read the same highest number and must look again.
    made = await asyncio.gather(*(notices.create(new(f"$e{i}")) for i in range(12)))
    assert sorted(c.notice.number for c in made) == list(range(1, 13))
    again = await notices.create(new("$e3", ["group:dance"]))
    assert not again.made_now and again.notice.targets is None
    group = await notices.create(new("$g", ["group:dance"]))
    assert (await notices.get("heping", group.notice.number)) == group.notice
    assert group.notice.group == "dance"


async def test_a_change_is_made_once_per_cause_with_its_jobs(notices: NoticeStore) -> None:
    notice = (await notices.create(new("$e"))).notice
    key = f"notice:{notice.id}:remind:1"
    jobs: list[JobSpec] = [(key, "notice.remind", NOW, {"notice": notice.id})]
    changed, made = await notices.change(
        notice.id,
        cause="$edit",
        action="edited",
        at=NOW,
        actor="@staff:x",
        detail={"before": "停水"},
        jobs=lambda n: jobs,
        text="停电",
    )
    assert made and changed.text == "停电"
    again, made = await notices.change(
        notice.id, cause="$edit", action="edited", at=NOW, actor=None, text="又改"
    )
    assert not made and again.text == "停电"
    job = await jobs_of(notices).get(key)
    assert job is not None and job.due_at == NOW
    assert await notices.changed_by(notice.id, "$edit", "edited")
    assert not await notices.changed_by(notice.id, "$edit", "cancelled")


async def test_reach_rows_are_written_once_and_receipts_follow_the_room_order(
    notices: NoticeStore,
) -> None:
    notice = (await notices.create(new("$e"))).notice
    await notices.saw_event(ROOM, "$before", 100)
    await notices.add_post(notice.id, ROOM, "$notice", 200)
    await notices.saw_event(ROOM, "$after", 300)
    assert await notices.notices_read_by(ROOM, "$before") == []
    assert await notices.notices_read_by(ROOM, "$after") == [notice.id]
    assert await notices.notices_read_by(ROOM, "$unseen") is None
    assert await notices.notices_read_until(ROOM, 250) == [notice.id]
    assert await notices.notices_read_until(ROOM, 150) == []

    assert await notices.record_reach(notice.id, "@a:x", ACK, NOW)
    assert not await notices.record_reach(notice.id, "@a:x", ACK, NOW)
    await notices.add_reads("@a:x", [notice.id], NOW)
    await notices.add_reads("@a:x", [notice.id], NOW)
    rows = await notices.reach_rows(notice.id)
    assert rows.read == {"@a:x"} and rows.acknowledged == {"@a:x"}
    assert await notices.acknowledged_by(notice.id, ["@a:x", "@b:x"]) == {"@a:x"}

    assert len(await notices.export("@a:x")) == 2
    await notices.erase("@a:x")
    assert await notices.export("@a:x") == []
    assert (await notices.reach_rows(notice.id)).read == set()
