"""Who a notice reached: the residents it targets (a compound's, kept per generation of the
people tables), read receipts counted against the rooms' order, the `回执` answer in words and
its chart (drawn in a thread, not again while the figures are unchanged)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bots.notices import rules
from bots.notices.reach_chart import ReachWords, reach_chart_png
from bots.notices.rules import Household, Reach
from bots.notices.store import NoticeRecord, NoticeStore
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
        return rules.targeted_residents(residents, notice.targets, members)

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

    async def reach_of(self, notice: NoticeRecord) -> Reach:
        rows = await self.notices.reach_rows(notice.id)
        return rules.reach(await self.targeted(notice), rows.read, rows.acknowledged, rows.told)

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
        lines = [
            t(
                compound,
                "notices.reach_head",
                number=notice.number,
                households=found.households,
                reached=found.reached,
                pct=rules.percent(found.reached, found.households),
                residents=found.residents,
                read=found.read,
                acknowledged=found.acknowledged,
                told=found.told,
            )
        ]
        for b in found.buildings:
            lines.append(
                t(
                    compound,
                    "notices.reach_building",
                    building=b.building,
                    households=b.households,
                    reached=b.reached,
                    pct=rules.percent(b.reached, b.households),
                    read=b.read,
                    acknowledged=b.acknowledged,
                    told=b.told,
                )
            )
        if found.unreached:
            shown = found.unreached[:60]
            more = len(found.unreached) - len(shown)
            lines.append(
                t(compound, "notices.reach_unreached", households="、".join(shown))
                + (t(compound, "notices.reach_more", n=more) if more else "")
            )
        elif found.households:
            lines.append(t(compound, "notices.reach_all"))
        else:
            lines.append(t(compound, "notices.reach_nobody"))
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
