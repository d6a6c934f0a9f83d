"""Decoder figures are pure functions of arrays: agreement bars and curves, interpolation strips that fit, predictions along a path."""

from __future__ import annotations

import numpy as np
import pytest

from app.figures import decoder as figures
from app.figures.text import CHAR_PX_PER_FONT_PX, fit_titles
from data_loaders.cohort_spec import ECG_LEADS
from tests.figure_checks import assert_unchanged_by_validation, validated


def _beat(leads=ECG_LEADS, scale=1.0):
    time = np.arange(600)
    return np.stack([scale * (i + 1) * 0.1 * np.exp(-((time - 250) ** 2) / 50.0) for i in range(len(leads))], axis=1).astype(np.float32)


def test_agreement_figure_draws_per_lead_bars_and_both_area_curves():
    correlation = np.linspace(0.2, 0.99, 12)
    prebuilt = figures.agreement_figure(ECG_LEADS, correlation, np.linspace(800, 400, 10), np.linspace(780, 420, 10))
    figure = validated(prebuilt)
    bar = figure.data[0]
    assert bar.type == "bar" and list(bar.x) == list(ECG_LEADS) and np.allclose(bar.y, correlation)
    assert [t.name for t in figure.data[1:]] == ["original", "decoded"]
    missing = figures.agreement_figure(ECG_LEADS, correlation, np.full(10, np.nan), np.full(10, np.nan))
    assert any("not found" in a.text for a in validated(missing).layout.annotations)
    correlation[3] = np.nan  # a lead under 0.3 mV: an empty bar marked n/a
    for each in (prebuilt, missing, figures.agreement_figure(ECG_LEADS, correlation, np.linspace(800, 400, 10).astype(np.float32), None),
                 figures.agreement_figure(ECG_LEADS, None, None, None)):
        assert_unchanged_by_validation(each)  # what plotly.py would send after validating it


def test_interpolation_strip_has_a_column_per_step_with_the_beat_and_the_chosen_frames():
    steps = 4
    beats = np.stack([_beat(scale=1 + 0.2 * s) for s in range(steps)])
    cines = np.random.default_rng(1).random((steps, 5, 12, 12)).astype(np.float32)
    labels = ["A", "33%", "67%", "B"]
    figure = figures.interpolation_strip(labels, beats, ECG_LEADS, "V5", cines, {"end-diastole": 0, "end-systole": 2})
    heatmaps = [t for t in figure.data if t.type == "heatmap"]
    assert len(heatmaps) == 3 * steps
    changes = [t for t in heatmaps if t.colorscale[0][1] != "rgb(0, 0, 0)" and t.zmid == 0]
    assert len(changes) == steps and not np.asarray(changes[0].z).any()  # the first step does not differ from itself
    assert np.array_equal(np.asarray(changes[2].z), np.clip(np.round((cines[2, 0] - cines[0, 0]) * 254), -127, 127).astype(np.int8))
    highlighted = [t for t in figure.data if t.type == "scatter" and t.hovertemplate]
    assert len(highlighted) == steps and np.allclose(highlighted[2].y, beats[2][:, ECG_LEADS.index("V5")])
    assert np.array_equal(np.asarray(heatmaps[1].z), figures.to_intensity_bytes(cines[0, 2]))
    assert "change vs start" in [a.text for a in figure.layout.annotations]
    assert [a.text for a in figure.layout.annotations][:steps] == labels
    with pytest.raises(ValueError):
        figures.interpolation_strip(labels[:3], beats, ECG_LEADS, "V5", cines, {"end-diastole": 0})
    with pytest.raises(ValueError):
        figures.interpolation_strip(labels, beats, ECG_LEADS, "V9", cines, {"end-diastole": 0})


def test_prediction_strip_gives_each_predictor_its_own_panel():
    figure = figures.prediction_strip_figure(["a", "b", "c"], {"AF (probability)": np.array([5.0, 10, 20]), "LVEF (%)": np.array([60, 55, 50.0])},
                                             {"AF (probability)": "%", "LVEF (%)": "%"})
    assert len(figure.data) == 2 and np.allclose(figure.data[1].y, [60, 55, 50])
    assert figure.data[1].xaxis == "x2"
    empty = figures.prediction_strip_figure(["a", "b"], {})
    assert "No predictors" in empty.layout.annotations[0].text


def test_column_titles_fit_their_columns_at_nine_steps():
    labels = ["mean of current cohort (0%)", *[f"{p}%" for p in range(12, 88, 12)], "mean of everyone else with a long name (100%)"]
    assert len(labels) == 9
    fitted = fit_titles(labels, figures.NARROWEST_FIGURE_PX)
    column_px = figures.NARROWEST_FIGURE_PX / 9
    for title in fitted:
        lines = title.split("<br>")
        assert len(lines) <= 2 and all(len(line) * 11 * CHAR_PX_PER_FONT_PX <= 0.9 * column_px + 1e-9 for line in lines)
    assert fitted[1] == "12%" and fitted[0].startswith("mean of")
    assert fit_titles(["a b"], figures.NARROWEST_FIGURE_PX, max_lines=2) == ["a b"]


def test_prediction_strip_titles_fit_their_panels_with_seven_predictors():
    """The demo's seven predictors' names ("Atrial fibrillation (probability)") ran into each other at 1,000 px."""
    names = ["Atrial fibrillation (probability)", "Heart failure (probability)", "LV hypertrophy (probability)", "Hypertension (probability)",
             "LV ejection fraction (%)", "LV mass (g)", "LV FAC (measured)"]
    figure = figures.prediction_strip_figure(["start", "end"], {name: np.array([1.0, 2.0]) for name in names})
    per_line = 0.9 * figures.NARROWEST_FIGURE_PX / len(names) / (11 * CHAR_PX_PER_FONT_PX)
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert [title.replace("<br>", " ") for title in titles] == names
    assert all(len(line) <= per_line for title in titles for line in title.split("<br>"))
    assert figure.layout.margin.t == 40 + 14 and figure.layout.height == 220 + 14  # one more line of titles, the same plots
