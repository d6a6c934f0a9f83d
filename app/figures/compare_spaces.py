"""Figures for comparing two latent spaces: the overlap map with its animated transition, the overlap
histogram, and one subject's neighbourhood in both spaces as small multiples.

The overlap map is one figure (subjects, trails and the animation frames all live in it, the frames drawn in
the browser from A's layout and B's): WebGL points up to the density threshold, above it a density of mean overlap per cell whose size does not grow with
the cohort; the small multiples are SVG subplots of one figure (few points each).
"""

from __future__ import annotations

import numpy as np
from plotly.colors import get_colorscale

from app.core.density import Viewport, cell_means, density_grid
from app.figures.prebuilt import FigureDict, axis_key, in_panel, panel_row, prebuilt_figure
from app.figures.text import extra_lines, fit_titles, plotly_text

# Diverging: red = neighbourhood changed (overlap 0), white = half kept, blue = kept (overlap 1).
OVERLAP_SCALE = "RdBu"
SHARED_COLOUR = "#6a3d9a"
ONLY_A_COLOUR = "#e66101"
ONLY_B_COLOUR = "#1b9e77"
SUBJECT_COLOUR = "#111111"
TRAIL_COLOUR = "rgba(90, 90, 90, 0.45)"
BACKGROUND_COLOUR = "#d9d9d9"
UNSELECTED_OPACITY = 0.12
DENSITY_BINS = 160  # cells a side of the density map drawn above the density threshold
NEIGHBOURHOOD_NARROWEST_PX = 460  # the neighbourhood card on a 1366 px laptop, about the narrowest it is drawn
NEIGHBOURHOOD_TITLE_PX = 12
CONTROLS_TOP_PX = 48  # the map's play buttons start this far below the plot area, under the x-axis title
SLIDER_TOP_PX = CONTROLS_TOP_PX + 40  # and its frame slider under the buttons


def _layout_defaults(revision: str) -> dict:
    return {"uirevision": revision or "keep", "margin": {"l": 40, "r": 10, "t": 36, "b": 36}}


