"""Secret and paper ballots: ballot papers handed out, secret ballots cast (who voted apart from
what was chosen), paper ballots entered by staff; each change made once per cause."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import insert, select, update

from bots.votes.models import (
    BallotPaper,
    Elector,
    PaperBallot,
    Poll,
    PollAnswer,
    SecretBallot,
    SecretTotal,
    SecretVoter,
)
from bots.votes.store import lock_poll
from bots.votes.tally_store import add_elector
from bridge.store.database import Database, insert_ignoring_duplicates, table_of


@dataclass(frozen=True)
class Batch:
    """What became of a batch of paper ballots: "entered" (to be confirmed), "again" (this
    cause entered it before), "refused" (nothing entered; `problems` says which lines and why)
    or "closed"."""

    status: str
    code: str
    count: int
    problems: list[tuple[int, str]]


@dataclass(frozen=True)
class Paper:
    household: str
    choice: str
    entered_by: str


class BallotStore:
    def __init__(self, db: Database) -> None:
        self.db = db

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
                    select(BallotPaper.start_event_id)
                    .where(BallotPaper.poll_id == poll_id, BallotPaper.user_id == user_id)
                    .limit(1)
                )
            ).scalar_one_or_none()

    async def paper_holders(self, poll_id: int) -> set[str]:
        """Everyone who was given a ballot paper for this vote."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(BallotPaper.user_id).where(BallotPaper.poll_id == poll_id).distinct()
            )
            return {user for (user,) in rows}

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
        voter cast another), "paper" (a paper ballot came first) or "closed". Serialised on
        the poll with the close (`lock_poll`): a receipt is only given for a counted ballot."""
        async with self.db.transaction() as session:
            status = await lock_poll(session, poll_id)
            done = (
                await session.execute(select(SecretVoter.voter).where(SecretVoter.cause == cause))
            ).first()
            if done is not None:
                return "again"
            if status != "open":
                return "closed"
            voted = await session.execute(
                select(SecretVoter.voter).where(
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
            # Eligible now, so counted whatever happens to the voter before the close.
            await add_elector(session, poll_id, voter, _decimal_text(weight))
            await session.execute(
                insert(table_of(SecretVoter)).values(poll_id=poll_id, voter=voter, cause=cause)
            )
            await session.execute(
                insert(table_of(SecretBallot)).values(
                    receipt=receipt, poll_id=poll_id, choice=choice
                )
            )
            head = (
                await session.execute(
                    select(Elector.head).where(Elector.poll_id == poll_id, Elector.voter == voter)
                )
            ).scalar_one()
            await add_to_total(session, poll_id, choice, weight, Fraction(head))
            return "cast"

    async def secret_voters(self, poll_id: int) -> list[str]:
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(SecretVoter.voter).where(SecretVoter.poll_id == poll_id)
            )
            return sorted(v for (v,) in rows.all())

    # ------------------------------------------------------------ paper ballots

    async def enter_papers(
        self,
        poll_id: int,
        rows: Sequence[tuple[int, str, str]],
        *,
        entered_by: str,
        batch: str,
        cause: str,
        at: datetime,
    ) -> Batch:
        """Enter a batch of paper ballots ((line, household, choice) each), all or none, once
        per cause, to count once a second committee member confirms the batch. The first
        ballot of a household counts: a household that voted online, or has a confirmed paper
        ballot, refuses the whole batch (a paper ballot not yet confirmed may be corrected)."""
        async with self.db.transaction() as session:
            status = await lock_poll(session, poll_id)
            done = await session.execute(
                select(PaperBallot.id).where(
                    PaperBallot.poll_id == poll_id, PaperBallot.cause.like(f"{cause}:%")
                )
            )
            if done.first() is not None:
                return Batch("again", batch, len(rows), [])
            if status != "open":
                return Batch("closed", batch, 0, [])
            poll = await session.get_one(Poll, poll_id)
            households = [household for _, household, _ in rows]
            online: set[str] = set()
            if poll.secret:
                online.update(
                    v
                    for (v,) in await session.execute(
                        select(SecretVoter.voter).where(
                            SecretVoter.poll_id == poll_id, SecretVoter.voter.in_(households)
                        )
                    )
                )
            else:
                online.update(
                    str(h)
                    for (h,) in await session.execute(
                        select(PollAnswer.household).where(
                            PollAnswer.poll_id == poll_id, PollAnswer.household.in_(households)
                        )
                    )
                )
            existing = {
                row.household: row
                for row in (
                    await session.execute(
                        select(PaperBallot).where(
                            PaperBallot.poll_id == poll_id, PaperBallot.household.in_(households)
                        )
                    )
                ).scalars()
            }
            problems = [
                (line, "votes.csv_online")
                if household in online
                else (line, "votes.csv_paper_confirmed")
                for line, household, _ in rows
                if household in online
                or (household in existing and existing[household].confirmed_by is not None)
            ]
            if problems:
                return Batch("refused", batch, 0, problems)
            for line, household, choice in rows:
                held = existing.get(household)
                if held is not None:
                    await session.delete(held)  # a correction before its confirmation
                    await session.flush()
                session.add(
                    PaperBallot(
                        poll_id=poll_id,
                        household=household,
                        choice=choice,
                        entered_by=entered_by,
                        cause=f"{cause}:{line}",
                        entered_at=at,
                        batch=batch,
                    )
                )
            return Batch("entered", batch, len(rows), [])

    async def confirm_papers(self, poll_id: int, batch: str, by: str) -> tuple[str, int]:
        """A second committee member (监票人) confirms a batch: ("confirmed", n), ("again", n)
        (confirmed before), ("self", 0) (who entered it cannot confirm it), ("none", 0) or
        ("closed", 0)."""
        async with self.db.transaction() as session:
            status = await lock_poll(session, poll_id)
            rows = list(
                (
                    await session.execute(
                        select(PaperBallot).where(
                            PaperBallot.poll_id == poll_id, PaperBallot.batch == batch
                        )
                    )
                ).scalars()
            )
            if not rows:
                return "none", 0
            if all(r.confirmed_by is not None for r in rows):
                return "again", len(rows)
            if status != "open":
                return "closed", 0
            if any(r.entered_by == by for r in rows):
                return "self", 0
            for row in rows:
                row.confirmed_by = by
            return "confirmed", len(rows)

    async def papers(self, poll_id: int) -> list[Paper]:
        async with self.db.sessions() as session:
            return await _papers(session, poll_id)


def _decimal_text(weight: Fraction) -> str:
    """A weight as the electorate writes it: exact decimal text ("80.50" → "80.5")."""
    exact = Decimal(weight.numerator) / Decimal(weight.denominator)
    if Fraction(exact) != weight:
        raise ValueError("a weight that is not a finite decimal")
    return str(exact)


async def add_to_total(
    session: Any, poll_id: int, choice: str, weight: Fraction, head: Fraction
) -> None:
    """Add one ballot to its choice's running total: the count by an atomic increment; the
    area and the owners' heads, exact text, read and written under the poll's lock the caller
    holds."""
    await session.execute(
        insert_ignoring_duplicates(session, table_of(SecretTotal)).values(
            poll_id=poll_id, choice=choice, heads=0, area="0", head="0"
        )
    )
    area, heads = (
        await session.execute(
            select(SecretTotal.area, SecretTotal.head).where(
                SecretTotal.poll_id == poll_id, SecretTotal.choice == choice
            )
        )
    ).one()
    await session.execute(
        update(SecretTotal)
        .where(SecretTotal.poll_id == poll_id, SecretTotal.choice == choice)
        .values(
            heads=SecretTotal.heads + 1,
            area=str(Fraction(area) + weight),
            head=str(Fraction(heads) + head),
        )
    )


async def _papers(session: Any, poll_id: int) -> list[Paper]:
    connection = await session.connection()
    rows = await connection.execute(
        select(PaperBallot.household, PaperBallot.choice, PaperBallot.entered_by)
        .where(PaperBallot.poll_id == poll_id)
        .order_by(PaperBallot.household)
    )
    return [Paper(household, choice, by) for household, choice, by in rows]
