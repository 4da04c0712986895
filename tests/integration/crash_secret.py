"""The secret vote of the crash scenario (crash_votes.py): a secret vote by household open in the
hall while Linli is killed. Each resident finds the ballot paper in their direct room with the
bot (an undisclosed poll) and answers it once, at one of their first turns, as Element
would; the receipt comes when Linli has taken it, perhaps after a restart. After the kills the
committee closes the vote. Counted: each ballot answered with one receipt notice (none lost,
none repeated), every receipt in the database's secret ballots once with the choice cast, one
secret voter per household, and the result's counts the tally of the ballots cast."""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from dataclasses import dataclass

from tests.integration.matrix_client import MatrixHTTPError, ResidentClient
from tests.integration.room_watch import Event, RoomWatch, history

RESPONSE = "org.matrix.msc3381.poll.response"
COUNTS = re.compile(r"同意 (\d+)，反对 (\d+)，弃权 (\d+)")
RECEIPT = re.compile(r"回执码：([A-Z2-7]{5}-[A-Z2-7]{5})")
NUMBER = 2  # the secret vote is opened after the open one


@dataclass
class Cast:
    resident: ResidentClient
    household: str
    room: str
    event_id: str
    choice: str


class SecretBallots:
    def __init__(  # type: ignore[no-untyped-def]
        self, linli, committee: ResidentClient, hall: str, watch: RoomWatch, rng: random.Random
    ) -> None:
        self.linli = linli
        self.committee = committee
        self.hall = hall
        self.watch = watch
        self.rng = rng
        self.papers: dict[str, tuple[str, str]] = {}  # user ID → (direct room, paper event)
        self.households: dict[str, str] = {}
        self.cast_ballots: list[Cast] = []
        self.poll_id = 0
        self.turns: Counter[str] = Counter()

    async def setup(self, residents: list[ResidentClient], households: list[str]) -> None:
        await self.committee.send_text(
            self.hall, "!表决 更换物业公司 | 简单多数 | 每户一票 | 不记名"
        )
        opened = await self.watch.wait_for(
            self.hall, lambda e: self._bot(e) and _body(e).startswith("不记名表决 #2 已发起"), 60
        )
        assert opened is not None, "the secret vote did not open"
        [(self.poll_id,)] = self.linli.query(
            "SELECT id FROM votes_polls WHERE compound = 'heping' AND number = ?", (NUMBER,)
        )
        wanted = {r.user_id for r in residents}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:  # the hand-out job gives each household's residents a paper
            rows = self.linli.query(
                "SELECT user_id, room_id, start_event_id FROM votes_ballot_papers"
                " WHERE poll_id = ?",
                (self.poll_id,),
            )
            self.papers = {user: (room, start) for user, room, start in rows if user in wanted}
            if len(self.papers) == len(wanted):
                break
            assert loop.time() < deadline, f"ballot papers for {len(self.papers)} of {len(wanted)}"
            await asyncio.sleep(0.5)
        for resident, household in zip(residents, households, strict=True):
            self.households[resident.user_id] = household
            await resident.join(self.papers[resident.user_id][0])

    async def cast(self, resident: ResidentClient) -> bool:
        """The resident's secret ballot at one of their first few turns, at random, so ballots
        land at different moments of the kills (False: not now, or cast already)."""
        if any(c.resident is resident for c in self.cast_ballots):
            return False
        self.turns[resident.user_id] += 1
        if self.turns[resident.user_id] < 4 and self.rng.random() < 0.6:
            return False
        room, paper = self.papers[resident.user_id]
        choice = self.rng.choice(["yes", "no", "abstain"])
        content = {
            "m.relates_to": {"rel_type": "m.reference", "event_id": paper},
            RESPONSE: {"answers": [choice]},
        }
        while True:
            try:
                event_id = await resident.send_event(room, RESPONSE, content)
                break
            except MatrixHTTPError:  # the homeserver is fine; Linli's state does not matter here
                await asyncio.sleep(0.5)
        self.cast_ballots.append(
            Cast(resident, self.households[resident.user_id], room, event_id, choice)
        )
        return True

    async def close_vote(self, timeout: float) -> None:  # noqa: ASYNC109
        await self.committee.send_text(self.hall, f"!投票 结束 {NUMBER}")
        await self.watch.wait_for(
            self.hall,
            lambda e: self._bot(e) and _body(e).startswith(f"表决 #{NUMBER} 结果"),
            timeout,
        )

    async def check(self, hall: list[Event]) -> list[str]:
        problems: list[str] = []
        receipts: dict[str, str] = {}  # receipt → the choice cast
        for c in self.cast_ballots:
            answers = [
                e
                for e in await history(c.resident, c.room)
                if self._bot(e) and _reply_to(e) == c.event_id
            ]
            codes = [m.group(1) for e in answers if (m := RECEIPT.search(_body(e)))]
            if len(codes) != 1 or len(answers) != 1:
                problems.append(
                    f"secret ballot {c.event_id}: {len(answers)} answers, receipts {codes}"
                )
            for code in codes:
                receipts[code] = c.choice
        stored = Counter(
            (receipt, choice)
            for receipt, choice in self.linli.query(
                "SELECT receipt, choice FROM votes_secret_ballots WHERE poll_id = ?",
                (self.poll_id,),
            )
        )
        if stored != Counter(receipts.items()):
            problems.append(f"secret ballots stored {dict(stored)}, acknowledged {receipts}")
        voters = sorted(
            v
            for (v,) in self.linli.query(
                "SELECT voter FROM votes_secret_voters WHERE poll_id = ?", (self.poll_id,)
            )
        )
        if voters != sorted(c.household for c in self.cast_ballots):
            problems.append(
                f"secret voters {voters}, cast by {[c.household for c in self.cast_ballots]}"
            )
        results = [
            e
            for e in hall
            if e.get("type") == "m.room.message"
            and self._bot(e)
            and _body(e).startswith(f"表决 #{NUMBER} 结果")
        ]
        tally = Counter(c.choice for c in self.cast_ballots)
        want = (tally["yes"], tally["no"], tally["abstain"])
        shown = COUNTS.search(_body(results[0])) if len(results) == 1 else None
        if shown is None or tuple(int(n) for n in shown.groups()) != want:
            problems.append(f"{len(results)} secret results, want one with {want}")
        return problems

    def _bot(self, event: Event) -> bool:
        return event.get("sender") == self.linli.bot_user_id


def _body(event: Event) -> str:
    return str(event.get("content", {}).get("body", ""))


def _reply_to(event: Event) -> str | None:
    relates = event.get("content", {}).get("m.relates_to") or {}
    reply = relates.get("m.in_reply_to") or {}
    return reply.get("event_id") if isinstance(reply, dict) else None
