"""What changed between two decoded hearts A and B, in measured quantities a cardiologist knows.

A perturbation can move a predictor from 2 % to 97 % while the decoded ECG looks the same at a
glance; measuring both decodes the same way says what did move. Always A − B: the first heart
named minus the second, the same order as the difference traces and the difference heat-map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.core.decoding import area_change
from data_loaders.cohort_spec import MEDIAN_R_PEAK_INDEX
from data_loaders.ecg_measures import qrs_amplitude_mv, qrs_duration_ms
from data_loaders.mri_measures import lv_area_curves


@dataclass(frozen=True)
class Measure:
    """A measured quantity: its name, unit and the change below which it counts as unmoved (measurement noise)."""

    name: str
    unit: str
    tolerance: float


QRS_DURATION = Measure("QRS duration", "ms", 6.0)  # three samples at 500 Hz
QRS_AMPLITUDE = Measure("QRS amplitude (12-lead sum)", "mV", 0.5)
LV_AREA_ED = Measure("LV cavity area, end-diastole", "px", 15.0)
LV_AREA_ES = Measure("LV cavity area, end-systole", "px", 15.0)
LV_FAC = Measure("LV fractional area change", "%", 2.0)
PREDICTION_TOLERANCE = 0.02  # a predictor's output (probability or its own unit's share) that moved less than this is unmoved
COLUMNS = ("quantity", "unit", "A", "B", "A − B", "moved")


def measured_changes(ecg_a: np.ndarray, ecg_b: np.ndarray, leads: Sequence[str], cine_a: np.ndarray | None, cine_b: np.ndarray | None,
                     predictions: Mapping[str, tuple[float, float, str]] | None = None,
                     r_peak_index: int = MEDIAN_R_PEAK_INDEX) -> pd.DataFrame:
    """One row per quantity: A, B, A − B and whether it moved beyond measurement noise.

    ``ecg_a``/``ecg_b`` are median beats (samples, leads) in mV; cines (frames, rows, cols) on [0, 1]
    or None when a model has no MRI; ``predictions`` maps a predictor's name to (A, B, unit), a
    unit of "probability" shown as a percentage.
    """
    rows = []
    for measure, values in (
        (QRS_DURATION, [qrs_duration_ms(ecg, r_peak_index) for ecg in (ecg_a, ecg_b)]),
        (QRS_AMPLITUDE, [qrs_amplitude_mv(ecg, leads, r_peak_index) for ecg in (ecg_a, ecg_b)]),
    ):
        rows.append(_row(measure.name, measure.unit, *values, measure.tolerance))
    if cine_a is not None and cine_b is not None:
        curves = lv_area_curves(np.stack([cine_a, cine_b]))
        with np.errstate(all="ignore"):
            end_diastole = [float(np.max(curve)) if np.isfinite(curve).all() else np.nan for curve in curves]
            end_systole = [float(np.min(curve)) if np.isfinite(curve).all() else np.nan for curve in curves]
        rows.append(_row(LV_AREA_ED.name, LV_AREA_ED.unit, *end_diastole, LV_AREA_ED.tolerance))
        rows.append(_row(LV_AREA_ES.name, LV_AREA_ES.unit, *end_systole, LV_AREA_ES.tolerance))
        rows.append(_row(LV_FAC.name, LV_FAC.unit, *(100 * area_change(curve) for curve in curves), LV_FAC.tolerance))
    for name, (value_a, value_b, unit) in (predictions or {}).items():
        if unit == "probability":
            rows.append(_row(f"{name}, predicted", "%", 100 * value_a, 100 * value_b, 100 * PREDICTION_TOLERANCE))
        else:
            spread = max(abs(value_a), abs(value_b), 1e-9)
            rows.append(_row(f"{name}, predicted", unit, value_a, value_b, PREDICTION_TOLERANCE * spread))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _row(name: str, unit: str, value_a: float, value_b: float, tolerance: float) -> dict[str, object]:
    difference = value_a - value_b
    return {"quantity": name, "unit": unit, "A": value_a, "B": value_b, "A − B": difference,
            "moved": bool(np.isfinite(difference) and abs(difference) >= tolerance)}
