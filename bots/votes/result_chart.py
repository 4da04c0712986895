"""A formal vote's result chart: participation and approval, by head and by area, each bar
against its threshold, as a PNG for an m.image message.

Drawn on a bare matplotlib Figure with the Agg canvas (as bots/tickets/report_chart.py).
Every word on it (title, bar labels, axis) comes from the votes texts in the compound's
language and is drawn with the CJK font Linli ships (bridge/chart_font.py); without that font,
English words stand in for Chinese ones rather than empty boxes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING

from bots.votes.rules import Outcome, Rule, Threshold
from bridge.chart_font import cjk_font

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH, HEIGHT, DPI = 6, 3, 100
# What the chart says, by key, when the compound's words cannot be drawn.
FALLBACK = {
    "participation_heads": "participation_heads",
    "participation_area": "participation_area",
    "approval_heads": "approval_heads",
    "approval_area": "approval_area",
    "axis": "% (black line: threshold)",
    "title": "Vote result",
}


def bars(rule: Rule, o: Outcome, weighted: bool) -> list[tuple[str, Fraction, Threshold | None]]:
    """(label key, share, threshold) for each bar, in reading order."""

    def share(part: Fraction | int, whole: Fraction | int) -> Fraction:
        return Fraction(part) / Fraction(whole) if whole else Fraction(0)

    rows = [
        (
            "participation_heads",
            share(o.voted_heads, o.electorate_heads),
            rule.participation_heads,
        ),
        ("approval_heads", share(o.yes_heads, o.voted_heads), rule.approval_heads),
    ]
    if weighted:
        rows.insert(
            1,
            (
                "participation_area",
                share(o.voted_area, o.electorate_area),
                rule.participation_area,
            ),
        )
        rows.append(("approval_area", share(o.yes_area, o.voted_area), rule.approval_area))
    return rows


def result_chart_png(
    words: Mapping[str, str], rule: Rule, outcome: Outcome, weighted: bool
) -> bytes:
    """The chart as PNG (see `result_chart`)."""
    out = io.BytesIO()
    result_chart(words, rule, outcome, weighted).savefig(out, format="png")
    return out.getvalue()


def result_chart(words: Mapping[str, str], rule: Rule, outcome: Outcome, weighted: bool) -> Figure:
    """`words`: the title, each bar's label (by the keys of `bars`) and the axis label, in the
    compound's language."""
    # matplotlib is loaded when a chart is drawn, not with the bot (a second off every start).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    font = cjk_font()
    if font is None and not all(w.isascii() for w in words.values()):
        words = FALLBACK
    rows = bars(rule, outcome, weighted)
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = range(len(rows))
    values = [float(value) * 100 for _, value, _ in reversed(rows)]
    colours = [
        "#4caf50" if threshold is None or threshold.met(value, 1) else "#e57373"
        for _, value, threshold in reversed(rows)
    ]
    axes.barh(positions, values, color=colours)
    axes.set_yticks(positions, [words[key] for key, _, _ in reversed(rows)], fontproperties=font)
    for y, (_, _, threshold) in enumerate(reversed(rows)):
        if threshold is not None:
            x = float(threshold.share) * 100
            axes.plot([x, x], [y - 0.4, y + 0.4], color="black", linewidth=2)
    axes.set_xlim(0, 100)
    axes.set_xlabel(words["axis"], fontproperties=font)
    axes.set_title(words["title"], fontsize=10, fontproperties=font)
    figure.tight_layout()
    return figure
