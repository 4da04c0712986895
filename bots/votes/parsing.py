"""What residents and staff type, and what their clients send, made into plain values once:
a poll command's question, options and flags; a closing time; a poll response event.

Pure: the time and zone are passed in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bridge.events import OtherEvent
from bridge.time_bounds import OutOfBounds, bounded, later

# Event types of a poll response: the unstable name Element sends today, and the stable one
# (MSC3381; MATRIX-FACTS.md).
RESPONSE_TYPES = ("org.matrix.msc3381.poll.response", "m.poll.response")
MAX_OPTIONS = 20
MAX_TEXT = 200
SEPARATORS = re.compile(r"[|｜]")
MULTI_WORDS = ("多选", "multi", "multiple")
HOUSEHOLD_WORDS = ("每户一票", "按户", "household", "per household")
CLOSE_WORDS = ("截止", "closes", "close", "until")
REMIND_WORDS = ("提醒", "remind")
_DURATION = re.compile(r"^(\d{1,4})\s*(分钟|分|m|min|minutes?|小时|h|hours?|天|d|days?)$", re.I)
_CLOCK = re.compile(r"^(?:(\d{4})-)?(?:(\d{1,2})-(\d{1,2})\s+)?(\d{1,2})[:：](\d{2})$")
MAX_OPEN = timedelta(days=90)


class PollTextError(ValueError):
    """The command does not describe a poll; `key` names the message that says why."""

    def __init__(self, key: str, **args: object) -> None:
        super().__init__(key)
        self.key = key
        self.args_ = args


@dataclass(frozen=True)
class PollText:
    question: str
    options: tuple[str, ...]
    multiple: bool
    per_household: bool
    closes_at: datetime | None
    remind: bool = False


def same_option(text: str) -> str:
    """An option as compared with the others: NFKC (full-width "Ａ" is "A"), case folded
    ("YES" is "yes"), invisible characters (zero-width spaces, joiners, marks of direction:
    Unicode's format characters) taken out and spaces collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    visible = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return " ".join(visible.split())


def parse_poll(text: str, now: datetime, tz: ZoneInfo) -> PollText:
    """`问题 | 选项1 | 选项2 [| 多选] [| 每户一票] [| 截止 2小时] [| 提醒]`."""
    parts = [p.strip() for p in SEPARATORS.split(text)]
    question, rest = parts[0], parts[1:]
    if not question:
        raise PollTextError("votes.no_question")
    options: list[str] = []
    multiple = per_household = remind = False
    closes_at = None
    for part in rest:
        word = part.casefold()
        if not part:
            continue
        if word in MULTI_WORDS:
            multiple = True
        elif word in HOUSEHOLD_WORDS:
            per_household = True
        elif word in REMIND_WORDS:
            remind = True
        elif word.split(None, 1)[0] in CLOSE_WORDS and len(word.split(None, 1)) == 2:
            closes_at = parse_closing(part.split(None, 1)[1], now, tz)
        elif word in CLOSE_WORDS:
            raise PollTextError("votes.closing_missing")  # "| 截止" with no time
        elif not same_option(part):
            continue  # nothing visible: not an option
        else:
            options.append(part)
    if len(options) < 2:
        raise PollTextError("votes.too_few_options")
    if len(options) > MAX_OPTIONS:
        raise PollTextError("votes.too_many_options", limit=MAX_OPTIONS)
    if len({same_option(o) for o in options}) != len(options):
        raise PollTextError("votes.duplicate_option")
    if max(len(question), *map(len, options)) > MAX_TEXT:
        raise PollTextError("votes.too_long", limit=MAX_TEXT)
    if remind and closes_at is None:
        raise PollTextError("votes.remind_needs_closing")
    return PollText(question, tuple(options), multiple, per_household, closes_at, remind)


def parse_closing(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """ "30分钟", "2小时", "3天", "18:00" (its next occurrence), "11-25 18:00",
    "2026-11-25 18:00" → an aware time after `now`, at most 90 days ahead."""
    text = text.strip()
    if match := _DURATION.match(text):
        amount, unit = int(match.group(1)), match.group(2).casefold()
        if unit in ("分钟", "分", "m", "min", "minute", "minutes"):
            minutes = amount
        elif unit in ("小时", "h", "hour", "hours"):
            minutes = amount * 60
        else:
            minutes = amount * 1440
        try:  # the bounds every bot's durations share (bridge/time_bounds.py)
            when = later(now, bounded(minutes=minutes))
        except OutOfBounds:
            raise PollTextError("votes.bad_closing", text=text) from None
    elif match := _CLOCK.match(text):
        year, month, day, hour, minute = match.groups()
        local = now.astimezone(tz)
        try:
            at = time(int(hour), int(minute))
            date = local.date()
            if month is not None:
                date = date.replace(year=int(year or date.year), month=int(month), day=int(day))
        except ValueError:
            raise PollTextError("votes.bad_closing", text=text) from None
        when = datetime.combine(date, at, tzinfo=tz)
        if month is None and when <= now:
            when += timedelta(days=1)
    else:
        raise PollTextError("votes.bad_closing", text=text)
    if when <= now or when - now > MAX_OPEN:
        raise PollTextError("votes.bad_closing", text=text)
    return when


@dataclass(frozen=True)
class PollResponse:
    poll_event_id: str  # the poll's start event
    answers: tuple[str, ...]  # option IDs as sent (unchecked)


def poll_response(event: OtherEvent) -> PollResponse | None:
    """A poll response under either name, or None when the event is not one. Content keys:
    `org.matrix.msc3381.poll.response.answers` (Element), `m.poll.response.answers` (the SDK's
    stable name) or `m.selections` (MSC3381's latest text)."""
    if event.type not in RESPONSE_TYPES:
        return None
    relation = event.content.get("m.relates_to")
    if not isinstance(relation, dict) or relation.get("rel_type") != "m.reference":
        return None
    target = relation.get("event_id")
    if not isinstance(target, str):
        return None
    answers: object = None
    for key in RESPONSE_TYPES:
        block = event.content.get(key)
        if isinstance(block, dict):
            answers = block.get("answers")
            break
    if answers is None:
        answers = event.content.get("m.selections")
    if not isinstance(answers, list):
        # A response to a poll whose answers are not a list (`"answers": "o1"`, or none): an
        # answer nothing can be counted from, refused like an unknown option, not ignored.
        return PollResponse(target, ())
    return PollResponse(target, tuple(a for a in answers if isinstance(a, str)))
