"""Figures as the plain dicts Dash sends, which plotly.py neither validates nor copies.

For the large figures drawn on every decode, focus or evaluation, made by our own tested builders: a
decode's two ECG sheets (about 30 traces, 40 annotations and shapes), its cine (50 frames of images),
the Accuracy and Compare spaces panels, and the message figures shown in their place. Validating
them took 108 of a decode's 230 ms; a go.Figure even unvalidated costs its traces' construction, and
Dash's serialising of one a deep copy: 50 of a decode's 122 ms (5,000-subject demo). Built as dicts,
their numeric arrays already Plotly.js typed arrays and the app's template in place, they go out as
they are, and pickle as they are when a background job returns them. Plotly.js still checks what it
draws; the tests check that validating a prebuilt figure changes nothing (``tests.figure_checks``,
which also reads one as a validated go.Figure), and the browser tests look at them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

TYPED_ARRAY_KINDS = "fiu"  # floats and integers: Plotly.js reads them as typed arrays (booleans and strings stay lists)

FigureDict = dict[str, Any]  # {"data": [...], "layout": {...}, "frames": [...]}: a figure as Dash sends it


def prebuilt_figure(data: list[dict], layout: dict, frames: list[dict] | None = None) -> FigureDict:
    """The figure of these trace, layout and frame dicts as Dash sends it: keys set to None left out (as plotly.py
    would), numeric arrays as typed arrays, and Plotly's default template (the app's, ``theme``) in the layout."""
    figure = {"data": _sendable(data), "layout": {**_sendable(layout), "template": json.loads(_template_json(pio.templates.default))}}
    if frames:
        figure["frames"] = _sendable(frames)
    return figure


@lru_cache(maxsize=4)
def _template_json(name: str) -> str:
    """Kept as text: each figure gets its own copy, as go.Figure gives it, for the price of parsing 2 KB."""
    return json.dumps(pio.templates[name].to_plotly_json())


def panel_row(titles: Sequence[str], spacing: float, shared_axes: bool = False) -> dict:
    """A fresh layout of one row of panels, as make_subplots lays them out (axes, domains, title annotations).

    Panel ``index`` (from 1, left to right) draws on axes ``axis_key("x", index)`` and ``axis_key("y", index)``;
    put its traces there with ``in_panel``. ``shared_axes``: every panel shares the first one's x and y.
    """
    return json.loads(_panels_json(tuple(titles), 1, len(titles), spacing, shared_axes))


def panel_column(titles: Sequence[str], spacing: float) -> dict:
    """A fresh layout of panels stacked in one column (index from 1, top to bottom); see ``panel_row``."""
    return json.loads(_panels_json(tuple(titles), len(titles), 1, spacing, False))


@lru_cache(maxsize=64)
def _panels_json(titles: tuple[str, ...], rows: int, cols: int, spacing: float, shared_axes: bool) -> str:
    """Kept per set of titles: make_subplots took ~20 ms a figure."""
    spacings = {"horizontal_spacing": spacing} if cols > 1 else {"vertical_spacing": spacing}
    layout = make_subplots(rows=rows, cols=cols, subplot_titles=titles, shared_xaxes=shared_axes, shared_yaxes=shared_axes,
                           **spacings).layout.to_plotly_json()
    layout.pop("template", None)  # the figure adds the default template itself
    return json.dumps(layout)


def axis_key(letter: str, column: int) -> str:
    """The layout key of a panel's axis: xaxis, xaxis2, …"""
    return f"{letter}axis{column if column > 1 else ''}"


def in_panel(trace: dict, column: int) -> dict:
    """A trace dict (a scatter unless its type says otherwise) drawn in panel ``column`` of a ``panel_row`` (or ``panel_column``)."""
    suffix = column if column > 1 else ""
    return {**trace, "type": trace.get("type", "scatter"), "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def sendable(value: object) -> object:
    """A job's output as Dash sends it: a go.Figure as its plain dict (arrays typed); anything else, a prebuilt figure
    included, as it is.

    For a background job's result, which is pickled into the disk cache and read back by the request
    that collects it: a go.Figure is validated again when unpickled (68 ms for a decode's figures, on
    the user's wait), a dict is not (under 1 ms). What reaches the browser is the same, byte for byte.
    """
    return _sendable(value.to_dict()) if isinstance(value, go.Figure) else value


def typed_array(array: np.ndarray, *, url_safe: bool = False) -> dict:
    """A numeric array as Plotly.js's typed-array spec: its dtype, its bytes in base64 and, past one dimension, its shape.

    ``url_safe``: base64's URL-safe alphabet, which Plotly.js does not read but assets/explorer.js does
    (app.figures.scatter). 64-bit integers, which Plotly.js has not, go as the narrowest integers that hold them
    (as plotly.py sends them), or as 64-bit floats past 32 bits.
    """
    array = np.ascontiguousarray(_narrowed(array) if array.dtype == np.int64 else array)
    encode = base64.urlsafe_b64encode if url_safe else base64.b64encode
    spec = {"dtype": array.dtype.str.lstrip("<|="), "bdata": encode(array.tobytes()).decode("ascii")}
    if array.ndim > 1:
        spec["shape"] = ",".join(map(str, array.shape))
    return spec


def _narrowed(array: np.ndarray) -> np.ndarray:
    low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
    for dtype in (np.int8, np.int16, np.int32):
        if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max:
            return array.astype(dtype)
    return array.astype(np.float64)


def _sendable(value):
    """Dicts without their None values, numeric arrays typed, lists of numbers (data) left alone, everything else copied through."""
    if isinstance(value, np.ndarray) and value.dtype.kind in TYPED_ARRAY_KINDS and value.size:
        return typed_array(value)
    if isinstance(value, dict):
        return {key: _sendable(item) for key, item in value.items() if item is not None}
    if isinstance(value, list) and not (value and isinstance(value[0], (int, float, np.number))):
        return [_sendable(item) for item in value]
    return value
