"""Votes through the real Synapse: residents answer native polls with their own clients (the
event types Element sends), committees start formal votes; the clock is a FakeClock the test
moves, so closing times are exact and nothing sleeps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bots.votes.bot import VoteBot
from bridge.app import Bridge
from bridge.clock import FakeClock
from tests.integration.harness import Harness
from tests.integration.matrix_client import MatrixHTTPError, ResidentClient

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
BOT = "@linli:linli.localhost"
POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
TEXT = "org.matrix.msc1767.text"


def from_bot(event_type: str, predicate: Callable[[dict[str, Any]], bool] = lambda c: True):
    return lambda e: e["sender"] == BOT and e["type"] == event_type and predicate(e["content"])


def notice(predicate: Callable[[str], bool]) -> Callable[[dict[str, Any]], bool]:
    return from_bot("m.room.message", lambda c: predicate(c.get("body", "")))


async def answer(
    client: ResidentClient, room: str, poll: str, ids: list[str], stable: bool = False
) -> str:
    """A poll response exactly as Element's SDK serialises it (or under the stable name)."""
    name = "m.poll.response" if stable else "org.matrix.msc3381.poll.response"
    return await client.send_event(
        room,
        name,
        {"m.relates_to": {"rel_type": "m.reference", "event_id": poll}, name: {"answers": ids}},
    )


@dataclass
class World:
    harness: Harness
    bridge: Bridge
    clock: FakeClock
    alice: ResidentClient
    bob: ResidentClient  # Alice's household
    carol: ResidentClient
    hall: str


@pytest.fixture
async def w(harness: Harness, make_user) -> World:
    harness.only("heping")
    clock = FakeClock(MONDAY_10)
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    bridge = await harness.start_bridge(apply=False, clock=clock)
    people = bridge.store.people
    await people.bind_household(
        "heping", alice.user_id, "1", "1", "101", clock.now(), is_owner=True
    )
    await people.bind_household("heping", bob.user_id, "1", "1", "101", clock.now())
    await people.bind_household(
        "heping", carol.user_id, "1", "1", "102", clock.now(), is_owner=True
    )
    await bridge.provisioner.apply()
    hall = await alice.join(harness.alias("heping-hall"))
    await bob.join(hall)
    await carol.join(hall)
    return World(harness, bridge, clock, alice, bob, carol, hall)


async def test_a_quick_poll_is_answered_from_clients_and_ends_with_the_households_tally(
    w: World,
) -> None:
    await w.alice.send_text(w.hall, "!投票 周六大扫除几点？| 8点 | 9点 | 每户一票 | 截止 2小时")
    start = await w.alice.wait_for_event(w.hall, from_bot(POLL_START))
    poll = start["content"][POLL_START]
    assert poll["question"][TEXT] == "周六大扫除几点？"
    assert poll["kind"] == "org.matrix.msc3381.poll.disclosed" and poll["max_selections"] == 1
    eight, nine = (a["id"] for a in poll["answers"])
    assert start["content"][TEXT] == "周六大扫除几点？\n1. 8点\n2. 9点"
    opened = await w.alice.wait_for_event(w.hall, notice(lambda b: "投票 #1 已发起" in b))
    assert "11月23日 12:00 截止" in opened["content"]["body"]

    # Alice answers, changes her mind; Bob (her household) answers later under the stable name;
    # Carol answers once. Latest per household: Alice's household says 8点, Carol 9点.
    await answer(w.alice, w.hall, start["event_id"], [nine])
    await answer(w.alice, w.hall, start["event_id"], [eight])
    await answer(w.carol, w.hall, start["event_id"], [nine])
    await answer(w.bob, w.hall, start["event_id"], [eight], stable=True)
    await answer(w.carol, w.hall, start["event_id"], ["nonsense"])
    await w.carol.wait_for_event(w.hall, notice(lambda b: "没有这个选项" in b))

    w.clock.advance(timedelta(hours=2))
    end = await w.alice.wait_for_event(w.hall, from_bot(POLL_END))
    assert end["content"]["m.relates_to"] == {
        "rel_type": "m.reference",
        "event_id": start["event_id"],
    }
    assert "8点：1 票\n9点：1 票\n共 2 户参与。" in end["content"][TEXT]
    result = await w.alice.wait_for_event(w.hall, notice(lambda b: b.startswith("投票 #1 已结束")))
    assert result["content"]["body"].endswith("8点：1 票\n9点：1 票\n共 2 户参与。")

    # After the close: an answer is refused, and the creator's end command says it is over.
    await answer(w.bob, w.hall, start["event_id"], [nine])
    await w.bob.wait_for_event(w.hall, notice(lambda b: "已经结束，这次选择没有计入" in b))
    await w.alice.send_text(w.hall, "!投票 结束 1")
    await w.alice.wait_for_event(w.hall, notice(lambda b: b == "投票 #1 已经结束了。"))
    ends = [e for e in await w.alice.messages(w.hall, 100) if e["type"] == POLL_END]
    assert len(ends) == 1


