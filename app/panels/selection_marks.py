"""The selection's outline as the server draws it, shared by the explorer's views and Compare spaces' map.

A box or lasso's outline is a layout shape drawn in the view (or map frame) it was drawn on, never
Plotly's own selection: Plotly selects and restyles every point again on each redraw of a plot holding
one, and its outline stays put when the selection changes elsewhere.
"""

from __future__ import annotations

import json

from app.core.selection_shapes import parse_shape
from app.figures.scatter import selection_outline


def outline_in_view(view: dict, selection: dict | None) -> list[dict]:
    """The outline (a layout shape) of the selection in force, in the view it was drawn on (``view``: kind, space and method, or x and y); none elsewhere.

    A selection restored from a link, or drawn before the view was last replaced, shows its box or
    lasso again, so the highlighted subjects never appear without the shape that chose them.
    """
    drawn_on = (selection or {}).get("view")
    if not isinstance(drawn_on, dict) or "shape" not in selection or any(drawn_on.get(key) != value for key, value in view.items()):
        return []
    try:
        return [selection_outline(parse_shape(selection["shape"]).to_json())]
    except ValueError:
        return []


def plotly_selection_dropped(selection: dict | None) -> dict:
    """Plotly's own selection outline taken away (forced by ``selectionrevision``, which changes with every selection).

    The server's outline (:func:`outline_in_view`) stands for it in the view it was drawn on.
    """
    return {"selections": [], "selectionrevision": json.dumps(selection, sort_keys=True, default=str)}
