"""The ECG sheet is standard paper in data units: grid, gain, aspect, calibration, the 3 × 4 + rhythm layout; agreement per lead."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.ecg_agreement import MIN_AMPLITUDE_FOR_R_MV, beat_at_r_peaks, lead_agreement
from app.figures import ecg_paper
from app.figures.ecg_paper import PaperTrace, median_beat_paper, overlay, twelve_lead_paper
from data_loaders.cohort_spec import ECG_LEADS
from tests.figure_checks import assert_unchanged_by_validation, validated

ML4H_LEADS = ("I", "II", "III", "V1", "V2", "V3", "V4", "V5", "V6", "aVF", "aVL", "aVR")


def _strip(leads=ECG_LEADS, samples=5000):
    """Each lead a ramp of its own slope, so any sample says which lead and time it came from."""
    time = np.arange(samples) / 500
    return np.stack([(index + 1) * 0.01 * time for index in range(len(leads))], axis=1).astype(np.float32)


def _lead_trace(figure, lead, label="original"):
    return next(t for t in figure.data if t.hovertemplate and t.hovertemplate.startswith(f"{lead} · {label}"))


def test_grid_is_1_mm_and_5_mm_at_25_mm_per_s_and_10_mm_per_mv():
    layout = validated(twelve_lead_paper(overlay(_strip(), None), ECG_LEADS)).layout
    assert layout.xaxis.dtick == pytest.approx(0.2) and layout.xaxis.minor.dtick == pytest.approx(0.04)
    assert layout.yaxis.dtick == pytest.approx(0.5) and layout.yaxis.minor.dtick == pytest.approx(0.1)
    assert layout.xaxis.tick0 == 0 and layout.yaxis.tick0 == 0 and layout.xaxis.minor.showgrid and layout.yaxis.minor.showgrid


def test_aspect_is_locked_so_1_mv_is_two_large_squares_wide_or_narrow():
    layout = validated(twelve_lead_paper(overlay(_strip(), None), ECG_LEADS)).layout
    assert layout.yaxis.scaleanchor == "x" and layout.yaxis.scaleratio == pytest.approx(10 / 25)
    for pixels_per_second in (80.0, 113.0, 260.0):  # any window width: the y pixels follow the x pixels
        pixels_per_mv = layout.yaxis.scaleratio * pixels_per_second
        large_square_px = layout.xaxis.dtick * pixels_per_second
        assert pixels_per_mv == pytest.approx(2 * large_square_px)  # 1 mV = two large squares tall
        assert layout.yaxis.dtick * pixels_per_mv == pytest.approx(large_square_px)  # large squares are square
    # the height asked for fits the sheet at the designed width (ranges × gain, in mm, scaled alike)
    x_mm = np.ptp(layout.xaxis.range) * 25
    y_mm = np.ptp(layout.yaxis.range) * 10
    plot_height = layout.height - layout.margin.t - layout.margin.b
    assert plot_height == pytest.approx(ecg_paper.PLOT_WIDTH_PX * y_mm / x_mm, abs=1)


def test_every_row_starts_with_a_1_mv_0_2_s_calibration_pulse():
    figure = validated(twelve_lead_paper(overlay(_strip(), None), ECG_LEADS))
    pulse = next(t for t in figure.data if t.name == "calibration 1 mV")
    x, y = np.array(pulse.x, dtype=float), np.array(pulse.y, dtype=float)
    pulses = np.split(np.arange(len(x)), np.flatnonzero(np.isnan(x)) + 1)
    pulses = [p[np.isfinite(x[p])] for p in pulses if np.isfinite(x[p]).any()]
    assert len(pulses) == 4  # three lead rows and the rhythm strip
    for row, points in enumerate(pulses):
        baseline = ecg_paper.row_baseline(row)
        assert y[points].min() == pytest.approx(baseline) and y[points].max() == pytest.approx(baseline + 1.0)
        top = points[y[points] == y[points].max()]
        assert np.ptp(x[top]) == pytest.approx(0.2)
        assert x[points].max() < 0  # left of the strip's first sample


def _times(trace) -> np.ndarray:
    """A lead trace's sample times on the sheet: sent as a start and a step (x0, dx), no array."""
    assert trace.x is None
    return trace.x0 + np.arange(len(trace.y)) * trace.dx


