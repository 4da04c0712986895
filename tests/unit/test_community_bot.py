"""The community bot through the router, on a real store (SQLite and PostgreSQL) with a
recording homeserver client: an activity posted, a 接龙 by taps and commands, the list edited
once per burst, the waiting list moving up with a direct message, replays changing nothing,
check-in and hours, bad input, a person's data exported and erased."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from bots import ALL_BOTS
from bots.community.bot import CommunityBot
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig
from bridge.rooms_config import load_rooms_config
from tests.recording_client import RecordingClient, Sent

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
STAFF = "@wuye_wang:linli.localhost"
A, B, C, D = (f"@{n}:linli.localhost" for n in "abcd")
ACTIVITY = "!活动 义诊 | 时间 11-25 09:00 | 地点 居委会 | 名额 2 | 截止 11-24 18:00 | 志愿者 1"


class CrashingClient(RecordingClient):
    """A recording homeserver that fails once when asked to send a body with `fail_on` (as
    if Linli died between storing a change and sending its message)."""

    fail_on: str | None = None

    def __init__(self, bot_user_id: str) -> None:
        super().__init__(bot_user_id)
        self.redacted: list[str] = []  # the event IDs redacted, in order

    async def request(self, method: str, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        if "/redact/" in path:
            self.redacted.append(unquote(path.split("/redact/")[1].split("/")[0]))
        if self.fail_on and isinstance(body, dict) and self.fail_on in str(body.get("body")):
            self.fail_on = None
            raise ConnectionResetError("the homeserver went away")
        return await super().request(method, path, body, **kw)


@pytest.fixture
async def bridge(database_url: str) -> AsyncIterator[Bridge]:
    token = secrets.token_hex(8)
    config = BridgeConfig(
        appservice=AppserviceConfig(as_token=token, hs_token=token),
        database=DatabaseConfig(url=database_url),
    )
    rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
    running = Bridge(
        config, rooms, ALL_BOTS, client=CrashingClient(config.bot_user_id), clock=FakeClock(NOW)
    )
    await running.open()
    people = running.store.people
    for n, user in enumerate((A, B, C, D)):
        await people.bind_household("heping", user, "3", "1", f"10{n}", NOW)
    await running.provisioner.apply()
    yield running
    await running.store.close()


def client_of(bridge: Bridge) -> CrashingClient:
    assert isinstance(bridge.client, CrashingClient)
    return bridge.client


def clock_of(bridge: Bridge) -> FakeClock:
    assert isinstance(bridge.services.clock, FakeClock)
    return bridge.services.clock


async def room(bridge: Bridge, key: str) -> str:
    record = await bridge.store.rooms.by_key(f"heping:{key}")
    assert record is not None
    return record.room_id


def message(event_id: str, sender: str, body: str, room_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "room_id": room_id,
        "sender": sender,
        "type": "m.room.message",
        "origin_server_ts": 1,
        "content": {"msgtype": "m.text", "body": body},
    }


def tap(event_id: str, sender: str, target: str, room_id: str, key: str = "🙋") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "room_id": room_id,
        "sender": sender,
        "type": "m.reaction",
        "origin_server_ts": 2,
        "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}},
    }


def untap(event_id: str, sender: str, reaction: str, room_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "room_id": room_id,
        "sender": sender,
        "type": "m.room.redaction",
        "origin_server_ts": 3,
        "content": {"redacts": reaction},
    }


async def handle(bridge: Bridge, raw: dict[str, Any], fresh: bool = True) -> None:
    await bridge.router.handle(raw, clock_of(bridge).now(), fresh=fresh)


async def post_activity(bridge: Bridge) -> Sent:
    """Staff post the activity from the neighbours' room; returns its card."""
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, message("$act", STAFF, ACTIVITY, neighbours))
    [card] = [
        s
        for s in client_of(bridge).sent
        if s.room_id == neighbours and s.body.startswith("【活动 #1】")
    ]
    return card


def edits_of(bridge: Bridge, card: Sent) -> list[Sent]:
    return [
        s
        for s in client_of(bridge).sent
        if s.content.get("m.relates_to", {}).get("rel_type") == "m.replace"
        and s.content["m.relates_to"]["event_id"] == card.event_id
    ]


async def settle(bridge: Bridge) -> None:
    """Two seconds later: the coalesced edit of the list has fired."""
    clock_of(bridge).advance(timedelta(seconds=2))
    await bridge.scheduler.run_due()


