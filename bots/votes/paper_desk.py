"""Paper ballots entered by staff: one by command, or many as CSV lines pasted after the command
or sent as a CSV file; each bad line is reported by its number and the good ones are counted."""

from __future__ import annotations

from bots.votes.ballot_store import BallotStore
from bots.votes.electorate import ElectorateStore
from bots.votes.formal_terms import CHOICE_WORDS
from bots.votes.opening import open_poll
from bots.votes.paper import PaperRow, parse_household, parse_paper_csv
from bots.votes.store import PollRecord, VoteStore
from bridge.bot import EventContext
from bridge.commands import CommandError


class PaperDesk:
    def __init__(self, votes: VoteStore, ballots: BallotStore, electorate: ElectorateStore) -> None:
        self.votes = votes
        self.ballots = ballots
        self.electorate = electorate

    async def enter(self, ctx: EventContext, number: int, household: str, choice: str) -> None:
        """`!投票 纸质 N 3-2-1101 同意`: one household's paper ballot."""
        poll = await self.paper_vote(ctx, number)
        name = parse_household(household)
        picked = CHOICE_WORDS.get(choice.casefold())
        if name is None:
            raise CommandError("votes.bad_household", text=household)
        if picked is None:
            raise CommandError("votes.bad_choice")
        row = PaperRow(1, name, picked)
        problem = (await self._check(poll, [row]))[0]
        if problem is not None:
            raise CommandError(problem, household=name, number=number)
        outcome = await self._enter(ctx, poll, row, ctx.event.event_id)
        if outcome in ("online", "closed"):
            raise CommandError(f"votes.paper_{outcome}", household=name, number=number)
        await ctx.reply(f"votes.paper_{outcome}", household=name, number=number)

    async def import_csv(self, ctx: EventContext, poll: PollRecord, csv: str) -> None:
        """CSV lines (`3-2-1101,同意`, a header line skipped): each bad line is reported by
        number, the good ones are counted, each once per (event, line)."""
        rows, errors = parse_paper_csv(csv, CHOICE_WORDS)
        problems = [
            (row.line, "votes.csv_not_eligible")
            for row, key in zip(rows, await self._check(poll, rows), strict=True)
            if key is not None
        ]
        bad_lines = {line for line, _ in problems}
        entered = 0
        for row in rows:
            if row.line in bad_lines:
                continue
            outcome = await self._enter(ctx, poll, row, f"{ctx.event.event_id}:{row.line}")
            if outcome in ("online", "closed"):
                problems.append((row.line, f"votes.csv_{outcome}"))
            else:
                entered += 1
        lines = [
            ctx.text("votes.csv_line", line=line, reason=ctx.text(key))
            for line, key in sorted([*errors, *problems])
        ]
        await ctx.reply_text(
            "\n".join([ctx.text("votes.csv_done", number=poll.number, count=entered), *lines]),
            purpose="paper-import",
        )

    async def paper_vote(self, ctx: EventContext, number: int) -> PollRecord:
        """The open formal vote by households or owners that paper ballots can go to."""
        poll = await open_poll(self.votes, ctx, number)
        if poll.kind != "formal":
            raise CommandError("votes.not_formal", number=number)
        if poll.eligibility == "residents":
            raise CommandError("votes.paper_households_only", number=number)
        return poll

    async def _check(self, poll: PollRecord, rows: list[PaperRow]) -> list[str | None]:
        """Why each row cannot be entered (its household is not in the electorate), or None."""
        if poll.eligibility == "owners":
            households = set(await self.electorate.floor_areas(poll.compound))
        else:
            households = {v.household for v in await self.electorate.voters(poll.compound)}
        return [None if r.household in households else "votes.paper_not_eligible" for r in rows]

    async def _enter(self, ctx: EventContext, poll: PollRecord, row: PaperRow, cause: str) -> str:
        return await self.ballots.enter_paper(
            poll.id,
            household=row.household,
            choice=row.choice,
            entered_by=ctx.event.sender,
            cause=cause,
            at=ctx.received_at,
        )
