"""A figure that says something instead of plotting: shown while data is missing or being computed."""

from __future__ import annotations

from app.figures.prebuilt import FigureDict, prebuilt_figure
from app.figures.text import plotly_text


def message_figure(text: str, height: int | None = None) -> FigureDict:
    """Plain text (an error may quote a cohort name), shown as typed; a newline starts a new line. ``height`` in pixels,
    for a figure whose place in the page has none of its own (the Accuracy tab's); otherwise the graph's."""
    lines = "<br>".join(plotly_text(line) for line in text.split("\n"))
    annotation = {"text": lines, "showarrow": False, "font": {"size": 14, "color": "#555"}, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}
    return prebuilt_figure([], {"annotations": [annotation], "xaxis": {"visible": False}, "yaxis": {"visible": False}, "height": height,
                                "margin": {"l": 10, "r": 10, "t": 10, "b": 10}})
