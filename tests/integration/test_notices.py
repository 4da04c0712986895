"""Notices through the real Synapse: staff post with their own client, residents read (read
receipts), react and answer with theirs; the clock is a FakeClock the test moves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from bots.notices.bot import NoticeBot
from bots.notices.models import NoticeRoomEvent
from bridge.app import Bridge
from bridge.clock import FakeClock
from bridge.config import WebhookTarget
from bridge.roles import Role
from bridge.webhooks import SIGNATURE_HEADER, signature_header
from tests.integration.harness import Harness
from tests.integration.matrix_client import MatrixHTTPError, ResidentClient

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
BOT = "@linli:linli.localhost"


def from_bot(predicate: Callable[[str], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda e: (
        e["sender"] == BOT
        and e["type"] == "m.room.message"
        and predicate(e["content"].get("body", ""))
    )


async def eventually(
    condition: Callable[[], Awaitable[bool]],
    timeout: float = 15,  # noqa: ASYNC109
) -> None:
    """Wait until `condition` holds (a store that Linli fills from the homeserver's pushes,
    which no client can see): checked after every turn of the loop, never a fixed sleep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


@dataclass
class World:
    harness: Harness
    bridge: Bridge
    clock: FakeClock
    staff: ResidentClient
    work_room: str
    # Residents: two of building 3, one of building 1 (reads nothing), one of building 2.
    r3a: ResidentClient
    r3b: ResidentClient
    r1: ResidentClient
    r2: ResidentClient
    rooms: dict[str, str]

    @property
    def bot(self) -> NoticeBot:
        return self.bridge.bot(NoticeBot)

    async def command(self, body: str, answer: Callable[[str], bool]) -> str:
        """Send a command in the staff room; the bot's first new answer that fits."""
        before = {e["event_id"] for e in await self.staff.messages(self.work_room, 100)}
        await self.staff.send_text(self.work_room, body)
        reply = await self.staff.wait_for_event(
            self.work_room, lambda e: e["event_id"] not in before and from_bot(answer)(e)
        )
        return str(reply["content"]["body"])

    async def notice_in(self, client: ResidentClient, key: str, text: str) -> dict[str, Any]:
        return await client.wait_for_event(self.rooms[key], from_bot(lambda b: text in b))

    async def restart(self) -> None:
        await self.harness.stop_bridge(self.bridge)
        self.bridge = await self.harness.start_bridge(apply=False, clock=self.clock)


@pytest.fixture
async def w(harness: Harness, make_user, staff_client) -> World:
    return await build_world(harness, make_user, staff_client)


async def build_world(
    harness: Harness, make_user, staff_client, compounds: tuple[str, ...] = ("heping",)
) -> World:
    harness.only(*compounds)
    clock = FakeClock(MONDAY_10)
    r3a, r3b, r1, r2 = [await make_user() for _ in range(4)]
    bridge = await harness.start_bridge(apply=False, clock=clock)
    people = bridge.store.people
    for client, (building, unit, room) in (
        (r3a, ("3", "2", "1101")),
        (r3b, ("3", "1", "101")),
        (r1, ("1", "1", "101")),
        (r2, ("2", "1", "201")),
    ):
        await people.bind_household("heping", client.user_id, building, unit, room, clock.now())
    await bridge.provisioner.apply()
    staff = await staff_client("wuye_wang")
    work_room = await staff.join(harness.alias("heping-five_in_one"))
    rooms: dict[str, str] = {}
    for client, own in ((r3a, "3"), (r3b, "3"), (r1, "1"), (r2, "2")):
        rooms["announcements"] = await client.join(harness.alias("heping-announcements"))
        rooms[f"building_{own}"] = await client.join(harness.alias(f"heping-building_{own}"))
    return World(harness, bridge, clock, staff, work_room, r3a, r3b, r1, r2, rooms)


