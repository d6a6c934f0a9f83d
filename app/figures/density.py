"""Explorer views above the density threshold: a density image of every subject, points once zoomed in.

A view holding more subjects than the threshold draws a ``bins × bins`` heatmap of them (binned on
the server, a few hundred KB whatever the cohort's size) instead of one WebGL point each: a grey
layer of everyone's counts under a coloured layer for the highlighted cohort (everyone when none),
coloured by count, or per cell by the mean of a continuous colour, the share of a binary one's
"yes" or a categorical one's majority. An invisible two-point trace at the grid's corners keeps
Plotly's box and lasso tools, whose shapes the server resolves as for points. Zoomed in to at most
the threshold, the view draws the points in range themselves. Nobody is sampled away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from app.core.density import DensityGrid, Viewport, cell_counts, cell_majority, cell_means, density_grid, in_viewport
from app.figures.scatter import CONTINUOUS_LEVELS, MISSING_CODE, VIEW_RIGHT_MARGIN_PX, ColourCoding, scatter_figure, view_layout, view_margin

DENSITY_BINS = 200
EVERYONE_SCALE = [[0, "#c4c4c4"], [1, "#4f4f4f"]]  # everyone's counts, under the coloured layer
COUNT_SCALE = [[0, "#c6dbef"], [1, "#08306b"]]
# The right margin beside a view's colour bar, its ticks and its title ("share yes", "subjects per cell"): automargin then
# need not push it, which draws the view a second time.
SHARE_BAR_MARGIN_PX = 80
COUNT_BAR_MARGIN_PX = 96
FADED_EVERYONE_OPACITY = 0.45  # everyone's layer when a cohort is highlighted over it


@dataclass(frozen=True)
class ViewDrawing:
    """How a view draws: ``points`` (every subject), ``zoomed`` (the subjects in range) or ``density``."""

    mode: str
    n_shown: int  # subjects in the view's range with coordinates
    rows: np.ndarray | None = None  # zoomed: the rows drawn, in row order

    @property
    def follows_zoom(self) -> bool:
        """Whether zooming changes what is drawn (the view is above the threshold)."""
        return self.mode != "points"


def choose_drawing(coordinates: np.ndarray, viewport: Viewport | None, threshold: int) -> ViewDrawing:
    """Points while the view holds at most ``threshold`` subjects; above, density, or the points in a small enough zoom."""
    shown = int(in_viewport(coordinates, None).sum())
    if shown <= threshold:
        return ViewDrawing("points", shown)
    if viewport is None:
        return ViewDrawing("density", shown)
    inside = np.flatnonzero(in_viewport(coordinates, viewport))
    if len(inside) <= threshold:
        return ViewDrawing("zoomed", len(inside), inside)
    return ViewDrawing("density", len(inside))


def density_caption(drawing: ViewDrawing, threshold: int, coding: ColourCoding) -> list[str]:
    """What the view draws and how to see points: two short lines under its title."""
    if drawing.mode == "zoomed":
        return [f"{drawing.n_shown:,} subjects in range, as points", "double-click or Autoscale to see everyone"]
    colour = {"none": "count", "continuous": "mean colour", "binary": "share of yes", "categorical": "most common category"}[coding.kind]
    return [f"Density of {drawing.n_shown:,} subjects · {colour} per cell", f"zoom in to ≤ {threshold:,} subjects to see points"]


DENSITY_CAPTION_LINES = 2  # density_caption's, whether zoomed or not


def _log_counts(counts: np.ndarray) -> np.ndarray:
    """log10(count) per cell, NaN (drawn transparent) where there is nobody."""
    with np.errstate(divide="ignore"):
        logs = np.log10(counts.astype(np.float64))
    logs[counts == 0] = np.nan
    return logs.astype(np.float32)


def _code_colour(coding: ColourCoding, code: int) -> str:
    return coding.colorscale[code][1]


def _count_colorbar(top: float) -> dict:
    ticks = [10.0**power for power in range(int(np.floor(top)) + 1)]
    return {"title": {"text": "subjects<br>per cell", "side": "top"}, "thickness": 10, "len": 0.8,
            "tickvals": np.log10(ticks).tolist(), "ticktext": [f"{tick:,.0f}" for tick in ticks]}


def _colour_layer(grid: DensityGrid, coding: ColourCoding, members: np.ndarray | None, top_log_count: float) -> dict:
    """The coloured heatmap's z and colours: the statistic of the colour variable over ``members`` per cell."""
    codes = coding.codes
    if coding.kind == "continuous":
        values = np.where(codes == MISSING_CODE, np.nan, codes.astype(np.float64))
        levels = CONTINUOUS_LEVELS - 1
        return {"z": cell_means(grid, values, members), "zmin": 0, "zmax": levels, "showscale": False,
                "colorscale": [[code / levels, _code_colour(coding, code)] for code in range(CONTINUOUS_LEVELS)]}
    if coding.kind == "binary":
        yes = coding.share_code  # None: nobody is "yes"
        no = 1 - yes if yes is not None and coding.n_categories == 2 else (yes or 0)
        is_yes = codes == yes if yes is not None else np.zeros(len(codes), dtype=bool)
        values = np.where(codes == MISSING_CODE, np.nan, is_yes.astype(np.float64))
        return {"z": cell_means(grid, values, members), "zmin": 0, "zmax": 1, "showscale": True,
                "colorscale": [[0, _code_colour(coding, no)], [1, _code_colour(coding, no if yes is None else yes)]],
                "colorbar": {"title": {"text": "share<br>yes", "side": "top"}, "thickness": 10, "len": 0.8, "tickformat": ".0%"}}
    if coding.kind == "categorical":
        n = max(coding.n_categories, 1)
        majority = cell_majority(grid, codes, n, members).astype(np.float64)
        majority[majority < 0] = np.nan
        steps = [[edge, _code_colour(coding, code)] for code in range(n) for edge in (code / n, (code + 1) / n)]
        return {"z": majority, "zmin": -0.5, "zmax": n - 0.5, "showscale": False, "colorscale": steps}
    return {"z": _log_counts(cell_counts(grid, members)), "zmin": 0, "zmax": top_log_count, "showscale": True,
            "colorscale": COUNT_SCALE, "colorbar": _count_colorbar(top_log_count)}