async def test_a_poll_ended_by_its_creator_counts_each_voters_latest_answer(w: World) -> None:
    await w.carol.send_text(w.hall, "!poll Lunch? | Dumplings | Noodles | Rice | multi")
    start = await w.carol.wait_for_event(w.hall, from_bot(POLL_START))
    assert start["content"][POLL_START]["max_selections"] == 3
    ids = [a["id"] for a in start["content"][POLL_START]["answers"]]
    await answer(w.alice, w.hall, start["event_id"], [ids[0], ids[2]])
    await answer(w.bob, w.hall, start["event_id"], [ids[1]], stable=True)
    await answer(w.bob, w.hall, start["event_id"], [ids[2]])
    # Only the creator or staff may end it.
    await w.alice.send_text(w.hall, "!poll end 1")
    await w.alice.wait_for_event(w.hall, notice(lambda b: "只有发起人或工作人员" in b))
    await w.carol.send_text(w.hall, "!poll end 1")
    end = await w.carol.wait_for_event(w.hall, from_bot(POLL_END))
    assert end["content"][TEXT].endswith(
        "Dumplings：1 票\nNoodles：0 票\nRice：2 票\n共 2 人参与。"
    )
    poll = await w.bridge.bot(VoteBot).votes.get("heping", 1)
    assert poll is not None and poll.close_cause is not None and not poll.is_open


