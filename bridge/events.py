"""Typed Matrix events: raw JSON becomes one of these once, at the edge (STYLE.md: parse once).

Inner code reads `message.thread_root`, never `content["m.relates_to"]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Pills from clients that do not send m.mentions: <a href="https://matrix.to/#/@alice:example.org">
_PILL_RE = re.compile(r'href="https://matrix\.to/#/(@[^"?/]+)')


@dataclass(frozen=True)
class RoomEvent:
    event_id: str
    room_id: str
    sender: str
    type: str
    origin_server_ts: int


@dataclass(frozen=True)
class Message(RoomEvent):
    msgtype: str
    body: str
    formatted_body: str | None = None
    mentioned_users: frozenset[str] = frozenset()
    mentions_room: bool = False
    # The relation this message has, if any: a thread, a reply, an edit.
    rel_type: str | None = None
    relates_to_event: str | None = None
    in_reply_to: str | None = None
    is_falling_back: bool = False
    # A file, image, audio or video message: its media (mxc://) URL, type and size as the
    # sender's client stated them (unencrypted media only; an encrypted file has no `url`).
    url: str | None = None
    mimetype: str | None = None
    size: int | None = None
    filename: str | None = None

    @property
    def is_edit(self) -> bool:
        return self.rel_type == "m.replace"

    @property
    def thread_root(self) -> str | None:
        return self.relates_to_event if self.rel_type == "m.thread" else None

    @property
    def is_notice(self) -> bool:
        return self.msgtype == "m.notice"


@dataclass(frozen=True)
class Membership(RoomEvent):
    user_id: str
    membership: str
    previous: str | None = None


@dataclass(frozen=True)
class Reaction(RoomEvent):
    relates_to_event: str
    key: str


@dataclass(frozen=True)
class OtherEvent(RoomEvent):
    """An event type no bot parses yet; kept so subscribers of raw types can still see it."""

    content: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    room_id: str
    user_id: str
    event_id: str
    ts: int
    receipt_type: str = "m.read"


class MalformedEvent(ValueError):
    pass


def _str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise MalformedEvent(f"{key} missing or not a string")
    return value


def parse_event(raw: dict[str, Any]) -> RoomEvent:
    """One room event from the homeserver; raises MalformedEvent when required keys are wrong."""
    if not isinstance(raw, dict):
        raise MalformedEvent("event is not an object")
    content = raw.get("content")
    if not isinstance(content, dict):
        content = {}
    ts = raw.get("origin_server_ts")
    base: dict[str, Any] = {
        "event_id": _str(raw, "event_id"),
        "room_id": _str(raw, "room_id"),
        "sender": _str(raw, "sender"),
        "type": _str(raw, "type"),
        "origin_server_ts": ts if isinstance(ts, int) else 0,
    }
    kind = base["type"]
    if kind == "m.room.message":
        return _message(base, content)
    if kind == "m.room.member" and isinstance(raw.get("state_key"), str):
        unsigned = raw.get("unsigned")
        prev = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
        return Membership(
            **base,
            user_id=raw["state_key"],
            membership=str(content.get("membership", "")),
            previous=prev.get("membership") if isinstance(prev, dict) else None,
        )
    if kind == "m.reaction":
        rel = content.get("m.relates_to")
        if isinstance(rel, dict) and rel.get("rel_type") == "m.annotation":
            target, key = rel.get("event_id"), rel.get("key")
            if isinstance(target, str) and isinstance(key, str):
                return Reaction(**base, relates_to_event=target, key=key)
    return OtherEvent(**base, content=content)


def _message(base: dict[str, Any], content: dict[str, Any]) -> Message:
    body = content.get("body")
    msgtype = content.get("msgtype")
    if not isinstance(body, str) or not isinstance(msgtype, str):
        # A redacted message has an empty content: nothing to act on, but not an error.
        body, msgtype = "", "m.redacted" if not content else str(msgtype)
    formatted = content.get("formatted_body")
    formatted = formatted if isinstance(formatted, str) else None
    mentions = content.get("m.mentions")
    users: set[str] = set()
    room = False
    if isinstance(mentions, dict):
        ids = mentions.get("user_ids")
        if isinstance(ids, list):
            users |= {u for u in ids if isinstance(u, str)}
        room = mentions.get("room") is True
    elif formatted:
        # Older clients: no m.mentions, only pills (spec: "user and room mentions", legacy).
        users |= set(_PILL_RE.findall(formatted.replace("%40", "@").replace("%3A", ":")))
    rel_type = relates_to = in_reply_to = None
    falling_back = False
    rel = content.get("m.relates_to")
    if isinstance(rel, dict):
        rel_type = rel.get("rel_type") if isinstance(rel.get("rel_type"), str) else None
        relates_to = rel.get("event_id") if isinstance(rel.get("event_id"), str) else None
        reply = rel.get("m.in_reply_to")
        if isinstance(reply, dict) and isinstance(reply.get("event_id"), str):
            in_reply_to = reply["event_id"]
        falling_back = rel.get("is_falling_back") is True
    url = content.get("url")
    info = content.get("info")
    info = info if isinstance(info, dict) else {}
    size = info.get("size")
    filename = content.get("filename")
    return Message(
        **base,
        url=url if isinstance(url, str) and url.startswith("mxc://") else None,
        mimetype=info["mimetype"] if isinstance(info.get("mimetype"), str) else None,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        filename=filename if isinstance(filename, str) else None,
        msgtype=msgtype,
        body=body,
        formatted_body=formatted,
        mentioned_users=frozenset(users),
        mentions_room=room,
        rel_type=rel_type,
        relates_to_event=relates_to,
        in_reply_to=in_reply_to,
        is_falling_back=falling_back,
    )


def parse_receipts(raw: dict[str, Any]) -> list[Receipt]:
    """The read receipts of one ephemeral `m.receipt` event (others give an empty list)."""
    if raw.get("type") != "m.receipt" or not isinstance(raw.get("room_id"), str):
        return []
    receipts = []
    content = raw.get("content")
    for event_id, by_type in content.items() if isinstance(content, dict) else []:
        if not isinstance(by_type, dict):
            continue
        for receipt_type, by_user in by_type.items():
            if not isinstance(by_user, dict):
                continue
            for user_id, info in by_user.items():
                ts = info.get("ts") if isinstance(info, dict) else None
                receipts.append(
                    Receipt(
                        raw["room_id"],
                        user_id,
                        event_id,
                        ts if isinstance(ts, int) else 0,
                        receipt_type,
                    )
                )
    return receipts
