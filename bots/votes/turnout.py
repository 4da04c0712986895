"""Turnout of a poll or vote so far (who took part, never what they chose), and the reminder
sent to those who have not answered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from bots.votes.electorate import electorate_of
from bots.votes.jobs import RemindVoters
from bots.votes.part import VotesPart
from bots.votes.proxy_store import ProxyStore
from bots.votes.results import heads_text
from bots.votes.rules import (
    area_text,
    latest_answers,
    percent,
)
from bots.votes.store import PollRecord
from bridge import messages
from bridge.matrix import derived_txn_id
from bridge.store.jobs import Job


@dataclass
class Turnout(VotesPart):
    """Turnout and reminders of one compound's polls."""

    proxies: ProxyStore

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    async def took_part(self, poll: PollRecord) -> tuple[set[str], dict[str, Decimal], list[Any]]:
        """Who took part so far (voter keys), the electorate with weights, and the people who
        may vote: never what anyone chose."""
        voters = await self.electorate.voters(poll.compound)
        areas = await self.electorate.floor_areas(poll.compound)
        if poll.eligibility == "anyone":
            electorate = {v.user_id: Decimal(1) for v in voters}
        else:
            electorate = electorate_of(poll.eligibility, voters, areas)
        answered = latest_answers(await self.votes.answers(poll.id), poll.per_household)
        took_part = set(answered) | {p.household for p in await self.ballots.papers(poll.id)}
        if poll.secret:
            took_part |= set(await self.ballots.secret_voters(poll.id))
        if poll.eligibility == "owners":
            voters = [v for v in voters if v.is_owner and v.household in areas]
        return took_part & electorate.keys(), electorate, voters

    async def turnout_text(self, poll: PollRecord, text: Callable[..., str]) -> str:
        took_part, electorate, _ = await self.took_part(poll)
        unit = text("votes.unit_households" if poll.per_household else "votes.unit_people")
        line = text(
            "votes.turnout",
            number=poll.number,
            voted=len(took_part),
            total=len(electorate),
            unit=unit,
            percent=percent(Fraction(len(took_part)), Fraction(len(electorate))),
        )
        if poll.eligibility == "owners":
            # Owners' heads as the close counts them: each of an owner's k parts is 1/k.
            heads = await self.votes.elector_heads(poll.id)
            voted_heads = sum((heads.get(k, Fraction(1)) for k in took_part), Fraction(0))
            total_heads = sum((heads.get(k, Fraction(1)) for k in electorate), Fraction(0))
            line = text(
                "votes.turnout_owners",
                number=poll.number,
                voted=heads_text(voted_heads),
                total=heads_text(total_heads),
                percent=percent(voted_heads, total_heads),
                parts_voted=len(took_part),
                parts_total=len(electorate),
                parts_percent=percent(Fraction(len(took_part)), Fraction(len(electorate))),
            )
            voted_area = Fraction(sum((electorate[k] for k in took_part), Decimal(0)))
            total_area = Fraction(sum(electorate.values(), Decimal(0)))
            line += text(
                "votes.turnout_area",
                voted=area_text(voted_area),
                total=area_text(total_area),
                percent=percent(voted_area, total_area),
            )
        by_proxy = await self.proxies.proxy_households(poll.id) if poll.kind == "formal" else 0
        if by_proxy:
            line += text("votes.turnout_proxies", count=by_proxy)
        return line

    async def remind_voters(self, job: Job, payload: RemindVoters) -> None:
        """One direct message to each household (or person) that has not answered yet, with the
        turnout so far; sent once per voter (transaction IDs derived from the job)."""
        poll = await self.votes.by_id(payload.poll)
        if poll is None or not poll.is_open or poll.closes_at is None:
            return
        compound = self.services.rooms.compounds.get(poll.compound)

        def text(key: str, **args: Any) -> str:
            return self.services.text(compound, key, **args)

        took_part, _, voters = await self.took_part(poll)
        turnout = await self.turnout_text(poll, text)
        at = poll.closes_at.astimezone(self.tz).strftime(text("votes.time_format"))
        reminded: set[str] = set()
        for voter in voters:
            key = voter.household if poll.per_household else voter.user_id
            if key in took_part or key in reminded:
                continue
            reminded.add(key)
            room = await self.services.direct_room(voter.user_id)
            body = text("votes.reminder", number=poll.number, question=poll.question, at=at)
            await self.services.client.send(
                room,
                messages.notice(f"{body}\n{turnout}"),
                derived_txn_id(job.key, voter.user_id),
            )
