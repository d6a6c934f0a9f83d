"""12-lead ECGs drawn as a clinician reads them: on standard ECG paper, as pure functions of arrays.

The paper is one sheet (one x axis in seconds, one y axis in mV) whose aspect is locked, so the
grid means what it does on a printout: 1 mm squares of 0.04 s × 0.1 mV and 5 mm squares of
0.2 s × 0.5 mV at 25 mm/s and 10 mm/mV; a 1 mV R wave is two large squares tall whatever the
window size. Every row starts with a 1 mV, 0.2 s calibration pulse.

Two sheets: :func:`twelve_lead_paper`, the 10 s strip in the standard 3 × 4 layout (each column a
quarter of the strip, leads recorded at the same moments) with a full-length rhythm lead under it;
and :func:`median_beat_paper`, one median beat per lead in the same layout. Leads are found by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.figures.prebuilt import FigureDict, prebuilt_figure
from app.figures.text import plotly_text
from data_loaders.cohort_spec import ECG_SAMPLING_HZ, MEDIAN_R_PEAK_INDEX

# The standard 12-lead layout: 3 rows × 4 columns, limb leads left, chest leads right.
STANDARD_LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
PAPER_SPEED_MM_PER_S = 25.0
GAIN_MM_PER_MV = 10.0
SMALL_SQUARE_MM = 1.0
LARGE_SQUARE_MM = 5.0
SMALL_SQUARE_S = SMALL_SQUARE_MM / PAPER_SPEED_MM_PER_S  # 0.04 s
LARGE_SQUARE_S = LARGE_SQUARE_MM / PAPER_SPEED_MM_PER_S  # 0.2 s
SMALL_SQUARE_MV = SMALL_SQUARE_MM / GAIN_MM_PER_MV  # 0.1 mV
LARGE_SQUARE_MV = LARGE_SQUARE_MM / GAIN_MM_PER_MV  # 0.5 mV
ROW_SPACING_MV = 3.5  # baseline to baseline: six large squares between rows
CALIBRATION_MV = 1.0
CALIBRATION_S = 0.2
CALIBRATION_MARGIN_S = 0.6  # paper left of t = 0 that holds the calibration pulse
MEDIAN_GAP_S = 0.2  # paper between two median beats on a row

ORIGINAL_COLOUR = "#111111"
RECONSTRUCTION_COLOUR = "#1f5fd1"
DIFFERENCE_COLOUR = "#b0008a"
PAPER_COLOUR = "#fffafa"
MINOR_GRID = "rgba(232, 110, 110, 0.22)"
MAJOR_GRID = "rgba(214, 39, 40, 0.55)"
PLOT_WIDTH_PX = 1150  # the plot width a sheet's height is sized for (``width_px``); the locked aspect keeps squares square at any width


@dataclass(frozen=True)
class PaperTrace:
    """One ECG to draw: (samples, leads) in mV, how it is named in the legend, and its line."""

    label: str
    ecg: np.ndarray
    colour: str = ORIGINAL_COLOUR
    width: float = 1.2
    dash: str = "solid"


@dataclass(frozen=True)
class _Placement:
    """Where one lead's stretch of samples goes on the sheet: its first sample at ``x0`` s, its 0 mV at ``baseline``."""

    lead: str
    samples: slice
    x0: float
    baseline: float
    note_x: float


def _lead_index(leads: Sequence[str]) -> dict[str, int]:
    return {lead.upper(): index for index, lead in enumerate(leads)}


def _check(traces: Sequence[PaperTrace], leads: Sequence[str]) -> int:
    if not traces:
        raise ValueError("an ECG sheet needs at least one trace")
    lengths = set()
    for trace in traces:
        shape = np.shape(trace.ecg)
        if len(shape) != 2 or shape[1] != len(leads):
            raise ValueError(f"ECG {trace.label!r}: expected (samples, {len(leads)} leads), got {shape}")
        lengths.add(shape[0])
    if len(lengths) != 1:
        raise ValueError(f"the traces on one sheet must have one length, got {sorted(lengths)} samples")
    return lengths.pop()


def row_baseline(row: int, spacing_mv: float = ROW_SPACING_MV) -> float:
    """0 mV of row ``row`` (0 at the top) on the sheet's y axis."""
    return -row * spacing_mv


