"""Onboarding through the real Synapse: the lobby, verification by the committee, roles and
their power, a resident's own data."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select

from bots.tickets.bot import TicketBot
from bridge.app import Bridge
from bridge.cli import main as linli
from bridge.store.models import Base
from tests.integration.harness import Harness
from tests.integration.matrix_client import MatrixHTTPError, ResidentClient, q
from tests.integration.test_votes import invited_direct_room

BOT = "@linli:linli.localhost"
COMMITTEE = "juwei_chen"


def from_bot(predicate: Callable[[str], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["sender"] == BOT and predicate(e["content"].get("body", ""))


async def request_in_committee_room(
    harness: Harness, committee: ResidentClient, matches: Callable[[str], bool]
) -> tuple[str, str]:
    """The committee's work room, and the number of the verification request posted there."""
    work_room = await committee.join(harness.alias("heping-committee"))
    request = await committee.wait_for_event(work_room, from_bot(matches))
    return work_room, request["content"]["body"].split("#")[1].split("：")[0]


async def started(harness: Harness) -> Bridge:
    harness.only("heping")
    return await harness.start_bridge()


async def resident_of_building_1(
    harness: Harness, make_user: Any, room: str
) -> tuple[Bridge, ResidentClient]:
    """A started bridge and a resident of 1-1-<room>, bound directly (verification has tests
    of its own), with the rooms applied for them."""
    bridge = await started(harness)
    resident: ResidentClient = await make_user()
    await bridge.store.people.bind_household(
        "heping", resident.user_id, "1", "1", room, bridge.clock.now()
    )
    await bridge.provisioner.apply()
    return bridge, resident


async def test_newcomer_is_greeted_verified_and_let_into_their_building_only(
    harness: Harness, make_user, staff_client
) -> None:
    await started(harness)
    newcomer: ResidentClient = await make_user()
    # The QR code's link names the lobby's alias; a client resolves and joins it.
    lobby = await newcomer.join(harness.alias("heping-lobby"))
    await newcomer.set_room_name_for_me(lobby, "张阿姨")
    await newcomer.wait_for_event(lobby, from_bot(lambda b: b.startswith("欢迎来到和平里小区")))
    with pytest.raises(MatrixHTTPError) as before:
        await newcomer.join(harness.alias("heping-hall"))
    assert before.value.status == 403

    request = await newcomer.send_text(lobby, "!认证 3-2-1101 张三")
    await newcomer.wait_for_event(lobby, from_bot(lambda b: b.startswith("已收到认证申请")))
    # The lobby is open to anyone with the link: the address and name are taken out of it.
    assert await event_content(newcomer, lobby, request) == {}
    committee = await staff_client(COMMITTEE)
    work_room, number = await request_in_committee_room(
        harness, committee, lambda b: newcomer.user_id in b and "3-2-1101" in b
    )
    await committee.send_text(work_room, f"!认证 同意 {number}")
    approved = await newcomer.wait_for_event(lobby, from_bot(lambda b: "认证通过" in b))
    # Named as the lobby shows them, with a pill; and it rings their phone.
    assert approved["content"]["body"].startswith("张阿姨 认证通过")
    pill = f'<a href="https://matrix.to/#/{newcomer.user_id}">张阿姨</a>'
    assert approved["content"]["formatted_body"].startswith(pill)
    assert approved["content"]["m.mentions"] == {"user_ids": [newcomer.user_id]}

    await newcomer.join(harness.alias("heping"))
    await newcomer.join(harness.alias("heping-hall"))
    await newcomer.join(harness.alias("heping-building_3"))
    with pytest.raises(MatrixHTTPError) as other:
        await newcomer.join(harness.alias("heping-building_1"))
    assert other.value.status == 403


