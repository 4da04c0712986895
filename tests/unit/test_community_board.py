"""The neighbours' board through the router, on a real store (SQLite and PostgreSQL) with a
recording homeserver: a help request from post to thanks (a tap, the pick, the private room,
the helper's hours), an idle item from post to 已送出 (struck through), the expiry with the
author asked first, moderation, bad input, and a person's posts exported and erased."""

from __future__ import annotations

from datetime import timedelta

from bots.community.neighbours_bot import NeighboursBot
from bridge.app import Bridge
from tests.unit.test_community_bot import (
    STAFF,
    A,
    B,
    C,
    bridge,
    client_of,
    clock_of,
    handle,
    message,
    room,
    tap,
    untap,
)

__all__ = ["bridge"]  # the fixture


def card_of(bridge: Bridge, head: str) -> str:
    [card] = [s.event_id for s in client_of(bridge).sent if s.body.startswith(head)]
    return card


def last_edit(bridge: Bridge, card: str) -> dict:  # type: ignore[type-arg]
    edits = [
        s.content
        for s in client_of(bridge).sent
        if s.content.get("m.relates_to", {}).get("rel_type") == "m.replace"
        and s.content["m.relates_to"]["event_id"] == card
    ]
    return edits[-1]


async def test_a_help_request_from_post_to_thanks(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    client = client_of(bridge)
    await handle(bridge, message("$ask", A, "!求助 明天上午陪我去医院复查", neighbours))
    assert client.bodies(neighbours)[-1].startswith("求助 #1 已发出。")
    card = card_of(bridge, "【求助 #1】")
    assert any(
        s.event_type == "m.reaction" and s.content["m.relates_to"]["event_id"] == card
        for s in client.sent
    )
    # Picking someone who did not tap is refused; B taps and is picked.
    await handle(bridge, message("$pick0", A, f"!求助 选 1 {B}", neighbours))
    assert "还没有在 #1 下点 🤝" in client.bodies(neighbours)[-1]
    await handle(bridge, tap("$tapB", B, card, neighbours, "🤝"))
    await handle(bridge, message("$pick1", C, f"!求助 选 1 {B}", neighbours))
    assert client.bodies(neighbours)[-1].startswith("只有发布人")
    await handle(bridge, message("$pick", A, f"!求助 选 1 {B}", neighbours))
    assert client.bodies(neighbours)[-1].startswith("已选 ")
    [intro] = [s for s in client.sent if "这是邻里互助 #1 的私聊" in s.body]
    assert intro.room_id != neighbours
    assert intro.content["m.mentions"] == {"user_ids": sorted([A, B])}
    assert "已经有人在帮忙了" in last_edit(bridge, card)["m.new_content"]["body"]
    # Handled again after a crash: no second private room, no second introduction.
    rooms_before = client.paths["createRoom"]
    await handle(bridge, message("$pick", A, f"!求助 选 1 {B}", neighbours), fresh=False)
    assert client.paths["createRoom"] == rooms_before
    await handle(bridge, message("$done", A, "!求助 完成 1 2小时", neighbours))
    thanks = client.sent[-1]
    assert thanks.body.startswith("求助 #1 已完成。") and "记志愿服务 2 小时" in thanks.body
    assert thanks.content["m.mentions"] == {"user_ids": [B]}
    edit = last_edit(bridge, card)["m.new_content"]
    assert edit["body"].startswith("【求助 #1 已完成") and "<del>" in edit["formatted_body"]
    await handle(bridge, message("$h", B, "!志愿 时长", neighbours))
    assert client.bodies(neighbours)[-1].startswith("您的志愿服务：共 2 小时，1 次活动")
    await handle(bridge, message("$done2", A, "!求助 完成 1", neighbours))
    assert client.bodies(neighbours)[-1] == "#1 已经结束了。"


async def test_an_idle_item_given_away_is_struck_through(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    client = client_of(bridge)
    await handle(bridge, message("$idle", A, "!闲置 婴儿床一张，九成新", neighbours))
    card = card_of(bridge, "【闲置 #1】")
    await handle(bridge, message("$list", B, "!闲置 列表", neighbours))
    assert "【闲置 #1】婴儿床一张，九成新" in client.bodies(neighbours)[-1]
    await handle(bridge, message("$given0", B, "!闲置 已送出 1", neighbours))
    assert client.bodies(neighbours)[-1].startswith("只有发布人")
    await handle(bridge, message("$given", A, "!闲置 已送出 1", neighbours))
    assert client.bodies(neighbours)[-1] == "闲置 #1 已标记为已送出。"
    edit = last_edit(bridge, card)["m.new_content"]
    assert edit["body"] == "【闲置 #1 已送出】\n婴儿床一张，九成新"
    assert edit["formatted_body"].endswith("<del>婴儿床一张，九成新</del>")
    await handle(bridge, message("$list2", B, "!闲置 列表", neighbours))
    assert client.bodies(neighbours)[-1] == "现在没有还在进行的帖子。"


async def test_an_unmarked_post_expires_after_its_author_is_reminded(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    client = client_of(bridge)
    await handle(bridge, message("$lost", A, "!失物 黑色钱包，在3号楼附近", neighbours))
    card = card_of(bridge, "【失物 #1】")
    clock = clock_of(bridge)
    clock.advance(timedelta(days=27, minutes=1))
    await bridge.scheduler.run_due()
    [asked] = [s for s in client.sent if "就过期了" in s.body]
    assert asked.room_id != neighbours and asked.content["m.mentions"] == {"user_ids": [A]}
    clock.advance(timedelta(days=3))
    await bridge.scheduler.run_due()
    assert last_edit(bridge, card)["m.new_content"]["body"].startswith("【失物 #1 已过期】")
    # Renewed before its time instead, it would have stayed: a second post shows it.
    await handle(bridge, message("$found", B, "!招领 一把钥匙", neighbours))
    clock.advance(timedelta(days=29))
    await handle(bridge, message("$renew", B, "!续期 2", neighbours))
    assert client.bodies(neighbours)[-1].startswith("#2 已续期，有效到 ")
    clock.advance(timedelta(days=2))
    await bridge.scheduler.run_due()
    assert (await bridge.bot(NeighboursBot).board.posts.by_number("heping", 2)).status == "open"  # type: ignore[union-attr]


async def test_staff_remove_any_post_and_bad_input_changes_nothing(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    client = client_of(bridge)
    await handle(bridge, message("$idle", A, "!闲置 旧自行车", neighbours))
    await handle(bridge, message("$rm0", B, "!删帖 1", neighbours))
    assert client.bodies(neighbours)[-1].startswith("只有发布人")
    await handle(bridge, message("$rm", STAFF, "!删帖 1", neighbours))
    assert client.bodies(neighbours)[-1] == "#1 已撤下。"
    assert client.redacted == [card_of(bridge, "【闲置 #1】")]
    for body, answer in (
        ("!求助", "用法"),
        ("!删帖 9", "没有 #9 这个帖子。"),
        ("!闲置 " + "很" * 301, "内容太长了"),
        ("!求助 完成 1", "#1 已经结束了。"),
    ):
        await handle(bridge, message(f"$bad{len(body)}", A, body, neighbours))
        assert answer in client.bodies(neighbours)[-1]
    assert await bridge.bot(NeighboursBot).board.posts.by_number("heping", 2) is None


async def test_posting_is_rate_limited(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    for n in range(10):
        await handle(bridge, message(f"$p{n}", A, f"!闲置 东西{n}", neighbours))
    await handle(bridge, message("$p10", A, "!闲置 又一个", neighbours))
    assert client_of(bridge).bodies(neighbours)[-1] == "您今天已经发了 10 个帖子，请明天再发。"
    clock_of(bridge).advance(timedelta(days=1, minutes=1))
    await handle(bridge, message("$p11", A, "!闲置 第二天", neighbours))
    assert client_of(bridge).bodies(neighbours)[-1].startswith("闲置 #11 已发出")


async def test_a_persons_posts_are_exported_and_erased(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, message("$idle", A, "!闲置 婴儿床", neighbours))
    card = card_of(bridge, "【闲置 #1】")
    bot = bridge.bot(NeighboursBot)
    [post] = (await bot.export_personal(A))["board_posts"]
    assert post["text"] == "婴儿床" and post["kind"] == "idle"
    await bot.erase_personal(A, None)
    assert await bot.export_personal(A) == {"board_posts": []}
    assert client_of(bridge).redacted == [card]
    erased = await bot.board.posts.by_number("heping", 1)
    assert erased is not None and erased.text == "" and erased.author is None


async def test_a_photo_in_reply_to_ones_own_card_is_noted_on_it(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, message("$idle", A, "!闲置 婴儿床", neighbours))
    card = card_of(bridge, "【闲置 #1】")

    def photo(event_id: str, sender: str) -> dict:  # type: ignore[type-arg]
        return {
            "event_id": event_id,
            "room_id": neighbours,
            "sender": sender,
            "type": "m.room.message",
            "origin_server_ts": 5,
            "content": {
                "msgtype": "m.image",
                "body": "cot.jpg",
                "url": "mxc://linli.localhost/cot",
                "m.relates_to": {"m.in_reply_to": {"event_id": card}},
            },
        }

    await handle(
        bridge,
        photo(
            "$someone",
            B,
        ),
    )
    assert not [
        s
        for s in client_of(bridge).sent
        if s.content.get("m.relates_to", {}).get("rel_type") == "m.replace"
    ]
    await handle(bridge, photo("$photo", A))
    assert "（有照片，见回复）" in last_edit(bridge, card)["m.new_content"]["body"]
    post = await bridge.bot(NeighboursBot).board.posts.by_number("heping", 1)
    assert post is not None and post.photo_event_id == "$photo"


async def test_an_offer_credits_its_author_when_done(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    client = client_of(bridge)
    await handle(
        bridge, message("$offer", A, "!帮忙 每天8点到15点有空，可以帮忙取快递", neighbours)
    )
    card = card_of(bridge, "【帮忙 #1】")
    await handle(bridge, tap("$tapB", B, card, neighbours, "🤝"))
    await handle(bridge, message("$pick", A, f"!帮忙 选 1 {B}", neighbours))
    await handle(bridge, message("$done", A, "!帮忙 完成 1", neighbours))
    [thanks] = [s for s in client.sent if "记志愿服务" in s.body]
    assert "记志愿服务 1 小时" in thanks.body
    assert thanks.content["msgtype"] == "m.notice"  # one's own offer: nothing to ring
    await handle(bridge, message("$hA", A, "!志愿 时长", neighbours))
    assert client.bodies(neighbours)[-1].startswith("您的志愿服务：共 1 小时")
    await handle(bridge, message("$hB", B, "!志愿 时长", neighbours))
    assert client.bodies(neighbours)[-1].startswith("您还没有志愿服务时长")


async def test_a_tap_taken_back_cannot_be_picked(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, message("$ask", A, "!求助 帮我修水龙头", neighbours))
    card = card_of(bridge, "【求助 #1】")
    await handle(bridge, tap("$tapB", B, card, neighbours, "🤝"))
    await handle(bridge, untap("$untapC", C, "$tapB", neighbours))  # not theirs: nothing
    assert await bridge.bot(NeighboursBot).board.posts.answered(1) == [B]
    await handle(bridge, untap("$untapB", B, "$tapB", neighbours))
    await handle(bridge, message("$pick", A, f"!求助 选 1 {B}", neighbours))
    assert "还没有在 #1 下点 🤝" in client_of(bridge).bodies(neighbours)[-1]
