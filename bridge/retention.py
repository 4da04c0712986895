"""How long Linli keeps what it needs only for a while: the inbox holds residents' messages
until they are handled (and a day more, for an operator looking into a problem), then they go.
A daily job at 04:00 local time prunes it."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bridge.appservice import RECENT_TXNS
from bridge.clock import Clock
from bridge.scheduler import Scheduler
from bridge.store import Store
from bridge.store.jobs import Job

log = logging.getLogger(__name__)

PRUNE_JOB = "inbox.prune"
KEEP_DONE = timedelta(days=1)
KEEP_FAILED = timedelta(days=30)
AT = time(4, 0)


class Retention:
    def __init__(self, store: Store, scheduler: Scheduler, clock: Clock, timezone: str) -> None:
        self.store, self.scheduler, self.clock = store, scheduler, clock
        self.tz = ZoneInfo(timezone)
        scheduler.register(PRUNE_JOB, self._prune)

    def next_run(self, after: datetime) -> datetime:
        local = after.astimezone(self.tz)
        when = datetime.combine(local.date(), AT, self.tz)
        return when if when > local else when + timedelta(days=1)

    async def schedule(self, after: datetime | None = None) -> None:
        when = self.next_run(after or self.clock.now())
        await self.scheduler.schedule(
            f"{PRUNE_JOB}:{when.date().isoformat()}", PRUNE_JOB, when, {"at": when.isoformat()}
        )

    async def prune(self) -> tuple[int, int]:
        now = self.clock.now()
        events, txns = await self.store.inbox.prune(now - KEEP_DONE, now - KEEP_FAILED, RECENT_TXNS)
        log.info("inbox pruned: %d events and %d transaction records", events, txns)
        return events, txns

    async def _prune(self, job: Job) -> None:
        # Tomorrow's first: a failure below retries this job, never drops the series.
        await self.schedule(datetime.fromisoformat(str(job.payload["at"])))
        await self.prune()
