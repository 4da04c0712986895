"""The votes bot: quick polls and formal votes as native Matrix polls that every client renders.

This file is the table of contents: what residents and committees can do, who may, with which
words. Counting and thresholds are in `rules.py` (pure), what people type and clients send in
`parsing.py` and `paper.py`, closing in `closing.py` (results in `results.py`, the chart in
`result_chart.py`, the audit file in `audit.py`), secret ballots in `secret.py`, turnout and
reminders in `turnout.py`, proposals in `proposals.py`, the tables in `models.py`, `store.py`
and `proposal_store.py`, the scheduled jobs in `jobs.py`, the words in `texts/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from bots.votes import demo, results
from bots.votes.ballot_store import BallotStore
from bots.votes.cli import AUDIT
from bots.votes.closing import Closer
from bots.votes.electorate import ElectorateStore
from bots.votes.jobs import CLOSE, DISTRIBUTE, REMIND, ClosePoll, HandOut, RemindVoters
from bots.votes.paper import PaperRow, parse_household, parse_paper_csv
from bots.votes.parsing import PollTextError, parse_closing, parse_poll, poll_response
from bots.votes.proposal_store import ProposalStore
from bots.votes.proposals import ProposalDesk
from bots.votes.rules import (
    FORMAL_CHOICES,
    parse_share,
    reminder_time,
)
from bots.votes.secret import SecretBallots
from bots.votes.store import NewPoll, PollRecord, VoteStore, poll_key
from bots.votes.turnout import Turnout
from bridge import messages
from bridge.bot import Bot, CliVerb, EventContext, Services
from bridge.commands import Arg, ArgKind, CommandError, CommandTable
from bridge.events import OtherEvent
from bridge.roles import COMMITTEE_ROLES, PROPERTY_ROLES, RESIDENT_ROLES, STAFF_ROLES, Role
from bridge.rooms_config import Compound
from bridge.store.jobs import JobSpec

NUMBER = Arg("number", ArgKind.INT)
PAPER_STAFF = COMMITTEE_ROLES | PROPERTY_ROLES
SECRET_WORDS = ("不记名", "无记名", "secret")
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


class VoteBot(Bot):
    """Commands and hooks; turnout and reminders in turnout.py, secret ballots in secret.py,
    closing in closing.py, proposals in proposals.py."""

    commands: ClassVar[CommandTable] = CommandTable()
    texts: ClassVar[Path | None] = Path(__file__).parent / "texts"
    cli_verbs: ClassVar[tuple[CliVerb, ...]] = (AUDIT,)

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.votes = VoteStore(services.store.db)
        self.ballots = BallotStore(services.store.db)
        self.electorate = ElectorateStore(services.store.db)
        self.proposals = ProposalDesk(services, ProposalStore(services.store.db))
        self.turnout = Turnout(services, self.votes, self.ballots, self.electorate)
        self.secret = SecretBallots(services, self.votes, self.ballots, self.electorate)
        self.closer = Closer(services, self.votes, self.proposals)
        services.scheduler.register_kind(CLOSE, self.closer.close_when_due)
        services.scheduler.register_kind(DISTRIBUTE, self.secret.hand_out_ballot_papers)
        services.scheduler.register_kind(REMIND, self.turnout.remind_voters)

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
            remind=spec.remind,
        )
        await ctx.reply("votes.opened", number=poll.number, closing=self._closing(ctx, poll))

    @commands.command("poll end", aliases=["投票 结束"], args=[NUMBER], roles=POLL_PEOPLE)
    async def end_poll(self, ctx: EventContext, number: int) -> None:
        poll = await self._poll(ctx, number)
        if ctx.event.sender != poll.creator and not ctx.roles & STAFF_ROLES:
            raise CommandError("votes.not_yours", number=number)
        await self.closer.close(
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
        await self._open_formal(ctx, ctx.event.room_id, text)

    async def _open_formal(self, ctx: EventContext, room_id: str, text: str) -> PollRecord:
        """Post a formal vote in `room_id` (the hall) and answer the command."""
        question, rule, eligibility, closes_at, secret = self._formal_terms(ctx, text)
        options = [(choice, ctx.text(f"votes.option_{choice}")) for choice in FORMAL_CHOICES]
        if secret:
            # No poll in the hall: its responses would show who chose what. The hall gets a
            # notice; each voter gets a ballot paper (a poll) in a direct room with the bot.
            content = messages.notice(ctx.text("votes.secret_announced", question=question))
        else:
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
            secret=secret,
            remind=closes_at is not None,
            room_id=room_id,
        )
        opened = ctx.text(
            "votes.opened_secret" if secret else "votes.opened_formal",
            number=poll.number,
            question=question,
            rule=results.rule_text(ctx.text, rule),
            eligibility=ctx.text(f"votes.eligibility_{eligibility}"),
            closing=self._closing(ctx, poll),
        )
        await ctx.send_notice(room_id, opened, purpose="opened")
        if room_id != ctx.event.room_id:
            await ctx.reply("votes.opened_elsewhere", number=poll.number)
        return poll

    def _formal_terms(
        self, ctx: EventContext, text: str
    ) -> tuple[str, dict[str, Any], str, datetime | None, bool]:
        """`议题 | 规则 | 资格 [| 不记名] [| 截止 3天]`: the subject, the rule, who may vote,
        the close, and whether the ballot is secret."""
        parts = [p.strip() for p in text.replace("｜", "|").split("|")]
        if len(parts) < 3 or len(parts) > 5 or not parts[0]:
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
        closes_at, secret = None, False
        for extra in parts[3:]:
            words = extra.split(None, 1)
            if extra.casefold() in SECRET_WORDS:
                secret = True
            elif len(words) == 2 and words[0].casefold() in ("截止", "closes", "close", "until"):
                try:
                    closes_at = parse_closing(words[1], ctx.received_at, self.tz)
                except PollTextError as e:
                    raise CommandError(e.key, **e.args_) from None
            else:
                raise CommandError("votes.bad_formal")
        return question, rule, eligibility, closes_at, secret

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
        if poll.secret:
            # A secret choice typed in a room: take it out of the room, count nothing.
            await self.services.client.redact(
                ctx.event.room_id, ctx.event.event_id, ctx.text("votes.redacted"), ctx.txn("redact")
            )
            raise CommandError("votes.secret_elsewhere", number=number)
        picked = CHOICE_WORDS.get(choice.casefold())
        if picked is None:
            raise CommandError("votes.bad_choice")
        outcome = await self._take_answer(ctx, poll, (picked,))
        if outcome == "votes.replaced_household":
            await ctx.reply(outcome, number=number)
            return
        if outcome is not None:
            raise CommandError(outcome, number=number)
        key = "votes.ballot_taken_household" if poll.per_household else "votes.ballot_taken"
        await ctx.reply(key, number=number)

    # ------------------------------------------------------------ answers from clients

    async def on_event(self, ctx: EventContext, event: OtherEvent) -> None:
        if event.type == "m.room.encrypted":
            await self.secret.encrypted(ctx)
            return
        response = poll_response(event)
        if response is None:
            return
        poll = await self.votes.by_start_event(response.poll_event_id)
        if poll is None:
            await self.secret.cast(ctx, response.poll_event_id, response.answers)
            return
        if ctx.compound is None or poll.room_id != event.room_id:
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
                area = await self.electorate.area_of(poll.compound, voter.household)
                if not voter.is_owner or area is None:
                    return "votes.owners_only"
        replaces = False
        if poll.per_household and voter is not None:
            replaces = await self.votes.answered_by_other(poll.id, voter.household, voter.user_id)
        kept = await self.votes.record_answer(
            poll.id,
            event_id=ctx.event.event_id,
            voter=ctx.event.sender,
            household=voter.household if voter is not None else None,
            choices=choices,
            ts=ctx.event.origin_server_ts,
            received_at=ctx.received_at,
        )
        if not kept:
            return "votes.closed_answer"
        # One household, two members: the later answer replaces the earlier; say so.
        return "votes.replaced_household" if replaces else None

    async def _answer(self, ctx: EventContext, key: str, poll: PollRecord) -> None:
        """A refusal, as a reply to the response, to the one who sent it."""
        content = messages.notice(
            ctx.text(key, number=poll.number),
            reply_to=ctx.event.event_id,
            mentions=[ctx.event.sender],
        )
        await ctx.send(ctx.event.room_id, content, purpose=f"refused:{key}")

    # ------------------------------------------------------------ turnout and reminders

    @commands.command(
        "vote turnout",
        aliases=["表决 进度", "投票 进度"],
        args=[NUMBER],
        roles=POLL_PEOPLE | {Role.OBSERVER},
    )
    async def show_turnout(self, ctx: EventContext, number: int) -> None:
        poll = await self._poll(ctx, number)
        await ctx.reply_text(await self.turnout.turnout_text(poll, ctx.text), purpose="turnout")

    # ------------------------------------------------------------ paper ballots

    @commands.command(
        "vote paper",
        aliases=["投票 纸质", "表决 纸质"],
        args=[NUMBER, Arg("household"), Arg("choice")],
        roles=PAPER_STAFF,
    )
    async def enter_paper_ballot(
        self, ctx: EventContext, number: int, household: str, choice: str
    ) -> None:
        poll = await self._paper_vote(ctx, number)
        name = parse_household(household)
        picked = CHOICE_WORDS.get(choice.casefold())
        if name is None:
            raise CommandError("votes.bad_household", text=household)
        if picked is None:
            raise CommandError("votes.bad_choice")
        row = PaperRow(1, name, picked)
        problem = (await self._check_papers(poll, [row]))[0]
        if problem is not None:
            raise CommandError(problem, household=name, number=number)
        outcome = await self._enter_paper(ctx, poll, row, ctx.event.event_id)
        if outcome in ("online", "closed"):
            raise CommandError(f"votes.paper_{outcome}", household=name, number=number)
        await ctx.reply(f"votes.paper_{outcome}", household=name, number=number)

    @commands.command(
        "vote paper import",
        aliases=["投票 纸质导入", "表决 纸质导入"],
        args=[NUMBER, Arg("csv", ArgKind.REST)],
        roles=PAPER_STAFF,
    )
    async def import_paper_ballots(self, ctx: EventContext, number: int, csv: str) -> None:
        """Paper ballots pasted as CSV lines (`3-2-1101,同意`) after the command: each bad line
        is reported by number, the good ones are counted."""
        poll = await self._paper_vote(ctx, number)
        rows, errors = parse_paper_csv(csv, CHOICE_WORDS)
        problems = [
            (row.line, "votes.csv_not_eligible")
            for row, key in zip(rows, await self._check_papers(poll, rows), strict=True)
            if key is not None
        ]
        bad_lines = {line for line, _ in problems}
        entered = 0
        for row in rows:
            if row.line in bad_lines:
                continue
            outcome = await self._enter_paper(ctx, poll, row, f"{ctx.event.event_id}:{row.line}")
            if outcome in ("online", "closed"):
                problems.append((row.line, f"votes.csv_{outcome}"))
            else:
                entered += 1
        lines = [
            ctx.text("votes.csv_line", line=line, reason=ctx.text(key))
            for line, key in sorted([*errors, *problems])
        ]
        await ctx.reply_text(
            "\n".join([ctx.text("votes.csv_done", number=number, count=entered), *lines]),
            purpose="paper-import",
        )

    async def _paper_vote(self, ctx: EventContext, number: int) -> PollRecord:
        poll = await self._poll(ctx, number)
        if poll.kind != "formal":
            raise CommandError("votes.not_formal", number=number)
        if poll.eligibility == "residents":
            raise CommandError("votes.paper_households_only", number=number)
        return poll

    async def _check_papers(self, poll: PollRecord, rows: list[PaperRow]) -> list[str | None]:
        """Why each row cannot be entered (its household is not in the electorate), or None."""
        if poll.eligibility == "owners":
            households = set(await self.electorate.floor_areas(poll.compound))
        else:
            households = {v.household for v in await self.electorate.voters(poll.compound)}
        return [None if r.household in households else "votes.paper_not_eligible" for r in rows]

    async def _enter_paper(
        self, ctx: EventContext, poll: PollRecord, row: PaperRow, cause: str
    ) -> str:
        return await self.ballots.enter_paper(
            poll.id,
            household=row.household,
            choice=row.choice,
            entered_by=ctx.event.sender,
            cause=cause,
            at=ctx.received_at,
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
        secret: bool = False,
        remind: bool = False,
        room_id: str | None = None,
    ) -> PollRecord:
        """Post the native poll (its transaction ID derived from the command), then store it
        with its closing job: a replay posts nothing new and finds the poll stored."""
        done = await self.votes.by_source(ctx.event.event_id)
        if done is not None:
            return done
        compound = self._compound(ctx)
        room_id = room_id or ctx.event.room_id
        kind_of_event = "m.room.message" if secret else messages.POLL_START
        start = await ctx.send(room_id, content, "poll", event_type=kind_of_event)
        new = NewPoll(
            compound=compound.key,
            kind=kind,
            room_id=room_id,
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

    # ------------------------------------------------------------ proposals and conventions

    @commands.command(
        "propose", aliases=["提案"], args=[Arg("text", ArgKind.REST)], roles=RESIDENT_ROLES
    )
    async def file_proposal(self, ctx: EventContext, text: str) -> None:
        if len(text) > 1000:
            raise CommandError("votes.too_long", limit=1000)
        await self.proposals.file(ctx, self._compound(ctx), text)

    @commands.command(
        "propose accept",
        aliases=["提案 受理"],
        args=[NUMBER, Arg("period", optional=True)],
        roles={Role.RESIDENTS_COMMITTEE},
    )
    async def accept_proposal(self, ctx: EventContext, number: int, period: str | None) -> None:
        try:
            until = parse_closing(period or "7天", ctx.received_at, self.tz)
        except PollTextError as e:
            raise CommandError(e.key, **e.args_) from None
        await self.proposals.accept(ctx, self._compound(ctx), number, until)

    @commands.command(
        "propose reject",
        aliases=["提案 驳回"],
        args=[NUMBER, Arg("reason", ArgKind.REST)],
        roles={Role.RESIDENTS_COMMITTEE},
    )
    async def reject_proposal(self, ctx: EventContext, number: int, reason: str) -> None:
        await self.proposals.reject(ctx, self._compound(ctx), number, reason)

    @commands.command(
        "propose vote",
        aliases=["提案 表决"],
        args=[NUMBER, Arg("terms", ArgKind.REST)],
        roles={Role.RESIDENTS_COMMITTEE},
    )
    async def vote_on_proposal(self, ctx: EventContext, number: int, terms: str) -> None:
        compound = self._compound(ctx)
        proposal = await self.proposals.ready_for_vote(ctx, compound, number)
        hall = await self.services.store.rooms.by_key(f"{compound.key}:hall")
        if hall is None:
            raise CommandError("votes.no_room")
        terms = terms.strip().lstrip("|｜").strip()
        poll = await self._open_formal(ctx, hall.room_id, f"{proposal.text} | {terms}")
        await self.proposals.voting(ctx, proposal, poll)

    @commands.command("conventions", aliases=["公约"])
    async def list_conventions(self, ctx: EventContext) -> None:
        await self.proposals.list_conventions(ctx, self._compound(ctx))

    # ------------------------------------------------------------ demo and personal data

    async def seed_demo(self, passwords: Mapping[str, str]) -> None:
        await demo.seed(self, passwords)

    async def export_personal(self, user_id: str) -> dict[str, Any]:
        return {"poll_answers": await self.votes.answers_of(user_id)}

    async def erase_personal(self, user_id: str, compound: str | None) -> None:
        # Counts stay (a closed vote's frozen result and audit file are not rewritten).
        await self.votes.forget_voter(user_id, compound)