def trail_segments(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y for one line trace drawing every segment, separated by gaps (NaN)."""
    x = np.column_stack([starts[:, 0], ends[:, 0], np.full(len(starts), np.nan)]).ravel()
    y = np.column_stack([starts[:, 1], ends[:, 1], np.full(len(starts), np.nan)]).ravel()
    return x, y


def overlap_colour_range(overlap: np.ndarray) -> tuple[float, float]:
    """A colour range centred on the cohort's median overlap, so that "changed more than most" shows even when all changed a lot."""
    if not len(overlap):
        return 0.0, 1.0
    low, median, high = np.quantile(overlap, [0.02, 0.5, 0.98])
    spread = max(median - low, high - median, 0.02)
    return float(max(0.0, median - spread)), float(min(1.0, median + spread))


def _float32(values: np.ndarray) -> np.ndarray:
    """Coordinates as float32: half of float64's bytes on the wire, still far finer than a screen's pixels."""
    return np.asarray(values, dtype=np.float32)


def overlap_map(
    start: np.ndarray,
    end: np.ndarray,
    fractions: list[float],
    overlap: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    selected_rows: np.ndarray | None = None,
    trails: tuple[np.ndarray, np.ndarray] | None = None,
    frame_labels: tuple[str, str] = ("A", "B"),
    title: str = "",
    axis_labels: tuple[str, str] = ("", ""),
    revision: str = "",
    frame_views: list[dict] | None = None,
    outline: tuple[int, dict] | None = None,
) -> FigureDict:
    """Subjects coloured by overlap, laid out by space A; a slider/play button moves every point to B's aligned layout.

    ``start`` and ``end`` are full (N, 2) layouts, A's and B's aligned onto it; ``rows`` restricts the
    drawn subjects (e.g. to a brushed overlap range); ``trails`` are (rows, targets) segments drawn on A's layout.
    The figure carries the two layouts and each frame's share of the way (``layout.meta.transition``, from
    :func:`app.core.alignment.transition_fractions`): the browser draws the frames from them
    (assets/compare_spaces.js), so they are not sent one by one (five copies of every subject's
    coordinates at 100,000 subjects, most of the 5.7 MB the tab took). ``frame_views`` name each frame as
    a selection names a view: a lasso drawn on a named frame is sent as its shape, on any other as the
    rows inside it; ``outline`` is the selection's box or lasso (a layout shape) and the frame it was drawn on,
    shown on that frame only (each frame the browser draws says whether). No text per point: hovering asks
    the server for the subject (its tooltip).
    Prebuilt (app.figures.prebuilt): validating arrays this size was most of the callback under load.
    """
    rows = np.arange(len(overlap)) if rows is None else np.asarray(rows)
    if frame_views is not None and len(frame_views) != len(fractions):
        raise ValueError(f"{len(fractions)} frames but {len(frame_views)} frame views")
    cmin, cmax = overlap_colour_range(overlap)
    position = None
    if selected_rows is not None:
        chosen = np.zeros(len(overlap), dtype=bool)
        chosen[np.asarray(selected_rows, dtype=int)] = True
        position = np.flatnonzero(chosen[rows]).tolist()
    subjects = {
        "type": "scattergl", "x": _float32(start[rows, 0]), "y": _float32(start[rows, 1]), "mode": "markers", "name": "subjects",
        "marker": {"size": 4 if len(rows) > 20_000 else 6, "color": overlap[rows].astype(np.float32), "colorscale": get_colorscale(OVERLAP_SCALE),
                   "cmin": cmin, "cmax": cmax, "colorbar": {"title": {"text": "overlap", "side": "top"}, "thickness": 12, "len": 0.8}},
        "customdata": rows.astype(np.int32), "hoverinfo": "none",
        "selectedpoints": position, "selected": {"marker": {"opacity": 1.0}}, "unselected": {"marker": {"opacity": UNSELECTED_OPACITY}},
        "showlegend": False,
    }
    data = [subjects]
    if trails is not None and len(trails[0]):
        trail_rows, targets = trails
        x, y = trail_segments(start[trail_rows], targets)
        data.append({"type": "scattergl", "x": _float32(x), "y": _float32(y), "mode": "lines", "line": {"color": TRAIL_COLOUR, "width": 1},
                     "hoverinfo": "skip", "name": "trails", "showlegend": False})
    layout = _map_layout(frame_labels, axis_labels, len(fractions), title, revision)
    layout["meta"] = {"transition": {"fractions": list(fractions), "x": _float32(end[rows, 0]), "y": _float32(end[rows, 1])}, "frame_views": frame_views,
                      "outline_frame": None if outline is None else outline[0]}
    if outline is not None:
        layout["shapes"] = [{**outline[1], "visible": outline[0] == 0}]  # the browser draws A's frame first
    return prebuilt_figure(data, layout)


def _map_layout(frame_labels: tuple[str, str], axis_labels: tuple[str, str], frame_count: int, title: str, revision: str) -> dict:
    """The overlap map's axes and its A → B controls, drawn as points or as a density alike."""
    jump = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    steps = [{"method": "animate", "label": frame_labels[0] if index == 0 else frame_labels[1] if index == frame_count - 1 else "",
              "args": [[str(index)], jump]} for index in range(frame_count)]
    play = {"frame": {"duration": 120, "redraw": True}, "transition": {"duration": 0}, "fromcurrent": False, "mode": "immediate"}
    return {
        "title": {"text": plotly_text(title), "x": 0.01, "font": {"size": 13}} if title else None,
        "xaxis": {"title": {"text": axis_labels[0], "standoff": 4}, "zeroline": False},
        "yaxis": {"title": {"text": axis_labels[1]}, "zeroline": False},
        "dragmode": "lasso", "clickmode": "event", "hovermode": "closest",
        "legend": {"orientation": "h", "y": 1.02, "x": 0.99, "xanchor": "right", "yanchor": "bottom", "font": {"size": 11}},
        # The play buttons, then the frame slider on a row of its own, sit below the x-axis title, placed in pixels from
        # the plot's bottom edge (paper fractions would move them onto the title as the figure's height changes, and
        # side by side the buttons' labels, which name the spaces, run into the slider in a narrow window).
        "updatemenus": [{"type": "buttons", "direction": "left", "x": 0.0, "y": 0, "xanchor": "left", "yanchor": "top",
                         "pad": {"t": CONTROLS_TOP_PX, "r": 6}, "showactive": False,
                         "buttons": [{"label": f"▶ {frame_labels[0]} → {frame_labels[1]}", "method": "animate", "args": [None, play]},
                                     {"label": f"◀ back to {frame_labels[0]}", "method": "animate", "args": [["0"], jump]}]}],
        "sliders": [{"active": 0, "steps": steps, "x": 0.0, "len": 1.0, "y": 0, "yanchor": "top", "pad": {"t": SLIDER_TOP_PX, "r": 10},
                     "currentvalue": {"visible": False}, "ticklen": 0}],
        **_layout_defaults(revision),
        # Room for the buttons and the slider below, and the colour bar on the right: automargin then has nothing to push
        # and does not draw the map a second time.
        "margin": {"l": 74, "r": 96, "t": 30, "b": SLIDER_TOP_PX + 52},
    }


def overlap_density_map(
    frames: list[np.ndarray],
    overlap: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    trails: tuple[np.ndarray, np.ndarray] | None = None,
    frame_labels: tuple[str, str] = ("A", "B"),
    axis_labels: tuple[str, str] = ("", ""),
    revision: str = "",
    bins: int = DENSITY_BINS,
) -> FigureDict:
    """The overlap map for a cohort too large to draw as points: every subject binned on one grid spanning every frame,
    each cell coloured by its subjects' mean overlap (transparent where nobody is), and the slider/play button moving
    from A's layout to B's aligned one frame by frame, as the points do.

    Its size does not grow with the cohort: drawn as points, a million subjects, once per frame, would send about
    57 MB. There are no points to lasso or click; the histogram and the lists select and focus subjects.
    """
    rows = np.arange(len(overlap)) if rows is None else np.asarray(rows)
    drawn = [frame[rows] for frame in frames]
    finite = [points[np.isfinite(points).all(axis=1)] for points in drawn]
    present = [points for points in finite if len(points)]
    low = np.min([points.min(axis=0) for points in present], axis=0) if present else np.zeros(2)
    high = np.max([points.max(axis=0) for points in present], axis=0) if present else np.ones(2)
    extent = Viewport((float(low[0]), float(max(high[0], low[0] + 1e-9))), (float(low[1]), float(max(high[1], low[1] + 1e-9))))
    values = overlap[rows].astype(np.float64)
    grids = [density_grid(points, extent, bins) for points in drawn]
    means = [cell_means(grid, values).astype(np.float32) for grid in grids]
    grid = grids[0]
    x_centres = ((grid.x_edges[:-1] + grid.x_edges[1:]) / 2).astype(np.float32)
    y_centres = ((grid.y_edges[:-1] + grid.y_edges[1:]) / 2).astype(np.float32)
    cmin, cmax = overlap_colour_range(overlap)
    cells = {"type": "heatmap", "x": x_centres, "y": y_centres, "z": means[0], "colorscale": get_colorscale(OVERLAP_SCALE),
             "zmin": cmin, "zmax": cmax, "colorbar": {"title": {"text": "mean<br>overlap", "side": "top"}, "thickness": 12, "len": 0.8},
             "hovertemplate": "mean overlap %{z:.2f}<extra></extra>", "name": "subjects", "showlegend": False}
    data = [cells]
    if trails is not None and len(trails[0]):
        x, y = trail_segments(frames[0][trails[0]], trails[1])
        data.append({"type": "scatter", "x": _float32(x), "y": _float32(y), "mode": "lines", "line": {"color": TRAIL_COLOUR, "width": 1},
                     "hoverinfo": "skip", "name": "trails", "showlegend": False})
    has_trails = len(data) > 1

    def frame_data(index: int) -> list[dict]:
        moved = [{"type": "heatmap", "z": means[index]}]
        if has_trails:  # trails belong to A's layout: shown on its frame only
            moved.append({"type": "scatter", "x": data[1]["x"] if index == 0 else [], "y": data[1]["y"] if index == 0 else []})
        return moved

    layout = _map_layout(frame_labels, axis_labels, len(frames), "", revision)
    layout.update(dragmode="pan", clickmode="none", modebar={"remove": ["lasso2d", "select2d"]})  # no points to lasso or click
    layout["xaxis"].update(range=[float(grid.x_edges[0]), float(grid.x_edges[-1])])
    layout["yaxis"].update(range=[float(grid.y_edges[0]), float(grid.y_edges[-1])])
    frame_list = [{"data": frame_data(index), "traces": [0, 1] if has_trails else [0], "name": str(index)} for index in range(len(frames))]
    return prebuilt_figure(data, layout, frame_list)


def overlap_histogram(overlap: np.ndarray, k: int, highlighted: np.ndarray | None = None, revision: str = "",
                      brushed: tuple[float, float] | None = None) -> FigureDict:
    """Counts of subjects by overlap (bars binned here, not per point in the browser); brush to filter the map.

    A ``brushed`` range is drawn into the figure (its selection box, and the bars outside it dimmed), so
    it stays on screen when the figure is sent again rather than being wiped by the redraw.
    """
    edges = np.linspace(0.0, 1.0, 21)
    counts, _ = np.histogram(overlap, bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    cmin, cmax = overlap_colour_range(overlap)
    inside = None if brushed is None else np.flatnonzero((centres >= brushed[0]) & (centres <= brushed[1])).tolist()
    data = [{"type": "bar", "x": centres, "y": counts, "width": np.diff(edges) * 0.95, "name": "everyone",
             "marker": {"color": centres, "colorscale": get_colorscale(OVERLAP_SCALE), "cmin": cmin, "cmax": cmax, "line": {"width": 0}},
             "hovertemplate": "overlap %{x:.2f}: %{y:,} subjects<extra></extra>", "selectedpoints": inside, "unselected": {"marker": {"opacity": 0.3}}}]
    layout = {"xaxis": {"title": {"text": f"overlap (Jaccard, k = {k})"}, "range": [0, 1]}, "yaxis": {"title": {"text": "subjects"}},
              "barmode": "overlay", "dragmode": "select", "selectdirection": "h", "bargap": 0, "showlegend": highlighted is not None,
              "legend": {"orientation": "h", "x": 0, "y": 1, "yanchor": "bottom"}, **_layout_defaults(revision),  # in the top margin, clear of the bars
              "margin": {"l": 70, "r": 18, "t": 36, "b": 54}}  # room for the counts and the last tick: drawn once
    if brushed is not None:
        # In data coordinates on both axes: Plotly re-reads the box after a redraw and reports its range again.
        layout["selections"] = [{"type": "rect", "xref": "x", "yref": "y", "x0": brushed[0], "x1": brushed[1],
                                 "y0": 0, "y1": float(max(counts.max(), 1)) * 1.04}]
    if highlighted is not None:
        selected_counts, _ = np.histogram(overlap[highlighted], bins=edges)
        data.append({"type": "bar", "x": centres, "y": selected_counts, "width": np.diff(edges) * 0.5, "name": "selection",
                     "marker": {"color": SUBJECT_COLOUR}, "hovertemplate": "selection, overlap %{x:.2f}: %{y:,}<extra></extra>"})
    return prebuilt_figure(data, layout)


def _panel_points(column: int, coordinates: np.ndarray, groups: list[tuple[str, np.ndarray, str, str, float]],
                  hover_text: np.ndarray, background: np.ndarray) -> list[dict]:
    traces = [in_panel({"x": coordinates[background, 0], "y": coordinates[background, 1], "mode": "markers", "name": "other subjects",
                        "marker": {"size": 4, "color": BACKGROUND_COLOUR}, "hoverinfo": "skip", "showlegend": column == 1,
                        "legendgroup": "background"}, column)]
    for name, rows, colour, symbol, size in groups:
        traces.append(in_panel({
            "x": coordinates[rows, 0], "y": coordinates[rows, 1], "mode": "markers", "name": plotly_text(name), "legendgroup": name, "showlegend": column == 1,
            "marker": {"size": size, "color": colour, "symbol": symbol, "line": {"width": 0.5, "color": "white"}},
            "customdata": rows.astype(np.int32), "hovertext": hover_text[rows].tolist(), "hovertemplate": "%{hovertext}<extra>" + plotly_text(name) + "</extra>",
        }, column))
    return traces


def neighbourhood_multiples(layout_a: np.ndarray, layout_b: np.ndarray, subject: int, shared: np.ndarray, only_a: np.ndarray,
                            only_b: np.ndarray, hover_text: np.ndarray, titles: tuple[str, str], background: np.ndarray,
                            revision: str = "") -> FigureDict:
    """One subject's neighbourhood in A's layout and in B's aligned layout, side by side (SVG subplots of one figure).

    ``titles`` name the spaces (manifest labels): wrapped to their panels, as narrow as half of a 1366 px laptop's column."""
    fitted = fit_titles(titles, NEIGHBOURHOOD_NARROWEST_PX, font_px=NEIGHBOURHOOD_TITLE_PX)
    extra_px = 14 * extra_lines(fitted)
    layout = panel_row(fitted, 0.06, shared_axes=True)
    for annotation in layout["annotations"]:
        annotation["font"] = {"size": NEIGHBOURHOOD_TITLE_PX}
    subject_rows = np.array([subject])
    groups = [
        (f"shared ({len(shared)})", shared, SHARED_COLOUR, "circle", 8),
        (f"only in A ({len(only_a)})", only_a, ONLY_A_COLOUR, "triangle-up", 9),
        (f"only in B ({len(only_b)})", only_b, ONLY_B_COLOUR, "square", 8),
        ("subject", subject_rows, SUBJECT_COLOUR, "star", 16),
    ]
    data = [trace for column, coordinates in ((1, layout_a), (2, layout_b)) for trace in _panel_points(column, coordinates, groups, hover_text, background)]
    involved = np.concatenate([subject_rows, shared, only_a, only_b])
    points = np.vstack([layout_a[involved], layout_b[involved]])
    low, high = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
    pad = np.maximum((high - low) * 0.08, 1e-3)
    for column in (1, 2):
        layout[axis_key("x", column)].update(range=[float(low[0] - pad[0]), float(high[0] + pad[0])], zeroline=False)
        layout[axis_key("y", column)].update(range=[float(low[1] - pad[1]), float(high[1] + pad[1])], zeroline=False)
    layout.update(legend={"orientation": "h", "y": -0.08, "x": 0.5, "xanchor": "center"}, hovermode="closest", **_layout_defaults(revision))
    layout["margin"]["t"] += extra_px
    return prebuilt_figure(data, layout)
