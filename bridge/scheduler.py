"""One loop for everything due at a time: it sleeps until the next due time read from the
database, fires each due job, and marks it done.

Exactly once: a job is marked done only after its handler returned; a crash in between fires it
again on the next start, and handlers send with transaction IDs derived from the job's key (the
homeserver drops the repeat) and make their database changes idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bridge import metrics
from bridge.clock import Clock
from bridge.matrix import MatrixError
from bridge.store.jobs import Job, JobStore

log = logging.getLogger(__name__)

JobHandler = Callable[[Job], Awaitable[None]]


class RetryLater(Exception):
    """Raised by a handler whose work must wait (a webhook receiver is down): fire it again at
    `at`, without counting a failure."""

    def __init__(self, at: datetime, reason: str) -> None:
        super().__init__(reason)
        self.at = at


# With nothing scheduled, look again after this long (a job added by another process).
IDLE_RECHECK = timedelta(hours=1)


class Scheduler:
    def __init__(self, jobs: JobStore, clock: Clock, *, max_attempts: int = 5) -> None:
        self.jobs = jobs
        self.clock = clock
        self.max_attempts = max_attempts
        self.handlers: dict[str, JobHandler] = {}
        self.wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def register(self, kind: str, handler: JobHandler) -> None:
        if kind in self.handlers:
            raise ValueError(f"a handler for {kind!r} is already registered")
        self.handlers[kind] = handler

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
        while True:
            self.wake.clear()
            await self.run_due()
            next_due = await self.jobs.next_due()
            now = self.clock.now()
            await self.clock.sleep_until(next_due or now + IDLE_RECHECK, self.wake)

    async def run_due(self) -> int:
        """Fire every job due now, oldest first; returns how many fired."""
        fired = 0
        async with self._lock:
            while due := await self.jobs.due(self.clock.now()):
                for job in due:
                    await self._fire(job)
                    fired += 1
        return fired

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
            await handler(job)
        except RetryLater as later:
            log.info("job %s postponed to %s: %s", job.key, later.at.isoformat(), later)
            await self.jobs.schedule(job.key, job.kind, later.at, job.payload)
            return "postponed"
        except (MatrixError, OSError, TimeoutError) as e:
            attempts = await self.jobs.record_attempt(job.id)
            if attempts >= self.max_attempts:
                log.error("job %s failed %d times, giving up: %s", job.key, attempts, e)
                await self.jobs.finish(job.id, self.clock.now(), failed=True)
                return "failed"
            retry = self.clock.now() + timedelta(seconds=5 * 2**attempts)
            log.warning("job %s failed (%s); retrying at %s", job.key, e, retry.isoformat())
            await self.jobs.schedule(job.key, job.kind, retry, job.payload)
            return "retry"
        except Exception:
            log.exception("job %s failed in its handler", job.key)
            await self.jobs.finish(job.id, self.clock.now(), failed=True)
            return "failed"
        await self.jobs.finish(job.id, self.clock.now())
        return "done"
