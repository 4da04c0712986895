"""The reach chart: per building, households reached by reading, acknowledged, told in person
and not reached, as a PNG for an m.image message beside `!通知 回执`.

Drawn on a bare matplotlib Figure with the Agg canvas (no pyplot, nothing global touched), in
the compound's language with the CJK font the project installs (bridge/chart_font.py); without
it, in English.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from bots.notices.reach_rules import Reach
from bridge.chart_font import cjk_font

DPI = 100


@dataclass(frozen=True)
class ReachWords:
    """What the chart says, in the compound's language ({number}, {building} filled in)."""

    title: str = "Notice #{number}: reach per building (a lower bound)"
    read: str = "read / acknowledged"
    told: str = "told in person"
    missing: str = "not reached"
    households: str = "households"
    building: str = "bldg {building}"


def reach_chart_png(number: int, found: Reach, words: ReachWords = ReachWords()) -> bytes:
    """Stacked bars, one per building: reached (reading or ✅), told in person, not reached."""
    # matplotlib is loaded when a chart is drawn, not with the bot (a second off every start).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    font = cjk_font()
    if font is None:
        words = ReachWords()  # no font for Chinese: English rather than empty boxes
    rows = found.buildings
    width, height = max(4.0, 1.0 + 0.6 * len(rows)), 3.2
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    xs = list(range(len(rows)))
    read = [b.reached - b.told for b in rows]
    told = [b.told for b in rows]
    missing = [len(b.unreached) for b in rows]
    axes.bar(xs, read, color="#2b9348", label=words.read)
    axes.bar(xs, told, bottom=read, color="#f2c14e", label=words.told)
    bars = axes.bar(
        xs,
        missing,
        bottom=[r + t for r, t in zip(read, told, strict=True)],
        color="#c8553d",
        label=words.missing,
    )
    axes.bar_label(
        bars,
        labels=[f"{round(100 * b.reached / b.households) if b.households else 0}%" for b in rows],
        fontsize=8,
    )
    axes.set_xticks(
        xs, [words.building.format(building=b.building) for b in rows], fontproperties=font
    )
    axes.set_ylabel(words.households, fontproperties=font)
    axes.set_ylim(0, max([1, *(b.households for b in rows)]) * 1.5)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    legend_font = font.copy() if font is not None else None
    if legend_font is not None:
        legend_font.set_size(7)
    axes.legend(loc="upper right", fontsize=7, prop=legend_font)
    axes.set_title(words.title.format(number=number), fontproperties=font)
    # Fixed margins rather than tight_layout, which draws the whole figure once more to measure
    # it (a third of the time).
    # Margins in inches: room for five-digit counts on the left and the title on top.
    figure.subplots_adjust(
        left=0.8 / width, right=1 - 0.15 / width, top=1 - 0.4 / height, bottom=0.4 / height
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