def density_traces(grid: DensityGrid, coding: ColourCoding, highlight: np.ndarray | None) -> list[go.BaseTraceType]:
    """Everyone's counts in grey, the highlighted cohort (everyone when None) coloured over it, and the selection handle."""
    x_edges, y_edges = grid.x_edges.astype(np.float32), grid.y_edges.astype(np.float32)
    everyone = _log_counts(cell_counts(grid))
    top = float(np.nanmax(everyone)) if np.isfinite(everyone).any() else 0.0
    top = max(top, 0.5)  # a scale even when every cell holds one subject
    layer = _colour_layer(grid, coding, highlight, top)
    layer["z"] = np.asarray(layer["z"], dtype=np.float32)
    return [
        go.Heatmap(x=x_edges, y=y_edges, z=everyone, zmin=0, zmax=top, colorscale=EVERYONE_SCALE, showscale=False, hoverinfo="skip",
                   opacity=1.0 if highlight is None else FADED_EVERYONE_OPACITY,
                   meta={"density": grid.n_binned, "highlight": highlight is not None, "follows_zoom": True}),
        go.Heatmap(x=x_edges, y=y_edges, hoverinfo="skip", **layer),
        # Heatmaps cannot be selected: two invisible points at the corners give the view Plotly's box and lasso tools.
        go.Scatter(x=[float(x_edges[0]), float(x_edges[-1])], y=[float(y_edges[0]), float(y_edges[-1])], mode="markers",
                   marker={"opacity": 0, "size": 1},
                   hoverinfo="skip", showlegend=False),
    ]


def density_right_margin(coding: ColourCoding) -> int:
    """A density view's right margin: room for its colour bar where ``coding`` gives it one (a share of "yes", or counts
    with no colour); a colour change patches it with the layers."""
    if coding.kind == "binary":
        return SHARE_BAR_MARGIN_PX
    return COUNT_BAR_MARGIN_PX if coding.kind == "none" else VIEW_RIGHT_MARGIN_PX


def density_margin(coding: ColourCoding) -> dict[str, int]:
    """A density view's margins: room for its title's two caption lines and, where it has one, its colour bar."""
    return {**view_margin(DENSITY_CAPTION_LINES), "r": density_right_margin(coding)}


def density_data(coordinates: np.ndarray, coding: ColourCoding, highlight: np.ndarray | None, viewport: Viewport | None,
                 bins: int = DENSITY_BINS) -> list[dict]:
    """A density view's traces as they travel (typed arrays), for a Patch that repaints it without a new layout."""
    return go.Figure(density_traces(density_grid(coordinates, viewport, bins), coding, highlight)).to_dict()["data"]


def view_figure(
    coordinates: np.ndarray,
    coding: ColourCoding,
    drawing: ViewDrawing,
    *,
    highlight: np.ndarray | None,
    viewport: Viewport | None,
    threshold: int,
    title: str,
    x_label: str,
    y_label: str,
    revision: str,
    bins: int = DENSITY_BINS,
    marks: dict[str, list[dict]] | None = None,
) -> go.Figure:
    """An explorer view as ``drawing`` says: every point, the points in range, or the density of everyone in range.

    ``marks``: layout annotations and shapes over the view (the found subject's ring and label).
    """
    labels = {"title": title, "x_label": x_label, "y_label": y_label, "revision": revision, "marks": marks}
    if drawing.mode == "points":
        return scatter_figure(coordinates, coding, highlight=highlight, **labels)
    caption = density_caption(drawing, threshold, coding)
    if drawing.mode == "zoomed":
        return scatter_figure(coordinates, coding, highlight=highlight, rows=drawing.rows, caption=caption,
                              meta={"follows_zoom": True}, **labels)
    figure = go.Figure(density_traces(density_grid(coordinates, viewport, bins), coding, highlight))
    layout = view_layout(title, x_label, y_label, revision, caption)
    layout["margin"] = density_margin(coding)
    figure.update_layout(layout, **(marks or {}))
    return figure