async def test_an_activity_is_one_card_with_taps_offered_and_the_code_sent_privately(
    bridge: Bridge,
) -> None:
    card = await post_activity(bridge)
    client = client_of(bridge)
    neighbours = await room(bridge, "neighbours")
    assert card.content["msgtype"] == "m.notice" and card.content["m.mentions"] == {}
    assert "时间：11月25日 09:00（约 2 小时）" in card.body
    assert "名额：2 人，已报 0 人" in card.body and "需要志愿者 1 人" in card.body
    offered = {
        s.content["m.relates_to"]["key"] for s in client.sent if s.event_type == "m.reaction"
    }
    assert offered == {"🙋", "🙌"}
    assert any("活动 #1 已发布在：邻里群" in b for b in client.bodies(neighbours))
    [code] = [s for s in client.sent if "签到码是" in s.body]
    assert code.room_id != neighbours  # never in the room


async def test_taps_fill_the_places_then_the_waiting_list_in_one_edit(bridge: Bridge) -> None:
    card = await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    for n, user in enumerate((A, B, C)):
        await handle(bridge, tap(f"$tap{n}", user, card.event_id, neighbours))
    assert edits_of(bridge, card) == []  # coalesced: not yet
    await settle(bridge)
    [edit] = edits_of(bridge, card)
    body = edit.content["m.new_content"]["body"]
    assert "—— 接龙（2 人）——\n1. a\n2. b\n—— 候补（1 人）——\n1. c" in body
    assert edit.content["m.mentions"] == {}
    # Tapping again, or the same tap handled again after a crash, changes nothing.
    await handle(bridge, tap("$tap0", A, card.event_id, neighbours), fresh=False)
    await handle(bridge, tap("$tap0b", A, card.event_id, neighbours))
    await settle(bridge)
    assert len(edits_of(bridge, card)) == 1


async def test_leaving_moves_the_first_waiting_up_and_tells_them_once(bridge: Bridge) -> None:
    card = await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    for n, user in enumerate((A, B, C, D)):
        await handle(bridge, tap(f"$tap{n}", user, card.event_id, neighbours))
    await settle(bridge)
    await handle(bridge, untap("$untap", B, "$tap1", neighbours))
    await handle(bridge, untap("$untap", B, "$tap1", neighbours), fresh=False)  # a replay
    await settle(bridge)
    client = client_of(bridge)
    told = [s for s in client.sent if "已从候补转为正式报名" in s.body]
    assert len(told) == 1
    assert told[0].content["msgtype"] == "m.text"
    assert told[0].content["m.mentions"] == {"user_ids": [C]}
    last = edits_of(bridge, card)[-1].content["m.new_content"]["body"]
    assert "1. a\n2. c\n—— 候补（1 人）——\n1. d" in last
    # Someone else's redaction of B's (already gone) tap does nothing.
    await handle(bridge, untap("$untap2", D, "$tap0", neighbours))
    await settle(bridge)
    assert "1. a\n2. c" in edits_of(bridge, card)[-1].content["m.new_content"]["body"]


async def test_a_crash_before_the_moved_up_message_sends_it_when_the_removal_is_replayed(
    bridge: Bridge,
) -> None:
    card = await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    for n, user in enumerate((A, B, C)):
        await handle(bridge, tap(f"$tap{n}", user, card.event_id, neighbours))
    client = client_of(bridge)
    assert isinstance(client, CrashingClient)
    client.fail_on = "已从候补转为正式报名"
    with pytest.raises(ConnectionResetError):
        await handle(bridge, untap("$untap", A, "$tap0", neighbours))
    assert not [s for s in client.sent if "已从候补转为正式报名" in s.body]
    await handle(bridge, untap("$untap", A, "$tap0", neighbours), fresh=False)
    told = [s for s in client.sent if "已从候补转为正式报名" in s.body]
    assert [s.content["m.mentions"]["user_ids"] for s in told] == [[C]]
    await settle(bridge)
    assert "1. b\n2. c\n" in edits_of(bridge, card)[-1].content["m.new_content"]["body"]


