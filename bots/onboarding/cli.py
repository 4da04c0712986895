"""The onboarding bot's admin verbs: `linli roster import <compound> <file.csv>`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bridge.cli_verbs import CliVerb

if TYPE_CHECKING:
    from bridge.config import BridgeConfig
    from bridge.rooms_config import RoomsConfig


def _arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="roster_command", required=True)
    imp = sub.add_parser("import", help="import a roster CSV (households, floor areas, owners)")
    imp.add_argument("compound")
    imp.add_argument("file", type=argparse.FileType("rb"))


async def _roster(args: argparse.Namespace, config: BridgeConfig, rooms: RoomsConfig) -> int:
    # Here, not above: `linli --help` lists this verb without loading the bot (bots/verbs.py).
    from bots.onboarding.bot import OnboardingBot
    from bots.onboarding.roster import parse_roster
    from bridge.clock import SystemClock
    from bridge.i18n import Catalogue
    from bridge.store import Store

    found = rooms.compounds.get(args.compound)
    if found is None:
        print(f"no compound {args.compound!r}", file=sys.stderr)
        return 2
    name = args.file.name
    try:
        text = args.file.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        print(f"{name}: cannot read: {e}", file=sys.stderr)
        return 2
    catalogue = Catalogue.load(bot_texts=[OnboardingBot.texts] if OnboardingBot.texts else [])
    result = parse_roster(text, frozenset(found.config.buildings) or None)
    for error in result.errors:
        # Line and reason only: a roster row holds names, never echoed to a terminal or log.
        print(f"{name}:{error.line}: {catalogue.text(found.locale, error.key)}", file=sys.stderr)
    store = await Store.open(config.database.url, config.database.sqlite_synchronous)
    try:
        count = await store.roster.import_roster(
            args.compound,
            [
                (
                    r.household.building,
                    r.household.unit,
                    r.household.room,
                    str(r.floor_area),
                    list(r.owners),
                    list(r.phone_hashes),
                )
                for r in result.rows
            ],
            SystemClock().now(),
        )
    finally:
        await store.close()
    print(
        catalogue.text(
            found.locale, "onboarding.roster_imported", count=count, bad=len(result.errors)
        )
    )
    return 1 if result.errors else 0


ROSTER_IMPORT = CliVerb("roster", "the household roster", _arguments, _roster)