async def test_bad_requests_are_answered_and_a_rejected_user_stays_out(
    harness: Harness, make_user, staff_client
) -> None:
    await started(harness)
    newcomer: ResidentClient = await make_user()
    lobby = await newcomer.join(harness.alias("heping-lobby"))
    answers = [
        ("!认证 三楼 李四", "地址格式不对，请写成 楼号-单元-室号，例如 3-2-1101。"),
        ("!认证 9-1-101 李四", "本小区没有这栋楼，请核对楼号。"),
        ("!认证 1-1-101", "用法：!认证 楼号-单元-室号 姓名"),
        ("!认证 同意 1", "只有居委会可以用这个命令。"),
    ]
    for command, answer in answers:
        await newcomer.send_text(lobby, command)
        await newcomer.wait_for_event(lobby, from_bot(lambda b, a=answer: b == a))
    await newcomer.send_text(lobby, "!认证 1-1-101 李四")
    await newcomer.wait_for_event(lobby, from_bot(lambda b: b.startswith("已收到")))
    await newcomer.send_text(lobby, "!认证 1-1-102 李四")
    await newcomer.wait_for_event(lobby, from_bot(lambda b: b == "您已经提交过申请，请等审核。"))

    committee = await staff_client(COMMITTEE)
    work_room, number = await request_in_committee_room(
        harness, committee, lambda b: newcomer.user_id in b
    )
    await committee.send_text(work_room, f"!认证 拒绝 {number} 花名册上查不到这户")
    # The lobby hears only that it was refused; the reason comes in a direct message.
    await newcomer.wait_for_event(lobby, from_bot(lambda b: "认证没有通过，原因已私信" in b))
    dm = await _invited_dm(newcomer)
    await newcomer.join(dm)
    await newcomer.wait_for_event(dm, from_bot(lambda b: "没有通过：花名册上查不到这户" in b))
    lobby_text = [e["content"].get("body", "") for e in await newcomer.messages(lobby, 50)]
    assert not any("花名册" in body for body in lobby_text)
    await committee.send_text(work_room, f"!认证 同意 {number}")
    await committee.wait_for_event(work_room, from_bot(lambda b: "已经处理过了" in b))
    with pytest.raises(MatrixHTTPError) as refused:
        await newcomer.join(harness.alias("heping-neighbours"))
    assert refused.value.status == 403


async def test_granted_role_gets_power_in_the_compound_and_revoking_takes_it_away(
    harness: Harness, make_user, staff_client
) -> None:
    _, resident = await resident_of_building_1(harness, make_user, "101")
    announcements = await resident.join(harness.alias("heping-announcements"))
    with pytest.raises(MatrixHTTPError):
        await resident.send_text(announcements, "明天停电")

    committee = await staff_client(COMMITTEE)
    work_room = await committee.join(harness.alias("heping-committee"))
    await committee.send_text(work_room, f"!角色 授予 {resident.user_id} 楼长")
    await committee.wait_for_event(work_room, from_bot(lambda b: b.endswith("“楼长”。")))
    levels = await resident.get_state(announcements, "m.room.power_levels")
    assert levels["users"][resident.user_id] == 10
    await resident.send_text(announcements, "明天停电")

    await committee.send_text(work_room, f"!角色 授予 {resident.user_id} 党员")
    await committee.wait_for_event(work_room, from_bot(lambda b: "党员" in b and "加上" in b))
    await resident.join(harness.alias("heping-party"))  # invited now

    await committee.send_text(work_room, f"!角色 取消 {resident.user_id} 楼长")
    await committee.wait_for_event(work_room, from_bot(lambda b: b.startswith("已取消")))
    levels = await resident.get_state(announcements, "m.room.power_levels")
    assert resident.user_id not in levels["users"]
    with pytest.raises(MatrixHTTPError) as e:
        await resident.send_text(announcements, "再说一句")
    assert e.value.status == 403

    await committee.send_text(work_room, f"!角色 授予 {resident.user_id} 国王")
    await committee.wait_for_event(work_room, from_bot(lambda b: "没有“国王”这个身份" in b))
    neighbours = await resident.join(harness.alias("heping-neighbours"))
    await resident.send_text(neighbours, "!谁")
    who = await resident.wait_for_event(neighbours, from_bot(lambda b: "工作人员：" in b))
    # Named as the room shows them (Synapse's default display name is the localpart).
    assert "物业：wuye_wang" in who["content"]["body"]


