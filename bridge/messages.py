"""Message contents the bots send, built without I/O (STYLE.md: sans-I/O, as nio's `Api`).

A bot asks for `notice(...)`, `reaction(...)` or `file_message(...)` and hands the dict to the
client; no handler assembles `m.relates_to` by hand. Spec sections: threads (m.thread with the
reply fallback), annotations (m.annotation), mentions (m.mentions), edits (m.replace).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def notice(
    body: str,
    *,
    thread_root: str | None = None,
    reply_to: str | None = None,
    mentions: Iterable[str] | None = None,
    room_mention: bool = False,
    html: str | None = None,
) -> dict[str, Any]:
    """An m.notice, in a thread when `thread_root` is given (replying to `reply_to` in it, or
    to the root), with explicit mentions when `mentions` is given."""
    content: dict[str, Any] = {"msgtype": "m.notice", "body": body}
    if html is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = html
    if thread_root is not None:
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread_root,
            # Clients without threads show it as a reply to this event (spec: threading,
            # "fallback for clients which do not know about threads").
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": reply_to or thread_root},
        }
    elif reply_to is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    if mentions is not None or room_mention:
        block: dict[str, Any] = {"user_ids": sorted(set(mentions or ()))}
        if room_mention:
            block["room"] = True
        content["m.mentions"] = block
    return content


def reaction(target_event_id: str, key: str) -> dict[str, Any]:
    """An m.reaction annotating `target_event_id` with `key` (send as event type m.reaction)."""
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": target_event_id, "key": key}}


def file_message(
    uri: str, filename: str, mimetype: str, size: int, *, msgtype: str = "m.file"
) -> dict[str, Any]:
    """An uploaded file (m.file, or m.image with msgtype="m.image")."""
    return {
        "msgtype": msgtype,
        "body": filename,
        "filename": filename,
        "url": uri,
        "info": {"mimetype": mimetype, "size": size},
    }


def edit(original_event_id: str, new: dict[str, Any]) -> dict[str, Any]:
    """A replacement of an earlier message by `new` (spec: event replacements, m.replace)."""
    return {
        "msgtype": new.get("msgtype", "m.notice"),
        "body": f"* {new.get('body', '')}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": original_event_id},
    }
