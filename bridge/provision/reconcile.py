"""`linli plan` and `linli apply`: role table from config and DB; desired → plan → apply."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bridge.clock import Clock
from bridge.config import BridgeConfig
from bridge.i18n import Catalogue
from bridge.matrix import MatrixClient
from bridge.provision.apply import Applier, ApplyReport
from bridge.provision.desired import RoleTable, RoomSpec, desired_rooms, role_table
from bridge.provision.plan import Action, plan
from bridge.rooms_config import RoomsConfig
from bridge.store import Store


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

    async def plan(self) -> Plan:
        specs = desired_rooms(self.config, self.rooms, await self.role_tables())
        return Plan(specs, plan(specs, await self.store.rooms.all()))

    async def apply(self) -> ApplyReport:
        async with self._lock:
            return await self._apply()

    async def _apply(self) -> ApplyReport:
        return await Applier(
            self.client,
            self.store.rooms,
            self.clock,
            self.config.homeserver.server_name,
            self.config.bot_user_id,
            self._removal_reason,
        ).apply((await self.plan()).actions)

    def _removal_reason(self, key: str) -> str:
        compound = key.split(":", 1)[0]
        found = self.rooms.compounds.get(compound)
        locale = found.locale if found else self.config.locale
        return self.catalogue.text(locale, "provision.removed")
