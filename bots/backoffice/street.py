"""The street office's overview: each compound's figures over a period, side by side. Pure.

The three rates the 12345 hotline is judged by, over the tickets opened in the period:
- 响应率 (response rate): answered by staff at all (a first response recorded);
- 解决率 (resolution rate): marked done (or closed) by now;
- 满意率 (satisfaction rate): rated 4 or 5 of those the resident rated.
Beside them the SLA kept, the median times and the hot issues come from the tickets bot's own
statistics (`bots/tickets/stats.py`: `summarize`, `hot_issues`), not computed again here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bots.tickets.stats import StaffSummary, TicketFacts, hot_issues, summarize

SATISFIED = 4  # a rating of 4 or 5 counts as satisfied


@dataclass(frozen=True)
class CompoundFigures:
    compound: str
    name: str
    opened: int
    response_rate: float | None  # 0..100, None when nothing was opened
    resolution_rate: float | None
    satisfaction_rate: float | None
    sla_met_pct: float | None
    median_first_response: timedelta | None
    median_resolution: timedelta | None
    hot_categories: list[tuple[str, int]]
    staff: dict[str, StaffSummary]  # each staff member's figures (the ranking's)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def figures(
    compound: str, name: str, tickets: Sequence[TicketFacts], since: datetime, until: datetime
) -> CompoundFigures:
    opened = [t for t in tickets if since <= t.opened_at < until]
    rated = [t.rating for t in opened if t.rating is not None]
    summary = summarize(tickets, since, until)
    return CompoundFigures(
        compound=compound,
        name=name,
        opened=len(opened),
        response_rate=_pct(sum(1 for t in opened if t.first_response_at is not None), len(opened)),
        resolution_rate=_pct(sum(1 for t in opened if t.done_at is not None), len(opened)),
        satisfaction_rate=_pct(sum(1 for r in rated if r >= SATISFIED), len(rated)),
        sla_met_pct=summary.sla_met_pct,
        median_first_response=summary.median_first_response,
        median_resolution=summary.median_resolution,
        hot_categories=hot_issues(tickets, since, until).categories,
        staff=summary.per_staff,
    )


def minutes(value: timedelta | None) -> int | None:
    return round(value.total_seconds() / 60) if value is not None else None


# Columns of the export: (header key, value of a compound's figures).
COLUMNS = (
    "compound",
    "opened",
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "sla_met",
    "median_first_minutes",
    "median_resolution_minutes",
    "hot_issues",
)


def table_rows(
    rows: Sequence[CompoundFigures], category_label: dict[str, str]
) -> list[list[str | int | float | None]]:
    """The figures as the export's rows (times in minutes, rates in percent)."""
    return [
        [
            f.name,
            f.opened,
            f.response_rate,
            f.resolution_rate,
            f.satisfaction_rate,
            round(f.sla_met_pct, 1) if f.sla_met_pct is not None else None,
            minutes(f.median_first_response),
            minutes(f.median_resolution),
            "、".join(f"{category_label.get(c, c)} {n}" for c, n in f.hot_categories),
        ]
        for f in rows
    ]


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """UTF-8 with a byte-order mark: the spreadsheet programs of street offices then read the
    Chinese right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else _safe_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _safe_cell(value: object) -> object:
    # A cell starting with = + - @ is a formula to a spreadsheet (CSV injection): a compound's
    # name or a category comes from config, but a name is text, so it stays text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def to_xlsx(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    from openpyxl import Workbook  # loaded for an export only
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_safe_cell(v) for v in row])
    for column in sheet.columns:
        width = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(40, width * 2 + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
