"""The demo's roster (bots/votes/demo.py): every household it seeds is in a building of its
own compound (xingfu has buildings 5 and 6 only)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bots import ALL_BOTS
from bots.votes import demo
from bots.votes.bot import VoteBot
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig
from bridge.rooms_config import load_rooms_config
from bridge.store.models import RosterHousehold
from tests.recording_client import RecordingClient

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def test_demo_roster_holds_only_households_of_each_compounds_buildings(
    tmp_path: Path,
) -> None:
    token = secrets.token_hex(8)
    config = BridgeConfig(
        appservice=AppserviceConfig(as_token=token, hs_token=token),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path}/linli.db"),
    )
    rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
    client = RecordingClient(config.bot_user_id)
    bridge = Bridge(config, rooms, ALL_BOTS, client=client, clock=FakeClock(NOW))
    await bridge.open()
    try:
        people = bridge.store.people
        residents = {"@wang_wu:linli.localhost": ("xingfu", "5", "1", "302")}
        residents["@zhang_san:linli.localhost"] = ("heping", "1", "1", "101")
        for user, (compound, building, unit, room) in residents.items():
            await people.bind_household(compound, user, building, unit, room, NOW)
        await bridge.provisioner.apply()
        await demo.seed(bridge.bot(VoteBot), dict.fromkeys(residents, "pw"))
        async with bridge.store.db.sessions() as session:
            rows = (await session.execute(select(RosterHousehold))).scalars().all()
        by_compound: dict[str, set[str]] = {}
        for row in rows:
            by_compound.setdefault(row.compound, set()).add(row.building)
        assert by_compound["xingfu"] <= {"5", "6"} and len(by_compound["xingfu"]) >= 1
        assert by_compound["heping"] <= {"1", "2", "3"}
        assert sum(row.compound == "xingfu" for row in rows) == 10
    finally:
        await bridge.store.close()


def test_every_demo_staff_account_has_a_display_name_bot_messages_can_show() -> None:
    """Bot messages name people by display name ("负责：物业小王"): the demo's accounts have one."""
    from bridge.demo import DEMO_NAMES

    rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
    staff = {
        user[1:].split(":")[0]
        for compound in rooms.compounds.values()
        for users in compound.config.staff.values()
        for user in users
    }
    assert staff and staff <= set(DEMO_NAMES)
    assert DEMO_NAMES["wuye_wang"] == "物业小王"
