"""The monthly volunteers' chart: hours per volunteer, the most first, as a PNG for an m.image.

Drawn like the tickets' weekly chart (bots/tickets/report_chart.py): a bare matplotlib Figure
on the Agg canvas, Chinese in the bundled CJK font (bridge/chart_font.py).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from bridge.chart_font import cjk_font

WIDTH, DPI = 6, 100


def ranking_chart_png(rows: Sequence[tuple[str, float]], title: str, unit: str) -> bytes:
    """Horizontal bars, one per (name, hours), the first on top."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    font = cjk_font()
    names = [name for name, _ in rows]
    if font is None and not all(n.isascii() for n in [*names, title, unit]):
        # No font for Chinese: numbered bars rather than empty boxes.
        names = [f"#{n}" for n in range(1, len(rows) + 1)]
        title, unit = "Volunteer hours", "hours"
    figure = Figure(figsize=(WIDTH, 1 + 0.4 * max(1, len(rows))), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    ys = list(range(len(rows)))[::-1]
    hours = [h for _, h in rows]
    bars = axes.barh(ys, hours, color="#4a9d5b")
    axes.bar_label(bars, labels=[f"{h:g}" for h in hours], fontsize=8, padding=2)
    axes.set_yticks(ys, names, fontproperties=font)
    axes.set_xlabel(unit, fontproperties=font)
    axes.set_xlim(0, max([1.0, *hours]) * 1.2)
    axes.set_title(title, fontproperties=font)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
