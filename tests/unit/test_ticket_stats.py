"""Ticket statistics from facts with known times: every figure checked by hand."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image

from bots.tickets.report_chart import daily_counts, weekly_chart_png
from bots.tickets.stats import (
    TicketFacts,
    format_duration_en,
    format_duration_zh,
    hot_issues,
    percentile,
    ranking,
    summarize,
)

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
WANG, LIU = "@wang:x", "@liu:x"


def ticket(
    n: int,
    *,
    first: int | None,
    done: int | None,
    who: str = WANG,
    rating: int | None = None,
    category: str = "repair",
    building: str | None = "3",
    opened: int = 0,
) -> TicketFacts:
    """Times in minutes after T0; first response due at +30, resolution at +240."""
    at = T0 + timedelta(minutes=opened)
    return TicketFacts(
        number=n,
        category=category,
        building=building,
        urgent=False,
        opened_at=at,
        first_response_due=at + timedelta(minutes=30),
        resolution_due=at + timedelta(minutes=240),
        first_response_at=at + timedelta(minutes=first) if first is not None else None,
        first_responder=who if first is not None else None,
        done_at=at + timedelta(minutes=done) if done is not None else None,
        done_by=who if done is not None else None,
        assignee=None,
        closed_at=at + timedelta(minutes=done + 60) if done is not None else None,
        rating=rating,
    )


TICKETS = [
    ticket(1, first=10, done=100, rating=5),
    ticket(2, first=20, done=300, rating=3),  # fixed late
    ticket(3, first=40, done=None, who=LIU, category="noise", building="5"),  # answered late
    ticket(4, first=5, done=60, who=LIU, rating=4, category="noise", building="5"),
    ticket(5, first=None, done=None, category="sanitation", building=None),  # not answered
]
WEEK = T0 + timedelta(days=7)


def test_nearest_rank_percentile() -> None:
    values = [timedelta(minutes=m) for m in (5, 10, 20, 40)]
    assert percentile(values, 50) == timedelta(minutes=10)
    assert percentile(values, 90) == timedelta(minutes=40)
    assert percentile([], 50) is None


def test_summary_of_a_week() -> None:
    s = summarize(TICKETS, T0, WEEK)
    assert (s.opened, s.closed) == (5, 3)
    assert s.median_first_response == timedelta(minutes=10)
    assert s.p90_first_response == timedelta(minutes=40)
    assert s.median_resolution == timedelta(minutes=100)
    assert s.p90_resolution == timedelta(minutes=300)
    # on time: #1 and #4; late: #2 (fix), #3 (answer), #5 (no answer, past due at the end)
    assert s.sla_met_pct == 40.0
    assert s.satisfaction == 4.0


def test_open_tickets_not_yet_due_are_not_counted_as_missed() -> None:
    s = summarize([ticket(1, first=None, done=None)], T0, T0 + timedelta(minutes=10))
    assert s.sla_met_pct is None


def test_ranking_breaks_an_on_time_tie_by_the_quicker_first_answer() -> None:
    s = summarize(TICKETS, T0, WEEK)
    ranked = ranking(s)
    # both 50% on time; Liu's median first answer is 5 min, Wang's 10 min
    assert [user for user, _ in ranked] == [LIU, WANG]
    late = [ticket(9, first=50, done=None, who=LIU, opened=10)]
    assert [u for u, _ in ranking(summarize(TICKETS + late, T0, WEEK))] == [WANG, LIU]
    wang = dict(ranked)[WANG]
    assert (wang.handled, wang.sla_met_pct, wang.satisfaction) == (2, 50.0, 4.0)


def test_hot_issues_count_categories_and_buildings() -> None:
    hot = hot_issues(TICKETS, T0, WEEK)
    assert hot.categories == [("noise", 2), ("repair", 2), ("sanitation", 1)]
    assert hot.places == [("3", 2), ("5", 2)]


def test_durations_read_plainly() -> None:
    assert format_duration_zh(timedelta(minutes=12)) == "12分钟"
    assert format_duration_zh(timedelta(minutes=65)) == "1小时5分钟"
    assert format_duration_zh(timedelta(days=2, hours=3)) == "2天3小时"
    assert format_duration_en(timedelta(minutes=65)) == "1 h 5 min"
    assert format_duration_zh(None) == "—"


def test_weekly_chart_is_a_png_of_the_days() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    daily = daily_counts(TICKETS, date(2026, 11, 23), 7, tz)
    assert daily[0] == (date(2026, 11, 23), 5, 3)
    assert [d for d, _, _ in daily][-1] == date(2026, 11, 29)
    png = weekly_chart_png(daily, "本周工单周报（2026-11-23 – 2026-11-29）")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(png)).size == (600, 300)
    empty = weekly_chart_png([(d, 0, 0) for d, _, _ in daily], "x")
    assert empty != png
