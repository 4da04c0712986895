"""Ballot papers that come late or are recorded late: whoever becomes eligible for an open secret
vote with no event Linli sees (a household added to the roster for an owner already verified,
someone made an owner while in the hall) gets a paper at the next look of the hand-out job, and
nobody gets a second one; an answer to a paper the bot has posted but not yet stored counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete

from bots.votes.bot import VoteBot
from bots.votes.models import BallotPaper
from bots.votes.secret import PAPER_KEY, SWEEP_EVERY
from bridge.app import Bridge
from bridge.clock import FakeClock
from tests.unit.test_votes_proxies import ALICE, CAROL, ERIN, YEWEI, Steps, bridge
from tests.unit.test_votes_replay import NOW, recording, response

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


async def test_an_answer_to_a_paper_not_yet_recorded_is_taken_when_the_homeserver_vouches_for_it(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A voter answers the paper the moment it shows, before the bot has stored it: the
    homeserver says the bot posted it for them in an open secret vote, so the ballot is taken
    (with its receipt); a paper event naming someone else is not theirs."""
    await Steps(bridge).say(YEWEI, "!表决 修路 | 简单多数 | 业主 | 不记名")
    await bridge.scheduler.run_due()
    sent = {s.event_id: s for s in recording(bridge).sent if s.event_type.endswith("poll.start")}
    votes = bridge.bot(VoteBot)
    poll = await votes.votes.get("heping", 1)
    assert poll is not None
    papers = {s.content[PAPER_KEY]["voter"]: s for s in sent.values() if PAPER_KEY in s.content}
    assert set(papers) == {ALICE, CAROL}
    async with bridge.store.db.transaction() as session:  # as if not stored yet
        await session.execute(delete(BallotPaper))

    async def get_event(room_id: str, event_id: str, **_: Any) -> dict[str, Any]:
        s = sent[event_id]
        return {"sender": bridge.config.bot_user_id, "type": s.event_type, "content": s.content}

    monkeypatch.setattr(bridge.client, "get_event", get_event)
    carol = papers[CAROL]
    await bridge.router.handle(
        response("$b1", CAROL, carol.event_id, ["yes"], carol.room_id), NOW, fresh=True
    )
    assert recording(bridge).bodies(carol.room_id)[-1].startswith("您的不记名票已收到")
    # Alice answers, in her room, the paper made for Carol: not hers, nothing counted.
    alice = papers[ALICE]
    await bridge.router.handle(
        response("$b2", ALICE, carol.event_id, ["no"], alice.room_id), NOW, fresh=True
    )
    assert await votes.ballots.secret_voters(poll.id) == ["3-1-102"]
