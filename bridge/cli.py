"""`linli`: the one entry point (init, registration, plan, apply, run, demo)."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bridge import logs
from bridge.app import StartError
from bridge.bot import check_config, config_sections, text_folders
from bridge.clock import SystemClock
from bridge.config import BridgeConfig, ConfigError, load_bridge_config
from bridge.i18n import default_catalogue
from bridge.instance import backup_database, restore_database, single_instance
from bridge.join_link import lobby_link, write_qr_png
from bridge.matrix import MatrixClient
from bridge.matrix_errors import Unavailable
from bridge.provision.apply import RegistrationOutdated
from bridge.provision.reconcile import Provisioner
from bridge.provision.registration_check import check_token
from bridge.registration import bridge_yaml_text, write_registration
from bridge.rooms_config import RoomsConfig, load_rooms_config
from bridge.secret_files import ensure_secret_key, write_secret
from bridge.store import Store
from bridge.store.database import DatabaseTooNew, DatabaseUnavailable
from bridge.store.read_only import read_only_store

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


async def _plan(config_path: Path) -> int:
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


async def _apply(config_path: Path) -> int:
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


async def _run(config_path: Path, verbose: bool = False, log_format: Any = None) -> int:
    from bots import ALL_BOTS
    from bridge.app import Bridge

    config, rooms = load_all(config_path)
    logs.configure(config.logging, verbose=verbose, fmt=log_format)
    with single_instance(config):
        bridge = Bridge(config, rooms, ALL_BOTS)
        await bridge.start(wait_for_homeserver=True)
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
    return 0


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


async def _db_upgrade(config_path: Path) -> int:
    """Apply the schema migrations now (Linli also does it at start)."""
    config, _ = load_all(config_path, whole=False)
    store = await Store.open(config.database.url, config.database.sqlite_synchronous)
    try:
        print(f"the database is at schema revision {await store.db.current_revision()}")
    finally:
        await store.close()
    return 0


def _still_placeholder(path: Path) -> bool:
    try:
        return "CHANGE_ME" in path.read_text(encoding="utf-8")
    except OSError:
        return False


def _qr(config_path: Path, compound: str, output: Path | None) -> int:
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


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Not even with -v: SQLAlchemy's statements and rows, aiosqlite's calls with their arguments
    # carry residents' names, addresses and messages (logs carry event IDs, never those).
    for name in ("alembic", "sqlalchemy", "aiosqlite"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _common_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """-c, -v and --log-format, before the subcommand or after it (`linli plan -c x.yaml`)."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=default(Path("bridge.yaml")),
        help="Linli's settings (default: bridge.yaml in the current folder)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default(False), help="log at DEBUG"
    )
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=default(None),
        help="text or json (one object a line); default: bridge.yaml's logging.format, text",
    )


