"""What changed between two decoded hearts: measured on both the same way, always A − B, unmoved within noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.core.what_changed import COLUMNS, measured_changes
from data_loaders import cohort_spec as spec
from data_loaders import ecg_measures as em
from data_loaders.synthetic import mri
from data_loaders.synthetic import schema as s
from data_loaders.synthetic.ecg import synthesize_ecg_strips

ECG_NORMAL = {spec.HEART_RATE: 66.0, s.AF_RHYTHM: False, spec.AF: False, s.PR: 160.0, s.QRS: 92.0, s.QT: 400.0, s.QRS_AXIS: 45.0,
              spec.LV_MASS: 120.0, s.BMI: 26.0, spec.SEX: "male", spec.LVH: False, spec.LVEF: 62.0}
MRI_NORMAL = {s.LVEDV: 140.0, s.LVESV: 56.0, spec.LV_MASS: 120.0, s.RVEDV: 150.0, s.RVEF: 56.0, spec.AF: False, s.AF_RHYTHM: False,
              spec.HF: False, spec.SEX: "male", s.BMI: 27.0}


@pytest.fixture(scope="module")
def hearts():
    """A: a wide QRS and a dilated, poorly contracting LV; B: a normal heart."""
    ecg = pd.DataFrame([{**ECG_NORMAL, s.QRS: 150.0, s.QT: 460.0}, ECG_NORMAL])
    medians = em.median_beats(synthesize_ecg_strips(ecg, np.array([4, 4])))
    cines = mri.synthesize_cines(pd.DataFrame([{**MRI_NORMAL, s.LVEDV: 230.0, s.LVESV: 170.0}, MRI_NORMAL]), np.array([7, 7]))
    return medians, cines.astype(np.float32) / mri.INTENSITY_SCALE


def test_a_minus_b_of_every_measure_with_the_predictors(hearts):
    medians, cines = hearts
    table = measured_changes(medians[0], medians[1], spec.ECG_LEADS, cines[0], cines[1],
                             predictions={"AF": (0.97, 0.02, "probability"), "LVEF": (35.0, 60.0, "%")})
    assert tuple(table.columns) == COLUMNS
    rows = table.set_index("quantity")
    assert np.allclose(rows["A − B"], rows["A"] - rows["B"], equal_nan=True)
    assert rows.loc["QRS duration", "A − B"] > 30 and rows.loc["QRS duration", "moved"]
    assert rows.loc["QRS duration", "A"] == pytest.approx(em.qrs_duration_ms(medians[0]))
    assert rows.loc["LV cavity area, end-systole", "A − B"] > 0 and rows.loc["LV cavity area, end-systole", "moved"]
    assert rows.loc["LV fractional area change", "A − B"] < 0 and rows.loc["LV fractional area change", "unit"] == "%"
    assert rows.loc["AF, predicted", "A"] == pytest.approx(97) and rows.loc["AF, predicted", "A − B"] == pytest.approx(95)
    assert rows.loc["LVEF, predicted", "A − B"] == pytest.approx(-25)


def test_identical_hearts_moved_nothing_and_no_cine_means_no_mri_rows(hearts):
    medians, cines = hearts
    same = measured_changes(medians[1], medians[1], spec.ECG_LEADS, cines[1], cines[1], predictions={"AF": (0.3, 0.3, "probability")})
    assert not same["moved"].any() and (same["A − B"].dropna() == 0).all()
    ecg_only = measured_changes(medians[0], medians[1], spec.ECG_LEADS, None, None)
    assert ecg_only["quantity"].tolist() == ["QRS duration", "QRS amplitude (12-lead sum)"]
