"""The community part of the crash scenario (crash_scenario.py): an activity with two places is
open in building 3's room while Linli is killed; residents and staff tap 🙋 under it, remove the
tap (leaving) and tap again, each after a random pause. Counted afterwards: one join and one
leave log line per tap and per removal, none lost or repeated; who is on the list and in which
order is what the room's order of taps and removals says; the card's last edit shows exactly
that list; nobody is on it twice; each person moved up from the waiting list was told once each
time (by direct message)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

from tests.integration.matrix_client import ResidentClient, q
from tests.integration.room_watch import Event, RoomWatch, history

PLACES = 2
TAP = "🙋"
MOVED_UP = "已从候补转为正式报名"


@dataclass
class CommunityReport:
    taps: int = 0
    removals: int = 0
    edits: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"  接龙: {self.taps} taps, {self.removals} removed, the list edited {self.edits}×"


class CommunityDriver:
    def __init__(self, linli, staff: ResidentClient, rng: random.Random):  # type: ignore[no-untyped-def]
        self.linli = linli
        self.staff = staff
        self.rng = rng
        self.taps: dict[str, str] = {}  # tap event → who
        self.removals: dict[str, str] = {}  # redaction event → the tap it removed
        self.people: list[ResidentClient] = []

    async def setup(self, people: list[ResidentClient]) -> None:
        self.room = await self.staff.join(self.linli.alias("heping-building_3"))
        self.watch = RoomWatch(self.staff, [self.room])
        await self.watch.start()
        for person in people:
            if person is not self.staff:
                await person.join(self.room)
        self.people = people
        await self.staff.send_text(
            self.room, f"!活动 包饺子 | 时间 23:59 | 地点 活动室 | 名额 {PLACES} | 群 3号楼"
        )
        card = await self.watch.wait_for(
            self.room,
            lambda e: self._bot(e) and _body(e).startswith("【活动 #1】"),
            60,
        )
        assert card is not None, "the activity was not posted"
        self.card = card["event_id"]

    async def close(self) -> None:
        await self.watch.close()

    async def tapper(self, person: ResidentClient, stop: asyncio.Event) -> None:
        """Tap, pause, remove the tap, pause, … until told to stop (with the tap on or off)."""
        tap: str | None = None
        while not stop.is_set():
            await asyncio.sleep(self.rng.uniform(0.2, 2.5))
            if tap is None:
                tap = await person.react(self.room, self.card, TAP)
                self.taps[tap] = person.user_id
            else:
                path = (
                    f"/_matrix/client/v3/rooms/{q(self.room)}/redact/{q(tap)}/r{len(self.removals)}"
                )
                removal = (await person.call("PUT", path, {}))["event_id"]
                self.removals[removal] = tap
                tap = None

    def _bot(self, event: Event) -> bool:
        return event.get("sender") == self.linli.bot_user_id

    def busy(self) -> list[str]:
        return [
            f"job {key}"
            for (key,) in self.linli.query(
                "SELECT key FROM scheduled_jobs WHERE status='pending'"
                " AND kind='community.refresh_list'"
            )
            # The list's edits after taps; not the card's edit when sign-up closes (tonight).
            if ":list:" in key
        ]

    async def check(self) -> CommunityReport:
        r = CommunityReport(len(self.taps), len(self.removals))
        events = await history(self.staff, self.room)
        logged = self.linli.query("SELECT action, cause FROM community_log WHERE activity_id=1")
        joins = Counter(cause for action, cause in logged if action == "join")
        leaves = Counter(cause for action, cause in logged if action == "leave")
        if set(joins) - set(self.taps) or set(leaves) - set(self.removals):
            r.problems.append("a join or leave logged for something no one sent")
        r.problems += [f"tap {c} joined {n}×" for c, n in joins.items() if n > 1]
        r.problems += [f"removal {c} left {n}×" for c, n in leaves.items() if n > 1]
        # A tap removed while Linli was down reaches it redacted (the homeserver sends an
        # event's current, pruned, form): neither it nor its removal counts. Any other tap
        # and removal must have been taken once.
        for removal, tap in self.removals.items():
            if (tap in joins) != (removal in leaves):
                r.problems.append(
                    f"tap {tap} joined {tap in joins}, removal left {removal in leaves}"
                )
        kept = {t for t in self.taps if t not in self.removals.values()}
        r.problems += [f"tap {t} (never removed) not taken" for t in kept if t not in joins]
        # The room's order decides: a tap joins the end of the list, its removal leaves it,
        # and moves the first waiting up (one direct message each time).
        expected: list[str] = []
        moved: Counter[str] = Counter()
        for e in events:
            if e["event_id"] in joins:
                who = self.taps[e["event_id"]]
                expected = [u for u in expected if u != who] + [who]
            if e["event_id"] in leaves:
                before = set(expected[:PLACES])
                expected = [u for u in expected if u != self.taps[self.removals[e["event_id"]]]]
                moved.update(set(expected[:PLACES]) - before)
        stored = [
            user
            for (user,) in self.linli.query(
                "SELECT user_id FROM community_signups WHERE activity_id=1 AND active=1"
                " ORDER BY seq"
            )
        ]
        if stored != expected:
            r.problems.append(f"on the list {stored}, the room's order says {expected}")
        edits = [
            e
            for e in events
            if self._bot(e)
            and e.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.replace"
            and e["content"]["m.relates_to"].get("event_id") == self.card
        ]
        r.edits = len(edits)
        shown = _names(edits[-1]["content"]["m.new_content"]["body"]) if edits else []
        want = [u[1:].split(":")[0] for u in expected]
        if shown != want:
            r.problems.append(f"the card's last edit shows {shown}, expected {want}")
        if len(set(shown)) != len(shown):
            r.problems.append(f"someone is on the card twice: {shown}")
        for person in self.people:
            told = len(await _moved_up_messages(person, self.linli.bot_user_id))
            if told != moved[person.user_id]:
                r.problems.append(
                    f"{person.user_id} told {told}× of moving up, moved up {moved[person.user_id]}×"
                )
        return r


def _names(body: str) -> list[str]:
    """The names on a card's list and waiting list, in order."""
    names: list[str] = []
    listing = False
    for line in body.split("\n"):
        if line.startswith("—— "):
            listing = line.startswith(("—— 接龙", "—— 候补"))
        elif listing and ". " in line:
            names.append(line.split(". ", 1)[1])
    return names


async def _moved_up_messages(person: ResidentClient, bot: str) -> list[str]:
    """The moved-up direct messages a person got (joining the bot's invitations)."""
    page = await person.call("GET", "/_matrix/client/v3/sync", params={"timeout": "0"})
    for room_id in page.get("rooms", {}).get("invite", {}):
        await person.join(room_id)
    told: list[str] = []
    for room_id in (await person.call("GET", "/_matrix/client/v3/joined_rooms"))["joined_rooms"]:
        for e in await history(person, room_id):
            if e.get("sender") == bot and MOVED_UP in _body(e):
                told.append(e["event_id"])
    return told


def _body(event: Event) -> str:
    return str(event.get("content", {}).get("body", ""))
