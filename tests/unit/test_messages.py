"""The contents the bots send: which ring (alert) and which stay quiet (notice), mentions set
explicitly on every event, people named with escaped pills."""

from __future__ import annotations

from bridge import messages
from bridge.messages import People, Person


def test_a_notice_is_quiet_and_an_alert_names_who_it_rings() -> None:
    quiet = messages.notice("好的", thread_root="$root")
    assert quiet["msgtype"] == "m.notice" and quiet["m.mentions"] == {}
    ring = messages.alert("工单 #1", to=["@b:x", "@a:x", "@a:x"], thread_root="$root")
    assert ring["msgtype"] == "m.text"
    assert ring["m.mentions"] == {"user_ids": ["@a:x", "@b:x"]}
    assert ring["m.relates_to"]["m.in_reply_to"] == {"event_id": "$root"}
    room = messages.alert("紧急", room=True)
    assert room["m.mentions"] == {"user_ids": [], "room": True}


def test_every_other_event_the_bot_sends_pings_no_one() -> None:
    for content in (
        messages.reaction("$e", "✅"),
        messages.file_message("mxc://x/y", "a.png", "image/png", 3),
        messages.poll_start("@room 快来", [("a", "A"), ("b", "B")], disclosed=True),
        messages.poll_end("$poll", "@room 快来：A 1 票"),
    ):
        assert content["m.mentions"] == {}


def test_an_edit_does_not_ring_again_and_keeps_its_mentions_inside() -> None:
    urgent = messages.alert("燃气", room=True, html="<p>燃气</p>")
    edit = messages.edit("$orig", urgent)
    assert edit["m.mentions"] == {}
    assert edit["m.new_content"]["m.mentions"] == {"user_ids": [], "room": True}
    assert edit["formatted_body"] == "* <p>燃气</p>" and edit["body"] == "* 燃气"
    plain = messages.edit("$orig", {"msgtype": "m.notice", "body": "x"})
    assert plain["m.new_content"]["m.mentions"] == {}


def test_people_read_by_name_and_link_as_escaped_pills() -> None:
    wang = Person("@wuye_wang:x", "物业<小王>")
    body, html = messages.fill("负责：{who}。<{n}>", {"who": wang, "n": 1})
    assert body == "负责：物业<小王>。<1>"
    assert (
        html == '负责：<a href="https://matrix.to/#/@wuye_wang:x">物业&lt;小王&gt;</a>。&lt;1&gt;'
    )
    both = People((wang, Person("@li:x", "小李")), "、")
    body, html = messages.fill("{who}\n跟进", {"who": both})
    assert body == "物业<小王>、小李\n跟进"
    assert html is not None and html.endswith(
        '<a href="https://matrix.to/#/@li:x">小李</a><br>跟进'
    )
    # Nobody named: no HTML at all.
    assert messages.fill("好的 {n}", {"n": 2}) == ("好的 2", None)
