"""One loop for everything due at a time: it sleeps until the next due time read from the
database, hands each due job to its lane, and each lane fires its jobs in order and marks them
done.

Ordered, not serial: a job's lane is its compound (each bot says how to find it from a payload)
or, for jobs of no compound, its kind; lanes run side by side, so one compound's fan-out of
thousands of reminders never holds another compound's escalation. A job may hold its lane for
`job_budget` seconds per attempt (then it is retried like a homeserver failure), so fan-outs
are written as batches that schedule the rest.

Exactly once: a job is marked done only after its handler returned; a crash in between fires it
again on the next start, and handlers send with transaction IDs derived from the job's key (the
homeserver drops the repeat) and make their database changes idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from bridge import metrics
from bridge.clock import Clock
from bridge.matrix_errors import MatrixError, TooLarge
from bridge.store.jobs import Job, JobSpec, JobStore

log = logging.getLogger(__name__)

JobHandler = Callable[[Job], Awaitable[None]]
P = TypeVar("P", bound=BaseModel)
# How long one attempt of a job may hold its lane.
JOB_BUDGET = 120.0


@dataclass(frozen=True)
class JobKind(Generic[P]):
    """A kind of scheduled job, declared by the bot that owns it (`bots/<name>/jobs.py`): its
    name and the type of its payload, checked when the job is written and when it fires."""

    name: str
    payload: type[P]

    def spec(self, key: str, due_at: datetime, payload: P) -> JobSpec:
        if not isinstance(payload, self.payload):
            raise TypeError(f"{self.name} takes a {self.payload.__name__} payload")
        return (key, self.name, due_at, payload.model_dump(mode="json"))

    def read(self, job: Job) -> P:
        return self.payload.model_validate(job.payload)


def _stop_if_cancelled() -> None:
    """A handler may have turned a cancellation into an error (a TaskGroup whose children
    failed while it was cancelled raises their ExceptionGroup instead): the loop must still
    stop when its task is being cancelled, or shutdown waits for it for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class MalformedJob(Exception):
    """A stored payload that does not fit its kind (written by another version of Linli)."""


class RetryLater(Exception):
    """Raised by a handler whose work must wait (a webhook receiver is down): fire it again at
    `at`, without counting a failure."""

    def __init__(self, at: datetime, reason: str) -> None:
        super().__init__(reason)
        self.at = at


# With nothing scheduled, look again after this long (a job added by another process).
IDLE_RECHECK = timedelta(hours=1)