async def test_a_notice_to_buildings_1_and_3_reaches_their_rooms_only_as_html(w: World) -> None:
    answer = await w.command(
        "!通知 1,3 **停水通知**\n明天 9:00-12:00 清洗水箱，请提前储水。",
        lambda b: "通知 #1" in b,
    )
    assert "已发布" in answer and "小区公告、1号楼、3号楼" in answer
    for client, key in ((w.r3a, "building_3"), (w.r1, "building_1"), (w.r2, "announcements")):
        event = await w.notice_in(client, key, "停水通知")
        content = event["content"]
        assert content["msgtype"] == "m.notice"
        assert content["body"].startswith("【通知 #1】\n**停水通知**\n明天 9:00-12:00")
        assert "<strong>停水通知</strong>" in content["formatted_body"]
        assert content["format"] == "org.matrix.custom.html"
    # Building 2 was not targeted: its room got nothing.
    await w.r2.send_text(w.rooms["building_2"], "有人吗")
    events = await w.r2.messages(w.rooms["building_2"], 50)
    assert not [e for e in events if e["sender"] == BOT and "停水" in str(e["content"])]
    # The bot offers ✅ under the notice.
    notice = await w.notice_in(w.r3a, "building_3", "停水通知")
    await w.r3a.wait_for_event(
        w.rooms["building_3"],
        lambda e: (
            e["type"] == "m.reaction"
            and e["sender"] == BOT
            and e["content"]["m.relates_to"]["event_id"] == notice["event_id"]
        ),
    )

    listing = await w.command("!通知 列表", lambda b: b.startswith("通知："))
    assert "#1 已发布 1、3号楼" in listing


async def test_receipts_and_a_reaction_make_reach_per_building_a_lower_bound(w: World) -> None:
    await w.command("!通知 1,3 明天停水", lambda b: "通知 #1 已发布" in b)
    b3 = w.rooms["building_3"]
    notice = await w.notice_in(w.r3a, "building_3", "明天停水")
    # One reads the notice itself; the other reads a later message; one acknowledges ✅.
    await w.r3a.send_read_receipt(b3, notice["event_id"])
    later = await w.r3a.send_text(b3, "收到，谢谢物业")
    notices = w.bot.notices

    async def seen_in_order() -> bool:
        async with notices.db.sessions() as session:
            found = await session.execute(
                select(NoticeRoomEvent.id).where(NoticeRoomEvent.event_id == later)
            )
            return found.first() is not None

    await eventually(seen_in_order)
    await w.r3b.send_read_receipt(b3, later)
    await w.r3b.react(b3, notice["event_id"], "✅")
    # Someone not targeted reads it in announcements: not counted.
    announced = await w.notice_in(w.r2, "announcements", "明天停水")
    await w.r2.send_read_receipt(w.rooms["announcements"], announced["event_id"])

    [record] = await notices.listing("heping")

    async def counted() -> bool:
        rows = await notices.reach_rows(record.id)
        return rows.read >= {w.r3a.user_id, w.r3b.user_id, w.r2.user_id} and bool(rows.acknowledged)

    await eventually(counted)
    answer = await w.command("!通知 回执 1", lambda b: "回执" in b)
    chart = await w.staff.wait_for_event(
        w.work_room,
        lambda e: e["sender"] == BOT and e["content"].get("msgtype") == "m.image",
    )
    assert chart["content"]["info"]["mimetype"] == "image/png"
    assert "3 户中已送达 2 户（67%）" in answer
    assert "确认收到 1 户，已读 1 户，当面告知 0 户" in answer
    assert "还没有导入住户花名册，这里只统计有认证住户的 3 户" in answer
    assert "1号楼：0/1 户" in answer and "3号楼：2/2 户" in answer
    assert "未送达、有账号：1-1-101" in answer
    assert "2号楼" not in answer
    assert "下限" in answer

    # `!收到 1` counts too; the 楼长's visit is recorded by `已通知`.
    await w.r1.send_text(w.rooms["building_1"], "!收到 1")
    await w.r1.wait_for_event(w.rooms["building_1"], from_bot(lambda b: "已确认收到通知 #1" in b))
    answer = await w.command("!通知 回执 1", lambda b: "回执" in b and "3 户中已送达 3 户" in b)
    assert "所有住户都已送达" in answer


