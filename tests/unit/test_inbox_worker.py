"""The inbox's hand-over: a new transaction's events are handled while they are written, a
repeat is recognised (also after a restart), and nothing is handled twice or lost when the
write fails, a handler fails, or a backlog from an earlier run is waiting.

A real store (SQLite and PostgreSQL); the dispatcher is a recorder (the bots have tests of
their own)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bridge.appservice import AppserviceServer
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig
from bridge.inbox_worker import InboxWorker
from bridge.retention import Retention
from bridge.store import Store
from bridge.store.inbox import Arrival, InboxEntry
from bridge.store.models import InboxEvent

HS_TOKEN = "hs-token-for-the-worker-tests"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
_ids = itertools.count()


def event(name: str | None = None) -> dict[str, Any]:
    return {
        "event_id": f"${name or next(_ids)}",
        "room_id": "!room:linli.localhost",
        "sender": "@resident:linli.localhost",
        "type": "m.room.message",
        "content": {"msgtype": "m.text", "body": "hello"},
    }


class Recorder:
    """Stands in for the dispatcher: records what it was given, fails when told to, and can
    hold an event until released."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, bool]] = []
        self.fail: dict[str, Exception] = {}
        self.hold: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def handle(
        self, raw: dict[str, Any], received_at: datetime | None = None, *, fresh: bool = False
    ) -> None:
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        if raw["event_id"] in self.fail:
            raise self.fail.pop(raw["event_id"])
        self.handled.append((raw["event_id"], fresh))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


_workers: list[InboxWorker] = []


def worker_for(store: Store, recorder: Recorder) -> InboxWorker:
    worker = InboxWorker(store, recorder, FakeClock(NOW), retry_delay=0)
    _workers.append(worker)
    return worker


@pytest.fixture(autouse=True)
async def stop_workers() -> AsyncIterator[None]:
    yield
    while _workers:
        await _workers.pop().stop()


def offer_while_writing(worker: InboxWorker, store: Store, events: list[dict[str, Any]]) -> None:
    """What the appservice does with a new transaction: hand it over, then write it."""
    writing = asyncio.ensure_future(store.inbox.store_transaction("t", events, NOW))
    worker.offer(Arrival(events, NOW, writing))


async def statuses(store: Store) -> dict[str, int]:
    return await store.inbox.counts()


async def started(store: Store, recorder: Recorder) -> InboxWorker:
    worker = worker_for(store, recorder)
    await worker.start()
    return worker


async def test_an_arrival_is_handled_while_it_is_being_written(store: Store) -> None:
    recorder = Recorder()
    worker = await started(store, recorder)
    write_may_start = asyncio.Event()
    first = event()

    async def slow_write() -> list[InboxEntry] | None:
        await write_may_start.wait()
        return await store.inbox.store_transaction("t1", [first], NOW)

    worker.offer(Arrival([first], NOW, asyncio.ensure_future(slow_write())))
    draining = asyncio.ensure_future(worker.drain())
    await asyncio.sleep(0.05)
    # Handled (fresh: never seen before) while the write has not even begun...
    assert recorder.handled == [(first["event_id"], True)]
    assert not draining.done() and await statuses(store) == {}
    # ...and marked done once it is written.
    write_may_start.set()
    assert await draining == 1
    assert await statuses(store) == {"done": 1}


async def test_the_backlog_of_an_earlier_run_goes_first_and_is_not_fresh(store: Store) -> None:
    recorder = Recorder()
    # An earlier run stored these and stopped before handling them.
    backlog = [event(), event()]
    await store.inbox.store_transaction("old", backlog, NOW)
    worker = await started(store, recorder)
    late = event()
    offer_while_writing(worker, store, [late])
    await worker.drain()
    assert worker.handled == 3
    assert recorder.handled == [
        (backlog[0]["event_id"], False),
        (backlog[1]["event_id"], False),
        (late["event_id"], True),
    ]
    assert await statuses(store) == {"done": 3}