def twelve_lead_paper(traces: Sequence[PaperTrace], leads: Sequence[str], *, sampling_hz: int = ECG_SAMPLING_HZ, rhythm_lead: str = "II",
                      title: str = "", lead_notes: Mapping[str, str] | None = None, footnote: str = "",
                      width_px: int = PLOT_WIDTH_PX) -> FigureDict:
    """A 10 s strip (any length) as printed: 3 × 4 leads, each column a quarter of the strip, and ``rhythm_lead`` in full below."""
    samples = _check(traces, leads)
    quarter = samples // 4
    index = _lead_index(leads)
    placements = [
        _Placement(name, slice(col * quarter, (col + 1) * quarter), col * quarter / sampling_hz, row_baseline(row), col * quarter / sampling_hz)
        for row, names in enumerate(STANDARD_LAYOUT) for col, name in enumerate(names) if name.upper() in index
    ]
    if rhythm_lead.upper() in index:
        placements.append(_Placement(f"{rhythm_lead} (rhythm)", slice(0, samples), 0.0, row_baseline(3), 0.0))
    rows = 4 if rhythm_lead.upper() in index else 3
    separators = [col * quarter / sampling_hz for col in range(1, 4)]
    return _sheet(traces, leads, placements, rows, samples / sampling_hz, sampling_hz, separators, title, lead_notes, footnote, width_px)


def median_beat_paper(traces: Sequence[PaperTrace], leads: Sequence[str], *, sampling_hz: int = ECG_SAMPLING_HZ, r_peak_index: int = MEDIAN_R_PEAK_INDEX,
                      title: str = "", lead_notes: Mapping[str, str] | None = None, footnote: str = "",
                      width_px: int = PLOT_WIDTH_PX) -> FigureDict:
    """Median beats (samples, leads) in the standard 3 × 4 layout on the same paper, each beat in its own cell."""
    samples = _check(traces, leads)
    beat_s = samples / sampling_hz
    cell_s = np.ceil((beat_s + MEDIAN_GAP_S) / LARGE_SQUARE_S - 1e-9) * LARGE_SQUARE_S  # cells start on a large-square line
    index = _lead_index(leads)
    placements = [
        _Placement(name, slice(0, samples), col * cell_s, row_baseline(row), col * cell_s)
        for row, names in enumerate(STANDARD_LAYOUT) for col, name in enumerate(names) if name.upper() in index
    ]
    return _sheet(traces, leads, placements, 3, 4 * cell_s - MEDIAN_GAP_S, sampling_hz, [], title, lead_notes, footnote, width_px, r_peak_index)


