"""A formal vote's count at its close, done by the database: the electorate and the ballots that
count are written by SQL into the vote's own tables (`votes_electorate`, written as the vote
opens and completed at the close; `votes_counted`), in the closing transaction, and summed there
by weight. Python then adds a few hundred (weight, count)
groups exactly. The audit file is written from the same tables, which no longer change.

Which ballot counts (the same rule the docs and the audit file state):
- online, the latest answer of each voter, or of each household for household and owners'
  votes (by `origin_server_ts`, then arrival), if the voter or household is in the electorate;
- a household's paper ballot once a second committee member confirmed it (a household's first
  ballot counts: one on paper refuses a later online answer, and the other way round); paper
  ballots of households outside the electorate are left out; an answer of someone who left a
  household that changed hands since does not count for it (a proxy's: of the owner who gave
  it); an answer given by a proxy counts as the household's, naming the proxy;
- secret ballots are counted from their running totals (`votes_secret_totals`), after checking
  that their voters are in the electorate and that the totals' area is the voters' area.
Runs on SQLite (3.25 or later, for window functions) and PostgreSQL.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
)

from bots.votes.count import CountError, FormalCount, exact
from bots.votes.models import (
    CountedBallot,
    Elector,
    PaperBallot,
    PollAnswer,
    SecretBallot,
    SecretTotal,
    SecretVoter,
    VoteProxy,
)
from bots.votes.rules import FORMAL_CHOICES, Totals, Weight
from bridge.store.database import insert_ignoring_duplicates, table_of
from bridge.store.models import Resident, RosterHousehold


def household_of(table: Any) -> Any:
    """ "3-2-1101" from a table's building, unit and room columns, in SQL."""
    return table.building + "-" + table.unit + "-" + table.room


async def count_formal(
    session: Any,
    poll_id: int,
    compound: str,
    eligibility: str,
    per_household: bool,
    secret: bool,
    opened_at: datetime,
) -> FormalCount:
    """Write the electorate and the counted ballots of a closing formal vote, and sum them."""
    conn = await session.connection()
    poll = literal(poll_id, Integer)
    # The electorate was written when the vote opened; who became eligible since joins it.
    await add_electors(session, poll_id, compound, eligibility)
    # A household can only have changed hands if someone was verified since the opening.
    newcomers = await conn.execute(
        select(literal(1))
        .where(Resident.compound == compound, Resident.verified_at > opened_at)
        .limit(1)
    )
    changed_hands = newcomers.first() is not None
    await conn.execute(
        insert(CountedBallot).from_select(
            [
                "poll_id",
                "voter",
                "choice",
                "source",
                "entered_by",
                "weight",
                "head",
                "event_id",
                "ts",
                "confirmed_by",
                "proxy",
                "proxy_confirmed_by",
            ],
            _counted(poll, poll_id, compound, eligibility, per_household, changed_hands),
        )
    )
    # Heads are the rule's persons (for owners' votes a share of an owner per part, so a
    # buyer of several parts is one person); parts are the households (or people) counted.
    electorate_heads, electorate_area, electorate_parts = Fraction(0), Fraction(0), 0
    weights = await conn.execute(
        select(Elector.weight, Elector.head, func.count())
        .where(Elector.poll_id == poll_id)
        .group_by(Elector.weight, Elector.head)
    )
    for weight, head, n in weights:
        electorate_parts += n
        electorate_heads += Fraction(head) * n
        electorate_area += exact(weight) * n
    heads: dict[str, Weight] = dict.fromkeys(FORMAL_CHOICES, Fraction(0))
    area: dict[str, Weight] = dict.fromkeys(FORMAL_CHOICES, Fraction(0))
    sources = {"online": 0, "paper": 0}
    groups = await conn.execute(
        select(
            CountedBallot.choice,
            CountedBallot.source,
            CountedBallot.weight,
            CountedBallot.head,
            func.count(),
        )
        .where(CountedBallot.poll_id == poll_id)
        .group_by(
            CountedBallot.choice, CountedBallot.source, CountedBallot.weight, CountedBallot.head
        )
    )
    for choice, source, weight, head, n in groups:
        if choice not in heads:
            raise CountError("votes.count_unknown_choice", choice)
        heads[choice] += Fraction(head) * n
        area[choice] += exact(weight) * n
        sources[source] += n
    totals = Totals(heads, area)
    secret_parts = 0
    if secret:
        await _shuffle_secret_rows(conn, poll_id)
        secret_totals, secret_parts = await _secret_totals(conn, poll_id)
        totals = totals.plus(secret_totals)
    return FormalCount(
        electorate_heads,
        electorate_area,
        totals,
        sources["online"],
        sources["paper"],
        secret_parts,
        electorate_parts,
    )


