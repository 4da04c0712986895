"""A formal vote's count at its close, done by the database: the electorate and the ballots that
count are written by SQL into the vote's own tables (`votes_electorate`, `votes_counted`), in the
closing transaction, and summed there by weight. Python then adds a few hundred (weight, count)
groups exactly. The audit file is written from the same tables, which no longer change.

Which ballot counts (the same rule the docs and the audit file state):
- online, the latest answer of each voter, or of each household for household and owners'
  votes (by `origin_server_ts`, then arrival), if the voter or household is in the electorate;
- a household's paper ballot counts over its online answer (staff entered it from the signed
  form); paper ballots of households outside the electorate are left out;
- secret ballots are counted from their running totals (`votes_secret_totals`), after checking
  that their voters are in the electorate and that the totals' area is the voters' area.
Runs on SQLite (3.25 or later, for window functions) and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Integer, String, cast, func, insert, literal, null, select, union_all

from bots.votes.models import (
    CountedBallot,
    Elector,
    PaperBallot,
    PollAnswer,
    SecretBallot,
    SecretTotal,
    SecretVoter,
)
from bots.votes.rules import FORMAL_CHOICES, Totals, Weight
from bridge.store.database import Database
from bridge.store.models import Resident, RosterHousehold


@dataclass(frozen=True)
class FormalCount:
    """What a formal vote's close adds up: the electorate's size and area, and the totals of
    every ballot that counted (open and secret), areas exact."""

    electorate_heads: int
    electorate_area: Fraction
    totals: Totals
    online: int
    paper: int
    secret: int


@dataclass(frozen=True)
class AuditMaterial:
    """A closed formal vote's lists, for its audit file."""

    electorate: dict[str, str]  # voter → weight (exact decimal text)
    ballots: list[dict[str, str]]  # counted open ballots, by voter
    secret: dict[str, Any] | None  # participants, receipts, area totals


def household_of(table: Any) -> Any:
    """ "3-2-1101" from a table's building, unit and room columns, in SQL."""
    return table.building + "-" + table.unit + "-" + table.room


async def count_formal(
    session: Any, poll_id: int, compound: str, eligibility: str, per_household: bool, secret: bool
) -> FormalCount:
    """Write the electorate and the counted ballots of a closing formal vote, and sum them."""
    conn = await session.connection()
    poll = literal(poll_id, Integer)
    await conn.execute(
        insert(Elector).from_select(
            ["poll_id", "voter", "weight"], _electorate(poll, compound, eligibility)
        )
    )
    await conn.execute(
        insert(CountedBallot).from_select(
            ["poll_id", "voter", "choice", "source", "entered_by", "weight"],
            _counted(poll, poll_id, per_household),
        )
    )
    electorate_heads, electorate_area = 0, Fraction(0)
    weights = await conn.execute(
        select(Elector.weight, func.count())
        .where(Elector.poll_id == poll_id)
        .group_by(Elector.weight)
    )
    for weight, n in weights:
        electorate_heads += n
        electorate_area += _exact(weight) * n
    heads = dict.fromkeys(FORMAL_CHOICES, 0)
    area: dict[str, Weight] = dict.fromkeys(FORMAL_CHOICES, Fraction(0))
    sources = {"online": 0, "paper": 0}
    groups = await conn.execute(
        select(CountedBallot.choice, CountedBallot.source, CountedBallot.weight, func.count())
        .where(CountedBallot.poll_id == poll_id)
        .group_by(CountedBallot.choice, CountedBallot.source, CountedBallot.weight)
    )
    for choice, source, weight, n in groups:
        if choice not in heads:
            raise ValueError(f"unknown choice in a counted ballot: {choice}")
        heads[choice] += n
        area[choice] += _exact(weight) * n
        sources[source] += n
    totals = Totals(heads, area)
    secret_heads = 0
    if secret:
        secret_totals = await _secret_totals(conn, poll_id)
        secret_heads = sum(secret_totals.heads.values())
        totals = totals.plus(secret_totals)
    return FormalCount(
        electorate_heads,
        electorate_area,
        totals,
        sources["online"],
        sources["paper"],
        secret_heads,
    )


def _exact(weight: str) -> Fraction:
    return Fraction(Decimal(weight))


def _electorate(poll: Any, compound: str, eligibility: str) -> Any:
    """Who may vote, as the roster and residents stand now: owners' votes every roster
    household with its floor area; household votes every household with a verified resident;
    residents' votes every verified resident (weight 1)."""
    one = literal("1", String)
    if eligibility == "owners":
        return select(poll, household_of(RosterHousehold), RosterHousehold.floor_area).where(
            RosterHousehold.compound == compound
        )
    voter = household_of(Resident) if eligibility == "households" else Resident.user_id
    return select(poll, voter, one).where(Resident.compound == compound).group_by(voter)


