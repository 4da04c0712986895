"""When a formal vote's electorate is fixed, on SQLite and PostgreSQL: who may vote as it opens,
plus whoever becomes eligible before the close; a receipted secret ballot counts whatever happens
to its voter afterwards (moving out, being removed, erasing their data); an answer of someone
who left a household that changed hands stops counting for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from fractions import Fraction

import pytest
import pytest_asyncio

from bots.votes import results
from bots.votes.ballot_store import BallotStore
from bots.votes.store import VoteStore
from bridge.store import Store
from tests.unit.test_votes_tally import NOW, formal
from tests.unit.test_votes_tally import store as populated  # noqa: F401 (a fixture)


@pytest_asyncio.fixture
async def store(populated: Store) -> AsyncIterator[Store]:  # noqa: F811
    yield populated


async def cast(ballots: BallotStore, poll_id: int, voter: str, choice: str) -> str:
    return await ballots.cast_secret(
        poll_id,
        voter=voter,
        cause=f"$ballot-{voter}",
        receipt=f"R-{voter}",
        choice=choice,
        weight=Fraction(1),
    )


async def leave(store: Store, how: str, user: str) -> None:
    """The three ways a voter's resident row goes: `!我 搬走`, `!住户 移除`, `!我 删除`."""
    if how == "erase":
        await VoteStore(store.db).forget_voter(user, "c")
        await store.people.forget(user)
    else:
        assert await store.people.unbind("c", user)


@pytest.mark.parametrize("how", ["moves_out", "removed", "erase"])
@pytest.mark.parametrize("eligibility", ["households", "residents"])
async def test_a_secret_ballot_counts_after_its_voter_leaves(
    store: Store, how: str, eligibility: str
) -> None:
    votes, ballots = VoteStore(store.db), BallotStore(store.db)
    poll = await formal(votes, secret=True, eligibility=eligibility)
    voter = "1-1-103" if eligibility == "households" else "@c:x"
    assert await cast(ballots, poll.id, voter, "yes") == "cast"
    await leave(store, how, "@c:x")  # the only resident of 1-1-103

    closing = await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)

    assert closing.poll.result is not None
    outcome = results.outcome_of(closing.poll.result)
    assert (outcome.voted_heads, outcome.yes_heads) == (1, 1)
    heads = 4 if eligibility == "households" else 5  # as the vote opened: nobody taken out
    assert outcome.electorate_heads == heads


async def test_who_becomes_eligible_after_the_opening_is_in_the_electorate_even_if_gone(
    store: Store,
) -> None:
    votes, ballots = VoteStore(store.db), BallotStore(store.db)
    poll = await formal(votes, secret=True, eligibility="households")
    await store.people.bind_household("c", "@n:x", "1", "1", "105", NOW, is_owner=True)
    await store.people.bind_household("c", "@m:x", "1", "1", "104", NOW, is_owner=True)
    assert await cast(ballots, poll.id, "1-1-105", "no") == "cast"
    await leave(store, "moves_out", "@n:x")  # verified, voted and gone before the close

    closing = await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)

    assert closing.poll.result is not None
    outcome = results.outcome_of(closing.poll.result)
    # 4 households at the opening, 1-1-105 (voted) and 1-1-104 (still there) since
    assert (outcome.electorate_heads, outcome.voted_heads, outcome.no_heads) == (6, 1, 1)


async def test_a_former_residents_answer_stops_counting_for_a_household_that_changed_hands(
    store: Store,
) -> None:
    votes = VoteStore(store.db)
    poll = await formal(votes, eligibility="owners")
    for n, user, choice in ((1, "@c:x", "yes"), (2, "@b:x", "no")):
        assert await votes.record_answer(
            poll.id,
            event_id=f"$a{n}",
            voter=user,
            household="1-1-103" if user == "@c:x" else "1-1-102",
            choices=[choice],
            ts=1000,
            received_at=NOW,
        )
    # 1-1-103 is sold: its owner leaves, the buyer is verified later and does not vote.
    # 1-1-102's owner moves out and nobody moves in: the household did not change hands.
    await store.people.unbind("c", "@c:x")
    await store.people.unbind("c", "@b:x")
    later = NOW + timedelta(hours=1)
    await store.people.bind_household("c", "@buyer:x", "1", "1", "103", later, is_owner=True)

    closing = await votes.close(poll.id, cause="job", at=later, by=None, result=results.freeze)

    assert closing.poll.result is not None
    outcome = results.outcome_of(closing.poll.result)
    assert (outcome.voted_heads, outcome.yes_heads, outcome.no_heads) == (1, 0, 1)


