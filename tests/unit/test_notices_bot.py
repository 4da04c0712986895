"""The notices bot through the router, on a real store (SQLite and PostgreSQL) with a
recording homeserver client (no network): posting, bad input, receipts against the rooms'
order, acknowledgements, reach, and every handler run twice for one event posting nothing
new."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bots import ALL_BOTS
from bots.notices.bot import NoticeBot
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig
from bridge.matrix_errors import TooLarge
from bridge.roles import Role
from bridge.rooms_config import load_rooms_config
from tests.recording_client import RecordingClient

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
STAFF = "@wuye_wang:linli.localhost"
A, B, C = "@a:linli.localhost", "@b:linli.localhost", "@c:linli.localhost"
CONTACT = "@contact:linli.localhost"


@pytest.fixture
async def bridge(database_url: str) -> AsyncIterator[Bridge]:
    """On SQLite and on PostgreSQL (tests/conftest.py)."""
    token = secrets.token_hex(8)
    config = BridgeConfig(
        appservice=AppserviceConfig(as_token=token, hs_token=token),
        database=DatabaseConfig(url=database_url),
    )
    rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
    running = Bridge(
        config, rooms, ALL_BOTS, client=RecordingClient(config.bot_user_id), clock=FakeClock(NOW)
    )
    await running.open()
    people = running.store.people
    await people.bind_household("heping", A, "3", "1", "101", NOW)
    await people.bind_household("heping", B, "3", "2", "1101", NOW)
    await people.bind_household("heping", C, "2", "1", "201", NOW)
    await people.bind_household("heping", CONTACT, "3", "1", "102", NOW)
    await people.grant("heping", CONTACT, Role.BUILDING_CONTACT, STAFF, NOW)
    await running.provisioner.apply()
    yield running
    await running.store.close()


def client_of(bridge: Bridge) -> RecordingClient:
    assert isinstance(bridge.client, RecordingClient)
    return bridge.client


async def room(bridge: Bridge, key: str) -> str:
    record = await bridge.store.rooms.by_key(f"heping:{key}")
    assert record is not None
    return record.room_id


def message(event_id: str, sender: str, body: str, room_id: str, ts: int = 1) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "room_id": room_id,
        "sender": sender,
        "type": "m.room.message",
        "origin_server_ts": ts,
        "content": {"msgtype": "m.text", "body": body},
    }


def receipt(room_id: str, user: str, event_id: str) -> dict[str, Any]:
    return {
        "linli.ephemeral": True,
        "type": "m.receipt",
        "room_id": room_id,
        "content": {event_id: {"m.read": {user: {"ts": 5}}}},
    }


def reaction(event_id: str, sender: str, target: str, room_id: str, key: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "room_id": room_id,
        "sender": sender,
        "type": "m.reaction",
        "origin_server_ts": 3,
        "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}},
    }


async def post(bridge: Bridge, body: str, event_id: str = "$post") -> str:
    staff_room = await room(bridge, "five_in_one")
    await bridge.router.handle(message(event_id, STAFF, body, staff_room), NOW, fresh=True)
    return client_of(bridge).bodies(staff_room)[-1]


async def test_a_notice_to_building_3_goes_to_announcements_and_that_room_only(
    bridge: Bridge,
) -> None:
    answer = await post(bridge, "!通知 3 **停水**通知\n明天 9:00-12:00")
    assert "通知 #1 已发布" in answer and "小区公告、3号楼" in answer
    client = client_of(bridge)
    announcements, b3, b2 = (
        await room(bridge, "announcements"),
        await room(bridge, "building_3"),
        await room(bridge, "building_2"),
    )
    [notice] = [s for s in client.sent if s.room_id == b3 and s.event_type == "m.room.message"]
    assert notice.content["body"].startswith("【通知 #1】\n**停水**通知\n明天")
    assert "<strong>停水</strong>" in notice.content["formatted_body"]
    assert notice.content["format"] == "org.matrix.custom.html"
    assert notice.content["m.mentions"] == {}  # not urgent: pings no one
    assert any(s.room_id == announcements for s in client.sent)
    assert not any(s.room_id == b2 for s in client.sent)
    reactions = [s for s in client.sent if s.event_type == "m.reaction"]
    assert {s.room_id for s in reactions} == {announcements, b3}


async def test_a_group_notice_goes_to_its_room_with_reminders_but_no_visit_list(
    bridge: Bridge,
) -> None:
    answer = await post(bridge, "!通知 dance 周六停跳一次")
    assert "兴趣小组“广场舞队”" in answer and "发在：广场舞队" in answer
    client = client_of(bridge)
    dance = await room(bridge, "dance")
    posted = {s.room_id for s in client.sent if s.event_type == "m.room.message"}
    assert posted == {dance, await room(bridge, "five_in_one")}
    jobs = bridge.store.jobs
    assert await jobs.get("notice:1:remind:1") is not None
    assert await jobs.get("notice:1:expire") is not None
    assert await jobs.get("notice:1:visits") is None  # no 楼长 at the door for a club
    listing = await post(bridge, "!通知 列表", "$list")
    assert "兴趣小组“广场舞队”" in listing


async def test_the_same_command_handled_twice_posts_once(bridge: Bridge) -> None:
    staff_room = await room(bridge, "five_in_one")
    command = message("$post", STAFF, "!通知 全体 紧急 停电", staff_room)
    await bridge.router.handle(command, NOW, fresh=True)
    sent = len(client_of(bridge).sent)
    await bridge.router.handle(command, NOW, fresh=False)
    assert len(client_of(bridge).sent) == sent
    notices = await bridge.bot(NoticeBot).notices.listing("heping")
    assert [n.number for n in notices] == [1]
    urgent = [s for s in client_of(bridge).sent if "紧急通知 #1" in s.body]
    assert len(urgent) == 4  # announcements + buildings 1, 2, 3
    assert all(s.content["m.mentions"] == {"user_ids": [], "room": True} for s in urgent)
    [record] = notices
    posts = await bridge.bot(NoticeBot).notices.posts(record.id)
    assert len(posts) == 4 and all(p.pinned for p in posts)


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("!通知 9 停水", "没有 9 号楼"),
        ("!通知 3", "通知没有内容"),
        ("!通知 3 定时 明天 停水", "看不懂时间"),
        ("!通知 3 每 0 9 * * 停水", "看不懂重复计划"),
    ],
)
async def test_bad_input_is_answered_and_posts_nothing(
    bridge: Bridge, body: str, answer: str
) -> None:
    reply = await post(bridge, body)
    assert answer in reply
    assert await bridge.bot(NoticeBot).notices.listing("heping") == []
    announcements = await room(bridge, "announcements")
    assert client_of(bridge).bodies(announcements) == []


async def test_residents_cannot_post_and_staff_only_in_staff_rooms(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    await bridge.router.handle(message("$r", A, "!通知 3 停水", neighbours), NOW, fresh=True)
    assert client_of(bridge).bodies(neighbours)[-1].startswith("只有")
    await bridge.router.handle(message("$s", STAFF, "!通知 3 停水", neighbours), NOW, fresh=True)
    assert "工作群" in client_of(bridge).bodies(neighbours)[-1]
    assert await bridge.bot(NoticeBot).notices.listing("heping") == []


async def test_receipts_at_or_after_the_notice_and_acks_make_reach(bridge: Bridge) -> None:
    b3 = await room(bridge, "building_3")
    b2 = await room(bridge, "building_2")
    handle = bridge.router.handle
    # An event before the notice: a receipt on it does not count.
    await handle(message("$before", A, "早", b3, ts=0), NOW)
    await post(bridge, "!通知 3 停水")
    client = client_of(bridge)
    [notice] = [s for s in client.sent if s.room_id == b3 and s.event_type == "m.room.message"]
    await handle(message("$later", C, "知道了", b3, ts=10), NOW)
    await handle(receipt(b3, CONTACT, "$before"), NOW)
    await handle(receipt(b3, A, notice.event_id), NOW)
    await handle(receipt(b3, B, "$later"), NOW)
    await handle(receipt(b2, C, "$unknown"), NOW)
    await handle(reaction("$ack", B, notice.event_id, b3, "✅"), NOW)
    await handle(reaction("$heart", A, notice.event_id, b3, "❤️"), NOW)
    staff_room = await room(bridge, "five_in_one")
    await handle(message("$reach", STAFF, "!通知 回执 1", staff_room), NOW, fresh=True)
    answer, image = client.sent[-2].body, client.sent[-1]
    assert image.content["msgtype"] == "m.image" and image.room_id == staff_room
    # Building 3: households 3-1-101 (A), 3-1-102 (the contact), 3-2-1101 (B).
    assert "3 户中已送达 2 户（67%）" in answer
    assert "确认收到 1 户，已读 1 户，当面告知 0 户" in answer
    assert "还没有导入住户花名册" in answer
    assert "3号楼：2/3 户" in answer and "未送达、有账号：3-1-102" in answer
    assert "2号楼" not in answer  # building 2 was not targeted
    assert "下限" in answer

    # The 楼长 tells the last household in person; `!收到` by someone not targeted is harmless.
    await handle(message("$told", CONTACT, "!通知 已通知 1 3-1-102", b3), NOW, fresh=True)
    assert "已当面通知" in client.bodies(b3)[-1]
    await handle(message("$told2", CONTACT, "!通知 已通知 1 2-1-201", b3), NOW, fresh=True)
    assert "不在通知 #1 的范围内" in client.bodies(b3)[-1]
    await handle(message("$reach2", STAFF, "!通知 回执 1", staff_room), NOW, fresh=True)
    assert "3 户中已送达 3 户（100%）" in client.bodies(staff_room)[-2]
    assert client.paths["upload"] == 3  # a chart drawn again (and the bot's avatar, at apply)

    # Asked again unchanged: the chart uploaded before. A household verified since is counted.
    await handle(message("$reach3", STAFF, "!通知 回执 1", staff_room), NOW, fresh=True)
    charts = [s for s in client.sent if s.content.get("msgtype") == "m.image"]
    assert len(charts) == 3 and charts[-1].content == charts[-2].content
    assert client.paths["upload"] == 3
    await bridge.store.people.bind_household("heping", "@d:linli.localhost", "3", "3", "301", NOW)
    await handle(message("$reach4", STAFF, "!通知 回执 1", staff_room), NOW, fresh=True)
    assert "4 户中已送达 3 户" in client.bodies(staff_room)[-2]
    assert "未送达、有账号：3-3-301" in client.bodies(staff_room)[-2]


async def test_edit_replaces_the_notice_in_every_room_and_cancel_withdraws_it(
    bridge: Bridge,
) -> None:
    await post(bridge, "!通知 3 停水")
    answer = await post(bridge, "!通知 修改 1 改为停电", "$edit")
    assert "已修改（2 个群）" in answer
    edits = [s for s in client_of(bridge).sent if s.content.get("m.new_content")]
    assert len(edits) == 2
    assert all(s.content["m.relates_to"]["rel_type"] == "m.replace" for s in edits)
    assert all("改为停电" in s.content["m.new_content"]["body"] for s in edits)
    answer = await post(bridge, "!通知 取消 1", "$cancel")
    assert "已取消" in answer
    again = await post(bridge, "!通知 取消 1", "$cancel2")
    assert "已取消或已过期" in again


async def test_scheduled_notice_posts_at_its_time_once_and_reminds_then_lists_visits(
    bridge: Bridge,
) -> None:
    answer = await post(bridge, "!通知 3 定时 11:00 电梯检修")
    assert "将在 11月23日 11:00 发布" in answer
    b3 = await room(bridge, "building_3")
    client = client_of(bridge)
    assert client.bodies(b3) == []
    clock = bridge.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(hours=1))
    await bridge.scheduler.run_due()
    assert [b for b in client.bodies(b3) if "电梯检修" in b]
    # Nobody acknowledged: the first reminder (4 h) goes to each targeted resident by DM.
    [notice] = [s for s in client.sent if s.room_id == b3 and s.event_type == "m.room.message"]
    await bridge.router.handle(reaction("$ack", A, notice.event_id, b3, "收到"), NOW)
    clock.advance(timedelta(hours=4))
    await bridge.scheduler.run_due()
    reminders = [s for s in client.sent if s.body.startswith("提醒：您还没有确认通知 #1")]
    assert len(reminders) == 2  # B and the contact; A acknowledged
    # After the last reminder (1 d) and an hour: the 楼长 gets the households to visit.
    clock.advance(timedelta(days=1, hours=1))
    await bridge.scheduler.run_due()
    [visits] = [s for s in client.sent if s.body.startswith("楼长您好")]
    assert "3-1-102" in visits.body and "3-2-1101" in visits.body and "3-1-101" not in visits.body
    assert await bridge.scheduler.run_due() == 0


async def test_ack_in_a_direct_room_counts_for_the_residents_compound(bridge: Bridge) -> None:
    await post(bridge, "!通知 3 停水")
    await bridge.router.handle(message("$dm-ack", B, "!收到 1", "!dm:linli.localhost"), NOW)
    assert "已确认收到通知 #1" in client_of(bridge).bodies("!dm:linli.localhost")[-1]
    [notice] = await bridge.bot(NoticeBot).notices.listing("heping")
    assert B in (await bridge.bot(NoticeBot).notices.reach_rows(notice.id)).acknowledged


async def test_a_recurring_notice_runs_until_its_expiry_and_stopping_it_says_so(
    bridge: Bridge,
) -> None:
    # Every day at 09:00 for 3 days, from Monday 10:00: Tuesday, Wednesday and Thursday.
    answer = await post(bridge, "!通知 3 每 0 9 * * * 有效 3天 垃圾分类")
    assert "到 11月26日 10:00 为止" in answer and "下一次：11月24日 09:00" in answer
    b3 = await room(bridge, "building_3")
    client = client_of(bridge)
    clock = bridge.clock
    assert isinstance(clock, FakeClock)
    for _ in range(5):
        clock.advance(timedelta(days=1))
        await bridge.scheduler.run_due()
    posted = [b for b in client.bodies(b3) if "垃圾分类" in b]
    assert len(posted) == 3
    # The series and the three times posted (each within the series' end) have expired.
    assert await post(bridge, "!通知 列表", "$list") == "没有进行中的通知。"
    # A series without an end: stopping it says that what was posted stays.
    await post(bridge, "!通知 3 每 0 9 * * * 倒垃圾", "$series")
    stopped = await post(bridge, "!通知 取消 5", "$stop")
    assert stopped.startswith("重复通知 #5 已停止")
    clock.advance(timedelta(days=1))
    await bridge.scheduler.run_due()
    assert not [b for b in client.bodies(b3) if "倒垃圾" in b]
    # A scheduled one was never posted: nothing to withdraw.
    await post(bridge, "!通知 3 定时 23:00 停电", "$at")
    assert (await post(bridge, "!通知 取消 6", "$cancel-at")) == "通知 #6 已取消，不会发布。"


async def test_a_recurring_notice_whose_expiry_comes_before_its_first_time_is_refused(
    bridge: Bridge,
) -> None:
    answer = await post(bridge, "!通知 3 每 0 9 * * * 有效 2小时 垃圾分类")
    assert answer == "到期之前没有一次发布时间，请检查时间表和有效期。"
    assert "没有进行中的通知" in await post(bridge, "!通知 列表", "$list")


async def test_private_receipts_and_linlis_own_never_count(bridge: Bridge) -> None:
    b3 = await room(bridge, "building_3")
    await post(bridge, "!通知 3 停水")
    client = client_of(bridge)
    [notice] = [s for s in client.sent if s.room_id == b3 and s.event_type == "m.room.message"]
    hidden = receipt(b3, A, notice.event_id)
    hidden["content"] = {notice.event_id: {"m.read.private": {A: {"ts": 5}}}}
    await bridge.router.handle(hidden, NOW)
    reader = bridge.bot(NoticeBot).board.reader
    await bridge.router.handle(receipt(b3, reader, notice.event_id), NOW)
    [record] = await bridge.bot(NoticeBot).notices.listing("heping")
    assert (await bridge.bot(NoticeBot).notices.reach_rows(record.id)).read == set()
    await bridge.router.handle(receipt(b3, A, notice.event_id), NOW)
    assert (await bridge.bot(NoticeBot).notices.reach_rows(record.id)).read == {A}


async def test_a_notice_the_homeserver_refuses_as_too_large_is_not_kept_as_posted(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_of(bridge)
    send = client.send
    announcements = await room(bridge, "announcements")

    async def refusing(room_id: str, content: dict[str, Any], *args: Any, **kw: Any) -> str:
        if room_id == announcements:  # a homeserver with a lower limit than Synapse's
            raise TooLarge(413, "M_TOO_LARGE", "event too large", "PUT", "/send")
        return await send(room_id, content, *args, **kw)

    monkeypatch.setattr(client, "send", refusing)
    answer = await post(bridge, "!通知 3 停水")
    assert "太长" in answer and "没有发布" in answer
    assert await bridge.bot(NoticeBot).notices.listing("heping") == []