def _counted(poll: Any, poll_id: int, per_household: bool) -> Any:
    """The open ballots that count, with their voter's weight: each voter's (or household's)
    latest online answer unless the household has a paper ballot, and every paper ballot,
    both within the electorate (joined on its primary key, row by row)."""
    key = (
        func.coalesce(func.nullif(PollAnswer.household, ""), PollAnswer.voter)
        if per_household
        else PollAnswer.voter
    )
    ranked = (
        select(
            key.label("voter"),
            PollAnswer.choices[0].as_string().label("choice"),
            func.row_number()
            .over(partition_by=key, order_by=(PollAnswer.ts.desc(), PollAnswer.id.desc()))
            .label("rank"),
        )
        .where(PollAnswer.poll_id == poll_id)
        .subquery()
    )
    elector = (Elector.poll_id == poll_id) & (Elector.voter == ranked.c.voter)
    on_paper = (
        select(PaperBallot.household)  # the unique index covers it: no table read
        .where(PaperBallot.poll_id == poll_id, PaperBallot.household == ranked.c.voter)
        .exists()
    )
    online = (
        select(
            poll,
            ranked.c.voter,
            ranked.c.choice,
            literal("online", String),
            cast(null(), String),
            Elector.weight,
        )
        .select_from(ranked)
        .join(Elector, elector)
        .where(ranked.c.rank == 1, ~on_paper)
    )
    paper = (
        select(
            poll,
            PaperBallot.household,
            PaperBallot.choice,
            literal("paper", String),
            PaperBallot.entered_by,
            Elector.weight,
        )
        .join(Elector, (Elector.poll_id == poll_id) & (Elector.voter == PaperBallot.household))
        .where(PaperBallot.poll_id == poll_id)
    )
    return union_all(online, paper)


async def _secret_totals(conn: Any, poll_id: int) -> Totals:
    """A secret vote's running totals, checked against its voters: every voter in the
    electorate, one ballot each, and the area added up equal to the voters' area."""
    heads = dict.fromkeys(FORMAL_CHOICES, 0)
    area: dict[str, Weight] = dict.fromkeys(FORMAL_CHOICES, Fraction(0))
    rows = await conn.execute(
        select(SecretTotal.choice, SecretTotal.heads, SecretTotal.area).where(
            SecretTotal.poll_id == poll_id
        )
    )
    for choice, n, added in rows:
        if choice not in heads:
            raise ValueError(f"unknown choice in a secret total: {choice}")
        heads[choice], area[choice] = n, Fraction(added)
    voters = await conn.execute(
        select(Elector.weight, func.count())
        .select_from(SecretVoter)
        .outerjoin(
            Elector, (Elector.poll_id == SecretVoter.poll_id) & (Elector.voter == SecretVoter.voter)
        )
        .where(SecretVoter.poll_id == poll_id)
        .group_by(Elector.weight)
    )
    voted_heads, voted_area = 0, Fraction(0)
    for weight, n in voters:
        if weight is None:
            raise ValueError("a secret ballot's voter is not in the electorate")
        voted_heads += n
        voted_area += _exact(weight) * n
    if voted_heads != sum(heads.values()) or voted_area != sum(area.values()):
        raise ValueError("the secret totals do not add up to their voters")
    return Totals(heads, area)


async def audit_material(db: Database, poll_id: int, secret: bool) -> AuditMaterial:
    """The lists a closed formal vote's audit file publishes, read from its count's tables."""
    async with db.sessions() as session:
        conn = await session.connection()
        electorate = {
            voter: weight
            for voter, weight in await conn.execute(
                select(Elector.voter, Elector.weight)
                .where(Elector.poll_id == poll_id)
                .order_by(Elector.voter)
            )
        }
        ballots = []
        for voter, choice, source, entered_by in await conn.execute(
            select(
                CountedBallot.voter,
                CountedBallot.choice,
                CountedBallot.source,
                CountedBallot.entered_by,
            )
            .where(CountedBallot.poll_id == poll_id)
            .order_by(CountedBallot.voter)
        ):
            ballot = {"voter": voter, "choice": choice, "source": source}
            if entered_by is not None:
                ballot["entered_by"] = entered_by
            ballots.append(ballot)
        material: dict[str, Any] | None = None
        if secret:
            voters = await conn.execute(
                select(SecretVoter.voter)
                .where(SecretVoter.poll_id == poll_id)
                .order_by(SecretVoter.voter)
            )
            receipts = await conn.execute(
                select(SecretBallot.receipt, SecretBallot.choice)
                .where(SecretBallot.poll_id == poll_id)
                .order_by(SecretBallot.receipt)
            )
            totals = await conn.execute(
                select(SecretTotal.choice, SecretTotal.area)
                .where(SecretTotal.poll_id == poll_id)
                .order_by(SecretTotal.choice)
            )
            material = {
                "participants": [v for (v,) in voters],
                "receipts": [{"receipt": r, "choice": c} for r, c in receipts],
                "area": {c: a for c, a in totals},
            }
        return AuditMaterial(electorate, ballots, material)
