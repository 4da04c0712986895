"""Bounds on every duration and date a person or a config file gives Linli, in one place for all
bots (as `bridge.commands.MAX_NUMBER` bounds numbers).

Python's `timedelta` stops at 999,999,999 days and `datetime` at the year 9999: "有效 99999999999天"
or "定时 9999-12-31 23:59" plus a week raise OverflowError deep in a handler. Here a duration is
read with its size checked before it is built, and a time is only ever moved through `later`,
so a bot answers with its own "bad time" text instead.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

# The longest span anyone schedules for a compound: ten years (a vote closes within 90 days,
# a notice lasts days; a series of notices may run for years).
MAX_DURATION = timedelta(days=3660)
# How far ahead a date may be set (a scheduled notice, a vote's closing).
MAX_AHEAD = MAX_DURATION

_EN = re.compile(r"^(?:(\d{1,9})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m)?$")
_ZH = re.compile(r"^(\d{1,12})(天|日|小时|时|分钟|分)$")
_ZH_UNIT_MINUTES = {"天": 1440, "日": 1440, "小时": 60, "时": 60, "分钟": 1, "分": 1}


class OutOfBounds(ValueError):
    """A duration or date Linli will not work with: unreadable, not positive, or too far."""


def bounded(days: int = 0, hours: int = 0, minutes: int = 0, *, zero: bool = False) -> timedelta:
    """A positive span (or zero, when `zero`) of at most MAX_DURATION, checked in whole minutes
    before a timedelta is built (so no size of input overflows)."""
    total = (days * 24 + hours) * 60 + minutes
    if total < 0 or (total == 0 and not zero):
        raise OutOfBounds("a duration must be more than zero")
    if total > MAX_DURATION // timedelta(minutes=1):
        raise OutOfBounds(f"a duration must be at most {MAX_DURATION.days} days")
    return timedelta(minutes=total)


def parse_duration(value: object, *, zero: bool = False) -> timedelta:
    """ "15m", "2h", "3d", "1h30m", or "3天", "2小时", "30分钟": a bounded positive duration (or
    zero, when `zero`), else OutOfBounds (a ValueError: pydantic makes it a config error)."""
    if isinstance(value, timedelta):
        if not timedelta(0) <= value <= MAX_DURATION or (value == timedelta(0) and not zero):
            raise OutOfBounds(f"a duration must be more than zero and at most {MAX_DURATION}")
        return value
    text = str(value).strip().lower().replace(" ", "")
    zh = _ZH.match(text)
    if zh:
        return bounded(minutes=int(zh.group(1)) * _ZH_UNIT_MINUTES[zh.group(2)], zero=zero)
    match = _EN.match(text)
    if not text or match is None or not any(match.groups()):
        raise OutOfBounds(f"{str(value)[:40]!r} is not a duration like 15m, 2h, 3d or 1h30m")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return bounded(days, hours, minutes, zero=zero)


def later(start: datetime, span: timedelta) -> datetime:
    """`start + span`, refused (OutOfBounds) past MAX_AHEAD or the calendar's end."""
    if abs(span) > MAX_AHEAD:
        raise OutOfBounds("too far ahead")
    try:
        return start + span
    except OverflowError:
        raise OutOfBounds("past the end of the calendar") from None


def check_ahead(when: datetime, now: datetime) -> datetime:
    """A date set for later: at most MAX_AHEAD after `now` (with room left to add a notice's
    expiry or a reminder to it)."""
    if when - now > MAX_AHEAD:
        raise OutOfBounds(f"more than {MAX_AHEAD.days} days ahead")
    return when
