"""Paper ballots entered by staff: one by command, or many as CSV lines pasted after the command
or sent as a CSV file, each entry a batch that counts once a second committee member (监票人)
confirms it. A batch is entered whole or not at all (the answer names its first bad lines); the
first ballot of a household counts, so a paper ballot never overturns an online one."""

from __future__ import annotations

import base64
import hashlib
import re

from bots.votes.ballot_store import Batch
from bots.votes.formal_terms import CHOICE_WORDS
from bots.votes.opening import open_poll
from bots.votes.paper import MAX_LINES, PaperRow, parse_household, parse_paper_csv
from bots.votes.part import VotesPart
from bots.votes.store import PollRecord
from bridge.bot import EventContext
from bridge.commands import CommandError
from bridge.events import Message
from bridge.matrix_errors import MatrixError, TooLarge
from bridge.roles import COMMITTEE_ROLES, PROPERTY_ROLES, Role

PAPER_STAFF = COMMITTEE_ROLES | PROPERTY_ROLES
MAX_FILE_BYTES = 512 * 1024  # 5,000 short lines, with room to spare
CSV_TYPES = ("text/csv", "text/comma-separated-values", "application/csv")
# A vote's number in a file's name: "表决3.csv", "投票 #3.csv", "vote-3.csv".
_NUMBER_IN_NAME = re.compile(r"(?:#|表决|投票|vote)[\s_#-]*(\d+)", re.IGNORECASE)


MAX_PROBLEMS_SHOWN = 10  # lines listed in an answer; the rest are counted


def batch_code(cause: str) -> str:
    """A short code for a batch of paper ballots, derived from the command or file that
    entered it (the same on a replay), for the 监票人 to type."""
    return base64.b32encode(hashlib.sha256(cause.encode()).digest())[:6].decode()


class PaperDesk(VotesPart):
    async def enter(self, ctx: EventContext, number: int, household: str, choice: str) -> None:
        """`!投票 纸质 N 3-2-1101 同意`: one household's paper ballot, a batch of one."""
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
        batch = await self._enter(ctx, poll, [row])
        if batch.status == "closed":
            raise CommandError("votes.paper_closed", household=name, number=number)
        if batch.status == "refused":
            key = batch.problems[0][1].replace("votes.csv_", "votes.paper_")
            raise CommandError(key, household=name, number=number)
        await ctx.reply("votes.paper_entered", household=name, number=number, batch=batch.code)

    async def import_csv(self, ctx: EventContext, poll: PollRecord, csv: str) -> None:
        """CSV lines (`3-2-1101,同意`, a header line skipped), all or none: any bad line and
        nothing is entered; the answer lists the first bad lines and counts the rest."""
        if csv.count("\n") >= MAX_LINES + 1:
            raise CommandError("votes.csv_too_many_lines", number=poll.number, limit=MAX_LINES)
        rows, errors = parse_paper_csv(csv, CHOICE_WORDS)
        problems = [
            *errors,
            *(
                (row.line, "votes.csv_not_eligible")
                for row, key in zip(rows, await self._check(poll, rows), strict=True)
                if key is not None
            ),
        ]
        if not problems and rows:
            batch = await self._enter(ctx, poll, rows)
            if batch.status == "closed":
                raise CommandError("votes.already_closed", number=poll.number)
            problems = batch.problems
            if not problems:
                await ctx.reply(
                    "votes.csv_done", number=poll.number, count=batch.count, batch=batch.code
                )
                return
        if not problems:
            raise CommandError("votes.csv_empty", number=poll.number)
        problems.sort()
        lines = [
            ctx.text("votes.csv_line", line=line, reason=ctx.text(key))
            for line, key in problems[:MAX_PROBLEMS_SHOWN]
        ]
        if len(problems) > MAX_PROBLEMS_SHOWN:
            lines.append(ctx.text("votes.csv_more", count=len(problems) - MAX_PROBLEMS_SHOWN))
        head = ctx.text("votes.csv_refused", number=poll.number, count=len(problems))
        await ctx.reply_text("\n".join([head, *lines]), purpose="paper-import")

    async def confirm(self, ctx: EventContext, number: int, batch: str) -> None:
        """`!投票 确认 N 批次`: a second committee member (监票人) confirms a batch; only then
        do its ballots count. Both are named in the audit file."""
        poll = await self.paper_vote(ctx, number)
        code = batch.strip().upper()
        outcome, count = await self.ballots.confirm_papers(poll.id, code, ctx.event.sender)
        if outcome in ("none", "self", "closed"):
            raise CommandError(f"votes.confirm_{outcome}", number=number, batch=code)
        await ctx.reply("votes.confirmed", number=number, batch=code, count=count)

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
        """The open formal vote by households or owners that paper ballots can go to. In an
        owners' vote, where the property company has an interest, only committees enter them."""
        poll = await open_poll(self.votes, ctx, number)
        refusal = paper_refusal(poll, ctx.roles)
        if refusal is not None:
            raise CommandError(refusal, number=number)
        return poll

    async def _check(self, poll: PollRecord, rows: list[PaperRow]) -> list[str | None]:
        """Why each row cannot be entered (its household is not in the electorate), or None."""
        if poll.eligibility == "owners":
            households = set(await self.electorate.floor_areas(poll.compound))
        else:
            households = {v.household for v in await self.electorate.voters(poll.compound)}
        return [None if r.household in households else "votes.paper_not_eligible" for r in rows]

    async def _enter(self, ctx: EventContext, poll: PollRecord, rows: list[PaperRow]) -> Batch:
        return await self.ballots.enter_papers(
            poll.id,
            [(r.line, r.household, r.choice) for r in rows],
            entered_by=ctx.event.sender,
            batch=batch_code(ctx.event.event_id),
            cause=ctx.event.event_id,
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


def paper_refusal(poll: PollRecord, roles: frozenset[Role]) -> str | None:
    """Why someone with these roles may not enter paper ballots in this vote (a text key), or
    None: only formal votes by households or owners take them, and in an owners' vote, where
    the property company has an interest, only committees enter them."""
    if poll.kind != "formal":
        return "votes.not_formal"
    if poll.eligibility == "residents":
        return "votes.paper_households_only"
    if poll.eligibility == "owners" and not roles & COMMITTEE_ROLES:
        return "votes.paper_committee_only"
    return None
