"""Business-hours arithmetic over China's statutory holiday calendar, for ticket deadlines.

Pure functions: the current time is always an argument, never read from a clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SATURDAY = 5
SUNDAY = 6

# No real calendar is closed this long (Spring Festival plus weekends is about ten days);
# reaching it means the configuration opens no day at all, so stop instead of looping forever.
MAX_CLOSED_DAYS = 400


@dataclass(frozen=True)
class Period:
    """Opening hours within one day, in the calendar's local time."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("period times are local wall times; give them without tzinfo")
        if self.end <= self.start:
            raise ValueError(f"period {self.start}-{self.end}: end must be after start")


@dataclass(frozen=True)
class BusinessCalendar:
    """When a compound's property office works: daily periods, weekends and holidays."""

    periods: tuple[Period, ...]
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    weekend_days: frozenset[int] = frozenset({SATURDAY, SUNDAY})  # date.weekday() numbers
    use_statutory_calendar: bool = True
    extra_closed_days: frozenset[date] = frozenset()
    extra_open_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("a business calendar needs at least one opening period per day")
        for before, after in zip(self.periods, self.periods[1:], strict=False):
            if after.start < before.end:
                raise ValueError(
                    f"periods must be in order and not overlap: {before.start}-{before.end} "
                    f"then {after.start}-{after.end}"
                )
        if bad := sorted(d for d in self.weekend_days if not 0 <= d <= 6):
            raise ValueError(f"weekend days are weekday numbers 0 (Monday) to 6: {bad}")
        if both := sorted(self.extra_closed_days & self.extra_open_days):
            raise ValueError(f"days both closed and open: {', '.join(map(str, both))}")

    def is_workday(self, d: date) -> bool:
        """Whether the office opens on local date `d`.

        Precedence: the compound's own extra days, then the statutory holidays and make-up
        workdays (调休), then the weekend rule.
        """
        if d in self.extra_open_days:
            return True
        if d in self.extra_closed_days:
            return False
        if self.use_statutory_calendar:
            statutory = _statutory_workday(d)
            if statutory is not None:
                return statutory
        return d.weekday() not in self.weekend_days


def _statutory_workday(d: date) -> bool | None:
    """True on a make-up workday, False on a statutory holiday, None when no rule applies."""
    try:
        # Called only for its year check: it raises for years the library has no data for.
        chinese_calendar.is_workday(d)
    except NotImplementedError:
        # The State Council publishes each year's holidays only in the late autumn before, so
        # the library lags; for unknown years we fall back to plain weekend rules rather than
        # fail to open tickets. Upgrading chinese_calendar brings the new year in.
        return None
    # Read the tables rather than is_workday()'s answer: that answer assumes a Saturday-Sunday
    # weekend, while a compound may configure its own.
    if d in chinese_calendar.workdays:
        return True
    if d in chinese_calendar.holidays:
        return False
    return None


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _open_intervals(cal: BusinessCalendar, first_day: date) -> Iterator[tuple[datetime, datetime]]:
    """Opening intervals in UTC, in order, from `first_day` (local) onwards, without end.

    UTC, because subtracting two aware datetimes that share a tzinfo compares wall clocks and
    would be wrong across a DST change (none in Asia/Shanghai today, but `tz` is configurable).
    """
    day = first_day
    closed_run = 0
    while True:
        if cal.is_workday(day):
            closed_run = 0
            for period in cal.periods:
                opens = datetime.combine(day, period.start, tzinfo=cal.tz).astimezone(UTC)
                closes = datetime.combine(day, period.end, tzinfo=cal.tz).astimezone(UTC)
                yield opens, closes
        else:
            closed_run += 1
            if closed_run > MAX_CLOSED_DAYS:
                raise ValueError(
                    f"no workday in {MAX_CLOSED_DAYS} consecutive days up to {day}; "
                    "check weekend_days and extra_closed_days"
                )
        day += timedelta(days=1)


def add_business_time(cal: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The moment `duration` of business time has passed since `start`, in `cal.tz`.

    A start outside opening hours begins counting at the next opening. A deadline that uses
    up a period exactly falls on its closing time (12:00), not on the next opening (13:30).
    """
    _require_aware("start", start)
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    cursor = start.astimezone(UTC)
    if not duration:
        return cursor.astimezone(cal.tz)
    remaining = duration
    # Each step consumes a whole period, so long durations cost one step per period, not per
    # minute; closed days cost one is_workday() call each.
    for opens, closes in _open_intervals(cal, start.astimezone(cal.tz).date()):
        if closes <= cursor:
            continue
        begin = max(opens, cursor)
        available = closes - begin
        if remaining <= available:
            return (begin + remaining).astimezone(cal.tz)
        remaining -= available
    raise AssertionError("unreachable: _open_intervals never ends")  # pragma: no cover


def add_clock_time(start: datetime, duration: timedelta) -> datetime:
    """The moment `duration` of elapsed time has passed since `start`, in `start`'s zone.

    The around-the-clock counterpart of add_business_time(), for urgent tickets.
    """
    _require_aware("start", start)
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    tz = start.tzinfo
    # Through UTC for the same DST reason as in _open_intervals.
    return (start.astimezone(UTC) + duration).astimezone(tz)


def clock_time_between(a: datetime, b: datetime) -> timedelta:
    """Elapsed time from `a` to `b`, the around-the-clock counterpart of business_time_between()."""
    _require_aware("a", a)
    _require_aware("b", b)
    # Through UTC: two datetimes sharing a tzinfo would otherwise subtract as wall clocks.
    return b.astimezone(UTC) - a.astimezone(UTC)


def business_time_between(cal: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    """Business time elapsed from `a` to `b`; negative when `b` is before `a`, like `b - a`."""
    _require_aware("a", a)
    _require_aware("b", b)
    if b < a:
        return -business_time_between(cal, b, a)
    lo, hi = a.astimezone(UTC), b.astimezone(UTC)
    total = timedelta(0)
    for opens, closes in _open_intervals(cal, a.astimezone(cal.tz).date()):
        if opens >= hi:
            break
        overlap = min(closes, hi) - max(opens, lo)
        if overlap > timedelta(0):
            total += overlap
    return total
