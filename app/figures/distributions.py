"""Small distribution plots: a filter's histogram of the current cohort against everyone, and
overlaid distributions of one variable in two cohorts. SVG traces: few points, many small plots; plain
figure dicts, which plotly.py does not validate (see each)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.core.statistics import level_codes, level_counts
from app.figures.prebuilt import FigureDict, prebuilt_figure
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


def _clamped_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Histogram in which values beyond the axis land in the end bins: every subject is drawn."""
    finite = values[np.isfinite(values)]
    return np.histogram(np.clip(finite, edges[0], edges[-1]), edges)[0]


def _shares(counts: np.ndarray) -> list[float]:
    return (counts / max(int(counts.sum()), 1)).tolist()


def clipping_note(values: np.ndarray, edges: np.ndarray, spec: VariableSpec) -> str:
    """'' when the axis shows every value, else how many lie beyond it (they are counted in the end bins)."""
    finite = values[np.isfinite(values)]
    below, above = int((finite < edges[0]).sum()), int((finite > edges[-1]).sum())
    if not below and not above:
        return ""
    unit = f" {spec.unit}" if spec.unit else ""
    parts = ([f"{below:,} below {edges[0]:.4g}{unit}"] if below else []) + ([f"{above:,} above {edges[-1]:.4g}{unit}"] if above else [])
    return f"Axis clipped at the 0.5th–99.5th percentile:<br>{' and '.join(parts)}<br>are counted in the end bars."


def category_counts(column: pd.Series, spec: VariableSpec, mask: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(level names, counts among everyone, counts in the cohort) for a binary or categorical variable."""
    if spec.type == "binary":
        levels, names = [False, True], ["no", "yes"]
    else:
        names = list(spec.categories or sorted(column.dropna().astype(str).unique()))
        levels = names
    codes = level_codes(column, spec, levels)
    return names, level_counts(codes, codes >= 0, len(levels)), level_counts(codes, mask, len(levels))


def filter_histogram(column: pd.Series, spec: VariableSpec, cohort_mask: np.ndarray, bins: int = 30) -> dict:
    """Everyone in grey, the current cohort in blue, each as shares of its own group: what a filter keeps.

    Shares, not counts, so a cohort of 100 keeps its shape beside 5,000. A plain figure dict rather than ``go.Figure``: these redraw on every filter change, and
    graph-object validation would cost more than the histogram itself.
    """
    if spec.type == "continuous":
        values = column.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(values)
        edges = _bins(values, bins)
        x, width = ((edges[:-1] + edges[1:]) / 2).tolist(), float(edges[1] - edges[0])
        everyone = _shares(_clamped_counts(values, edges))
        cohort = _shares(_clamped_counts(values[cohort_mask & finite], edges))
    else:
        x, everyone_counts, cohort_counts = category_counts(column, spec, cohort_mask)
        width, everyone, cohort = None, _shares(everyone_counts), _shares(cohort_counts)
    bar = {"type": "bar", "x": x, "width": width, "hoverinfo": "skip"}
    return {
        "data": [{**bar, "y": everyone, "marker": {"color": EVERYONE_COLOUR}, "name": "everyone"},
                 {**bar, "y": cohort, "marker": {"color": COHORT_COLOUR}, "name": "current cohort"}],
        "layout": {"barmode": "overlay", "bargap": 0.05, "showlegend": False, "height": 90,
                   "margin": {"l": 4, "r": 4, "t": 4, "b": 18}, "yaxis": {"visible": False}, "xaxis": {"tickfont": {"size": 9}},
                   "plot_bgcolor": "white", "paper_bgcolor": "white"},
    }


def overlaid_distributions(column: pd.Series, spec: VariableSpec, masks: dict[str, np.ndarray], bins: int = 40) -> FigureDict:
    """Each named group's histogram (or category shares) of one variable, as shares within the group.

    Every subject with a value is drawn: values beyond the axis (0.5th–99.5th percentile of
    everyone) are counted in the end bars, and a note under the plot says how many. Prebuilt
    (app.figures.prebuilt): redrawn on every comparison, where plotly.py's objects were half its time.
    """
    colours = (COHORT_COLOUR, OTHER_COLOUR)
    data = []
    layout = {"height": 340, "margin": {"l": 50, "r": 10, "t": 10, "b": 70}, "legend": {"orientation": "h", "y": 1.12}, "modebar": {"orientation": "v"}}
    if spec.type == "continuous":
        values = column.to_numpy(dtype=float, na_value=np.nan)
        edges = _bins(values, bins)
        centres, width = (edges[:-1] + edges[1:]) / 2, float(edges[1] - edges[0])
        for (name, mask), colour in zip(masks.items(), colours):
            chosen = values[mask & np.isfinite(values)]
            data.append({"type": "bar", "x": centres, "y": _shares(_clamped_counts(chosen, edges)), "width": width,
                         "name": f"{plotly_text(name)} (n={len(chosen):,})", "marker": {"color": colour}, "opacity": 0.55})
        layout.update(barmode="overlay", bargap=0, xaxis={"title": {"text": spec.display_label}},
                      yaxis={"title": {"text": "share of group"}, "tickformat": ".0%"})
        note = clipping_note(values[np.logical_or.reduce(list(masks.values()))], edges, spec)
        if note:  # three lines, hung from below the axis title (in pixels: a fraction of the plot's height moved with it)
            layout["annotations"] = [{"text": note, "xref": "paper", "yref": "paper", "x": 0, "y": 0, "yanchor": "top", "yshift": -42,
                                      "xanchor": "left", "showarrow": False, "font": {"size": 10, "color": "#6c757d"}}]
            layout["margin"] = {**layout["margin"], "b": 100}
    else:
        for (name, mask), colour in zip(masks.items(), colours):
            names, _, counts = category_counts(column, spec, mask)
            total = max(int(counts.sum()), 1)
            data.append({"type": "bar", "x": [plotly_text(n) for n in names], "y": counts / total, "name": f"{plotly_text(name)} (n={int(mask.sum()):,})",
                         "marker": {"color": colour}})
        layout.update(barmode="group", xaxis={"title": {"text": spec.label}}, yaxis={"title": {"text": "share"}, "tickformat": ".0%"})
    return prebuilt_figure(data, layout)
