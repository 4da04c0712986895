"""The scheduler on a real database (SQLite and PostgreSQL) and a fake clock: each job fires
once, on time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bridge.clock import FakeClock
from bridge.matrix_errors import Unavailable
from bridge.scheduler import Scheduler
from bridge.store import Store
from bridge.store.jobs import Job

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def open_store(database_url: str) -> Store:
    return await Store.open(database_url)


async def test_job_fires_when_the_clock_reaches_it_and_only_once(database_url: str) -> None:
    store = await open_store(database_url)
    clock = FakeClock(START)
    scheduler = Scheduler(store.jobs, clock)
    fired: list[tuple[str, datetime]] = []

    async def remind(job: Job) -> None:
        fired.append((job.key, clock.now()))

    scheduler.register("remind", remind)
    await scheduler.schedule("t:1", "remind", START + timedelta(minutes=30), {})
    loop = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.05)
    assert fired == []
    clock.advance(timedelta(minutes=29))
    await asyncio.sleep(0.05)
    assert fired == []
    clock.advance(timedelta(minutes=1))
    for _ in range(50):
        if fired:
            break
        await asyncio.sleep(0.01)
    assert fired == [("t:1", START + timedelta(minutes=30))]
    clock.advance(timedelta(hours=2))
    await asyncio.sleep(0.05)
    assert len(fired) == 1
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    await store.close()


async def test_a_job_due_during_downtime_fires_once_after_restart(database_url: str) -> None:
    store = await open_store(database_url)
    await store.jobs.schedule("t:2", "remind", START + timedelta(minutes=5), {"n": 2})
    await store.close()

    store = await open_store(database_url)
    clock = FakeClock(START + timedelta(hours=1))
    seen: list[dict[str, object]] = []

    async def remind(job: Job) -> None:
        seen.append(job.payload)

    scheduler = Scheduler(store.jobs, clock)
    scheduler.register("remind", remind)
    assert await scheduler.run_due() == 1
    assert await scheduler.run_due() == 0
    assert seen == [{"n": 2}]
    assert await store.jobs.status("t:2") == "done"
    await store.close()


async def test_rescheduling_moves_a_pending_job_and_cancel_stops_it(database_url: str) -> None:
    store = await open_store(database_url)
    clock = FakeClock(START)
    scheduler = Scheduler(store.jobs, clock)
    seen: list[str] = []

    async def remind(job: Job) -> None:
        seen.append(job.key)

    scheduler.register("remind", remind)
    await scheduler.schedule("a", "remind", START + timedelta(minutes=1), {})
    await scheduler.schedule("a", "remind", START + timedelta(minutes=10), {})
    await scheduler.schedule("b", "remind", START + timedelta(minutes=2), {})
    await scheduler.cancel("b")
    clock.advance(timedelta(minutes=5))
    assert await scheduler.run_due() == 0
    clock.advance(timedelta(minutes=5))
    assert await scheduler.run_due() == 1
    assert seen == ["a"]
    await store.close()


async def test_homeserver_failure_retries_later_without_losing_the_job(database_url: str) -> None:
    store = await open_store(database_url)
    clock = FakeClock(START)
    scheduler = Scheduler(store.jobs, clock)
    calls = 0

    async def flaky(job: Job) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Unavailable(502, "M_UNAVAILABLE", "down", "PUT", "/x")

    scheduler.register("flaky", flaky)
    await scheduler.schedule("f", "flaky", START, {})
    assert await scheduler.run_due() == 1
    assert await store.jobs.status("f") == "pending"
    clock.advance(timedelta(minutes=1))
    assert await scheduler.run_due() == 1
    assert calls == 2
    assert await store.jobs.status("f") == "done"
    await store.close()


async def test_a_job_finished_by_concurrent_writers_is_finished_once(database_url: str) -> None:
    store = await open_store(database_url)
    await store.jobs.schedule("t:5", "remind", START, {})
    job = await store.jobs.get("t:5")
    assert job is not None
    claims = await asyncio.gather(*(store.jobs.finish(job.id, START) for _ in range(8)))
    assert claims.count(True) == 1
    assert await store.jobs.status("t:5") == "done"
    await store.close()


async def test_a_lane_held_by_one_compound_never_holds_another_compounds_job(
    database_url: str,
) -> None:
    store = await open_store(database_url)
    clock = FakeClock(START)
    scheduler = Scheduler(store.jobs, clock)
    release = asyncio.Event()
    fired: list[str] = []

    async def fan_out(job: Job) -> None:
        fired.append(f"start {job.key}")
        await release.wait()  # thousands of direct messages, or a slow homeserver
        fired.append(f"end {job.key}")

    async def escalate(job: Job) -> None:
        fired.append(job.key)

    async def lane(job: Job) -> str:
        return str(job.payload["compound"])

    scheduler.register("fan_out", fan_out)
    scheduler.register("escalate", escalate)
    scheduler.lanes_of.update({"fan_out": lane, "escalate": lane})
    await scheduler.schedule("a:remind", "fan_out", START, {"compound": "a"})
    await scheduler.schedule("a:escalate", "escalate", START, {"compound": "a"})
    await scheduler.schedule("b:escalate", "escalate", START, {"compound": "b"})
    loop = asyncio.create_task(scheduler.run())
    for _ in range(100):
        if "b:escalate" in fired:
            break
        await asyncio.sleep(0.01)
    # b's escalation fired while a's fan-out runs; a's own job waits its turn, in order.
    assert fired == ["start a:remind", "b:escalate"]
    release.set()
    assert await scheduler.run_due() == 0
    assert fired == ["start a:remind", "b:escalate", "end a:remind", "a:escalate"]
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    await store.close()


async def test_a_job_over_its_time_budget_is_stopped_and_retried_later(database_url: str) -> None:
    store = await open_store(database_url)
    clock = FakeClock(START)
    scheduler = Scheduler(store.jobs, clock, job_budget=0.05)
    calls: list[int] = []

    async def stuck(job: Job) -> None:
        calls.append(job.attempts)
        if len(calls) == 1:
            await asyncio.Event().wait()  # never returns

    scheduler.register("stuck", stuck)
    await scheduler.schedule("s:1", "stuck", START, {})
    assert await scheduler.run_due() == 1
    assert await store.jobs.status("s:1") == "pending"  # retried later, not lost
    clock.advance(timedelta(minutes=1))
    assert await scheduler.run_due() == 1
    assert calls == [0, 1] and await store.jobs.status("s:1") == "done"
    await store.close()
