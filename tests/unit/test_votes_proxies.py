"""Proxies (委托) with the whole bridge on a real SQLite store and a recording homeserver: an
owner asks, a committee member confirms, the proxy votes for the household in an open vote;
the household's first ballot counts; turnout and the audit file show the proxy; revocation,
refusals, secret votes, replays past the homeserver's transaction cache, and personal data."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bots import ALL_BOTS
from bots.votes import audit
from bots.votes.audit_store import audit_material
from bots.votes.bot import VoteBot
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig
from bridge.rooms_config import load_rooms_config
from tests.recording_client import RecordingClient
from tests.unit.test_votes_replay import EXAMPLES, NOW, message, recording, response, room

ALICE = "@alice:linli.localhost"  # owner of 3-1-101
BOB = "@bob:linli.localhost"  # lives in 3-1-101, not an owner
CAROL = "@carol:linli.localhost"  # owner of 3-1-102
DAVE = "@dave:linli.localhost"  # Alice's son: no resident of the compound
ERIN = "@erin:linli.localhost"
YEWEI = "@yewei_zhao:linli.localhost"  # owners' committee
JUWEI = "@juwei_chen:linli.localhost"  # residents' committee
WUYE = "@wuye_wang:linli.localhost"  # property staff
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "audit-format.schema.json").read_text(encoding="utf-8")
)


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    token = secrets.token_hex(8)
    config = BridgeConfig(
        appservice=AppserviceConfig(as_token=token, hs_token=token),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path}/linli.db"),
        receipt_key_file=tmp_path / "receipt.key",
    )
    rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
    client = RecordingClient(config.bot_user_id)
    running = Bridge(config, rooms, ALL_BOTS, client=client, clock=FakeClock(NOW))
    await running.open()
    await running.store.roster.import_roster(
        "heping",
        [("3", "1", "101", "100.00", ["甲"], []), ("3", "1", "102", "80.50", ["乙"], [])],
        NOW,
    )
    people = running.store.people
    await people.bind_household("heping", ALICE, "3", "1", "101", NOW, is_owner=True)
    await people.bind_household("heping", BOB, "3", "1", "101", NOW)
    await people.bind_household("heping", CAROL, "3", "1", "102", NOW, is_owner=True)
    await running.provisioner.apply()
    yield running
    await running.store.close()


class Steps:
    """Commands typed in the hall or the committee room, one event ID each."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.n = 0

    async def say(self, sender: str, body: str, key: str = "hall", event_id: str = "") -> str:
        self.n += 1
        event_id = event_id or f"$c{self.n}"
        await self.bridge.router.handle(
            message(event_id, sender, body, await room(self.bridge, key)), NOW, fresh=True
        )
        return event_id

    async def answer(self, sender: str, poll: str, choice: str) -> None:
        self.n += 1
        hall = await room(self.bridge, "hall")
        await self.bridge.router.handle(
            response(f"$r{self.n}", sender, poll, [choice], hall, ts=self.n), NOW, fresh=True
        )


async def owners_vote(steps: Steps, secret: bool = False) -> str:
    extra = " | 不记名" if secret else ""
    await steps.say(YEWEI, f"!表决 修路 | 简单多数 | 业主{extra}")
    if secret:
        return ""
    [start] = [s for s in recording(steps.bridge).sent if s.event_type.endswith("poll.start")]
    return start.event_id


def bodies(bridge: Bridge) -> list[str]:
    return recording(bridge).bodies()


