"""`linli`: the one entry point (init, registration, plan, apply, run, demo).

Only the parsing lives here, with what every command needs; each command imports its own
modules when it runs (bridge/cli_commands.py for plan, apply, run…), so `linli --version`,
`--help` and a verb that needs no bot start in a fraction of a second."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bridge import logs
from bridge.version import version

log = logging.getLogger("linli")


def _still_placeholder(path: Path) -> bool:
    try:
        return "CHANGE_ME" in path.read_text(encoding="utf-8")
    except OSError:
        return False


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
    from bots.verbs import ALL_VERBS

    verbs = {verb.name: verb for verb in ALL_VERBS}
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
        return _dispatch(args, verbs)
    except Exception as e:
        return _explain(e)


def _dispatch(args: argparse.Namespace, verbs: dict[str, Any]) -> int:
    if args.command == "init":
        return _init(args)
    if args.command == "demo":
        from bridge.demo import run_demo

        return asyncio.run(run_demo(args.data, args.rooms_config))
    if args.command in verbs and verbs[args.command].run_alone is not None:
        return int(verbs[args.command].run_alone(args))  # no configuration, no database
    from bridge import cli_commands as do

    if args.command == "registration":
        from bridge.registration import write_registration

        config, rooms = do.load_all(args.config, whole=False)
        written = write_registration(config, rooms, args.output)
        if args.group_readable:
            written.chmod(0o640)
        print(f"wrote {written}")
        return 0
    if args.command in ("backup", "restore"):
        from bridge.instance import backup_database, restore_database

        config = do.load_all(args.config, whole=False)[0]
        if args.command == "backup":
            return backup_database(config, args.output)
        return restore_database(config, args.backup)
    if args.command == "qr":
        return do.qr(args.config, args.compound, args.output)
    if args.command in verbs:
        verb = verbs[args.command]
        assert verb.run is not None
        config, rooms = do.load_all(args.config, whole=False)
        return int(asyncio.run(verb.run(args, config, rooms)))
    runners: dict[str, Callable[[], Coroutine[Any, Any, int]]] = {
        "plan": lambda: do.plan(args.config),
        "apply": lambda: do.apply(args.config),
        "run": lambda: do.run(args.config, args.verbose, args.log_format),
        "db": lambda: do.db_upgrade(args.config),
    }
    return asyncio.run(runners[args.command]())


def _init(args: argparse.Namespace) -> int:
    from bridge.registration import bridge_yaml_text
    from bridge.secret_files import ensure_secret_key, write_secret

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


def _explain(error: Exception) -> int:
    """The one line (or the file:line list) a failed command prints; anything else is a bug."""
    from bridge.app import StartError
    from bridge.config import ConfigError
    from bridge.store.database import DatabaseTooNew, DatabaseUnavailable

    if isinstance(error, (StartError, DatabaseTooNew, DatabaseUnavailable)):
        print(f"linli: {error}", file=sys.stderr)
        return 1
    if isinstance(error, PermissionError):  # e.g. /config not the image user's (self-hosting.md)
        print(f"linli: cannot write {error.filename}: permission denied", file=sys.stderr)
        return 1
    if isinstance(error, ConfigError):
        print("Configuration error:", file=sys.stderr)
        for issue in error.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    raise error


if __name__ == "__main__":
    sys.exit(main())