async def test_edit_changes_the_notice_in_every_room_and_cancel_withdraws_it(w: World) -> None:
    await w.command("!通知 3 周六消防演习", lambda b: "通知 #1 已发布" in b)
    first = await w.notice_in(w.r3a, "building_3", "周六消防演习")
    answer = await w.command("!通知 修改 1 周日消防演习", lambda b: "已修改" in b)
    assert "2 个群" in answer
    for key in ("building_3", "announcements"):
        edit = await w.r3a.wait_for_event(
            w.rooms[key],
            lambda e: (
                e["sender"] == BOT
                and e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
            ),
        )
        assert "周日消防演习" in edit["content"]["m.new_content"]["body"]
    assert first["event_id"] in {
        e["content"].get("m.relates_to", {}).get("event_id")
        for e in await w.r3a.messages(w.rooms["building_3"])
    }
    await w.command("!通知 取消 1", lambda b: "已取消" in b)
    await w.r3a.wait_for_event(
        w.rooms["building_3"],
        lambda e: (
            (e["type"] == "m.room.redaction" and e.get("redacts") == first["event_id"])
            or e.get("content", {}).get("redacts") == first["event_id"]
        ),
    )


async def test_bad_input_and_residents_are_answered_and_nothing_is_posted(w: World) -> None:
    for body, words in (
        ("!通知 5 停电", "没有 5 号楼"),
        ("!通知 3", "通知没有内容"),
        ("!通知 3 定时 25:00 停电", "看不懂时间"),
        ("!通知 3 每 0 9 * 停电", "看不懂重复计划"),
        # Each crashed its handler on 50cbb23 (抱歉，出了点问题), or was misread.
        ("!通知 全体 有效 3000000天 x", "看不懂有效期“3000000天"),
        ("!通知 全体 有效 99999999h x", "看不懂有效期“99999999h"),
        ("!通知 全体 有效 99999999999天 x", "看不懂有效期"),
        ("!通知 全体 有效 -1天 x", "看不懂有效期“-1天"),
        ("!通知 全体 定时 9999-12-31 23:59 x", "看不懂时间“9999-12-31 23:59"),
        ("!通知 全体 每 0 0 30 2 * x", "看不懂重复计划“0 0 30 2 *"),
        ("!通知 全体 每 0 0 31 4 * x", "看不懂重复计划“0 0 31 4 *"),
        ("!通知 3 每 0 0 9 * * 1 停电", "看不懂重复计划“0 0 9 * * 1"),  # six fields
        ("!通知 3 每 * * * * * 停电", "太频繁"),
    ):
        assert words in await w.command(body, lambda b, words=words: words in b)  # type: ignore[misc]
    await w.r3a.send_text(w.rooms["building_3"], "!通知 3 我也发个通知")
    refusal = await w.r3a.wait_for_event(w.rooms["building_3"], from_bot(lambda b: "只有" in b))
    assert refusal
    assert await w.bot.notices.listing("heping") == []


async def test_a_notice_to_an_interest_group_goes_to_its_room_and_counts_its_members(
    w: World,
) -> None:
    # Residents join the compound's space, then the group's room (open to the compound).
    for client in (w.r3a, w.r1):
        await client.join(w.harness.alias("heping"))
        group = await client.join(w.harness.alias("heping-volunteers"))
    answer = await w.command("!通知 志愿者服务队 周六上午义务劳动", lambda b: "通知 #1" in b)
    assert "已发布（兴趣小组“志愿者服务队”）" in answer and "发在：志愿者服务队" in answer
    notice = await w.r3a.wait_for_event(group, from_bot(lambda b: "义务劳动" in b))
    assert notice["content"]["body"].startswith("【通知 #1】")
    # Not in announcements nor in a building room (it is posted before the staff's answer).
    for client, key in ((w.r2, "announcements"), (w.r3b, "building_3")):
        events = await client.messages(w.rooms[key], 50)
        assert not [e for e in events if "义务劳动" in str(e["content"])]
    # Linli's receipt reader joined the room: a resident sees what it is; it has no power.
    reader = w.bot.board.reader
    member = await w.r3a.get_state(group, "m.room.member", reader)
    assert member["membership"] == "join" and member["displayname"] == "邻里·已读统计"
    levels = await w.r3a.get_state(group, "m.room.power_levels")
    assert reader not in levels.get("users", {})
    await w.r3a.send_read_receipt(group, notice["event_id"])
    [record] = await w.bot.notices.listing("heping")

    async def counted() -> bool:
        return w.r3a.user_id in (await w.bot.notices.reach_rows(record.id)).read

    await eventually(counted)
    answer = await w.command("!通知 回执 1", lambda b: "回执" in b)
    # Its two members' households, per building; the others were never targeted.
    assert "2 户中已送达 1 户（50%）" in answer
    assert "1号楼：0/1 户" in answer and "3号楼：1/2 户" not in answer
    assert "3号楼：1/1 户" in answer and "2号楼" not in answer
    assert "未送达、有账号：1-1-101" in answer

    refusal = await w.command("!通知 棋牌社 今晚比赛", lambda b: "棋牌社" in b)
    assert "没有“棋牌社”这个楼或兴趣小组" in refusal and "志愿者服务队、广场舞队" in refusal
    assert len(await w.bot.notices.listing("heping")) == 1


