"""The notices bot's pure rules: reading a `!通知` command (target, time, cron, urgency, text),
reach per building and household over plain data, and the reminder schedule. No I/O here;
time is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

from bots.notices.reach_rules import (
    NoticeInputError,
    group_target,
)
from bridge import time_bounds

WHOLE_COMPOUND = ("全体", "全部", "全小区", "all", "everyone")
URGENT_WORDS = ("紧急", "urgent")
AT_WORDS = ("定时", "at")
CRON_WORDS = ("每", "cron", "重复")
EXPIRES_WORDS = ("有效", "expires", "到期")
# Reactions that acknowledge a notice: the ✅ the bot offers, and what people type instead.
ACK_KEYS = frozenset({"✅", "✔️", "☑️", "👌", "👍", "收到", "已阅", "ok", "OK"})

# A word after the five fields of a cron expression that is a sixth field (seconds or years in
# other dialects): refused rather than read as the start of the text.
_CRON_FIELD = re.compile(r"^[0-9*/,?-]+$")
# What looks like a duration someone meant, even a wrong one ("-1天", "3000000天").
_DURATION_LIKE = re.compile(r"^[-+]?\d+(?:天|日|小时|时|分钟|分|[dhm])", re.IGNORECASE)
_TOKEN = re.compile(r"\S+")
_RANGE = re.compile(r"^(\d{1,9})-(\d{1,9})$")
# Buildings at most: a range such as 1-100000 is refused before it is expanded.
MAX_BUILDINGS = 500


def parse_duration(value: object) -> timedelta:
    """ "15m", "2h", "3d", "1h30m", or "3天", "2小时", "30分钟" (bounded: bridge/time_bounds.py)."""
    return time_bounds.parse_duration(value)


def parse_buildings(spec: str, known: Sequence[str]) -> tuple[str, ...] | None:
    """ "3,5-7" → ("3", "5", "6", "7"); "全体" / "all" → None (the whole compound). Every
    building must exist in the compound."""
    text = spec.strip().translate(str.maketrans("，、－—", ",,--"))
    if text.lower() in WHOLE_COMPOUND:
        return None
    chosen: list[str] = []
    for part in text.split(","):
        part = part.strip().removesuffix("号楼").removesuffix("栋")
        if not part:
            continue
        found = _RANGE.match(part)
        if found:
            low, high = int(found.group(1)), int(found.group(2))
            if low > high or high - low >= MAX_BUILDINGS:
                raise NoticeInputError("notices.bad_range", range=part)
            names = [str(n) for n in range(low, high + 1)]
        else:
            names = [part]
        for name in names:
            if name not in known:
                raise NoticeInputError(
                    "notices.no_building", building=name, known=",".join(known) or "—"
                )
            if name not in chosen:
                chosen.append(name)
    if not chosen:
        raise NoticeInputError("notices.no_target")
    return tuple(chosen)


def parse_target(
    spec: str, known: Sequence[str], groups: Mapping[str, Sequence[str]]
) -> tuple[str, ...] | None:
    """A notice's target: the whole compound (None), buildings ("3,5-7"), or an interest
    group named by its key or any of its names (`groups` maps each key to its names), as
    `group_target(key)`. A single word that is neither a building nor a group is answered
    with both lists."""
    word = spec.strip()
    for key, names in groups.items():
        if word == key or word in names or word.lower() in (n.lower() for n in names):
            return group_target(key)
    try:
        return parse_buildings(spec, known)
    except NoticeInputError as e:
        plain = word.removesuffix("号楼").removesuffix("栋")
        if e.key == "notices.no_building" and not (plain.isdigit() or "," in word or "，" in word):
            raise NoticeInputError(
                "notices.no_group",
                name=word,
                known=",".join(known) or "—",
                groups="、".join(names[0] for names in groups.values() if names) or "—",
            ) from None
        raise


@dataclass(frozen=True)
class PostRequest:
    """What `!通知 <target> [options] <text>` asks for."""

    targets: tuple[str, ...] | None  # buildings, or group_target(key); None: the compound
    text: str
    urgent: bool = False
    at: datetime | None = None  # post later (UTC)
    cron: str | None = None  # post at each of these times (the compound's time zone)
    expires: datetime | None = None  # UTC; None: the compound's default


def parse_when(words: Sequence[str], now: datetime, tz: ZoneInfo) -> tuple[datetime, int]:
    """A local date and time at the start of `words`: "2026-11-24 09:00", "11-24 09:00" or
    "09:00" (the next such time). Returns it in UTC, and how many words it took."""
    local_now = now.astimezone(tz)
    if not words:
        raise NoticeInputError("notices.bad_time", time="")
    first = words[0].translate(str.maketrans("：／", ":/")).replace("/", "-")
    try:
        if ":" in first:
            clock = datetime.strptime(first, "%H:%M").time()
            when = datetime.combine(local_now.date(), clock, tz)
            if when <= local_now:
                when += timedelta(days=1)
            return when, 1
        if len(words) < 2:
            raise ValueError("no time of day")
        second = words[1].translate(str.maketrans("：", ":"))
        clock = datetime.strptime(second, "%H:%M").time()
        if first.count("-") == 2:
            day = datetime.strptime(first, "%Y-%m-%d").date()
        else:
            day = datetime.strptime(f"{local_now.year}-{first}", "%Y-%m-%d").date()
            if datetime.combine(day, clock, tz) < local_now - timedelta(days=1):
                day = day.replace(year=day.year + 1)
        return time_bounds.check_ahead(datetime.combine(day, clock, tz), now), 2
    except ValueError:
        shown = " ".join(words[:2])
        raise NoticeInputError("notices.bad_time", time=shown) from None


def check_cron(fields: Sequence[str], now: datetime, tz: ZoneInfo) -> str:
    """The five-field cron expression at the start of `fields` (the words after 每), or
    NoticeInputError: a sixth field is refused (not taken as the text), so is a schedule more
    often than hourly (the minute must be one number) and one that never comes (30 February)."""
    shown = " ".join(fields[:6])
    if len(fields) < 5 or (len(fields) > 5 and _CRON_FIELD.match(fields[5])):
        raise NoticeInputError("notices.bad_cron", cron=shown)
    expression = " ".join(fields[:5])
    if not croniter.is_valid(expression):
        raise NoticeInputError("notices.bad_cron", cron=expression)
    if not fields[0].isdigit():
        raise NoticeInputError("notices.cron_too_often", cron=expression)
    try:
        next_cron(expression, now, tz)
    except (CroniterError, ValueError, OverflowError):
        raise NoticeInputError("notices.bad_cron", cron=expression) from None
    return expression


def parse_expiry(words: Sequence[str], now: datetime, tz: ZoneInfo) -> tuple[datetime, int]:
    """What follows 有效: a duration ("3天", "12h") or a local date and time, bounded; its own
    answer when it is neither (not the help of 定时)."""
    shown = " ".join(words[:2])
    first = words[0] if words else ""
    try:
        return time_bounds.later(now, parse_duration(first)), 1
    except ValueError:
        if not first or _DURATION_LIKE.match(first):
            raise NoticeInputError("notices.bad_expiry", time=shown or first) from None
    try:
        return parse_when(words, now, tz)
    except NoticeInputError:
        raise NoticeInputError("notices.bad_expiry", time=shown) from None


def next_cron(expression: str, after: datetime, tz: ZoneInfo) -> datetime:
    """The first time strictly after `after` that the expression names, read in the local time
    zone `tz` (so "0 9 * * 1" is Monday 09:00 there), as an aware datetime."""
    start = after.astimezone(tz)
    following: datetime = croniter(expression, start).get_next(datetime)
    return following if following.tzinfo is not None else following.replace(tzinfo=tz)


def parse_post(
    rest: str,
    buildings: Sequence[str],
    now: datetime,
    tz: ZoneInfo,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> PostRequest:
    """The arguments of `!通知`: a target first, then options in any order, then the text
    (which keeps its line breaks)."""
    tokens = list(_TOKEN.finditer(rest))
    if not tokens:
        raise NoticeInputError("notices.no_target")
    targets = parse_target(tokens[0].group(), buildings, groups or {})
    urgent = False
    at: datetime | None = None
    cron: str | None = None
    expires: datetime | None = None
    i = 1
    while i < len(tokens):
        word = tokens[i].group().lower()
        if word in URGENT_WORDS:
            urgent, i = True, i + 1
        elif word in AT_WORDS:
            at, used = parse_when([t.group() for t in tokens[i + 1 : i + 3]], now, tz)
            i += 1 + used
        elif word in CRON_WORDS:
            cron = check_cron([t.group() for t in tokens[i + 1 : i + 7]], now, tz)
            i += 6
        elif word in EXPIRES_WORDS:
            expires, used = parse_expiry([t.group() for t in tokens[i + 1 : i + 3]], now, tz)
            i += 1 + used
        else:
            break
    text = rest[tokens[i].start() :].strip() if i < len(tokens) else ""
    if not text:
        raise NoticeInputError("notices.no_text")
    if at is not None and cron is not None:
        raise NoticeInputError("notices.at_and_cron")
    start = at or now
    if at is not None and at <= now:
        raise NoticeInputError("notices.past_time")
    if expires is not None and expires <= start:
        raise NoticeInputError("notices.expires_early")
    return PostRequest(targets, text, urgent, at, cron, expires)


# ------------------------------------------------------------------ reminders


def reminder_times(
    posted_at: datetime,
    after: Sequence[timedelta],
    expires_at: datetime | None,
    *,
    urgent_every: timedelta | None = None,
    urgent_limit: int = 24,
) -> list[datetime]:
    """When to remind the targeted residents who have not acknowledged: at each offset after
    posting (an urgent notice: every `urgent_every` instead, up to `urgent_limit` times), all
    before the notice expires."""
    if urgent_every is not None and urgent_every > timedelta(0):
        times = [posted_at + urgent_every * n for n in range(1, urgent_limit + 1)]
    else:
        times = sorted(posted_at + offset for offset in after if offset > timedelta(0))
    return [t for t in times if expires_at is None or t < expires_at]


def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0
