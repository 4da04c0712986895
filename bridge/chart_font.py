"""The font Linli's charts draw Chinese with: Noto Sans CJK SC (SIL Open Font License), shipped
by the `mplfonts` package, found by path (the package is not imported: nothing of matplotlib's
global settings changes), so a chart needs no font from the system or the Docker image."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.font_manager import FontProperties

CJK_FONT = "NotoSansCJKsc-Regular.otf"


@cache
def cjk_font() -> FontProperties | None:
    """Noto Sans CJK SC as shipped by mplfonts; None when it is not installed."""
    from matplotlib.font_manager import FontProperties  # matplotlib loads when a chart is drawn

    path = cjk_font_path()
    return FontProperties(fname=str(path)) if path is not None else None


@cache
def cjk_font_path() -> Path | None:
    """The font file itself (for Pillow: the bot's avatar)."""
    spec = importlib.util.find_spec("mplfonts")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "fonts" / CJK_FONT
        if path.is_file():
            return path
    return None