async def test_a_confirmed_proxy_votes_for_the_household_and_the_owner_is_refused_after(
    bridge: Bridge,
) -> None:
    steps = Steps(bridge)
    poll = await owners_vote(steps)
    await steps.say(ALICE, f"!委托 1 {DAVE}")
    committee = await room(bridge, "committee")
    asked = recording(bridge).bodies(committee)
    assert asked == [
        f"委托申请 #1：{ALICE} 请 {DAVE} 替 3-1-101 户投票（只限表决 #1）。"
        "请委员会核实后回复 !委托 确认 1，或 !委托 拒绝 1 理由。"
    ]
    # Not in force before a committee member confirms it: Dave's vote is refused.
    await steps.say(DAVE, "!表决 投 1 同意", key="neighbours")
    assert bodies(bridge)[-1].startswith("只有")
    await steps.say(YEWEI, "!委托 确认 1", key="committee")
    dm_to_dave = [s for s in recording(bridge).sent if s.body.startswith(f"{ALICE} 委托您")]
    assert len(dm_to_dave) == 1
    assert dm_to_dave[0].content["msgtype"] == "m.text"  # an alert: it rings the phone
    assert dm_to_dave[0].content["m.mentions"] == {"user_ids": [DAVE]}
    assert any(b.startswith("您的委托 #1 已确认") for b in bodies(bridge))

    # Dave votes by command from his direct room (he is not in the compound's rooms).
    dm = dm_to_dave[0].room_id
    await bridge.router.handle(message("$d1", DAVE, "!表决 投 1 反对", dm), NOW, fresh=True)
    assert bodies(bridge)[-1].startswith("已记下您作为代理人替所代理的一户对表决 #1 的投票")
    # Alice answers after her proxy: refused, and told why.
    await steps.answer(ALICE, poll, "yes")
    assert bodies(bridge)[-1].startswith("您家的代理人已经替您家投了表决 #1")
    await steps.answer(CAROL, poll, "yes")
    await steps.say(YEWEI, "!表决 进度 1")
    assert bodies(bridge)[-1].endswith("，其中 1 户由代理人投票")
    # Revoking is refused now that the household has voted in vote #1.
    await steps.say(ALICE, "!委托 撤销 1")
    assert bodies(bridge)[-1] == "委托 #1 不能撤销了：这一户已经在表决 #1 投过票。"

    await steps.say(YEWEI, "!投票 结束 1")
    votes = bridge.bot(VoteBot).votes
    closed = await votes.get("heping", 1)
    assert closed is not None and not closed.is_open
    material = await audit_material(bridge.store.db, closed.id, secret=False)
    data = json.loads(audit.audit_file(closed, "和平小区", material))
    assert data["format"] == "linli-vote-audit/2.1"
    by_voter = {b["voter"]: b for b in data["ballots"]}
    assert by_voter["3-1-101"]["choice"] == "no"
    assert by_voter["3-1-101"]["proxy"] == DAVE
    assert by_voter["3-1-101"]["proxy_confirmed_by"] == YEWEI
    assert "proxy" not in by_voter["3-1-102"]
    jsonschema.validate(data, SCHEMA)
    assert audit.verify(data) == (True, [])
    # The verifier holds a proxy ballot to its fields.
    del by_voter["3-1-101"]["proxy_confirmed_by"]
    ok, problems = audit.verify(data)
    assert not ok and "lacks its proxy or confirmation" in problems[0]


async def test_the_owners_answer_first_refuses_the_proxys(bridge: Bridge) -> None:
    steps = Steps(bridge)
    poll = await owners_vote(steps)
    await steps.say(ALICE, f"!委托 {DAVE}")  # every vote until revoked
    await steps.say(JUWEI, "!委托 确认 1", key="committee")
    await steps.answer(ALICE, poll, "yes")
    dm = next(s.room_id for s in recording(bridge).sent if s.body.startswith(f"{ALICE} 委托您"))
    await bridge.router.handle(message("$d1", DAVE, "!表决 投 1 反对", dm), NOW, fresh=True)
    assert bodies(bridge)[-1].startswith("您代理的这一户已经自己投了表决 #1")
    votes = bridge.bot(VoteBot).votes
    record = await votes.get("heping", 1)
    assert record is not None
    assert [a.voter for a in await votes.answers(record.id)] == [ALICE]
    assert await bridge.bot(VoteBot).proxy_store.proxy_households(record.id) == 0