class Scheduler:
    def __init__(
        self,
        jobs: JobStore,
        clock: Clock,
        *,
        max_attempts: int = 5,
        job_budget: float = JOB_BUDGET,
    ) -> None:
        self.jobs = jobs
        self.clock = clock
        self.max_attempts = max_attempts
        self.job_budget = job_budget
        self.handlers: dict[str, JobHandler] = {}
        # Per kind, the lane of a job (its compound), asked of the bot that owns the kind.
        self.lanes_of: dict[str, Callable[[Job], Awaitable[str]]] = {}
        self.wake = asyncio.Event()
        self._dispatching = asyncio.Lock()
        self._queues: dict[str, deque[Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._inflight: set[int] = set()

    def register(self, kind: str, handler: JobHandler) -> None:
        if kind in self.handlers:
            raise ValueError(f"a handler for {kind!r} is already registered")
        self.handlers[kind] = handler

    def register_kind(
        self,
        kind: JobKind[P],
        handler: Callable[[Job, P], Awaitable[None]],
        *,
        lane: Callable[[P], Awaitable[str | None]] | None = None,
    ) -> None:
        """Fire `handler(job, payload)` for jobs of this kind, the payload typed; `lane(payload)`
        names the job's lane (its compound; None: the kind's own lane)."""

        async def typed(job: Job) -> None:
            try:
                payload = kind.read(job)
            except ValidationError as e:
                raise MalformedJob(f"job {job.key}: payload does not fit {kind.name}") from e
            await handler(job, payload)

        self.register(kind.name, typed)
        if lane is not None:

            async def lane_of(job: Job) -> str:
                found = await lane(kind.read(job))
                return f"compound:{found}" if found else kind.name

            self.lanes_of[kind.name] = lane_of

    async def schedule_kind(self, key: str, kind: JobKind[P], due_at: datetime, payload: P) -> None:
        await self.schedule_many([kind.spec(key, due_at, payload)])

    async def schedule(
        self, key: str, kind: str, due_at: datetime, payload: dict[str, Any]
    ) -> None:
        if kind not in self.handlers:
            raise ValueError(f"no handler for job kind {kind!r}")
        await self.jobs.schedule(key, kind, due_at, payload)
        self.wake.set()

    async def schedule_many(self, jobs: list[tuple[str, str, datetime, dict[str, Any]]]) -> None:
        for _, kind, _, _ in jobs:
            if kind not in self.handlers:
                raise ValueError(f"no handler for job kind {kind!r}")
        await self.jobs.schedule_many(jobs)
        self.wake.set()

    async def cancel(self, *keys: str) -> None:
        await self.jobs.cancel(*keys)

    async def run(self) -> None:
        try:
            while True:
                self.wake.clear()
                await self.dispatch_due()
                next_due = await self.jobs.next_due(exclude=self._inflight)
                now = self.clock.now()
                await self.clock.sleep_until(next_due or now + IDLE_RECHECK, self.wake)
        finally:
            # The lanes are this loop's: they stop with it.
            workers = list(self._workers.values())
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def run_due(self) -> int:
        """Fire every job due now (and those their firing makes due), waiting for every lane
        to finish; returns how many fired."""
        fired = 0
        while True:
            dispatched = await self.dispatch_due()
            fired += dispatched
            while self._workers:
                await asyncio.wait(set(self._workers.values()))
            if not dispatched:
                return fired

    async def dispatch_due(self) -> int:
        """Hand each job due now to its lane (in due order), once."""
        dispatched = 0
        async with self._dispatching:
            while due := await self.jobs.due(self.clock.now(), exclude=self._inflight):
                for job in due:
                    self._inflight.add(job.id)
                    lane = await self._lane(job)
                    self._queues.setdefault(lane, deque()).append(job)
                    if lane not in self._workers:
                        self._workers[lane] = asyncio.create_task(
                            self._work(lane), name=f"jobs:{lane}"
                        )
                    dispatched += 1
        return dispatched

    async def _lane(self, job: Job) -> str:
        find = self.lanes_of.get(job.kind)
        if find is None:
            return job.kind
        try:
            return await find(job)
        except (ValidationError, LookupError, OSError) as e:
            # A payload that does not fit fails in its kind's lane, where it is reported.
            log.warning(
                "job %s: no lane found (%s); it runs in its kind's", job.key, type(e).__name__
            )
            return job.kind

    async def _work(self, lane: str) -> None:
        """One lane: its jobs one at a time, in the order they were due."""
        queue = self._queues[lane]
        try:
            while queue:
                job = queue.popleft()
                try:
                    await self._fire(job)
                finally:
                    self._inflight.discard(job.id)
                    self.wake.set()
                _stop_if_cancelled()
        finally:
            del self._workers[lane]
            if not queue:
                del self._queues[lane]

    async def _fire(self, job: Job) -> None:
        lag = (self.clock.now() - job.due_at).total_seconds()
        outcome = await self._outcome_of(job)
        metrics.observe_job(job.kind, outcome, lag)

    async def _outcome_of(self, job: Job) -> str:
        """Fire one job; returns what became of it: done, retry, postponed or failed."""
        handler = self.handlers.get(job.kind)
        if handler is None:
            log.error("job %s has kind %s with no handler; marking it failed", job.key, job.kind)
            await self.jobs.finish(job.id, self.clock.now(), failed=True)
            return "failed"
        try:
            async with asyncio.timeout(self.job_budget):
                await handler(job)
        except RetryLater as later:
            log.info("job %s postponed to %s: %s", job.key, later.at.isoformat(), later)
            await self.jobs.schedule(job.key, job.kind, later.at, job.payload)
            return "postponed"
        except TooLarge:
            log.error("job %s: the homeserver refused a message as too large", job.key)
            await self.jobs.finish(job.id, self.clock.now(), failed=True)
            return "failed"
        except (MatrixError, OSError, TimeoutError) as e:
            attempts = await self.jobs.record_attempt(job.id)
            if attempts >= self.max_attempts:
                log.error("job %s failed %d times, giving up: %s", job.key, attempts, e)
                await self.jobs.finish(job.id, self.clock.now(), failed=True)
                return "failed"
            retry = self.clock.now() + timedelta(seconds=5 * 2**attempts)
            log.warning("job %s failed (%r); retrying at %s", job.key, e, retry.isoformat())
            await self.jobs.schedule(job.key, job.kind, retry, job.payload)
            return "retry"
        except Exception:
            log.exception("job %s failed in its handler", job.key)
            await self.jobs.finish(job.id, self.clock.now(), failed=True)
            return "failed"
        await self.jobs.finish(job.id, self.clock.now())
        return "done"
