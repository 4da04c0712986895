"""Secret ballots: ballot papers handed out in each voter's direct room with the bot, a ballot
cast there counted without its voter, and its receipt code."""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import Awaitable
from datetime import timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from bots.votes.jobs import DISTRIBUTE, HandOut
from bots.votes.part import VotesPart
from bots.votes.store import PollRecord, poll_key
from bridge import messages
from bridge.bot import EventContext
from bridge.matrix import derived_txn_id
from bridge.matrix_errors import NotFound
from bridge.roles import Role
from bridge.rooms_config import Compound
from bridge.secret_files import ensure_secret_key
from bridge.store.jobs import Job

log = logging.getLogger(__name__)


# Ballot papers handed out per scheduled job (as notices' reminders, REMIND_BATCH).
PAPER_BATCH = 100
# In a ballot paper's content: which vote and whose paper.
PAPER_KEY = "cn.linli.ballot_paper"
# How often an open secret vote looks for voters who became eligible without a membership event.
SWEEP_EVERY = timedelta(minutes=10)


class SecretBallots(VotesPart):
    """Secret ballots of one bridge's votes."""

    _key: bytes | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    async def hand_out_ballot_papers(self, job: Job, payload: HandOut) -> None:
        """Give each eligible voter a ballot paper: a poll in their direct room with the bot.
        Run again (a crash, a retry), it skips the papers already given."""
        poll = await self.votes.by_id(payload.poll)
        if poll is None or not poll.is_open:
            return
        areas = await self.electorate.floor_areas(poll.compound)
        compound = self.services.rooms.compounds.get(poll.compound)
        observers = (
            frozenset()
            if compound is None
            else (await self.services.roles.table(compound)).observers
        )
        given = await self.ballots.paper_holders(poll.id)
        waiting = sorted(
            voter.user_id
            for voter in await self.electorate.voters(poll.compound)
            if not (
                poll.eligibility == "owners" and not (voter.is_owner and voter.household in areas)
            )
            and voter.user_id not in observers  # observers read, never vote
            and voter.user_id not in given
            and (payload.after is None or voter.user_id > payload.after)
        )
        # A batch per job (each paper may be a new direct room): the compound's lane is free
        # between batches, and a retry redoes one batch at most. Every batch derives its
        # transaction IDs from the first job's key, so a batch done again posts nothing new.
        batch, rest = waiting[:PAPER_BATCH], waiting[PAPER_BATCH:]
        for user_id in batch:
            await self._give_paper(poll, user_id, poll_key(poll.id, "papers"))
        if rest:
            following = HandOut(poll=poll.id, after=batch[-1])
            await self.services.scheduler.schedule_kind(
                poll_key(poll.id, "papers", "after", batch[-1]),
                DISTRIBUTE,
                self.services.clock.now(),
                following,
            )
            return
        # Whoever becomes eligible with no event Linli sees (made an owner, a roster change,
        # re-verified while in the hall) gets a paper at the next look, until the close (which
        # cancels it). The key follows from this job's, so a job run again schedules the same;
        # the time from now, so a clock far ahead (a restart after days) runs one look, not many.
        due = self.services.clock.now() + SWEEP_EVERY
        if poll.closes_at is None or due < poll.closes_at:
            await self.services.scheduler.schedule_kind(
                poll_key(poll.id, "papers", "sweep", job.id),
                DISTRIBUTE,
                due,
                HandOut(poll=poll.id),
            )

    async def hand_out_to_newcomer(self, compound: str, user_id: str, cause: str) -> None:
        """Someone who became eligible while secret votes are open (verified, made an owner)
        gets a ballot paper for each of them: the electorate is who may vote at the opening
        plus who becomes eligible before the close."""
        voter = await self.electorate.voter(compound, user_id)
        if voter is None:
            return
        for poll in await self.votes.open_polls(compound):
            if not poll.secret:
                continue
            if poll.eligibility == "owners" and not (
                voter.is_owner and await self.electorate.area_of(compound, voter.household)
            ):
                continue
            await self._give_paper(poll, user_id, cause)

    async def _give_paper(self, poll: PollRecord, user_id: str, cause: str) -> None:
        if await self.ballots.ballot_paper_of(poll.id, user_id) is not None:
            return
        compound = self.services.rooms.compounds.get(poll.compound)
        options = [(o["id"], o["text"]) for o in poll.options]
        room = await self.services.direct_room(user_id)
        text = self.services.text(compound, "votes.ballot_paper", number=poll.number)
        # A poll rings no phone (no default push rule matches it): a line that does, sent
        # first, so that the paper is recorded as soon as it is in the room (an answer to a
        # paper not yet recorded would not count).
        ring = self.services.text(compound, "votes.ballot_paper_alert", number=poll.number)
        await self.services.client.send(
            room,
            messages.alert(ring, to=[user_id]),
            derived_txn_id(cause, f"paper-alert:{poll.id}:{user_id}"),
        )
        content = messages.poll_start(
            f"{text}{poll.question}", options, max_selections=1, disclosed=False
        )
        # Whose paper for which vote, so an answer that comes before the paper is recorded
        # (the voter is quick, the bot slow) is still known as Linli's (see `_cast`).
        content[PAPER_KEY] = {"poll": poll.id, "voter": user_id}
        start = await self.services.client.send(
            room,
            content,
            derived_txn_id(cause, f"paper:{poll.id}:{user_id}"),
            event_type=messages.POLL_START,
        )
        await self.ballots.add_ballot_paper(poll.id, user_id, room, start)

    async def cast(self, ctx: EventContext, start_event_id: str, answers: tuple[str, ...]) -> None:
        """A response in a direct room: a secret ballot if it answers a ballot paper. The
        inbox keeps only what a retry needs while it is handled, and no content once it is."""
        if ctx.compound is not None:  # a compound's room: no ballot paper is ever there
            await self._cast(ctx, start_event_id, answers)
            return
        inbox = self.services.store.inbox
        event = ctx.event
        envelope = {
            "event_id": event.event_id,
            "room_id": event.room_id,
            "sender": event.sender,
            "type": event.type,
            "origin_server_ts": event.origin_server_ts,
        }
        await inbox.replace_body(
            event.event_id,
            {**envelope, "content": _needed(start_event_id, answers)},
        )
        await self._cast(ctx, start_event_id, answers)
        await inbox.replace_body(event.event_id, {**envelope, "content": {}})

    async def _cast(self, ctx: EventContext, start_event_id: str, answers: tuple[str, ...]) -> None:
        paper = await self.ballots.ballot_paper(start_event_id)
        if paper is None and ctx.compound is None:
            paper = await self._unrecorded_paper(ctx, start_event_id)
        if paper is None:
            # Not one of Linli's papers: in a room that holds one for an open secret vote, an
            # older paper Linli lost track of (posted, then a crash before it was stored):
            # say so rather than ignore the ballot.
            numbers = await self.ballots.open_secret_papers_in(ctx.event.room_id)
            if numbers:
                await ctx.reply_text(
                    ctx.text("votes.stale_paper", number=numbers[0]), purpose="stale-paper"
                )
            return
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
        if compound is not None and Role.OBSERVER in await self._roles(compound, owner):
            await say("votes.observer")  # observers read, never vote (README, role table)
            return
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

    async def _unrecorded_paper(self, ctx: EventContext, start: str) -> tuple[int, str] | None:
        """A ballot paper answered before the bot recorded it (posted, not yet stored): the
        homeserver says the bot posted it, for this voter, in an open secret vote; it is
        recorded now and the ballot taken."""
        try:
            event = await self.services.client.get_event(ctx.event.room_id, start)
        except NotFound:
            return None
        marker = event.get("content", {}).get(PAPER_KEY)
        if (
            event.get("sender") != self.services.config.bot_user_id
            or event.get("type") != messages.POLL_START
            or not isinstance(marker, dict)
            or marker.get("voter") != ctx.event.sender
            or not isinstance(marker.get("poll"), int)
        ):
            return None
        poll = await self.votes.by_id(marker["poll"])
        if poll is None or not poll.secret or not poll.is_open:
            return None
        await self.ballots.add_ballot_paper(poll.id, ctx.event.sender, ctx.event.room_id, start)
        return poll.id, ctx.event.sender

    async def _roles(self, compound: Compound, user_id: str) -> frozenset[Role]:
        return (await self.services.roles.table(compound)).roles_of(user_id)

    def receipt(self, poll_id: int, event_id: str) -> str:
        """A ballot's receipt code: an HMAC of the ballot's event under a key of its own, in a
        file (`receipt_key_file`, made by `linli init`, 0600) — never in the database, nor the
        appservice token the homeserver's registration file also holds — so a replayed ballot
        gets the same code and the database does not link a code to its event (nor so to its
        voter)."""
        digest = hmac.new(self.receipt_key(), f"{poll_id}:{event_id}".encode(), "sha256").digest()
        code = base64.b32encode(digest)[:10].decode()
        return f"{code[:5]}-{code[5:]}"

    def receipt_key(self) -> bytes:
        if self._key is None:
            path = self.services.config.receipt_key_file
            if path is None:
                raise RuntimeError("no receipt_key_file in the configuration")
            if not path.exists():
                log.warning("no receipt key at %s: made one (linli init makes it)", path)
            self._key = ensure_secret_key(path)
        return self._key

    async def encrypted(self, ctx: EventContext) -> None:
        """An encrypted event in a room with a ballot paper: the bot cannot read it."""
        numbers = await self.ballots.open_secret_papers_in(ctx.event.room_id)
        if numbers:
            await ctx.reply_text(
                ctx.text("votes.encrypted", number=numbers[0]), purpose="encrypted"
            )


def _needed(start_event_id: str, answers: tuple[str, ...]) -> dict[str, Any]:
    """A poll response's content reduced to what handling it again reads."""
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": start_event_id},
        "org.matrix.msc3381.poll.response": {"answers": list(answers)},
    }
