"""What `linli plan`, `apply`, `run`, `db upgrade` and `qr` do, once bridge/cli.py has parsed the
command line (it imports this module only for them: `linli --version` loads none of it)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bridge import logs, metrics
from bridge.app import StartError
from bridge.bot import check_config, config_sections, text_folders
from bridge.clock import SystemClock
from bridge.config import BridgeConfig, ConfigError, load_bridge_config
from bridge.i18n import default_catalogue
from bridge.instance import single_instance
from bridge.join_link import lobby_link, write_qr_png
from bridge.lease import Lease, uses_lease, where
from bridge.matrix import MatrixClient
from bridge.matrix_errors import Unavailable
from bridge.provision.apply import RegistrationOutdated
from bridge.provision.reconcile import Provisioner
from bridge.provision.registration_check import check_token
from bridge.rooms_config import RoomsConfig, load_rooms_config
from bridge.store import Store
from bridge.store.read_only import read_only_store
from bridge.version import version

log = logging.getLogger("linli")


def load_all(config_path: Path, *, whole: bool = True) -> tuple[BridgeConfig, RoomsConfig]:
    """bridge.yaml and rooms_config/, each validated; `whole`: also what the bots need of them
    taken together (plan, apply, run; not the registration, which only needs the namespaces)."""
    from bots import ALL_BOTS

    config = load_bridge_config(config_path)
    logs.hide(
        config.appservice.as_token,
        config.appservice.hs_token,
        *(t.secret for t in config.webhooks.values()),
        *(t.inbound_secret for t in config.webhooks.values()),
    )
    sections = config_sections(ALL_BOTS)
    rooms = load_rooms_config(config.rooms_config, config.locale, sections)
    if whole:
        check_config(ALL_BOTS, config, rooms)
    return config, rooms


async def wait_for_signal(*, reload: bool = False) -> bool:
    """Wait for SIGINT or SIGTERM (False: stop) or, with `reload`, SIGHUP (True: reload)."""
    received: asyncio.Queue[bool] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, received.put_nowait, False)
    if reload:
        loop.add_signal_handler(signal.SIGHUP, received.put_nowait, True)
    try:
        return await received.get()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


async def plan(config_path: Path) -> int:
    """What apply would change; touches nothing (bridge/store/read_only.py)."""
    config, rooms = load_all(config_path)
    async with read_only_store(config.database.url) as (store, note):
        async with _homeserver(config) as client:
            plan = await _provisioner(config, rooms, store, client).plan(live=True)
    if note is not None:
        print(f"Note: {note}.")
    lines = plan.describe()
    print("\n".join(lines) if lines else "No changes: the homeserver matches the config.")
    return 0


async def apply(config_path: Path) -> int:
    config, rooms = load_all(config_path)
    store = await Store.open(config.database.url, config.database.sqlite_synchronous)
    try:
        async with _homeserver(config) as client:
            await client.register_user(config.bots.main)
            report = await _provisioner(config, rooms, store, client).apply(live=True)
    finally:
        await store.close()
    print("\n".join(report.done) if report.done else "No changes.")
    print(f"Homeserver requests: {dict(client.requests)}")
    return 0


def _provisioner(
    config: BridgeConfig, rooms: RoomsConfig, store: Store, client: MatrixClient
) -> Provisioner:
    from bots import ALL_BOTS

    catalogue = default_catalogue(tuple(text_folders(ALL_BOTS)))
    return Provisioner(config, rooms, store, client, SystemClock(), catalogue)


@asynccontextmanager
async def _homeserver(config: BridgeConfig) -> AsyncIterator[MatrixClient]:
    """A client of the homeserver, which must answer and know Linli's registration; either
    failure, or a registration that does not reserve what the config needs, is one line."""
    client = MatrixClient(config.homeserver.url, config.appservice.as_token, config.bot_user_id)
    try:
        await check_token(client)
        yield client
    except Unavailable:
        raise StartError(
            f"the homeserver at {config.homeserver.url} does not answer; plan and apply "
            "compare with it: start it first, or check homeserver.url in bridge.yaml"
        ) from None
    except RegistrationOutdated as e:
        raise StartError(str(e)) from None
    finally:
        await client.close()


async def run(config_path: Path, verbose: bool = False, log_format: Any = None) -> int:
    config, rooms = load_all(config_path)
    logs.configure(config.logging, verbose=verbose, fmt=log_format)
    lease = Lease(config.database.url) if uses_lease(config.database.url) else None
    if lease is not None:
        # A second Linli on the same PostgreSQL stands by (bridge/lease.py).
        db = where(config.database.url)
        await lease.acquire(
            lambda: log.info("standby: another Linli runs on %s; taking over when it stops", db)
        )
        log.info("holding the lease on %s: this Linli runs the bots", db)
    try:
        await _run_holding(config_path, config, rooms, lease)
    finally:
        if lease is not None:
            await lease.release()
    return 0


async def _run_holding(
    config_path: Path, config: BridgeConfig, rooms: RoomsConfig, lease: Lease | None
) -> None:
    from bots import ALL_BOTS
    from bridge.app import Bridge

    with single_instance(config):
        bridge = Bridge(config, rooms, ALL_BOTS)
        await bridge.start(wait_for_homeserver=True)
        if lease is not None:
            lease.watch()
            bridge.health.role = "leader"
            metrics.LEASE.set(1)
        log.info(
            "Linli %s started: config %s; homeserver %s reached, registration accepted; "
            "%d compounds applied (%d changes); listening on %s:%s",
            version(),
            config_path,
            config.homeserver.url,
            len(rooms.compounds),
            len(bridge.applied.done),
            config.appservice.listen_host,
            config.appservice.listen_port,
        )
        try:
            while await wait_for_signal(reload=True):
                await _reload(bridge, config_path)
        finally:
            await bridge.stop()
            log.info("Linli stopped")


async def _reload(bridge: Any, config_path: Path) -> None:
    """SIGHUP: rooms_config/ read again and applied; a broken file keeps the running config."""
    try:
        config, rooms = load_all(config_path)
    except ConfigError as e:
        for issue in e.issues:
            log.error("reload refused, the running configuration stays: %s", issue)
        return
    try:
        # Webhook targets too: a new sender or a changed secret needs no restart.
        report = await bridge.reload(rooms, webhooks=config.webhooks)
    except RegistrationOutdated as e:
        log.error("reload refused, the running configuration stays: %s", e)
        return
    log.info(
        "configuration reloaded: %d compounds and the webhook targets, %d changes applied (any "
        "other change to bridge.yaml needs a restart)",
        len(rooms.compounds),
        len(report.done),
    )


async def db_upgrade(config_path: Path) -> int:
    """Apply the schema migrations now (Linli also does it at start)."""
    config, _ = load_all(config_path, whole=False)
    store = await Store.open(config.database.url, config.database.sqlite_synchronous)
    try:
        print(f"the database is at schema revision {await store.db.current_revision()}")
    finally:
        await store.close()
    return 0


def qr(config_path: Path, compound: str, output: Path | None) -> int:
    config, rooms = load_all(config_path, whole=False)
    if compound not in rooms.compounds:
        print(
            f"no compound {compound!r} (known: {', '.join(sorted(rooms.compounds))})",
            file=sys.stderr,
        )
        return 2
    alias = f"#{config.alias_prefix}{compound}-lobby:{config.homeserver.server_name}"
    link = lobby_link(alias, config.join.client_url)
    path = write_qr_png(link, output or Path(f"{compound}-lobby-qr.png"))
    print(link)
    print(f"wrote {path}")
    return 0
