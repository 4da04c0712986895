"""Polls, formal votes and their answers: queries named by what the votes bot asks, and one
method per kind of change, keyed by its cause (the command event, the response event or the
closing job), so a handler run again finds the change made."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select, update

from bots.votes.models import (
    BallotPaper,
    PaperBallot,
    Poll,
    PollAnswer,
    Proposal,
    SecretBallot,
    SecretTotal,
    SecretVoter,
)
from bots.votes.rules import Answer
from bridge.store.database import Database, insert_ignoring_duplicates, table_of
from bridge.store.jobs import JobSpec, add_jobs, cancel_jobs
from bridge.store.models import Resident, RosterHousehold


@dataclass(frozen=True)
class PollRecord:
    id: int
    compound: str
    number: int
    kind: str
    room_id: str
    source_event_id: str
    start_event_id: str
    creator: str
    question: str
    options: list[dict[str, str]]
    max_selections: int
    per_household: bool
    secret: bool
    eligibility: str
    rule: dict[str, Any] | None
    opened_at: datetime
    closes_at: datetime | None
    status: str
    closed_at: datetime | None
    close_cause: str | None
    closed_by: str | None
    result: dict[str, Any] | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def option_ids(self) -> list[str]:
        return [o["id"] for o in self.options]


_FIELDS = [f.name for f in fields(PollRecord)]


def _record(row: Poll) -> PollRecord:
    return PollRecord(**{name: getattr(row, name) for name in _FIELDS})


@dataclass(frozen=True)
class NewPoll:
    compound: str
    kind: str
    room_id: str
    source_event_id: str
    start_event_id: str
    creator: str
    question: str
    options: list[dict[str, str]]
    max_selections: int
    per_household: bool
    eligibility: str
    rule: dict[str, Any] | None
    opened_at: datetime
    closes_at: datetime | None
    secret: bool = False


@dataclass(frozen=True)
class Paper:
    household: str
    choice: str
    entered_by: str


@dataclass(frozen=True)
class SecretMaterial:
    participants: list[str]  # who cast a secret ballot (households or people), sorted
    receipts: list[tuple[str, str]]  # (receipt, choice), sorted by receipt
    heads: dict[str, int]
    area: dict[str, Fraction]


@dataclass(frozen=True)
class Material:
    """Everything a close counts: answers (online, open), paper ballots, secret ballots."""

    answers: list[Answer]
    papers: list[Paper]
    secret: SecretMaterial | None


@dataclass(frozen=True)
class Closing:
    poll: PollRecord  # as it is after closing
    made_now: bool  # False: this cause closed it before (the handler runs again)


class AlreadyClosed(Exception):
    def __init__(self, poll: PollRecord) -> None:
        super().__init__(poll.number)
        self.poll = poll


class VoteStore:
    def __init__(self, db: Database) -> None:
        self.db = db

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
            await add_jobs(session, jobs(record), fresh=True)
            return record

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
    ) -> bool:
        """Keep a response while the poll is open; False when it is closed. The same event
        twice is kept once."""
        async with self.db.transaction() as session:
            status = (
                await session.execute(select(Poll.status).where(Poll.id == poll_id))
            ).scalar_one()
            if status != "open":
                found = await session.execute(
                    select(PollAnswer.id).where(PollAnswer.event_id == event_id)
                )
                return found.first() is not None  # kept before the close: it counted
            await session.execute(
                insert_ignoring_duplicates(session, table_of(PollAnswer)).values(
                    poll_id=poll_id,
                    event_id=event_id,
                    voter=voter,
                    household=household,
                    choices=list(choices),
                    ts=ts,
                    received_at=received_at,
                )
            )
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
        """Close a poll once: freeze its `result(poll, answers)` and cancel its jobs, in one
        transaction. The same cause again finds it closed and gets it back; another cause
        gets AlreadyClosed."""
        async with self.db.transaction() as session:
            row = await session.get_one(Poll, poll_id, with_for_update=True)
            if row.status == "closed":
                if row.close_cause == cause:
                    return Closing(_record(row), made_now=False)
                raise AlreadyClosed(_record(row))
            material = Material(
                await _answers(session, poll_id),
                await _papers(session, poll_id),
                await _secret(session, poll_id) if row.secret else None,
            )
            row.result = result(_record(row), material)
            row.status, row.closed_at, row.close_cause, row.closed_by = "closed", at, cause, by
            await cancel_jobs(session, poll_key(poll_id) + ":")
            await session.flush()
            return Closing(_record(row), made_now=True)

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

    # ------------------------------------------------------------ secret ballots

    async def add_ballot_paper(
        self, poll_id: int, user_id: str, room_id: str, start_event_id: str
    ) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                insert_ignoring_duplicates(session, table_of(BallotPaper)).values(
                    poll_id=poll_id, user_id=user_id, room_id=room_id, start_event_id=start_event_id
                )
            )

    async def ballot_paper_of(self, poll_id: int, user_id: str) -> str | None:
        """The start event of the ballot paper this voter was given, if any."""
        async with self.db.sessions() as session:
            return (
                await session.execute(
                    select(BallotPaper.start_event_id).where(
                        BallotPaper.poll_id == poll_id, BallotPaper.user_id == user_id
                    )
                )
            ).scalar_one_or_none()

    async def ballot_paper(self, start_event_id: str) -> tuple[int, str] | None:
        """(poll id, voter) of a ballot paper's poll event."""
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(BallotPaper.poll_id, BallotPaper.user_id).where(
                        BallotPaper.start_event_id == start_event_id
                    )
                )
            ).first()
            return (row[0], row[1]) if row is not None else None

    async def open_secret_papers_in(self, room_id: str) -> list[int]:
        """Numbers of the open secret votes with a ballot paper in this room."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(Poll.number)
                .join(BallotPaper, BallotPaper.poll_id == Poll.id)
                .where(BallotPaper.room_id == room_id, Poll.status == "open")
            )
            return [n for (n,) in rows.all()]

    async def cast_secret(
        self, poll_id: int, *, voter: str, cause: str, receipt: str, choice: str, weight: Fraction
    ) -> str:
        """Cast a secret ballot once per voter: record THAT the voter voted (with the event
        that did it), the choice under its receipt in another table, and add the weight to the
        choice's total. Returns "cast", "again" (this event cast it before), "voted" (the
        voter cast another), "paper" (a paper ballot came first) or "closed"."""
        async with self.db.transaction() as session:
            status = (
                await session.execute(select(Poll.status).where(Poll.id == poll_id))
            ).scalar_one()
            done = (
                await session.execute(select(SecretVoter.voter).where(SecretVoter.cause == cause))
            ).first()
            if done is not None:
                return "again"
            if status != "open":
                return "closed"
            voted = await session.execute(
                select(SecretVoter.id).where(
                    SecretVoter.poll_id == poll_id, SecretVoter.voter == voter
                )
            )
            if voted.first() is not None:
                return "voted"
            paper = await session.execute(
                select(PaperBallot.id).where(
                    PaperBallot.poll_id == poll_id, PaperBallot.household == voter
                )
            )
            if paper.first() is not None:
                return "paper"
            session.add(SecretVoter(poll_id=poll_id, voter=voter, cause=cause))
            session.add(SecretBallot(receipt=receipt, poll_id=poll_id, choice=choice))
            total = await session.get(SecretTotal, (poll_id, choice))
            if total is None:
                session.add(SecretTotal(poll_id=poll_id, choice=choice, heads=1, area=str(weight)))
            else:
                total.heads += 1
                total.area = str(Fraction(total.area) + weight)
            return "cast"

    async def secret_voters(self, poll_id: int) -> list[str]:
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(SecretVoter.voter).where(SecretVoter.poll_id == poll_id)
            )
            return sorted(v for (v,) in rows.all())

    # ------------------------------------------------------------ paper ballots

    async def enter_paper(
        self,
        poll_id: int,
        *,
        household: str,
        choice: str,
        entered_by: str,
        cause: str,
        at: datetime,
    ) -> str:
        """Enter a household's paper ballot, once per (cause, household): "entered",
        "replaced" (an earlier paper ballot of the household), "again" (this cause entered it
        before), "online" (a secret ballot came first), or "closed"."""
        async with self.db.transaction() as session:
            poll = await session.get_one(Poll, poll_id)
            row = (
                await session.execute(
                    select(PaperBallot).where(
                        PaperBallot.poll_id == poll_id, PaperBallot.household == household
                    )
                )
            ).scalar_one_or_none()
            if row is not None and row.cause == cause:
                return "again"
            if poll.status != "open":
                return "closed"
            if poll.secret:
                voted = await session.execute(
                    select(SecretVoter.id).where(
                        SecretVoter.poll_id == poll_id, SecretVoter.voter == household
                    )
                )
                if voted.first() is not None:
                    return "online"
            if row is None:
                session.add(
                    PaperBallot(
                        poll_id=poll_id,
                        household=household,
                        choice=choice,
                        entered_by=entered_by,
                        cause=cause,
                        entered_at=at,
                    )
                )
                return "entered"
            row.choice, row.entered_by, row.cause, row.entered_at = choice, entered_by, cause, at
            return "replaced"

    async def forget_voter(self, user_id: str, compound: str | None) -> None:
        """`!我 删除`: the person's answers stay counted under a random name of their own (one
        name for all their answers, so the latest still wins); their ballot papers and
        proposals no longer name them."""
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
            mine = Proposal.proposer == user_id
            if compound is not None:
                mine = mine & (Proposal.compound == compound)
            await session.execute(update(Proposal).where(mine).values(proposer=None))

    async def papers(self, poll_id: int) -> list[Paper]:
        async with self.db.sessions() as session:
            return await _papers(session, poll_id)

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


async def _papers(session: Any, poll_id: int) -> list[Paper]:
    connection = await session.connection()
    rows = await connection.execute(
        select(PaperBallot.household, PaperBallot.choice, PaperBallot.entered_by)
        .where(PaperBallot.poll_id == poll_id)
        .order_by(PaperBallot.household)
    )
    return [Paper(household, choice, by) for household, choice, by in rows]


async def _secret(session: Any, poll_id: int) -> SecretMaterial:
    voters = await session.execute(select(SecretVoter.voter).where(SecretVoter.poll_id == poll_id))
    ballots = await session.execute(
        select(SecretBallot.receipt, SecretBallot.choice)
        .where(SecretBallot.poll_id == poll_id)
        .order_by(SecretBallot.receipt)
    )
    totals = (
        await session.execute(select(SecretTotal).where(SecretTotal.poll_id == poll_id))
    ).scalars()
    heads: dict[str, int] = {}
    area: dict[str, Fraction] = {}
    for total in totals:
        heads[total.choice], area[total.choice] = total.heads, Fraction(total.area)
    return SecretMaterial(
        sorted(v for (v,) in voters.all()), [(r, c) for r, c in ballots.all()], heads, area
    )


def poll_key(poll_id: int, *parts: object) -> str:
    """Job keys of a poll: `vote:<id>:...`; its jobs are cancelled by this prefix."""
    return ":".join(["vote", str(poll_id), *map(str, parts)])


@dataclass(frozen=True)
class Voter:
    user_id: str
    household: str  # "3-2-1101"
    is_owner: bool


def household_name(building: str, unit: str, room: str) -> str:
    return f"{building}-{unit}-{room}"


class ElectorateStore:
    """Who may vote, read from the plumbing's tables (residents, roster) without changing them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def voter(self, compound: str, user_id: str) -> Voter | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(Resident).where(
                        Resident.compound == compound, Resident.user_id == user_id
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            return Voter(
                row.user_id, household_name(row.building, row.unit, row.room), row.is_owner
            )

    async def voters(self, compound: str) -> list[Voter]:
        # Columns, not ORM objects: an owners' vote may read 100,000 of them at its close.
        async with self.db.sessions() as session:
            connection = await session.connection()
            rows = await connection.execute(
                select(
                    Resident.user_id,
                    Resident.building,
                    Resident.unit,
                    Resident.room,
                    Resident.is_owner,
                )
                .where(Resident.compound == compound)
                .order_by(Resident.id)
            )
            return [Voter(user, household_name(b, u, r), owner) for user, b, u, r, owner in rows]

    async def area_of(self, compound: str, household: str) -> Decimal | None:
        """One household's floor area, or None when the roster does not have it."""
        building, unit, room = [*household.split("-"), "", "", ""][:3]
        async with self.db.sessions() as session:
            area = (
                await session.execute(
                    select(RosterHousehold.floor_area).where(
                        RosterHousehold.compound == compound,
                        RosterHousehold.building == building,
                        RosterHousehold.unit == unit,
                        RosterHousehold.room == room,
                    )
                )
            ).scalar_one_or_none()
            return Decimal(area) if area is not None else None

    async def floor_areas(self, compound: str) -> dict[str, Decimal]:
        """Every roster household and its floor area, exact (the roster keeps it as text)."""
        async with self.db.sessions() as session:
            connection = await session.connection()
            rows = await connection.execute(
                select(
                    RosterHousehold.building,
                    RosterHousehold.unit,
                    RosterHousehold.room,
                    RosterHousehold.floor_area,
                ).where(RosterHousehold.compound == compound)
            )
            return {f"{b}-{u}-{r}": Decimal(area) for b, u, r, area in rows}