async def test_a_proxy_is_revoked_before_voting_and_then_cannot_vote(bridge: Bridge) -> None:
    steps = Steps(bridge)
    await owners_vote(steps)
    await steps.say(ALICE, f"!委托 1 {DAVE}")
    await steps.say(YEWEI, "!委托 确认 1", key="committee")
    await steps.say(ALICE, "!委托 撤销 1")
    assert bodies(bridge)[-1] == "已撤销委托 #1。"
    assert any(b == "委托 #1（3-1-101 户）已撤销。" for b in bodies(bridge))  # Dave is told
    dm = next(s.room_id for s in recording(bridge).sent if s.body.startswith(f"{ALICE} 委托您"))
    await bridge.router.handle(message("$d1", DAVE, "!表决 投 1 反对", dm), NOW, fresh=True)
    assert bodies(bridge)[-1] == "这个命令要在小区的群里用。"
    # A new proxy may be asked for once the old one is gone; while one is active, not.
    await steps.say(ALICE, f"!委托 {ERIN}")
    await steps.say(ALICE, f"!委托 {DAVE}")
    assert bodies(bridge)[-1].startswith("您家已经有一份委托（#2）")


async def test_requests_from_non_owners_to_staff_or_for_secret_votes_are_refused(
    bridge: Bridge,
) -> None:
    steps = Steps(bridge)
    await steps.say(BOB, f"!委托 {DAVE}")
    assert bodies(bridge)[-1] == "只有业主可以委托别人替自己家投票。"
    await steps.say(ALICE, f"!委托 {WUYE}")
    assert bodies(bridge)[-1].startswith("不能委托给物业或观察员")
    await steps.say(ALICE, f"!委托 {ALICE}")
    assert bodies(bridge)[-1] == "不能委托给自己。"
    await steps.say(ALICE, "!委托 谁")
    assert bodies(bridge)[-1].startswith("请这样写：!委托 @某人")
    await owners_vote(steps, secret=True)
    await steps.say(ALICE, f"!委托 1 {DAVE}")
    assert bodies(bridge)[-1] == "表决 #1 是不记名的，不能委托别人投。"
    # A standing proxy does not reach into a secret vote: the typed choice is removed.
    await steps.say(ALICE, f"!委托 {DAVE}")
    await steps.say(YEWEI, "!委托 确认 1", key="committee")
    await steps.say(DAVE, "!表决 投 1 同意 3-1-101")
    assert bodies(bridge)[-1].startswith("表决 #1 是不记名的，不能由代理人投票")
    # Only a committee member confirms, and not one who is party to it.
    await steps.say(CAROL, "!委托 确认 1")
    assert bodies(bridge)[-1].startswith("只有")
    proxies = bridge.bot(VoteBot).proxy_store
    assert [p.status for p in await proxies.listed("heping", None)] == ["confirmed"]


async def test_a_request_and_its_confirmation_replayed_past_the_txn_cache_happen_once(
    bridge: Bridge,
) -> None:
    steps = Steps(bridge)
    client = recording(bridge)
    request = await steps.say(ALICE, f"!委托 {DAVE}")
    client._by_txn.clear()  # the homeserver forgot the transaction IDs (~30 minutes)
    await steps.say(ALICE, f"!委托 {DAVE}", event_id=request)
    confirm = await steps.say(YEWEI, "!委托 确认 1", key="committee")
    client._by_txn.clear()
    await steps.say(YEWEI, "!委托 确认 1", key="committee", event_id=confirm)
    proxies = bridge.bot(VoteBot).proxy_store
    assert len(await proxies.listed("heping", None)) == 1
    assert len([b for b in bodies(bridge) if b.startswith("委托申请 #1")]) == 1
    assert len([b for b in bodies(bridge) if b.startswith(f"{ALICE} 委托您")]) == 1
    assert len([b for b in bodies(bridge) if b.startswith("您的委托 #1 已确认")]) == 1


