"""Whoever becomes eligible for an open secret vote with no event Linli sees (a household added
to the roster for an owner already verified, someone made an owner while in the hall) gets a
ballot paper at the next look of the hand-out job, and nobody gets a second one."""

from __future__ import annotations

from datetime import timedelta

from bots.votes.bot import VoteBot
from bots.votes.secret import SWEEP_EVERY
from bridge.app import Bridge
from bridge.clock import FakeClock
from tests.unit.test_votes_proxies import ALICE, CAROL, ERIN, YEWEI, Steps, bridge
from tests.unit.test_votes_replay import NOW, recording

__all__ = ["bridge"]


async def test_an_owner_whose_household_joins_the_roster_gets_a_paper_before_the_close(
    bridge: Bridge,
) -> None:
    # Erin is a verified owner of 3-1-103, a household the roster does not list yet.
    await bridge.store.people.bind_household("heping", ERIN, "3", "1", "103", NOW, is_owner=True)
    await Steps(bridge).say(YEWEI, "!表决 修路 | 简单多数 | 业主 | 不记名 | 截止 1天")
    await bridge.scheduler.run_due()
    votes = bridge.bot(VoteBot)
    poll = await votes.votes.get("heping", 1)
    assert poll is not None
    assert await votes.ballots.paper_holders(poll.id) == {ALICE, CAROL}

    # The roster gains 3-1-103 (an import: no event in any room).
    await bridge.store.roster.import_roster("heping", [("3", "1", "103", "70.00", ["丙"], [])], NOW)
    clock = bridge.clock
    assert isinstance(clock, FakeClock)
    clock.advance(SWEEP_EVERY + timedelta(seconds=1))
    await bridge.scheduler.run_due()
    assert await votes.ballots.paper_holders(poll.id) == {ALICE, CAROL, ERIN}
    papers = [s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]
    assert len(papers) == 3  # one each: Alice and Carol were not given a second

    # Looks go on until the close, and stop there: a clock far ahead runs one look, not many.
    clock.advance(timedelta(days=2))
    await bridge.scheduler.run_due()
    closed = await votes.votes.get("heping", 1)
    assert closed is not None and not closed.is_open
    assert len([s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]) == 3
    assert await bridge.scheduler.run_due() == 0
