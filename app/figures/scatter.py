"""Linked WebGL scatterplots of subjects, coloured by any variable.

Every trace carries its subjects' row numbers (positions in the phenotype table) as the first
``customdata`` column: views are linked by those ids, never by coordinates. Selection is drawn
with ``selectedpoints`` so that a new selection only patches those, not the whole figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.figures.text import plotly_text
from data_loaders.manifest import VariableSpec

MISSING_COLOUR = "#b0b0b0"
CATEGORY_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
CONTINUOUS_SCALE = "Viridis"
UNSELECTED_OPACITY = 0.08


@dataclass(frozen=True)
class TraceGroup:
    """The subjects drawn by one trace: a category (or all, for a continuous colour) and its rows."""

    name: str
    rows: np.ndarray
    colour: str | None = None  # None: coloured by value on the continuous scale


def trace_groups(colour_values: pd.Series | None, spec: VariableSpec | None) -> list[TraceGroup]:
    """Split subjects into traces: one per category for categorical/binary colours, else one (+ missing)."""
    if colour_values is None or spec is None:
        return []
    missing = colour_values.isna().to_numpy()
    if spec.type == "continuous":
        groups = [TraceGroup(spec.label, np.flatnonzero(~missing))]
    else:
        if spec.type == "binary":
            levels = [(False, f"{spec.label}: no"), (True, f"{spec.label}: yes")]
        else:
            present = set(colour_values.dropna().astype(str))
            levels = [(c, c) for c in (spec.categories or sorted(present)) if c in present]
        as_text = colour_values.astype("string") if spec.type != "binary" else colour_values
        groups = []
        for index, (level, name) in enumerate(levels):
            rows = np.flatnonzero((as_text == (level if spec.type == "binary" else str(level))).fillna(False).to_numpy(dtype=bool))
            groups.append(TraceGroup(name, rows, CATEGORY_COLOURS[index % len(CATEGORY_COLOURS)]))
    if missing.any():
        groups.append(TraceGroup("missing", np.flatnonzero(missing), MISSING_COLOUR))
    return groups


def selected_points(groups: list[TraceGroup], selected_rows: np.ndarray | None) -> list[list[int] | None]:
    """Per trace, the positions of selected subjects (None everywhere when nothing is selected)."""
    if selected_rows is None:
        return [None] * len(groups)
    selected = np.zeros(max((int(g.rows.max()) + 1 for g in groups if len(g.rows)), default=0), dtype=bool)
    valid = selected_rows[selected_rows < len(selected)]
    selected[valid] = True
    return [np.flatnonzero(selected[g.rows]).tolist() for g in groups]


def scatter_figure(
    coordinates: np.ndarray,
    groups: list[TraceGroup],
    colour_values: pd.Series | None,
    colour_spec: VariableSpec | None,
    hover_text: np.ndarray,
    *,
    selected_rows: np.ndarray | None = None,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    revision: str = "",
    marker_size: float = 4.0,
) -> go.Figure:
    """A WebGL scatter of (N, 2) coordinates; ``revision`` keeps zoom while colour or selection change.

    ``hover_text`` is one string per subject (id and key variables), shown on hover.
    """
    if not groups:
        groups = [TraceGroup("subjects", np.arange(len(coordinates)), CATEGORY_COLOURS[0])]
    figure = go.Figure()
    continuous = colour_spec is not None and colour_spec.type == "continuous"
    if continuous:
        finite = colour_values.to_numpy(dtype=float, na_value=np.nan)
        low, high = np.nanpercentile(finite, [1, 99]) if np.isfinite(finite).any() else (0.0, 1.0)
    for group, selection in zip(groups, selected_points(groups, selected_rows)):
        rows = group.rows
        marker: dict = {"size": marker_size, "opacity": 0.85}
        if group.colour is None:
            marker.update(
                color=finite[rows], colorscale=CONTINUOUS_SCALE, cmin=low, cmax=high,
                colorbar={"title": {"text": plotly_text(colour_spec.display_label), "side": "right"}, "thickness": 12},
            )
        else:
            marker["color"] = group.colour
        figure.add_trace(
            go.Scattergl(
                x=coordinates[rows, 0],
                y=coordinates[rows, 1],
                mode="markers",
                name=plotly_text(group.name),
                marker=marker,
                customdata=rows.astype(np.int32),
                hovertext=hover_text[rows],
                hovertemplate="%{hovertext}<extra></extra>",
                selectedpoints=selection,
                selected={"marker": {"opacity": 1.0}},
                unselected={"marker": {"opacity": UNSELECTED_OPACITY}},
                showlegend=not continuous or group.colour is not None,
            )
        )
    figure.update_layout(
        title={"text": plotly_text(title), "x": 0.01, "font": {"size": 14}},
        xaxis={"title": {"text": x_label}, "zeroline": False},
        yaxis={"title": {"text": y_label}, "zeroline": False},
        dragmode="lasso",
        uirevision=revision or "keep",
        margin={"l": 50, "r": 10, "t": 36, "b": 40},
        legend={"orientation": "h", "y": -0.15, "itemsizing": "constant"},
        template="plotly_white",
        clickmode="event+select",
        modebar={"orientation": "v"},
    )
    return figure


def hover_texts(phenotypes: pd.DataFrame, variables: dict[str, VariableSpec], key_variables: list[str]) -> np.ndarray:
    """'SYN000123 · Age 63 years · Sex female …' per subject, built once per process."""
    parts = [np.array([plotly_text(i) for i in phenotypes.index], dtype=object)]
    for name in key_variables:
        spec = variables[name]
        column = phenotypes[name]
        if spec.type == "continuous":
            text = column.map(lambda v: "–" if pd.isna(v) else f"{v:.0f}").astype(str)
            parts.append((f"{spec.label} " + text + (f" {spec.unit}" if spec.unit else "")).to_numpy(dtype=object))
        elif spec.type == "binary":
            parts.append(np.where(column.fillna(False).to_numpy(dtype=bool), spec.label, f"no {spec.label}").astype(object))
        else:
            parts.append((f"{spec.label} " + column.astype("string").fillna("–")).to_numpy(dtype=object))
    return np.array(["<br>".join(plotly_text(part) if index else part for index, part in enumerate(row)) for row in zip(*parts)], dtype=object)
