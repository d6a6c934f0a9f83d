"""The decoder panel's views as pure functions of arrays: a subject on ECG paper, and what changed between two hearts.

:func:`subject_views` gives a subject's 10 s strip and median beat, original against decoded, and
the per-lead agreement; :func:`change_views` gives, for two decoded hearts A and B (two prototypes,
a start and its perturbation, two ends of a path), the difference ECG, the cine difference and the
table of measured quantities. The panel only fetches arrays and hands them over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.core.ecg_agreement import LeadAgreement, beat_at_r_peaks, lead_agreement
from app.core.what_changed import measured_changes
from app.figures.cine import cine_difference_figure
from app.figures.ecg_paper import RECONSTRUCTION_COLOUR, PaperTrace, difference_traces, median_beat_paper, overlay, twelve_lead_paper
from app.figures.messages import message_figure
from app.figures.prebuilt import FigureDict
from data_loaders.cohort_spec import ECG_SAMPLING_HZ
from data_loaders.ecg_measures import detect_r_peaks_multilead, median_beat, without_baseline_wander

PLACED_BEAT_LABEL = "decoded median beat, placed at the original's R peaks"


@dataclass(frozen=True)
class SubjectViews:
    """One subject: the strip sheet, the median-beat sheet and each lead's agreement (on the median beats)."""

    strip: FigureDict
    median: FigureDict
    agreement: list[LeadAgreement]


@dataclass(frozen=True)
class ChangeViews:
    """Two decoded hearts: A − B on ECG paper, A, B and A − B cines on one slider, and the measured quantities."""

    ecg: FigureDict
    cine: FigureDict
    table: pd.DataFrame


def subject_views(subject_id: str, leads: Sequence[str], original_strip: np.ndarray, original_median: np.ndarray, decoded: np.ndarray,
                  *, r_peak_index: int, sampling_hz: int = ECG_SAMPLING_HZ, decoded_from: str = "", median_width_px: int = 620) -> SubjectViews:
    """Strip and median sheets, original (black) against decoded (blue).

    A model that decodes a median beat gives no rhythm: its beat is placed at the original strip's
    R peaks and labelled so; a model that decodes strips is drawn as it is, and its median beat
    taken at the original's R peaks.
    """
    strip = without_baseline_wander(original_strip, sampling_hz)
    peaks = detect_r_peaks_multilead(original_strip, sampling_hz)
    if decoded.shape == original_strip.shape:
        decoded_strip, strip_label = without_baseline_wander(decoded, sampling_hz), "decoded 10 s strip"
        decoded_median = median_beat(decoded, peaks)
    else:
        decoded_strip, strip_label, decoded_median = beat_at_r_peaks(decoded, peaks, len(strip), r_peak_index), PLACED_BEAT_LABEL, decoded
    agreement = lead_agreement(original_median, decoded_median, leads)
    notes = {item.lead: item.note() for item in agreement}
    source = f" {decoded_from}" if decoded_from else ""
    strip_sheet = twelve_lead_paper([PaperTrace("original", strip), PaperTrace(strip_label, decoded_strip, RECONSTRUCTION_COLOUR)], leads,
                                    sampling_hz=sampling_hz, title=f"{subject_id} · 12-lead ECG, 10 s: original vs decoded{source}",
                                    footnote="baseline wander filtered (0.5 Hz)")
    median_sheet = median_beat_paper(overlay(original_median, decoded_median), leads, sampling_hz=sampling_hz, r_peak_index=r_peak_index,
                                     title=f"{subject_id} · median beat: original vs decoded{source}", lead_notes=notes,
                                     footnote="by each lead: r (n/a on leads under 0.3 mV) and RMSE", width_px=median_width_px)
    return SubjectViews(strip_sheet, median_sheet, agreement)



