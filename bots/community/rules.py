"""Pure rules of activities: reading `!活动 …`, who is in and who waits, and the live list's
lines. No I/O; time is passed in."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bridge import time_bounds

Kind = Literal["participant", "volunteer"]
PARTICIPANT: Kind = "participant"
VOLUNTEER: Kind = "volunteer"
# The reactions the bot offers under an activity: 🙋 to take part, 🙌 to volunteer.
JOIN_KEY = "🙋"
VOLUNTEER_KEY = "🙌"
REACTION_KINDS: dict[str, Kind] = {JOIN_KEY: PARTICIPANT, VOLUNTEER_KEY: VOLUNTEER}
# Clients send some emoji with or without the variation selector.
_VARIATION = "\ufe0f"

MAX_TITLE = 80
MAX_PLACE = 80
MAX_NOTE = 40
MAX_CAPACITY = 10_000
DEFAULT_MINUTES = 120

_SEPARATORS = re.compile(r"[|｜\n]")
_LABELS: dict[str, str] = {
    "时间": "time",
    "time": "time",
    "when": "time",
    "地点": "place",
    "place": "place",
    "where": "place",
    "名额": "capacity",
    "人数": "capacity",
    "capacity": "capacity",
    "places": "capacity",
    "截止": "deadline",
    "deadline": "deadline",
    "志愿者": "volunteers",
    "volunteers": "volunteers",
    "时长": "duration",
    "duration": "duration",
    "群": "rooms",
    "room": "rooms",
    "rooms": "rooms",
}
_MONTH_DAY = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]$")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９：／，", "0123456789:/,")


class ActivityInputError(ValueError):
    """Input that cannot make an activity: a message key and its arguments for the reply."""

    def __init__(self, key: str, **args: Any) -> None:
        super().__init__(key)
        self.key = key
        self.args_ = args


@dataclass(frozen=True)
class ActivityRequest:
    title: str
    starts_at: datetime  # UTC
    minutes: int
    deadline: datetime  # UTC
    place: str = ""
    capacity: int | None = None
    volunteers: int = 0
    rooms: tuple[str, ...] = ()  # room names or keys as typed; () = the room it was sent in


def reaction_kind(key: str) -> Kind | None:
    return REACTION_KINDS.get(key.strip().replace(_VARIATION, ""))


def parse_activity(text: str, now: datetime, tz: ZoneInfo) -> ActivityRequest:
    """`标题 | 时间 12-06 09:00 | 地点 … | 名额 20 | 截止 12-05 18:00 | 志愿者 3 | 时长 2小时
    | 群 邻里群,3号楼` (English labels too; new lines work as well as "|")."""
    parts = [p.strip() for p in _SEPARATORS.split(text) if p.strip()]
    title = ""
    fields: dict[str, str] = {}
    for n, part in enumerate(parts):
        label, _, value = part.partition(" ")
        name = _LABELS.get(label.lower().rstrip(":："))
        if name is None and "：" in label:
            head, _, tail = label.partition("：")
            name, value = _LABELS.get(head.lower()), f"{tail} {value}".strip()
        if name is None:
            if n == 0:
                title = part
                continue
            raise ActivityInputError("community.bad_field", field=part[:20])
        if name in fields:
            raise ActivityInputError("community.field_twice", field=label)
        fields[name] = value.strip()
    if not title:
        raise ActivityInputError("community.no_title")
    if len(title) > MAX_TITLE:
        raise ActivityInputError("community.title_too_long", limit=MAX_TITLE)
    if "time" not in fields:
        raise ActivityInputError("community.no_time")
    starts_at = parse_time(fields["time"], now, tz)
    if starts_at <= now:
        raise ActivityInputError("community.past_time", time=fields["time"])
    deadline = starts_at
    if "deadline" in fields:
        deadline = parse_time(fields["deadline"], now, tz)
        if deadline > starts_at:
            raise ActivityInputError("community.deadline_after_start")
        if deadline <= now:
            raise ActivityInputError("community.past_time", time=fields["deadline"])
    minutes = DEFAULT_MINUTES
    if "duration" in fields:
        try:
            span = time_bounds.parse_duration(fields["duration"])
        except time_bounds.OutOfBounds:
            raise ActivityInputError("community.bad_duration", value=fields["duration"]) from None
        if span > timedelta(days=1):
            raise ActivityInputError("community.bad_duration", value=fields["duration"])
        minutes = span // timedelta(minutes=1)
    place = fields.get("place", "")
    if len(place) > MAX_PLACE:
        raise ActivityInputError("community.place_too_long", limit=MAX_PLACE)
    capacity = _count(fields["capacity"], "capacity", 1) if "capacity" in fields else None
    volunteers = _count(fields["volunteers"], "volunteers", 0) if "volunteers" in fields else 0
    rooms = tuple(r.strip() for r in fields.get("rooms", "").translate(_FULL_WIDTH).split(","))
    return ActivityRequest(
        title=title,
        starts_at=starts_at,
        minutes=minutes,
        deadline=deadline,
        place=place,
        capacity=capacity,
        volunteers=volunteers,
        rooms=tuple(r for r in rooms if r),
    )


def _count(value: str, name: str, least: int) -> int:
    text = value.translate(_FULL_WIDTH).removesuffix("人").removesuffix("名").strip()
    if not text.isascii() or not text.isdigit() or not least <= int(text) <= MAX_CAPACITY:
        raise ActivityInputError(f"community.bad_{name}", value=value[:20])
    return int(text)


def parse_time(value: str, now: datetime, tz: ZoneInfo) -> datetime:
    """A local time: "12-06 09:00", "2026-12-06 09:00", "12月6日 9:00" or "09:00" (the next
    such time); returned in UTC, at most time_bounds.MAX_AHEAD ahead."""
    words = value.translate(_FULL_WIDTH).split()
    local_now = now.astimezone(tz)
    try:
        if len(words) == 1 and ":" in words[0]:
            clock = datetime.strptime(words[0], "%H:%M").time()
            when = datetime.combine(local_now.date(), clock, tz)
            if when <= local_now:
                when += timedelta(days=1)
            return when.astimezone(tz)
        if len(words) != 2:
            raise ValueError("not a date and a time")
        day_text, clock_text = words
        clock = datetime.strptime(clock_text, "%H:%M").time()
        month_day = _MONTH_DAY.match(day_text)
        if month_day:
            year = int(month_day.group(1) or local_now.year)
            day = datetime(year, int(month_day.group(2)), int(month_day.group(3))).date()
            explicit_year = month_day.group(1) is not None
        else:
            day_text = day_text.replace("/", "-")
            explicit_year = day_text.count("-") == 2
            full = day_text if explicit_year else f"{local_now.year}-{day_text}"
            day = datetime.strptime(full, "%Y-%m-%d").date()
        when = datetime.combine(day, clock, tz)
        # "01-05" typed in December is next January; a day a few weeks back is a mistake.
        if not explicit_year and when < local_now - timedelta(days=60):
            when = when.replace(year=when.year + 1)
        return time_bounds.check_ahead(when, now)
    except (ValueError, time_bounds.OutOfBounds):
        raise ActivityInputError("community.bad_time", time=value[:30]) from None


@dataclass(frozen=True)
class Entry:
    """Someone on the list, as the list shows them."""

    user_id: str
    kind: Kind
    seq: int
    label: str
    note: str = ""
    checked_in: bool = False


@dataclass(frozen=True)
class Places:
    """An activity's list split: who is in, who waits (in order), who volunteers."""

    confirmed: list[Entry] = field(default_factory=list)
    waiting: list[Entry] = field(default_factory=list)
    volunteers: list[Entry] = field(default_factory=list)
    volunteers_waiting: list[Entry] = field(default_factory=list)

    def confirmed_ids(self) -> set[str]:
        return {e.user_id for e in self.confirmed} | {e.user_id for e in self.volunteers}

    def place_of(self, user_id: str, kind: Kind) -> tuple[bool, int] | None:
        """(in, position) of a person: position in the list, or in the waiting list."""
        lists = (
            (self.confirmed, self.waiting)
            if kind == PARTICIPANT
            else (self.volunteers, self.volunteers_waiting)
        )
        for confirmed, entries in ((True, lists[0]), (False, lists[1])):
            for n, entry in enumerate(entries, 1):
                if entry.user_id == user_id:
                    return confirmed, n
        return None


