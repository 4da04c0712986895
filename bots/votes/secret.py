"""Secret ballots: ballot papers handed out in each voter's direct room with the bot, a ballot
cast there counted without its voter, and its receipt code."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from bots.votes.jobs import HandOut
from bots.votes.part import VotesPart
from bridge import messages
from bridge.bot import EventContext
from bridge.matrix import derived_txn_id
from bridge.store.jobs import Job


class SecretBallots(VotesPart):
    """Secret ballots of one bridge's votes."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    async def hand_out_ballot_papers(self, job: Job, payload: HandOut) -> None:
        """Give each eligible voter a ballot paper: a poll in their direct room with the bot.
        Run again (a crash, a retry), it skips the papers already given."""
        poll = await self.votes.by_id(payload.poll)
        if poll is None or not poll.is_open:
            return
        compound = self.services.rooms.compounds.get(poll.compound)
        areas = await self.electorate.floor_areas(poll.compound)
        options = [(o["id"], o["text"]) for o in poll.options]
        for voter in await self.electorate.voters(poll.compound):
            if poll.eligibility == "owners" and not (voter.is_owner and voter.household in areas):
                continue
            if await self.ballots.ballot_paper_of(poll.id, voter.user_id) is not None:
                continue
            room = await self.services.direct_room(voter.user_id)
            # A poll rings no phone (no default push rule matches it): a line that does, sent
            # first, so that the paper is recorded as soon as it is in the room (an answer to a
            # paper not yet recorded would not count).
            ring = self.services.text(compound, "votes.ballot_paper_alert", number=poll.number)
            await self.services.client.send(
                room,
                messages.alert(ring, to=[voter.user_id]),
                derived_txn_id(job.key, f"paper-alert:{voter.user_id}"),
            )
            text = self.services.text(compound, "votes.ballot_paper", number=poll.number)
            start = await self.services.client.send(
                room,
                messages.poll_start(
                    f"{text}{poll.question}", options, max_selections=1, disclosed=False
                ),
                derived_txn_id(job.key, f"paper:{voter.user_id}"),
                event_type=messages.POLL_START,
            )
            await self.ballots.add_ballot_paper(poll.id, voter.user_id, room, start)

    async def cast(self, ctx: EventContext, start_event_id: str, answers: tuple[str, ...]) -> None:
        paper = await self.ballots.ballot_paper(start_event_id)
        if paper is None:
            return  # not one of Linli's polls
        poll_id, owner = paper
        poll = await self.votes.by_id(poll_id)
        if poll is None or ctx.event.sender != owner:
            return
        compound = self.services.rooms.compounds.get(poll.compound)

        def say(key: str, **args: Any) -> Awaitable[str]:
            text = self.services.text(compound, key, number=poll.number, **args)
            return ctx.send(
                ctx.event.room_id,
                messages.notice(text, reply_to=ctx.event.event_id),
                purpose=f"secret:{key}",
            )

        if len(answers) != 1 or answers[0] not in poll.option_ids:
            await say("votes.bad_option")
            return
        voter = await self.electorate.voter(poll.compound, ctx.event.sender)
        area = (
            None if voter is None else await self.electorate.area_of(poll.compound, voter.household)
        )
        if voter is None or (poll.eligibility == "owners" and (not voter.is_owner or area is None)):
            await say(
                "votes.owners_only" if poll.eligibility == "owners" else "votes.residents_only"
            )
            return
        key = voter.user_id if poll.eligibility == "residents" else voter.household
        weight = Fraction(area) if poll.eligibility == "owners" and area else Fraction(1)
        receipt = self.receipt(poll.id, ctx.event.event_id)
        outcome = await self.ballots.cast_secret(
            poll.id,
            voter=key,
            cause=ctx.event.event_id,
            receipt=receipt,
            choice=answers[0],
            weight=weight,
        )
        if outcome in ("cast", "again"):
            await say("votes.receipt", receipt=receipt)
        else:
            await say(f"votes.secret_{outcome}")

    def receipt(self, poll_id: int, event_id: str) -> str:
        """A ballot's receipt code: derived from the ballot's event with a key kept in
        bridge.yaml (never in the database), so a replayed ballot gets the same code and the
        database alone does not link a code to the event, nor so to the voter."""
        key = hashlib.sha256(b"linli-receipt:" + self.services.config.appservice.as_token.encode())
        digest = hmac.new(key.digest(), f"{poll_id}:{event_id}".encode(), "sha256").digest()
        code = base64.b32encode(digest)[:10].decode()
        return f"{code[:5]}-{code[5:]}"

    async def encrypted(self, ctx: EventContext) -> None:
        """An encrypted event in a room with a ballot paper: the bot cannot read it."""
        numbers = await self.ballots.open_secret_papers_in(ctx.event.room_id)
        if numbers:
            await ctx.reply_text(
                ctx.text("votes.encrypted", number=numbers[0]), purpose="encrypted"
            )
