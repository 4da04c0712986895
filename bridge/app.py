"""The running bridge: store, homeserver client, appservice server, router and inbox worker.

Every task it starts is kept, cancelled and awaited at shutdown, and its failure logged.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Coroutine, Sequence
from typing import Any, TypeVar
from uuid import uuid4

from bridge.appservice import AppserviceServer
from bridge.bot import PROVISION, Bot, ProvisionRequest, Roles, Services, text_folders
from bridge.clock import Clock, SystemClock
from bridge.config import BridgeConfig, WebhookTarget
from bridge.dashboard.server import Dashboard
from bridge.i18n import Catalogue, default_catalogue
from bridge.inbox_worker import InboxWorker
from bridge.matrix import MatrixClient
from bridge.matrix_errors import MatrixError, Unavailable
from bridge.ops import HealthCheck, OpsServer
from bridge.provision.apply import ApplyReport, RegistrationOutdated
from bridge.provision.reconcile import Provisioner
from bridge.retention import Retention
from bridge.rooms_config import RoomsConfig
from bridge.routing import Router
from bridge.scheduler import Scheduler
from bridge.store import Store
from bridge.store.jobs import Job
from bridge.webhooks import Webhooks

log = logging.getLogger(__name__)
B = TypeVar("B", bound=Bot)


class StartError(Exception):
    """An expected failure at start, said in one line with what to do."""


async def _listening(start: Awaitable[None], where: str, setting: str) -> None:
    """A listener started, or one line saying its port is taken and what to change."""
    try:
        await start
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        raise StartError(
            f"{where} is in use (another Linli, or another program); stop it or change "
            f"{setting} in bridge.yaml"
        ) from None


class Bridge:
    def __init__(
        self,
        config: BridgeConfig,
        rooms: RoomsConfig,
        bots: Sequence[type[Bot]],
        *,
        clock: Clock | None = None,
        catalogue: Catalogue | None = None,
        client: MatrixClient | None = None,
        process_inbox: bool = True,
    ) -> None:
        self.config = config
        self.rooms = rooms
        self.bot_classes = bots
        self.clock = clock or SystemClock()
        self.catalogue = catalogue or default_catalogue(tuple(text_folders(bots)))
        self.client = client or MatrixClient(
            config.homeserver.url, config.appservice.as_token, config.bot_user_id
        )
        self.process_inbox = process_inbox
        self._opened = False
        self.applied = ApplyReport()
        self._tasks: list[asyncio.Task[None]] = []
        self.store: Store
        self.worker: InboxWorker
        self.server: AppserviceServer
        self.router: Router
        self.ops: OpsServer | None = None
        self.dashboard: Dashboard | None = None

    async def open(self) -> None:
        """Connect to the database (migrating it) and wire the pieces; no network yet."""
        self.store = await Store.open(
            self.config.database.url, self.config.database.sqlite_synchronous
        )
        self._opened = True
        self.scheduler = Scheduler(self.store.jobs, self.clock)
        self.webhooks = Webhooks(self.store.db, self.scheduler, self.clock, self.config.webhooks)
        self.retention = Retention(self.store, self.scheduler, self.clock, self.config.timezone)
        self.provisioner = Provisioner(
            self.config, self.rooms, self.store, self.client, self.clock, self.catalogue
        )
        services = Services(
            self.config,
            self.rooms,
            self.store,
            self.client,
            self.clock,
            self.catalogue,
            self.scheduler,
            self.webhooks,
            self.provisioner,
            Roles(self.store, self.rooms),
        )
        self.services = services
        self.scheduler.register_kind(PROVISION, self._provision)
        self.router = Router(services, self.bot_classes)
        self.worker = InboxWorker(self.store, self.router, self.clock)
        self.health = HealthCheck(self.store, self.client)
        if self.config.metrics.enabled:
            metrics_at = self.config.metrics
            self.ops = OpsServer(
                self.store,
                self.health,
                metrics_at.listen_host,
                metrics_at.listen_port,
                self.router.bots,
            )
        if self.config.dashboard.enabled:
            self.dashboard = Dashboard(services, self.router.bots)
        self.server = AppserviceServer(
            self.config,
            self.store,
            self.clock,
            self.worker.offer,
            self._is_bot_user,
            self.webhooks.handle_inbound,
            self.health.handle,
            self._ephemeral_lost,
            on_gap=self._gap,
            dashboard=self.dashboard.app if self.dashboard is not None else None,
        )

    def bot(self, cls: type[B]) -> B:
        """The running instance of a bot class (tests and benchmarks read its store)."""
        return next(b for b in self.router.bots if isinstance(b, cls))

    async def _provision(self, job: Job, request: ProvisionRequest) -> None:
        await self.provisioner.apply()
        for said in request.then:
            await self.client.send(said.room_id, said.content, said.txn)

    def _ephemeral_lost(self) -> None:
        async def tell_bots() -> None:
            for bot in self.router.bots:
                await bot.on_ephemeral_lost()

        self._spawn(tell_bots(), "ephemeral lost")

    def _gap(self) -> None:
        """A transaction was refused for the one it skipped (bridge/txn_gaps.py): once the
        homeserver has started its recoverer, a ping makes it send the missing one at once."""

        async def ping() -> None:
            await asyncio.sleep(0.5)
            try:
                await self.client.ping(self.config.appservice.id, f"linli-gap-{uuid4().hex}")
            except MatrixError as e:
                log.info("the ping after a gap failed (%s); the homeserver retries on its own", e)

        self._spawn(ping(), "ping after a gap")

    def _is_bot_user(self, user_id: str) -> bool:
        return user_id == self.config.bot_user_id

    async def start(self, *, apply: bool = True, wait_for_homeserver: bool = False) -> None:
        """Open, reach the homeserver (waiting for it with `wait_for_homeserver`, as bridges
        do while Synapse starts), apply the config, and listen."""
        if not self._opened:
            await self.open()
        try:
            await self._start(apply, wait_for_homeserver)
        except BaseException:
            await self.stop()  # nothing half-started stays behind (sessions, the database)
            raise

    async def _start(self, apply: bool, wait_for_homeserver: bool) -> None:
        await self._reach_homeserver(wait_for_homeserver)
        if apply:
            try:
                self.applied = await self.provisioner.apply()
            except RegistrationOutdated as e:
                raise StartError(str(e)) from None
        await self.retention.schedule()
        for bot in self.router.bots:
            await bot.on_start()
        await self.server.load_recent()
        if self.process_inbox:
            # What the inbox holds from an earlier run is queued before anything new arrives.
            await self.worker.start()
        await _listening(
            self.server.start(),
            f"{self.config.appservice.listen_host}:{self.config.appservice.listen_port}",
            "appservice.listen_port",
        )
        if self.ops is not None:
            await _listening(
                self.ops.start(), f"{self.ops.host}:{self.ops.port}", "metrics.listen_port"
            )
        if self.process_inbox:
            self._spawn(self.worker.run(), "inbox worker")
            self._spawn(self.scheduler.run(), "scheduler")
        # A ping makes the homeserver retry at once a transaction it failed to deliver while
        # Linli was down, instead of waiting out its backoff (up to 512 s). Only a shortcut:
        # a failed ping (Synapse answers 502 when its call back to Linli trips) is logged.
        try:
            await self.client.ping(self.config.appservice.id, f"linli-start-{uuid4().hex}")
        except MatrixError as e:
            log.warning("the homeserver's ping of Linli failed (%s); it retries on its own", e)

    async def _reach_homeserver(self, wait: bool) -> None:
        delay = 1.0
        while True:
            try:
                await self.client.register_user(self.config.bots.main)
                return
            except Unavailable:
                if not wait:
                    raise StartError(
                        f"the homeserver at {self.config.homeserver.url} does not answer; "
                        "start it first, or check homeserver.url in bridge.yaml"
                    ) from None
                log.info(
                    "waiting for the homeserver at %s; next try in %.0f s",
                    self.config.homeserver.url,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except MatrixError as e:
                if e.errcode in ("M_UNKNOWN_TOKEN", "M_FORBIDDEN", "M_MISSING_TOKEN"):
                    raise StartError(
                        "the homeserver does not know Linli's registration "
                        f"({e.errcode}); run `linli registration`, add the file to the "
                        "homeserver's app_service_config_files and restart it"
                    ) from None
                raise

    async def reload(
        self, rooms: RoomsConfig, webhooks: dict[str, WebhookTarget] | None = None
    ) -> ApplyReport:
        """Take a new rooms config (SIGHUP): every part that reads it sees the new one, and
        the homeserver is brought in line; so do bridge.yaml's webhook targets when given (a
        new sender, a changed secret). The rest of bridge.yaml needs a restart. A config the
        homeserver's registration does not cover (RegistrationOutdated, raised before anything
        is touched) leaves the running one in place."""
        previous = self.rooms
        self._use_rooms(rooms)
        if webhooks is not None:
            self.webhooks.targets = dict(webhooks)
        try:
            self.applied = await self.provisioner.apply()
        except RegistrationOutdated:
            self._use_rooms(previous)
            raise
        return self.applied

    def _use_rooms(self, rooms: RoomsConfig) -> None:
        self.rooms = rooms
        self.services.rooms = rooms
        self.services.roles.reload(rooms)
        self.provisioner.rooms = rooms

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_log_failure)
        self._tasks.append(task)

    async def stop(self) -> None:
        if not self._opened:
            return
        self._opened = False
        await self.server.stop()
        if self.ops is not None:
            await self.ops.stop()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a task that will not stop is logged, and the rest still shuts down.
            _, stuck = await asyncio.wait(self._tasks, timeout=15)
            for task in stuck:
                log.error("background task %s did not stop when cancelled", task.get_name())
        self._tasks.clear()
        await self.worker.stop()  # its lanes and marks, also when drained without running
        await self.client.close()
        if self.dashboard is not None:
            await self.dashboard.close()
        await self.webhooks.close()
        await self.store.close()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s failed", task.get_name(), exc_info=task.exception())
