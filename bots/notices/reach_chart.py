"""The reach chart: per building, households reached by reading, acknowledged, told in person
and not reached, as a PNG for an m.image message beside `!通知 回执`.

Drawn on a bare matplotlib Figure with the Agg canvas (no pyplot, nothing global touched).
Labels are ASCII: the server has no CJK font (see bots/tickets/report_chart.py); the Chinese
figures travel in the message text.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bots.notices.rules import Reach

DPI = 100


def reach_chart_png(number: int, found: Reach) -> bytes:
    """Stacked bars, one per building: reached (reading or ✅), told in person, not reached."""
    rows = found.buildings
    figure = Figure(figsize=(max(4.0, 1.0 + 0.6 * len(rows)), 3.2), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    xs = list(range(len(rows)))
    read = [b.reached - b.told for b in rows]
    told = [b.told for b in rows]
    missing = [len(b.unreached) for b in rows]
    axes.bar(xs, read, color="#2b9348", label="read / acknowledged")
    axes.bar(xs, told, bottom=read, color="#f2c14e", label="told in person")
    bars = axes.bar(
        xs,
        missing,
        bottom=[r + t for r, t in zip(read, told, strict=True)],
        color="#c8553d",
        label="not reached",
    )
    axes.bar_label(
        bars,
        labels=[f"{round(100 * b.reached / b.households) if b.households else 0}%" for b in rows],
        fontsize=8,
    )
    axes.set_xticks(xs, [f"bldg {b.building}" for b in rows])
    axes.set_ylabel("households")
    axes.set_ylim(0, max([1, *(b.households for b in rows)]) * 1.25)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="upper right", fontsize=7)
    axes.set_title(f"Notice #{number}: reach per building (a lower bound)")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
