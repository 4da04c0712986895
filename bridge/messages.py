"""Message contents the bots send, built without I/O (STYLE.md: sans-I/O, as nio's `Api`).

A bot asks for `notice(...)` or `alert(...)`, `reaction(...)`, `file_message(...)`, `edit(...)`
or a poll, and hands the dict to the client; no handler assembles `m.relates_to` by hand. Spec
sections: threads (m.thread with the reply fallback), annotations (m.annotation), mentions
(m.mentions, "intentional mentions"), edits (m.replace).

Which messages ring a phone is decided here, once:
- `alert(...)`: an `m.text` whose `m.mentions` names who must hear it now (or the room). The
  default push rule `.m.rule.suppress_notices` silences every `m.notice` ahead of the mention
  rules, so a message meant to reach a person cannot be a notice. Callers: a new or reopened
  ticket to the staff it names, an escalation to its target, a resident asked about or to
  confirm their ticket, an urgent notice (`room=True`), a reminder or ballot paper by direct
  message.
- `notice(...)`: an `m.notice` with empty `m.mentions`: confirmations, lists, tallies, help.
Every event the bot sends carries `m.mentions`, empty unless it means to ping: with the key
present the homeserver skips the legacy body rules (`.m.rule.roomnotif`, display-name matches),
so text a resident wrote ("@room …" quoted in a poll) never pings through the bot's power level.

People are named with pills: `Person` is a user ID and the display name a reader sees; the body
reads the name, `formatted_body` links it (`<a href="https://matrix.to/#/@u:s">name</a>`), and
all HTML here is built from escaped parts.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Person:
    """Someone a message names: their user ID and the display name a reader sees."""

    user_id: str
    name: str

    def __str__(self) -> str:
        return self.name

    @property
    def pill(self) -> str:
        link = html_lib.escape(f"https://matrix.to/#/{self.user_id}")
        return f'<a href="{link}">{html_lib.escape(self.name)}</a>'


@dataclass(frozen=True)
class People:
    """Several people in one placeholder ("物业小王、物业小李"), each a pill."""

    people: tuple[Person, ...]
    separator: str = "、"

    def __str__(self) -> str:
        return self.separator.join(p.name for p in self.people)

    @property
    def pill(self) -> str:
        return html_lib.escape(self.separator).join(p.pill for p in self.people)


def fill(template: str, args: Mapping[str, Any]) -> tuple[str, str | None]:
    """A text template filled twice: the plain body (people by display name) and, when it names
    anyone, the HTML with each person a pill and every other part escaped (None otherwise)."""
    body = template.format(**args)
    if not any(isinstance(v, (Person, People)) for v in args.values()):
        return body, None
    escaped = {
        k: v.pill if isinstance(v, (Person, People)) else html_lib.escape(str(v))
        for k, v in args.items()
    }
    # The template is the catalogue's own text, escaped as a whole, then filled.
    html = html_lib.escape(template, quote=False).format(**escaped).replace("\n", "<br>")
    return body, html


def notice(
    body: str,
    *,
    thread_root: str | None = None,
    reply_to: str | None = None,
    html: str | None = None,
) -> dict[str, Any]:
    """A quiet m.notice (pings no one), in a thread when `thread_root` is given (replying to
    `reply_to` in it, or to the root)."""
    return _message("m.notice", body, thread_root, reply_to, html, {})


def alert(
    body: str,
    *,
    to: Iterable[str] = (),
    room: bool = False,
    thread_root: str | None = None,
    reply_to: str | None = None,
    html: str | None = None,
) -> dict[str, Any]:
    """A message that notifies: an m.text mentioning the users `to` (and the whole room when
    `room`; the sender needs the room's `notifications.room` power level)."""
    mentions: dict[str, Any] = {"user_ids": sorted(set(to))}
    if room:
        mentions["room"] = True
    return _message("m.text", body, thread_root, reply_to, html, mentions)


def _message(
    msgtype: str,
    body: str,
    thread_root: str | None,
    reply_to: str | None,
    html: str | None,
    mentions: dict[str, Any],
) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": msgtype, "body": body, "m.mentions": mentions}
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
    return content


def reaction(target_event_id: str, key: str) -> dict[str, Any]:
    """An m.reaction annotating `target_event_id` with `key` (send as event type m.reaction)."""
    return {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": target_event_id, "key": key},
        "m.mentions": {},
    }


def file_message(
    uri: str, filename: str, mimetype: str, size: int, *, msgtype: str = "m.file"
) -> dict[str, Any]:
    """An uploaded file (m.file, or m.image with msgtype="m.image"); it pings no one."""
    return {
        "msgtype": msgtype,
        "body": filename,
        "filename": filename,
        "url": uri,
        "info": {"mimetype": mimetype, "size": size},
        "m.mentions": {},
    }


def edit(original_event_id: str, new: dict[str, Any]) -> dict[str, Any]:
    """A replacement of an earlier message by `new` (spec: event replacements, m.replace).
    The new content keeps its mentions for clients that show it; the edit itself pings no one
    again (spec: "mentions ... in an edit": only users newly mentioned, and there are none)."""
    new = {**new, "m.mentions": new.get("m.mentions", {})}
    content: dict[str, Any] = {
        "msgtype": new.get("msgtype", "m.notice"),
        "body": f"* {new.get('body', '')}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": original_event_id},
        "m.mentions": {},
    }
    if "formatted_body" in new:
        content["format"] = new.get("format", "org.matrix.custom.html")
        content["formatted_body"] = f"* {new['formatted_body']}"
    return content


# Polls are not in the spec yet (MSC3381). These are the names Element sends and renders today,
# shaped as matrix-js-sdk's PollStartEvent / PollEndEvent serialise them (MATRIX-FACTS.md).
POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
TEXT = "org.matrix.msc1767.text"


def poll_start(
    question: str, answers: list[tuple[str, str]], *, max_selections: int = 1, disclosed: bool
) -> dict[str, Any]:
    """A native poll (send as event type POLL_START): `answers` are (id, text); the text
    fallback lists them numbered for clients without polls. It pings no one, whatever the
    question says."""
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
        "m.mentions": {},
    }


def poll_end(start_event_id: str, text: str) -> dict[str, Any]:
    """The end of a poll (send as event type POLL_END), its text readable in every client; it
    pings no one (its body quotes the question, which a resident wrote)."""
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": start_event_id},
        POLL_END: {},
        TEXT: text,
        "body": text,
        "m.mentions": {},
    }
