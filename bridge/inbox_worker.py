"""The inbox worker: every stored event handled once, in order per room, rooms side by side.

Each room has a lane: its events are handled one at a time, in the order the homeserver sent
them, while other rooms' lanes go on (DESIGN.md, "Ordered, not serial"). One slow homeserver
call holds up only its own room, and only for `event_budget` seconds per attempt.

Exactly once:
- A new transaction's events are handed over while the appservice writes them (`Arrival`). An
  event is handled at once only when this process has never seen its ID (`fresh`); an event
  seen before (the homeserver sent it again in a new transaction) waits for the write and is
  handled only if the write stored it (else an earlier transaction holds it, and that one is
  handled), and then as not fresh, so its handlers look for work done before.
- At start, the events the inbox still holds as pending are queued before any new one.
- An entry is marked done after its handlers returned; marks are written in batches (a crash
  before the mark only means the event is handled again, which its handlers absorb: derived
  transaction IDs, records keyed by the event).
- A failure of the homeserver or the network is retried in the lane (bounded attempts, growing
  delays); a bug in a handler marks the entry failed at once, so one bad event never blocks a
  room for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bridge import metrics
from bridge.clock import Clock
from bridge.matrix_errors import MatrixError, TooLarge
from bridge.store import Store
from bridge.store.inbox import Arrival, InboxEntry

log = logging.getLogger(__name__)

# Event IDs remembered to tell a resent event from a new one: more than a day of traffic of a
# street office (the inbox keeps handled events a day; older resends are absorbed by handlers).
KNOWN_EVENTS = 100_000
TRANSIENT = (MatrixError, OSError, TimeoutError)
# Marks of handled entries wait for up to this many others, or this long, to share a commit.
MARK_BATCH = 500
MARK_DELAY = 0.05


class Handler(Protocol):
    async def handle(
        self, raw: dict[str, Any], received_at: datetime | None = None, *, fresh: bool = False
    ) -> None: ...


class _Tracker:
    """Sets an arrival's `handled` once each of its events was handled (or skipped)."""

    def __init__(self, arrival: Arrival, count: int) -> None:
        self.arrival = arrival
        self.left = count
        if count == 0:
            arrival.handled.set()

    def one_done(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.arrival.handled.set()


@dataclass
class _Item:
    body: dict[str, Any]
    received_at: datetime
    fresh: bool
    # The entry's seq, once known: at once for an entry read from the inbox, after the write
    # for an arrival's event (None then: not stored by this transaction).
    stored: asyncio.Future[list[InboxEntry] | None] | None = None
    seq: int | None = None
    attempts: int = 0
    tracker: _Tracker | None = None

    @property
    def event_id(self) -> str:
        return str(self.body["event_id"])

    @property
    def room(self) -> str:
        room = self.body.get("room_id")
        return room if isinstance(room, str) else ""


@dataclass
class _Lane:
    items: deque[_Item] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class InboxWorker:
    def __init__(
        self,
        store: Store,
        router: Handler,
        clock: Clock,
        *,
        max_attempts: int = 3,
        retry_delay: float = 1.0,
        event_budget: float = 30.0,
    ) -> None:
        self.store = store
        self.router = router
        self.clock = clock
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.event_budget = event_budget
        self.running = False
        self.handled = 0  # events handled (or skipped as stored elsewhere) since start
        self._lanes: dict[str, _Lane] = {}
        self._known: OrderedDict[str, None] = OrderedDict()
        self._busy = 0
        self._marks: list[int] = []
        self._flushing = False
        self._wake_flusher = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._draining = False
        self._settled = asyncio.Event()
        self._settled.set()
        self._flush_now = asyncio.Event()  # someone waits for the marks (drain, stop)

    # ------------------------------------------------------------ intake

    async def start(self) -> None:
        """Before the appservice listens: remember recent event IDs, queue what is pending."""
        for event_id in await self.store.inbox.recent_event_ids(KNOWN_EVENTS):
            self._remember(event_id)
        await self._queue_pending()
        self.running = True

    async def _queue_pending(self) -> None:
        after = 0
        while entries := await self.store.inbox.pending(after=after, limit=1000):
            for entry in entries:
                self._remember(entry.event_id)
                item = _Item(entry.body, entry.received_at, False, seq=entry.seq)
                item.attempts = entry.attempts
                self._queue(item)
            after = entries[-1].seq

    def offer(self, arrival: Arrival) -> None:
        """A new transaction's events, offered while they are written."""
        if not self.running:
            arrival.handled.set()  # handled from the inbox when the worker starts
            return
        tracker = _Tracker(arrival, len(arrival.events))
        for body in arrival.events:
            event_id = str(body["event_id"])
            fresh = event_id not in self._known
            self._remember(event_id)
            self._queue(_Item(body, arrival.received_at, fresh, arrival.stored, tracker=tracker))

    def _remember(self, event_id: str) -> None:
        self._known[event_id] = None
        self._known.move_to_end(event_id)
        while len(self._known) > KNOWN_EVENTS:
            self._known.popitem(last=False)

    def _queue(self, item: _Item) -> None:
        lane = self._lanes.get(item.room)
        if lane is None:
            lane = self._lanes[item.room] = _Lane()
        lane.items.append(item)
        self._busy += 1
        self._settled.clear()

        if lane.task is None:
            lane.task = asyncio.create_task(self._run_lane(item.room, lane), name="inbox lane")
            lane.task.add_done_callback(_log_failure)

    # ------------------------------------------------------------ lanes

    async def _run_lane(self, room: str, lane: _Lane) -> None:
        try:
            while lane.items:
                item = lane.items[0]
                try:
                    await self._process(item)
                finally:
                    lane.items.popleft()
                    self._busy -= 1
                    self.handled += 1
                    if item.tracker is not None:
                        item.tracker.one_done()
        finally:
            lane.task = None
            if not lane.items and self._lanes.get(room) is lane:
                del self._lanes[room]
            self._maybe_settled()

    async def _process(self, item: _Item) -> None:
        failure: Exception | None = None
        if item.fresh:
            # Never seen: handled while it is written (the resident's answer waits on this).
            failure = await self._attempt(item, fresh=True)
        if not await self._find_seq(item):
            return
        if item.fresh and failure is None:
            self._mark(item)
            return
        if failure is not None and not await self._failed(item, failure):
            return
        while True:
            failure = await self._attempt(item, fresh=False)
            if failure is None:
                self._mark(item)
                return
            if not await self._failed(item, failure):
                return

    async def _find_seq(self, item: _Item) -> bool:
        """Whether the entry is this worker's to mark: stored by this item's transaction."""
        if item.seq is not None:
            return True
        assert item.stored is not None
        try:
            stored = await asyncio.shield(item.stored)
        except Exception:
            return False  # not stored: the homeserver sends the transaction again
        for entry in stored or []:
            if entry.event_id == item.event_id:
                item.seq = entry.seq
                return True
        log.info("event %s was stored by an earlier transaction; not handled again", item.event_id)
        return False

    async def _attempt(self, item: _Item, *, fresh: bool) -> Exception | None:
        """Handle the event once; the exception that stopped its handlers, if one did."""
        started = time.perf_counter()
        kind = "ephemeral" if item.body.get("linli.ephemeral") else str(item.body.get("type"))
        try:
            async with asyncio.timeout(self.event_budget):
                await self.router.handle(item.body, item.received_at, fresh=fresh)
        except Exception as e:
            metrics.observe_event(kind, time.perf_counter() - started, True)
            return e
        metrics.observe_event(kind, time.perf_counter() - started, False)
        return None

    async def _failed(self, item: _Item, error: Exception) -> bool:
        """Record a failed attempt; True if the event is to be tried again (after a delay)."""
        assert item.seq is not None
        item.attempts += 1
        # A homeserver or network failure may pass; an event too large for it never does.
        transient = isinstance(error, TRANSIENT) and not isinstance(error, TooLarge)
        give_up = not transient or item.attempts >= self.max_attempts
        if transient:
            log.warning("event %s failed (attempt %d): %s", item.event_id, item.attempts, error)
        else:
            log.error("event %s failed in a handler", item.event_id, exc_info=error)
        await self.store.inbox.mark_attempt_failed(
            item.seq, describe(error), give_up, self.clock.now()
        )
        if give_up:
            return False
        await asyncio.sleep(self.retry_delay * item.attempts)
        return True

    # ------------------------------------------------------------ marks

    def _mark(self, item: _Item) -> None:
        assert item.seq is not None
        self._marks.append(item.seq)
        if len(self._marks) >= MARK_BATCH:
            self._flush_now.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_marks(), name="inbox marks")
            self._flusher.add_done_callback(_log_failure)
        self._wake_flusher.set()

    async def _flush_marks(self) -> None:
        """One UPDATE for every entry handled since the last one (group commit). It waits up
        to MARK_DELAY for more (unless MARK_BATCH are waiting, or someone drains): a mark only
        saves work after a crash, and each UPDATE is a commit (an fsync) that competes with
        the inbox's own writes on the resident's round trip."""
        while True:
            await self._wake_flusher.wait()
            self._wake_flusher.clear()
            if not self._flush_now.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._flush_now.wait(), MARK_DELAY)
            self._flush_now.clear()
            batch, self._marks = self._marks, []
            if batch:
                self._flushing = True
                try:
                    await self.store.inbox.mark_done(batch, self.clock.now())
                finally:
                    self._flushing = False
            self._maybe_settled()

    def _maybe_settled(self) -> None:
        if self._busy == 0:
            if not self._marks and not self._flushing:
                self._settled.set()
            elif self._draining:
                self._flush_now.set()

    # ------------------------------------------------------------ control

    async def drain(self) -> int:
        """Handle everything pending now (reading the inbox first when the worker has not
        started) and wait until it is handled and marked; returns how many events were."""
        before = self.handled
        if not self.running:
            await self._queue_pending()
        self._draining = True
        try:
            self._maybe_settled()
            await self._settled.wait()
        finally:
            self._draining = False
        return self.handled - before

    async def run(self) -> None:
        """Start (if not started) and keep working until cancelled."""
        if not self.running:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        self.running = False
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._marks:
            batch, self._marks = self._marks, []
            with contextlib.suppress(Exception):
                await self.store.inbox.mark_done(batch, self.clock.now())


def describe(error: Exception) -> str:
    """What is stored of a failure: the type and, for the homeserver's and the network's, the
    message; a handler's exception text may quote a message or a name, so only its origin."""
    if isinstance(error, TRANSIENT):
        return f"{type(error).__name__}: {error}"[:500]
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""
    return f"{type(error).__name__}{where}"


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("inbox task %s failed", task.get_name(), exc_info=task.exception())
