"""The weekly chart: tickets opened and closed per day, as a PNG for an m.image message.

Drawn on a bare matplotlib Figure (no pyplot, nothing global); labels are ASCII so no CJK font
is needed on the server: the Chinese words travel in the message text beside the image.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bots.tickets.stats import TicketFacts


def daily_counts(
    tickets: Sequence[TicketFacts], since: date, days: int, tz: ZoneInfo
) -> list[tuple[date, int, int]]:
    """(day, opened, closed) for each local day from `since`."""

    def day_of(moment: datetime) -> date:
        return moment.astimezone(tz).date()

    counts = {since + timedelta(days=i): [0, 0] for i in range(days)}
    for t in tickets:
        if (d := day_of(t.opened_at)) in counts:
            counts[d][0] += 1
        if t.closed_at is not None and (d := day_of(t.closed_at)) in counts:
            counts[d][1] += 1
    return [(d, o, c) for d, (o, c) in counts.items()]


def weekly_chart_png(daily: Sequence[tuple[date, int, int]], title: str) -> bytes:
    figure = Figure(figsize=(6, 3), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    xs = list(range(len(daily)))
    axes.bar([x - 0.2 for x in xs], [o for _, o, _ in daily], width=0.4, label="opened")
    axes.bar([x + 0.2 for x in xs], [c for _, _, c in daily], width=0.4, label="closed")
    axes.set_xticks(xs, [d.strftime("%m-%d") for d, _, _ in daily])
    axes.set_ylabel("tickets")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="upper right")
    # The title may be Chinese; keep only what an ASCII font can draw (dates, numbers).
    ascii_title = "".join(ch for ch in title if ch.isascii()).strip(" ()（）")
    axes.set_title(f"Tickets {ascii_title}".strip())
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
