"""The street office's chart: the three rates of every compound side by side, as SVG served
from Linli's own origin (no charting library in the page, no CDN). Drawn on a bare matplotlib
Figure (no pyplot, nothing global), Chinese in Noto Sans CJK SC (bridge/chart_font.py)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from bots.backoffice.street import CompoundFigures
from bridge.chart_font import cjk_font

COLOURS = ("#2f6f4f", "#2b7bb9", "#d9822b")


def rates_svg(rows: Sequence[CompoundFigures], labels: Sequence[str], title: str) -> bytes:
    """Grouped bars: for each compound its response, resolution and satisfaction rates (%)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    font = cjk_font()
    width = max(6.0, 1.2 * len(rows) + 2)
    figure = Figure(figsize=(min(width, 24.0), 3.6), dpi=100)
    FigureCanvasSVG(figure)
    axes = figure.add_subplot()
    xs = list(range(len(rows)))
    for n, (label, colour) in enumerate(zip(labels, COLOURS, strict=True)):
        values = [(r.response_rate, r.resolution_rate, r.satisfaction_rate)[n] or 0.0 for r in rows]
        axes.bar([x + (n - 1) * 0.27 for x in xs], values, width=0.27, label=label, color=colour)
    axes.set_xticks(xs, [r.name for r in rows], fontproperties=font)
    axes.set_ylim(0, 115)
    axes.set_ylabel("%")
    axes.legend(loc="upper right", prop=font, ncols=3)
    axes.set_title(title, fontproperties=font)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="svg")
    return out.getvalue()