def test_3_by_4_quarters_of_the_strip_and_a_full_rhythm_lead_found_by_name():
    strip = _strip(ML4H_LEADS)
    figure = validated(twelve_lead_paper(overlay(strip, strip * 0.5), ML4H_LEADS))
    for row, names in enumerate(ecg_paper.STANDARD_LAYOUT):
        for col, name in enumerate(names):
            trace = _lead_trace(figure, name)
            x = _times(trace)
            assert x[0] == pytest.approx(2.5 * col) and x[-1] == pytest.approx(2.5 * col + 2.5 - 1 / 500)
            expected = strip[col * 1250 : (col + 1) * 1250, ML4H_LEADS.index(name)]
            assert np.allclose(trace.customdata, expected)  # hover shows the lead's own mV
            assert np.allclose(np.asarray(trace.y) - ecg_paper.row_baseline(row), expected, atol=1e-5)  # same gain in every row
    rhythm = _lead_trace(figure, "II (rhythm)")
    assert _times(rhythm)[0] == 0 and _times(rhythm)[-1] == pytest.approx(9.998)
    assert np.allclose(np.asarray(rhythm.y) - ecg_paper.row_baseline(3), strip[:, ML4H_LEADS.index("II")], atol=1e-5)
    decoded = _lead_trace(figure, "V1", "decoded")
    assert decoded.line.color == ecg_paper.RECONSTRUCTION_COLOUR != _lead_trace(figure, "V1").line.color
    labels = {a.text.split("</b>")[0].removeprefix("<b>") for a in figure.layout.annotations if a.text.startswith("<b>")}
    assert labels == {*ECG_LEADS, "II (rhythm)"}


def test_median_beats_sit_in_their_own_cells_on_the_same_paper_with_time_from_r():
    beat = _strip(samples=600)
    figure = validated(median_beat_paper([PaperTrace("original", beat)], ECG_LEADS, title="Median beat"))
    assert figure.layout.yaxis.scaleratio == pytest.approx(0.4) and figure.layout.xaxis.dtick == pytest.approx(0.2)
    starts = sorted({round(float(_times(t)[0]), 6) for t in figure.data if t.hovertemplate.startswith(("I ", "aVR", "V1", "V4"))})
    assert starts == pytest.approx([0.0, 1.4, 2.8, 4.2])  # 1.2 s beats, cells on large-square lines
    v1 = _lead_trace(figure, "V1")
    assert np.asarray(v1.customdata)[250, 1] == pytest.approx(0.0)  # the R peak is time 0
    assert not any(t.name == "II (rhythm)" for t in figure.data)


def test_sheets_are_prebuilt_exactly_as_plotly_would_validate_them():
    strip = _strip()
    assert_unchanged_by_validation(twelve_lead_paper(overlay(strip, strip * 0.9), ECG_LEADS, title="a", footnote="b", lead_notes={"V1": "c"}))
    assert_unchanged_by_validation(median_beat_paper([PaperTrace("original", strip[:600])], ECG_LEADS))


def test_a_sheet_refuses_traces_of_the_wrong_shape_or_length():
    with pytest.raises(ValueError, match="12 leads"):
        validated(twelve_lead_paper([PaperTrace("x", np.zeros((5000, 8)))], ECG_LEADS))
    with pytest.raises(ValueError, match="one length"):
        validated(twelve_lead_paper(overlay(_strip(), _strip(samples=600)), ECG_LEADS))


def test_agreement_gives_rmse_in_microvolts_and_no_r_on_a_flat_lead():
    rng = np.random.default_rng(0)
    time = np.linspace(0, 1.2, 600)
    original = np.stack([np.sin(2 * np.pi * 3 * time)] + [0.05 * np.sin(2 * np.pi * 3 * time) + rng.normal(0, 0.01, 600)] * 11, axis=1)
    decoded = original + rng.normal(0, 0.02, original.shape)
    result = lead_agreement(original, decoded, ECG_LEADS)
    assert result[0].r > 0.99 and result[0].r_reason is None
    assert result[0].rmse_uv == pytest.approx(20, rel=0.1)  # 0.02 mV noise
    flat = result[1]
    assert np.isnan(flat.r) and "under" in flat.r_reason and flat.amplitude_mv < MIN_AMPLITUDE_FOR_R_MV
    assert flat.note().startswith("r n/a") and "µV" in flat.note() and result[0].note() == "r 1.00 · 20 µV"


def test_a_median_beat_is_placed_at_each_r_peak_without_overlap():
    beat = np.arange(600, dtype=np.float32)[:, None] * np.ones((1, 2), dtype=np.float32)
    peaks = np.array([400, 900, 1600])
    strip = beat_at_r_peaks(beat, peaks, 2000, r_peak_index=250)
    assert strip[400, 0] == 250 and strip[900, 0] == 250 and strip[1600, 0] == 250
    assert strip[649, 0] == 499 and strip[650, 0] == 0  # halfway between two peaks the next copy takes over
    assert np.isnan(strip[:150]).all() and strip[150, 0] == 0  # nothing before the first copy's start
    assert strip[1949, 0] == 599 and np.isnan(strip[1950:]).all()  # the last copy ends where the beat does
    assert np.isnan(beat_at_r_peaks(beat, np.array([], dtype=int), 100, 250)).all()


def test_agreement_r_matches_pearson_and_refuses_mismatched_ecgs():
    rng = np.random.default_rng(2)
    original = rng.normal(0, 0.5, (600, 12))
    decoded = 0.5 * original + 0.1 + rng.normal(0, 0.1, original.shape)
    result = lead_agreement(original, decoded, ECG_LEADS)
    assert [item.r for item in result] == pytest.approx([np.corrcoef(original[:, i], decoded[:, i])[0, 1] for i in range(12)])
    with pytest.raises(ValueError, match="one shape"):
        lead_agreement(original, decoded[:300], ECG_LEADS)
