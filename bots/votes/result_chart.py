"""A formal vote's result chart: participation and approval, by head and by area, each bar
against its threshold, as a PNG for an m.image message.

Drawn on a bare matplotlib Figure with the Agg canvas (as bots/tickets/report_chart.py).
The title is drawn in the compound's language (bridge/chart_font.py); the bar labels are still
English (to be taken from the texts), the Chinese result travels in the text beside it.
"""

from __future__ import annotations

import io
from fractions import Fraction

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bots.votes.rules import Outcome, Rule, Threshold
from bridge.chart_font import cjk_font

WIDTH, HEIGHT, DPI = 6, 3, 100


def bars(rule: Rule, o: Outcome, weighted: bool) -> list[tuple[str, Fraction, Threshold | None]]:
    """(label, share, threshold) for each bar, in reading order."""

    def share(part: Fraction | int, whole: Fraction | int) -> Fraction:
        return Fraction(part) / Fraction(whole) if whole else Fraction(0)

    rows = [
        (
            "Participation (heads)",
            share(o.voted_heads, o.electorate_heads),
            rule.participation_heads,
        ),
        ("Approval (heads)", share(o.yes_heads, o.voted_heads), rule.approval_heads),
    ]
    if weighted:
        rows.insert(
            1,
            (
                "Participation (area)",
                share(o.voted_area, o.electorate_area),
                rule.participation_area,
            ),
        )
        rows.append(("Approval (area)", share(o.yes_area, o.voted_area), rule.approval_area))
    return rows


def result_chart_png(title: str, rule: Rule, outcome: Outcome, weighted: bool) -> bytes:
    rows = bars(rule, outcome, weighted)
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = [label for label, _, _ in reversed(rows)]
    values = [float(value) * 100 for _, value, _ in reversed(rows)]
    colours = [
        "#4caf50" if threshold is None or threshold.met(value, 1) else "#e57373"
        for _, value, threshold in reversed(rows)
    ]
    axes.barh(labels, values, color=colours)
    for y, (_, _, threshold) in enumerate(reversed(rows)):
        if threshold is not None:
            x = float(threshold.share) * 100
            axes.plot([x, x], [y - 0.4, y + 0.4], color="black", linewidth=2)
    axes.set_xlim(0, 100)
    axes.set_xlabel("% (black line: threshold)")
    font = cjk_font()
    shown = title if title.isascii() or font is not None else "Vote result"
    axes.set_title(shown, fontsize=10, fontproperties=font)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
