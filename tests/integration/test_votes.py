"""Votes through the real Synapse: residents answer native polls with their own clients (the
event types Element sends), committees start formal votes; the clock is a FakeClock the test
moves, so closing times are exact and nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bots.votes.bot import VoteBot
from bots.votes.cli import verify_file
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


async def invited_direct_room(client: ResidentClient) -> str:
    """The direct room the bot invites this person to, joined: long-polls /sync for it."""
    params = {"timeout": "0", "filter": json.dumps({"room": {"timeline": {"limit": 1}}})}
    for _ in range(20):
        page = await client.call("GET", "/_matrix/client/v3/sync", params=params)
        for room_id, room in page.get("rooms", {}).get("invite", {}).items():
            events = room.get("invite_state", {}).get("events", [])
            if any(e.get("content", {}).get("is_direct") for e in events):
                return await client.join(room_id)
        params = {**params, "since": page["next_batch"], "timeout": "5000"}
    raise AssertionError("no direct-message invitation")


async def download(client: ResidentClient, mxc: str) -> bytes:
    parts = urlsplit(mxc)
    url = f"{client.base_url}/_matrix/client/v1/media/download/{parts.netloc}{parts.path}"
    async with client.http.get(url, headers={"Authorization": f"Bearer {client.token}"}) as resp:
        assert resp.status == 200
        return await resp.read()


async def owners_roster(w: World, dave: ResidentClient) -> None:
    """Owners of 1-1-101 (Alice, 120.50 m²), 1-1-102 (Carol, 89.25), 1-1-201 (Dave, 100.00);
    1-1-202 (90.25) has no one on Linli."""
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
    replaced = await w.bob.wait_for_event(
        w.hall, notice(lambda b: b.startswith("您家已有其他成员"))
    )
    assert replaced["content"]["m.mentions"] == {}  # an answer to their own response: quiet
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

    await committee.send_text(w.hall, "!表决 进度 1")
    turnout = await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("#1 目前参与")))
    assert turnout["content"]["body"] == (
        "#1 目前参与：业主 3/4 人（75.00%），3/4 户（75.00%），面积 309.75/400.00 平方米（77.44%）"
    )
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
        "按专有部分（户）：参与 3/4（人数按业主计：一人有几处房屋只算一人）",
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
        "按专有部分（户）：参与 3/4（人数按业主计：一人有几处房屋只算一人）",
        "结论：通过",
    ]
    ends = [e for e in await committee.messages(w.hall, 100) if e["type"] == POLL_END]
    assert len(ends) == 2
    charts = [
        await committee.wait_for_event(
            w.hall, from_bot("m.room.message", lambda c, n=name: c.get("body") == n)
        )
        for name in ("vote-heping-1.png", "vote-heping-2.png")
    ]
    assert {c["content"]["msgtype"] for c in charts} == {"m.image"}
    png = await download(committee, charts[0]["content"]["url"])
    assert png.startswith(b"\x89PNG")


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
    results = [
        e
        for e in events
        if e["type"] == "m.room.message" and e["content"]["body"].startswith("投票 #1 已结束")
    ]
    assert len(results) == 1 and results[0]["content"]["body"].endswith(
        "要：1 票\n不要：0 票\n共 1 人参与。"
    )


async def test_a_secret_owners_vote_keeps_choices_out_of_the_hall_and_its_audit_recounts(
    w: World, make_user, staff_client, tmp_path
) -> None:
    dave = await make_user()
    await owners_roster(w, dave)
    committee = await staff_client("yewei_zhao")
    await committee.join(w.hall)
    manager = await staff_client("wuye_jingli")
    await manager.join(w.hall)

    await committee.send_text(w.hall, "!表决 加装电梯 | 一般 | 业主 | 不记名 | 截止 2天")
    await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("不记名表决 #1 已发起")))
    receipts: dict[str, str] = {}
    for name, client, choice in (
        ("alice", w.alice, "yes"),
        ("carol", w.carol, "no"),
        ("dave", dave, "yes"),
    ):
        dm = await invited_direct_room(client)
        paper = await client.wait_for_event(dm, from_bot(POLL_START))
        assert paper["content"][POLL_START]["kind"] == "org.matrix.msc3381.poll.undisclosed"
        await answer(client, dm, paper["event_id"], [choice])
        got = await client.wait_for_event(dm, notice(lambda b: "回执码：" in b))
        receipts[name] = got["content"]["body"].split("回执码：")[1][:11]
        if name == "alice":  # a second secret ballot is refused, and says so
            await answer(client, dm, paper["event_id"], ["no"])
            await client.wait_for_event(dm, notice(lambda b: "不记名票不能更改" in b))
    # Bob (no owner) never got a ballot paper; typed in the hall, a choice is taken out.
    typed = await w.bob.send_text(w.hall, "!表决 投 1 同意")
    await w.bob.wait_for_event(w.hall, notice(lambda b: "是不记名的" in b))
    # Paper ballots of an owners' vote: not by the property company. By the committee:
    # 1-1-202 on paper, then corrected by CSV before its confirmation (a file with a bad and
    # an ineligible line is refused whole); 1-1-101 voted online first, so its paper is refused.
    await manager.send_text(w.hall, "!投票 纸质 1 1-1-202 反对")
    await manager.wait_for_event(w.hall, notice(lambda b: "只能由业委会或居委会登记" in b))
    await committee.send_text(w.hall, "!投票 纸质 1 1-1-202 反对")
    await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("已登记 1-1-202")))
    await committee.send_text(w.hall, "!投票 纸质 1 1-1-101 同意")
    await committee.wait_for_event(w.hall, notice(lambda b: "每户以先投的一票为准" in b))
    await committee.send_text(
        w.hall, "!投票 纸质导入 1\n户号,选择\n1-1-202,弃权\nabc,同意\n9-9-9,同意"
    )
    refused = await committee.wait_for_event(w.hall, notice(lambda b: "一张都没有登记" in b))
    assert refused["content"]["body"] == (
        "表决 #1：文件里有 2 行有问题，一张都没有登记。请改好后重新发送整个文件。\n"
        "第 3 行：户号看不懂（例如 3-2-1101）\n第 4 行：这一户不在投票范围内，没有计入"
    )
    await committee.send_text(w.hall, "!投票 纸质导入 1\n户号,选择\n1-1-202,弃权")
    imported = await committee.wait_for_event(w.hall, notice(lambda b: "登记了 1 张" in b))
    batch = imported["content"]["body"].split("批次 ")[1][:6]
    await committee.send_text(w.hall, f"!投票 确认 1 {batch}")  # not by who entered it
    await committee.wait_for_event(w.hall, notice(lambda b: "需要另一位委员" in b))
    scrutineer = await staff_client("juwei_chen")
    await scrutineer.join(w.hall)
    await scrutineer.send_text(w.hall, f"!投票 确认 1 {batch}")
    await scrutineer.wait_for_event(w.hall, notice(lambda b: "已确认批次" in b))

    w.clock.advance(timedelta(days=2))
    result = await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("表决 #1 结果")))
    assert result["content"]["body"].split("\n")[2:] == [
        "参与人数：4/4（100.00%），达到 ≥2/3 ✓",
        "参与面积：400.00/400.00 平方米（100.00%），达到 ≥2/3 ✓",
        "同意人数：2/4（50.00%），未达到 >1/2 ✗",  # exactly half is not more than half
        "同意面积：220.50/400.00 平方米（55.13%），达到 >1/2 ✓",
        "同意 2，反对 1，弃权 1",
        "面积：同意 220.50，反对 89.25，弃权 90.25 平方米",
        "按专有部分（户）：参与 4/4（人数按业主计：一人有几处房屋只算一人）",
        "计入纸质票 1 张（监票人确认后）；同一户只计一次，以先投的一票为准",  # duplicates
        "结论：未通过",
    ]
    file_event = await committee.wait_for_event(
        w.hall, from_bot("m.room.message", lambda c: c.get("msgtype") == "m.file")
    )
    hash_notice = await committee.wait_for_event(w.hall, notice(lambda b: "SHA-256：" in b))
    sha = hash_notice["content"]["body"].split("SHA-256：")[1].split()[0]

    # Nothing in the hall says who chose what: no poll responses, Bob's typed choice redacted.
    events = await committee.messages(w.hall, 200)
    assert not [e for e in events if e["type"].endswith("poll.response")]
    [bobs] = [e for e in events if e["event_id"] == typed]
    assert bobs["content"] == {}
    # Nor the database's readable fields: who voted and what was chosen are unlinked.
    async with w.bridge.store.db.engine.connect() as conn:
        voters = (await conn.execute(text("SELECT * FROM votes_secret_voters"))).mappings().all()
        ballots = (await conn.execute(text("SELECT * FROM votes_secret_ballots"))).mappings().all()
        counted = (await conn.execute(text("SELECT voter FROM votes_counted"))).scalars().all()
    assert sorted(v["voter"] for v in voters) == ["1-1-101", "1-1-102", "1-1-201"]
    assert all(set(v) == {"poll_id", "voter", "cause"} for v in voters)  # no serial id
    assert sorted(b["receipt"] for b in ballots) == sorted(receipts.values())
    assert all(set(b) == {"receipt", "poll_id", "choice"} for b in ballots)
    assert counted == ["1-1-202"]  # the close's list of counted ballots: the open (paper) one

    # The audit file recounts to the published result; each receipt is found with its choice;
    # an altered copy is caught.
    raw = await download(committee, file_event["content"]["url"])
    assert verify_file("audit.json", raw, sha, receipts["carol"]) == 0
    data = json.loads(raw)
    # No voter's Matrix ID: households and receipts only (paper entries name the staff).
    assert not [c for c in (w.alice, w.bob, w.carol, dave) if c.user_id in raw.decode()]
    # A paper ballot of a secret vote is as secret as an online one: no household's choice.
    assert data["ballots"] == []
    assert data["secret_ballots"]["paper"] == {
        "participants": [
            {
                "confirmed_by": "@juwei_chen:linli.localhost",
                "entered_by": "@yewei_zhao:linli.localhost",
                "voter": "1-1-202",
            }
        ],
        "totals": {"abstain": {"area": "361/4", "ballots": 1, "heads": "1"}},
    }
    assert {r["receipt"]: r["choice"] for r in data["secret_ballots"]["receipts"]} == {
        receipts["alice"]: "yes",
        receipts["carol"]: "no",
        receipts["dave"]: "yes",
    }
    for item in data["secret_ballots"]["receipts"]:
        if item["receipt"] == receipts["carol"]:
            item["choice"] = "yes"
    tampered = json.dumps(data).encode()
    assert verify_file("audit.json", tampered, None, None) == 1
    assert verify_file("audit.json", tampered, sha, None) == 1


async def test_paper_ballots_sent_as_a_csv_file_are_confirmed_and_bad_files_refused_whole(
    w: World, make_user, staff_client
) -> None:
    dave = await make_user()
    await owners_roster(w, dave)
    committee = await staff_client("yewei_zhao")
    await committee.join(w.hall)
    manager = await staff_client("wuye_jingli")
    work_room = await manager.join(w.harness.alias("heping-five_in_one"))
    await committee.send_text(w.hall, "!表决 更换小区门禁 | 一般 | 业主")
    start = await w.alice.wait_for_event(w.hall, from_bot(POLL_START))
    await answer(w.alice, w.hall, start["event_id"], ["no"])  # 1-1-101 online; on paper below
    await w.alice.send_text(w.hall, "!表决 进度 1")
    await w.alice.wait_for_event(w.hall, notice(lambda b: "1/4" in b))  # the answer is in

    # As Excel saves "CSV" on a Chinese Windows: GB18030, CRLF. The file names its vote.
    # From the property company, in an owners' vote: refused.
    csv = "户号,选择\r\n1-1-202,反对\r\n1-1-201,同意\r\n"
    await manager.send_file(work_room, csv.encode("gb18030"), "纸质票-表决1.csv", "text/csv")
    await manager.wait_for_event(work_room, notice(lambda b: "只能由业委会或居委会登记" in b))
    await committee.join(work_room)
    # From the committee: a file with bad lines is refused whole, its bad lines named.
    bad = "户号,选择\r\n1-1-202,反对\r\n3-2,同意\r\n9-9-9,同意\r\n"
    await committee.send_file(work_room, bad.encode("gb18030"), "纸质票-表决1.csv", "text/csv")
    refused = await committee.wait_for_event(work_room, notice(lambda b: "一张都没有登记" in b))
    assert refused["content"]["body"].split("\n")[1:] == [
        "第 3 行：户号看不懂（例如 3-2-1101）",
        "第 4 行：这一户不在投票范围内，没有计入",
    ]
    # 1-1-101 answered online first: its paper ballot is refused, and so the whole file.
    clash = "户号,选择\r\n1-1-101,同意\r\n1-1-202,反对\r\n"
    await committee.send_file(work_room, clash.encode("gb18030"), "表决1-b.csv", "text/csv")
    refused = await committee.wait_for_event(
        work_room, notice(lambda b: "第 2 行：这一户已在线上投票" in b)
    )
    await committee.send_file(work_room, csv.encode("gb18030"), "表决1-c.csv", "text/csv")
    imported = await committee.wait_for_event(work_room, notice(lambda b: "登记了 2 张" in b))
    batch = imported["content"]["body"].split("批次 ")[1][:6]
    scrutineer = await staff_client("juwei_chen")
    await scrutineer.join(work_room)
    await scrutineer.send_text(work_room, f"!投票 确认 1 {batch}")
    await scrutineer.wait_for_event(work_room, notice(lambda b: "已确认批次" in b))
    # A resident's CSV file is not a paper ballot import: nothing is said or counted.
    await w.alice.send_file(w.hall, b"1-1-102,yes\n", "votes.csv", "text/csv")

    await committee.send_text(w.hall, "!投票 结束 1")
    result = await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("表决 #1 结果")))
    lines = result["content"]["body"].split("\n")
    assert "同意 1，反对 2，弃权 0" in lines  # 1-1-101 online, 1-1-202 and 1-1-201 on paper
    assert "计入纸质票 2 张（监票人确认后）；同一户只计一次，以先投的一票为准" in lines
    events = await w.alice.messages(w.hall, 100)
    assert not [e for e in events if "导入" in e["content"].get("body", "")]


async def test_a_proposal_goes_from_a_resident_to_a_pinned_convention(
    w: World, staff_client
) -> None:
    committee = await staff_client("juwei_chen")  # the residents' committee
    committee_room = await committee.join(w.harness.alias("heping-committee"))
    await committee.join(w.hall)

    await w.alice.send_text(w.hall, "!提案 在小区东门设置快递柜")
    await w.alice.wait_for_event(w.hall, notice(lambda b: b.startswith("提案 #1 已提交")))
    await committee.wait_for_event(
        committee_room, notice(lambda b: b.startswith("新提案 #1") and "快递柜" in b)
    )
    # A second proposal, rejected with a reason the proposer reads by direct message.
    await w.carol.send_text(w.hall, "!提案 取消物业费")
    await committee.wait_for_event(committee_room, notice(lambda b: b.startswith("新提案 #2")))
    await committee.send_text(committee_room, "!提案 驳回 2 物业费由合同约定，不能表决取消")
    carol_dm = await invited_direct_room(w.carol)
    await w.carol.wait_for_event(
        carol_dm, notice(lambda b: "提案 #2 没有被受理" in b and "合同约定" in b)
    )

    await committee.send_text(committee_room, "!提案 受理 1 3天")
    await w.alice.wait_for_event(w.hall, notice(lambda b: b.startswith("提案 #1 开始讨论")))
    alice_dm = await invited_direct_room(w.alice)
    await w.alice.wait_for_event(alice_dm, notice(lambda b: "提案 #1 已被居委会受理" in b))
    # Too early to vote; then the discussion ends and the committee hears so.
    await committee.send_text(committee_room, "!提案 表决 1 | 简单多数 | 每户一票 | 截止 2天")
    await committee.wait_for_event(committee_room, notice(lambda b: "才结束" in b))
    w.clock.advance(timedelta(days=3))
    await committee.wait_for_event(committee_room, notice(lambda b: "讨论期已结束" in b))
    await committee.send_text(committee_room, "!提案 表决 1 | 简单多数 | 每户一票 | 截止 2天")
    start = await w.alice.wait_for_event(
        w.hall,
        from_bot(POLL_START, lambda c: c[POLL_START]["question"][TEXT] == "在小区东门设置快递柜"),
    )
    await w.alice.wait_for_event(alice_dm, notice(lambda b: "进入表决" in b))
    await answer(w.alice, w.hall, start["event_id"], ["yes"])
    await answer(w.carol, w.hall, start["event_id"], ["yes"])
    await answer(w.carol, w.hall, start["event_id"], ["nonsense"])  # handled after the above
    await w.carol.wait_for_event(w.hall, notice(lambda b: "没有这个选项" in b))

    w.clock.advance(timedelta(days=2))
    await w.alice.wait_for_event(alice_dm, notice(lambda b: "已通过表决" in b))
    announcements = await w.alice.join(w.harness.alias("heping-announcements"))
    convention = await w.alice.wait_for_event(
        announcements, notice(lambda b: b.startswith("公约（提案 #1") and "快递柜" in b)
    )
    pinned = await w.alice.get_state(announcements, "m.room.pinned_events")
    assert pinned["pinned"] == [convention["event_id"]]
    await w.bob.send_text(w.hall, "!公约")
    listed = await w.bob.wait_for_event(w.hall, notice(lambda b: "的公约：" in b))
    assert listed["content"]["body"] == "和平里小区的公约：\n1. 在小区东门设置快递柜（提案 #1）"
