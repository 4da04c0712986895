"""Community life through the real Synapse: residents tap 🙋 under an activity with their own
clients, remove it to leave, read the live list the bot edits in place and the direct messages
it sends; the clock is a FakeClock the test moves (the list's coalesced edit, the reminder)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bots.community.bot import CommunityBot
from bots.community.neighbours_bot import NeighboursBot
from bridge.app import Bridge
from bridge.clock import FakeClock
from tests.integration.harness import Harness
from tests.integration.matrix_client import ResidentClient, q
from tests.integration.test_votes import download, invited_direct_room

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
BOT = "@linli:linli.localhost"


async def eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:  # noqa: ASYNC109
    """Wait until Linli's store shows what the homeserver pushed (no client can see it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


def is_card(e: dict[str, Any]) -> bool:
    return (
        e["sender"] == BOT
        and e["type"] == "m.room.message"
        and e["content"].get("body", "").startswith("【活动 #1】")
    )


def edit_of(card: str, text: str) -> Callable[[dict[str, Any]], bool]:
    def match(e: dict[str, Any]) -> bool:
        content = e.get("content", {})
        relates = content.get("m.relates_to", {})
        return (
            e["sender"] == BOT
            and relates.get("rel_type") == "m.replace"
            and relates.get("event_id") == card
            and text in content.get("m.new_content", {}).get("body", "")
        )

    return match


async def timeline(client: ResidentClient, room: str) -> list[dict[str, Any]]:
    """The room's events, oldest first (the homeserver's order)."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params = {"dir": "b", "limit": "100"}
        if token:
            params["from"] = token
        page = await client.call(
            "GET", f"/_matrix/client/v3/rooms/{q(room)}/messages", params=params
        )
        events.extend(page.get("chunk", []))
        token = page.get("end")
        if not page.get("chunk") or token is None:
            return list(reversed(events))


def listed(body: str) -> tuple[list[str], list[str]]:
    """The names on the list and on the waiting list of a card's text."""
    confirmed: list[str] = []
    waiting: list[str] = []
    target = None
    for line in body.split("\n"):
        if line.startswith("—— 接龙"):
            target = confirmed
        elif line.startswith("—— 候补"):
            target = waiting
        elif line.startswith("——"):
            target = None
        elif target is not None and ". " in line:
            target.append(line.split(". ", 1)[1])
    return confirmed, waiting


async def start(harness: Harness, residents: list[ResidentClient]) -> tuple[Bridge, FakeClock]:
    harness.only("heping")
    clock = FakeClock(MONDAY_10)
    bridge = await harness.start_bridge(apply=False, clock=clock)
    for n, client in enumerate(residents):
        await bridge.store.people.bind_household(
            "heping", client.user_id, "3", "1", str(101 + n), clock.now()
        )
    await bridge.provisioner.apply()
    return bridge, clock


async def test_a_sign_up_race_of_30_for_20_places_then_one_leaves_and_the_first_waiting_moves_up(
    harness: Harness, make_user, staff_client
) -> None:
    residents = [await make_user() for _ in range(30)]
    bridge, clock = await start(harness, residents)
    staff = await staff_client("wuye_wang")
    neighbours = await staff.join(harness.alias("heping-neighbours"))
    for client in residents:
        await client.join(neighbours)
    await staff.send_text(
        neighbours, "!活动 包饺子 | 时间 11-28 09:00 | 地点 活动室 | 名额 20 | 截止 11-27 18:00"
    )
    card = (await staff.wait_for_event(neighbours, is_card))["event_id"]
    # The bot offers the tap under its card.
    await staff.wait_for_event(
        neighbours,
        lambda e: (
            e["type"] == "m.reaction"
            and e["sender"] == BOT
            and e["content"]["m.relates_to"]["event_id"] == card
        ),
    )
    await asyncio.gather(*(c.react(neighbours, card, "🙋") for c in residents))
    signups = bridge.bot(CommunityBot).desk.signups
    activity = await bridge.bot(CommunityBot).desk.activities.by_number("heping", 1)
    assert activity is not None

    async def all_in() -> bool:
        return len(await signups.entries(activity.id)) == 30

    await eventually(all_in)
    clock.advance(timedelta(seconds=2))  # the coalesced edit is due
    edit = await staff.wait_for_event(neighbours, edit_of(card, "候补（10 人）"))
    confirmed, waiting = listed(edit["content"]["m.new_content"]["body"])
    # First come, first in: the homeserver's order of the taps.
    taps = [
        e["sender"]
        for e in await timeline(staff, neighbours)
        if e["type"] == "m.reaction" and e["sender"] != BOT
    ]
    names = {c.user_id: c.user_id[1:].split(":")[0] for c in residents}
    assert confirmed == [names[u] for u in taps[:20]]
    assert waiting == [names[u] for u in taps[20:]]
    assert len(set(confirmed + waiting)) == 30  # nobody twice
    assert edit["content"]["m.mentions"] == {}
    edits = [e for e in await timeline(staff, neighbours) if edit_of(card, "")(e)]
    assert len(edits) == 1  # 30 taps, one edit

    # The second on the list removes their 🙋: the first waiting moves up and is told.
    leaver = next(c for c in residents if c.user_id == taps[1])
    first_waiting = next(c for c in residents if c.user_id == taps[20])
    [their_tap] = [
        e["event_id"]
        for e in await timeline(leaver, neighbours)
        if e["type"] == "m.reaction" and e["sender"] == leaver.user_id
    ]
    await leaver.call(
        "PUT", f"/_matrix/client/v3/rooms/{q(neighbours)}/redact/{q(their_tap)}/leave1", {}
    )
    dm = await invited_direct_room(first_waiting)
    told = await first_waiting.wait_for_event(
        dm, lambda e: e["sender"] == BOT and "已从候补转为正式报名" in e["content"].get("body", "")
    )
    assert told["content"]["msgtype"] == "m.text"  # it rings
    assert told["content"]["m.mentions"] == {"user_ids": [first_waiting.user_id]}
    rang = await first_waiting.notifications(dm)
    # As their phone sees it: the message, or on first contact the direct room's invitation
    # (sent with it; the homeserver's push rules ring for an invitation, and a message that
    # arrives while one is only invited counts for nobody), rings with a sound.
    assert any(ringing(n) for n in rang), rang
    clock.advance(timedelta(seconds=2))
    edit = await staff.wait_for_event(neighbours, edit_of(card, "候补（9 人）"))
    confirmed, waiting = listed(edit["content"]["m.new_content"]["body"])
    assert names[leaver.user_id] not in confirmed + waiting
    assert confirmed[-1] == names[first_waiting.user_id] and len(confirmed) == 20
    assert waiting == [names[u] for u in taps[21:]]


async def test_reminder_check_in_and_volunteer_hours(
    harness: Harness, make_user, staff_client
) -> None:
    helper, guest = await make_user(), await make_user()
    bridge, clock = await start(harness, [helper, guest])
    staff = await staff_client("wuye_wang")
    neighbours = await staff.join(harness.alias("heping-neighbours"))
    for client in (helper, guest):
        await client.join(neighbours)
    await staff.send_text(
        neighbours, "!活动 清扫楼道 | 时间 11-24 09:00 | 地点 3号楼 | 志愿者 2 | 时长 3小时"
    )
    card = (await staff.wait_for_event(neighbours, is_card))["event_id"]
    code_room = await invited_direct_room(staff)
    await staff.wait_for_event(code_room, lambda e: "签到码是" in e["content"].get("body", ""))
    await helper.send_text(neighbours, "!报名 1 志愿")
    await helper.wait_for_event(
        neighbours, lambda e: "您已报名当活动 #1 的志愿者，是第 1 位。" == e["content"].get("body")
    )
    await guest.react(neighbours, card, "🙋")
    activity = await bridge.bot(CommunityBot).desk.activities.by_number("heping", 1)
    assert activity is not None

    async def both() -> bool:
        return len(await bridge.bot(CommunityBot).desk.signups.entries(activity.id)) == 2

    await eventually(both)
    # Two hours before 09:00 on the 24th, everyone with a place hears of it.
    clock.set(datetime(2026, 11, 24, 7, 0, tzinfo=SHANGHAI))
    for client in (helper, guest):
        dm = await invited_direct_room(client)
        reminder = await client.wait_for_event(
            dm, lambda e: e["content"].get("body", "").startswith("提醒：您报名的活动 #1")
        )
        assert reminder["content"]["m.mentions"] == {"user_ids": [client.user_id]}
    # Staff check the volunteer in (a pill, as Element sends it); the hours are credited.
    await staff.send_text(
        neighbours,
        f"!签到 1 {helper.user_id}",
        mentions=[helper.user_id],
    )
    await staff.wait_for_event(
        neighbours, lambda e: "活动 #1 已签到 1 人。" == e["content"].get("body")
    )
    await helper.send_text(neighbours, "!志愿 时长")
    answer = await helper.wait_for_event(
        neighbours, lambda e: e["content"].get("body", "").startswith("您的志愿服务")
    )
    assert "共 3 小时，1 次活动" in answer["content"]["body"]
    await guest.send_text(neighbours, "!志愿 时长")
    await guest.wait_for_event(
        neighbours, lambda e: e["content"].get("body", "").startswith("您还没有志愿服务时长")
    )
    exported = await bridge.bot(CommunityBot).export_personal(helper.user_id)
    assert exported["volunteer_hours"] == [{"compound": "heping", "activity": 1, "minutes": 180}]


