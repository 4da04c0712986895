"""The votes bot: quick polls and formal votes as native Matrix polls that every client renders.

This file is the table of contents: what residents and committees can do, who may, with which
words. Counting and thresholds are in `rules.py` (pure), what people type and clients send in
`parsing.py`, the words of results in `results.py`, the tables in `models.py` and `store.py`,
the closing job in `jobs.py`, the words in `texts/`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from bots.votes import results
from bots.votes.jobs import CLOSE, ClosePoll
from bots.votes.parsing import PollTextError, parse_closing, parse_poll, poll_response
from bots.votes.rules import FORMAL_CHOICES, parse_share
from bots.votes.store import (
    AlreadyClosed,
    ElectorateStore,
    NewPoll,
    PollRecord,
    VoteStore,
    poll_key,
)
from bridge import messages
from bridge.bot import Bot, EventContext, Services
from bridge.commands import Arg, ArgKind, CommandError, CommandTable
from bridge.events import OtherEvent
from bridge.matrix import derived_txn_id
from bridge.roles import COMMITTEE_ROLES, RESIDENT_ROLES, STAFF_ROLES, Role
from bridge.rooms_config import Compound
from bridge.store.jobs import Job, JobSpec

NUMBER = Arg("number", ArgKind.INT)
# Who may start a quick poll: anyone Linli knows in the compound, except observers.
POLL_PEOPLE = RESIDENT_ROLES | STAFF_ROLES
RULE_WORDS = {
    "简单多数": "simple",
    "simple": "simple",
    "一般": "ordinary",
    "一般事项": "ordinary",
    "ordinary": "ordinary",
    "重大": "major",
    "重大事项": "major",
    "major": "major",
}
ELIGIBILITY_WORDS = {
    "住户": "residents",
    "residents": "residents",
    "每户一票": "households",
    "按户": "households",
    "households": "households",
    "业主": "owners",
    "owners": "owners",
}
CHOICE_WORDS = {
    "同意": "yes",
    "赞成": "yes",
    "yes": "yes",
    "反对": "no",
    "no": "no",
    "弃权": "abstain",
    "abstain": "abstain",
}

Send = Callable[[str, dict[str, Any], str, str], Awaitable[str]]  # room, content, purpose, type


class VoteBot(Bot):
    commands: ClassVar[CommandTable] = CommandTable()
    texts: ClassVar[Path | None] = Path(__file__).parent / "texts"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.votes = VoteStore(services.store.db)
        self.electorate = ElectorateStore(services.store.db)
        services.scheduler.register_kind(CLOSE, self.close_when_due)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    # ------------------------------------------------------------ quick polls

    @commands.command("poll", aliases=["投票"], args=[Arg("text", ArgKind.REST)], roles=POLL_PEOPLE)
    async def start_quick_poll(self, ctx: EventContext, text: str) -> None:
        self._compound(ctx)
        try:
            spec = parse_poll(text, ctx.received_at, self.tz)
        except PollTextError as e:
            raise CommandError(e.key, **e.args_) from None
        options = [(f"o{i}", option) for i, option in enumerate(spec.options, 1)]
        content = messages.poll_start(
            spec.question,
            options,
            max_selections=len(options) if spec.multiple else 1,
            disclosed=True,
        )
        poll = await self._post_poll(
            ctx,
            content,
            kind="quick",
            question=spec.question,
            options=options,
            max_selections=len(options) if spec.multiple else 1,
            per_household=spec.per_household,
            eligibility="households" if spec.per_household else "anyone",
            rule=None,
            closes_at=spec.closes_at,
        )
        await ctx.reply("votes.opened", number=poll.number, closing=self._closing(ctx, poll))

    @commands.command("poll end", aliases=["投票 结束"], args=[NUMBER], roles=POLL_PEOPLE)
    async def end_poll(self, ctx: EventContext, number: int) -> None:
        poll = await self._poll(ctx, number)
        if ctx.event.sender != poll.creator and not ctx.roles & STAFF_ROLES:
            raise CommandError("votes.not_yours", number=number)
        await self._close(
            poll,
            cause=ctx.event.event_id,
            by=ctx.event.sender,
            compound=self._compound(ctx),
            send=lambda room, content, purpose, kind: ctx.send(
                room, content, purpose, event_type=kind
            ),
        )

    # ------------------------------------------------------------ formal votes

    @commands.command(
        "vote", aliases=["表决"], args=[Arg("text", ArgKind.REST)], roles=COMMITTEE_ROLES
    )
    async def start_formal_vote(self, ctx: EventContext, text: str) -> None:
        self._compound(ctx)
        if ctx.room_key != "hall":
            raise CommandError("votes.hall_only")
        question, rule, eligibility, closes_at = self._formal_terms(ctx, text)
        options = [(choice, ctx.text(f"votes.option_{choice}")) for choice in FORMAL_CHOICES]
        # Undisclosed: clients show no running count, so choices are not seen before the close.
        content = messages.poll_start(question, options, max_selections=1, disclosed=False)
        poll = await self._post_poll(
            ctx,
            content,
            kind="formal",
            question=question,
            options=options,
            max_selections=1,
            per_household=eligibility != "residents",
            eligibility=eligibility,
            rule=rule,
            closes_at=closes_at,
        )
        await ctx.reply(
            "votes.opened_formal",
            number=poll.number,
            question=question,
            rule=results.rule_text(ctx.text, rule),
            eligibility=ctx.text(f"votes.eligibility_{eligibility}"),
            closing=self._closing(ctx, poll),
        )

    def _formal_terms(
        self, ctx: EventContext, text: str
    ) -> tuple[str, dict[str, Any], str, datetime | None]:
        """`议题 | 规则 | 资格 [| 截止 3天]`: the subject, the rule, who may vote, the close."""
        parts = [p.strip() for p in text.replace("｜", "|").split("|")]
        if len(parts) not in (3, 4) or not parts[0]:
            raise CommandError("votes.bad_formal")
        question, rule_text, who = parts[0], parts[1].split(), parts[2].casefold()
        if not rule_text:
            raise CommandError("votes.bad_formal")
        name = RULE_WORDS.get(rule_text[0].casefold())
        if name is not None and len(rule_text) == 1:
            rule: dict[str, Any] = {"name": name}
        elif rule_text[0].casefold() in ("自定义", "custom") and len(rule_text) == 3:
            shares = []
            for word in rule_text[1:]:
                try:
                    shares.append(parse_share(word))
                except (ValueError, ZeroDivisionError, ArithmeticError):
                    raise CommandError("votes.bad_share", text=word) from None
            rule = {"name": "custom", "participation": str(shares[0]), "approval": str(shares[1])}
        else:
            raise CommandError("votes.bad_formal")
        eligibility = ELIGIBILITY_WORDS.get(who)
        if eligibility is None:
            raise CommandError("votes.bad_formal")
        closes_at = None
        if len(parts) == 4:
            words = parts[3].split(None, 1)
            if len(words) != 2 or words[0].casefold() not in ("截止", "closes", "close", "until"):
                raise CommandError("votes.bad_formal")
            try:
                closes_at = parse_closing(words[1], ctx.received_at, self.tz)
            except PollTextError as e:
                raise CommandError(e.key, **e.args_) from None
        return question, rule, eligibility, closes_at

    @commands.command(
        "vote cast",
        aliases=["表决 投", "表决 投票"],
        args=[NUMBER, Arg("choice")],
        roles=RESIDENT_ROLES,
    )
    async def cast_by_command(self, ctx: EventContext, number: int, choice: str) -> None:
        poll = await self._poll(ctx, number)
        if poll.kind != "formal":
            raise CommandError("votes.not_formal", number=number)
        picked = CHOICE_WORDS.get(choice.casefold())
        if picked is None:
            raise CommandError("votes.bad_choice")
        refusal = await self._take_answer(ctx, poll, (picked,))
        if refusal is not None:
            raise CommandError(refusal, number=number)
        key = "votes.ballot_taken_household" if poll.per_household else "votes.ballot_taken"
        await ctx.reply(key, number=number)

    # ------------------------------------------------------------ answers from clients

    async def on_event(self, ctx: EventContext, event: OtherEvent) -> None:
        response = poll_response(event)
        if response is None or ctx.compound is None:
            return
        poll = await self.votes.by_start_event(response.poll_event_id)
        if poll is None or poll.room_id != event.room_id:
            return  # not one of Linli's polls
        if any(a not in poll.option_ids for a in response.answers) or not response.answers:
            await self._answer(ctx, "votes.bad_option", poll)
            return
        # MSC3381: answers beyond max_selections are ignored, the first ones kept.
        refusal = await self._take_answer(ctx, poll, response.answers[: poll.max_selections])
        if refusal is not None:
            await self._answer(ctx, refusal, poll)

    async def _take_answer(
        self, ctx: EventContext, poll: PollRecord, choices: tuple[str, ...]
    ) -> str | None:
        """Keep an answer if the sender may give it; the key of the refusal otherwise."""
        if Role.OBSERVER in ctx.roles:
            return "votes.observer"
        if not poll.is_open:
            return "votes.closed_answer"
        voter = await self.electorate.voter(poll.compound, ctx.event.sender)
        if poll.eligibility != "anyone":
            if voter is None:
                return "votes.household_only" if poll.kind == "quick" else "votes.residents_only"
            if poll.eligibility == "owners":
                areas = await self.electorate.floor_areas(poll.compound)
                if not voter.is_owner or voter.household not in areas:
                    return "votes.owners_only"
        kept = await self.votes.record_answer(
            poll.id,
            event_id=ctx.event.event_id,
            voter=ctx.event.sender,
            household=voter.household if voter is not None else None,
            choices=choices,
            ts=ctx.event.origin_server_ts,
            received_at=ctx.received_at,
        )
        return None if kept else "votes.closed_answer"

    async def _answer(self, ctx: EventContext, key: str, poll: PollRecord) -> None:
        """A refusal, as a reply to the response, to the one who sent it."""
        content = messages.notice(
            ctx.text(key, number=poll.number),
            reply_to=ctx.event.event_id,
            mentions=[ctx.event.sender],
        )
        await ctx.send(ctx.event.room_id, content, purpose=f"refused:{key}")

    # ------------------------------------------------------------ closing

    async def close_when_due(self, job: Job, payload: ClosePoll) -> None:
        poll = await self.votes.by_id(payload.poll)
        if poll is None:
            return
        compound = self.services.rooms.compounds.get(poll.compound)
        client = self.services.client

        async def send(room: str, content: dict[str, Any], purpose: str, kind: str) -> str:
            return await client.send(
                room, content, derived_txn_id(job.key, purpose), event_type=kind
            )

        try:
            await self._close(poll, cause=job.key, by=None, compound=compound, send=send)
        except CommandError:
            return  # closed by a command meanwhile: its result is out already

    async def _close(
        self,
        poll: PollRecord,
        *,
        cause: str,
        by: str | None,
        compound: Compound | None,
        send: Send,
    ) -> None:
        """Close once (freeze the count), then post the poll's end event and the result; run
        again for the same cause, it re-sends what may be missing (same transaction IDs)."""
        areas: dict[str, Any] = {}
        voters: list[Any] = []
        if poll.kind == "formal":
            areas = await self.electorate.floor_areas(poll.compound)
            voters = await self.electorate.voters(poll.compound)
        try:
            closing = await self.votes.close(
                poll.id,
                cause=cause,
                at=self.services.clock.now(),
                by=by,
                result=lambda p, answers: results.freeze(p, answers, voters, areas),
            )
        except AlreadyClosed as e:
            raise CommandError("votes.already_closed", number=e.poll.number) from None
        closed = closing.poll

        def text(key: str, **args: Any) -> str:
            return self.services.text(compound, key, **args)

        body = results.result_text(text, closed)
        await send(
            closed.room_id,
            messages.poll_end(
                closed.start_event_id,
                text("votes.end_text", question=closed.question) + "\n" + body,
            ),
            "end",
            messages.POLL_END,
        )
        await send(
            closed.room_id,
            messages.notice(body, reply_to=closed.start_event_id),
            "result",
            "m.room.message",
        )

    # ------------------------------------------------------------ shared steps

    async def _post_poll(
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
    ) -> PollRecord:
        """Post the native poll (its transaction ID derived from the command), then store it
        with its closing job: a replay posts nothing new and finds the poll stored."""
        done = await self.votes.by_source(ctx.event.event_id)
        if done is not None:
            return done
        compound = self._compound(ctx)
        start = await ctx.send(ctx.event.room_id, content, "poll", event_type=messages.POLL_START)
        new = NewPoll(
            compound=compound.key,
            kind=kind,
            room_id=ctx.event.room_id,
            source_event_id=ctx.event.event_id,
            start_event_id=start,
            creator=ctx.event.sender,
            question=question,
            options=[{"id": i, "text": t} for i, t in options],
            max_selections=max_selections,
            per_household=per_household,
            eligibility=eligibility,
            rule=rule,
            opened_at=ctx.received_at,
            closes_at=closes_at,
        )

        def jobs(poll: PollRecord) -> list[JobSpec]:
            if poll.closes_at is None:
                return []
            return [CLOSE.spec(poll_key(poll.id, "close"), poll.closes_at, ClosePoll(poll=poll.id))]

        for _ in range(3):
            # Two rooms of a compound may take the same number at once: the loser takes the next.
            try:
                poll = await self.votes.create(
                    new, await self.votes.next_number(compound.key), jobs
                )
                break
            except IntegrityError:
                continue
        else:
            raise RuntimeError("could not number the poll")
        self.services.scheduler.wake.set()
        return poll

    def _closing(self, ctx: EventContext, poll: PollRecord) -> str:
        if poll.closes_at is None:
            return ""
        at = poll.closes_at.astimezone(self.tz).strftime(ctx.text("votes.time_format"))
        return ctx.text("votes.closing", at=at)

    def _compound(self, ctx: EventContext) -> Compound:
        if ctx.compound is None:
            raise CommandError("error.not_in_compound")
        return ctx.compound

    async def _poll(self, ctx: EventContext, number: int) -> PollRecord:
        poll = await self.votes.get(self._compound(ctx).key, number)
        if poll is None:
            raise CommandError("votes.not_found", number=number)
        if not poll.is_open and poll.close_cause != ctx.event.event_id:
            raise CommandError("votes.already_closed", number=number)
        return poll

    # ------------------------------------------------------------ personal data

    async def export_personal(self, user_id: str) -> dict[str, Any]:
        return {"poll_answers": await self.votes.answers_of(user_id)}