async def test_export_lists_a_persons_proxies_and_moving_out_revokes_them(bridge: Bridge) -> None:
    steps = Steps(bridge)
    await steps.say(ALICE, f"!委托 {DAVE}")
    await steps.say(YEWEI, "!委托 确认 1", key="committee")
    bot = bridge.bot(VoteBot)
    exported: dict[str, Any] = await bot.export_personal(DAVE)
    [held] = exported["vote_proxies"]
    assert (held["role"], held["household"], held["status"], held["vote"]) == (
        "proxy",
        "3-1-101",
        "confirmed",
        None,
    )
    await steps.say(ALICE, "!我 搬走 确认", key="neighbours")
    [given] = (await bot.export_personal(ALICE))["vote_proxies"]
    assert given["status"] == "revoked"
    assert await bot.proxy_store.in_force_for("heping", DAVE, 1) == []
    # Erasure: the proxy no longer names the person who held it.
    await bot.erase_personal(DAVE, None)
    assert (await bot.export_personal(DAVE))["vote_proxies"] == []


async def test_a_holder_of_several_proxies_names_the_household(bridge: Bridge) -> None:
    steps = Steps(bridge)
    poll = await owners_vote(steps)
    await steps.say(ALICE, f"!委托 {DAVE}")
    await steps.say(CAROL, f"!委托 {DAVE}")
    await steps.say(YEWEI, "!委托 确认 1", key="committee")
    await steps.say(YEWEI, "!委托 确认 2", key="committee")
    dm = next(s.room_id for s in recording(bridge).sent if s.body.startswith(f"{ALICE} 委托您"))
    await bridge.router.handle(message("$d1", DAVE, "!表决 投 1 同意", dm), NOW, fresh=True)
    assert bodies(bridge)[-1].startswith("您代理了好几户")
    await bridge.router.handle(message("$d2", DAVE, "!表决 投 1 同意 3-1-102", dm), NOW, fresh=True)
    assert bodies(bridge)[-1].startswith("已记下您作为代理人")
    # An owner who names their own household votes for it as themselves.
    await steps.say(ALICE, "!表决 投 1 反对 3-1-101")
    assert bodies(bridge)[-1].startswith("已记下您家对表决 #1 的投票")
    votes = bridge.bot(VoteBot).votes
    record = await votes.get("heping", 1)
    assert record is not None and poll
    assert [(a.voter, a.household) for a in await votes.answers(record.id)] == [
        (DAVE, "3-1-102"),
        (ALICE, "3-1-101"),
    ]
    await steps.say(YEWEI, "!委托 列表", key="committee")
    listing = bodies(bridge)[-1].split("\n")
    assert listing[0] == "委托："
    assert listing[1] == f"#1 3-1-101 户：{ALICE} → {DAVE}（所有表决，直到撤销，有效）"


def test_a_format_2_file_still_verifies() -> None:
    from tests.unit.test_votes_audit import audit_data

    data = audit_data()
    assert data["format"] == "linli-vote-audit/2"
    jsonschema.validate(data, SCHEMA)
    assert audit.verify(data) == (True, [])


async def test_a_standing_proxy_hears_when_a_vote_opens_and_votes_from_the_direct_room(
    bridge: Bridge,
) -> None:
    steps = Steps(bridge)
    await steps.say(ALICE, f"!委托 {DAVE}")
    await steps.say(YEWEI, "!委托 确认 1", key="committee")
    await owners_vote(steps)
    await steps.say(YEWEI, "!表决 换物业 | 简单多数 | 业主 | 不记名")  # no proxies: no word
    told = [s for s in recording(bridge).sent if s.body.startswith("表决 #1 已发起：修路\n您是")]
    assert len(told) == 1
    assert told[0].content["m.mentions"] == {"user_ids": [DAVE]}
    assert not [s for s in recording(bridge).sent if s.body.startswith("表决 #2 已发起")]
    await bridge.router.handle(
        message("$d1", DAVE, "!表决 投 1 弃权", told[0].room_id), NOW, fresh=True
    )
    assert bodies(bridge)[-1].startswith("已记下您作为代理人")
