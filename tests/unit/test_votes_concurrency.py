"""Ballots from many direct-room lanes at once, and a close racing them, on SQLite and
PostgreSQL: every ballot and the close serialise on the poll, so the totals equal the receipts
given and no ballot gets a receipt (or a "taken") once the count is frozen."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from fractions import Fraction

import pytest_asyncio
from sqlalchemy import insert, text

from bots.votes import results
from bots.votes.ballot_store import BallotStore
from bots.votes.store import NewPoll, PollRecord, VoteStore
from bridge.store import Store
from bridge.store.database import table_of
from bridge.store.models import Resident, RosterHousehold

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
HOUSEHOLDS = 40


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = await Store.open(database_url)
    async with store.db.transaction() as session:
        conn = await session.connection()
        rooms = [str(101 + i) for i in range(HOUSEHOLDS)]
        await conn.execute(
            insert(table_of(RosterHousehold)),
            [
                {
                    "compound": "c",
                    "building": "1",
                    "unit": "1",
                    "room": room,
                    "floor_area": "80.25",
                    "owners": [],
                    "phone_hashes": [],
                    "imported_at": NOW,
                }
                for room in rooms
            ],
        )
        await conn.execute(
            insert(table_of(Resident)),
            [
                {
                    "compound": "c",
                    "user_id": f"@{room}:x",
                    "building": "1",
                    "unit": "1",
                    "room": room,
                    "verified_at": NOW,
                    "is_owner": True,
                }
                for room in rooms
            ],
        )
    try:
        yield store
    finally:
        await store.close()


async def owners_vote(votes: VoteStore, secret: bool) -> PollRecord:
    new = NewPoll(
        compound="c",
        kind="formal",
        room_id="!hall",
        source_event_id="$cmd",
        start_event_id="$start",
        creator="@c:x",
        question="Q",
        options=[{"id": c, "text": c} for c in ("yes", "no", "abstain")],
        max_selections=1,
        per_household=True,
        eligibility="owners",
        rule={"name": "simple"},
        opened_at=NOW,
        closes_at=None,
        secret=secret,
    )
    return await votes.create(new, 1, lambda poll: [])


async def test_concurrent_secret_ballots_and_a_racing_close_count_every_receipt(
    store: Store,
) -> None:
    votes, ballots = VoteStore(store.db), BallotStore(store.db)
    poll = await owners_vote(votes, secret=True)

    async def ballot(i: int) -> str:
        # Same choice for most: the lost update of a read-modify-write total shows at once.
        return await ballots.cast_secret(
            poll.id,
            voter=f"1-1-{101 + i}",
            cause=f"$b{i}",
            receipt=f"R{i}",
            choice="yes" if i % 4 else "no",
            weight=Fraction("80.25"),
        )

    async def close() -> None:
        await asyncio.sleep(0)
        await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)

    outcomes = await asyncio.gather(*(ballot(i) for i in range(HOUSEHOLDS)), close())
    cast = [i for i, o in enumerate(outcomes[:-1]) if o == "cast"]
    assert set(outcomes[:-1]) <= {"cast", "closed"}
    closed = await votes.by_id(poll.id)
    assert closed is not None and closed.result is not None
    outcome = results.outcome_of(closed.result)
    assert outcome.voted_heads == len(cast)  # one counted ballot per receipt given
    assert outcome.yes_heads == len([i for i in cast if i % 4])
    assert outcome.voted_area == Fraction("80.25") * len(cast)
    # Nothing lands after the close: a late ballot is refused, and counts nothing.
    assert await ballot(HOUSEHOLDS - 1) in ("closed", "again")
    # Nor do the rows link a voter to a ballot by the order or transaction they were written
    # in: on PostgreSQL, every voter and ballot row now carries the close's transaction ID.
    if store.db.url.startswith("postgresql"):
        async with store.db.engine.connect() as conn:
            xids = {
                table: set((await conn.execute(text(f"SELECT xmin::text FROM {table}"))).scalars())
                for table in ("votes_secret_voters", "votes_secret_ballots")
            }
        assert len(xids["votes_secret_voters"]) == 1
        assert xids["votes_secret_voters"] == xids["votes_secret_ballots"]


async def test_concurrent_open_answers_and_a_racing_close_count_what_was_taken(
    store: Store,
) -> None:
    votes = VoteStore(store.db)
    poll = await owners_vote(votes, secret=False)

    async def respond(i: int) -> bool:
        return await votes.record_answer(
            poll.id,
            event_id=f"$r{i}",
            voter=f"@{101 + i}:x",
            household=f"1-1-{101 + i}",
            choices=["yes"],
            ts=1000 + i,
            received_at=NOW,
        )

    async def close() -> None:
        await asyncio.sleep(0)
        await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)

    outcomes = await asyncio.gather(*(respond(i) for i in range(HOUSEHOLDS)), close())
    taken = sum(1 for o in outcomes[:-1] if o)
    closed = await votes.by_id(poll.id)
    assert closed is not None and closed.result is not None
    assert results.outcome_of(closed.result).yes_heads == taken
