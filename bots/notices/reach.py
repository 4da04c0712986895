"""Who a notice reached: the residents it targets (a compound's, kept per generation of the
people tables), read receipts counted against the rooms' order, the `回执` answer in words and
its chart (drawn in a thread, not again while the figures are unchanged)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bots.notices import reach_rules, rules
from bots.notices.reach_chart import ReachWords, reach_chart_png
from bots.notices.reach_rules import Household, Reach
from bots.notices.records import NoticeRecord
from bots.notices.store import NoticeStore
from bridge import messages
from bridge.bot import Services
from bridge.events import Receipt
from bridge.provision.desired import room_key
from bridge.rooms_config import Compound

# Reach charts kept for an unchanged answer (the most recently drawn).
CHARTS_KEPT = 32


class ReachBook:
    def __init__(
        self,
        services: Services,
        notices: NoticeStore,
        origin_ts: Callable[[str, str], Awaitable[int]],
    ) -> None:
        self.services = services
        self.notices = notices
        self.origin_ts = origin_ts
        # (notice, reader) pairs this process has stored: a repeated receipt writes nothing.
        self._reads: set[tuple[int, str]] = set()
        # Each compound's verified residents and their households, with the generation of the
        # people tables they were read at (a reach answer reads thousands).
        self._residents: dict[str, tuple[int, list[tuple[str, Household]]]] = {}
        # Each compound's roster households (None: it has no roster), by roster generation.
        self._roster: dict[str, tuple[int, list[Household] | None]] = {}
        # Each notice's last reach chart: the same figures again show the image uploaded then.
        self._charts: dict[int, tuple[Reach, ReachWords, dict[str, Any]]] = {}

    async def targeted(self, notice: NoticeRecord) -> dict[str, Household]:
        """The verified residents a notice is for. An interest group's are the residents
        joined to its room now (asked of the homeserver, which keeps the membership)."""
        residents = await self.residents(notice.compound)
        members: set[str] = set()
        if notice.group is not None:
            record = await self.services.store.rooms.by_key(room_key(notice.compound, notice.group))
            if record is not None:
                members = await self.services.client.joined_members(record.room_id)
        return reach_rules.targeted_residents(residents, notice.targets, members)

    async def roster(self, compound: str) -> list[Household] | None:
        """The compound's roster households, or None when it has none (read again only once
        a roster import committed)."""
        generation = self.services.store.db.generations["roster"]
        cached = self._roster.get(compound)
        if cached is not None and cached[0] == generation:
            return cached[1]
        rows = await self.services.store.roster.households(compound)
        households = [Household(*row) for row in rows] if rows else None
        self._roster[compound] = (generation, households)
        return households

    async def residents(self, compound: str) -> list[tuple[str, Household]]:
        """The compound's verified residents, read again only once the people tables changed
        (their generation is bumped after each commit, so it is read before the rows)."""
        db = self.services.store.db
        generation = db.generations["people"]
        cached = self._residents.get(compound)
        if cached is not None and cached[0] == generation:
            return cached[1]
        rows = await self.services.store.people.residents(compound)
        residents = [(r.user_id, Household(r.building, r.unit, r.room)) for r in rows]
        self._residents[compound] = (generation, residents)
        return residents

    async def households_of(self, notice: NoticeRecord) -> set[Household]:
        """The households a notice is for: its residents' and the roster's."""
        homes = set((await self.targeted(notice)).values())
        roster = await self.roster(notice.compound)
        if roster is not None:
            homes.update(reach_rules.targeted_roster(roster, notice.targets))
        return homes

    async def reach_of(self, notice: NoticeRecord) -> Reach:
        """Every household the notice is for: the roster's in the targeted buildings (an
        interest group's: its members'), with the verified residents' households."""
        rows = await self.notices.reach_rows(notice.id)
        roster = await self.roster(notice.compound)
        homes = reach_rules.targeted_roster(roster, notice.targets) if roster is not None else None
        return reach_rules.reach(
            await self.targeted(notice), rows.read, rows.acknowledged, rows.told, homes
        )

    async def street_total(
        self, compounds: list[Compound], since: datetime, asked_in: Compound
    ) -> str:
        """A street office's view: per compound, the notices posted since `since` and the
        households they reached (a household counted once per notice), then the total."""
        t = self.services.text
        lines = [t(asked_in, "notices.total_head", days=(self.services.clock.now() - since).days)]
        notices = households = reached = 0
        for compound in compounds:
            found = [
                await self.reach_of(n) for n in await self.notices.posted_since(compound.key, since)
            ]
            here = sum(f.households for f in found)
            got = sum(f.reached for f in found)
            lines.append(
                t(
                    asked_in,
                    "notices.total_compound",
                    name=(compound.config.name_en if asked_in.locale == "en" else None)
                    or compound.config.name,
                    notices=len(found),
                    households=here,
                    reached=got,
                    pct=rules.percent(got, here),
                    roster=t(asked_in, "notices.total_no_roster")
                    if await self.roster(compound.key) is None
                    else "",
                )
            )
            notices, households, reached = notices + len(found), households + here, reached + got
        lines.append(
            t(
                asked_in,
                "notices.total_all",
                compounds=len(compounds),
                notices=notices,
                households=households,
                reached=reached,
                pct=rules.percent(reached, households),
            )
        )
        return "\n".join(lines)

    async def reach_chart(
        self, notice: NoticeRecord, found: Reach, words: ReachWords
    ) -> dict[str, Any] | None:
        """The image message of the reach chart, drawn in a thread (no room's events wait for
        it) and uploaded; None without a media repository. Figures unchanged since the last
        time: the image uploaded then."""
        cached = self._charts.get(notice.id)
        if cached is not None and cached[:2] == (found, words):
            return cached[2]
        png = await asyncio.to_thread(reach_chart_png, notice.number, found, words)
        name = f"notice-{notice.number}-reach.png"
        uri = await self.services.client.upload(png, "image/png", name)
        if uri is None:
            return None
        image = messages.file_message(uri, name, "image/png", len(png), msgtype="m.image")
        self._charts.pop(notice.id, None)
        self._charts[notice.id] = (found, words, image)
        while len(self._charts) > CHARTS_KEPT:
            del self._charts[next(iter(self._charts))]
        return image

    def reach_text(self, compound: Compound, notice: NoticeRecord, found: Reach) -> str:
        t = self.services.text
        figures = {
            "households": found.households,
            "reached": found.reached,
            "pct": rules.percent(found.reached, found.households),
            "acknowledged": found.acknowledged,
            "read": found.read,
            "told": found.told,
            "residents": found.residents,
            "no_account": found.no_account,
        }
        lines = [t(compound, "notices.reach_head", number=notice.number, **figures)]
        if notice.group is not None:
            basis = "notices.reach_basis_group"
        elif found.roster:
            basis = "notices.reach_basis_roster"
        else:
            basis = "notices.reach_basis_no_roster"
        lines.append(t(compound, basis, **figures))
        for b in found.buildings:
            lines.append(
                t(
                    compound,
                    "notices.reach_building",
                    building=b.building,
                    households=b.households,
                    reached=b.reached,
                    pct=rules.percent(b.reached, b.households),
                    acknowledged=b.acknowledged,
                    read=b.read,
                    told=b.told,
                )
            )
        offline = [h for b in found.buildings for h in b.unreached_offline]
        online = [h for b in found.buildings for h in b.unreached_online]
        for key, households in (
            ("notices.reach_unreached_offline", offline),
            ("notices.reach_unreached", online),
        ):
            if households:
                shown = households[:60]
                more = len(households) - len(shown)
                lines.append(
                    t(compound, key, households="、".join(shown))
                    + (t(compound, "notices.reach_more", n=more) if more else "")
                )
        if not found.unreached:
            key = "notices.reach_all" if found.households else "notices.reach_nobody"
            lines.append(t(compound, key))
        lines.append(t(compound, "notices.reach_lower_bound"))
        return "\n".join(lines)

    async def count_read(self, receipt: Receipt, at: datetime) -> int:
        """A read receipt: counted against the room's order, or (an event Linli did not see)
        against the homeserver's timestamps. What this process recorded already is not
        written again (a resident's client sends a receipt for every message it shows)."""
        notices = await self.notices.notices_read_by(receipt.room_id, receipt.event_id)
        if notices is None:
            ts = await self.origin_ts(receipt.room_id, receipt.event_id)
            notices = await self.notices.notices_read_until(receipt.room_id, ts) if ts else []
        new = [n for n in notices if (n, receipt.user_id) not in self._reads]
        if new:
            await self.notices.add_reads(receipt.user_id, new, at)
            self._reads.update((n, receipt.user_id) for n in new)
        return len(notices)

    def forget_reader(self, user_id: str) -> None:
        self._reads = {pair for pair in self._reads if pair[1] != user_id}
