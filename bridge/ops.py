"""What an operator's tools ask: `/health` (is Linli able to work?) and `/metrics` (Prometheus).

`/health` is unauthenticated and says nothing private: whether the database answers, whether
the homeserver answered lately, and how many inbox events wait. It is served on the appservice
port (where a container's HEALTHCHECK finds it) and on the metrics listener.

`/metrics` is served only on a listener of its own (`metrics:` in bridge.yaml), bound to
loopback by default, never on the appservice port that the homeserver reaches: the figures are
not secret, but counting a community's traffic is nobody else's business, and a separate
listener needs no token in Prometheus's configuration.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from bridge import metrics
from bridge.http_log import server_logger
from bridge.matrix import MatrixClient
from bridge.store import Store

if TYPE_CHECKING:
    from bridge.bot import Bot

log = logging.getLogger(__name__)


class HealthCheck:
    """The answer of `/health`. The homeserver is asked only when Linli has not heard from it
    for `fresh_for` seconds: its ordinary traffic already says whether it answers."""

    def __init__(
        self, store: Store, client: MatrixClient, *, fresh_for: float = 15.0, timeout: float = 3.0
    ) -> None:
        self.store = store
        self.client = client
        self.fresh_for = fresh_for
        self.timeout = timeout
        # "single" (SQLite, or a bridge run in-process), "leader" (holding the PostgreSQL
        # lease, bridge/lease.py); a standby does not listen, so it never answers.
        self.role = "single"

    async def report(self) -> tuple[bool, dict[str, Any]]:
        database_ok, backlog = await self._database()
        homeserver_ok = await self._homeserver()
        answered = self.client.last_answer
        body: dict[str, Any] = {
            "status": "ok" if database_ok and homeserver_ok else "down",
            "role": self.role,
            "database": "ok" if database_ok else "down",
            "homeserver": "ok" if homeserver_ok else "down",
            "homeserver_answered_seconds_ago": (
                None if answered is None else round(time.monotonic() - answered, 1)
            ),
            "inbox_backlog": backlog,
        }
        return database_ok and homeserver_ok, body

    async def _database(self) -> tuple[bool, int | None]:
        try:
            async with asyncio.timeout(self.timeout):
                await self.store.db.ping()
                counts = await self.store.inbox.counts()
        except (SQLAlchemyError, OSError, TimeoutError) as e:
            log.warning("health: the database does not answer (%s)", type(e).__name__)
            return False, None
        return True, counts.get("pending", 0)

    async def _homeserver(self) -> bool:
        answer, failure = self.client.last_answer, self.client.last_failure
        latest = max((t for t in (answer, failure) if t is not None), default=None)
        if latest is not None and time.monotonic() - latest < self.fresh_for:
            return latest == answer
        return await self.client.probe(self.timeout)

    async def handle(self, request: web.Request) -> web.Response:
        ok, body = await self.report()
        return web.json_response(body, status=200 if ok else 503)


class OpsServer:
    """The metrics listener: `/metrics` and `/health`."""

    def __init__(
        self,
        store: Store,
        health: HealthCheck,
        host: str,
        port: int,
        bots: Sequence[Bot] = (),
    ) -> None:
        self.store = store
        self.bots = bots  # each sets its own gauges at a scrape (Bot.refresh_metrics)
        self.host = host
        self.port = port  # 0: any free port; the bound one is here after start()
        self.app = web.Application()
        self.app.router.add_get("/metrics", self.metrics)
        self.app.router.add_get("/health", health.handle)
        self._runner: web.AppRunner | None = None

    async def metrics(self, request: web.Request) -> web.Response:
        try:
            await metrics.refresh_from_store(self.store)
            for bot in self.bots:
                await bot.refresh_metrics()
        except (SQLAlchemyError, OSError) as e:
            # The counters are still worth having; the gauges keep their last values.
            log.warning("metrics: could not read the database (%s)", type(e).__name__)
        headers = {"Content-Type": CONTENT_TYPE_LATEST}
        return web.Response(body=metrics.exposition(), headers=headers)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, logger=server_logger())
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0 and self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