def split_places(entries: Sequence[Entry], capacity: int | None, volunteers: int) -> Places:
    """First come, first in: the first `capacity` participants (all when no limit) and the
    first `volunteers` volunteers are in, the rest wait in the order they signed up."""
    ordered = sorted(entries, key=lambda e: e.seq)
    people = [e for e in ordered if e.kind == PARTICIPANT]
    helpers = [e for e in ordered if e.kind == VOLUNTEER]
    cut = len(people) if capacity is None else capacity
    return Places(people[:cut], people[cut:], helpers[:volunteers], helpers[volunteers:])


def moved_up(before: Places, after: Places) -> set[str]:
    """Who was waiting before and is in after (someone left)."""
    waiting_before = {e.user_id for e in before.waiting} | {
        e.user_id for e in before.volunteers_waiting
    }
    return waiting_before & after.confirmed_ids()


def label_for(
    show: str | None, name: str, building: str | None, building_label: str, unnamed: str
) -> str:
    """How someone appears on a list: their display name, or "3号楼住户" when they chose so
    (or "住户" when Linli knows no building for them)."""
    if show == "building":
        return building_label.format(building=building) if building else unnamed
    return name or unnamed


def clean_name(name: str, user_id: str) -> str:
    """A display name fit for a list line: one line, no user ID (a name the person did not
    choose is not shown: the localpart only)."""
    text = " ".join(name.split())[:40]
    if not text or text == user_id:
        return user_id.split(":", 1)[0].lstrip("@")[:40]
    return text


def list_lines(places: Places, texts: Mapping[str, str], *, volunteers: int) -> list[str]:
    """The live list under an activity's head: numbered, the waiting list after it."""
    lines: list[str] = []

    def line(n: int, entry: Entry) -> str:
        note = f"（{entry.note}）" if entry.note else ""
        mark = texts["checked_mark"] if entry.checked_in else ""
        return f"{n}. {entry.label}{note}{mark}"

    lines.append(texts["list_head"].format(count=len(places.confirmed)))
    lines.extend(line(n, e) for n, e in enumerate(places.confirmed, 1))
    if not places.confirmed:
        lines.append(texts["list_empty"])
    if places.waiting:
        lines.append(texts["waiting_head"].format(count=len(places.waiting)))
        lines.extend(line(n, e) for n, e in enumerate(places.waiting, 1))
    if volunteers:
        lines.append(texts["volunteers_head"].format(count=len(places.volunteers), of=volunteers))
        lines.extend(line(n, e) for n, e in enumerate(places.volunteers, 1))
        if places.volunteers_waiting:
            lines.append(texts["waiting_head"].format(count=len(places.volunteers_waiting)))
            lines.extend(line(n, e) for n, e in enumerate(places.volunteers_waiting, 1))
    return lines
