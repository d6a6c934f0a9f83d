"""A figure that says something instead of plotting: shown while data is missing or being computed."""

from __future__ import annotations

import textwrap

from app.figures.prebuilt import FigureDict, prebuilt_figure
from app.figures.text import plotly_text

NARROW_LINE = 44  # characters an explorer view (about 330 px at a 1,500 px window) holds at 14 px: Plotly does not wrap, it clips


def message_figure(text: str, height: int | None = None, line_characters: int | None = None) -> FigureDict:
    """Plain text (an error may quote a cohort name), shown as typed; a newline starts a new line, and with
    ``line_characters`` a longer line is wrapped at word breaks (a narrow view). ``height`` in pixels, for a figure whose
    place in the page has none of its own (the Accuracy tab's); otherwise the graph's."""
    wrapped = [part for line in text.split("\n")
               for part in ((textwrap.wrap(line, line_characters, break_long_words=False) or [""]) if line_characters else [line])]
    lines = "<br>".join(plotly_text(line) for line in wrapped)
    annotation = {"text": lines, "showarrow": False, "font": {"size": 14, "color": "#555"}, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}
    return prebuilt_figure([], {"annotations": [annotation], "xaxis": {"visible": False}, "yaxis": {"visible": False}, "height": height,
                                "margin": {"l": 10, "r": 10, "t": 10, "b": 10}})