async def test_an_owners_vote_weighted_by_floor_area_passes_ordinary_and_fails_major(
    w: World, make_user, staff_client
) -> None:
    """Owners of 1-1-101 (120.50 m²), 1-1-102 (89.25), 1-1-201 (100.00); 1-1-202 (90.25) does
    not vote. Two yes and one no: participation 3/4 by head and 309.75/400 by area; approval
    2/3 by head and 209.75/309.75 by area: more than half (ordinary), less than 3/4 (major)."""
    dave = await make_user()
    store = w.bridge.store
    await store.roster.import_roster(
        "heping",
        [
            ("1", "1", "101", "120.50", ["甲"], []),
            ("1", "1", "102", "89.25", ["乙"], []),
            ("1", "1", "201", "100.00", ["丙"], []),
            ("1", "1", "202", "90.25", ["丁"], []),
        ],
        w.clock.now(),
    )
    await store.people.bind_household(
        "heping", dave.user_id, "1", "1", "201", w.clock.now(), is_owner=True
    )
    await w.bridge.provisioner.apply()
    await dave.join(w.hall)
    committee = await staff_client("yewei_zhao")
    await committee.join(w.hall)

    await committee.send_text(w.hall, "!表决 更换电梯（使用维修基金）| 重大 | 业主 | 截止 3天")
    major = await committee.wait_for_event(w.hall, from_bot(POLL_START))
    assert major["content"][POLL_START]["kind"] == "org.matrix.msc3381.poll.undisclosed"
    await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("表决 #1 已发起")))
    await committee.send_text(w.hall, "!表决 加装楼道灯 | 一般 | 业主 | 截止 3天")
    ordinary = await committee.wait_for_event(
        w.hall, from_bot(POLL_START, lambda c: c[POLL_START]["question"][TEXT] == "加装楼道灯")
    )

    for start in (major, ordinary):
        await answer(w.alice, w.hall, start["event_id"], ["yes"])
        await answer(w.carol, w.hall, start["event_id"], ["yes"], stable=True)
    await dave.send_text(w.hall, "!表决 投 1 反对")
    await dave.wait_for_event(w.hall, notice(lambda b: b.startswith("已记下您家对表决 #1")))
    await dave.send_text(w.hall, "!表决 投 2 no")
    await dave.wait_for_event(w.hall, notice(lambda b: b.startswith("已记下您家对表决 #2")))

    # Bob lives in 1-1-101 but is not an owner: refused, nothing counted.
    await answer(w.bob, w.hall, major["event_id"], ["no"])
    await w.bob.wait_for_event(w.hall, notice(lambda b: "只有业主可以投票" in b))
    # The street office observes: Synapse refuses its poll response in the hall (power −1),
    # and the bot refuses its ballot by command where it may speak.
    observer = await staff_client("jiedao_zhou")
    await observer.join(w.hall)
    with pytest.raises(MatrixHTTPError) as refused:
        await answer(observer, w.hall, major["event_id"], ["yes"])
    assert refused.value.status == 403
    observers_room = await observer.join(w.harness.alias("heping-observers"))
    await observer.send_text(observers_room, "!表决 投 1 同意")
    await observer.wait_for_event(observers_room, notice(lambda b: b.startswith("只有")))

    w.clock.advance(timedelta(days=3))
    major_result = await committee.wait_for_event(
        w.hall, notice(lambda b: b.startswith("表决 #1 结果"))
    )
    assert major_result["content"]["body"].split("\n")[2:] == [
        "参与人数：3/4（75.00%），达到 ≥2/3 ✓",
        "参与面积：309.75/400.00 平方米（77.44%），达到 ≥2/3 ✓",
        "同意人数：2/3（66.67%），未达到 ≥3/4 ✗",
        "同意面积：209.75/309.75 平方米（67.72%），未达到 ≥3/4 ✗",
        "同意 2，反对 1，弃权 0",
        "面积：同意 209.75，反对 100.00，弃权 0.00 平方米",
        "结论：未通过",
    ]
    ordinary_result = await committee.wait_for_event(
        w.hall, notice(lambda b: b.startswith("表决 #2 结果"))
    )
    assert ordinary_result["content"]["body"].split("\n")[2:] == [
        "参与人数：3/4（75.00%），达到 ≥2/3 ✓",
        "参与面积：309.75/400.00 平方米（77.44%），达到 ≥2/3 ✓",
        "同意人数：2/3（66.67%），达到 >1/2 ✓",
        "同意面积：209.75/309.75 平方米（67.72%），达到 >1/2 ✓",
        "同意 2，反对 1，弃权 0",
        "面积：同意 209.75，反对 100.00，弃权 0.00 平方米",
        "结论：通过",
    ]
    ends = [e for e in await committee.messages(w.hall, 100) if e["type"] == POLL_END]
    assert len(ends) == 2


async def test_closing_survives_a_restart_and_fires_once(w: World) -> None:
    await w.alice.send_text(w.hall, "!投票 要不要装充电桩？| 要 | 不要 | 截止 1小时")
    start = await w.alice.wait_for_event(w.hall, from_bot(POLL_START))
    yes = start["content"][POLL_START]["answers"][0]["id"]
    await answer(w.carol, w.hall, start["event_id"], [yes])
    # A bad answer after it: its refusal means Carol's answer was handled (one lane per room).
    await answer(w.carol, w.hall, start["event_id"], ["nonsense"])
    await w.carol.wait_for_event(w.hall, notice(lambda b: "没有这个选项" in b))
    await w.harness.stop_bridge(w.bridge)
    w.bridge = await w.harness.start_bridge(apply=False, clock=w.clock)
    w.clock.advance(timedelta(hours=1))
    await w.alice.wait_for_event(w.hall, notice(lambda b: b.startswith("投票 #1 已结束")))
    # The job ran and is done: running what is due again, or restarting, fires nothing more.
    assert await w.bridge.scheduler.run_due() == 0
    await w.harness.stop_bridge(w.bridge)
    w.bridge = await w.harness.start_bridge(apply=False, clock=w.clock)
    await w.bridge.scheduler.run_due()
    await w.alice.send_text(w.hall, "!投票 结束 1")
    await w.alice.wait_for_event(w.hall, notice(lambda b: b == "投票 #1 已经结束了。"))
    events = await w.alice.messages(w.hall, 100)
    assert len([e for e in events if e["type"] == POLL_END]) == 1
    results = [e for e in events if e["content"].get("body", "").startswith("投票 #1 已结束")]
    assert len(results) == 1 and results[0]["content"]["body"].endswith(
        "要：1 票\n不要：0 票\n共 1 人参与。"
    )
