"""The votes bot: quick polls and formal votes as native Matrix polls that every client renders.

This file is the table of contents: what residents and committees can do, who may, with which
words. Counting and thresholds are in `rules.py` (pure), what people type and clients send in
`parsing.py`, the words of results in `results.py`, the tables in `models.py` and `store.py`,
the closing job in `jobs.py`, the words in `texts/`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from bots.votes import audit, results
from bots.votes.cli import AUDIT
from bots.votes.jobs import CLOSE, DISTRIBUTE, REMIND, ClosePoll, HandOut, RemindVoters
from bots.votes.paper import PaperRow, parse_household, parse_paper_csv
from bots.votes.parsing import PollTextError, parse_closing, parse_poll, poll_response
from bots.votes.proposal_store import ProposalStore
from bots.votes.proposals import ProposalDesk
from bots.votes.result_chart import result_chart_png
from bots.votes.rules import (
    FORMAL_CHOICES,
    area_text,
    latest_answers,
    parse_share,
    percent,
    reminder_time,
)
from bots.votes.store import (
    AlreadyClosed,
    ElectorateStore,
    NewPoll,
    PollRecord,
    VoteStore,
    poll_key,
)
from bridge import messages
from bridge.bot import Bot, CliVerb, EventContext, Services
from bridge.commands import Arg, ArgKind, CommandError, CommandTable
from bridge.events import OtherEvent
from bridge.matrix import derived_txn_id
from bridge.roles import COMMITTEE_ROLES, PROPERTY_ROLES, RESIDENT_ROLES, STAFF_ROLES, Role
from bridge.rooms_config import Compound
from bridge.store.jobs import Job, JobSpec

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

Send = Callable[[str, dict[str, Any], str, str], Awaitable[str]]  # room, content, purpose, type


class VoteBot(Bot):
    commands: ClassVar[CommandTable] = CommandTable()
    texts: ClassVar[Path | None] = Path(__file__).parent / "texts"
    cli_verbs: ClassVar[tuple[CliVerb, ...]] = (AUDIT,)

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.votes = VoteStore(services.store.db)
        self.electorate = ElectorateStore(services.store.db)
        services.scheduler.register_kind(CLOSE, self.close_when_due)
        services.scheduler.register_kind(DISTRIBUTE, self.hand_out_ballot_papers)
        services.scheduler.register_kind(REMIND, self.remind_voters)
        self.proposals = ProposalDesk(services, ProposalStore(services.store.db))

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
            await self._encrypted_ballot(ctx)
            return
        response = poll_response(event)
        if response is None:
            return
        poll = await self.votes.by_start_event(response.poll_event_id)
        if poll is None:
            await self._secret_ballot(ctx, response.poll_event_id, response.answers)
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
        await ctx.reply_text(await self._turnout_text(poll, ctx.text), purpose="turnout")

    async def _turnout(self, poll: PollRecord) -> tuple[set[str], dict[str, Decimal], list[Any]]:
        """Who took part so far (voter keys), the electorate with weights, and the people who
        may vote: never what anyone chose."""
        voters = await self.electorate.voters(poll.compound)
        areas = await self.electorate.floor_areas(poll.compound)
        if poll.eligibility == "anyone":
            electorate = {v.user_id: Decimal(1) for v in voters}
        else:
            electorate = results.electorate_of(poll, voters, areas)
        answered = latest_answers(await self.votes.answers(poll.id), poll.per_household)
        took_part = set(answered) | {p.household for p in await self.votes.papers(poll.id)}
        if poll.secret:
            took_part |= set(await self.votes.secret_voters(poll.id))
        if poll.eligibility == "owners":
            voters = [v for v in voters if v.is_owner and v.household in areas]
        return took_part & electorate.keys(), electorate, voters

    async def _turnout_text(self, poll: PollRecord, text: Callable[..., str]) -> str:
        took_part, electorate, _ = await self._turnout(poll)
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
            voted_area = Fraction(sum((electorate[k] for k in took_part), Decimal(0)))
            total_area = Fraction(sum(electorate.values(), Decimal(0)))
            line += text(
                "votes.turnout_area",
                voted=area_text(voted_area),
                total=area_text(total_area),
                percent=percent(voted_area, total_area),
            )
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

        took_part, _, voters = await self._turnout(poll)
        turnout = await self._turnout_text(poll, text)
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

    # ------------------------------------------------------------ secret ballots

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
            if await self.votes.ballot_paper_of(poll.id, voter.user_id) is not None:
                continue
            room = await self.services.direct_room(voter.user_id)
            text = self.services.text(compound, "votes.ballot_paper", number=poll.number)
            start = await self.services.client.send(
                room,
                messages.poll_start(
                    f"{text}{poll.question}", options, max_selections=1, disclosed=False
                ),
                derived_txn_id(job.key, f"paper:{voter.user_id}"),
                event_type=messages.POLL_START,
            )
            await self.votes.add_ballot_paper(poll.id, voter.user_id, room, start)

    async def _secret_ballot(
        self, ctx: EventContext, start_event_id: str, answers: tuple[str, ...]
    ) -> None:
        paper = await self.votes.ballot_paper(start_event_id)
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
        receipt = self._receipt(poll.id, ctx.event.event_id)
        outcome = await self.votes.cast_secret(
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

    def _receipt(self, poll_id: int, event_id: str) -> str:
        """A ballot's receipt code: derived from the ballot's event with a key kept in
        bridge.yaml (never in the database), so a replayed ballot gets the same code and the
        database alone does not link a code to the event, nor so to the voter."""
        key = hashlib.sha256(b"linli-receipt:" + self.services.config.appservice.as_token.encode())
        digest = hmac.new(key.digest(), f"{poll_id}:{event_id}".encode(), "sha256").digest()
        code = base64.b32encode(digest)[:10].decode()
        return f"{code[:5]}-{code[5:]}"

    async def _encrypted_ballot(self, ctx: EventContext) -> None:
        """An encrypted event in a room with a ballot paper: the bot cannot read it."""
        numbers = await self.votes.open_secret_papers_in(ctx.event.room_id)
        if numbers:
            await ctx.reply_text(
                ctx.text("votes.encrypted", number=numbers[0]), purpose="encrypted"
            )

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
        return await self.votes.enter_paper(
            poll.id,
            household=row.household,
            choice=row.choice,
            entered_by=ctx.event.sender,
            cause=cause,
            at=ctx.received_at,
        )

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
        if closed.kind == "formal":
            await self._post_chart(closed, send)
            await self._publish_audit(closed, compound, send)
            await self.proposals.after_vote(closed, cause, compound, send)

    async def _post_chart(self, poll: PollRecord, send: Send) -> None:
        """The result as an image (drawn in a thread: no room waits for it)."""
        assert poll.rule is not None and poll.result is not None
        png = await asyncio.to_thread(
            result_chart_png,
            f"Vote #{poll.number}",
            audit.rule_of(poll.rule),
            results.outcome_of(poll.result),
            poll.eligibility == "owners",
        )
        name = f"vote-{poll.compound}-{poll.number}.png"
        uri = await self.services.client.upload(png, "image/png", name)
        if uri is None:
            return  # no media repository: the result text stands alone
        content = messages.file_message(uri, name, "image/png", len(png), msgtype="m.image")
        await send(poll.room_id, content, "chart", "m.room.message")

    async def _publish_audit(self, poll: PollRecord, compound: Compound | None, send: Send) -> None:
        """The audit file in the hall, and its SHA-256 in a notice (a copy altered later no
        longer matches it)."""
        data = audit.audit_file(poll, compound.config.name if compound else poll.compound)
        name = f"vote-{poll.compound}-{poll.number}-audit.json"
        uri = await self.services.client.upload(data, "application/json", name)
        content = (
            messages.file_message(uri, name, "application/json", len(data))
            if uri is not None
            else messages.notice(data.decode())
        )
        await send(poll.room_id, content, "audit", "m.room.message")
        text = self.services.text(
            compound, "votes.audit", number=poll.number, sha256=audit.sha256(data)
        )
        await send(poll.room_id, messages.notice(text), "audit-hash", "m.room.message")

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

    # ------------------------------------------------------------ personal data

    async def export_personal(self, user_id: str) -> dict[str, Any]:
        return {"poll_answers": await self.votes.answers_of(user_id)}

    async def erase_personal(self, user_id: str, compound: str | None) -> None:
        # Counts stay (a closed vote's frozen result and audit file are not rewritten).
        await self.votes.forget_voter(user_id, compound)
