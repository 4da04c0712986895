"""Nothing unsafe in a notice, through the real Synapse: what a resident's client receives has
only safe links and images, code as typed, mentions the bot means; a notice too large for one
event is refused before it is stored."""

from __future__ import annotations

import re

from tests.integration.harness import Harness
from tests.integration.test_notices import BOT, build_world

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
    assert content["m.mentions"] == {"user_ids": []}
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
    assert new["m.mentions"] == {"user_ids": []}


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
