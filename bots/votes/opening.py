"""Opening a poll or a formal vote: the native poll posted once per command, stored with its
closing, reminder and ballot-paper jobs under the compound's next number; and finding a poll a
command names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bots.votes import results
from bots.votes.formal_terms import parse_formal_terms
from bots.votes.jobs import CLOSE, DISTRIBUTE, REMIND, ClosePoll, HandOut, RemindVoters
from bots.votes.parsing import PollTextError
from bots.votes.rules import FORMAL_CHOICES, reminder_time
from bots.votes.store import NewPoll, PollRecord, VoteStore, poll_key
from bridge import messages
from bridge.bot import EventContext, Services
from bridge.commands import CommandError
from bridge.rooms_config import Compound
from bridge.store.jobs import JobSpec
from bridge.store.numbering import numbered

# A poll's start event before it is posted (its row is stored first; see Opener.post_poll).
PENDING = "pending:"


def is_pending(poll: PollRecord) -> bool:
    return poll.start_event_id.startswith(PENDING)


def compound_of(ctx: EventContext) -> Compound:
    if ctx.compound is None:
        raise CommandError("error.not_in_compound")
    return ctx.compound


async def open_poll(votes: VoteStore, ctx: EventContext, number: int) -> PollRecord:
    """The compound's poll or vote with this number, open (or closed by this very command, when
    it runs again)."""
    poll = await votes.get(compound_of(ctx).key, number)
    if poll is None:
        raise CommandError("votes.not_found", number=number)
    if not poll.is_open and not await votes.closed_by_cause(poll.id, ctx.event.event_id):
        raise CommandError("votes.already_closed", number=number)
    return poll


class Opener:
    def __init__(self, services: Services, votes: VoteStore) -> None:
        self.services = services
        self.votes = votes

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    async def open_formal(self, ctx: EventContext, room_id: str, text: str) -> PollRecord:
        """Post a formal vote in `room_id` (the hall) and answer the command."""
        try:
            terms = parse_formal_terms(text, ctx.received_at, self.tz)
        except PollTextError as e:
            raise CommandError(e.key, **e.args_) from None
        question = terms.question
        options = [(choice, ctx.text(f"votes.option_{choice}")) for choice in FORMAL_CHOICES]
        if terms.secret:
            # No poll in the hall: its responses would show who chose what. The hall gets a
            # notice; each voter gets a ballot paper (a poll) in a direct room with the bot.
            content = messages.notice(ctx.text("votes.secret_announced", question=question))
        else:
            # Undisclosed: clients show no running count, so choices are not seen before the close.
            content = messages.poll_start(question, options, max_selections=1, disclosed=False)
        poll = await self.post_poll(
            ctx,
            content,
            kind="formal",
            question=question,
            options=options,
            max_selections=1,
            per_household=terms.eligibility != "residents",
            eligibility=terms.eligibility,
            rule=terms.rule,
            closes_at=terms.closes_at,
            secret=terms.secret,
            remind=terms.closes_at is not None,
            room_id=room_id,
        )
        opened = ctx.text(
            "votes.opened_secret" if terms.secret else "votes.opened_formal",
            number=poll.number,
            question=question,
            rule=results.rule_text(ctx.text, terms.rule),
            eligibility=ctx.text(f"votes.eligibility_{terms.eligibility}"),
            closing=self.closing_text(ctx, poll),
        )
        await self.announce(
            ctx, poll, "opened", lambda: ctx.send_notice(room_id, opened, purpose="opened")
        )
        if room_id != ctx.event.room_id:
            await ctx.reply("votes.opened_elsewhere", number=poll.number)
        return poll

    async def post_poll(
        self,
        ctx: EventContext,
        content: dict[str, Any],
        *,
        kind: str,
        question: str,
        options: list[tuple[str, str]],
        max_selections: int,
        per_household: bool,
        eligibility: str,
        rule: dict[str, Any] | None,
        closes_at: datetime | None,
        secret: bool = False,
        remind: bool = False,
        room_id: str | None = None,
    ) -> PollRecord:
        """Store the poll with its closing job, then post the native poll (its transaction ID
        derived from the command) and log the post in the poll's change log before recording
        its event: a replay finds the poll stored and, once posted, the post logged, so it
        posts nothing new even after the homeserver forgot the transaction ID (~30 minutes)."""
        done = await self.votes.by_source(ctx.event.event_id)
        if done is not None and not is_pending(done):
            return done
        compound = compound_of(ctx)
        room_id = room_id or ctx.event.room_id
        kind_of_event = "m.room.message" if secret else messages.POLL_START
        new = NewPoll(
            compound=compound.key,
            kind=kind,
            room_id=room_id,
            source_event_id=ctx.event.event_id,
            start_event_id=PENDING + ctx.event.event_id,  # until posted (unique, as the cause)
            creator=ctx.event.sender,
            question=question,
            options=[{"id": i, "text": t} for i, t in options],
            max_selections=max_selections,
            per_household=per_household,
            eligibility=eligibility,
            rule=rule,
            opened_at=ctx.received_at,
            closes_at=closes_at,
            secret=secret,
        )

        def jobs(poll: PollRecord) -> list[JobSpec]:
            specs = []
            if poll.secret:
                key = poll_key(poll.id, "papers")
                specs.append(DISTRIBUTE.spec(key, ctx.received_at, HandOut(poll=poll.id)))
            if poll.closes_at is not None:
                key = poll_key(poll.id, "close")
                specs.append(CLOSE.spec(key, poll.closes_at, ClosePoll(poll=poll.id)))
                if remind:
                    at = reminder_time(poll.opened_at, poll.closes_at)
                    specs.append(
                        REMIND.spec(poll_key(poll.id, "remind"), at, RemindVoters(poll=poll.id))
                    )
            return specs

        async def attempt() -> PollRecord:
            return await self.votes.create(new, await self.votes.next_number(compound.key), jobs)

        # Two rooms of a compound may take the same number at once: the loser takes the next.
        stored = done if done is not None else await numbered(attempt, "a poll")
        start = await self.votes.post_once(
            stored.id,
            ctx.event.event_id,
            "poll",
            ctx.received_at,
            lambda: ctx.send(room_id, content, "poll", event_type=kind_of_event),
        )
        posted = await self.votes.set_start_event(stored.id, start)
        self.services.scheduler.wake.set()
        return posted

    async def announce(
        self, ctx: EventContext, poll: PollRecord, purpose: str, send: Callable[[], Awaitable[str]]
    ) -> None:
        """A message opening the poll causes (the notice in the hall, the answer to the
        command), posted once per command however late a replay comes."""
        await self.votes.post_once(poll.id, ctx.event.event_id, purpose, ctx.received_at, send)

    def closing_text(self, ctx: EventContext, poll: PollRecord) -> str:
        if poll.closes_at is None:
            return ""
        at = poll.closes_at.astimezone(self.tz).strftime(ctx.text("votes.time_format"))
        return ctx.text("votes.closing", at=at)