def version() -> str:
    try:
        return importlib.metadata.version("linli")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="linli", description="Linli (邻里) bridge and bots")
    parser.add_argument("--version", action="version", version=f"linli {version()}")
    _common_options(parser, defaults=True)
    after = argparse.ArgumentParser(add_help=False)
    _common_options(after, defaults=False)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[after], **kwargs)

    init = command("init", help="write a bridge.yaml with fresh random tokens")
    init.add_argument("--force", action="store_true")
    init.add_argument("--server-name", default="linli.localhost")
    init.add_argument("--homeserver-url", default="http://127.0.0.1:8008")
    init.add_argument("--listen-host", default="127.0.0.1", help="where Linli listens")
    init.add_argument("--listen-port", type=int, default=29330)
    init.add_argument(
        "--appservice-url", help="how the homeserver reaches Linli (default: loopback, the port)"
    )
    init.add_argument(
        "--database-url",
        default="sqlite+aiosqlite:///data/linli.db",
        help="e.g. postgresql+asyncpg://linli@db/linli (password from PGPASSWORD)",
    )
    init.add_argument("--metrics-host", default="127.0.0.1", help="where /metrics listens")
    init.add_argument("--metrics-port", type=int, default=29331)
    reg = command("registration", help="write the homeserver's registration file")
    reg.add_argument("-o", "--output", type=Path, default=Path("linli-registration.yaml"))
    reg.add_argument(
        "--group-readable",
        action="store_true",
        help="0640: for a homeserver that reads it as a member of the file's group (Docker)",
    )
    command("plan", help="print what apply would change; touch nothing")
    command("apply", help="make the homeserver match rooms_config/")
    command("run", help="run the bridge and the bots")
    backup = command("backup", help="a consistent copy of the SQLite database, while Linli runs")
    backup.add_argument("output", type=Path, help="the new file to write (0600)")
    restore = command("restore", help="put a backup back in place (Linli stopped)")
    restore.add_argument("backup", type=Path)
    db = command("db", help="the database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply the schema migrations (Linli also does at start)")
    qr = command("qr", help="the join link of a compound's lobby, and its QR code (PNG)")
    qr.add_argument("compound")
    qr.add_argument("-o", "--output", type=Path)
    from bots import ALL_BOTS

    verbs = {verb.name: verb for bot in ALL_BOTS for verb in bot.cli_verbs}
    for verb in verbs.values():  # each bot's admin verbs (bots/<name>/cli.py)
        verb.add_arguments(command(verb.name, help=verb.help))
    demo = command("demo", help="a local Synapse, the example compounds and the bots")
    demo.add_argument("--data", type=Path, default=Path("data"))
    demo.add_argument("--rooms-config", type=Path, default=Path("rooms_config"))
    args = parser.parse_args(argv)
    logs.setup(args.verbose, args.log_format or "text")
    demo_config = Path("data/bridge.yaml")
    if (
        args.command not in ("init", "demo")
        and not (args.command in verbs and verbs[args.command].run_alone)
        and args.config == Path("bridge.yaml")
        and _still_placeholder(args.config)
        and demo_config.exists()
    ):
        # Right after `make demo`: its configuration, not the placeholder beside it.
        print(
            f"linli: using {demo_config} (the demo's; bridge.yaml here is not set up)",
            file=sys.stderr,
        )
        args.config = demo_config

    alone = args.command in ("init", "demo") or (
        args.command in verbs and verbs[args.command].run_alone
    )
    if not alone and not args.config.exists():
        compose = "`docker compose run --rm --no-deps linli init …`, docs/self-hosting.md"
        print(f"linli: no {args.config} yet: run `linli init` first ({compose})", file=sys.stderr)
        return 2
    try:
        if args.command == "init":
            placeholder = args.config.exists() and "CHANGE_ME" in args.config.read_text("utf-8")
            if args.config.exists() and not args.force and not placeholder:
                print(f"{args.config} exists; use --force to overwrite it", file=sys.stderr)
                return 1
            write_secret(
                args.config,
                bridge_yaml_text(
                    homeserver_url=args.homeserver_url,
                    server_name=args.server_name,
                    listen_host=args.listen_host,
                    listen_port=args.listen_port,
                    appservice_url=args.appservice_url,
                    database_url=args.database_url,
                    metrics_host=args.metrics_host,
                    metrics_port=args.metrics_port,
                ),
            )
            print(f"wrote {args.config}")
            key = args.config.parent / "receipt.key"  # secret ballots' receipts (0600)
            if not key.exists():
                ensure_secret_key(key)
                print(f"wrote {key}")
            return 0
        if args.command == "registration":
            config, rooms = load_all(args.config, whole=False)
            written = write_registration(config, rooms, args.output)
            if args.group_readable:
                written.chmod(0o640)
            print(f"wrote {written}")
            return 0
        runners: dict[str, Callable[[], Coroutine[Any, Any, int]]] = {
            "plan": lambda: _plan(args.config),
            "apply": lambda: _apply(args.config),
            "run": lambda: _run(args.config, args.verbose, args.log_format),
        }
        if args.command == "qr":
            return _qr(args.config, args.compound, args.output)
        if args.command == "backup":
            return backup_database(load_all(args.config, whole=False)[0], args.output)
        if args.command == "restore":
            return restore_database(load_all(args.config, whole=False)[0], args.backup)
        if args.command == "db":
            return asyncio.run(_db_upgrade(args.config))
        if args.command in verbs:
            verb = verbs[args.command]
            if verb.run_alone is not None:
                return verb.run_alone(args)  # no configuration, no database
            assert verb.run is not None
            config, rooms = load_all(args.config, whole=False)
            return asyncio.run(verb.run(args, config, rooms))
        if args.command == "demo":
            from bridge.demo import run_demo

            return asyncio.run(run_demo(args.data, args.rooms_config))
        return asyncio.run(runners[args.command]())
    except (StartError, DatabaseTooNew, DatabaseUnavailable) as e:
        print(f"linli: {e}", file=sys.stderr)
        return 1
    except PermissionError as e:  # e.g. /config not the image user's (docs/self-hosting.md)
        print(f"linli: cannot write {e.filename}: permission denied", file=sys.stderr)
        return 1
    except ConfigError as e:
        print("Configuration error:", file=sys.stderr)
        for issue in e.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
