"""Checks shared by the figure tests."""

from __future__ import annotations

import json

import plotly.graph_objects as go
from dash._utils import to_json


def assert_unchanged_by_validation(figure: go.Figure) -> None:
    """A prebuilt figure (app.figures.prebuilt) sends what plotly.py would after validating it: valid keys, canonical values."""
    assert json.loads(to_json(figure)) == json.loads(to_json(go.Figure(figure.to_dict())))
