"""The votes part of the crash scenario (crash_scenario.py): a household vote is open in the hall
while Linli is killed; residents answer it from their clients with native poll responses (and
change their minds), staff enter paper ballots by command for the one household that does not
vote online (and correct them before their confirmation). A secret vote by household is open
too: each resident answers the ballot paper in their direct room with the bot once, through the
kills (crash_secret.py). After the kills a committee member confirms the last batch and closes
both votes. Counted: every response event stored once, none lost; every paper command answered
once and its last choice stored; one end event and one result; the result's counts and the
database's counted ballots equal what the residents and staff last sent; every secret ballot
acknowledged with one receipt, counted once under it, and the secret result its tally."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field

from tests.integration.crash_secret import SecretBallots
from tests.integration.matrix_client import ResidentClient
from tests.integration.room_watch import Event, RoomWatch, history

START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
END = "org.matrix.msc3381.poll.end"
CHOICES = {"yes": "同意", "no": "反对", "abstain": "弃权"}
COUNTS = re.compile(r"同意 (\d+)，反对 (\d+)，弃权 (\d+)")


@dataclass
class Sent:
    event_id: str
    household: str
    choice: str


@dataclass
class VoteReport:
    responses: int = 0
    papers: int = 0
    problems: list[str] = field(default_factory=list)

    secret: int = 0

    def line(self) -> str:
        return (
            f"  ballots: {self.responses} poll responses, {self.papers} paper entries, "
            f"{self.secret} secret ballots"
        )


class VoteDriver:
    def __init__(self, linli, committee: ResidentClient, staff: ResidentClient, rng: random.Random):  # type: ignore[no-untyped-def]
        self.linli = linli
        self.committee = committee
        self.staff = staff
        self.rng = rng
        self.responses: list[Sent] = []
        self.papers: list[Sent] = []
        self.households: dict[str, str] = {}  # resident's user ID → household

    async def setup(self, residents: list[ResidentClient], households: list[str]) -> None:
        self.hall = await self.committee.join(self.linli.alias("heping-hall"))
        await self.staff.join(self.hall)
        self.watch = RoomWatch(self.committee, [self.hall])
        await self.watch.start()
        for resident, household in zip(residents, households, strict=True):
            await resident.join(self.hall)
            self.households[resident.user_id] = household
        # The last household votes on paper only: a household's first ballot counts.
        self.paper_household = households[-1]
        await self.committee.send_text(self.hall, "!表决 小区加装门禁 | 简单多数 | 每户一票")
        start = await self.watch.wait_for(
            self.hall, lambda e: e.get("type") == START and self._bot(e), 60
        )
        assert start is not None, "the vote did not open"
        self.start = start["event_id"]
        self.number = 1
        self.secret = SecretBallots(self.linli, self.committee, self.hall, self.watch, self.rng)
        await self.secret.setup(residents, households)

    async def close(self) -> None:
        await self.watch.close()

    async def answer(self, resident: ResidentClient) -> None:
        """A native poll response, as Element sends it; it gets no answer (none is due). The
        resident's first turn casts their secret ballot instead."""
        if await self.secret.cast(resident):
            return
        if self.households[resident.user_id] == self.paper_household:
            return  # this household votes on paper
        choice = self.rng.choice(list(CHOICES))
        content = {
            "m.relates_to": {"rel_type": "m.reference", "event_id": self.start},
            RESPONSE: {"answers": [choice]},
        }
        event_id = await resident.send_event(self.hall, RESPONSE, content)
        self.responses.append(Sent(event_id, self.households[resident.user_id], choice))

    async def enter_paper(self, timeout: float) -> None:  # noqa: ASYNC109
        choice = self.rng.choice(list(CHOICES))
        text = f"!投票 纸质 {self.number} {self.paper_household} {CHOICES[choice]}"
        event_id = await self.staff.send_text(self.hall, text)
        self.papers.append(Sent(event_id, self.paper_household, choice))
        entered = len(self.papers)
        await self.watch.wait_until(
            lambda: len(self._paper_answers(self.watch.events(self.hall))) >= entered, timeout
        )

    def _paper_answers(self, events: list[Event]) -> list[str]:
        """The bot's answers to paper ballot commands (plain notices, in command order: a
        room's events are handled in order): each one entered, a later one correcting the
        earlier, unconfirmed one."""
        said = (_body(e) for e in events if self._bot(e))
        return [b for b in said if b.startswith(f"已登记 {self.paper_household}")]

    async def close_vote(self, timeout: float) -> None:  # noqa: ASYNC109
        """After the kills: a committee member (the scrutineer) confirms the last paper batch,
        then closes the vote and waits for its result."""
        said = self._paper_answers(self.watch.events(self.hall))
        if said:
            batch = said[-1].split("批次 ")[1][:6]
            await self.committee.send_text(self.hall, f"!投票 确认 {self.number} {batch}")
            await self.watch.wait_for(
                self.hall, lambda e: self._bot(e) and "已确认批次" in _body(e), timeout
            )
        await self.committee.send_text(self.hall, f"!投票 结束 {self.number}")
        await self.watch.wait_for(
            self.hall, lambda e: self._bot(e) and _body(e).startswith("表决 #1 结果"), timeout
        )
        await self.secret.close_vote(timeout)

    def _bot(self, event: Event) -> bool:
        return event.get("sender") == self.linli.bot_user_id

    async def check(self) -> VoteReport:
        r = VoteReport(len(self.responses), len(self.papers), secret=len(self.secret.cast_ballots))
        stored = Counter(
            event_id for (event_id,) in self.linli.query("SELECT event_id FROM votes_answers")
        )
        for sent in self.responses:
            if stored[sent.event_id] != 1:
                r.problems.append(f"poll response {sent.event_id} stored {stored[sent.event_id]}×")
        if sum(stored.values()) != len(self.responses):
            r.problems.append(f"{sum(stored.values())} answers stored for {len(self.responses)}")
        hall = await history(self.committee, self.hall)
        said = self._paper_answers(hall)
        wanted = [f"已登记 {self.paper_household}"] * len(self.papers)
        if [b.split(" 在")[0] for b in said] != wanted[: len(self.papers)]:
            r.problems.append(f"{len(self.papers)} paper ballots entered, answers: {said}")
        paper = dict(
            self.linli.query("SELECT household, choice FROM votes_paper_ballots WHERE poll_id=1")
        )
        if self.papers and paper != {self.paper_household: self.papers[-1].choice}:
            r.problems.append(f"paper ballots stored {paper}, last entered {self.papers[-1]}")
        # What should count: each household's last response, the paper household's last entry.
        expected = {sent.household: sent.choice for sent in self.responses}
        if self.papers:
            expected[self.paper_household] = self.papers[-1].choice
        counted = dict(self.linli.query("SELECT voter, choice FROM votes_counted WHERE poll_id=1"))
        if counted != expected:
            r.problems.append(f"counted {counted}, expected {expected}")
        ends = [  # the open vote's (the secret vote's close posts its own)
            e
            for e in hall
            if e.get("type") == END
            and self._bot(e)
            and e.get("content", {}).get("m.relates_to", {}).get("event_id") == self.start
        ]
        results = [
            e
            for e in hall
            if e.get("type") == "m.room.message"  # the end event carries the tally too
            and self._bot(e)
            and _body(e).startswith("表决 #1 结果")
        ]
        if len(ends) != 1 or len(results) != 1:
            r.problems.append(f"{len(ends)} end events and {len(results)} results")
        tally = Counter(expected.values())
        want = (tally["yes"], tally["no"], tally["abstain"])
        shown = COUNTS.search(_body(results[0])) if results else None
        if shown is None or tuple(int(n) for n in shown.groups()) != want:
            r.problems.append(f"result {_body(results[0]) if results else None!r}, want {want}")
        r.problems += await self.secret.check(hall)
        return r


def _body(event: Event) -> str:
    return str(event.get("content", {}).get("body", ""))
