"""Linked WebGL scatterplots of subjects, compact enough for 100,000s of points per view.

One trace per view as the server sends it; point *i* is subject row *i* (position in the
phenotype table), so views are linked by point number and no per-point id or string is sent.
Coordinates travel as float32 typed arrays and colour as one byte per subject: a code into a
256-stop colour scale whose upper half holds faded twins of the lower half. Highlighting a cohort
is then only a new byte array (``code + FADED_OFFSET`` for subjects outside it), and a colour or
selection change patches ``marker.color`` alone, keeping zoom. The browser (assets/explorer.js)
draws that trace as one trace per code, each point carrying its row as ``customdata``: Plotly.js
is several times slower with a colour per point. Hover text is looked up on the server for the
hovered subject only (see :func:`subject_lines`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from app.figures import prebuilt
from app.figures.text import plotly_text
from data_loaders.manifest import VariableSpec

MISSING_COLOUR = "#b0b0b0"
CATEGORY_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
CONTINUOUS_SCALE = "Viridis"
FADED_OFFSET = 128  # code + FADED_OFFSET: the same colour, faded (subject outside the highlighted cohort)
MISSING_CODE = FADED_OFFSET - 1
# Codes 0..31 spread the 1st..99th percentile of a continuous colour, steps of about 3 % of that range,
# finer than the eye tells apart in Viridis. The browser draws one WebGL trace per code shown (see
# assets/explorer.js), and at 100,000 subjects 32 steps repainted a quarter faster than 127.
CONTINUOUS_LEVELS = 32
FADED_ALPHA = 0.08


@dataclass(frozen=True)
class ColourCoding:
    """One byte per subject and the 256-stop scale that turns it into a colour."""

    codes: np.ndarray  # uint8, < FADED_OFFSET
    colorscale: list[list]
    legend: list[tuple[str, str]]  # (label, colour) of each category present, missing last
    continuous: tuple[str, float, float] | None = None  # (label, low, high) of a continuous colour
    kind: str = "none"  # none, continuous, binary or categorical: what a density view shows per cell
    n_categories: int = 0  # codes 0..n_categories-1 are categories (binary, categorical)
    share_code: int | None = None  # binary: the code of "yes", whose share a density view shows


def _rgba(colour: str, alpha: float) -> str:
    colour = colour.lstrip("#")
    if len(colour) == 6:
        red, green, blue = (int(colour[i:i + 2], 16) for i in (0, 2, 4))
    else:  # 'rgb(r, g, b)' as plotly's sample_colorscale returns
        red, green, blue = (round(float(part)) for part in colour[colour.index("(") + 1:-1].split(",")[:3])
    return f"rgba({red},{green},{blue},{alpha})"


def _scale(palette: list[str]) -> list[list]:
    """A step colour scale over codes 0..255: palette[i] at code i, faded twins at i + FADED_OFFSET."""
    full = [palette[min(i, len(palette) - 1)] for i in range(FADED_OFFSET)]
    colours = [_rgba(c, 1.0) for c in full] + [_rgba(c, FADED_ALPHA) for c in full]
    return [[code / 255, colour] for code, colour in enumerate(colours)]


def colour_coding(colour_values: pd.Series | None, spec: VariableSpec | None) -> ColourCoding:
    """Codes and scale for a colour variable (one colour for everyone when there is none)."""
    n = 0 if colour_values is None else len(colour_values)
    if colour_values is None or spec is None:
        return ColourCoding(np.zeros(n, dtype=np.uint8), _scale([CATEGORY_COLOURS[0]] * MISSING_CODE + [MISSING_COLOUR]), [])
    missing = colour_values.isna().to_numpy()
    codes = np.full(n, MISSING_CODE, dtype=np.uint8)
    if spec.type == "continuous":
        values = colour_values.to_numpy(dtype=float, na_value=np.nan)
        low, high = np.nanpercentile(values, [1, 99]) if (~missing).any() else (0.0, 1.0)
        span = high - low if high > low else 1.0
        levels = np.clip(np.rint((values[~missing] - low) / span * (CONTINUOUS_LEVELS - 1)), 0, CONTINUOUS_LEVELS - 1)
        codes[~missing] = levels.astype(np.uint8)
        palette = sample_colorscale(CONTINUOUS_SCALE, np.linspace(0, 1, CONTINUOUS_LEVELS).tolist()) + [MISSING_COLOUR]
        legend = [("missing", MISSING_COLOUR)] if missing.any() else []
        return ColourCoding(codes, _scale(palette), legend, (spec.display_label, float(low), float(high)), kind="continuous")
    if spec.type == "binary":
        truth = colour_values.astype("boolean")
        levels = [(truth == False, f"{spec.label}: no"), (truth == True, f"{spec.label}: yes")]  # noqa: E712 - nullable comparison
    else:
        as_text = colour_values.astype("string")
        present = set(as_text.dropna())
        names = [c for c in (spec.categories or sorted(present)) if c in present]
        levels = [(as_text == name, name) for name in names]
    palette, legend, share_code = [], [], None
    for index, (members, name) in enumerate(levels):
        members = members.fillna(False).to_numpy(dtype=bool)
        if not members.any():
            continue
        colour = CATEGORY_COLOURS[len(palette) % len(CATEGORY_COLOURS)]
        codes[members] = min(len(palette), MISSING_CODE - 1)
        if spec.type == "binary" and index == 1:
            share_code = len(palette)
        palette.append(colour)
        legend.append((name, colour))
    if missing.any():
        legend.append(("missing", MISSING_COLOUR))
    n_categories = min(len(palette), MISSING_CODE - 1)
    palette = (palette or [CATEGORY_COLOURS[0]])[:MISSING_CODE - 1]
    palette += [palette[-1]] * (MISSING_CODE - len(palette)) + [MISSING_COLOUR]
    kind = "binary" if spec.type == "binary" else "categorical"
    return ColourCoding(codes, _scale(palette), legend, kind=kind, n_categories=n_categories, share_code=share_code)


def highlighted_codes(coding: ColourCoding, highlight: np.ndarray | None) -> np.ndarray:
    """The codes to draw: subjects outside ``highlight`` (a mask; None: nobody is) faded."""
    if highlight is None:
        return coding.codes
    return np.where(highlight, coding.codes, coding.codes + FADED_OFFSET).astype(np.uint8)


def typed_array(array: np.ndarray) -> dict:
    """An array as a dtype and URL-safe base64, which assets/explorer.js decodes (a JSON list would be several times larger).

    URL-safe because Dash writes each ``/`` of standard base64 as the six characters ``\\u002f``
    (plotly's JSON escaping): a fifth more bytes for float32 coordinates.
    """
    return prebuilt.typed_array(array, url_safe=True)


def palette(coding: ColourCoding) -> list[str]:
    """The colour of each of the 256 codes, as the view's trace carries it (``meta.palette``) for assets/explorer.js.

    Not a Plotly colour scale on the marker: the server validated each of its 256 stops whenever it
    built a view (7 of a 5,000-subject view's 25 ms), and the browser draws one colour per code anyway.
    """
    return [colour for _, colour in coding.colorscale]


FOUND_SUBJECT_COLOUR = "#b03a2e"
FOUND_SUBJECT_RING_PX = 9


def found_subject_marks(coordinates: np.ndarray, row: int | None, subject_id: str = "") -> dict[str, list[dict]]:
    """Layout annotations and shapes that point out one subject (found by id): a ring round its point and its id.

    Layout marks rather than an extra trace, so every view keeps one trace whose point i is row i.
    Nothing is marked for no subject, or where the subject has no coordinates (a missing value).
    """
    if row is None or not np.isfinite(coordinates[row]).all():
        return {"annotations": [], "shapes": []}
    x, y = (float(value) for value in coordinates[row])
    middle_x, middle_y = np.nanmedian(coordinates, axis=0)
    # The label leans towards the middle of the cloud, away from the plot's edges and its toolbar.
    offset_x, offset_y = (-36 if x > middle_x else 36), (32 if y > middle_y else -32)
    ring = {"type": "circle", "name": "found-subject", "xref": "x", "yref": "y", "xsizemode": "pixel", "ysizemode": "pixel",
            "xanchor": x, "yanchor": y, "x0": -FOUND_SUBJECT_RING_PX, "x1": FOUND_SUBJECT_RING_PX,
            "y0": -FOUND_SUBJECT_RING_PX, "y1": FOUND_SUBJECT_RING_PX, "line": {"color": FOUND_SUBJECT_COLOUR, "width": 2.5}}
    label = {"x": x, "y": y, "text": plotly_text(subject_id), "name": "found-subject", "showarrow": True, "arrowhead": 0,
             "arrowcolor": FOUND_SUBJECT_COLOUR, "standoff": FOUND_SUBJECT_RING_PX, "ax": offset_x, "ay": offset_y,
             "font": {"color": FOUND_SUBJECT_COLOUR, "size": 12}, "bgcolor": "rgba(255, 255, 255, 0.9)",
             "bordercolor": FOUND_SUBJECT_COLOUR, "borderpad": 2}
    return {"annotations": [label], "shapes": [ring]}


SELECTION_OUTLINE_LINE = {"color": "#343a40", "width": 1.5, "dash": "dot"}


def selection_outline(shape: dict) -> dict:
    """A drawn selection's outline as a layout shape named "selection": a box's rectangle or a lasso's closed path.

    A shape, not a Plotly selection (``layout.selections``): Plotly selects and restyles every point
    of every trace again on each redraw of a view holding a selection, 1.8 of a box selection's
    2.1 s at 100,000 subjects coloured by a continuous variable (headless Chromium, 2 cores).
    """
    xs, ys = shape["x"], shape["y"]
    style = {"name": "selection", "xref": "x", "yref": "y", "layer": "above", "line": SELECTION_OUTLINE_LINE, "fillcolor": "rgba(0,0,0,0)"}
    if shape["kind"] == "box":
        return {"type": "rect", "x0": xs[0], "x1": xs[1], "y0": ys[0], "y1": ys[1], **style}
    return {"type": "path", "path": "M" + "L".join(f"{x},{y}" for x, y in zip(xs, ys)) + "Z", **style}


VIEW_RIGHT_MARGIN_PX = 10  # a view without a colour bar (the legend is the page's, shared by the three views)
MARKER_SIZE_PX = 4.0


def view_title(title: str, caption: list[str] | None = None) -> str:
    """A view's title, with ``caption`` lines (what the view draws) under it in small grey type."""
    return "".join([plotly_text(title), *(f'<br><span style="font-size:11px;color:#6c757d">{plotly_text(line)}</span>' for line in caption or [])])


def view_margin(caption_lines: int = 0) -> dict[str, int]:
    """A view's margins, with room for its title and ``caption_lines``, and for the axes' tick labels (such as "−0.05") and titles,
    so Plotly's automargin has nothing to push and draws the view once (a pushed margin redraws every point: 100-250 ms a view
    at 100,000 subjects)."""
    return {"l": 72, "r": VIEW_RIGHT_MARGIN_PX, "t": 36 + 15 * caption_lines, "b": 56}


def view_layout(title: str, x_label: str, y_label: str, revision: str, caption: list[str] | None = None) -> dict:
    """The layout every explorer view shares; ``caption``: smaller title lines saying what the view draws."""
    caption = caption or []
    return {
        "title": {"text": view_title(title, caption), "x": 0.01, "font": {"size": 14}},
        "xaxis": {"title": {"text": x_label}, "zeroline": False},
        "yaxis": {"title": {"text": y_label}, "zeroline": False},
        "dragmode": "lasso",
        "uirevision": revision or "keep",
        "margin": view_margin(len(caption)),
        "clickmode": "event+select",
        "hovermode": "closest",
        "modebar": {"orientation": "v"},
    }


def scatter_figure(
    coordinates: np.ndarray,
    coding: ColourCoding,
    *,
    highlight: np.ndarray | None = None,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    revision: str = "",
    marker_size: float = MARKER_SIZE_PX,
    marks: dict[str, list[dict]] | None = None,
    rows: np.ndarray | None = None,
    caption: list[str] | None = None,
    meta: dict | None = None,
) -> go.Figure:
    """A one-trace WebGL scatter of (N, 2) coordinates; ``revision`` keeps zoom while colour or selection change.

    ``marks``: layout annotations and shapes drawn over the points (see ``found_subject_marks``).
    ``rows``: draw only these subjects (a zoomed-in view of a large cohort); point *i* is then row
    ``rows[i]``, carried as int32 ``customdata``. Otherwise point *i* is row *i*.
    """
    codes = highlighted_codes(coding, highlight)
    if rows is not None:
        coordinates, codes = coordinates[rows], codes[rows]
    figure = go.Figure(
        go.Scattergl(
            x=typed_array(np.asarray(coordinates[:, 0], dtype=np.float32)),
            y=typed_array(np.asarray(coordinates[:, 1], dtype=np.float32)),
            customdata=None if rows is None else typed_array(np.asarray(rows, dtype=np.int32)),
            mode="markers",
            marker={"size": marker_size, "color": typed_array(codes)},
            hoverinfo="none",
            # Plotly's own dimming of unselected points is switched off: the server's highlight is the one truth.
            selected={"marker": {"opacity": 1.0}},
            unselected={"marker": {"opacity": 1.0}},
            # colour_groups: assets/explorer.js draws the trace as one trace per colour code (see there why).
            meta={"highlight": highlight is not None, "colour_groups": True, "palette": palette(coding), **(meta or {})},
            showlegend=False,
        )
    )
    figure.update_layout(view_layout(title, x_label, y_label, revision, caption), **(marks or {}))
    return figure


def readable_value(value: float) -> str:
    """A measurement as stored, to at most six significant digits: never rounded to a whole number (59.5 years showed as 60,
    which an "age ≥ 60" filter then excluded) nor written with an exponent."""
    return "–" if pd.isna(value) else np.format_float_positional(float(value), precision=6, unique=True, fractional=False, trim="-")


def subject_lines(phenotypes: pd.DataFrame, variables: dict[str, VariableSpec], key_variables: list[str], row: int) -> list[str]:
    """['SYN000123', 'Age 63 years', 'Sex female', …] for one subject: what hovering it shows."""
    record = phenotypes.iloc[row]
    lines = [str(phenotypes.index[row])]
    for name in key_variables:
        spec, value = variables[name], record[name]
        if spec.type == "continuous":
            lines.append(f"{spec.label} {readable_value(value)}" + (f" {spec.unit}" if spec.unit else ""))
        elif spec.type == "binary":
            lines.append(spec.label if not pd.isna(value) and bool(value) else f"no {spec.label}")
        else:
            lines.append(f"{spec.label} " + ("–" if pd.isna(value) else str(value)))
    return lines


def hover_texts(phenotypes: pd.DataFrame, variables: dict[str, VariableSpec], key_variables: list[str]) -> np.ndarray:
    """'SYN000123 · Age 63 years · Sex female …' per subject, built once per process."""
    parts = [np.array([plotly_text(i) for i in phenotypes.index], dtype=object)]
    for name in key_variables:
        spec = variables[name]
        column = phenotypes[name]
        if spec.type == "continuous":
            codes, uniques = pd.factorize(column)  # each distinct value formatted once: a million subjects hold few
            text = pd.Series(np.append(np.array([readable_value(v) for v in uniques], dtype=object), "–")[codes], index=column.index)
            parts.append((f"{spec.label} " + text + (f" {spec.unit}" if spec.unit else "")).to_numpy(dtype=object))
        elif spec.type == "binary":
            parts.append(np.where(column.fillna(False).to_numpy(dtype=bool), spec.label, f"no {spec.label}").astype(object))
        else:
            parts.append((f"{spec.label} " + column.astype("string").fillna("–")).to_numpy(dtype=object))
    return np.array(["<br>".join(plotly_text(part) if index else part for index, part in enumerate(row)) for row in zip(*parts)], dtype=object)
