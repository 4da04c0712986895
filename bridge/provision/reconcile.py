"""`linli plan` and `linli apply`: role table from config and DB; desired → plan → apply."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from bridge.clock import Clock
from bridge.config import BridgeConfig
from bridge.i18n import Catalogue
from bridge.matrix import Forbidden, MatrixClient, NotFound
from bridge.provision.apply import Applier, ApplyReport
from bridge.provision.desired import RoleTable, RoomSpec, desired_rooms, role_table
from bridge.provision.plan import STATE_FACETS, Action, plan
from bridge.rooms_config import RoomsConfig
from bridge.store import Store
from bridge.store.rooms import RoomRecord

# The facets read back from the homeserver by a live plan: plain values, compared as they are
# (join rules and power levels name rooms and users by ID and are left to the record).
LIVE_FACETS = ("name", "topic", "history_visibility")


@dataclass(frozen=True)
class Plan:
    specs: list[RoomSpec]
    actions: list[Action]

    def describe(self) -> list[str]:
        return [a.describe() for a in self.actions]


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

    async def role_tables(self) -> dict[str, RoleTable]:
        tables = {}
        for key, compound in self.rooms.compounds.items():
            residents = {r.user_id: r.building for r in await self.store.people.residents(key)}
            grants = await self.store.people.grants(key)
            tables[key] = role_table(compound, self.rooms, residents, grants)
        return tables

    async def plan(self, *, live: bool = False) -> Plan:
        """What apply would do. `live`: compare with the homeserver's own state of each room
        Linli manages (its name, topic and history visibility), not only with what Linli
        recorded, so a room renamed by hand shows as a change; the homeserver must answer."""
        specs = desired_rooms(self.config, self.rooms, await self.role_tables())
        recorded = await self.store.rooms.all()
        if live:
            recorded = await self._as_they_are(recorded)
        return Plan(specs, plan(specs, recorded))

    async def _as_they_are(self, recorded: dict[str, RoomRecord]) -> dict[str, RoomRecord]:
        async def read(record: RoomRecord) -> RoomRecord:
            if record.archived:
                return record
            state = dict(record.state)
            for facet in LIVE_FACETS:
                try:
                    content = await self.client.get_state(record.room_id, STATE_FACETS[facet])
                except NotFound:
                    content = {}  # never set, or unset by hand: a change to make
                except Forbidden:
                    continue  # Linli cannot read it (removed from the room): keep the record
                # No name or topic event is what an empty one was created as.
                state[facet] = content.get(facet, "" if facet in ("name", "topic") else None)
            return replace(record, state=state)

        checked = await asyncio.gather(*(read(r) for r in recorded.values()))
        return {r.key: r for r in checked}

    async def apply(self, *, live: bool = False) -> ApplyReport:
        async with self._lock:
            return await self._apply(live)

    async def _apply(self, live: bool = False) -> ApplyReport:
        return await Applier(
            self.client,
            self.store.rooms,
            self.clock,
            self.config.homeserver.server_name,
            self.config.bot_user_id,
            self._removal_reason,
        ).apply((await self.plan(live=live)).actions)

    def _removal_reason(self, key: str) -> str:
        compound = key.split(":", 1)[0]
        found = self.rooms.compounds.get(compound)
        locale = found.locale if found else self.config.locale
        return self.catalogue.text(locale, "provision.removed")