def _sheet(traces: Sequence[PaperTrace], leads: Sequence[str], placements: Sequence[_Placement], rows: int, width_s: float,
           sampling_hz: int, separators: Sequence[float], title: str, lead_notes: Mapping[str, str] | None, footnote: str,
           width_px: int, r_peak_index: int | None = None) -> FigureDict:
    """The sheet: every placement of every trace, calibration pulses, column markers, lead labels, locked aspect.

    Hover shows each lead's own mV and time (from the strip's start, or from the R peak for a median beat).
    """
    index = _lead_index(leads)
    data = []
    for trace in traces:
        ecg = np.asarray(trace.ecg, dtype=np.float32)
        for place in placements:
            lead = place.lead.split(" ")[0]
            values = ecg[place.samples, index[lead.upper()]]
            if r_peak_index is None:
                customdata, when = values, "%{x:.3f} s · %{customdata:.2f} mV"
            else:
                customdata = np.stack([values, (np.arange(len(values)) - r_peak_index) / sampling_hz], axis=1)
                when = "%{customdata[1]:.3f} s from R · %{customdata[0]:.2f} mV"
            data.append({
                # Time as its start and step (Plotly spaces the samples itself): an array of it was a third of a decode's answer.
                "type": "scatter", "x0": place.x0, "dx": 1 / sampling_hz, "y": values + place.baseline, "customdata": customdata, "mode": "lines",
                "name": plotly_text(trace.label),
                "legendgroup": trace.label, "showlegend": place is placements[0], "line": {"color": trace.colour, "width": trace.width, "dash": trace.dash},
                "hovertemplate": f"{place.lead} · {plotly_text(trace.label)}<br>{when}<extra></extra>",
            })
    data.append(_calibration_pulses(rows))
    shapes = [{"type": "line", "x0": x, "x1": x, "y0": row_baseline(row) - LARGE_SQUARE_MV, "y1": row_baseline(row) + LARGE_SQUARE_MV,
               "line": {"color": "#333", "width": 1.5}, "layer": "above"} for x in separators for row in range(3)]
    annotations = [{"text": f"<b>{place.lead}</b>" + (f"  <span style='color:#444'>{plotly_text(lead_notes[place.lead])}</span>"
                                                      if lead_notes and place.lead in lead_notes else ""),
                    "x": place.note_x + 0.04, "y": place.baseline + 1.6, "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                    "font": {"size": 11}} for place in placements]
    annotations.append({"text": "25 mm/s · 10 mm/mV · 1 mm squares: 0.04 s × 0.1 mV · 5 mm: 0.2 s × 0.5 mV" + (f"<br>{plotly_text(footnote)}" if footnote else ""),
                        "xref": "paper", "yref": "y domain", "x": 0, "y": 0, "yanchor": "top", "xanchor": "left", "yshift": -4, "align": "left",
                        "showarrow": False, "font": {"size": 11, "color": "#555"}})
    x_range = [-CALIBRATION_MARGIN_S - SMALL_SQUARE_S, width_s + SMALL_SQUARE_S]
    y_range = [row_baseline(rows - 1) - 1.5, 1.5 + 2 * LARGE_SQUARE_MV]  # room below the last row, and above the first row's labels
    grid = {"showgrid": True, "gridcolor": MAJOR_GRID, "gridwidth": 1, "zeroline": False, "showticklabels": False, "ticks": "",
            "showline": False, "fixedrange": False}
    height_px = width_px * (y_range[1] - y_range[0]) * GAIN_MM_PER_MV / ((x_range[1] - x_range[0]) * PAPER_SPEED_MM_PER_S)
    # From the top: the mode bar, the title, then the legend, which hangs from a fixed height and pushes the sheet down
    # when its entries wrap onto more rows (long cohort names in a narrow column) rather than over the title.
    top, legend_top = (104, 60) if title else (40, 14)
    bottom = 48 if footnote else 30
    height = int(round(height_px)) + top + bottom
    layout = dict(
        xaxis={**grid, "range": x_range, "tick0": 0, "dtick": LARGE_SQUARE_S, "constrain": "domain", "constraintoward": "left",
               "minor": {"tick0": 0, "dtick": SMALL_SQUARE_S, "showgrid": True, "gridcolor": MINOR_GRID, "gridwidth": 0.5}},
        yaxis={**grid, "range": y_range, "tick0": 0, "dtick": LARGE_SQUARE_MV, "constrain": "domain", "constraintoward": "top",
               "scaleanchor": "x", "scaleratio": GAIN_MM_PER_MV / PAPER_SPEED_MM_PER_S,
               "minor": {"tick0": 0, "dtick": SMALL_SQUARE_MV, "showgrid": True, "gridcolor": MINOR_GRID, "gridwidth": 0.5}},
        shapes=shapes or None, annotations=annotations, plot_bgcolor=PAPER_COLOUR, paper_bgcolor="white",
        title={"text": plotly_text(title), "x": 0, "xref": "paper", "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 34}, "font": {"size": 14}},
        height=height, margin={"l": 10, "r": 10, "t": top, "b": bottom}, showlegend=True,
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1 - legend_top / height, "yref": "container", "yanchor": "top"}, hovermode="closest",
    )
    return prebuilt_figure(data, layout)


def _calibration_pulses(rows: int) -> dict:
    """A 1 mV, 0.2 s square pulse at the start of every row, as an electrocardiograph prints it."""
    start = -CALIBRATION_MARGIN_S + 2 * SMALL_SQUARE_S
    x_one = [start, start + 2 * SMALL_SQUARE_S, start + 2 * SMALL_SQUARE_S, start + 2 * SMALL_SQUARE_S + CALIBRATION_S,
             start + 2 * SMALL_SQUARE_S + CALIBRATION_S, start + 4 * SMALL_SQUARE_S + CALIBRATION_S]
    y_one = [0.0, 0.0, CALIBRATION_MV, CALIBRATION_MV, 0.0, 0.0]
    x, y = [], []
    for row in range(rows):
        x += [*x_one, None]
        y += [value + row_baseline(row) for value in y_one] + [None]
    return {"type": "scatter", "x": x, "y": y, "mode": "lines", "name": "calibration 1 mV", "showlegend": False, "line": {"color": "#111", "width": 1.4},
            "hovertemplate": "calibration: 1 mV, 0.2 s<extra></extra>"}


def overlay(original: np.ndarray, reconstruction: np.ndarray | None, *, original_label: str = "original",
            reconstruction_label: str = "decoded") -> list[PaperTrace]:
    """Original in black and reconstruction in blue, thin enough that both stay visible where they overlap."""
    traces = [PaperTrace(original_label, original, ORIGINAL_COLOUR, 1.3)]
    if reconstruction is not None:
        traces.append(PaperTrace(reconstruction_label, reconstruction, RECONSTRUCTION_COLOUR, 1.3))
    return traces


def difference_traces(ecg_a: np.ndarray, ecg_b: np.ndarray, *, label_a: str = "A", label_b: str = "B") -> list[PaperTrace]:
    """A and B faintly, and A − B boldly, to draw on one sheet: the change is what stands out."""
    a, b = np.asarray(ecg_a, dtype=np.float32), np.asarray(ecg_b, dtype=np.float32)
    if a.shape != b.shape:
        raise ValueError(f"A and B ECGs differ in shape: {a.shape} and {b.shape}")
    return [PaperTrace(label_a, a, "rgba(17, 17, 17, 0.35)", 1.0), PaperTrace(label_b, b, "rgba(31, 95, 209, 0.35)", 1.0, "dot"),
            PaperTrace(f"{label_a} − {label_b}", a - b, DIFFERENCE_COLOUR, 1.8)]
