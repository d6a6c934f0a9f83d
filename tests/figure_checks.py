"""Checks shared by the figure tests."""

from __future__ import annotations

import json
import pickle

import plotly.graph_objects as go
from dash._utils import to_json

from app.figures.prebuilt import sendable


def assert_unchanged_by_validation(figure: go.Figure) -> None:
    """A prebuilt figure (app.figures.prebuilt) sends what plotly.py would after validating it: valid keys, canonical values;
    and as a background job's result (``sendable``: a plain dict, its arrays typed) it sends the very same bytes."""
    assert json.loads(to_json(figure)) == json.loads(to_json(go.Figure(figure.to_dict())))
    job_result = pickle.loads(pickle.dumps(sendable(figure)))  # as the disk cache keeps it between the job and the poll
    assert isinstance(job_result, dict) and to_json(job_result) == to_json(figure)
