"""Prediction tables under the decoded views, and the small status line each view ends with."""

from __future__ import annotations

from collections.abc import Sequence

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import dcc, html

from app.context import AppContext
from app.figures.static_html import one_component
from app.panels.decoder.model import DecoderModels


def task_label(context: AppContext, task: str) -> str:
    spec = context.variables.get(task)
    label = spec.label if spec is not None else task
    return f"{label} (probability)" if is_binary(context, task) else (spec.display_label if spec is not None else task)


def predictor_name(context: AppContext, task: str) -> str:
    """A predictor's outcome as a row of a measured-change table names it (its unit has a column of its own there)."""
    spec = context.variables.get(task)
    return spec.label if spec is not None else task


def is_binary(context: AppContext, task: str) -> bool:
    spec = context.variables.get(task)
    return spec is not None and spec.type == "binary"


def format_prediction(context: AppContext, task: str, value: float) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{100 * value:.0f}%" if is_binary(context, task) else f"{value:.1f}"


def format_change(context: AppContext, task: str, change: float) -> str:
    """A prediction's change with an arrow; percentage points for probabilities; "no change" when it rounds to zero."""
    binary = is_binary(context, task)
    shown = round(100 * change) if binary else round(change, 1)
    if not np.isfinite(change) or shown == 0:
        return "no change"
    return (f"{shown:+d} points" if binary else f"{shown:+.1f}") + (" ↑" if shown > 0 else " ↓")


def prediction_table(context: AppContext, models: DecoderModels, space: str, latents: np.ndarray, columns: Sequence[str],
                     with_change: bool = False) -> pd.DataFrame:
    """Each predictor's output (rows) for each latent (columns); with ``with_change``, the last column minus the first."""
    rows = []
    for task in models.tasks(space):
        values = models.predict(task, space, latents)
        row = {"Predictor": task_label(context, task), **{column: format_prediction(context, task, v) for column, v in zip(columns, values)}}
        if with_change:
            row["Change"] = format_change(context, task, float(values[-1] - values[0]))
        rows.append(row)
    return pd.DataFrame(rows, columns=["Predictor", *columns, *(["Change"] if with_change else [])])


def frame_table(frame: pd.DataFrame, empty: str) -> dcc.Markdown | html.Div:
    """A small table as one component (app.figures.static_html), or ``empty`` when it has no rows."""
    if frame.empty:
        return html.Div(empty, className="text-muted small")
    return one_component(dbc.Table.from_dataframe(frame, striped=True, hover=True, size="sm", className="small mb-0"))


def status_line(text: str) -> html.Span:
    return html.Span(text, className="text-muted small decoder-timing")