async def test_commands_sign_up_as_volunteer_with_a_note_and_leave(bridge: Bridge) -> None:
    await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    client = client_of(bridge)
    await handle(bridge, message("$s1", A, "!报名 1 志愿 带血压计", neighbours))
    assert client.bodies(neighbours)[-1] == "您已报名当活动 #1 的志愿者，是第 1 位。"
    await handle(bridge, message("$s2", B, "!signup 1", neighbours))
    assert client.bodies(neighbours)[-1] == "您已报名活动 #1，是第 1 位。"
    await handle(bridge, message("$s3", B, "!报名 1", neighbours))
    assert client.bodies(neighbours)[-1] == "您已经在活动 #1 的名单上了。"
    await handle(bridge, message("$l1", C, "!取消报名 1", neighbours))
    assert client.bodies(neighbours)[-1] == "您不在活动 #1 的名单上。"
    await handle(bridge, message("$l2", B, "!取消报名 1", neighbours))
    assert client.bodies(neighbours)[-1] == "您已取消报名活动 #1。"
    await handle(bridge, message("$x", B, "!报名 9", neighbours))
    assert client.bodies(neighbours)[-1] == "没有活动 #9。"
    await handle(bridge, message("$y", B, "!报名 一", neighbours))
    assert client.bodies(neighbours)[-1].startswith("用法")


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("!活动", "用法"),
        ("!活动 义诊", "请写活动时间"),
        ("!活动 义诊 | 时间 明天", "看不懂时间“明天”"),
        ("!活动 义诊 | 时间 11-20 09:00", "已经过去了"),
        ("!活动 义诊 | 时间 11-25 09:00 | 名额 很多", "名额“很多”不对"),
        ("!活动 义诊 | 时间 11-25 09:00 | 截止 11-26 09:00", "不能晚于"),
        ("!活动 义诊 | 时间 11-25 09:00 | 群 不存在", "没有叫“不存在”的群"),
        ("!活动 义诊 | 时间 11-25 09:00 | 颜色 红", "看不懂“颜色 红”"),
    ],
)
async def test_bad_activities_get_a_clear_answer_and_post_nothing(
    bridge: Bridge, body: str, answer: str
) -> None:
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, message("$bad", A, body, neighbours))
    bodies = client_of(bridge).bodies(neighbours)
    assert answer in bodies[-1]
    assert not any(b.startswith("【活动") for b in bodies)
    assert await bridge.bot(CommunityBot).desk.activities.by_number("heping", 1) is None


async def test_showing_the_building_instead_of_the_name(bridge: Bridge) -> None:
    card = await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, message("$show", A, "!报名 显示 楼号", neighbours))
    assert client_of(bridge).bodies(neighbours)[-1] == "以后名单上显示“3号楼住户”，不显示昵称。"
    await handle(bridge, tap("$tap", A, card.event_id, neighbours))
    await settle(bridge)
    assert "1. 3号楼住户" in edits_of(bridge, card)[-1].content["m.new_content"]["body"]


async def test_staff_cancel_takes_the_card_down_and_tells_those_signed_up(bridge: Bridge) -> None:
    card = await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, tap("$tap", A, card.event_id, neighbours))
    await handle(bridge, message("$del", B, "!活动 取消 1", neighbours))
    assert client_of(bridge).bodies(neighbours)[-1] == "只有发起人或工作人员可以这样做。"
    await handle(bridge, message("$del2", STAFF, "!活动 取消 1", neighbours))
    assert client_of(bridge).bodies(neighbours)[-1] == "活动 #1 已取消，已从群里撤回。"
    client = client_of(bridge)
    assert isinstance(client, CrashingClient) and client.redacted == [card.event_id]
    told = [s for s in client_of(bridge).sent if "已取消。" in s.body and "很抱歉" in s.body]
    assert [s.content["m.mentions"]["user_ids"] for s in told] == [[A]]
    await handle(bridge, tap("$late", B, card.event_id, neighbours))
    await handle(bridge, message("$s", B, "!报名 1", neighbours))
    assert client_of(bridge).bodies(neighbours)[-1] == "活动 #1 已经结束或取消了。"


async def test_a_persons_sign_ups_and_hours_are_exported_and_erased(bridge: Bridge) -> None:
    card = await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    bot = bridge.bot(CommunityBot)
    await handle(bridge, message("$v", A, "!报名 1 志愿 带药箱", neighbours))
    await handle(bridge, message("$c", STAFF, f"!签到 1 {A}", neighbours))
    exported = await bot.export_personal(A)
    assert exported["sign_ups"][0]["note"] == "带药箱"
    assert exported["volunteer_hours"] == [{"compound": "heping", "activity": 1, "minutes": 120}]
    await bot.erase_personal(A, None)
    assert await bot.export_personal(A) == {
        "activities_organised": [],
        "sign_ups": [],
        "volunteer_hours": [],
        "shown_on_lists_as": {},
    }
    start = datetime(2026, 11, 1, tzinfo=UTC)
    assert await bot.hours.store.total_minutes("heping", start, start + timedelta(days=60)) == 120
    await settle(bridge)
    assert "a" not in edits_of(bridge, card)[-1].content["m.new_content"]["body"].split("\n")[-3:]


async def test_help_lists_the_community_commands_by_role(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, message("$h", A, "!帮助", neighbours))
    text = client_of(bridge).bodies(neighbours)[-1]
    for usage in ("!报名 编号", "!取消报名 编号", "!志愿 时长", "!活动 名称"):
        assert usage in text
