"""Ticket statistics: response and resolution times, SLA met, satisfaction, the staff ranking
and the compound's hot issues. Pure: plain ticket facts in, figures out."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class TicketFacts:
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


@dataclass
class StaffSummary:
    handled: int = 0
    median_first_response: timedelta | None = None
    p90_first_response: timedelta | None = None
    median_resolution: timedelta | None = None
    p90_resolution: timedelta | None = None
    sla_met_pct: float | None = None
    satisfaction: float | None = None


@dataclass
class Summary(StaffSummary):
    opened: int = 0
    closed: int = 0
    per_staff: dict[str, StaffSummary] = field(default_factory=dict)


@dataclass(frozen=True)
class HotIssues:
    categories: list[tuple[str, int]]
    places: list[tuple[str, int]]


def percentile(values: Sequence[timedelta], pct: float) -> timedelta | None:
    """Nearest-rank percentile: an actual observed value, exact on the small samples a
    compound has in a week (no interpolation between two tickets' times)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _met(t: TicketFacts, until: datetime) -> bool | None:
    """On time (True), late (False), or not decidable yet (None) at `until`."""
    if t.first_response_at is None:
        return False if until > t.first_response_due else None
    if t.first_response_at > t.first_response_due:
        return False
    if t.done_at is None:
        return False if until > t.resolution_due else None
    return t.done_at <= t.resolution_due


def _figures(tickets: Sequence[TicketFacts], until: datetime, into: StaffSummary) -> None:
    first = [t.first_response_at - t.opened_at for t in tickets if t.first_response_at]
    resolved = [t.done_at - t.opened_at for t in tickets if t.done_at]
    verdicts = [v for v in (_met(t, until) for t in tickets) if v is not None]
    ratings = [t.rating for t in tickets if t.rating is not None]
    into.median_first_response = percentile(first, 50)
    into.p90_first_response = percentile(first, 90)
    into.median_resolution = percentile(resolved, 50)
    into.p90_resolution = percentile(resolved, 90)
    into.sla_met_pct = 100 * sum(verdicts) / len(verdicts) if verdicts else None
    into.satisfaction = sum(ratings) / len(ratings) if ratings else None


def summarize(tickets: Sequence[TicketFacts], since: datetime, until: datetime) -> Summary:
    opened = [t for t in tickets if since <= t.opened_at < until]
    summary = Summary(
        opened=len(opened),
        closed=sum(1 for t in tickets if t.closed_at is not None and since <= t.closed_at < until),
    )
    summary.handled = len(opened)
    _figures(opened, until, summary)
    staff: dict[str, list[TicketFacts]] = {}
    for t in opened:
        # Credit goes to whoever did the work: the first answer, and the fix (or the assignee).
        people = {p for p in (t.first_responder, t.done_by or t.assignee) if p}
        for person in people:
            staff.setdefault(person, []).append(t)
    for person, theirs in staff.items():
        mine = StaffSummary(handled=len(theirs))
        _figures(theirs, until, mine)
        summary.per_staff[person] = mine
    return summary


def ranking(summary: Summary) -> list[tuple[str, StaffSummary]]:
    """Best first: SLA met, then a quick first answer, then more tickets handled."""

    def key(item: tuple[str, StaffSummary]) -> tuple[float, float, int, str]:
        user, s = item
        sla = -(s.sla_met_pct if s.sla_met_pct is not None else -1)
        first = s.median_first_response.total_seconds() if s.median_first_response else math.inf
        return (sla, first, -s.handled, user)

    return sorted(summary.per_staff.items(), key=key)


def hot_issues(
    tickets: Sequence[TicketFacts], since: datetime, until: datetime, top: int = 5
) -> HotIssues:
    opened = [t for t in tickets if since <= t.opened_at < until]
    categories = Counter(t.category for t in opened)
    places = Counter(t.building for t in opened if t.building)
    return HotIssues(
        categories=sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
        places=sorted(places.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
    )


def _parts(value: timedelta) -> tuple[int, int, int]:
    minutes = int(value.total_seconds() // 60)
    return minutes // 1440, minutes % 1440 // 60, minutes % 60


def format_duration_zh(value: timedelta | None) -> str:
    if value is None:
        return "—"
    days, hours, minutes = _parts(value)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{minutes}分钟" if minutes else f"{hours}小时"
    return f"{minutes}分钟"


def format_duration_en(value: timedelta | None) -> str:
    if value is None:
        return "—"
    days, hours, minutes = _parts(value)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"