async def test_an_event_resent_in_a_new_transaction_is_not_handled_again(store: Store) -> None:
    recorder = Recorder()
    worker = await started(store, recorder)
    sent = event()
    offer_while_writing(worker, store, [sent])
    await worker.drain()
    # Synapse sends the same event again, in a transaction with another txnId.
    writing = asyncio.ensure_future(store.inbox.store_transaction("t-again", [sent], NOW))
    worker.offer(Arrival([sent], NOW, writing))
    await worker.drain()
    assert recorder.handled == [(sent["event_id"], True)]
    # Also after a restart: the next run remembers the IDs the inbox holds.
    second = Recorder()
    worker2 = await started(store, second)
    writing = asyncio.ensure_future(store.inbox.store_transaction("t-third", [sent], NOW))
    worker2.offer(Arrival([sent], NOW, writing))
    await worker2.drain()
    assert second.handled == []
    assert await statuses(store) == {"done": 1}


async def test_a_stalled_room_does_not_hold_up_another(store: Store) -> None:
    recorder = Recorder()
    worker = await started(store, recorder)
    slow_room, other_room = event(), {**event(), "room_id": "!other:linli.localhost"}
    after_slow = event()
    release = asyncio.Event()
    original = recorder.handle

    async def handle(raw: dict[str, Any], received_at: Any = None, *, fresh: bool = False) -> None:
        if raw is slow_room:
            await release.wait()  # a homeserver call that hangs
        await original(raw, received_at, fresh=fresh)

    recorder.handle = handle  # type: ignore[method-assign]
    offer_while_writing(worker, store, [slow_room, after_slow, other_room])

    async def other_handled() -> None:
        while (other_room["event_id"], True) not in recorder.handled:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(other_handled(), 5)
    # The other room was answered; the stalled room's next event still waits its turn.
    assert recorder.handled == [(other_room["event_id"], True)]
    release.set()
    await worker.drain()
    assert [e for e, _ in recorder.handled] == [
        other_room["event_id"],
        slow_room["event_id"],
        after_slow["event_id"],
    ]


async def test_a_handler_that_overruns_its_budget_is_retried(store: Store) -> None:
    recorder = Recorder()
    worker = worker_for(store, recorder)
    worker.event_budget = 0.05
    await worker.start()
    slow = event()
    calls = 0
    original = recorder.handle

    async def handle(raw: dict[str, Any], received_at: Any = None, *, fresh: bool = False) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(10)
        await original(raw, received_at, fresh=fresh)

    recorder.handle = handle  # type: ignore[method-assign]
    offer_while_writing(worker, store, [slow])
    await asyncio.wait_for(worker.drain(), 5)
    assert recorder.handled == [(slow["event_id"], False)]  # the retry looks for earlier work
    assert await statuses(store) == {"done": 1}


async def test_a_failed_handler_is_retried_in_its_room_before_what_followed(
    store: Store,
) -> None:
    recorder = Recorder()
    worker = await started(store, recorder)
    first, second = event(), event()
    recorder.fail[first["event_id"]] = OSError("homeserver unreachable")
    offer_while_writing(worker, store, [first, second])
    await worker.drain()
    # The first failed once (fresh), was tried again (not fresh), then the second came.
    assert recorder.handled == [(first["event_id"], False), (second["event_id"], True)]
    assert await statuses(store) == {"done": 2}


async def test_a_handler_bug_fails_that_event_alone(store: Store) -> None:
    recorder = Recorder()
    worker = await started(store, recorder)
    bad, good = event(), event()
    recorder.fail[bad["event_id"]] = KeyError("张三 3-2-1101")
    offer_while_writing(worker, store, [bad, good])
    await worker.drain()
    assert recorder.handled == [(good["event_id"], True)]
    assert await statuses(store) == {"failed": 1, "done": 1}
    async with store.db.sessions() as session:
        [error] = (
            await session.execute(select(InboxEvent.error).where(InboxEvent.status == "failed"))
        ).scalars()
    # Where it failed, never what the exception said (it may quote a name or an address).
    assert error.startswith("KeyError at ") and "张三" not in error


