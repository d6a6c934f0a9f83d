"""A hovered subject's tooltip, looked up on the server: no view sends text for every point it draws.

Shared by the explorer's views and Compare spaces' overlap map, whose points carry only their subject's row (customdata).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dash
from dash import html

from app.context import HOVER_VARIABLES, AppContext
from app.figures.scatter import subject_lines


@dataclass(frozen=True)
class Tooltip:
    """A view's tooltip: whether it shows, where (the hovered point's box) and what it says."""

    show: bool
    bbox: object = dash.no_update
    children: object = dash.no_update

    def outputs(self) -> tuple:
        return self.show, self.bbox, self.children


def _hovered_row(context: AppContext, hover: dict | None) -> int | None:
    """The hovered subject's row, if the browser's hoverData names one of this cohort's subjects (anything else: None)."""
    points = (hover or {}).get("points") or []
    point = points[0] if points and isinstance(points[0], dict) else {}
    row = point.get("customdata")
    if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < context.n_subjects:
        return None
    return row


def hover_tooltip(context: AppContext, hover: dict | None, more: Callable[[int], Sequence[str]] | None = None) -> Tooltip:
    """The hovered subject's id and key variables (then the lines ``more`` gives for its row), at the hovered point."""
    row = _hovered_row(context, hover)
    if row is None:
        return Tooltip(False)
    present = [name for name in HOVER_VARIABLES if name in context.variables]
    lines = [*subject_lines(context.cohort.phenotypes, context.variables, present, row), *(more(row) if more else ())]
    children = [html.Strong(lines[0]), *[html.Div(line) for line in lines[1:]]]
    return Tooltip(True, hover["points"][0].get("bbox"), html.Div(children, className="small"))
