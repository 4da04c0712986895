"""Which bot messages ring a phone, checked the way a phone is told: the homeserver's push rules
decide as each event arrives, and the person's `GET /notifications` lists what they decided
(`only=highlight`: what rings, a mention). Residents and staff act with their own clients; the
clock is a FakeClock the test moves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bridge.clock import FakeClock
from tests.integration.harness import Harness
from tests.integration.matrix_client import ResidentClient
from tests.integration.test_votes import invited_direct_room

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
BOT = "@linli:linli.localhost"
STAFF = "@wuye_wang:linli.localhost"
MANAGER = "@wuye_jingli:linli.localhost"


def from_bot(predicate: Callable[[str], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["sender"] == BOT and predicate(e["content"].get("body", ""))


async def rings(client: ResidentClient, room_id: str, event_id: str) -> bool:
    """The event was a highlight for this person: their phone rang for it."""
    found = await client.notifications(room_id, highlights_only=True)
    return event_id in {n["event"]["event_id"] for n in found}


async def told(client: ResidentClient, room_id: str, event_id: str) -> bool:
    """The event notified this person at all (a ring, or an unread count)."""
    return event_id in {n["event"]["event_id"] for n in await client.notifications(room_id)}


async def test_a_ticket_rings_its_staff_then_the_manager_then_the_resident(
    harness: Harness, make_user, staff_client
) -> None:
    harness.only("heping")
    clock = FakeClock(MONDAY_10)
    resident: ResidentClient = await make_user()
    bridge = await harness.start_bridge(apply=False, clock=clock)
    await bridge.store.people.bind_household(
        "heping", resident.user_id, "3", "2", "1101", clock.now()
    )
    await bridge.provisioner.apply()
    staff, manager = await staff_client("wuye_wang"), await staff_client("wuye_jingli")
    neighbours = await resident.join(harness.alias("heping-neighbours"))
    await staff.join(neighbours)
    five = await manager.join(harness.alias("heping-five_in_one"))
    await manager.set_room_name_for_me(five, "物业经理<老张>")
    # The name residents read for him in their room (a room-only display name).
    await staff.set_room_name_for_me(neighbours, "物业小王")

    mention = await resident.send_text(neighbours, "@物业 3号楼电梯坏了")
    reply = await resident.wait_for_event(neighbours, from_bot(lambda b: "工单 #1" in b))
    content = reply["content"]
    assert content["msgtype"] == "m.text" and content["m.mentions"] == {"user_ids": [STAFF]}
    # A name, not a Matrix ID, and a pill for clients that link it.
    assert "负责：物业小王。" in content["body"] and "@wuye_wang" not in content["body"]
    assert f'<a href="https://matrix.to/#/{STAFF}">物业小王</a>' in content["formatted_body"]
    assert await rings(staff, neighbours, reply["event_id"])
    assert not await rings(resident, neighbours, reply["event_id"])

    # Quiet: the bot's answer to a command, and a resident's ordinary chatter, ring no one.
    await resident.send_text(neighbours, "!帮助")
    help_answer = await resident.wait_for_event(
        neighbours, from_bot(lambda b: b.startswith("您可以用"))
    )
    assert help_answer["content"]["msgtype"] == "m.notice"
    assert help_answer["content"]["m.mentions"] == {}
    assert not await told(staff, neighbours, help_answer["event_id"])
    chatter = await resident.send_text(neighbours, "谢谢物业小王")
    assert not await rings(staff, neighbours, chatter)

    # 10:15, a reminder to the staff on the ticket; 10:31, the manager in the staff room.
    clock.advance(timedelta(minutes=15))
    remind = await staff.wait_for_event(neighbours, from_bot(lambda b: b.startswith("提醒")))
    assert await rings(staff, neighbours, remind["event_id"])
    clock.advance(timedelta(minutes=16))
    follow_up = await manager.wait_for_event(five, from_bot(lambda b: "跟进" in b))
    assert await rings(manager, five, follow_up["event_id"])
    body, html = follow_up["content"]["body"], follow_up["content"]["formatted_body"]
    assert "请 物业经理<老张> 跟进" in body
    # The name is escaped in the HTML: a display name is text, never markup.
    assert f'<a href="https://matrix.to/#/{MANAGER}">物业经理&lt;老张&gt;</a>' in html
    # 11:01, the next rung is the whole staff room: all of it rings.
    clock.advance(timedelta(minutes=30))
    overdue = await manager.wait_for_event(five, from_bot(lambda b: "超时工单 #1" in b))
    assert overdue["content"]["m.mentions"] == {"user_ids": [], "room": True}
    assert await rings(manager, five, overdue["event_id"])

    # Staff answer in the thread: the resident's phone rings once, for the bot's line.
    await staff.reply_in_thread(neighbours, mention, "收到，马上派师傅去看。")
    taken = await resident.wait_for_event(neighbours, from_bot(lambda b: "已受理" in b))
    assert "（物业小王）" in taken["content"]["body"]
    assert await rings(resident, neighbours, taken["event_id"])

    # Done: the resident is asked to confirm, and that rings the resident.
    await staff.send_text(neighbours, "!工单 完成 1 已更换电机")
    done = await resident.wait_for_event(neighbours, from_bot(lambda b: "请确认" in b))
    assert done["content"]["m.relates_to"]["event_id"] == mention
    assert await rings(resident, neighbours, done["event_id"])
    assert not await rings(staff, neighbours, done["event_id"])


async def test_an_urgent_notice_rings_the_room_and_a_residents_at_room_poll_does_not(
    harness: Harness, make_user, staff_client
) -> None:
    harness.only("heping")
    clock = FakeClock(MONDAY_10)
    alice, bob = await make_user(), await make_user()
    bridge = await harness.start_bridge(apply=False, clock=clock)
    for client, room in ((alice, "1101"), (bob, "1102")):
        await bridge.store.people.bind_household(
            "heping", client.user_id, "3", "2", room, clock.now()
        )
    await bridge.provisioner.apply()
    hall = await alice.join(harness.alias("heping-hall"))
    await bob.join(hall)
    building = await bob.join(harness.alias("heping-building_3"))
    staff = await staff_client("wuye_wang")
    work_room = await staff.join(harness.alias("heping-five_in_one"))

    # A resident quotes "@room" in a poll: neither the poll nor its end may highlight anyone,
    # though the bot that posts them has the power to mention the room.
    await alice.send_text(hall, "!投票 @room 大家快来投票 | A | B")
    start = await bob.wait_for_event(
        hall, lambda e: e["sender"] == BOT and e["type"] == "org.matrix.msc3381.poll.start"
    )
    assert start["content"]["m.mentions"] == {}
    await alice.send_text(hall, "!投票 结束 1")
    end = await bob.wait_for_event(
        hall, lambda e: e["sender"] == BOT and e["type"] == "org.matrix.msc3381.poll.end"
    )
    assert "@room" in end["content"]["body"] and end["content"]["m.mentions"] == {}
    assert not await bob.notifications(hall, highlights_only=True)

    # Staff post an urgent notice to building 3: every resident's phone there rings.
    await staff.send_text(work_room, "!通知 3 紧急 燃气泄漏，请勿用火")
    urgent = await bob.wait_for_event(building, from_bot(lambda b: "燃气泄漏" in b))
    assert urgent["content"]["msgtype"] == "m.text"
    assert urgent["content"]["m.mentions"] == {"user_ids": [], "room": True}
    assert await rings(bob, building, urgent["event_id"])
    # An ordinary notice informs: it reaches the room and rings no one.
    await staff.send_text(work_room, "!通知 3 明天上午清洗水箱")
    plain = await bob.wait_for_event(building, from_bot(lambda b: "清洗水箱" in b))
    assert plain["content"]["msgtype"] == "m.notice"
    assert not await told(bob, building, plain["event_id"])


async def test_a_ballot_paper_by_direct_message_rings_its_voter(
    harness: Harness, make_user, staff_client
) -> None:
    harness.only("heping")
    clock = FakeClock(MONDAY_10)
    alice: ResidentClient = await make_user()
    bridge = await harness.start_bridge(apply=False, clock=clock)
    await bridge.store.people.bind_household("heping", alice.user_id, "3", "2", "1101", clock.now())
    await bridge.provisioner.apply()
    hall = await alice.join(harness.alias("heping-hall"))
    committee = await staff_client("yewei_zhao")
    await committee.join(hall)
    # Alice has a direct room with the bot already (her own data, asked for in the hall).
    await alice.send_text(hall, "!我")
    dm = await invited_direct_room(alice)
    await alice.wait_for_event(dm, lambda e: e["sender"] == BOT)
    await committee.send_text(hall, "!表决 加装电梯 | 简单多数 | 住户 | 不记名 | 截止 2天")
    paper = await alice.wait_for_event(
        dm, lambda e: e["sender"] == BOT and e["type"] == "org.matrix.msc3381.poll.start"
    )
    # No default push rule matches a poll: the paper alone would ring nothing.
    assert not await told(alice, dm, paper["event_id"])
    ring = await alice.wait_for_event(dm, from_bot(lambda b: "您的选票到了" in b))
    assert ring["content"]["m.mentions"] == {"user_ids": [alice.user_id]}
    assert await rings(alice, dm, ring["event_id"])


async def test_the_bot_has_a_name_and_avatar_in_each_compounds_language_set_once(
    harness: Harness, make_user
) -> None:
    harness.edit_compound(
        "xingfu", "  name_en: Xingfu Homes\n", "  name_en: Xingfu Homes\n  locale: en\n"
    )
    bridge = await harness.start_bridge()
    looker: ResidentClient = await make_user()
    profile = await looker.call("GET", f"/_matrix/client/v3/profile/{BOT}")
    assert profile["displayname"] == "邻里小助手"
    avatar = profile["avatar_url"]
    assert avatar.startswith("mxc://")
    # Each compound's rooms show the bot in the compound's language (its member event).
    for key, name in (("heping-lobby", "邻里小助手"), ("xingfu-lobby", "Linli helper")):
        room = await looker.join(harness.alias(key))
        # The homeserver carries a profile change into each room in the background.
        await looker.wait_for_event(
            room,
            lambda e, name=name: (
                e["type"] == "m.room.member"
                and e.get("state_key") == BOT
                and (e["content"].get("displayname"), e["content"].get("avatar_url"))
                == (name, avatar)
            ),
        )
        member = await looker.get_state(room, "m.room.member", BOT)
        assert (member["displayname"], member["avatar_url"]) == (name, avatar)
    # Applied again (a new process too): nothing about the bot changes, nothing is uploaded.
    await harness.stop_bridge(bridge)
    bridge = await harness.start_bridge()
    assert not [line for line in bridge.applied.done if "bot" in line]
    again = await looker.call("GET", f"/_matrix/client/v3/profile/{BOT}")
    assert again["avatar_url"] == avatar
