"""Figures of decoded hearts, as pure functions of arrays: agreement, interpolation strips, predictions along a path.

(12-lead ECGs on paper are in app.figures.ecg_paper, cine players in app.figures.cine.) Curves and
small multiples are SVG (``go.Scatter``); cine frames are heatmaps sent as uint8 (the cohort's
[0, 1] intensity scale times 255, one fixed scale for every panel of a figure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.figures.prebuilt import FigureDict, in_panel, panel_column, prebuilt_figure
from app.figures.text import extra_lines, fit_titles, plotly_text
from data_loaders.cohort_spec import ECG_SAMPLING_HZ, MEDIAN_R_PEAK_INDEX

TRACE_COLOURS = ("#222222", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e")
ECG_GRID = "rgba(214, 39, 40, 0.18)"  # ECG paper: light red lines every 0.2 s and 0.5 mV
INTENSITY_MAX = 255
CHANGE_LIMIT = 0.25  # the interpolation strip's change row saturates at ± this intensity


def ecg_time_axis(samples: int, sampling_hz: int, r_peak_index: int | None) -> np.ndarray:
    """Seconds per sample; relative to the R peak for a median beat."""
    return (np.arange(samples) - (r_peak_index or 0)) / sampling_hz


def to_intensity_bytes(cine: np.ndarray) -> np.ndarray:
    """A cine on the [0, 1] scale as uint8 0–255: the same fixed scale for truth and reconstruction."""
    return np.round(np.clip(np.asarray(cine, dtype=np.float32), 0.0, 1.0) * INTENSITY_MAX).astype(np.uint8)


def agreement_figure(leads: Sequence[str], lead_correlation: np.ndarray | None, truth_area: np.ndarray | None,
                     decoded_area: np.ndarray | None, *, ecg_label: str = "ECG", mri_label: str = "MRI", height: int = 380) -> FigureDict:
    """Per-lead correlation of truth and decoded ECG (bars) and the LV cavity area over the cycle (truth vs decoded).

    Prebuilt (app.figures.prebuilt): drawn for every decode, where make_subplots and validation took a fifth of its time.
    """
    layout = panel_column((f"{ecg_label}: r per lead (n/a: under 0.3 mV)", f"{mri_label}: LV cavity area over the cycle"), 0.2)
    data = []
    if lead_correlation is not None:
        values = np.asarray(lead_correlation, dtype=float)
        known = np.isfinite(values)  # a lead without r (too small) gets an empty bar marked n/a
        colours = np.where(~known, "#adb5bd", np.where(values >= 0.8, "#2ca02c", np.where(values >= 0.5, "#ff7f0e", "#d62728")))
        data.append(in_panel({"type": "bar", "x": list(leads), "y": np.where(known, values, 0.0), "marker": {"color": colours.tolist()}, "name": "r",
                              "showlegend": False, "text": [f"{v:.2f}" if ok else "n/a" for v, ok in zip(values, known)], "textposition": "outside",
                              "cliponaxis": False, "customdata": [f"{v:.3f}" if ok else "n/a (lead under 0.3 mV)" for v, ok in zip(values, known)],
                              "hovertemplate": "%{x}: r = %{customdata}<extra></extra>", "textfont": {"size": 9}}, 1))
    for name, curve, colour in (("original", truth_area, TRACE_COLOURS[0]), ("decoded", decoded_area, TRACE_COLOURS[1])):
        if curve is not None and np.isfinite(curve).any():
            data.append(in_panel({"x": np.arange(len(curve)), "y": np.asarray(curve), "mode": "lines+markers", "marker": {"size": 3}, "name": name,
                                  "line": {"color": colour}, "hovertemplate": f"{name}: frame %{{x}} · %{{y:.0f}} px<extra></extra>"}, 2))
    if truth_area is not None and decoded_area is not None and not (np.isfinite(truth_area).any() or np.isfinite(decoded_area).any()):
        layout["annotations"].append({"text": "LV cavity not found in these cines", "showarrow": False, "xref": "x2 domain", "yref": "y2 domain",
                                      "x": 0.5, "y": 0.5})
    lowest = (min(-0.05, float(np.nanmin(lead_correlation)) - 0.1) if lead_correlation is not None and np.isfinite(lead_correlation).any()
              else -0.05)
    layout["yaxis"].update(title={"text": "Pearson r"}, range=[lowest, 1.12])
    layout["xaxis2"].update(title={"text": "frame", "standoff": 2})
    layout["yaxis2"].update(title={"text": "area (px)"})
    # A top margin clear of the mode bar, and the legend under the figure, away from both titles; margins the labels and the
    # legend fit, so Plotly's automargin has nothing to push and draws the figure once.
    layout.update(height=height, margin={"l": 72, "r": 10, "t": 48, "b": 92},
                  legend={"orientation": "h", "x": 1, "xanchor": "right", "y": -0.22, "yanchor": "top"})
    return prebuilt_figure(data, layout)


NARROWEST_FIGURE_PX = 1000  # the decoder's figures are laid out for at least this width


def interpolation_strip(step_labels: Sequence[str], ecg_beats: np.ndarray, leads: Sequence[str], lead: str, cines: np.ndarray,
                        cine_frames: Mapping[str, int], *, sampling_hz: int = ECG_SAMPLING_HZ, r_peak_index: int | None = MEDIAN_R_PEAK_INDEX, title: str = "",
                        change_limit: float = CHANGE_LIMIT) -> go.Figure:
    """One column per step: the chosen lead's beat (all steps' beats faintly behind it), chosen frames of the decoded cine,
    and how the first of those frames differs from the first step's (the "change vs start" row; red brighter, blue darker, ± ``change_limit`` full scale).

    ``ecg_beats`` is (steps, samples, leads) in mV and ``cines`` (steps, frames, rows, cols) on [0, 1];
    ``cine_frames`` maps a row label (e.g. "end-diastole") to a frame index.
    """
    steps = len(step_labels)
    if len(ecg_beats) != steps or len(cines) != steps:
        raise ValueError(f"{steps} step labels but {len(ecg_beats)} ECGs and {len(cines)} cines")
    positions = {name.upper(): index for index, name in enumerate(leads)}
    if lead.upper() not in positions:
        raise ValueError(f"lead {lead!r} not among {list(leads)}")
    lead_index = positions[lead.upper()]
    rows = 2 + len(cine_frames)
    column_titles = fit_titles(step_labels, NARROWEST_FIGURE_PX)
    title_lines = extra_lines(column_titles)  # wrapped titles push the figure's title up, never over them
    figure = make_subplots(rows=rows, cols=steps, horizontal_spacing=0.01, vertical_spacing=0.06,
                           row_heights=[1.0] + [1.2] * (len(cine_frames) + 1), column_titles=column_titles)
    time = ecg_time_axis(ecg_beats.shape[1], sampling_hz, r_peak_index)
    images = to_intensity_bytes(cines)
    first_label, first_frame = next(iter(cine_frames.items()))
    changes = np.clip(np.round((cines[:, first_frame] - cines[0, first_frame]) * 254), -127, 127).astype(np.int8)  # 1/254 of full scale
    for step in range(steps):
        for other in range(steps):
            if other != step:
                figure.add_trace(go.Scatter(x=time, y=ecg_beats[other, :, lead_index], mode="lines", line={"color": "rgba(0,0,0,0.12)", "width": 1},
                                            hoverinfo="skip", showlegend=False), row=1, col=step + 1)
        figure.add_trace(go.Scatter(x=time, y=ecg_beats[step, :, lead_index], mode="lines", line={"color": TRACE_COLOURS[1], "width": 1.6},
                                    showlegend=False, hovertemplate=f"{plotly_text(step_labels[step])} · {lead}<br>%{{x:.3f}} s · %{{y:.2f}} mV<extra></extra>"),
                         row=1, col=step + 1)
        for row, frame in enumerate(cine_frames.values(), start=2):
            figure.add_trace(go.Heatmap(z=images[step, frame], zmin=0, zmax=INTENSITY_MAX, colorscale="gray", showscale=False,
                                        hovertemplate=f"{plotly_text(step_labels[step])}<br>intensity %{{z}}/255<extra></extra>"), row=row, col=step + 1)
        limit = change_limit * 254
        figure.add_trace(go.Heatmap(z=changes[step], zmin=-limit, zmax=limit, zmid=0, colorscale="RdBu_r", showscale=step == steps - 1,
                                    colorbar={"title": {"text": "vs start", "side": "right"}, "tickvals": [-limit, 0, limit],
                                              "ticktext": [f"−{change_limit:g}", "0", f"+{change_limit:g}"], "thickness": 10, "len": 0.22, "y": 0.0, "yanchor": "bottom"},
                                    hovertemplate=f"{plotly_text(step_labels[step])}<br>change %{{z}}/254<extra></extra>"), row=rows, col=step + 1)
    for row in range(2, rows + 1):
        for col in range(1, steps + 1):
            index = (row - 1) * steps + col
            suffix = "" if index == 1 else str(index)
            figure.update_layout({f"xaxis{suffix}": {"visible": False, "constrain": "domain"},
                                  f"yaxis{suffix}": {"visible": False, "autorange": "reversed", "scaleanchor": f"x{suffix}", "constrain": "domain"}})
    figure.update_xaxes(dtick=0.4, tickangle=0, gridcolor=ECG_GRID, row=1)
    figure.update_xaxes(title={"text": "time (s)", "standoff": 0}, row=1, col=1)
    figure.update_yaxes(dtick=0.5, gridcolor=ECG_GRID, matches="y", row=1)
    figure.update_yaxes(showticklabels=False, row=1)
    figure.update_yaxes(showticklabels=True, row=1, col=1)
    figure.update_yaxes(title={"text": f"{lead} (mV)", "standoff": 2}, row=1, col=1)
    for row, label in enumerate([*cine_frames, "change vs start"], start=2):
        figure.add_annotation(text=label, textangle=-90, showarrow=False, xref="paper", x=-0.012, xanchor="right",
                              yref=f"y{(row - 1) * steps + 1} domain", y=0.5)
    # The title sits at the figure's top edge and the margin grows with the column titles' lines, so they never meet.
    figure.update_layout(title={"text": plotly_text(title), "x": 0.01, "font": {"size": 14}, "yref": "container", "y": 1, "yanchor": "top",
                                "pad": {"t": 8}},
                         height=170 + 150 * (len(cine_frames) + 1),
                         margin={"l": 60, "r": 10, "t": (60 if title else 40) + 18 * title_lines, "b": 10})
    return figure


def prediction_strip_figure(step_labels: Sequence[str], predictions: Mapping[str, np.ndarray], units: Mapping[str, str] | None = None,
                            *, height: int = 220) -> go.Figure:
    """Each predictor's output at each interpolation step: one small panel per predictor (its own scale)."""
    names = list(predictions)
    if not names:
        figure = go.Figure()
        figure.add_annotation(text="No predictors were fitted for this model", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        figure.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, height=height)
        return figure
    titles = fit_titles(names, NARROWEST_FIGURE_PX)  # seven predictors' names ran into each other at 1,000 px
    extra_px = 14 * extra_lines(titles)
    figure = make_subplots(rows=1, cols=len(names), subplot_titles=titles, horizontal_spacing=0.06)
    positions = np.arange(len(step_labels))
    for col, name in enumerate(names, start=1):
        unit = (units or {}).get(name, "")
        figure.add_trace(go.Scatter(x=positions, y=np.asarray(predictions[name], dtype=float), mode="lines+markers", showlegend=False,
                                    line={"color": TRACE_COLOURS[2]}, customdata=[plotly_text(label) for label in step_labels],
                                    hovertemplate=f"{plotly_text(name)}<br>%{{customdata}}: %{{y:.3g}} {unit}<extra></extra>"), row=1, col=col)
        figure.update_xaxes(tickvals=[0, len(step_labels) - 1], ticktext=["start", "end"], row=1, col=col)
        if unit:
            figure.update_yaxes(title={"text": unit, "standoff": 2}, row=1, col=col)
    figure.update_annotations(font={"size": 11})
    figure.update_layout(height=height + extra_px, margin={"l": 45, "r": 10, "t": 40 + extra_px, "b": 30})
    return figure
