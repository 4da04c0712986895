"""A formal vote's close counted by the database (bots/votes/tally_store.py), on SQLite and
PostgreSQL: the latest answer per household, paper over online, ballots outside the electorate
left out, exact areas, secret totals checked against their voters, and an audit file that
recounts to the frozen result."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from fractions import Fraction

import jsonschema
import pytest
import pytest_asyncio
from sqlalchemy import insert, update

from bots.votes import audit, results
from bots.votes.audit_store import audit_material
from bots.votes.ballot_store import BallotStore, Batch
from bots.votes.count import CountError
from bots.votes.models import SecretTotal
from bots.votes.proxy_store import NewProxy, ProxyStore
from bots.votes.store import NewPoll, PollRecord, ProxyFirst, VoteStore
from bridge.store import Store
from bridge.store.database import table_of
from bridge.store.models import Resident, RosterHousehold
from tests.unit.test_votes_audit import SCHEMA

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
AREAS = {"101": "100.00", "102": "80.50", "103": "120.25", "104": "99.25", "105": "50"}
# Matrix ID → household (9-9-999 is not in the roster)
RESIDENTS = {
    "@a:x": "1-1-101",
    "@a2:x": "1-1-101",
    "@b:x": "1-1-102",
    "@c:x": "1-1-103",
    "@x:x": "9-9-999",
}


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = await Store.open(database_url)
    async with store.db.transaction() as session:
        conn = await session.connection()
        await conn.execute(
            insert(table_of(RosterHousehold)),
            [
                {
                    "compound": "c",
                    "building": "1",
                    "unit": "1",
                    "room": room,
                    "floor_area": area,
                    "owners": [],
                    "phone_hashes": [],
                    "imported_at": NOW,
                }
                for room, area in AREAS.items()
            ],
        )
        await conn.execute(
            insert(table_of(Resident)),
            [
                {
                    "compound": "c",
                    "user_id": user,
                    "building": household.split("-")[0],
                    "unit": household.split("-")[1],
                    "room": household.split("-")[2],
                    "verified_at": NOW,
                    "is_owner": True,
                }
                for user, household in RESIDENTS.items()
            ],
        )
    try:
        yield store
    finally:
        await store.close()


async def formal(
    votes: VoteStore, *, secret: bool = False, eligibility: str = "owners"
) -> PollRecord:
    new = NewPoll(
        compound="c",
        kind="formal",
        room_id="!hall",
        source_event_id=f"$cmd{secret}",
        start_event_id=f"$start{secret}",
        creator="@c:x",
        question="Q",
        options=[{"id": c, "text": c} for c in ("yes", "no", "abstain")],
        max_selections=1,
        per_household=eligibility != "residents",
        eligibility=eligibility,
        rule={"name": "ordinary"},
        opened_at=NOW,
        closes_at=None,
        secret=secret,
    )
    return await votes.create(new, await votes.next_number("c"), lambda poll: [])


async def answer(
    votes: VoteStore, poll: PollRecord, n: int, user: str, choice: str, ts: int
) -> None:
    assert await votes.record_answer(
        poll.id,
        event_id=f"$answer{n}",
        voter=user,
        household=RESIDENTS[user],
        choices=[choice],
        ts=ts,
        received_at=NOW,
    )


async def paper(ballots: BallotStore, poll_id: int, household: str, choice: str) -> Batch:
    """A paper ballot entered by one committee member and confirmed by another."""
    batch = await ballots.enter_papers(
        poll_id,
        [(1, household, choice)],
        entered_by="@s:x",
        batch=household,
        cause=household,
        at=NOW,
    )
    if batch.status == "entered":
        assert await ballots.confirm_papers(poll_id, household, "@s:x") == ("self", 0)
        assert await ballots.confirm_papers(poll_id, household, "@t:x") == ("confirmed", 1)
    return batch


async def test_the_close_counts_latest_answers_and_the_first_ballot_of_a_household_exactly(
    store: Store,
) -> None:
    votes, ballots = VoteStore(store.db), BallotStore(store.db)
    poll = await formal(votes)
    await answer(votes, poll, 1, "@a:x", "no", 1000)
    await answer(votes, poll, 2, "@a2:x", "yes", 2000)  # the household's latest: yes
    await answer(votes, poll, 3, "@b:x", "yes", 1000)
    await answer(votes, poll, 4, "@b:x", "abstain", 1000)  # same time, arrived later: counts
    await answer(votes, poll, 5, "@c:x", "yes", 1500)  # first: its paper ballot is refused
    await answer(votes, poll, 6, "@x:x", "yes", 1500)  # not in the roster: left out
    refused = await paper(ballots, poll.id, "1-1-103", "no")
    assert (refused.status, refused.problems) == ("refused", [(1, "votes.csv_online")])
    assert (await paper(ballots, poll.id, "1-1-104", "yes")).status == "entered"
    assert (await paper(ballots, poll.id, "8-8-888", "yes")).status == "entered"
    unconfirmed = await ballots.enter_papers(
        poll.id, [(1, "1-1-105", "no")], entered_by="@s:x", batch="B105", cause="$c", at=NOW
    )
    assert unconfirmed.status == "entered"  # never confirmed: does not count

    closing = await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)

    result = closing.poll.result
    assert result is not None
    o = results.outcome_of(result)
    assert (o.electorate_heads, o.electorate_area) == (5, Fraction(450))
    assert (o.voted_heads, o.voted_area) == (4, Fraction(400))
    assert (o.yes_heads, o.yes_area) == (3, Fraction(31950, 100))
    assert (o.no_heads, o.no_area) == (0, Fraction(0))
    assert (o.abstain_heads, o.abstain_area) == (1, Fraction(805, 10))
    assert o.participation_heads_met and o.participation_area_met
    assert o.approval_heads_met and result["passed"] is True
    assert result["counted"] == {"online": 3, "paper": 1, "secret": 0}
    assert "ballots" not in result and "electorate" not in result

    material = await audit_material(store.db, poll.id, secret=False)
    assert material.electorate == [
        {"voter": f"1-1-{room}", "weight": area, "head": "1"} for room, area in AREAS.items()
    ]
    assert [
        {k: v for k, v in b.items() if k not in ("event_id", "origin_server_ts")}
        for b in material.ballots
    ] == [
        {"voter": "1-1-101", "choice": "yes", "source": "online"},
        {"voter": "1-1-102", "choice": "abstain", "source": "online"},
        {"voter": "1-1-103", "choice": "yes", "source": "online"},
        {
            "voter": "1-1-104",
            "choice": "yes",
            "source": "paper",
            "entered_by": "@s:x",
            "confirmed_by": "@t:x",
        },
    ]
    data = json.loads(audit.audit_file(closing.poll, "C", material))
    assert audit.verify(data) == (True, [])
    jsonschema.validate(data, SCHEMA)


async def test_secret_totals_are_counted_and_checked_against_their_voters(store: Store) -> None:
    votes, ballots = VoteStore(store.db), BallotStore(store.db)
    poll = await formal(votes, secret=True)
    for household, choice, area in (("1-1-101", "yes", "100.00"), ("1-1-102", "no", "80.50")):
        cast = await ballots.cast_secret(
            poll.id,
            voter=household,
            cause=f"$ballot{household}",
            receipt=f"R{household}",
            choice=choice,
            weight=Fraction(area),
        )
        assert cast == "cast"
    assert (await paper(ballots, poll.id, "1-1-104", "yes")).status == "entered"
    assert (await paper(ballots, poll.id, "1-1-101", "no")).status == "refused"  # voted first

    # A total changed behind the bot's back no longer matches its voters' areas: no result.
    async with store.db.transaction() as session:
        await session.execute(
            update(SecretTotal)
            .where(SecretTotal.poll_id == poll.id, SecretTotal.choice == "no")
            .values(area="90")
        )
    with pytest.raises(CountError, match="count_secret_mismatch"):
        await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)
    async with store.db.transaction() as session:
        await session.execute(
            update(SecretTotal)
            .where(SecretTotal.poll_id == poll.id, SecretTotal.choice == "no")
            .values(area="161/2")
        )

    closing = await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)

    assert closing.poll.result is not None
    o = results.outcome_of(closing.poll.result)
    assert (o.voted_heads, o.voted_area) == (3, Fraction(27975, 100))
    assert (o.yes_heads, o.yes_area) == (2, Fraction(19925, 100))
    assert closing.poll.result["counted"] == {"online": 0, "paper": 1, "secret": 2}
    material = await audit_material(store.db, poll.id, secret=True)
    assert material.secret == {
        "participants": ["1-1-101", "1-1-102"],
        "receipts": [
            {"receipt": "R1-1-101", "choice": "yes"},
            {"receipt": "R1-1-102", "choice": "no"},
        ],
        "totals": {
            "no": {"ballots": 1, "heads": "1", "area": "161/2"},
            "yes": {"ballots": 1, "heads": "1", "area": "100"},
        },
        "paper": {
            "participants": [{"voter": "1-1-104", "entered_by": "@s:x", "confirmed_by": "@t:x"}],
            "totals": {"yes": {"ballots": 1, "heads": "1", "area": "397/4"}},
        },
    }
    data = json.loads(audit.audit_file(closing.poll, "C", material))
    assert audit.verify(data) == (True, [])
    jsonschema.validate(data, SCHEMA)


async def test_an_erased_voter_leaves_a_closed_count_that_still_recounts(store: Store) -> None:
    votes = VoteStore(store.db)
    poll = await formal(votes, eligibility="residents")  # by person: voters by Matrix ID
    await answer(votes, poll, 1, "@a:x", "yes", 1000)
    await answer(votes, poll, 2, "@b:x", "no", 1000)
    closing = await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)
    await votes.forget_voter("@a:x", "c")
    material = await audit_material(store.db, poll.id, secret=False)
    voters = [e["voter"] for e in material.electorate]
    assert "@a:x" not in voters and len(voters) == len(RESIDENTS)
    assert [b["voter"].startswith("erased:") for b in material.ballots] == [False, True]
    data = json.loads(audit.audit_file(closing.poll, "C", material))
    assert audit.verify(data) == (True, [])
    jsonschema.validate(data, SCHEMA)


async def test_a_proxys_answer_counts_for_the_household_and_names_the_proxy(
    store: Store,
) -> None:
    """On both engines: an answer given under a confirmed proxy counts as the household's, the
    counted ballot and the audit file name the proxy and who confirmed it, and the household's
    own later answer is refused (its first ballot counts)."""
    votes, proxies = VoteStore(store.db), ProxyStore(store.db)
    poll = await formal(votes)
    proxy, made = await proxies.request(
        NewProxy("c", "1-1-102", "@b:x", "@son:x", poll.id, "$ask", NOW)
    )
    assert made
    await proxies.confirm(proxy.id, by="@committee:x", cause="$ok", at=NOW)
    assert await votes.record_answer(
        poll.id,
        event_id="$by-proxy",
        voter="@son:x",
        household="1-1-102",
        choices=["no"],
        ts=5,
        received_at=NOW,
        elector=("1-1-102", "80.50"),
        proxy_id=proxy.id,
    )
    with pytest.raises(ProxyFirst):
        await votes.record_answer(
            poll.id,
            event_id="$own",
            voter="@b:x",
            household="1-1-102",
            choices=["yes"],
            ts=6,
            received_at=NOW,
            elector=("1-1-102", "80.50"),
        )
    await answer(votes, poll, 1, "@a:x", "yes", ts=7)
    closing = await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)
    material = await audit_material(store.db, poll.id, secret=False)
    data = json.loads(audit.audit_file(closing.poll, "C", material))
    jsonschema.validate(data, SCHEMA)
    assert audit.verify(data) == (True, [])
    by_voter = {b["voter"]: b for b in data["ballots"]}
    assert by_voter["1-1-102"] == {
        "voter": "1-1-102",
        "choice": "no",
        "source": "online",
        "event_id": "$by-proxy",
        "origin_server_ts": 5,
        "proxy": "@son:x",
        "proxy_confirmed_by": "@committee:x",
    }
    assert "proxy" not in by_voter["1-1-101"]
    assert await proxies.proxy_households(poll.id) == 1
