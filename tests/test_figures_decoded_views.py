"""Decoder views from arrays: a subject's strip and median sheets, and what changed between two hearts, always A − B."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.figures import decoded_views
from app.figures.ecg_paper import RECONSTRUCTION_COLOUR
from data_loaders import cohort_spec as spec
from data_loaders import ecg_measures as em
from data_loaders.synthetic import schema as s
from data_loaders.synthetic.ecg import synthesize_ecg_strips
from tests.figure_checks import validated

NORMAL = {spec.HEART_RATE: 66.0, s.AF_RHYTHM: False, spec.AF: False, s.PR: 160.0, s.QRS: 92.0, s.QT: 400.0, s.QRS_AXIS: 45.0,
          spec.LV_MASS: 120.0, s.BMI: 26.0, spec.SEX: "male", spec.LVH: False, spec.LVEF: 62.0}


@pytest.fixture(scope="module")
def ecgs():
    strips = synthesize_ecg_strips(pd.DataFrame([NORMAL, {**NORMAL, s.QRS: 140.0}]), np.array([3, 4]))
    return strips, em.median_beats(strips)


def test_a_median_decoding_model_is_shown_as_its_beat_at_the_original_r_peaks(ecgs):
    strips, medians = ecgs
    views = decoded_views.subject_views("S1", spec.ECG_LEADS, strips[0], medians[0], medians[0] * 0.9, r_peak_index=250, decoded_from="from the joint latent")
    placed = next(t for t in validated(views.strip).data if t.name == decoded_views.PLACED_BEAT_LABEL)
    assert placed.line.color == RECONSTRUCTION_COLOUR
    rhythm = [t for t in validated(views.strip).data if t.hovertemplate and t.hovertemplate.startswith(f"II (rhythm) · {decoded_views.PLACED_BEAT_LABEL}")][0]
    peaks = em.detect_r_peaks_multilead(strips[0])
    values = np.asarray(rhythm.customdata, dtype=float)
    assert np.allclose(values[peaks], 0.9 * medians[0][250, spec.ECG_LEADS.index("II")], atol=1e-5)  # the beat's R peak on each R peak
    assert "from the joint latent" in validated(views.median).layout.title.text
    assert [a.lead for a in views.agreement] == list(spec.ECG_LEADS) and all(a.r > 0.99 or a.r_reason for a in views.agreement)
    notes = [a.text for a in validated(views.median).layout.annotations if a.text.startswith("<b>V5")]
    assert notes and "µV" in notes[0]


def test_a_strip_decoding_model_is_drawn_as_it_is(ecgs):
    strips, medians = ecgs
    views = decoded_views.subject_views("S1", spec.ECG_LEADS, strips[0], medians[0], strips[0], r_peak_index=250)
    assert any(t.name == "decoded 10 s strip" for t in validated(views.strip).data)
    assert all(a.rmse_uv < 20 for a in views.agreement)


def test_change_views_are_a_minus_b_with_the_table_and_predictions(ecgs):
    _, medians = ecgs
    rng = np.random.default_rng(0)
    cine_a, cine_b = rng.random((2, 10, 24, 24)).astype(np.float32)
    views = decoded_views.change_views("wide QRS", "normal", spec.ECG_LEADS, medians[1], medians[0], cine_a, cine_b, r_peak_index=250,
                                       heart_rate_bpm=66, predictions={"AF": (0.97, 0.02, "probability")})
    bold = next(t for t in validated(views.ecg).data if t.name == "wide QRS − normal" and t.hovertemplate.startswith("V1 "))
    v1 = spec.ECG_LEADS.index("V1")
    assert np.allclose(np.asarray(bold.customdata)[:, 0], medians[1][:, v1] - medians[0][:, v1], atol=1e-6)
    assert validated(views.cine).layout.annotations[2].text == "wide QRS − normal" and len(validated(views.cine).frames) == 10
    rows = decoded_views.change_table_rows(views.table)
    assert rows.columns.tolist() == ["Quantity", "A", "B", "A − B"]
    assert rows["Quantity"].iloc[0] in {"QRS duration (ms)", "AF, predicted (%)"}  # moved quantities first
    assert rows.set_index("Quantity").loc["AF, predicted (%)", "A − B"] == "+95.0"