async def elector_heads(session: Any, poll_id: int) -> dict[str, Fraction]:
    """Each elector's share of a head as the close counts it (written by `add_electors`)."""
    conn = await session.connection()
    rows = await conn.execute(select(Elector.voter, Elector.head).where(Elector.poll_id == poll_id))
    return {voter: Fraction(head) for voter, head in rows}


async def add_electors(session: Any, poll_id: int, compound: str, eligibility: str) -> None:
    """Add to a formal vote's electorate whoever is eligible now and not in it yet: run when
    the vote opens (all of them) and when it closes (those who became eligible meanwhile).
    Nobody is ever taken out: who was eligible at any time while the vote was open stays."""
    conn = await session.connection()
    if not await _anyone_absent(conn, poll_id, compound, eligibility):
        return  # the usual close: nobody new (and the owners' window is not computed)
    await conn.execute(
        insert(Elector).from_select(
            ["poll_id", "voter", "weight", "head"],
            _electorate(literal(poll_id, Integer), poll_id, compound, eligibility),
        )
    )


async def _anyone_absent(conn: Any, poll_id: int, compound: str, eligibility: str) -> bool:
    table: Any = RosterHousehold if eligibility == "owners" else Resident
    voter = table.user_id if eligibility == "residents" else household_of(table)
    absent = (
        ~select(Elector.voter).where(Elector.poll_id == poll_id, Elector.voter == voter).exists()
    )
    found = await conn.execute(
        select(literal(1)).where(table.compound == compound, absent).limit(1)
    )
    return found.first() is not None


async def add_elector(session: Any, poll_id: int, voter: str, weight: str) -> None:
    """One voter eligible when their ballot was taken (kept if they leave before the close)."""
    await session.execute(
        insert_ignoring_duplicates(session, table_of(Elector)).values(
            poll_id=poll_id, voter=voter, weight=weight
        )
    )


def _electorate(poll: Any, poll_id: int, compound: str, eligibility: str) -> Any:
    """Who may vote, as the roster and residents stand now, and is not in the electorate yet:
    owners' votes every roster household with its floor area; household votes every
    household with a verified resident; residents' votes every verified resident (weight 1)."""
    one = literal("1", String)

    def absent(voter: Any) -> Any:
        return ~(
            select(Elector.voter).where(Elector.poll_id == poll_id, Elector.voter == voter).exists()
        )

    if eligibility == "owners":
        # One part one person, but a buyer of several parts is one person (and the
        # developer's unsold parts, listed under the developer, are one): each of an owner's k
        # parts carries 1/k of a head. Parts whose owners the roster does not name count 1.
        owners = cast(RosterHousehold.owners, Text)
        parts = func.count().over(partition_by=(RosterHousehold.compound, owners))
        roster = (
            select(
                household_of(RosterHousehold).label("voter"),
                RosterHousehold.floor_area.label("weight"),
                case(
                    (owners == "[]", literal("1", String)), else_="1/" + cast(parts, String)
                ).label("head"),
            )
            .where(RosterHousehold.compound == compound)
            .subquery()
        )
        return select(poll, roster.c.voter, roster.c.weight, roster.c.head).where(
            absent(roster.c.voter)
        )
    voter = household_of(Resident) if eligibility == "households" else Resident.user_id
    return (
        select(poll, voter, one, literal("1", String).label("head"))
        .where(Resident.compound == compound, absent(voter))
        .group_by(voter)
    )


