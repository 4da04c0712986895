"""Proxies (委托) through the real Synapse: an owner asks in the hall, a committee member confirms
in the committee room, the proxy (who does not live in the compound) hears by direct message and
votes from there; the owner's later answer is refused; turnout and the audit file show the
proxy. A non-owner's request and one for a secret vote are refused; a revoked proxy cannot vote."""

from __future__ import annotations

import json
from typing import Any

from bots.votes.cli import verify_file
from tests.integration.test_votes import (
    POLL_START,
    World,
    answer,
    download,
    from_bot,
    invited_direct_room,
    notice,
    owners_roster,
    w,
)

__all__ = ["w"]  # the fixture, shared with test_votes.py


async def test_a_confirmed_proxy_votes_for_an_owner_and_the_audit_names_the_proxy(
    w: World, make_user, staff_client
) -> None:
    dave, erin = await make_user(), await make_user()  # Erin: Alice's daughter, lives elsewhere
    await owners_roster(w, dave)
    committee = await staff_client("yewei_zhao")
    await committee.join(w.hall)
    await committee.send_text(w.hall, "!表决 修路 | 简单多数 | 业主")
    start = await committee.wait_for_event(w.hall, from_bot(POLL_START))

    # Bob lives in 1-1-101 but is no owner: he cannot give a proxy.
    await w.bob.send_text(w.hall, f"!委托 {erin.user_id}")
    await w.bob.wait_for_event(w.hall, notice(lambda b: b == "只有业主可以委托别人替自己家投票。"))
    await w.alice.send_text(w.hall, f"!委托 1 {erin.user_id}")
    await w.alice.wait_for_event(w.hall, notice(lambda b: b.startswith("已提交委托申请 #1")))

    scrutineer = await staff_client("juwei_chen")
    work_room = await scrutineer.join(w.harness.alias("heping-committee"))
    asked = await scrutineer.wait_for_event(
        work_room, notice(lambda b: b.startswith("委托申请 #1"))
    )
    assert f"{w.alice.user_id} 请 {erin.user_id} 替 1-1-101 户投票" in asked["content"]["body"]
    await scrutineer.send_text(work_room, "!委托 确认 1")
    await scrutineer.wait_for_event(work_room, notice(lambda b: b.startswith("已确认委托 #1")))

    # Erin hears by direct message, as an alert, and votes from there.
    dm = await invited_direct_room(erin)
    told = await erin.wait_for_event(
        dm, from_bot("m.room.message", lambda c: "委托您替 1-1-101 户投票" in c.get("body", ""))
    )
    assert told["content"]["msgtype"] == "m.text"
    assert told["content"]["m.mentions"] == {"user_ids": [erin.user_id]}
    rang = await erin.notifications(dm)
    # As their phone sees it: the message, or on first contact the direct room's invitation
    # (sent with it; the homeserver's push rules ring for an invitation, and a message that
    # arrives while one is only invited counts for nobody), rings with a sound.
    assert any(ringing(n) for n in rang), rang
    await erin.send_text(dm, "!表决 投 1 反对")
    await erin.wait_for_event(dm, notice(lambda b: b.startswith("已记下您作为代理人")))

    # Alice answers after her proxy: refused with the reason; Carol votes for herself.
    await answer(w.alice, w.hall, start["event_id"], ["yes"])
    await w.alice.wait_for_event(w.hall, notice(lambda b: b.startswith("您家的代理人已经替您家")))
    await answer(w.carol, w.hall, start["event_id"], ["yes"])
    await committee.send_text(w.hall, "!表决 进度 1")
    turnout = await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("#1 目前参与")))
    assert turnout["content"]["body"].endswith("，其中 1 户由代理人投票")

    await committee.send_text(w.hall, "!投票 结束 1")
    result = await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("表决 #1 结果")))
    assert "同意 1，反对 1，弃权 0" in result["content"]["body"].split("\n")
    file_event = await committee.wait_for_event(
        w.hall, from_bot("m.room.message", lambda c: c.get("msgtype") == "m.file")
    )
    hash_notice = await committee.wait_for_event(w.hall, notice(lambda b: "SHA-256：" in b))
    sha = hash_notice["content"]["body"].split("SHA-256：")[1].split()[0]
    raw = await download(committee, file_event["content"]["url"])
    assert verify_file("audit.json", raw, sha, None) == 0
    data = json.loads(raw)
    assert data["format"] == "linli-vote-audit/2.1"
    ballots = {b["voter"]: b for b in data["ballots"]}
    assert ballots["1-1-101"]["choice"] == "no"
    assert ballots["1-1-101"]["proxy"] == erin.user_id
    assert ballots["1-1-101"]["proxy_confirmed_by"] == scrutineer.user_id
    assert ballots["1-1-102"]["choice"] == "yes" and "proxy" not in ballots["1-1-102"]


async def test_a_proxy_is_refused_in_secret_votes_and_cannot_vote_once_revoked(
    w: World, make_user, staff_client
) -> None:
    erin = await make_user()
    committee = await staff_client("yewei_zhao")
    await committee.join(w.hall)
    await committee.send_text(w.hall, "!表决 换物业 | 简单多数 | 每户一票 | 不记名")
    await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("不记名表决 #1 已发起")))
    await w.alice.send_text(w.hall, f"!委托 1 {erin.user_id}")
    await w.alice.wait_for_event(
        w.hall, notice(lambda b: b == "表决 #1 是不记名的，不能委托别人投。")
    )

    await committee.send_text(w.hall, "!表决 装路灯 | 简单多数 | 每户一票")
    start = await committee.wait_for_event(w.hall, from_bot(POLL_START))
    await w.alice.send_text(w.hall, f"!委托 {erin.user_id}")
    await w.alice.wait_for_event(w.hall, notice(lambda b: b.startswith("已提交委托申请 #1")))
    await committee.send_text(w.hall, "!委托 确认 1")
    await committee.wait_for_event(w.hall, notice(lambda b: b.startswith("已确认委托 #1")))
    dm = await invited_direct_room(erin)
    await erin.wait_for_event(dm, from_bot("m.room.message", lambda c: "委托您" in c["body"]))
    # In force, it still does not reach the secret vote.
    await erin.send_text(dm, "!表决 投 1 同意")
    await erin.wait_for_event(
        dm, notice(lambda b: b.startswith("表决 #1 是不记名的，不能由代理人"))
    )
    # Alice revokes it before anyone of her household voted: Erin is told, and cannot vote.
    await w.alice.send_text(w.hall, "!委托 撤销 1")
    await w.alice.wait_for_event(w.hall, notice(lambda b: b == "已撤销委托 #1。"))
    await erin.wait_for_event(dm, notice(lambda b: b == "委托 #1（1-1-101 户）已撤销。"))
    await erin.send_text(dm, "!表决 投 2 同意")
    await erin.wait_for_event(dm, notice(lambda b: b == "这个命令要在小区的群里用。"))
    await answer(w.bob, w.hall, start["event_id"], ["yes"])  # her household votes itself
    await w.bob.send_text(w.hall, "!表决 进度 2")
    turnout = await w.bob.wait_for_event(w.hall, notice(lambda b: b.startswith("#2 目前参与")))
    assert "代理人" not in turnout["content"]["body"]


def ringing(notification: dict[str, Any]) -> bool:
    return any(
        isinstance(a, dict) and a.get("set_tweak") == "sound" for a in notification["actions"]
    )