async def test_urgent_notice_is_pinned_with_room_mention_and_unpinned_at_expiry(w: World) -> None:
    answer = await w.command(
        "!通知 3 紧急 有效 2h 燃气管道抢修，请勿用火", lambda b: "通知 #1" in b
    )
    assert "已发布" in answer
    notice = await w.notice_in(w.r3a, "building_3", "燃气管道抢修")
    assert notice["content"]["m.mentions"]["room"] is True
    assert notice["content"]["body"].startswith("@room 【紧急通知 #1】")
    b3 = w.rooms["building_3"]

    async def pinned() -> list[str]:
        try:
            return list((await w.r3a.get_state(b3, "m.room.pinned_events"))["pinned"])
        except MatrixHTTPError:
            return []

    assert notice["event_id"] in await pinned()
    w.clock.advance(timedelta(hours=2, minutes=1))

    async def unpinned() -> bool:
        return notice["event_id"] not in await pinned()

    await eventually(unpinned)
    expired = await w.bot.notices.get("heping", 1)
    assert expired is not None and expired.status == "expired"


async def test_scheduled_notice_due_while_down_is_posted_once_on_start_with_its_time(
    w: World,
) -> None:
    answer = await w.command("!通知 3 定时 11:00 电梯年检", lambda b: "通知 #1" in b)
    assert "将在 11月23日 11:00 发布" in answer
    await w.harness.stop_bridge(w.bridge)
    w.clock.advance(timedelta(hours=1, minutes=30))
    w.bridge = await w.harness.start_bridge(apply=False, clock=w.clock)
    posted = await w.notice_in(w.r3a, "building_3", "电梯年检")
    assert "原定 11月23日 11:00 发布" in posted["content"]["body"]
    await w.restart()
    await w.command("!通知 列表", lambda b: b.startswith("通知："))
    events = await w.r3a.messages(w.rooms["building_3"], 100)
    assert len([e for e in events if "电梯年检" in e["content"].get("body", "")]) == 1


async def test_recurring_notice_fires_at_each_cron_time_and_not_twice_across_a_restart(
    w: World,
) -> None:
    answer = await w.command("!通知 3 每 0 12 * * * 午间提醒：垃圾分类", lambda b: "通知 #1" in b)
    assert "下一次：11月23日 12:00" in answer
    # No end given: the compound's default end, and the hourly floor, are said.
    assert "默认 90 天后（02月21日 10:00）停止" in answer and "最多每小时一次" in answer
    w.clock.set(datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI))
    await w.notice_in(w.r3a, "building_3", "【通知 #2】")
    await w.restart()
    w.clock.set(datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI))
    await w.notice_in(w.r3a, "building_3", "【通知 #3】")
    await w.restart()
    await w.command("!通知 列表", lambda b: b.startswith("通知："))
    events = await w.r3a.messages(w.rooms["building_3"], 100)
    posts = [e for e in events if "垃圾分类" in e["content"].get("body", "")]
    assert len(posts) == 2


async def sync_token(client: ResidentClient) -> str:
    return str(
        (await client.call("GET", "/_matrix/client/v3/sync", params={"timeout": "0"}))["next_batch"]
    )