def _counted(
    poll: Any,
    poll_id: int,
    compound: str,
    eligibility: str,
    per_household: bool,
    changed_hands: bool,
) -> Any:
    """The open ballots that count, with their voter's weight: each voter's (or household's)
    latest online answer unless the household has a paper ballot, and every confirmed paper
    ballot, both within the electorate (joined on its primary key, row by row). In a vote by
    household, the answers of someone who no longer lives in a household that has a newer
    resident since (it changed hands) do not count for it."""
    key = (
        func.coalesce(func.nullif(PollAnswer.household, ""), PollAnswer.voter)
        if per_household
        else PollAnswer.voter
    )
    kept = PollAnswer.poll_id == poll_id
    if per_household and changed_hands:
        # A proxy's answer is the owner's who gave the proxy: it stops counting when they left.
        giver = select(VoteProxy.owner).where(VoteProxy.id == PollAnswer.proxy_id).scalar_subquery()
        still_there = (
            select(Resident.id)
            .where(
                Resident.compound == compound,
                Resident.user_id == func.coalesce(giver, PollAnswer.voter),
                household_of(Resident) == PollAnswer.household,
            )
            .exists()
        )
        newcomer = select(Resident.id).where(
            Resident.compound == compound,
            household_of(Resident) == PollAnswer.household,
            Resident.verified_at > PollAnswer.received_at,
        )
        if eligibility == "owners":
            newcomer = newcomer.where(Resident.is_owner)
        kept = kept & ~(~still_there & newcomer.exists())
    ranked = (
        select(
            key.label("voter"),
            PollAnswer.choices[0].as_string().label("choice"),
            PollAnswer.event_id.label("event_id"),
            PollAnswer.ts.label("ts"),
            PollAnswer.proxy_id.label("proxy_id"),
            func.row_number()
            .over(partition_by=key, order_by=(PollAnswer.ts.desc(), PollAnswer.id.desc()))
            .label("rank"),
        )
        .where(kept)
        .subquery()
    )
    elector = (Elector.poll_id == poll_id) & (Elector.voter == ranked.c.voter)
    on_paper = (  # only before 0009 could a household have both (paper counted then)
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
            Elector.head,
            ranked.c.event_id,
            ranked.c.ts,
            cast(null(), String),
            VoteProxy.proxy,
            VoteProxy.confirmed_by,
        )
        .select_from(ranked)
        .join(Elector, elector)
        .outerjoin(VoteProxy, VoteProxy.id == ranked.c.proxy_id)
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
            Elector.head,
            cast(null(), String),
            cast(null(), BigInteger),
            PaperBallot.confirmed_by,
            cast(null(), String),
            cast(null(), String),
        )
        .join(Elector, (Elector.poll_id == poll_id) & (Elector.voter == PaperBallot.household))
        .where(PaperBallot.poll_id == poll_id, PaperBallot.confirmed_by.is_not(None))
    )
    return union_all(online, paper)


async def _shuffle_secret_rows(conn: Any, poll_id: int) -> None:
    """Write a closing secret vote's voters, ballots and totals again, in the closing
    transaction and in random order: what was written ballot by ballot (on PostgreSQL, each
    voter row and ballot row with the transaction ID they shared; on SQLite, pages filled in
    cast order) is replaced by rows that all carry the close's transaction and no order. The
    old row versions stay in the file until PostgreSQL's VACUUM or SQLite reuses the pages."""
    shuffle = secrets.SystemRandom().shuffle
    for table, columns in (
        (SecretVoter, ("voter", "cause")),
        (SecretBallot, ("receipt", "choice")),
        (SecretTotal, ("choice", "heads", "area", "head")),
    ):
        core = table_of(table)
        rows = [
            dict(row._mapping)
            for row in await conn.execute(
                select(*(core.c[c] for c in ("poll_id", *columns))).where(core.c.poll_id == poll_id)
            )
        ]
        shuffle(rows)
        await conn.execute(delete(core).where(core.c.poll_id == poll_id))
        if rows:
            await conn.execute(insert(core), rows)


async def _secret_totals(conn: Any, poll_id: int) -> tuple[Totals, int]:
    """A secret vote's running totals (and how many ballots), checked against its voters:
    every voter in the electorate, one ballot each, and the area and heads added up equal to
    the voters'."""
    heads: dict[str, Weight] = dict.fromkeys(FORMAL_CHOICES, Fraction(0))
    area: dict[str, Weight] = dict.fromkeys(FORMAL_CHOICES, Fraction(0))
    ballots = 0
    rows = await conn.execute(
        select(SecretTotal.choice, SecretTotal.heads, SecretTotal.area, SecretTotal.head).where(
            SecretTotal.poll_id == poll_id
        )
    )
    for choice, n, added, head in rows:
        if choice not in heads:
            raise CountError("votes.count_unknown_choice", choice)
        heads[choice], area[choice] = Fraction(head), Fraction(added)
        ballots += n
    voters = await conn.execute(
        select(Elector.weight, Elector.head, func.count())
        .select_from(SecretVoter)
        .outerjoin(
            Elector, (Elector.poll_id == SecretVoter.poll_id) & (Elector.voter == SecretVoter.voter)
        )
        .where(SecretVoter.poll_id == poll_id)
        .group_by(Elector.weight, Elector.head)
    )
    voted, voted_heads, voted_area = 0, Fraction(0), Fraction(0)
    for weight, head, n in voters:
        if weight is None:
            raise CountError("votes.count_secret_outside")
        voted += n
        voted_heads += Fraction(head) * n
        voted_area += exact(weight) * n
    if (voted, voted_heads, voted_area) != (ballots, sum(heads.values()), sum(area.values())):
        raise CountError("votes.count_secret_mismatch")
    return Totals(heads, area), ballots
