"""The weekly chart: days counted in the compound's time zone, drawn as a PNG without a CJK font."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bots.tickets.report_chart import (
    ChartWords,
    chart_title,
    cjk_font,
    daily_counts,
    weekly_chart_png,
)
from bots.tickets.stats import TicketFacts, summarize

SH = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 23)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHINESE_TITLE = "本周工单周报（2026-11-23 – 2026-11-29）"


def ticket(n: int, opened_at: datetime, closed_at: datetime | None = None) -> TicketFacts:
    return TicketFacts(
        number=n,
        category="repair",
        building="3",
        urgent=False,
        opened_at=opened_at,
        first_response_due=opened_at + timedelta(hours=1),
        resolution_due=opened_at + timedelta(hours=8),
        first_response_at=None,
        first_responder=None,
        done_at=None,
        done_by=None,
        assignee=None,
        closed_at=closed_at,
        rating=None,
    )


def week(*counts: tuple[int, int]) -> list[tuple[date, int, int]]:
    return [(MONDAY + timedelta(days=i), o, c) for i, (o, c) in enumerate(counts)]


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def decoded(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png))


def test_daily_counts_use_the_local_day_of_opening_and_closing() -> None:
    tickets = [
        # Monday 07:30 in Shanghai, still Sunday in UTC; closed Tuesday 00:30 local
        ticket(1, utc(22, 23, 30), utc(23, 16, 30)),
        ticket(2, sh(20, 9), sh(25, 9)),  # opened the week before, closed on Wednesday
        ticket(3, sh(29, 23, 59)),  # the last minute of Sunday
        ticket(4, sh(30, 0)),  # the next Monday: outside
        ticket(5, sh(23, 9), sh(23, 18)),
    ]
    assert daily_counts(tickets, MONDAY, 7, SH) == week(
        (2, 1), (0, 1), (0, 1), (0, 0), (0, 0), (0, 0), (1, 0)
    )


def test_daily_counts_list_every_day_even_without_tickets() -> None:
    assert daily_counts([], MONDAY, 3, SH) == week((0, 0), (0, 0), (0, 0))
    assert daily_counts([], MONDAY, 0, SH) == []


def test_weekly_chart_is_a_png_of_600_by_300_pixels() -> None:
    png = weekly_chart_png(week((5, 3), (2, 4), (0, 1), (7, 0), (1, 1), (0, 0), (3, 2)), "Week")
    assert png.startswith(PNG_SIGNATURE)
    image = decoded(png)
    assert (image.format, image.size) == ("PNG", (600, 300))


def test_different_weeks_draw_different_images() -> None:
    busy = weekly_chart_png(week((5, 3), (2, 4), (0, 1), (7, 0), (1, 1), (0, 0), (3, 2)), "Week")
    quiet = weekly_chart_png(week((0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0)), "Week")
    assert decoded(busy).tobytes() != decoded(quiet).tobytes()


def test_same_week_draws_the_same_image() -> None:
    days = week((1, 0), (0, 1))
    assert (
        decoded(weekly_chart_png(days, "Week")).tobytes()
        == decoded(weekly_chart_png(days, "Week")).tobytes()
    )


ZH_WORDS = ChartWords("新开", "关闭", "工单数", tuple("周一 周二 周三 周四 周五 周六 周日".split()))


def test_the_chart_is_drawn_in_chinese_with_no_glyph_missing() -> None:
    days = week((1, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 1))
    assert cjk_font() is not None  # the project installs it (mplfonts)
    assert chart_title(CHINESE_TITLE, days) == CHINESE_TITLE
    # matplotlib warns of each glyph its font lacks; none may be drawn as an empty box
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = weekly_chart_png(days, CHINESE_TITLE, ZH_WORDS)
    assert png.startswith(PNG_SIGNATURE)
    # and the Chinese words are really drawn: the image differs from the English one
    english = weekly_chart_png(days, "Week", ChartWords())
    assert decoded(png).tobytes() != decoded(english).tobytes()


def test_without_the_font_a_chinese_title_falls_back_to_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bots.tickets.report_chart as chart

    monkeypatch.setattr(chart, "cjk_font", lambda: None)
    days = week((1, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 1))
    assert chart_title(CHINESE_TITLE, days) == "Tickets opened and closed, 2026-11-23 to 2026-11-29"
    assert chart_title(CHINESE_TITLE, []) == "Tickets opened and closed"
    assert chart_title("Week 48", days) == "Week 48"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = chart.weekly_chart_png(days, CHINESE_TITLE, ZH_WORDS)
    assert png.startswith(PNG_SIGNATURE)


def test_the_report_figures_and_chart_cover_the_same_whole_days() -> None:
    from bots.tickets.report import report_period

    # The default schedule: Monday 09:00 in Shanghai.
    at = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    since, until = report_period(at, SH)
    assert (since, until) == (
        datetime(2026, 11, 16, 0, 0, tzinfo=SH),
        datetime(2026, 11, 23, 0, 0, tzinfo=SH),
    )
    monday_morning = ticket(1, sh(23, 8))
    sunday = ticket(2, sh(22, 20))
    daily = daily_counts([monday_morning, sunday], since.date(), 7, SH)
    counted = summarize([monday_morning, sunday], since, until)
    # Sunday's ticket is in both; Monday morning's in neither (it is next week's).
    assert sum(opened for _, opened, _ in daily) == counted.opened == 1
