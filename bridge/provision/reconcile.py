"""`linli plan` and `linli apply`: role table from config and DB; desired → plan → apply."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from bridge.bot_profile import BotProfile
from bridge.clock import Clock
from bridge.config import BridgeConfig
from bridge.i18n import Catalogue
from bridge.matrix import MatrixClient
from bridge.matrix_errors import Forbidden, NotFound
from bridge.provision.apply import Applier, ApplyReport, RegistrationOutdated
from bridge.provision.desired import RoleTable, RoomSpec, desired_rooms, role_table
from bridge.provision.plan import (
    OPTIONAL_FACETS,
    Action,
    CreateRoom,
    facet_event,
    plan,
)
from bridge.provision.registration_check import outdated_message, unreserved_aliases
from bridge.rooms_config import RoomsConfig
from bridge.store import Store
from bridge.store.rooms import RoomRecord

# The facets read back from the homeserver by a live plan; join rules and power levels are
# turned back into the record's symbolic form (rooms by key, Linli itself left out).
LIVE_FACETS = ("name", "topic", "history_visibility", "join_rules", "power_levels")


@dataclass(frozen=True)
class Plan:
    specs: list[RoomSpec]
    actions: list[Action]
    # Aliases the plan would create that the homeserver's registration does not reserve
    # (read by a live plan only).
    unreserved: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        warning = []
        if self.unreserved:
            warning = [f"! {outdated_message(self.unreserved)} (before apply)"]
        return warning + [a.describe() for a in self.actions]


class Provisioner:
    def __init__(
        self,
        config: BridgeConfig,
        rooms: RoomsConfig,
        store: Store,
        client: MatrixClient,
        clock: Clock,
        catalogue: Catalogue,
    ) -> None:
        self.config = config
        self.rooms = rooms
        self.store = store
        self.client = client
        self.clock = clock
        self.catalogue = catalogue
        # One apply at a time: a bot's reconcile and the start-up apply must not interleave.
        self._lock = asyncio.Lock()
        self.profile = BotProfile(client, config)

    async def role_tables(self) -> dict[str, RoleTable]:
        buildings = await self.store.people.buildings_of_all()
        grants = await self.store.people.grants_of_all()
        return {
            key: role_table(compound, self.rooms, buildings.get(key, {}), grants.get(key, {}))
            for key, compound in self.rooms.compounds.items()
        }

    async def plan(self, *, live: bool = False) -> Plan:
        """What apply would do. `live`: compare with the homeserver's own state of each room
        Linli manages (name, topic, history visibility, join rules, power levels), not only
        with what Linli recorded, so a change made by hand shows as a change; and ask whether
        the homeserver's registration reserves the aliases to create. The homeserver must
        answer."""
        specs = desired_rooms(self.config, self.rooms, await self.role_tables())
        recorded = await self.store.rooms.all()
        if live:
            recorded = await self._as_they_are(recorded)
        actions = plan(specs, recorded)
        unreserved = await self._unreserved(actions) if live else []
        return Plan(specs, actions, unreserved)

    async def _unreserved(self, actions: list[Action]) -> list[str]:
        creations = [a.spec for a in actions if isinstance(a, CreateRoom)]
        if not creations:
            return []
        server = self.config.homeserver.server_name
        return await unreserved_aliases(self.client, creations, server)

    async def _as_they_are(self, recorded: dict[str, RoomRecord]) -> dict[str, RoomRecord]:
        keys_by_id = {r.room_id: key for key, r in recorded.items()}
        limit = asyncio.Semaphore(8)

        async def read(record: RoomRecord) -> RoomRecord:
            if record.archived:
                return record
            state = dict(record.state)
            async with limit:
                for facet in [*LIVE_FACETS, *(f for f in OPTIONAL_FACETS if f in state)]:
                    try:
                        content = await self.client.get_state(record.room_id, *facet_event(facet))
                    except NotFound:
                        content = {}  # never set, or unset by hand: a change to make
                    except Forbidden:
                        continue  # Linli cannot read it (removed from the room): keep the record
                    state[facet] = self._symbolic(facet, content, state.get(facet), keys_by_id)
            return replace(record, state=state)

        checked = await asyncio.gather(*(read(r) for r in recorded.values()))
        return {r.key: r for r in checked}

    def _symbolic(
        self, facet: str, content: dict[str, Any], recorded: Any, keys_by_id: dict[str, str]
    ) -> Any:
        """A state event's content in the record's form, so that it compares with the spec."""
        if facet == "join_rules":
            value: dict[str, Any] = {"join_rule": content.get("join_rule")}
            if "allow" in content or value["join_rule"] in ("restricted", "knock_restricted"):
                value["allow_spaces"] = [
                    keys_by_id.get(str(allowed.get("room_id")), str(allowed.get("room_id")))
                    for allowed in content.get("allow", [])
                    if isinstance(allowed, dict) and allowed.get("type") == "m.room_membership"
                ]
            return value
        if facet in OPTIONAL_FACETS:
            return content or None  # an empty content is a widget removed by hand
        if facet == "power_levels":
            if not isinstance(recorded, dict):
                return recorded  # nothing recorded to compare with: apply sends it anyway
            # Only the keys Linli sets (the homeserver adds its defaults beside them); Linli
            # itself is listed only in rooms of versions before 12, and is not in the spec.
            value = {key: content.get(key) for key in recorded}
            users = dict(content.get("users") or {})
            users.pop(self.config.bot_user_id, None)
            value["users"] = users
            return value
        # No name or topic event is what an empty one was created as.
        return content.get(facet, "" if facet in ("name", "topic") else None)

    async def apply(self, *, live: bool = False) -> ApplyReport:
        async with self._lock:
            return await self._apply(live)

    async def _apply(self, live: bool = False) -> ApplyReport:
        actions = (await self.plan(live=live)).actions
        # Before anything is touched: a room half-made for want of its alias helps nobody.
        unreserved = await self._unreserved(actions)
        if unreserved:
            raise RegistrationOutdated(outdated_message(unreserved))
        named = await self.profile.ensure_profile()
        report = await Applier(
            self.client,
            self.store.rooms,
            self.clock,
            self.config.homeserver.server_name,
            self.config.bot_user_id,
            self._removal_reason,
        ).apply(actions)
        # The bot's name and avatar (bridge/bot_profile.py): read once per process, changed
        # only when they differ; rooms of another language's compounds once they exist.
        recorded = (await self.store.rooms.all()).values()
        report.done = named + report.done + await self.profile.ensure_rooms(self.rooms, recorded)
        return report

    def _removal_reason(self, key: str) -> str:
        compound = key.split(":", 1)[0]
        found = self.rooms.compounds.get(compound)
        locale = found.locale if found else self.config.locale
        return self.catalogue.text(locale, "provision.removed")
