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


# Polls are not in the spec yet (MSC3381). These are the names Element sends and renders today,
# shaped as matrix-js-sdk's PollStartEvent / PollEndEvent serialise them (MATRIX-FACTS.md).
POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
TEXT = "org.matrix.msc1767.text"


def poll_start(
    question: str, answers: list[tuple[str, str]], *, max_selections: int = 1, disclosed: bool
) -> dict[str, Any]:
    """A native poll (send as event type POLL_START): `answers` are (id, text); the text
    fallback lists them numbered for clients without polls."""
    fallback = "\n".join([question, *(f"{i}. {text}" for i, (_, text) in enumerate(answers, 1))])
    kind = "disclosed" if disclosed else "undisclosed"
    return {
        POLL_START: {
            "question": {TEXT: question, "body": question, "msgtype": "m.text"},
            "kind": f"org.matrix.msc3381.poll.{kind}",
            "max_selections": max_selections,
            "answers": [{"id": answer_id, TEXT: text} for answer_id, text in answers],
        },
        TEXT: fallback,
    }


def poll_end(start_event_id: str, text: str) -> dict[str, Any]:
    """The end of a poll (send as event type POLL_END), its text readable in every client."""
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": start_event_id},
        POLL_END: {},
        TEXT: text,
        "body": text,
    }
