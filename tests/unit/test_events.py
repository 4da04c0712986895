"""Typed events from raw JSON: mentions, pills, relations, receipts."""

from __future__ import annotations

import pytest

from bridge.events import MalformedEvent, Membership, Message, Reaction, parse_event, parse_receipts

BASE = {"event_id": "$e", "room_id": "!r", "sender": "@a:x", "origin_server_ts": 5}


def msg(content: dict) -> Message:
    event = parse_event({**BASE, "type": "m.room.message", "content": content})
    assert isinstance(event, Message)
    return event


def test_m_mentions_are_read() -> None:
    m = msg({"msgtype": "m.text", "body": "hi", "m.mentions": {"user_ids": ["@w:x"], "room": True}})
    assert m.mentioned_users == {"@w:x"} and m.mentions_room


def test_pill_is_a_mention_when_m_mentions_is_absent() -> None:
    m = msg(
        {
            "msgtype": "m.text",
            "body": "Wang: hi",
            "format": "org.matrix.custom.html",
            "formatted_body": '<a href="https://matrix.to/#/@wang:x">Wang</a>: hi',
        }
    )
    assert m.mentioned_users == {"@wang:x"}


def test_thread_reply_and_edit_are_recognised() -> None:
    thread = msg(
        {
            "msgtype": "m.text",
            "body": "x",
            "m.relates_to": {"rel_type": "m.thread", "event_id": "$root"},
        }
    )
    assert thread.thread_root == "$root"
    edit = msg(
        {
            "msgtype": "m.text",
            "body": "* x",
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$o"},
        }
    )
    assert edit.is_edit and edit.thread_root is None


def test_membership_and_reaction() -> None:
    member = parse_event(
        {**BASE, "type": "m.room.member", "state_key": "@b:x", "content": {"membership": "join"}}
    )
    assert isinstance(member, Membership) and member.user_id == "@b:x"
    reaction = parse_event(
        {
            **BASE,
            "type": "m.reaction",
            "content": {
                "m.relates_to": {"rel_type": "m.annotation", "event_id": "$t", "key": "✅"}
            },
        }
    )
    assert isinstance(reaction, Reaction) and reaction.key == "✅"


def test_event_without_sender_is_malformed() -> None:
    with pytest.raises(MalformedEvent):
        parse_event({"event_id": "$e", "room_id": "!r", "type": "m.room.message"})


def test_receipts_are_flattened() -> None:
    receipts = parse_receipts(
        {
            "type": "m.receipt",
            "room_id": "!r",
            "content": {"$e": {"m.read": {"@a:x": {"ts": 7}, "@b:x": {"ts": 8}}}},
        }
    )
    assert {(r.user_id, r.ts) for r in receipts} == {("@a:x", 7), ("@b:x", 8)}


def test_a_file_message_carries_its_media_url_type_and_size() -> None:
    m = msg(
        {
            "msgtype": "m.file",
            "body": "表决1.csv",
            "url": "mxc://x/abc",
            "info": {"mimetype": "text/csv", "size": 42},
        }
    )
    assert (m.url, m.mimetype, m.size) == ("mxc://x/abc", "text/csv", 42)
    # an encrypted file has no plain url; nonsense is dropped rather than trusted
    odd = msg({"msgtype": "m.file", "body": "f", "url": "https://x/f", "info": {"size": True}})
    assert (odd.url, odd.size, odd.mimetype) == (None, None, None)