async def test_a_help_request_from_post_to_thanks_and_an_idle_item_to_given_away(
    harness: Harness, make_user, staff_client
) -> None:
    asker, helper = await make_user(), await make_user()
    bridge, clock = await start(harness, [asker, helper])
    neighbours = await asker.join(harness.alias("heping-neighbours"))
    await helper.join(neighbours)
    await asker.send_text(neighbours, "!求助 明天上午谁能陪我去医院复查")
    card = await helper.wait_for_event(
        neighbours,
        lambda e: e["sender"] == BOT and e["content"].get("body", "").startswith("【求助 #1】"),
    )
    await helper.react(neighbours, card["event_id"], "🤝")
    board = bridge.bot(NeighboursBot).board

    async def tapped() -> bool:
        return await board.posts.answered(1) == [helper.user_id]

    await eventually(tapped)
    # The pill, as Element sends it: the bot opens a private room for the two.
    await asker.send_text(neighbours, f"!求助 选 1 {helper.user_id}", mentions=[helper.user_id])
    private = await invited_direct_room_named(helper, "邻里互助 #1")
    intro = await helper.wait_for_event(
        private, lambda e: "这是邻里互助 #1 的私聊" in e["content"].get("body", "")
    )
    assert intro["content"]["m.mentions"]["user_ids"] == sorted([asker.user_id, helper.user_id])
    await asker.send_text(neighbours, "!求助 完成 1")
    thanks = await helper.wait_for_event(
        neighbours, lambda e: e["content"].get("body", "").startswith("求助 #1 已完成。")
    )
    assert thanks["content"]["m.mentions"] == {"user_ids": [helper.user_id]}  # it rings
    await helper.wait_for_event(neighbours, edit_of(card["event_id"], "【求助 #1 已完成"))
    await helper.send_text(neighbours, "!志愿 时长")
    await helper.wait_for_event(
        neighbours, lambda e: e["content"].get("body", "").startswith("您的志愿服务：共 1 小时")
    )

    # An idle item: posted, given away (struck through), and another one left to expire.
    await asker.send_text(neighbours, "!闲置 婴儿床一张")
    idle = await helper.wait_for_event(
        neighbours,
        lambda e: e["sender"] == BOT and e["content"].get("body", "").startswith("【闲置 #2】"),
    )
    await asker.send_text(neighbours, "!闲置 已送出 2")
    struck = await helper.wait_for_event(neighbours, edit_of(idle["event_id"], "已送出"))
    assert "<del>婴儿床一张</del>" in struck["content"]["m.new_content"]["formatted_body"]
    await asker.send_text(neighbours, "!失物 一串钥匙")
    lost = await helper.wait_for_event(
        neighbours,
        lambda e: e["sender"] == BOT and e["content"].get("body", "").startswith("【失物 #3】"),
    )
    clock.advance(timedelta(days=27, minutes=1))
    dm = await invited_direct_room(asker)
    await asker.wait_for_event(dm, lambda e: "就过期了" in e["content"].get("body", ""))
    clock.advance(timedelta(days=3))
    await helper.wait_for_event(neighbours, edit_of(lost["event_id"], "【失物 #3 已过期】"))


