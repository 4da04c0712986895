"""A secret vote through the real Synapse that residents leave and join while it is open: it
still closes, once, with every ballot that got a receipt; a resident verified meanwhile gets a
ballot paper; an observer who is also a resident is refused one."""

from __future__ import annotations

from tests.integration.test_votes import (
    POLL_START,
    World,
    answer,
    from_bot,
    invited_direct_room,
    notice,
    w,
)

__all__ = ["w"]  # the fixture, shared with test_votes.py


async def test_a_secret_vote_closes_after_a_voter_moves_out_and_a_newcomer_gets_a_paper(
    w: World, make_user, staff_client
) -> None:
    committee = await staff_client("yewei_zhao")
    await committee.join(w.hall)
    await committee.send_text(w.hall, "!表决 修路 | 简单多数 | 每户一票 | 不记名")
    await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("不记名表决 #1 已发起")))

    # Carol (the only resident of 1-1-102) votes, gets her receipt, and moves out.
    dm = await invited_direct_room(w.carol)
    paper = await w.carol.wait_for_event(dm, from_bot(POLL_START))
    await answer(w.carol, dm, paper["event_id"], ["yes"])
    await w.carol.wait_for_event(dm, notice(lambda b: "回执码：" in b))
    neighbours = await w.carol.join(w.harness.alias("heping-neighbours"))
    await w.carol.send_text(neighbours, "!我 搬走 确认")
    await w.carol.wait_for_event(neighbours, from_bot("m.room.message"))

    # Erin is verified while the vote is open: she joins the hall and gets a ballot paper.
    erin = await make_user()
    await w.bridge.store.people.bind_household(
        "heping", erin.user_id, "1", "1", "201", w.clock.now()
    )
    await w.bridge.provisioner.apply()
    await erin.join(w.hall)
    erins = await invited_direct_room(erin)
    paper = await erin.wait_for_event(erins, from_bot(POLL_START))
    await answer(erin, erins, paper["event_id"], ["no"])
    await erin.wait_for_event(erins, notice(lambda b: "回执码：" in b))

    await committee.send_text(w.hall, "!投票 结束 1")
    result = await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("表决 #1 结果")))
    lines = result["content"]["body"].split("\n")
    # 1-1-101 and 1-1-102 as the vote opened, 1-1-201 since; Carol's ballot still counts.
    assert "同意 1，反对 1，弃权 0" in lines
    assert any(line.startswith("同意人数：1/2") for line in lines)
