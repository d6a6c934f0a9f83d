"""Figures from plain trace, layout and frame dicts, which plotly.py neither validates nor copies.

For the decoder's large figures, made by our own tested builders: a decode's two ECG sheets (about
30 traces, 40 annotations and shapes) and its cine (50 frames of images). Validating them took 108
of a decode's 230 ms and Dash's serialising of a validated figure (a deep copy) another 34 ms;
unchecked, 9 + 18 ms (one user's decode, 5,000-subject demo). Plotly builds its own templates this
way (``_validate=False``); Plotly.js still checks what it draws, the tests check that validating a
prebuilt figure changes nothing, and the browser tests look at them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TYPED_ARRAY_KINDS = "fiu"  # floats and integers: Plotly.js reads them as typed arrays (booleans and strings stay lists)


def prebuilt_figure(data: list[dict], layout: dict, frames: list[dict] | None = None) -> go.Figure:
    """A go.Figure of these dicts as they are (keys set to None are left out, as plotly.py would)."""
    return go.Figure({"data": _without_none(data), "layout": _without_none(layout), "frames": _without_none(frames or [])}, _validate=False)


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


def _without_none(value):
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list) and not (value and isinstance(value[0], (int, float, np.number))):  # a list of numbers is data: left alone
        return [_without_none(item) for item in value]
    return value


def sendable(figure: go.Figure) -> dict:
    """The figure as Dash sends it: a plain dict whose numeric arrays are Plotly.js typed arrays (dtype, base64, shape).

    For a background job's result, which is pickled into the disk cache and read back by the request
    that collects it: a go.Figure is validated again when unpickled (68 ms for a decode's figures, on
    the user's wait), a dict is not (under 1 ms), and arrays already encoded halve Dash's JSON
    encoding (43 → 22 ms). What reaches the browser is the same, byte for byte.
    """
    return _typed(figure.to_dict())


def typed_array(array: np.ndarray, *, url_safe: bool = False) -> dict:
    """A numeric array as Plotly.js's typed-array spec: its dtype, its bytes in base64 and, past one dimension, its shape.

    ``url_safe``: base64's URL-safe alphabet, which Plotly.js does not read but assets/explorer.js does
    (app.figures.scatter). 64-bit integers, which Plotly.js has not, go as 64-bit floats.
    """
    array = np.ascontiguousarray(array if array.dtype != np.int64 else array.astype(np.float64))
    encode = base64.urlsafe_b64encode if url_safe else base64.b64encode
    spec = {"dtype": array.dtype.str.lstrip("<|="), "bdata": encode(array.tobytes()).decode("ascii")}
    if array.ndim > 1:
        spec["shape"] = ",".join(map(str, array.shape))
    return spec


def _typed(value):
    if isinstance(value, np.ndarray) and value.dtype.kind in TYPED_ARRAY_KINDS and value.size:
        return typed_array(value)
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return value
