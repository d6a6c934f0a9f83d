"""A figure that says something instead of plotting: shown while data is missing or being computed."""

from __future__ import annotations

import plotly.graph_objects as go

from app.figures.text import plotly_text


def message_figure(text: str) -> go.Figure:
    """Plain text (an error may quote a cohort name), shown as typed; a newline starts a new line."""
    figure = go.Figure()
    lines = "<br>".join(plotly_text(line) for line in text.split("\n"))
    figure.add_annotation(text=lines, showarrow=False, font={"size": 14, "color": "#555"}, xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure
