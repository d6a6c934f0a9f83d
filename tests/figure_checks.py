"""Checks shared by the figure tests."""

from __future__ import annotations

import json
import pickle

import plotly.graph_objects as go
from dash._utils import to_json

from app.figures.prebuilt import sendable
from tests.typed_arrays import unpacked


def _is_typed_array(value) -> bool:
    return isinstance(value, dict) and set(value) <= {"dtype", "bdata", "shape"} and {"dtype", "bdata"} <= set(value)


def _decoded(value):
    """A figure's typed arrays (Plotly.js's dtype/base64 spec) back as numpy arrays, everything else as it is."""
    if _is_typed_array(value):
        return unpacked(value)
    if isinstance(value, dict):
        return {key: _decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    return value


def validated(figure: go.Figure | dict) -> go.Figure:
    """The figure as a validated go.Figure, to read as plotly.py objects (``figure.data[0].x``): a prebuilt figure
    (app.figures.prebuilt) with its typed arrays decoded; plotly.py raises on any key or value it would refuse."""
    return go.Figure(_decoded(figure)) if isinstance(figure, dict) else figure


def _sent(figure) -> object:
    """What Dash sends for a figure, with every typed array as ("typed", its values): plotly.py and the app may pick
    different dtypes for one array (int8 against float64), but every array must go typed and hold the same values."""
    def normal(value):
        if _is_typed_array(value):
            return ("typed", json.dumps(_decoded(value).tolist()))  # as text, so that NaN equals NaN
        if isinstance(value, dict):
            return {key: normal(item) for key, item in value.items()}
        if isinstance(value, list):
            return [normal(item) for item in value]
        return value
    return normal(json.loads(to_json(figure)))


def assert_unchanged_by_validation(figure: dict) -> None:
    """A prebuilt figure (app.figures.prebuilt) sends what plotly.py would after validating it (valid keys, canonical
    values, the same template, arrays typed alike); and as a background job's result, pickled into the disk cache and
    read back, it sends the very same bytes."""
    assert isinstance(figure, dict), "a prebuilt figure is the plain dict Dash sends"
    assert _sent(figure) == _sent(validated(figure))
    job_result = pickle.loads(pickle.dumps(sendable(figure)))
    assert isinstance(job_result, dict) and to_json(job_result) == to_json(figure)
