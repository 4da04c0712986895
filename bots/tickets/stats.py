"""Ticket statistics: response and resolution times, SLA met, satisfaction, the staff ranking
and the hot issues. Pure: ticket facts and a time window in, figures out."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from bots.tickets.business_time import clock_time_between


@dataclass(frozen=True)
class TicketFacts:
    """What statistics need to know of one ticket; every datetime is aware."""

    number: int
    category: str
    building: str | None
    urgent: bool
    opened_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    first_response_at: datetime | None
    first_responder: str | None
    done_at: datetime | None
    done_by: str | None
    assignee: str | None
    closed_at: datetime | None
    rating: int | None


@dataclass(frozen=True)
class StaffSummary:
    """One staff member's figures over the tickets credited to them."""

    handled: int
    median_first_response: timedelta | None
    p90_first_response: timedelta | None
    median_resolution: timedelta | None
    p90_resolution: timedelta | None
    sla_met_pct: float | None
    satisfaction: float | None


@dataclass(frozen=True)
class Summary:
    """A compound's figures over the tickets opened in a window, and each staff member's."""

    opened: int
    closed: int
    median_first_response: timedelta | None
    p90_first_response: timedelta | None
    median_resolution: timedelta | None
    p90_resolution: timedelta | None
    sla_met_pct: float | None
    satisfaction: float | None
    per_staff: dict[str, StaffSummary]


@dataclass(frozen=True)
class HotIssues:
    categories: list[tuple[str, int]]
    places: list[tuple[str, int]]


