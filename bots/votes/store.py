"""Polls, formal votes and their answers: queries named by what the votes bot asks, and one
method per kind of change, keyed by its cause (the command event, the response event or the
closing job), so a handler run again finds the change made. Secret and paper ballots are in
`ballot_store.py`, a formal close's count in `tally_store.py`, who may vote in
`electorate.py`."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select, update

from bots.votes.models import (
    BallotPaper,
    CountedBallot,
    Elector,
    PaperBallot,
    Poll,
    PollAnswer,
    PollLog,
    Proposal,
    SecretVoter,
)
from bots.votes.records import (
    AlreadyClosed,
    Closing,
    HouseholdFirst,
    Material,
    NewPoll,
    PaperFirst,
    PollRecord,
    ProxyFirst,
    _record,
)
from bots.votes.rules import Answer
from bots.votes.tally_store import add_elector, add_electors, count_formal, elector_heads
from bridge.store.changes import ChangeLog
from bridge.store.database import Database, insert_ignoring_duplicates, table_of
from bridge.store.jobs import JobSpec, add_jobs

__all__ = [
    "AlreadyClosed",
    "Closing",
    "HouseholdFirst",
    "Material",
    "NewPoll",
    "PaperFirst",
    "PollRecord",
    "ProxyFirst",
]


class VoteStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Changes made once per cause (bridge/store/changes.py), as tickets and notices do.
        self._changes = ChangeLog(Poll, PollLog, "poll_id", _record)

    async def next_number(self, compound: str) -> int:
        async with self.db.sessions() as session:
            last = (
                await session.execute(
                    select(func.coalesce(func.max(Poll.number), 0)).where(Poll.compound == compound)
                )
            ).scalar_one()
            return int(last) + 1

    async def by_source(self, source_event_id: str) -> PollRecord | None:
        return await self._one(Poll.source_event_id == source_event_id)

    async def by_start_event(self, start_event_id: str) -> PollRecord | None:
        return await self._one(Poll.start_event_id == start_event_id)

    async def get(self, compound: str, number: int) -> PollRecord | None:
        return await self._one((Poll.compound == compound) & (Poll.number == number))

    async def by_id(self, poll_id: int) -> PollRecord | None:
        return await self._one(Poll.id == poll_id)

    async def _one(self, where: Any) -> PollRecord | None:
        async with self.db.sessions() as session:
            row = (await session.execute(select(Poll).where(where))).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def create(
        self, new: NewPoll, number: int, jobs: Callable[[PollRecord], list[JobSpec]]
    ) -> PollRecord:
        """Store a poll posted for a command, with its closing (and reminder) jobs, once per
        command: the poll that command already made is returned as it is."""
        async with self.db.transaction() as session:
            existing = (
                await session.execute(
                    select(Poll).where(Poll.source_event_id == new.source_event_id)
                )
            ).scalar_one_or_none()
            if existing is not None:
                return _record(existing)
            row = Poll(
                **{k: getattr(new, k) for k in new.__dataclass_fields__},
                number=number,
                status="open",
            )
            session.add(row)
            await session.flush()
            record = _record(row)
            if record.kind == "formal":
                # The electorate is fixed as the vote opens (who joins before the close is
                # added then): nobody who leaves meanwhile is taken out of it.
                await add_electors(session, record.id, record.compound, record.eligibility)
            await add_jobs(session, jobs(record), fresh=True)
            return record

    async def set_start_event(self, poll_id: int, start_event_id: str) -> PollRecord:
        """The poll's posted event, once it is posted (the row was stored first)."""
        async with self.db.transaction() as session:
            row = await session.get_one(Poll, poll_id)
            row.start_event_id = start_event_id
            await session.flush()
            return _record(row)

    async def elector_heads(self, poll_id: int) -> dict[str, Fraction]:
        """A formal vote's electorate fixed at its opening, each voter's share of a head."""
        async with self.db.sessions() as session:
            return await elector_heads(session, poll_id)

    async def record_answer(
        self,
        poll_id: int,
        *,
        event_id: str,
        voter: str,
        household: str | None,
        choices: Sequence[str],
        ts: int,
        received_at: datetime,
        elector: tuple[str, str] | None = None,
        proxy_id: int | None = None,
    ) -> bool:
        """Keep a response while the poll is open; False when it is closed. The same event
        twice is kept once. `elector` (voter, weight): who the answer counts for, added to a
        formal vote's electorate if they became eligible after it opened. `proxy_id`: given by
        a proxy for the household (the household's first ballot counts: a proxy's answer
        refuses its members' later ones, and the other way round: ProxyFirst, HouseholdFirst)."""
        async with self.db.transaction() as session:
            status = await lock_poll(session, poll_id)
            if status != "open":
                found = await session.execute(
                    select(PollAnswer.id).where(PollAnswer.event_id == event_id)
                )
                return found.first() is not None  # kept before the close: it counted
            if elector is not None and household is not None:
                # A formal vote by household: the first ballot counts; staff's paper ballot,
                # entered first, is not overturned by an answer (nor the other way round).
                paper = await session.execute(
                    select(PaperBallot.id).where(
                        PaperBallot.poll_id == poll_id, PaperBallot.household == household
                    )
                )
                if paper.first() is not None:
                    raise PaperFirst(household)
                others = select(PollAnswer.id).where(
                    PollAnswer.poll_id == poll_id,
                    PollAnswer.household == household,
                    PollAnswer.event_id != event_id,
                    PollAnswer.proxy_id.is_(None)
                    if proxy_id is not None
                    else PollAnswer.proxy_id.is_not(None),
                )
                if (await session.execute(others.limit(1))).first() is not None:
                    raise (
                        HouseholdFirst(household) if proxy_id is not None else ProxyFirst(household)
                    )
            await session.execute(
                insert_ignoring_duplicates(session, table_of(PollAnswer)).values(
                    poll_id=poll_id,
                    event_id=event_id,
                    voter=voter,
                    household=household,
                    choices=list(choices),
                    ts=ts,
                    received_at=received_at,
                    proxy_id=proxy_id,
                )
            )
            if elector is not None:
                await add_elector(session, poll_id, *elector)
            return True

    async def answered_by_other(self, poll_id: int, household: str, voter: str) -> bool:
        """Whether another member of this household has answered the poll already."""
        async with self.db.sessions() as session:
            found = await session.execute(
                select(PollAnswer.id)
                .where(
                    PollAnswer.poll_id == poll_id,
                    PollAnswer.household == household,
                    PollAnswer.voter != voter,
                )
                .limit(1)
            )
            return found.first() is not None

    async def answers(self, poll_id: int) -> list[Answer]:
        async with self.db.sessions() as session:
            return await _answers(session, poll_id)

    async def close(
        self,
        poll_id: int,
        *,
        cause: str,
        at: datetime,
        by: str | None,
        result: Callable[[PollRecord, Material], dict[str, Any]],
    ) -> Closing:
        """Close a poll once: freeze its `result(poll, material)` and cancel its jobs, in one
        transaction. The same cause again finds it closed and gets it back; another cause
        gets AlreadyClosed."""
        async with self.db.transaction() as session:
            await lock_poll(session, poll_id)
            if await self._changes.changed_by(session, poll_id, cause, "close"):
                return Closing(_record(await session.get_one(Poll, poll_id)), made_now=False)
            row = await session.get_one(Poll, poll_id)
            if row.status == "closed":
                raise AlreadyClosed(_record(row))
            if row.kind == "formal":
                count = await count_formal(
                    session,
                    poll_id,
                    row.compound,
                    row.eligibility,
                    row.per_household,
                    row.secret,
                    row.opened_at,
                )
                material = Material([], count)
            else:
                material = Material(await _answers(session, poll_id), None)
            frozen = result(_record(row), material)
            record, _ = await self._changes.change(
                session,
                poll_id,
                cause=cause,
                action="close",
                at=at,
                actor=by,
                cancel=[poll_key(poll_id) + ":"],
                changes={
                    "result": frozen,
                    "status": "closed",
                    "closed_at": at,
                    "close_cause": cause,  # kept for reading; the log decides
                    "closed_by": by,
                },
            )
            return Closing(record, made_now=True)

    async def closed_by_cause(self, poll_id: int, cause: str) -> bool:
        """Whether this event or job closed the poll (a command run again finds it closed)."""
        async with self.db.sessions() as session:
            return await self._changes.changed_by(session, poll_id, cause, "close")

    async def post_once(
        self,
        poll_id: int,
        cause: str,
        purpose: str,
        at: datetime,
        post: Callable[[], Awaitable[str]],
    ) -> str:
        """Post something a change of the poll causes once per (cause, purpose), however long
        after the homeserver forgot the transaction ID: the event posted is logged, and a
        handler run again gets it back instead of posting again. (A crash between the post and
        its log line is covered by the transaction ID, for the homeserver's ~30 minutes.)"""
        return await self._changes.post_once(
            self.db, poll_id, cause=cause, purpose=purpose, at=at, post=post
        )

    async def posted(self, poll_id: int, purpose: str) -> str | None:
        """The event the poll's post for `purpose` made (e.g. "audit", the audit file)."""
        return await self._changes.posted(self.db, poll_id, purpose)

    async def open_polls(self, compound: str) -> list[PollRecord]:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Poll)
                    .where(Poll.compound == compound, Poll.status == "open")
                    .order_by(Poll.number)
                )
            ).scalars()
            return [_record(r) for r in rows]

    async def latest(self, compound: str, limit: int) -> list[PollRecord]:
        """The compound's polls, newest first: the open ones and the latest closed."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Poll)
                    .where(Poll.compound == compound, Poll.status.in_(("open", "closed")))
                    .order_by(Poll.number.desc())
                    .limit(limit)
                )
            ).scalars()
            return [_record(r) for r in rows]

    async def forget_voter(self, user_id: str, compound: str | None) -> None:
        """`!我 删除`: the person's answers and ballots stay counted under a random name of their
        own (one name for all of them, so the latest answer still wins); their ballot papers
        and proposals no longer name them. An audit file already published is not changed."""
        alias = f"erased:{secrets.token_hex(6)}"
        polls = select(Poll.id)
        if compound is not None:
            polls = polls.where(Poll.compound == compound)
        async with self.db.transaction() as session:
            await session.execute(
                update(PollAnswer)
                .where(PollAnswer.voter == user_id, PollAnswer.poll_id.in_(polls))
                .values(voter=alias)
            )
            await session.execute(
                update(BallotPaper)
                .where(BallotPaper.user_id == user_id, BallotPaper.poll_id.in_(polls))
                .values(user_id=alias)
            )
            # Votes by person (住户): the same name in who voted secretly, and in a closed vote's
            # electorate and counted ballots, so its count and audit still add up.
            for table in (SecretVoter, Elector, CountedBallot):
                await session.execute(
                    update(table)
                    .where(table.voter == user_id, table.poll_id.in_(polls))
                    .values(voter=alias)
                )
            mine = Proposal.proposer == user_id
            if compound is not None:
                mine = mine & (Proposal.compound == compound)
            await session.execute(update(Proposal).where(mine).values(proposer=None))

    async def answers_of(self, user_id: str) -> list[dict[str, Any]]:
        """A person's own answers, for `!me export`."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(Poll.compound, Poll.number, PollAnswer.choices, PollAnswer.received_at)
                .join(Poll, Poll.id == PollAnswer.poll_id)
                .where(PollAnswer.voter == user_id)
                .order_by(PollAnswer.id)
            )
            return [
                {"compound": c, "poll": n, "choices": list(ch), "at": at.isoformat()}
                for c, n, ch, at in rows.all()
            ]


