"""The one way user-supplied text (cohort names, manifest labels and categories) enters a Plotly figure.

Plotly renders a subset of HTML in titles, legends, annotations and hover labels (``<a href>``,
``<b>``, ``<br>``), so a cohort named ``<a href="…">Click to re-login</a>`` would become a live
link. Escaping ``& < >`` makes Plotly show the text as typed.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

CHAR_PX_PER_FONT_PX = 6.5 / 11  # a character's width per pixel of font size, generously (6.5 px at 11 px)


def plotly_text(value: object) -> str:
    """``value`` as text that Plotly shows literally, markup and entities included."""
    return html.escape(str(value), quote=False)


def fit_titles(labels: Sequence[str], figure_px: int, *, font_px: float = 11, max_lines: int = 2) -> list[str]:
    """Titles of side-by-side panels that never run into each other: each wrapped at spaces onto at most ``max_lines`` lines
    that fit its share of ``figure_px`` (the narrowest the figure is drawn) in a ``font_px`` font, then cut with "…".

    The labels are user text (cohort names, space labels): each line is escaped for Plotly, the line breaks are not."""
    per_line = max(4, int(0.9 * figure_px / max(len(labels), 1) / (font_px * CHAR_PX_PER_FONT_PX)))
    fitted = []
    for label in labels:
        lines: list[str] = []
        for word in str(label).split():
            if lines and len(lines[-1]) + 1 + len(word) <= per_line:
                lines[-1] += " " + word
            else:
                lines.append(word)
        lines = [line if len(line) <= per_line else line[: per_line - 1] + "…" for line in lines] or [""]
        if len(lines) > max_lines:
            lines = lines[: max_lines - 1] + [lines[max_lines - 1][: per_line - 1] + "…"]
        fitted.append("<br>".join(plotly_text(line) for line in lines))  # escaped line by line: the breaks stay markup
    return fitted


def extra_lines(titles: Sequence[str]) -> int:
    """Lines beyond the first in the tallest of these fitted titles: what a figure's top margin grows by, in lines."""
    return max((title.count("<br>") for title in titles), default=0)