async def invited_dm(client: ResidentClient, since: dict[str, str]) -> str | None:
    """The direct-message room the client was invited to since its token in `since`, if any
    (one /sync, no waiting). The token moves on: Synapse answers a repeated /sync from a cache."""
    params = {"timeout": "0", "since": since[client.user_id]}
    sync = await client.call("GET", "/_matrix/client/v3/sync", params=params)
    since[client.user_id] = sync["next_batch"]
    for room_id, room in sync.get("rooms", {}).get("invite", {}).items():
        events = room.get("invite_state", {}).get("events", [])
        if any(e.get("content", {}).get("is_direct") for e in events):
            return str(room_id)
    return None


async def test_reminders_go_to_the_unacknowledged_then_the_building_contact_visits(
    w: World,
) -> None:
    await w.bridge.store.people.grant(
        "heping", w.r3b.user_id, Role.BUILDING_CONTACT, w.staff.user_id, w.clock.now()
    )
    await w.command("!通知 3 周三停电检修", lambda b: "通知 #1 已发布" in b)
    notice = await w.notice_in(w.r3a, "building_3", "周三停电检修")
    await w.r3a.react(w.rooms["building_3"], notice["event_id"], "✅")
    [record] = await w.bot.notices.listing("heping")

    async def acknowledged() -> bool:
        return bool((await w.bot.notices.reach_rows(record.id)).acknowledged)

    await eventually(acknowledged)
    since = {c.user_id: await sync_token(c) for c in (w.r3a, w.r3b)}
    w.clock.advance(timedelta(hours=4))
    dm: list[str] = []

    async def reminded() -> bool:
        found = await invited_dm(w.r3b, since)
        dm.extend([found] if found else [])
        return found is not None

    await eventually(reminded)
    await w.r3b.join(dm[0])
    await w.r3b.wait_for_event(dm[0], from_bot(lambda b: "您还没有确认通知 #1" in b))
    await w.bridge.scheduler.run_due()  # waits for the loop's pass that sent the reminders
    assert await invited_dm(w.r3a, since) is None  # acknowledged: no reminder

    # After the last reminder (1 day) and an hour: the 楼长 gets the household to visit.
    w.clock.advance(timedelta(days=1, hours=1))
    visits = await w.r3b.wait_for_event(dm[0], from_bot(lambda b: b.startswith("楼长您好")))
    assert "3-1-101" in visits["content"]["body"]
    assert "3-2-1101" not in visits["content"]["body"]
    reminders = [
        e
        for e in await w.r3b.messages(dm[0], 50)
        if "您还没有确认通知 #1" in e["content"].get("body", "")
    ]
    assert len(reminders) == 2  # at 4 h and at 1 day, once each

    await w.r3b.send_text(w.rooms["building_3"], "!通知 已通知 1 3-1-101")
    await w.r3b.wait_for_event(w.rooms["building_3"], from_bot(lambda b: "已当面通知" in b))
    answer = await w.command("!通知 回执 1", lambda b: "回执" in b)
    assert "3号楼：2/2 户" in answer and "当面 1" in answer


async def test_a_receipt_sent_while_linli_was_down_is_counted_after_it_starts(w: World) -> None:
    await w.command("!通知 3 明早八点停水", lambda b: "通知 #1 已发布" in b)
    notice = await w.notice_in(w.r3a, "building_3", "明早八点停水")
    await w.harness.stop_bridge(w.bridge)
    # While Linli is down: one reads the notice, the other a message sent after it.
    b3 = w.rooms["building_3"]
    await w.r3a.send_read_receipt(b3, notice["event_id"])
    later = await w.r3a.send_text(b3, "好的")
    await w.r3b.send_read_receipt(b3, later)
    w.bridge = await w.harness.start_bridge(apply=False, clock=w.clock)
    [record] = await w.bot.notices.listing("heping")

    async def counted() -> bool:
        rows = await w.bot.notices.reach_rows(record.id)
        return rows.read == {w.r3a.user_id, w.r3b.user_id}

    await eventually(counted)
    answer = await w.command("!通知 回执 1", lambda b: "回执" in b)
    assert "3号楼：2/2 户" in answer