async def test_a_worker_not_started_handles_the_inbox_when_drained(store: Store) -> None:
    recorder = Recorder()
    worker = worker_for(store, recorder)
    sent = event()
    offer_while_writing(worker, store, [sent])  # stored, not handled (a crash after the 200)
    await asyncio.sleep(0.05)
    assert recorder.handled == []
    assert await worker.drain() == 1
    assert recorder.handled == [(sent["event_id"], False)]


@pytest.fixture
async def serve(store: Store) -> AsyncIterator[Any]:
    """Starts an appservice endpoint with its own worker (a run of Linli) on the store."""
    clients: list[TestClient[Any, Any]] = []
    tasks: list[asyncio.Future[None]] = []

    async def start(
        recorder: Recorder, *, ack_wait: float = 1.0, run: bool = False, just_started: bool = False
    ) -> tuple[TestClient[Any, Any], InboxWorker]:
        config = BridgeConfig(
            appservice=AppserviceConfig(
                as_token="as-token-for-the-tests", hs_token=HS_TOKEN, ack_wait_seconds=ack_wait
            )
        )
        worker = worker_for(store, recorder)
        await worker.start()
        if run:
            tasks.append(asyncio.ensure_future(worker.run()))
        server = AppserviceServer(config, store, FakeClock(NOW), worker.offer, lambda _: False)
        await server.load_recent()
        if just_started:
            server._catching_up()  # what start() does; TestServer does not call it
        client: TestClient[Any, Any] = TestClient(TestServer(server.app))
        await client.start_server()
        clients.append(client)
        return client, worker

    yield start
    for task in tasks:
        task.cancel()
    for client in clients:
        await client.close()


async def put(client: TestClient[Any, Any], txn: str, events: list[dict[str, Any]]) -> int:
    response = await client.put(
        f"/_matrix/app/v1/transactions/{txn}",
        json={"events": events},
        headers={"Authorization": f"Bearer {HS_TOKEN}"},
    )
    return response.status


async def test_a_repeated_transaction_is_acknowledged_and_not_handled_again(
    store: Store, serve: Any
) -> None:
    first_run = Recorder()
    client, worker = await serve(first_run)
    sent = event()
    assert await put(client, "t1", [sent]) == 200
    await worker.drain()
    assert first_run.handled == [(sent["event_id"], True)]
    # The homeserver did not get the 200 and sends it again: to this run...
    assert await put(client, "t1", [sent]) == 200
    await worker.drain()
    assert len(first_run.handled) == 1
    # ...and to the next run, which loaded the recent txnIds when it started.
    second_run = Recorder()
    client2, worker2 = await serve(second_run)
    assert await put(client2, "t1", [sent]) == 200
    await worker2.drain()
    assert second_run.handled == []
    assert await statuses(store) == {"done": 1}


async def test_a_txn_id_reused_by_a_restarted_homeserver_is_a_new_transaction(
    store: Store, serve: Any
) -> None:
    recorder = Recorder()
    client, worker = await serve(recorder)
    before, after = event(), event()
    assert await put(client, "1", [before]) == 200
    await worker.drain()
    # Synapse on SQLite numbers from 1 again after its restart; Linli restarted too.
    client2, worker2 = await serve(recorder)
    assert await put(client2, "1", [after]) == 200
    assert await put(client2, "1", [after]) == 200  # and this one is a true repeat
    await worker2.drain()
    assert [e for e, _ in recorder.handled] == [before["event_id"], after["event_id"]]
    assert await statuses(store) == {"done": 2}


