"""Small distribution plots: a filter's histogram of the current cohort against everyone, and
overlaid distributions of one variable in two cohorts. SVG traces: few points, many small plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.figures.text import plotly_text
from data_loaders.manifest import VariableSpec

EVERYONE_COLOUR = "#c8ccd2"
COHORT_COLOUR = "#2c7fb8"
OTHER_COLOUR = "#e6550d"


def _bins(values: np.ndarray, bins: int) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return np.linspace(0, 1, bins + 1)
    low, high = np.percentile(finite, [0.5, 99.5])
    if high <= low:
        low, high = finite.min() - 0.5, finite.max() + 0.5
    return np.linspace(low, high, bins + 1)


def category_counts(column: pd.Series, spec: VariableSpec, mask: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(level names, counts among everyone, counts in the cohort) for a binary or categorical variable."""
    if spec.type == "binary":
        levels, names = [False, True], ["no", "yes"]
        values = column.astype("boolean")
    else:
        names = list(spec.categories or sorted(column.dropna().astype(str).unique()))
        levels, values = names, column.astype("string")
    everyone = np.array([int((values == level).sum()) for level in levels])
    cohort = np.array([int((values[mask] == level).sum()) for level in levels])
    return names, everyone, cohort


def filter_histogram(column: pd.Series, spec: VariableSpec, cohort_mask: np.ndarray, bins: int = 30) -> dict:
    """Everyone in grey, the current cohort in blue, on the same axis: what a filter keeps.

    A plain figure dict rather than ``go.Figure``: these redraw on every filter change, and
    graph-object validation would cost more than the histogram itself.
    """
    if spec.type == "continuous":
        values = column.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(values)
        edges = _bins(values, bins)
        x, width = ((edges[:-1] + edges[1:]) / 2).tolist(), float(edges[1] - edges[0])
        everyone = np.histogram(values[finite], edges)[0].tolist()
        cohort = np.histogram(values[cohort_mask & finite], edges)[0].tolist()
    else:
        x, everyone_counts, cohort_counts = category_counts(column, spec, cohort_mask)
        width, everyone, cohort = None, everyone_counts.tolist(), cohort_counts.tolist()
    bar = {"type": "bar", "x": x, "width": width, "hoverinfo": "skip"}
    return {
        "data": [{**bar, "y": everyone, "marker": {"color": EVERYONE_COLOUR}, "name": "everyone"},
                 {**bar, "y": cohort, "marker": {"color": COHORT_COLOUR}, "name": "current cohort"}],
        "layout": {"barmode": "overlay", "bargap": 0.05, "showlegend": False, "height": 90,
                   "margin": {"l": 4, "r": 4, "t": 4, "b": 18}, "yaxis": {"visible": False}, "xaxis": {"tickfont": {"size": 9}},
                   "plot_bgcolor": "white", "paper_bgcolor": "white"},
    }


def overlaid_distributions(column: pd.Series, spec: VariableSpec, masks: dict[str, np.ndarray], bins: int = 40) -> go.Figure:
    """Normalised histograms (or category shares) of one variable in each named group."""
    figure = go.Figure()
    colours = (COHORT_COLOUR, OTHER_COLOUR)
    if spec.type == "continuous":
        values = column.to_numpy(dtype=float, na_value=np.nan)
        edges = _bins(values, bins)
        for (name, mask), colour in zip(masks.items(), colours):
            chosen = values[mask & np.isfinite(values)]
            figure.add_histogram(x=chosen, xbins={"start": edges[0], "end": edges[-1], "size": edges[1] - edges[0]},
                                 histnorm="probability density", name=f"{plotly_text(name)} (n={len(chosen):,})", marker_color=colour, opacity=0.55)
        figure.update_layout(barmode="overlay", xaxis_title=spec.display_label, yaxis_title="density")
    else:
        for (name, mask), colour in zip(masks.items(), colours):
            names, _, counts = category_counts(column, spec, mask)
            total = max(int(counts.sum()), 1)
            figure.add_bar(x=[plotly_text(n) for n in names], y=counts / total, name=f"{plotly_text(name)} (n={int(mask.sum()):,})", marker_color=colour)
        figure.update_layout(barmode="group", xaxis_title=spec.label, yaxis_title="share", yaxis_tickformat=".0%")
    figure.update_layout(template="plotly_white", height=320, margin={"l": 50, "r": 10, "t": 10, "b": 40},
                         legend={"orientation": "h", "y": 1.12}, modebar={"orientation": "v"})
    return figure
