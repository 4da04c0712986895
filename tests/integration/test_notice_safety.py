"""Nothing unsafe in a notice, through the real Synapse: what a resident's client receives has
only safe links and images, code as typed, mentions the bot means; a notice too large for one
event is refused before it is stored."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp

from bridge.config import WebhookTarget
from bridge.webhooks import SIGNATURE_HEADER, signature_header
from tests.integration.harness import Harness
from tests.integration.test_notices import BOT, World, build_world, from_bot

HOSTILE = "\n".join(
    [
        "停水通知 @room",
        "[点我](javascript:alert(1)) [二](JaVaScRiPt:alert(2)) [三](vbscript:msgbox(3))",
        "[四](data:text/html;base64,PHNjcmlwdD4=) [五][ref] <script>alert(6)</script>",
        "![pixel](https://tracker.example/p.png) ![ok](mxc://linli.localhost/abc)",
        "[物业](https://matrix.to/#/@wuye_wang:linli.localhost) [信](mailto:wy@example.org)",
        "代码：`a<b`",
        "",
        "[ref]: javascript:alert(5)",
    ]
)


def assert_safe(html: str) -> None:
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs == ["https://matrix.to/#/@wuye_wang:linli.localhost", "mailto:wy@example.org"]
    assert re.findall(r'src="([^"]*)"', html) == ["mxc://linli.localhost/abc"]
    for bad in ("javascript", "vbscript", "data:", "tracker.example", "<script"):
        assert bad not in html.lower()
    assert "<code>a&lt;b</code>" in html  # shown as a<b, not a&lt;b


async def test_a_notice_keeps_only_safe_links_and_images_and_pings_nobody(
    harness: Harness, make_user, staff_client
) -> None:
    w = await build_world(harness, make_user, staff_client)
    await w.command(f"!通知 3 {HOSTILE}", lambda b: "通知 #1 已发布" in b)
    notice = await w.notice_in(w.r3a, "building_3", "停水通知")
    content = notice["content"]
    assert_safe(content["formatted_body"])
    # "@room" typed in a notice that is not urgent: explicit mentions, nobody.
    assert content["m.mentions"] == {}
    assert "@room" in content["body"]

    # The same through an edit.
    await w.command(f"!通知 修改 1 {HOSTILE.replace('停水', '停电')}", lambda b: "已修改" in b)
    edit = await w.r3a.wait_for_event(
        w.rooms["building_3"],
        lambda e: (
            e["sender"] == BOT
            and e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
        ),
    )
    new = edit["content"]["m.new_content"]
    assert "停电通知" in new["body"]
    assert_safe(new["formatted_body"])
    assert new["m.mentions"] == {}


async def test_a_notice_too_large_for_one_event_is_refused_with_the_limit_and_not_stored(
    harness: Harness, make_user, staff_client
) -> None:
    w = await build_world(harness, make_user, staff_client)
    answer = await w.command("!通知 3 " + "停水" * 5500, lambda b: "太长" in b)
    assert "64 KB" in answer and "没有发布" in answer
    assert await w.bot.notices.listing("heping") == []
    await w.command("!通知 3 明天停水", lambda b: "通知 #1 已发布" in b)
    answer = await w.command("!通知 修改 1 " + "停电" * 5500, lambda b: "太长" in b)
    assert "64 KB" in answer
    [notice] = await w.bot.notices.listing("heping")
    assert notice.text == "明天停水"


# ------------------------------------------------------------------ webhooks

WATER_SECRET = "water-company-inbound-secret-0123"
NEW_SECRET = "water-company-new-secret-456789"
POWER_SECRET = "power-company-inbound-secret-0123"
GRID_SECRET = "grid-platform-inbound-secret-0123"
DISTRICT_SECRET = "district-platform-inbound-secret-01"


def senders(harness: Harness, *names: str) -> None:
    harness.edit_compound(
        "heping",
        '  buildings: ["1", "2", "3"]',
        f'  buildings: ["1", "2", "3"]\n  notices:\n    senders: [{", ".join(names)}]',
    )


def target(secret: str) -> WebhookTarget:
    return WebhookTarget(url="http://127.0.0.1:9/unused", secret="w" * 16, inbound_secret=secret)


async def signed_post(w: World, sender: str, body: bytes | dict[str, Any], secret: str) -> int:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = int(w.clock.now().timestamp())
    headers = {SIGNATURE_HEADER: signature_header(secret, ts, raw)}
    url = f"http://127.0.0.1:{w.harness.port}/linli/webhooks/{sender}"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=raw, headers=headers) as answer:
            return answer.status


async def test_a_notice_sender_can_only_post_notices_typed_strictly_and_stored_before_posting(
    harness: Harness, make_user, staff_client
) -> None:
    harness.webhooks = {"water": target(WATER_SECRET)}
    senders(harness, "water")
    w = await build_world(harness, make_user, staff_client)
    b3 = w.rooms["building_3"]
    await w.r3a.send_text(b3, "@物业 3号楼电梯坏了")
    await w.r3a.wait_for_event(b3, from_bot(lambda b: "工单 #1" in b))
    # The water company is no grid platform: it cannot write into the ticket's thread.
    status = {"reference": "linli:heping:1", "status": "resolved", "note": "已修好"}
    assert await signed_post(w, "water", status, WATER_SECRET) == 403
    # Typed strictly; a huge number or deep nesting is a bad body, not a crash.
    good = {"id": "outage-7", "compound": "heping", "buildings": "3", "text": "3号楼停水"}
    for bad in (
        {**good, "expires_hours": True},
        {**good, "expires_hours": "3"},
        {**good, "urgent": 1},
    ):
        assert await signed_post(w, "water", bad, WATER_SECRET) == 400
    huge = json.dumps(good)[:-1].encode() + b', "n": ' + b"9" * 5000 + b"}"
    deep = json.dumps(good)[:-1].encode() + b', "n": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    for bad_body in (huge, deep):
        assert await signed_post(w, "water", bad_body, WATER_SECRET) == 400
    assert await w.bot.notices.listing("heping") == []

    # Accepted, then Linli dies before posting it: the notice was stored with its job first.
    stuck = asyncio.Event()

    async def never(*args: Any, **kw: Any) -> list[str]:
        await stuck.wait()
        return []

    w.bot.board.publish = never  # type: ignore[method-assign]
    text = "自来水公司：[详情](data:text/html;base64,PHNjcmlwdD4=) 今晚停水"
    assert await signed_post(w, "water", {**good, "text": text}, WATER_SECRET) == 200
    await w.harness.stop_bridge(w.bridge)
    w.bridge = await w.harness.start_bridge(apply=False, clock=w.clock)
    posted = await w.notice_in(w.r3a, "building_3", "自来水公司")
    assert posted["content"]["body"].startswith("【通知 #1】")
    assert "data:" not in posted["content"]["formatted_body"]
    await w.restart()
    await w.command("!通知 列表", lambda b: b.startswith("通知："))
    events = await w.r3a.messages(b3, 100)
    assert len([e for e in events if "自来水公司" in e["content"].get("body", "")]) == 1
    assert not [e for e in events if "网格平台更新" in e["content"].get("body", "")]


async def test_a_reload_takes_a_new_sender_and_a_changed_secret(
    harness: Harness, make_user, staff_client
) -> None:
    harness.webhooks = {"water": target(WATER_SECRET)}
    senders(harness, "water")
    w = await build_world(harness, make_user, staff_client)
    notice = {"id": "n-1", "compound": "heping", "buildings": "3", "text": "停电通知"}
    assert await signed_post(w, "power", notice, POWER_SECRET) == 404
    # The operator adds the power company (in bridge.yaml, naming the compound it may post
    # to) and changes the water company's secret, then HUP.
    power = target(POWER_SECRET).model_copy(update={"notice_compounds": ["heping"]})
    harness.webhooks = {"water": target(NEW_SECRET), "power": power}
    await w.bridge.reload(harness.rooms(), webhooks=harness.config.webhooks)
    assert await signed_post(w, "water", {**notice, "id": "w-1"}, WATER_SECRET) == 401
    assert await signed_post(w, "water", {**notice, "id": "w-1"}, NEW_SECRET) == 200
    assert await signed_post(w, "power", notice, POWER_SECRET) == 200
    await w.notice_in(w.r3a, "building_3", "【通知 #2】")


async def test_a_grid_platform_answers_only_for_the_compounds_that_send_it_work_orders(
    harness: Harness, make_user, staff_client
) -> None:
    # heping's ladder ends at the grid platform (the default); xingfu's at the district's.
    harness.webhooks = {"grid": target(GRID_SECRET), "district": target(DISTRICT_SECRET)}
    harness.edit_compound(
        "xingfu",
        '  buildings: ["5", "6"]',
        "  tickets:\n    escalation:\n      - {after: 2h, to: webhook, name: district}\n"
        '  buildings: ["5", "6"]',
    )
    w = await build_world(harness, make_user, staff_client, ("heping", "xingfu"))
    b3 = w.rooms["building_3"]
    await w.r3a.send_text(b3, "@物业 3号楼电梯坏了")
    await w.r3a.wait_for_event(b3, from_bot(lambda b: "工单 #1" in b))
    status = {"reference": "linli:heping:1", "status": "accepted"}
    # The district's platform may send statuses, but not for heping's tickets.
    assert await signed_post(w, "district", status, DISTRICT_SECRET) == 403
    assert await signed_post(w, "grid", status, GRID_SECRET) == 200
    update = await w.r3a.wait_for_event(b3, from_bot(lambda b: "网格平台更新" in b))
    events = await w.r3a.messages(b3, 100)
    assert [e["event_id"] for e in events if "网格平台更新" in e["content"].get("body", "")] == [
        update["event_id"]
    ]
