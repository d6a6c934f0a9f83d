"""Cine MRI players as pure functions of arrays: side-by-side cines on one intensity scale, and what changed between two.

Every panel of a figure shows the same frame (one set of animation frames drives them all), so the
original and the decoded cine, or A, B and A − B, can never drift apart. Cines play at the heart's
own rate, one cardiac cycle per RR interval, and loop until paused: Plotly stops an animation after
its last frame, so ``assets/cine_loop.js`` starts it again for figures whose ``layout.meta`` asks.
Greyscale images travel as uint8 (the [0, 1] scale × 255) and differences as int8 (× 254).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from plotly.colors import get_colorscale

from app.figures.decoder import INTENSITY_MAX, NARROWEST_FIGURE_PX, to_intensity_bytes
from app.figures.prebuilt import FigureDict, axis_key, in_panel, panel_row, prebuilt_figure
from app.figures.text import extra_lines, fit_titles, plotly_text

DIFFERENCE_MAX = 127  # int8 steps either side of 0 for the signed difference
DEFAULT_HEART_RATE_BPM = 60.0
HEART_RATE_LIMITS_BPM = (30.0, 200.0)  # a rate outside this is a measurement error; clamp rather than play absurdly
PANEL_TITLE_PX = 13  # font size of each panel's title
FIGURE_TITLE_PX = 14
MIN_DIFFERENCE_SCALE = 0.05  # the difference colour scale never narrows below ± this, so noise does not look like change


def frame_ms_for_heart_rate(heart_rate_bpm: float | None, frames: int) -> int:
    """Milliseconds per frame so that the ``frames`` of one cycle take one RR interval (60 000 / rate ms)."""
    if frames < 1:
        raise ValueError(f"a cine needs at least one frame, got {frames}")
    rate = DEFAULT_HEART_RATE_BPM if heart_rate_bpm is None or not np.isfinite(heart_rate_bpm) else float(heart_rate_bpm)
    rate = float(np.clip(rate, *HEART_RATE_LIMITS_BPM))
    return max(1, int(round(60_000.0 / rate / frames)))


@dataclass(frozen=True)
class CinePanel:
    """One panel: a title and a stack (frames, rows, cols) already on its display scale, with how to colour it."""

    title: str
    stack: np.ndarray
    colourscale: str
    zmin: float
    zmax: float
    colourbar: dict | None = None
    hover: str = "intensity %{z}/255"


def greyscale_panel(title: str, cine: np.ndarray, *, colourbar: bool = False) -> CinePanel:
    """A cine on the [0, 1] scale as uint8 greys, 0–255: one fixed scale shared by every greyscale panel."""
    stack = to_intensity_bytes(cine)
    bar = {"title": {"text": "intensity", "side": "right"}, "tickvals": [0, INTENSITY_MAX / 2, INTENSITY_MAX], "ticktext": ["0", "0.5", "1"],
           "thickness": 10, "len": 0.8, "x": 1.0} if colourbar else None
    return CinePanel(title, stack, "gray", 0, INTENSITY_MAX, bar)


def difference_scale(difference: np.ndarray) -> float:
    """± limit of the signed colour scale: the 99.5th percentile of |A − B|, rounded up to 0.05, at least ``MIN_DIFFERENCE_SCALE``."""
    magnitude = float(np.percentile(np.abs(difference), 99.5)) if np.size(difference) else 0.0
    return max(MIN_DIFFERENCE_SCALE, float(np.ceil(magnitude / 0.05 - 1e-9) * 0.05))


def difference_panel(title: str, cine_a: np.ndarray, cine_b: np.ndarray, limit: float | None = None) -> CinePanel:
    """A − B on the [0, 1] intensity scale, red where A is brighter and blue where darker, saturating at ± ``limit``."""
    a, b = np.asarray(cine_a, dtype=np.float32), np.asarray(cine_b, dtype=np.float32)
    if a.shape != b.shape:
        raise ValueError(f"A and B cines differ in shape: {a.shape} and {b.shape}")
    difference = a - b
    limit = difference_scale(difference) if limit is None else float(limit)
    steps = np.clip(np.round(difference / limit * DIFFERENCE_MAX), -DIFFERENCE_MAX, DIFFERENCE_MAX).astype(np.int8)
    # The panel's title names what is subtracted; beside the bar (as long as the plot is tall) a long cohort name ran off the figure.
    bar = {"title": {"text": "difference", "side": "right"}, "tickvals": [-DIFFERENCE_MAX, 0, DIFFERENCE_MAX],
           "ticktext": [f"−{limit:.2f}", "0", f"+{limit:.2f}"], "thickness": 10, "len": 0.8, "x": 1.0}
    return CinePanel(title, steps, "RdBu_r", -DIFFERENCE_MAX, DIFFERENCE_MAX, bar, f"{plotly_text(title)}: %{{z}}/{DIFFERENCE_MAX} of ±{limit:.2f}")


def cine_player(panels: Sequence[CinePanel], *, frame_ms: int, title: str = "", caption: str = "", height: int = 400) -> FigureDict:
    """Panels side by side on one frame slider, with Play (loops until Pause) at ``frame_ms`` per frame."""
    if not panels:
        raise ValueError("a cine player needs at least one panel")
    counts = {panel.stack.shape[0] for panel in panels}
    if len(counts) != 1 or any(panel.stack.ndim != 3 for panel in panels):
        raise ValueError(f"cines must be (frames, rows, cols) with one frame count, got {[panel.stack.shape for panel in panels]}")
    frames = counts.pop()
    # The subplot grid (domains, titles) from Plotly; the traces, frames and controls as plain dicts (app.figures.prebuilt).
    # Titles are cohort names too: wrapped to their panel (and the figure's to its width), so they never run into each other;
    # each extra line adds to the top margin and the height, so the images keep their size.
    panel_titles = fit_titles([panel.title for panel in panels], NARROWEST_FIGURE_PX, font_px=PANEL_TITLE_PX)
    figure_title = fit_titles([title], NARROWEST_FIGURE_PX, font_px=FIGURE_TITLE_PX, max_lines=3)[0] if title else ""
    extra_px = 15 * extra_lines(panel_titles) + 18 * extra_lines([figure_title])
    layout = panel_row(panel_titles, 0.02)
    for annotation in layout["annotations"]:
        annotation["font"] = {"size": PANEL_TITLE_PX}
    bars = [index for index, panel in enumerate(panels) if panel.colourbar]
    data = []
    for index, panel in enumerate(panels):
        bar = dict(panel.colourbar or {})
        if bar and len(bars) > 1:  # one bar per scale, each beside its own panel
            bar["x"] = (index + 1) / len(panels) - 0.005
        trace = in_panel({"type": "heatmap", "z": panel.stack[0], "zmin": panel.zmin, "zmax": panel.zmax, "colorscale": get_colorscale(panel.colourscale),
                          "showscale": bool(panel.colourbar), "colorbar": bar or None,
                          "hovertemplate": f"{plotly_text(panel.title)}<br>row %{{y}}, col %{{x}}<br>{panel.hover}<extra></extra>"}, index + 1)
        data.append(trace)
        layout[axis_key("x", index + 1)].update({"visible": False, "constrain": "domain"})
        layout[axis_key("y", index + 1)].update({"visible": False, "autorange": "reversed", "scaleanchor": trace["xaxis"], "constrain": "domain"})
    # A frame carries only the new images; every other setting stays as the first frame has it.
    frame_list = [{"data": [{"type": "heatmap", "z": panel.stack[frame]} for panel in panels], "traces": list(range(len(panels))), "name": str(frame)}
                  for frame in range(frames)]
    play = {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0}, "mode": "immediate"}
    pause = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    step = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate", "transition": {"duration": 0}}
    layout.update(
        meta={"cine_loop": True, "frame_ms": frame_ms},
        title={"text": figure_title, "x": 0.01, "font": {"size": FIGURE_TITLE_PX}, "subtitle": {"text": plotly_text(caption), "font": {"size": 11, "color": "#555"}}},
        # Room for the play buttons and the slider below and the colour bar beside: automargin has nothing to push, so the
        # figure is drawn once (and each image keeps the size it is drawn at).
        height=height + extra_px, margin={"l": 10, "r": 80 if bars else 10, "t": (96 if title or caption else 54) + extra_px, "b": 88},
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0.0, "y": -0.02, "xanchor": "left", "yanchor": "top", "showactive": False,
                      "pad": {"t": 4, "r": 6},
                      "buttons": [{"label": "▶ Play", "method": "animate", "args": [None, play]},
                                  {"label": "❚❚ Pause", "method": "animate", "args": [[None], pause]}]}],
        sliders=[{"active": 0, "x": 0.25, "len": 0.75, "y": -0.02, "yanchor": "top", "pad": {"t": 4},
                  "currentvalue": {"prefix": "frame ", "font": {"size": 12}, "xanchor": "right"},
                  "steps": [{"label": str(frame), "method": "animate", "args": [[str(frame)], step]} for frame in range(frames)]}],
    )
    return prebuilt_figure(data, layout, frame_list)


def cine_pair_figure(original: np.ndarray, decoded: np.ndarray, *, heart_rate_bpm: float | None, original_label: str = "original",
                     decoded_label: str = "decoded", title: str = "") -> FigureDict:
    """Original and decoded cine side by side, one grey scale, one frame, one cycle per RR interval."""
    frame_ms = frame_ms_for_heart_rate(heart_rate_bpm, len(original))
    return cine_player([greyscale_panel(original_label, original), greyscale_panel(decoded_label, decoded, colourbar=True)],
                       frame_ms=frame_ms, title=title, caption=_rate_caption(heart_rate_bpm, len(original), frame_ms))


def cine_difference_figure(cine_a: np.ndarray, cine_b: np.ndarray, *, label_a: str = "A", label_b: str = "B",
                           heart_rate_bpm: float | None = None, title: str = "") -> FigureDict:
    """A, B and the signed difference A − B, all on one frame slider, playing one cycle per RR interval."""
    frame_ms = frame_ms_for_heart_rate(heart_rate_bpm, len(cine_a))
    panels = [greyscale_panel(label_a, cine_a), greyscale_panel(label_b, cine_b, colourbar=True),
              difference_panel(f"{label_a} − {label_b}", cine_a, cine_b)]
    return cine_player(panels, frame_ms=frame_ms, title=title, caption=_rate_caption(heart_rate_bpm, len(cine_a), frame_ms))


def _rate_caption(heart_rate_bpm: float | None, frames: int, frame_ms: int) -> str:
    known = heart_rate_bpm is not None and np.isfinite(heart_rate_bpm)
    rate = f"{heart_rate_bpm:.0f} bpm" if known else f"{DEFAULT_HEART_RATE_BPM:.0f} bpm (rate unknown)"
    return f"{frames} frames per cycle at {rate}: {frame_ms} ms a frame · loops until paused"
