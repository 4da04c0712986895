"""Secret and paper ballots: ballot papers handed out, secret ballots cast (who voted apart from
what was chosen), paper ballots entered by staff; each change made once per cause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import insert, select, update

from bots.votes.models import (
    BallotPaper,
    PaperBallot,
    Poll,
    SecretBallot,
    SecretTotal,
    SecretVoter,
)
from bots.votes.store import lock_poll
from bots.votes.tally_store import add_elector
from bridge.store.database import Database, insert_ignoring_duplicates, table_of


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
            await add_to_total(session, poll_id, choice, weight)
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
            await lock_poll(session, poll_id)
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
                    select(SecretVoter.voter).where(
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

    async def papers(self, poll_id: int) -> list[Paper]:
        async with self.db.sessions() as session:
            return await _papers(session, poll_id)


def _decimal_text(weight: Fraction) -> str:
    """A weight as the electorate writes it: exact decimal text ("80.50" → "80.5")."""
    exact = Decimal(weight.numerator) / Decimal(weight.denominator)
    if Fraction(exact) != weight:
        raise ValueError("a weight that is not a finite decimal")
    return str(exact)


async def add_to_total(session: Any, poll_id: int, choice: str, weight: Fraction) -> None:
    """Add one ballot to its choice's running total: heads by an atomic increment; the area,
    exact text, read and written under the poll's lock the caller holds."""
    await session.execute(
        insert_ignoring_duplicates(session, table_of(SecretTotal)).values(
            poll_id=poll_id, choice=choice, heads=0, area="0"
        )
    )
    added = (
        await session.execute(
            select(SecretTotal.area).where(
                SecretTotal.poll_id == poll_id, SecretTotal.choice == choice
            )
        )
    ).scalar_one()
    await session.execute(
        update(SecretTotal)
        .where(SecretTotal.poll_id == poll_id, SecretTotal.choice == choice)
        .values(heads=SecretTotal.heads + 1, area=str(Fraction(added) + weight))
    )


async def _papers(session: Any, poll_id: int) -> list[Paper]:
    connection = await session.connection()
    rows = await connection.execute(
        select(PaperBallot.household, PaperBallot.choice, PaperBallot.entered_by)
        .where(PaperBallot.poll_id == poll_id)
        .order_by(PaperBallot.household)
    )
    return [Paper(household, choice, by) for household, choice, by in rows]
