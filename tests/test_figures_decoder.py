"""Decoder figures are pure functions of arrays: 12-lead layout and units, one intensity scale for cines, strips."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from app.figures import decoder as figures
from data_loaders.synthetic.schema import ECG_LEADS

# ml4h's lead order: the layout must find leads by name, not position.
ML4H_LEADS = ("I", "II", "III", "V1", "V2", "V3", "V4", "V5", "V6", "aVF", "aVL", "aVR")


def _beat(leads=ECG_LEADS, scale=1.0):
    time = np.arange(600)
    return np.stack([scale * (i + 1) * 0.1 * np.exp(-((time - 250) ** 2) / 50.0) for i in range(len(leads))], axis=1).astype(np.float32)


def test_twelve_leads_sit_in_the_standard_layout_with_seconds_and_mv():
    figure = figures.twelve_lead_figure({"original": _beat(), "decoded": _beat(scale=0.9)}, ECG_LEADS, title="t")
    assert isinstance(figure, go.Figure) and all(trace.type == "scatter" for trace in figure.data)
    assert len(figure.data) == 24 and [t.showlegend for t in figure.data].count(True) == 2
    names = {a.text.split("</b>")[0].removeprefix("<b>") for a in figure.layout.annotations}
    assert names == set(ECG_LEADS)
    time = np.asarray(figure.data[0].x)
    assert time[0] == pytest.approx(-0.5) and time[-1] == pytest.approx(0.698)  # R peak at 0 s
    assert figure.layout.xaxis9.title.text == "time (s)" and figure.layout.yaxis.title.text == "mV"
    first_v1 = next(t for t in figure.data if "V1 ·" in t.hovertemplate)
    assert first_v1.xaxis == "x3" and np.allclose(first_v1.y, _beat()[:, ECG_LEADS.index("V1")])


def test_leads_are_found_by_name_whatever_their_order():
    beat = _beat(ML4H_LEADS)
    figure = figures.twelve_lead_figure({"ecg": beat}, ML4H_LEADS)
    avr = next(t for t in figure.data if t.hovertemplate.startswith("aVR"))
    assert avr.xaxis == "x2" and np.allclose(avr.y, beat[:, ML4H_LEADS.index("aVR")])
    positions = figures.lead_positions(ML4H_LEADS)
    assert (1, 1, 0, "I") in positions and (3, 4, ML4H_LEADS.index("V6"), "V6") in positions
    with pytest.raises(ValueError, match="leads"):
        figures.twelve_lead_figure({"ecg": beat[:, :6]}, ML4H_LEADS)


def test_lead_notes_are_shown_after_the_lead_name():
    figure = figures.twelve_lead_figure({"ecg": _beat()}, ECG_LEADS, lead_notes={"V5": "r 0.93"})
    assert any("V5" in a.text and "r 0.93" in a.text for a in figure.layout.annotations)


def test_cines_share_one_intensity_scale_and_animate_frame_by_frame():
    rng = np.random.default_rng(0)
    truth = rng.random((6, 16, 16)).astype(np.float32)
    decoded = np.clip(truth * 2, 0, 1.7)  # over-range values are clipped, not rescaled
    figure = figures.cine_figure({"original": truth, "decoded": decoded})
    assert [t.type for t in figure.data] == ["heatmap", "heatmap"]
    assert {(t.zmin, t.zmax) for t in figure.data} == {(0, 255)}
    assert np.asarray(figure.data[0].z).dtype == np.uint8
    assert np.array_equal(np.asarray(figure.data[0].z), np.round(truth[0] * 255).astype(np.uint8))
    assert len(figure.frames) == 6 and np.array_equal(np.asarray(figure.frames[3].data[1].z), figures.to_intensity_bytes(decoded[3]))
    assert figure.layout.yaxis.scaleanchor == "x" and figure.layout.yaxis2.scaleanchor == "x2"
    assert [b.label for b in figure.layout.updatemenus[0].buttons] == ["▶ Play", "❚❚ Pause"]
    assert len(figure.layout.sliders[0].steps) == 6
    with pytest.raises(ValueError):
        figures.cine_figure({"a": truth, "b": truth[:3]})


def test_agreement_figure_draws_per_lead_bars_and_both_area_curves():
    correlation = np.linspace(0.2, 0.99, 12)
    figure = figures.agreement_figure(ECG_LEADS, correlation, np.linspace(800, 400, 10), np.linspace(780, 420, 10))
    bar = figure.data[0]
    assert bar.type == "bar" and list(bar.x) == list(ECG_LEADS) and np.allclose(bar.y, correlation)
    assert [t.name for t in figure.data[1:]] == ["truth", "decoded"]
    missing = figures.agreement_figure(ECG_LEADS, correlation, np.full(10, np.nan), np.full(10, np.nan))
    assert any("not found" in a.text for a in missing.layout.annotations)


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
    fitted = figures.fit_column_titles(labels)
    column_px = figures.NARROWEST_FIGURE_PX / 9
    for title in fitted:
        lines = title.split("<br>")
        assert len(lines) <= 2 and all(len(line) * figures.TITLE_CHAR_PX <= 0.9 * column_px + 1e-9 for line in lines)
    assert fitted[1] == "12%" and fitted[0].startswith("mean of")
    assert figures.fit_column_titles(["a b"], max_lines=2) == ["a b"]