async def test_a_receipt_in_a_refused_transaction_is_read_back_once_linli_stores_again(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await w.command("!通知 3 周五消防演习", lambda b: "通知 #1 已发布" in b)
    notice = await w.notice_in(w.r3a, "building_3", "周五消防演习")
    [record] = await w.bot.notices.listing("heping")
    # The database fails for a moment: the transaction carrying the receipt is not stored
    # (Linli answers 500) and the receipt's handler cannot write either. Synapse then resends
    # the transaction's room events only, never its ephemeral ones.
    inbox, notices = w.bridge.store.inbox, w.bot.notices
    store_transaction, add_reads = inbox.store_transaction, notices.add_reads
    failed: set[str] = set()

    def failing(name: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        async def call(*args: Any, **kw: Any) -> Any:
            if name not in failed and failed != {"store", "reads"}:
                failed.add(name)
                raise OSError("disk full")
            return await method(*args, **kw)

        return call

    monkeypatch.setattr(inbox, "store_transaction", failing("store", store_transaction))
    monkeypatch.setattr(notices, "add_reads", failing("reads", add_reads))
    await w.r3a.send_read_receipt(w.rooms["building_3"], notice["event_id"])

    async def counted() -> bool:
        return w.r3a.user_id in (await w.bot.notices.reach_rows(record.id)).read

    await eventually(lambda: asyncio.sleep(0, failed == {"store", "reads"}))
    await eventually(counted, timeout=60)  # Synapse retries after its backoff (2 s, 4 s, ...)
    answer = await w.command("!通知 回执 1", lambda b: "回执" in b)
    assert "3号楼：1/2 户" in answer


WATER_SECRET = "water-company-inbound-secret-0123"


async def test_inbound_webhook_notice_is_posted_once_and_forgeries_are_refused(
    harness: Harness, make_user, staff_client
) -> None:
    harness.webhooks = {
        "water": WebhookTarget(
            url="http://127.0.0.1:9/unused", secret="w" * 16, inbound_secret=WATER_SECRET
        )
    }
    harness.only("heping")
    harness.edit_compound(
        "heping",
        '  buildings: ["1", "2", "3"]',
        '  buildings: ["1", "2", "3"]\n  notices:\n    senders: [water]',
    )
    w = await build_world(harness, make_user, staff_client)
    url = f"http://127.0.0.1:{harness.port}/linli/webhooks/water"

    async def send(payload: dict[str, Any], *, secret: str = WATER_SECRET, age: int = 0) -> int:
        body = json.dumps(payload).encode()
        ts = int(w.clock.now().timestamp()) - age
        headers = {SIGNATURE_HEADER: signature_header(secret, ts, body)}
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=body, headers=headers) as answer:
                return answer.status

    good = {
        "id": "outage-42",
        "compound": "heping",
        "buildings": "3",
        "text": "自来水公司：3号楼今晚停水",
    }
    assert await send(good, secret="not-the-secret-at-all-0123") == 401
    assert await send(good, age=600) == 401  # stale timestamp
    assert await send({**good, "compound": "xingfu"}) == 403
    assert await send({**good, "buildings": "9"}) == 400
    assert await send({**good, "text": "停" * 5000}) == 413
    assert await w.bot.notices.listing("heping") == []
    # A notice sender is no grid platform: a work order status from it is refused.
    assert await send({"reference": "linli:heping:99", "status": "accepted"}) == 403

    assert await send(good) == 200
    posted = await w.notice_in(w.r3a, "building_3", "自来水公司")
    assert posted["content"]["body"].startswith("【通知 #1】")
    # Posted by its job after the 200: waits for the job's pass to end.
    await w.bridge.scheduler.run_due()
    assert await send(good) == 409  # the very same request again: a replay
    # The same id a minute later (a new signature: the sender retries): nothing new is posted.
    w.clock.advance(timedelta(minutes=1))
    assert await send(good) == 200
    [record] = await w.bot.notices.listing("heping")
    assert record.origin == "webhook:water"
    await w.r3a.send_read_receipt(w.rooms["building_3"], posted["event_id"])

    async def counted() -> bool:
        return w.r3a.user_id in (await w.bot.notices.reach_rows(record.id)).read

    await eventually(counted)
    events = await w.r3a.messages(w.rooms["building_3"], 50)
    assert len([e for e in events if "自来水公司" in e["content"].get("body", "")]) == 1
