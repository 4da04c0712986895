"""Paper ballots entered by staff: one by command, or many as CSV lines pasted after the command
or sent as a CSV file; each bad line is reported by its number and the good ones are counted."""

from __future__ import annotations

import re

from bots.votes.formal_terms import CHOICE_WORDS
from bots.votes.opening import open_poll
from bots.votes.paper import PaperRow, parse_household, parse_paper_csv
from bots.votes.part import VotesPart
from bots.votes.store import PollRecord
from bridge.bot import EventContext
from bridge.commands import CommandError
from bridge.events import Message
from bridge.matrix_errors import MatrixError, TooLarge
from bridge.roles import COMMITTEE_ROLES, PROPERTY_ROLES

PAPER_STAFF = COMMITTEE_ROLES | PROPERTY_ROLES
MAX_FILE_BYTES = 512 * 1024  # MAX_LINES short lines, with room to spare
CSV_TYPES = ("text/csv", "text/comma-separated-values", "application/csv")
# A vote's number in a file's name: "表决3.csv", "投票 #3.csv", "vote-3.csv".
_NUMBER_IN_NAME = re.compile(r"(?:#|表决|投票|vote)[\s_#-]*(\d+)", re.IGNORECASE)


class PaperDesk(VotesPart):
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

    async def import_file(self, ctx: EventContext, message: Message) -> None:
        """A CSV file (m.file) sent by staff in one of the compound's rooms: downloaded from
        the homeserver's media repository and imported like pasted lines. The vote is the one
        the file replies to, the one its name gives ("表决3.csv"), or the compound's only
        open vote that takes paper ballots; other files, and files from others, are not ours."""
        name = message.filename or message.body
        is_csv = name.casefold().endswith(".csv") or message.mimetype in CSV_TYPES
        if ctx.compound is None or message.url is None or not is_csv:
            return
        if not ctx.roles & PAPER_STAFF:
            return
        try:
            poll = await self._vote_for_file(ctx, message, name)
            if poll is None:
                return
            if message.size is not None and message.size > MAX_FILE_BYTES:
                raise CommandError("votes.csv_file_too_large", number=poll.number)
            try:
                raw = await self.services.client.download(message.url, MAX_FILE_BYTES)
            except TooLarge:
                raise CommandError("votes.csv_file_too_large", number=poll.number) from None
            except MatrixError as e:
                if e.status >= 500 or e.status in (0, 429):
                    raise  # the homeserver's trouble: the inbox tries the event again
                raise CommandError("votes.csv_file_unreadable", number=poll.number) from None
            text = _decode(raw)
            if text is None:
                raise CommandError("votes.csv_file_unreadable", number=poll.number)
        except CommandError as e:
            await ctx.reply(e.key, **e.args_)
            return
        await self.import_csv(ctx, poll, text)

    async def _vote_for_file(
        self, ctx: EventContext, message: Message, name: str
    ) -> PollRecord | None:
        if message.in_reply_to is not None:
            replied = await self.votes.by_start_event(message.in_reply_to)
            if replied is not None and replied.compound == open_compound(ctx):
                return await self.paper_vote(ctx, replied.number)
        named = _NUMBER_IN_NAME.search(name)
        if named is not None:
            return await self.paper_vote(ctx, int(named.group(1)))
        open_votes = [
            p
            for p in await self.votes.open_polls(open_compound(ctx))
            if p.kind == "formal" and p.eligibility != "residents"
        ]
        if not open_votes:
            return None  # a CSV file about something else
        if len(open_votes) > 1:
            numbers = "、".join(f"#{p.number}" for p in open_votes)
            raise CommandError("votes.csv_file_which", numbers=numbers)
        return open_votes[0]

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


def open_compound(ctx: EventContext) -> str:
    assert ctx.compound is not None
    return ctx.compound.key


def _decode(raw: bytes) -> str | None:
    """A CSV file's text: UTF-8 (with or without the BOM Excel writes), else GB18030 (what
    Excel saves "CSV" as on a Chinese Windows); None when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None