def percentile(values: Sequence[timedelta], pct: float) -> timedelta | None:
    """The nearest-rank percentile: the smallest observed value with at least `pct`% of the
    sample at or below it. Always a real ticket's time, exact on a week's few tickets, where
    interpolating between two tickets would report a time nobody waited."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class _Outcome:
    """One ticket as it stood at the end of the window."""

    first_response: timedelta | None
    resolution: timedelta | None
    first_on_time: bool | None  # None: not answered and not yet due
    done_on_time: bool | None  # None: not done and not yet due
    responder: str | None  # who answered, or was to answer
    resolver: str | None  # who fixed it, or was to fix it


def _seen(moment: datetime | None, until: datetime) -> datetime | None:
    # Figures are what was known at `until`, so a report rerun later reads the same.
    return moment if moment is not None and moment < until else None


def _on_time(happened: datetime | None, due: datetime, until: datetime) -> bool | None:
    if happened is not None:
        return happened <= due
    return False if until > due else None


def _outcome(t: TicketFacts, until: datetime) -> _Outcome:
    first_at = _seen(t.first_response_at, until)
    done_at = _seen(t.done_at, until)
    if first_at is not None:
        answered_at, responder = first_at, t.first_responder
    elif done_at is not None:
        # closing.py records a first response before marking a ticket done, but a row
        # without one still had its answer: the fix.
        answered_at, responder = done_at, t.done_by
    else:
        # Nobody answered yet: the assignee was the one expected to.
        answered_at, responder = None, t.assignee
    return _Outcome(
        first_response=(
            clock_time_between(t.opened_at, answered_at) if answered_at is not None else None
        ),
        resolution=clock_time_between(t.opened_at, done_at) if done_at is not None else None,
        first_on_time=_on_time(answered_at, t.first_response_due, until),
        done_on_time=_on_time(done_at, t.resolution_due, until),
        responder=responder,
        resolver=(t.done_by if done_at is not None else None) or t.assignee,
    )


def _verdict(parts: Iterable[bool | None]) -> bool | None:
    """Missed if any part is late; met if some part is on time and none late; undecided if
    nothing is due yet. An answered ticket still within its resolution time is on track: met."""
    decided = [p for p in parts if p is not None]
    return all(decided) if decided else None


@dataclass
class _Samples:
    """What the compound, or one person, is judged on, gathered ticket by ticket."""

    handled: int = 0
    first: list[timedelta] = field(default_factory=list)
    resolved: list[timedelta] = field(default_factory=list)
    verdicts: list[bool] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)

    def add(
        self,
        first: timedelta | None,
        resolved: timedelta | None,
        verdict: bool | None,
        rating: int | None,
    ) -> None:
        self.handled += 1
        if first is not None:
            self.first.append(first)
        if resolved is not None:
            self.resolved.append(resolved)
        if verdict is not None:
            self.verdicts.append(verdict)
        if rating is not None:
            self.ratings.append(rating)

    def pct_met(self) -> float | None:
        return 100 * sum(self.verdicts) / len(self.verdicts) if self.verdicts else None

    def mean_rating(self) -> float | None:
        return sum(self.ratings) / len(self.ratings) if self.ratings else None

    def staff_summary(self) -> StaffSummary:
        return StaffSummary(
            handled=self.handled,
            median_first_response=percentile(self.first, 50),
            p90_first_response=percentile(self.first, 90),
            median_resolution=percentile(self.resolved, 50),
            p90_resolution=percentile(self.resolved, 90),
            sla_met_pct=self.pct_met(),
            satisfaction=self.mean_rating(),
        )


def _opened_in(
    tickets: Sequence[TicketFacts], since: datetime, until: datetime
) -> list[TicketFacts]:
    return [t for t in tickets if since <= t.opened_at < until]


def summarize(tickets: Sequence[TicketFacts], since: datetime, until: datetime) -> Summary:
    """Figures over the tickets opened in [since, until); `closed` counts every closure in it."""
    everyone = _Samples()
    staff: dict[str, _Samples] = {}
    for t in _opened_in(tickets, since, until):
        o = _outcome(t, until)
        everyone.add(
            o.first_response,
            o.resolution,
            _verdict([o.first_on_time, o.done_on_time]),
            t.rating,
        )
        # Each person answers for their own part: the first answer, or the fix and its rating.
        for person in {p for p in (o.responder, o.resolver) if p is not None}:
            answered, fixed = person == o.responder, person == o.resolver
            staff.setdefault(person, _Samples()).add(
                o.first_response if answered else None,
                o.resolution if fixed else None,
                _verdict(
                    [o.first_on_time if answered else None, o.done_on_time if fixed else None]
                ),
                t.rating if fixed else None,
            )
    return Summary(
        opened=everyone.handled,
        closed=sum(1 for t in tickets if t.closed_at is not None and since <= t.closed_at < until),
        median_first_response=percentile(everyone.first, 50),
        p90_first_response=percentile(everyone.first, 90),
        median_resolution=percentile(everyone.resolved, 50),
        p90_resolution=percentile(everyone.resolved, 90),
        sla_met_pct=everyone.pct_met(),
        satisfaction=everyone.mean_rating(),
        per_staff={person: s.staff_summary() for person, s in sorted(staff.items())},
    )


def ranking(summary: Summary) -> list[tuple[str, StaffSummary]]:
    """Best first: more SLA met, a quicker median first answer, more tickets handled, then the
    user ID so the order is stable. Someone with no figure yet comes after those with one."""
    return rank_staff(summary.per_staff.items())


K = TypeVar("K")


def rank_staff(items: Iterable[tuple[K, StaffSummary]]) -> list[tuple[K, StaffSummary]]:
    """`ranking`'s order for any keys (a user ID, or a street's (compound, user) pairs)."""

    def key(item: tuple[K, StaffSummary]) -> tuple[bool, float, bool, timedelta, int, str]:
        who, s = item
        return (
            s.sla_met_pct is None,
            -(s.sla_met_pct or 0.0),
            s.median_first_response is None,
            s.median_first_response or timedelta(0),
            -s.handled,
            str(who),
        )

    return sorted(items, key=key)


def _most_frequent(counts: Counter[str], top: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def hot_issues(
    tickets: Sequence[TicketFacts], since: datetime, until: datetime, top: int = 5
) -> HotIssues:
    """The categories and buildings with the most tickets opened in [since, until)."""
    opened = _opened_in(tickets, since, until)
    return HotIssues(
        categories=_most_frequent(Counter(t.category for t in opened), top),
        places=_most_frequent(Counter(t.building for t in opened if t.building), top),
    )


def _parts(value: timedelta) -> tuple[int, int, int]:
    # Whole minutes, rounded down: "12分钟" means it took at least twelve.
    minutes = int(value.total_seconds() // 60)
    return minutes // 1440, minutes % 1440 // 60, minutes % 60


def format_duration_zh(value: timedelta | None) -> str:
    """ "12分钟", "1小时5分钟", "2天3小时": the two largest units, "—" for no figure."""
    if value is None:
        return "—"
    if value < timedelta(0):
        return "-" + format_duration_zh(-value)
    days, hours, minutes = _parts(value)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{minutes}分钟" if minutes else f"{hours}小时"
    return f"{minutes}分钟" if minutes else "不到1分钟"


def format_duration_en(value: timedelta | None) -> str:
    """ "12 min", "1 h 5 min", "2 d 3 h": the two largest units, "—" for no figure."""
    if value is None:
        return "—"
    if value < timedelta(0):
        return "-" + format_duration_en(-value)
    days, hours, minutes = _parts(value)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "< 1 min"
