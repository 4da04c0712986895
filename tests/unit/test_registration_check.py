"""The registration check asks one alias per compound or community, and never deletes one
that exists."""

from __future__ import annotations

import re
from pathlib import Path

from bots import ALL_BOTS
from bridge.bot import config_sections
from bridge.config import AppserviceConfig, BridgeConfig
from bridge.matrix import MatrixClient
from bridge.provision.desired import desired_rooms, role_table
from bridge.provision.registration_check import outdated_message, unreserved_aliases
from bridge.rooms_config import load_rooms_config

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
CONFIG = BridgeConfig(appservice=AppserviceConfig(as_token="a" * 20, hs_token="b" * 20))
ROOMS = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
SPECS = desired_rooms(
    CONFIG, ROOMS, {k: role_table(c, ROOMS, {}, {}) for k, c in ROOMS.compounds.items()}
)


class Homeserver(MatrixClient):
    """Answers the two questions as Synapse would for a registration reserving `reserved`."""

    def __init__(self, reserved: str, existing: set[str]) -> None:
        super().__init__("http://homeserver.invalid", "token", "@linli:linli.localhost")
        self.reserved = re.compile(reserved)
        self.existing = existing
        self.deleted: list[str] = []

    async def alias_exists(self, alias: str) -> bool:
        return alias in self.existing

    async def alias_reserved(self, alias: str) -> bool:
        assert alias not in self.existing, f"{alias} exists and must not be deleted"
        self.deleted.append(alias)
        return bool(self.reserved.fullmatch(alias))


async def test_a_compound_the_registration_does_not_reserve_is_named_once() -> None:
    homeserver = Homeserver(r"#(sanlin|heping)(-[a-z0-9_]+)?:linli\.localhost", set())
    missing = await unreserved_aliases(homeserver, SPECS, "linli.localhost")
    assert missing == ["#xingfu:linli.localhost"]
    # One alias asked per key (the community and the two compounds), not one per room.
    assert sorted(homeserver.deleted) == [
        "#heping:linli.localhost",
        "#sanlin:linli.localhost",
        "#xingfu:linli.localhost",
    ]
    assert "run `linli registration`" in outdated_message(missing)
    assert "restart" in outdated_message(missing)


async def test_an_alias_that_exists_is_left_alone_and_the_next_is_asked() -> None:
    adopted = "#heping:linli.localhost"  # a space created just before a crash
    homeserver = Homeserver(r"#.*", {adopted})
    assert await unreserved_aliases(homeserver, SPECS, "linli.localhost") == []
    assert adopted not in homeserver.deleted
    assert any(a.startswith("#heping-") for a in homeserver.deleted)