async def test_personal_data_stays_private_is_exported_and_forgotten(
    harness: Harness, make_user, staff_client
) -> None:
    bridge = await started(harness)
    resident: ResidentClient = await make_user()
    lobby = await resident.join(harness.alias("heping-lobby"))
    await resident.send_text(lobby, "!认证 2-1-501 王小明")
    committee = await staff_client(COMMITTEE)
    work_room, number = await request_in_committee_room(
        harness, committee, lambda b: resident.user_id in b and "王小明" in b
    )
    notice = await committee.wait_for_event(work_room, from_bot(lambda b: "王小明" in b))
    await committee.send_text(work_room, f"!认证 同意 {number}")
    await resident.wait_for_event(lobby, from_bot(lambda b: "认证通过" in b))
    neighbours = await resident.join(harness.alias("heping-neighbours"))

    # `!我` in the neighbours' room: the details go to a direct message, not to the neighbours.
    await resident.send_text(neighbours, "!我")
    await resident.wait_for_event(neighbours, from_bot(lambda b: b == "已私信发给您。"))
    dm = await _invited_dm(resident)
    await resident.join(dm)
    mine = await resident.wait_for_event(dm, from_bot(lambda b: b.startswith("我们为您保存")))
    assert "2-1-501" in mine["content"]["body"] and "王小明" in mine["content"]["body"]
    assert mine["content"]["body"].count("2-1-501") == 1  # the household, not its request too
    assert "和平里小区" in mine["content"]["body"]
    in_room = [e["content"].get("body", "") for e in await resident.messages(neighbours, 50)]
    assert not any("王小明" in body or "2-1-501" in body for body in in_room)

    # The export comes to the same direct room.
    await resident.send_text(neighbours, "!我 导出")
    await resident.wait_for_event(neighbours, from_bot(lambda b: "私信" in b and "数据" in b))
    file_event = await resident.wait_for_event(
        dm, lambda e: e["content"].get("msgtype") == "m.file"
    )
    data = json.loads(await _download(resident, file_event["content"]["url"]))
    assert data["user_id"] == resident.user_id
    assert data["households"][0]["household"] == "2-1-501"
    assert data["households"][0]["name"] == "王小明"

    await resident.send_text(neighbours, "!我 删除")
    await resident.wait_for_event(neighbours, from_bot(lambda b: b.startswith("这会删除")))
    assert (await bridge.store.people.export(resident.user_id))["households"]  # asked first
    await resident.send_text(neighbours, "!我 删除 确认")
    await resident.wait_for_event(neighbours, from_bot(lambda b: b.startswith("已删除")))
    await bridge.worker.drain()
    await bridge.scheduler.run_due()  # the rooms follow in a provisioning job
    assert await bridge.store.people.export(resident.user_id) == {
        "user_id": resident.user_id,
        "households": [],
        "roles": [],
        "verification_requests": [],
    }
    # No name anywhere in the database: not in the records, not in the inbox that held the
    # `!认证` message; and the request the committee saw is redacted.
    dump = await database_text(bridge)
    assert "王小明" not in dump and "2-1-501" not in dump
    assert await event_content(committee, work_room, notice["event_id"]) == {}
    # no longer a resident: taken out of the resident rooms
    with pytest.raises(MatrixHTTPError):
        await resident.send_text(neighbours, "还在吗")
    # Their export, asked for in the direct room they still have, comes there: no second one.
    rooms_before = set(await resident.joined_rooms())
    await resident.send_text(dm, "!我 导出")
    second = await resident.wait_for_event(
        dm,
        lambda e: (
            e["content"].get("msgtype") == "m.file" and e["event_id"] != file_event["event_id"]
        ),
    )
    assert json.loads(await _download(resident, second["content"]["url"]))["households"] == []
    assert set(await resident.joined_rooms()) == rooms_before
    assert await bridge.store.people.direct_room(resident.user_id) == dm  # the same one again


async def database_text(bridge: Bridge) -> str:
    """Every row of every table, as text (on either engine)."""
    rows = []
    async with bridge.store.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows += [repr(tuple(row)) for row in (await conn.execute(select(table))).all()]
    return "\n".join(rows)


async def event_content(client: ResidentClient, room_id: str, event_id: str) -> dict[str, Any]:
    """An event's content as a client sees it now (empty once redacted)."""
    for _ in range(50):
        event = await client.call(
            "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/event/{q(event_id)}"
        )
        if not event.get("content"):
            return {}
        await asyncio.sleep(0.1)  # the redaction may still be on its way
    return dict(event["content"])


async def _invited_dm(client: ResidentClient) -> str:
    for _ in range(100):
        sync = await client.call("GET", "/_matrix/client/v3/sync", params={"timeout": "0"})
        invites = sync.get("rooms", {}).get("invite", {})
        for room_id, room in invites.items():
            events = room.get("invite_state", {}).get("events", [])
            if any(e.get("content", {}).get("is_direct") for e in events):
                return str(room_id)
        await asyncio.sleep(0.1)
    raise AssertionError("no direct-message invitation")


async def _download(client: ResidentClient, mxc: str) -> bytes:
    parts = urlsplit(mxc)
    url = f"{client.base_url}/_matrix/client/v1/media/download/{parts.netloc}{parts.path}"
    async with client.http.get(url, headers={"Authorization": f"Bearer {client.token}"}) as resp:
        assert resp.status == 200
        return await resp.read()