async def test_a_close_that_does_not_add_up_leaves_the_vote_open_to_close_again(
    store: Store,
) -> None:
    from sqlalchemy import update

    from bots.votes.count import CountError
    from bots.votes.models import SecretTotal

    votes, ballots = VoteStore(store.db), BallotStore(store.db)
    poll = await formal(votes, secret=True, eligibility="households")
    assert await cast(ballots, poll.id, "1-1-101", "yes") == "cast"
    async with store.db.transaction() as session:
        await session.execute(update(SecretTotal).values(heads=2))
    with pytest.raises(CountError):
        await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)
    still = await votes.by_id(poll.id)
    assert still is not None and still.is_open
    async with store.db.transaction() as session:
        await session.execute(update(SecretTotal).values(heads=1))
    closing = await votes.close(poll.id, cause="$retry", at=NOW, by=None, result=results.freeze)
    assert closing.made_now and closing.poll.status == "closed"


async def test_heads_of_an_owners_vote_are_owners_not_parts(store: Store) -> None:
    """SPC interpretation on building ownership, art. 9: one part one person, but a buyer of
    several parts is one person, and the developer's unsold parts count as one."""
    from sqlalchemy import update

    from bridge.store.models import RosterHousehold

    owners = {"101": ["甲"], "102": ["甲"], "103": ["乙"], "104": ["开发商"], "105": ["开发商"]}
    async with store.db.transaction() as session:
        for room, names in owners.items():
            await session.execute(
                update(RosterHousehold).where(RosterHousehold.room == room).values(owners=names)
            )
    votes = VoteStore(store.db)
    poll = await formal(votes, eligibility="owners")
    for n, user, household, choice in ((1, "@a:x", "1-1-101", "yes"), (2, "@c:x", "1-1-103", "no")):
        assert await votes.record_answer(
            poll.id,
            event_id=f"$h{n}",
            voter=user,
            household=household,
            choices=[choice],
            ts=1000,
            received_at=NOW,
        )

    closing = await votes.close(poll.id, cause="job", at=NOW, by=None, result=results.freeze)

    result = closing.poll.result
    assert result is not None
    outcome = results.outcome_of(result)
    assert outcome.electorate_heads == 3  # 甲, 乙 and the developer
    assert (outcome.voted_heads, outcome.yes_heads) == (Fraction(3, 2), Fraction(1, 2))
    assert outcome.voted_area == Fraction("220.25")  # area stays per part
    assert result["parts"] == {"electorate": 5, "voted": 2}  # both figures


async def test_owners_turnout_counts_heads_as_the_close_does(store: Store) -> None:
    """`!表决 进度` of an owners' vote: a buyer of several parts is one owner (each of k parts
    1/k of a head), shown beside the parts that voted; it used to show households only."""
    from sqlalchemy import update

    from bots.votes.electorate import ElectorateStore
    from bots.votes.proxy_store import ProxyStore
    from bots.votes.turnout import Turnout
    from bridge.store.models import RosterHousehold

    owners = {"101": ["甲"], "102": ["甲"], "103": ["乙"], "104": ["开发商"], "105": ["开发商"]}
    async with store.db.transaction() as session:
        for room, names in owners.items():
            await session.execute(
                update(RosterHousehold).where(RosterHousehold.room == room).values(owners=names)
            )
    votes = VoteStore(store.db)
    poll = await formal(votes, eligibility="owners")
    assert await votes.record_answer(
        poll.id,
        event_id="$h1",
        voter="@a:x",
        household="1-1-101",
        choices=["yes"],
        ts=1000,
        received_at=NOW,
    )
    turnout = Turnout(
        None,  # type: ignore[arg-type]
        votes,
        BallotStore(store.db),
        ElectorateStore(store.db),
        ProxyStore(store.db),
    )

    def text(key: str, **args: object) -> str:
        return f"{key}:" + ",".join(f"{k}={v}" for k, v in sorted(args.items()))

    line = await turnout.turnout_text(poll, text)
    assert line.startswith(
        "votes.turnout_owners:number=1,parts_percent=20.00%,parts_total=5,parts_voted=1,"
        "percent=16.67%,total=3,voted=0.50"
    )