async def _answers(session: Any, poll_id: int) -> list[Answer]:
    connection = await session.connection()
    rows = await connection.execute(
        select(
            PollAnswer.voter, PollAnswer.household, PollAnswer.choices, PollAnswer.ts, PollAnswer.id
        )
        .where(PollAnswer.poll_id == poll_id)
        .order_by(PollAnswer.id)
    )
    return [Answer(voter, household, tuple(c), ts, seq) for voter, household, c, ts, seq in rows]


async def lock_poll(session: Any, poll_id: int) -> str:
    """Serialise on the poll, first thing in a transaction, and read its status under the
    lock: every ballot and the close take it, so no ballot lands (and gets a receipt) after
    the count is frozen. A write, so that SQLite takes its write lock before reading (a read
    first would work on a snapshot that a concurrent commit can make stale); on PostgreSQL
    it holds the poll's row lock until the commit."""
    await session.execute(
        update(Poll)
        .where(Poll.id == poll_id)
        .values(status=Poll.status)
        .execution_options(synchronize_session=False)
    )
    status = (await session.execute(select(Poll.status).where(Poll.id == poll_id))).scalar_one()
    return str(status)


def poll_key(poll_id: int, *parts: object) -> str:
    """Job keys of a poll: `vote:<id>:...`; its jobs are cancelled by this prefix."""
    return ":".join(["vote", str(poll_id), *map(str, parts)])