async def invited_direct_room_named(client: ResidentClient, name: str) -> str:
    """The room of this name the client is invited to, joined."""
    params = {"timeout": "0"}
    for _ in range(20):
        page = await client.call("GET", "/_matrix/client/v3/sync", params=params)
        for room_id, room in page.get("rooms", {}).get("invite", {}).items():
            events = room.get("invite_state", {}).get("events", [])
            if any(e.get("content", {}).get("name") == name for e in events):
                return await client.join(room_id)
        params = {"since": page["next_batch"], "timeout": "5000"}
    raise AssertionError(f"no invitation to {name}")


async def test_me_export_has_sign_ups_hours_and_posts_and_me_delete_takes_them_off(
    harness: Harness, make_user, staff_client
) -> None:
    resident, neighbour = await make_user(), await make_user()
    bridge, clock = await start(harness, [resident, neighbour])
    staff = await staff_client("wuye_wang")
    neighbours = await staff.join(harness.alias("heping-neighbours"))
    for client in (resident, neighbour):
        await client.join(neighbours)
    await staff.send_text(neighbours, "!活动 义诊 | 时间 11-28 09:00 | 志愿者 2")
    card = (await staff.wait_for_event(neighbours, is_card))["event_id"]
    await resident.send_text(neighbours, "!报名 1 志愿 带血压计")
    await resident.wait_for_event(
        neighbours, lambda e: "志愿者，是第 1 位" in e["content"].get("body", "")
    )
    await neighbour.react(neighbours, card, "🙋")
    await staff.send_text(neighbours, f"!签到 1 {resident.user_id}", mentions=[resident.user_id])
    await staff.wait_for_event(
        neighbours, lambda e: e["content"].get("body") == "活动 #1 已签到 1 人。"
    )
    await resident.send_text(neighbours, "!闲置 旧书一箱")
    idle = await staff.wait_for_event(
        neighbours,
        lambda e: e["sender"] == BOT and e["content"].get("body", "").startswith("【闲置 #1】"),
    )
    await resident.send_text(neighbours, "!我 导出")
    dm = await invited_direct_room(resident)
    file_event = await resident.wait_for_event(
        dm, lambda e: e["content"].get("msgtype") == "m.file"
    )
    data = json.loads(await download(resident, file_event["content"]["url"]))
    assert data["sign_ups"][0]["note"] == "带血压计" and data["sign_ups"][0]["as"] == "volunteer"
    assert data["volunteer_hours"] == [{"compound": "heping", "activity": 1, "minutes": 120}]
    assert data["board_posts"][0]["text"] == "旧书一箱"

    await resident.send_text(neighbours, "!我 删除 确认")
    await resident.wait_for_event(
        neighbours,
        lambda e: e["sender"] == BOT and e["content"].get("body", "").startswith("已删除"),
    )
    clock.advance(timedelta(seconds=2))  # the list's edit
    name = resident.user_id[1:].split(":")[0]
    edit = await staff.wait_for_event(neighbours, edit_of(card, "—— 志愿者（0/2）——"))
    assert name not in edit["content"]["m.new_content"]["body"]
    assert neighbour.user_id[1:].split(":")[0] in edit["content"]["m.new_content"]["body"]

    async def redacted() -> bool:
        event = await staff.call(
            "GET", f"/_matrix/client/v3/rooms/{q(neighbours)}/event/{q(idle['event_id'])}"
        )
        return not event.get("content")

    await eventually(redacted)
    # The hours stay, unnamed, in the compound's total.
    start_of_month = datetime(2026, 11, 1, tzinfo=SHANGHAI)
    total = await bridge.bot(CommunityBot).hours.store.total_minutes(
        "heping", start_of_month, start_of_month + timedelta(days=31)
    )
    assert total == 120


def ringing(notification: dict[str, Any]) -> bool:
    return any(
        isinstance(a, dict) and a.get("set_tweak") == "sound" for a in notification["actions"]
    )