async def test_roster_import_reports_bad_lines_and_requests_must_match_it(
    harness: Harness, make_user, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge = await started(harness)
    good_hash = "a" * 64
    roster = harness.workdir / "roster.csv"
    roster.write_text(
        "building,unit,room,floor_area,owners,phone_hashes\n"
        f"3,2,1101,89.5,张三;李梅,{good_hash}\n"
        "3,2,1102,76,王五,13812345678\n"
        "1,1,101,120.25,赵六,\n",
        encoding="utf-8",
    )
    config = harness.write_bridge_yaml()
    code = await asyncio.to_thread(
        linli, ["-c", str(config), "roster", "import", "heping", str(roster)]
    )
    out = capsys.readouterr()
    assert code == 1
    assert f"{roster}:3: 不能写手机号，请写手机号的哈希值" in out.err
    assert "13812345678" not in out.err + out.out and "王五" not in out.err + out.out
    assert "导入 2 户；1 行有误，未导入。" in out.out
    assert await bridge.store.roster.roster_owners("heping", "3", "2", "1101") == ["张三", "李梅"]

    newcomer: ResidentClient = await make_user()
    lobby = await newcomer.join(harness.alias("heping-lobby"))
    await newcomer.send_text(lobby, "!认证 3-2-1102 王五")
    # Anyone with the link reads the lobby: the refused address is told privately.
    await newcomer.wait_for_event(lobby, from_bot(lambda b: b == "已私信发给您。"))
    dm = await _invited_dm(newcomer)
    await newcomer.join(dm)
    await newcomer.wait_for_event(dm, from_bot(lambda b: "花名册里没有 3-2-1102" in b))
    assert not [
        e
        for e in await newcomer.messages(lobby)
        if e["sender"] == BOT and "3-2-1102" in e["content"].get("body", "")
    ]
    await newcomer.send_text(lobby, "!认证 3-2-1101 张三")
    await newcomer.wait_for_event(lobby, from_bot(lambda b: b.startswith("已收到")))


async def test_observer_asks_for_figures_in_their_own_room_only(
    harness: Harness, staff_client
) -> None:
    await started(harness)
    observer = await staff_client("jiedao_zhou")
    own = await observer.join(harness.alias("heping-observers"))
    await observer.send_text(own, "!工单 统计")
    answer = await observer.wait_for_event(own, from_bot(lambda b: "工单统计" in b))
    assert (
        answer["content"]["body"].startswith("和平里小区工单统计")
        and "新开 0" in answer["content"]["body"]
    )
    await observer.send_text(own, "!帮助")
    helped = await observer.wait_for_event(own, from_bot(lambda b: b.startswith("您可以用")))
    assert "找物业" not in helped["content"]["body"]  # they cannot post where that would work
    hall = await observer.join(harness.alias("heping-hall"))
    with pytest.raises(MatrixHTTPError) as e:
        await observer.send_text(hall, "!工单 统计")
    assert e.value.status == 403


async def test_moving_out_removes_from_resident_rooms_and_keeps_tickets_anonymised(
    harness: Harness, make_user, staff_client
) -> None:
    bridge = await started(harness)
    resident: ResidentClient = await make_user()
    await bridge.store.people.bind_household(
        "heping", resident.user_id, "1", "1", "101", bridge.clock.now()
    )
    await bridge.provisioner.apply()
    neighbours = await resident.join(harness.alias("heping-neighbours"))
    opened = await resident.send_text(neighbours, "@物业 楼道灯坏了")
    await resident.wait_for_event(neighbours, from_bot(lambda b: "工单 #1" in b))

    committee = await staff_client(COMMITTEE)
    work_room = await committee.join(harness.alias("heping-committee"))
    await committee.send_text(work_room, f"!住户 移除 {resident.user_id}")
    await committee.wait_for_event(work_room, from_bot(lambda b: "已移出" in b))
    kick = await resident.wait_for_event(
        neighbours,
        lambda e: (
            e["type"] == "m.room.member"
            and e.get("state_key") == resident.user_id
            and e["content"].get("membership") == "leave"
        ),
    )
    assert kick["content"]["reason"]  # told why
    ticket = await bridge.bot(TicketBot).tickets.by_thread(opened)
    assert ticket is not None and ticket.reporter is None and ticket.number == 1
    await committee.send_text(work_room, f"!住户 移除 {resident.user_id}")
    await committee.wait_for_event(work_room, from_bot(lambda b: "不是本小区认证住户" in b))


async def test_committee_member_cannot_approve_their_own_request(
    harness: Harness, staff_client
) -> None:
    await started(harness)
    committee = await staff_client(COMMITTEE)
    lobby = await committee.join(harness.alias("heping-lobby"))
    await committee.send_text(lobby, "!认证 1-1-101 陈")
    await committee.wait_for_event(lobby, from_bot(lambda b: b.startswith("已收到")))
    work_room, number = await request_in_committee_room(
        harness, committee, lambda b: "1-1-101" in b
    )
    await committee.send_text(work_room, f"!认证 同意 {number}")
    await committee.wait_for_event(work_room, from_bot(lambda b: b == "不能审核自己的申请。"))
    await committee.send_text(work_room, f"!查 {committee.user_id}")
    await committee.wait_for_event(
        work_room,
        from_bot(lambda b: b == f"{COMMITTEE}（{committee.user_id}） 是本小区工作人员：居委会。"),
    )


async def test_moving_out_asks_first_then_takes_the_resident_out(
    harness: Harness, make_user
) -> None:
    bridge, resident = await resident_of_building_1(harness, make_user, "102")
    neighbours = await resident.join(harness.alias("heping-neighbours"))
    await resident.send_text(neighbours, "!我 搬走")
    await resident.wait_for_event(neighbours, from_bot(lambda b: b.startswith("搬离后")))
    assert await bridge.store.people.residents("heping")  # nothing changed yet
    await resident.send_text(neighbours, "!我 搬走 确认")
    await resident.wait_for_event(neighbours, from_bot(lambda b: b.startswith("已为您办理搬离")))
    await bridge.worker.drain()
    await bridge.scheduler.run_due()  # the rooms follow in a provisioning job
    assert resident.user_id not in {
        r.user_id for r in await bridge.store.people.residents("heping")
    }
    with pytest.raises(MatrixHTTPError) as out:
        await resident.send_text(neighbours, "还在吗")
    assert out.value.status == 403


async def test_moving_out_in_the_direct_room_asks_which_compound_of_several(
    harness: Harness, make_user
) -> None:
    bridge = await harness.start_bridge(apply=False)
    resident: ResidentClient = await make_user()
    people = bridge.store.people
    await people.bind_household("heping", resident.user_id, "1", "1", "103", bridge.clock.now())
    await people.bind_household("xingfu", resident.user_id, "5", "1", "101", bridge.clock.now())
    await bridge.provisioner.apply()
    neighbours = await resident.join(harness.alias("heping-neighbours"))
    await resident.send_text(neighbours, "!我")
    dm = await invited_direct_room(resident)
    # The direct room belongs to no compound: the resident's own compounds answer there.
    await resident.send_text(dm, "!我 搬走 确认")
    which = await resident.wait_for_event(dm, from_bot(lambda b: "请说明搬离哪个" in b))
    assert "和平里小区" in which["content"]["body"] and "幸福家园" in which["content"]["body"]
    assert resident.user_id in {r.user_id for r in await people.residents("xingfu")}
    await resident.send_text(dm, "!我 搬走 确认 幸福家园")
    await resident.wait_for_event(dm, from_bot(lambda b: b.startswith("已为您办理搬离")))
    assert resident.user_id not in {r.user_id for r in await people.residents("xingfu")}
    assert resident.user_id in {r.user_id for r in await people.residents("heping")}


async def test_who_and_whois_name_people_and_whois_shows_the_id_an_impostor_cannot_copy(
    harness: Harness, make_user, staff_client
) -> None:
    await started(harness)
    committee = await staff_client(COMMITTEE)
    await committee.call(
        "PUT",
        f"/_matrix/client/v3/profile/{quote(committee.user_id)}/displayname",
        {"displayname": "居委会陈主任"},
    )
    impostor: ResidentClient = await make_user()
    await impostor.call(
        "PUT",
        f"/_matrix/client/v3/profile/{quote(impostor.user_id)}/displayname",
        {"displayname": "居委会陈主任"},
    )
    work_room = await committee.join(harness.alias("heping-committee"))
    await committee.send_text(work_room, "!谁")
    who = await committee.wait_for_event(work_room, from_bot(lambda b: "居委会：" in b))
    assert "居委会：居委会陈主任" in who["content"]["body"]
    assert committee.user_id not in who["content"]["body"]  # a name, as residents know them
    await committee.send_text(work_room, f"!查 {committee.user_id}")
    await committee.wait_for_event(
        work_room,
        from_bot(lambda b: b == f"居委会陈主任（{committee.user_id}） 是本小区工作人员：居委会。"),
    )
    await committee.send_text(work_room, f"!查 {impostor.user_id}")
    await committee.wait_for_event(
        work_room,
        from_bot(lambda b: b == f"居委会陈主任（{impostor.user_id}） 不是本小区工作人员。"),
    )
