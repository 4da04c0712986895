"""The weekly chart: tickets opened and closed per day, as a PNG for an m.image message.

Drawn on a bare matplotlib Figure with the Agg canvas: no pyplot, nothing global touched. Its
words are the compound's: Chinese is drawn with Noto Sans CJK SC from the `mplfonts` package
(found by path, not imported: importing it would not change matplotlib either, but nothing here
needs it), so the chart needs no font from the system.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bots.tickets.stats import TicketFacts
from bridge.chart_font import cjk_font

WIDTH, HEIGHT, DPI = 6, 3, 100  # inches, inches, dots per inch: a 600 x 300 image
# Fixed English names: strftime("%a") follows the process locale.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ChartWords:
    """What the chart says, in the compound's language."""

    opened: str = "opened"
    closed: str = "closed"
    tickets: str = "tickets"
    weekdays: tuple[str, ...] = WEEKDAYS


def daily_counts(
    tickets: Sequence[TicketFacts], since: date, days: int, tz: tzinfo
) -> list[tuple[date, int, int]]:
    """(day, opened, closed) for each of `days` local days from `since`, in `tz`."""

    def day_of(moment: datetime) -> date:
        return moment.astimezone(tz).date()

    counts = {since + timedelta(days=i): [0, 0] for i in range(days)}
    for t in tickets:
        if (d := day_of(t.opened_at)) in counts:
            counts[d][0] += 1
        if t.closed_at is not None and (d := day_of(t.closed_at)) in counts:
            counts[d][1] += 1
    return [(d, opened, closed) for d, (opened, closed) in counts.items()]


def chart_title(title: str, daily: Sequence[tuple[date, int, int]]) -> str:
    """`title` if it is ASCII or the CJK font is there, else a plain English one over the same
    days (matplotlib's own DejaVu Sans has no Chinese glyphs: Chinese would be empty boxes)."""
    if title.isascii() or cjk_font() is not None:
        return title
    if not daily:
        return "Tickets opened and closed"
    return f"Tickets opened and closed, {daily[0][0]} to {daily[-1][0]}"


def weekly_chart_png(
    daily: Sequence[tuple[date, int, int]], title: str, words: ChartWords = ChartWords()
) -> bytes:
    """A bar chart of tickets opened and closed per day, as PNG bytes."""
    # matplotlib is loaded when a chart is drawn, not with the bot (a second off every start).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    font = cjk_font()
    if font is None and not all(w.isascii() for w in (words.opened, words.closed)):
        words = ChartWords()  # no font for them: the English words, not empty boxes
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    FigureCanvasAgg(figure)  # attaches itself to the figure; savefig then renders with Agg
    axes = figure.add_subplot()
    xs = list(range(len(daily)))
    opened = [o for _, o, _ in daily]
    closed = [c for _, _, c in daily]
    for offset, values, label, colour in (
        (-0.2, opened, words.opened, "#d9822b"),
        (0.2, closed, words.closed, "#2b7bb9"),
    ):
        bars = axes.bar([x + offset for x in xs], values, width=0.4, label=label, color=colour)
        # A week holds a few tickets a day: the number on the bar reads better than the axis.
        axes.bar_label(bars, labels=[str(v) if v else "" for v in values], fontsize=8)
    axes.set_xticks(
        xs, [f"{words.weekdays[d.weekday()]}\n{d:%m-%d}" for d, _, _ in daily], fontproperties=font
    )
    axes.set_ylabel(words.tickets, fontproperties=font)
    # Headroom above the tallest bar for its number and the legend; an empty week still
    # gets an axis from 0 to 1 rather than a degenerate one.
    axes.set_ylim(0, max([1, *opened, *closed]) * 1.45)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="upper right", prop=font)
    axes.set_title(chart_title(title, daily), fontproperties=font)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