async def test_a_failed_write_answers_500_and_the_resend_is_stored(
    store: Store, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    client, worker = await serve(recorder)
    original = store.inbox.store_transaction

    async def disk_full(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store.inbox, "store_transaction", disk_full)
    sent = event()
    assert await put(client, "t1", [sent]) == 500
    await worker.drain()
    assert await statuses(store) == {}  # nothing stored, so nothing to mark
    monkeypatch.setattr(store.inbox, "store_transaction", original)
    # The homeserver sends it again: this time it is stored and handled to the end. (It was
    # handled once before; its messages' derived txn IDs make the homeserver drop repeats.)
    assert await put(client, "t1", [sent]) == 200
    await worker.drain()
    assert [e for e, _ in recorder.handled] == [sent["event_id"]] * 2
    assert await statuses(store) == {"done": 1}


async def test_the_homeserver_hears_200_once_the_events_are_handled(
    store: Store, serve: Any
) -> None:
    recorder = Recorder()
    recorder.hold = asyncio.Event()
    client, _ = await serve(recorder, ack_wait=10, run=True)
    putting = asyncio.ensure_future(put(client, "t1", [event()]))
    await recorder.started.wait()
    await asyncio.sleep(0.1)
    assert not putting.done()  # stored, but the bot has not answered yet
    recorder.hold.set()
    assert await putting == 200
    assert len(recorder.handled) == 1


async def test_just_after_a_start_the_200_does_not_wait_for_the_handlers(
    store: Store, serve: Any
) -> None:
    recorder = Recorder()
    recorder.hold = asyncio.Event()
    client, _ = await serve(recorder, ack_wait=10, run=True, just_started=True)
    # The homeserver may be delivering its backlog: it hears 200 as soon as it is stored.
    assert await asyncio.wait_for(put(client, "t1", [event()]), 5) == 200
    assert recorder.handled == []
    recorder.hold.set()


async def test_a_slow_handler_holds_the_200_for_ack_wait_seconds_at_most(
    store: Store, serve: Any
) -> None:
    recorder = Recorder()
    recorder.hold = asyncio.Event()
    client, _ = await serve(recorder, ack_wait=0.05, run=True)
    assert await put(client, "t1", [event()]) == 200
    assert recorder.handled == [] and await statuses(store) == {"pending": 1}
    recorder.hold.set()

    async def finished() -> None:
        while await statuses(store) != {"done": 1}:  # noqa: ASYNC110 - the worker runs alone
            await asyncio.sleep(0.01)

    await asyncio.wait_for(finished(), 5)


async def test_handled_events_are_pruned_after_a_day_and_the_recent_txn_ids_stay(
    store: Store,
) -> None:
    day = timedelta(days=1)
    old, handled, waiting, broken = event(), event(), event(), event()
    for n, (ev, age) in enumerate([(old, 2 * day), (handled, day / 2), (waiting, 3 * day)]):
        await store.inbox.store_transaction(f"t{n}", [ev], NOW - age)
    await store.inbox.store_transaction("t3", [broken], NOW - 40 * day)
    entries = {e.event_id: e.seq for e in await store.inbox.pending()}
    await store.inbox.mark_done([entries[old["event_id"]]], NOW - 2 * day)
    await store.inbox.mark_done([entries[handled["event_id"]]], NOW - day / 2)
    await store.inbox.mark_attempt_failed(entries[broken["event_id"]], "bug", True, NOW - 40 * day)
    events, txns = await store.inbox.prune(NOW - day, NOW - 30 * day, keep_txns=1)
    assert events == 2  # the old handled one and the long-failed one
    assert await statuses(store) == {"done": 1, "pending": 1}
    # t0 and t3 lost their events and are not the newest: their records go; t1 (the newest,
    # and still holding an event) and t2 (holding the pending one) stay.
    assert txns == 2
    assert set(await store.inbox.recent_txn_ids(10)) == {"t1", "t2"}


def test_the_prune_runs_at_four_in_the_morning_local_time() -> None:
    retention = Retention.__new__(Retention)
    retention.tz = ZoneInfo("Asia/Shanghai")
    # 02:00 UTC is 10:00 in Shanghai: the next run is tomorrow 04:00 there (20:00 UTC today).
    assert retention.next_run(NOW) == datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    early = datetime(2026, 11, 23, 3, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert retention.next_run(early).astimezone(UTC) == datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
