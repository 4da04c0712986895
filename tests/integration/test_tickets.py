"""Tickets through the real Synapse: residents and staff act with their own clients; the clock
is a FakeClock the test moves, so deadlines are exact and nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bots.tickets.bot import TicketBot
from bridge.app import Bridge
from bridge.clock import FakeClock
from bridge.config import WebhookTarget
from bridge.webhooks import SIGNATURE_HEADER, signature_header, verify
from tests.integration.harness import Harness
from tests.integration.matrix_client import ResidentClient

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 23 November 2026, 10:00 in Shanghai: an ordinary workday.
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
BOT = "@linli:linli.localhost"
STAFF = "@wuye_wang:linli.localhost"


def from_bot(predicate: Callable[[str], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["sender"] == BOT and predicate(e["content"].get("body", ""))


def in_thread(root: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["content"].get("m.relates_to", {}).get("event_id") == root


@dataclass
class World:
    harness: Harness
    bridge: Bridge
    clock: FakeClock
    resident: ResidentClient
    staff: ResidentClient
    manager: ResidentClient
    neighbours: str

    async def sync_point(self) -> None:
        """Everything sent before this has been processed: the bot answers in order."""
        marker = await self.resident.send_text(self.neighbours, "!帮助")
        await self.resident.wait_for_event(
            self.neighbours,
            lambda e: (
                (
                    e["sender"] == BOT
                    and e["content"]
                    .get("m.relates_to", {})
                    .get("m.in_reply_to", {})
                    .get("event_id")
                    == marker
                )
                or (e["sender"] == BOT and e["content"].get("body", "").startswith("您可以用"))
            ),
        )
        await self.bridge.worker.drain()

    async def reply_to(self, event_id: str, predicate: Callable[[str], bool]) -> dict[str, Any]:
        return await self.resident.wait_for_event(
            self.neighbours, lambda e: from_bot(predicate)(e) and in_thread(event_id)(e)
        )

    async def restart(self) -> None:
        await self.harness.stop_bridge(self.bridge)
        self.bridge = await self.harness.start_bridge(apply=False, clock=self.clock)


@pytest.fixture
def make_world(harness: Harness, make_user, staff_client) -> Callable[[], Awaitable[World]]:
    async def make() -> World:
        return await _world(harness, make_user, staff_client)

    return make


@pytest.fixture
async def w(make_world: Callable[[], Awaitable[World]]) -> World:
    return await make_world()


async def _world(harness: Harness, make_user, staff_client) -> World:
    harness.only("heping")
    clock = FakeClock(MONDAY_10)
    resident: ResidentClient = await make_user()
    bridge = await harness.start_bridge(apply=False, clock=clock)
    await bridge.store.people.bind_household(
        "heping", resident.user_id, "3", "2", "1101", clock.now()
    )
    await bridge.provisioner.apply()
    staff = await staff_client("wuye_wang")
    manager = await staff_client("wuye_jingli")
    neighbours = await resident.join(harness.alias("heping-neighbours"))
    await staff.join(neighbours)
    await manager.join(neighbours)
    return World(harness, bridge, clock, resident, staff, manager, neighbours)


async def open_ticket(
    w: World, body: str = "@物业 3号楼电梯坏了", **kwargs: Any
) -> tuple[str, int]:
    event_id = await w.resident.send_text(w.neighbours, body, **kwargs)
    reply = await w.reply_to(event_id, lambda b: "工单 #" in b)
    number = int(reply["content"]["body"].split("工单 #")[1].split("（")[0])
    return event_id, number


async def test_plain_alias_and_real_mentions_open_tickets_and_nothing_else_does(w: World) -> None:
    event_id = await w.resident.send_text(w.neighbours, "@物业 3号楼电梯坏了")
    reply = await w.reply_to(event_id, lambda b: "工单 #1" in b)
    body = reply["content"]["body"]
    # The staff on duty by name (their display name), linked as a pill.
    assert "（维修）" in body and "负责：wuye_wang。" in body
    pill = f'<a href="https://matrix.to/#/{STAFF}">wuye_wang</a>'
    assert pill in reply["content"]["formatted_body"]
    # Monday 10:00 + 30 business minutes. Resolution: 16 business hours of 7.5 a day
    # (08:30-12:00, 13:30-17:30): 6 h on Monday, 7.5 h on Tuesday, 2.5 h on Wednesday.
    assert "首次回复：11月23日 10:30前" in body
    assert "解决：11月25日 11:00前" in body
    assert reply["content"]["m.mentions"]["user_ids"] == ["@wuye_wang:linli.localhost"]

    mention = await w.resident.send_text(
        w.neighbours, "小王 楼道灯不亮", mentions=["@wuye_wang:linli.localhost"]
    )
    await w.reply_to(mention, lambda b: "工单 #2" in b)
    pill = await w.resident.send_text(
        w.neighbours,
        "小王: 垃圾没人收",
        formatted_body=f'<a href="https://matrix.to/#/{STAFF}">小王</a>: 垃圾没人收',
    )
    await w.reply_to(pill, lambda b: "工单 #3" in b and "环境卫生" in b)

    # None of these opens a ticket: staff chatter, an edit, a reply in a ticket's thread.
    await w.manager.send_text(w.neighbours, "@物业 下午开会")
    await w.resident.send_text(
        w.neighbours,
        "* @物业 3号楼电梯坏了！",
        relates_to={"rel_type": "m.replace", "event_id": event_id},
    )
    await w.resident.reply_in_thread(w.neighbours, event_id, "@物业 还没人来吗")
    await w.sync_point()
    tickets = await w.bridge.bot(TicketBot).tickets.listing("heping")
    assert [t.number for t in tickets] == [1, 2, 3]


async def test_first_response_done_confirm_rate_reopen_and_auto_close(w: World) -> None:
    event_id, number = await open_ticket(w)
    w.clock.advance(timedelta(minutes=12))
    await w.staff.reply_in_thread(w.neighbours, event_id, "马上到")
    await w.sync_point()
    ticket = await w.bridge.bot(TicketBot).tickets.get("heping", number)
    assert ticket is not None and ticket.first_response_at == w.clock.now()
    assert ticket.first_responder == "@wuye_wang:linli.localhost"

    w.clock.advance(timedelta(minutes=48))
    await w.staff.send_text(w.neighbours, f"!工单 完成 {number} 已更换电机")
    question = await w.reply_to(event_id, lambda b: "请确认" in b)
    assert "已更换电机" in question["content"]["body"]
    await w.resident.react(w.neighbours, question["event_id"], "✅")
    await w.reply_to(event_id, lambda b: "已关闭" in b)
    await w.resident.react(w.neighbours, question["event_id"], "5️⃣")
    await w.reply_to(event_id, lambda b: "5 分" in b)
    ticket = await w.bridge.bot(TicketBot).tickets.get("heping", number)
    assert ticket is not None
    assert (ticket.status, ticket.close_reason, ticket.rating) == ("closed", "confirmed", 5)

    await w.resident.send_text(w.neighbours, f"!工单 重开 {number}")
    await w.reply_to(event_id, lambda b: "重新打开" in b)
    assert (await w.bridge.bot(TicketBot).tickets.get("heping", number)).status == "open"  # type: ignore[union-attr]

    # Done again, and nobody answers: closed by itself three days later, once.
    await w.staff.send_text(w.neighbours, f"!工单 完成 {number}")
    await w.sync_point()
    w.clock.advance(timedelta(days=3, minutes=1))
    await w.reply_to(event_id, lambda b: "自动关闭" in b)
    await w.bridge.scheduler.run_due()
    ticket = await w.bridge.bot(TicketBot).tickets.get("heping", number)
    assert ticket is not None and (ticket.status, ticket.close_reason) == ("closed", "auto")
    closes = [
        e
        for e in await w.resident.messages(w.neighbours, 100)
        if "自动关闭" in e["content"].get("body", "")
    ]
    assert len(closes) == 1


async def test_resident_cannot_run_staff_commands_and_nothing_changes(w: World) -> None:
    _, number = await open_ticket(w)
    command = await w.resident.send_text(w.neighbours, f"!工单 完成 {number}")
    refusal = await w.resident.wait_for_event(
        w.neighbours, from_bot(lambda b: b.startswith("只有"))
    )
    assert "物业" in refusal["content"]["body"]
    assert command
    ticket = await w.bridge.bot(TicketBot).tickets.get("heping", number)
    assert ticket is not None and ticket.status == "open" and ticket.done_at is None
    # and another resident's ticket cannot be confirmed by a stranger: usage errors are explained
    await w.resident.send_text(w.neighbours, "!工单 确认 abc")
    await w.resident.wait_for_event(w.neighbours, from_bot(lambda b: b == "用法：!工单 确认 编号"))


async def test_wait_pauses_the_clock_and_the_residents_reply_resumes_it(w: World) -> None:
    event_id, number = await open_ticket(w)
    await w.staff.send_text(w.neighbours, f"!工单 等待 {number} 您下午几点在家？")
    await w.reply_to(event_id, lambda b: "暂停计时：您下午几点在家？" in b and "您在这里回复" in b)
    before = await w.bridge.bot(TicketBot).tickets.get("heping", number)
    assert before is not None and before.status == "waiting"
    w.clock.advance(timedelta(hours=2))  # 10:00 → 12:00: two business hours paused
    await w.resident.reply_in_thread(w.neighbours, event_id, "我下午在家")
    await w.reply_to(event_id, lambda b: "继续计时，解决期限" in b)
    after = await w.bridge.bot(TicketBot).tickets.get("heping", number)
    assert after is not None and after.status == "open"
    # Wednesday 11:00 moves by two business hours, across the lunch break, to 14:30.
    assert before.resolution_due == datetime(2026, 11, 25, 11, 0, tzinfo=SHANGHAI)
    assert after.resolution_due == datetime(2026, 11, 25, 14, 30, tzinfo=SHANGHAI)
    # Telling the resident why it waits is a first response: no escalation for it.
    assert after.first_response_at is not None and after.escalation_level == 0


async def test_a_pause_for_parts_goes_on_until_staff_resume_it(w: World) -> None:
    event_id, number = await open_ticket(w)
    await w.staff.send_text(w.neighbours, f"!工单 等待 {number} 等配件")
    await w.reply_to(event_id, lambda b: "暂停计时：等配件" in b and f"!工单 继续 {number}" in b)
    await w.resident.reply_in_thread(w.neighbours, event_id, "好的，配件到了请告诉我")
    await w.sync_point()
    ticket = await w.bridge.bot(TicketBot).tickets.get("heping", number)
    assert ticket is not None and ticket.status == "waiting"  # a reply does not end it
    await w.staff.send_text(w.neighbours, f"!工单 继续 {number}")
    await w.reply_to(event_id, lambda b: "继续计时，解决期限" in b)
    ticket = await w.bridge.bot(TicketBot).tickets.get("heping", number)
    assert ticket is not None and ticket.status == "open"


async def test_urgent_keyword_runs_around_the_clock(w: World) -> None:
    w.clock.set(datetime(2026, 11, 28, 22, 0, tzinfo=SHANGHAI))  # Saturday night
    event_id = await w.resident.send_text(w.neighbours, "@物业 5楼漏水了，快来人")
    reply = await w.reply_to(event_id, lambda b: "紧急" in b)
    assert "11月28日 22:10 前回复" in reply["content"]["body"]


@pytest.fixture
async def grid(unused_tcp_port_factory: Callable[[], int]) -> Any:
    """A local stand-in for the grid platform that refuses the first two deliveries."""
    received: list[tuple[dict[str, Any], str, bytes]] = []
    refusals = {"left": 2}

    async def handle(request: aiohttp.web.Request) -> aiohttp.web.Response:
        body = await request.read()
        if refusals["left"] > 0:
            refusals["left"] -= 1
            return aiohttp.web.Response(status=503)
        received.append((json.loads(body), request.headers[SIGNATURE_HEADER], body))
        return aiohttp.web.json_response({"ok": True})

    app = aiohttp.web.Application()
    app.router.add_post("/orders", handle)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    port = unused_tcp_port_factory()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/orders", received
    await runner.cleanup()


OUT_SECRET = "grid-outbound-secret-0123456789"
IN_SECRET = "grid-inbound-secret-0123456789a"


async def post_status(
    w: World, payload: dict[str, Any], *, secret: str = IN_SECRET, at: datetime | None = None
) -> int:
    body = json.dumps(payload).encode()
    ts = int((at or w.clock.now()).timestamp())
    url = f"http://127.0.0.1:{w.harness.port}/linli/webhooks/grid"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url, data=body, headers={SIGNATURE_HEADER: signature_header(secret, ts, body)}
        ) as resp:
            return resp.status


async def test_reminder_and_escalation_fire_once_across_a_restart_and_reach_the_grid(
    harness: Harness, make_world: Callable[[], Awaitable[World]], staff_client, grid: Any
) -> None:
    url, received = grid
    harness.webhooks = {"grid": WebhookTarget(url=url, secret=OUT_SECRET, inbound_secret=IN_SECRET)}
    w = await make_world()
    event_id, number = await open_ticket(w)

    w.clock.advance(timedelta(minutes=15))  # 10:15: 15 minutes before the first-response deadline
    await w.reply_to(event_id, lambda b: b.startswith("提醒"))
    # The bridge goes down just before the deadline and comes back after it.
    w.clock.advance(timedelta(minutes=14))
    await harness.stop_bridge(w.bridge)
    w.clock.advance(timedelta(minutes=2))  # 10:31
    five = await (await staff_client("wuye_jingli")).join(harness.alias("heping-five_in_one"))
    manager = w.manager
    w.bridge = await harness.start_bridge(apply=False, clock=w.clock)
    # The manager is asked to follow up in the staff room, not in the residents' room.
    follow_up = await manager.wait_for_event(five, from_bot(lambda b: "请 wuye_jingli 跟进" in b))
    assert follow_up["content"]["m.mentions"]["user_ids"] == ["@wuye_jingli:linli.localhost"]
    w.clock.advance(timedelta(minutes=30))
    await manager.wait_for_event(five, from_bot(lambda b: f"超时工单 #{number}" in b))

    w.clock.advance(timedelta(hours=2))
    await w.reply_to(event_id, lambda b: "网格化管理平台" in b)
    # The platform refused twice; the outbox retries with backoff until it accepts.
    for _ in range(4):
        w.clock.advance(timedelta(minutes=1))
        await w.bridge.scheduler.run_due()
    assert len(received) == 1
    order, header, raw = received[0]
    verify(OUT_SECRET, header, raw, w.clock.now())
    assert order["reference"] == f"linli:heping:{number}" and order["building"] == "3"

    # Everything fired once, restart included.
    thread = [e for e in await w.resident.messages(w.neighbours, 100) if in_thread(event_id)(e)]
    bodies = [e["content"]["body"] for e in thread if e["sender"] == BOT]
    assert sum(b.startswith("提醒") for b in bodies) == 1
    assert sum("wuye_jingli" in b for b in bodies) == 0  # staff business stays out
    staff_room = [e["content"].get("body", "") for e in await manager.messages(five, 100)]
    assert sum("请 wuye_jingli 跟进" in b for b in staff_room) == 1
    assert sum("网格化管理平台" in b for b in bodies) == 1

    # Status updates: a genuine one appears in the thread; forged, stale, replayed are refused.
    status = {"reference": f"linli:heping:{number}", "status": "dispatched", "note": "已派维修工"}
    assert await post_status(w, status, secret="wrong-secret-0123456789") == 401
    assert await post_status(w, status, at=w.clock.now() - timedelta(hours=1)) == 401
    assert await post_status(w, {"reference": "linli:heping:999", "status": "resolved"}) == 404
    at = w.clock.now()
    assert await post_status(w, status, at=at) == 200
    assert await post_status(w, status, at=at) == 409
    await w.reply_to(event_id, lambda b: b == "网格平台更新：已派单：已派维修工")


async def test_stats_and_the_weekly_report_from_known_times(w: World) -> None:
    event_id, number = await open_ticket(w)
    w.clock.advance(timedelta(minutes=12))
    await w.staff.reply_in_thread(w.neighbours, event_id, "收到，马上去看")
    await w.sync_point()
    w.clock.advance(timedelta(minutes=48))
    await w.staff.send_text(w.neighbours, f"!工单 完成 {number}")
    question = await w.reply_to(event_id, lambda b: "请确认" in b)
    await w.resident.react(w.neighbours, question["event_id"], "4️⃣")
    await w.reply_to(event_id, lambda b: "已关闭" in b)

    w.clock.advance(timedelta(minutes=5))
    staff_room = await w.staff.join(w.harness.alias("heping-five_in_one"))
    await w.staff.send_text(staff_room, "!工单 统计")
    stats = await w.staff.wait_for_event(
        staff_room, from_bot(lambda b: b.startswith("和平里小区工单统计"))
    )
    lines = stats["content"]["body"].split("\n")
    assert lines[0] == (
        "和平里小区工单统计（近7天）：新开 1，关闭 1；首次回复 中位 12分钟，90% 12分钟；"
        "解决 中位 1小时，90% 1小时；按时 100%；满意度 4.0"
    )
    assert lines[1] == "wuye_wang：处理 1，按时 100%，首次回复中位 12分钟，满意度 4.0"

    # The weekly report: next Monday 09:00, in the five-in-one room, with a chart.
    five = await w.manager.join(w.harness.alias("heping-five_in_one"))
    w.clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI))
    report = await w.manager.wait_for_event(five, from_bot(lambda b: "周报" in b))
    body = report["content"]["body"]
    assert body.startswith("本周工单周报（2026-11-23 – 2026-11-29）")
    assert "1. wuye_wang — 按时 100%，首次回复中位 12分钟，处理 1" in body
    assert "热点问题：维修 1" in body and "热点楼栋：3号楼 1" in body
    image = await w.manager.wait_for_event(
        five, lambda e: e["sender"] == BOT and e["content"].get("msgtype") == "m.image"
    )
    assert image["content"]["url"].startswith("mxc://")
    assert image["content"]["info"]["mimetype"] == "image/png"
    # and the next one is already scheduled, a week later
    job = await w.bridge.store.jobs.get("tickets:weekly:heping:2026-12-07")
    assert job is not None and job.due_at == datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI)


async def test_staff_assign_note_category_and_list(w: World) -> None:
    event_id, number = await open_ticket(w, "@物业 楼下有人乱停车")
    # Unclaimed, it is "mine" for the staff named on duty, and not for the manager.
    five = await w.staff.join(w.harness.alias("heping-five_in_one"))
    await w.manager.join(five)
    await w.staff.send_text(five, "!工单 我的")
    on_duty = await w.staff.wait_for_event(five, from_bot(lambda b: "工单（我的）" in b))
    assert f"#{number} " in on_duty["content"]["body"]
    await w.manager.send_text(five, "!工单 我的")
    await w.manager.wait_for_event(five, from_bot(lambda b: b == "没有工单。"))
    # Typed in the residents' room, the list goes to the staff room; residents see only that.
    await w.manager.send_text(w.neighbours, "!工单")
    await w.manager.wait_for_event(w.neighbours, from_bot(lambda b: "已在五位一体群回复您" in b))
    listed = await w.manager.wait_for_event(
        five, from_bot(lambda b: b.startswith("工单（未完成）"))
    )
    assert listed["content"]["m.mentions"] == {}  # a list informs: it rings no one
    assert not [
        e
        for e in await w.resident.messages(w.neighbours)
        if "工单（" in e["content"].get("body", "")
    ]
    await w.manager.send_text(w.neighbours, f"!工单 指派 {number} {STAFF}")
    assigned = await w.reply_to(event_id, lambda b: "指派给" in b)
    assert assigned["content"]["m.mentions"]["user_ids"] == [STAFF]
    await w.staff.send_text(w.neighbours, f"!工单 分类 {number} 噪音")
    await w.reply_to(event_id, lambda b: "分类改为：噪音" in b)
    await w.staff.send_text(w.neighbours, f"!工单 分类 {number} 天气")
    await w.staff.wait_for_event(w.neighbours, from_bot(lambda b: "没有“天气”这个分类" in b))
    await w.staff.send_text(w.neighbours, f"!工单 备注 {number} 已联系车主")
    await w.reply_to(event_id, lambda b: "备注" in b and "已联系车主" in b)
    await w.staff.send_text(five, "!工单 我的")
    listing = await w.staff.wait_for_event(
        five, from_bot(lambda b: "工单（我的）" in b and "噪音" in b)
    )
    assert f"#{number} 处理中 噪音" in listing["content"]["body"]
    ticket = await w.bridge.bot(TicketBot).tickets.get("heping", number)
    assert ticket is not None and (ticket.assignee, ticket.category) == (STAFF, "noise")
    # assigning to a resident is refused and changes nothing
    await w.manager.send_text(w.neighbours, f"!工单 指派 {number} {w.resident.user_id}")
    await w.manager.wait_for_event(w.neighbours, from_bot(lambda b: "不是物业人员" in b))
    assert (await w.bridge.bot(TicketBot).tickets.get("heping", number)).assignee == STAFF  # type: ignore[union-attr]


async def test_a_flood_of_mentions_stops_at_the_open_ticket_limit(
    harness: Harness, make_world: Callable[[], Awaitable[World]]
) -> None:
    harness.edit_compound(
        "heping", "  buildings:", "  tickets:\n    max_open_per_resident: 2\n  buildings:"
    )
    w = await make_world()
    numbers = [(await open_ticket(w))[1] for _ in range(2)]
    # Done but not confirmed by the resident: still on their hands, still counted.
    await w.staff.send_text(w.neighbours, f"!工单 完成 {numbers[0]}")
    await w.resident.wait_for_event(w.neighbours, from_bot(lambda b: "请确认" in b))
    mention = await w.resident.send_text(w.neighbours, "@物业 又坏了")
    # The refusal answers the mention, in its thread.
    await w.reply_to(mention, lambda b: "已有 2 个未完成的工单" in b)
    tickets = w.bridge.bot(TicketBot).tickets
    assert len(await tickets.listing("heping", statuses=("open", "waiting", "done", "closed"))) == 2