def decoded_only_views(subject_id: str, leads: Sequence[str], decoded: np.ndarray, *, r_peak_index: int, sampling_hz: int = ECG_SAMPLING_HZ,
                       decoded_from: str = "", median_width_px: int = 620) -> tuple[FigureDict, FigureDict]:
    """Strip and median sheets for a subject with no recorded ECG (an imported cohort): the decoding alone.

    A decoded strip gives its own median beat (at its own R peaks); a decoded median beat has no
    rhythm to show, so the strip sheet says so.
    """
    source = f" {decoded_from}" if decoded_from else ""
    if decoded.ndim == 2 and decoded.shape[0] > 2 * r_peak_index:  # a strip, longer than a median beat
        strip = without_baseline_wander(decoded, sampling_hz)
        try:
            beat = median_beat(decoded, detect_r_peaks_multilead(decoded, sampling_hz))
        except ValueError as error:  # a decoding without a clear beat: show the strip, say why there is no median
            beat = None
            why = str(error)
        strip_sheet = twelve_lead_paper([PaperTrace("decoded 10 s strip", strip, RECONSTRUCTION_COLOUR)], leads, sampling_hz=sampling_hz,
                                        title=f"{subject_id} · no ECG recorded: decoded 10 s strip{source}")
    else:
        beat = decoded
        strip_sheet = message_figure(f"{subject_id} has no recorded ECG, and this model decodes a median beat, not a rhythm strip: see the median beat")
    if beat is None:
        return strip_sheet, message_figure(f"{subject_id} · no ECG recorded, and the decoded strip gives no median beat ({why})")
    median_sheet = median_beat_paper([PaperTrace("decoded median beat", beat, RECONSTRUCTION_COLOUR)], leads, sampling_hz=sampling_hz,
                                     r_peak_index=r_peak_index, title=f"{subject_id} · no ECG recorded: decoded median beat{source}",
                                     width_px=median_width_px)
    return strip_sheet, median_sheet


def change_views(label_a: str, label_b: str, leads: Sequence[str], ecg_a: np.ndarray, ecg_b: np.ndarray, cine_a: np.ndarray | None,
                 cine_b: np.ndarray | None, *, r_peak_index: int, heart_rate_bpm: float | None,
                 predictions: Mapping[str, tuple[float, float, str]] | None = None, sampling_hz: int = ECG_SAMPLING_HZ, title: str = "",
                 ecg_width_px: int = 900) -> ChangeViews:
    """What changed from B to A, always as A − B: ECG difference per lead, cine difference, measured quantities."""
    ecg = median_beat_paper(difference_traces(ecg_a, ecg_b, label_a=label_a, label_b=label_b), leads, sampling_hz=sampling_hz,
                            r_peak_index=r_peak_index, title=title or f"ECG median beat: {label_a} − {label_b}",
                            footnote=f"bold: {label_a} − {label_b}; faint: each heart", width_px=ecg_width_px)
    if cine_a is not None and cine_b is not None:
        cine = cine_difference_figure(cine_a, cine_b, label_a=label_a, label_b=label_b, heart_rate_bpm=heart_rate_bpm,
                                      title=f"Cine: both hearts and their difference (red: brighter in {label_a})")  # each panel names its heart
    else:
        cine = message_figure("No cine for this model")
    table = measured_changes(ecg_a, ecg_b, leads, cine_a, cine_b, predictions, r_peak_index)
    return ChangeViews(ecg, cine, table)


def change_table_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The measured-change table as text for display: values rounded to their unit, moved quantities first and marked."""
    decimals = {"ms": 0, "mV": 2, "px": 0, "%": 1}
    shown = table.sort_values("moved", ascending=False, kind="stable")

    def text(value: float, unit: str, signed: bool = False) -> str:
        if not np.isfinite(value):
            return "–"
        places = decimals.get(unit, 2)
        return f"{value:+.{places}f}" if signed else f"{value:.{places}f}"

    return pd.DataFrame({
        "Quantity": [f"{row.quantity} ({row.unit})" for row in shown.itertuples()],
        "A": [text(row.A, row.unit) for row in shown.itertuples()],
        "B": [text(row.B, row.unit) for row in shown.itertuples()],
        "A − B": [text(row[5], row.unit, signed=True) + ("" if row.moved else " (within noise)") for row in shown.itertuples()],
    })
