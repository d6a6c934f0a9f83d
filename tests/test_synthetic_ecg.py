"""The synthetic 12-lead ECG generator and the ECG measures that read it (and real ECGs).

Drivers are built by hand here (not by the phenotype model) so each test controls exactly which
phenotype varies; the measures are checked on hand-made strips where the truth is known exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats
from scipy.signal import detrend

from data_loaders import cohort_spec as spec
from data_loaders import ecg_measures as em
from data_loaders.synthetic import schema as s
from data_loaders.synthetic.ecg import synthesize_ecg_strips

NORMAL = {
    spec.HEART_RATE: 66.0, s.AF_RHYTHM: False, spec.AF: False, s.PR: 160.0, s.QRS: 92.0, s.QT: 400.0, s.QRS_AXIS: 45.0,
    spec.LV_MASS: 120.0, s.BMI: 26.0, spec.SEX: "male", spec.LVH: False, spec.LVEF: 62.0,
}
AF_ROW = {spec.AF: True, s.AF_RHYTHM: True, s.PR: np.nan}
PAROXYSMAL_AF_ROW = {spec.AF: True, s.AF_RHYTHM: False}
LEAD = {name: index for index, name in enumerate(spec.ECG_LEADS)}
R = spec.MEDIAN_R_PEAK_INDEX
MS_PER_SAMPLE = 1000 / spec.ECG_SAMPLING_HZ


def drivers(rows: list[dict]) -> pd.DataFrame:
    """A driver table: each row is NORMAL with some phenotypes changed."""
    return pd.DataFrame([{**NORMAL, **row} for row in rows])


def generate(rows: list[dict], first_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    strips = synthesize_ecg_strips(drivers(rows), np.arange(first_seed, first_seed + len(rows)))
    return strips, em.median_beats(strips)


def qrs_bounds(median: np.ndarray) -> tuple[int, int]:
    """QRS onset and offset: where the spatial magnitude falls below 5% of its R-peak value either side of R."""
    magnitude = np.sqrt((ndimage.uniform_filter1d(median.astype(np.float64), 5, axis=0) ** 2).sum(axis=1))
    below = magnitude < 0.05 * magnitude[R]
    return R - int(np.argmax(below[R::-1])), R + int(np.argmax(below[R:]))


def frontal_axis_deg(median: np.ndarray) -> float:
    """QRS axis from the net QRS areas of I (0°) and aVF (90°, whose lead vector is √3/2 as long as I's)."""
    onset, offset = qrs_bounds(median)
    area_i = median[onset:offset, LEAD["I"]].sum()
    area_avf = median[onset:offset, LEAD["aVF"]].sum()
    return float(np.degrees(np.arctan2(area_avf * 2 / np.sqrt(3), area_i)))


def qt_ms(median: np.ndarray) -> float:
    """QRS onset to T end, the T end by the tangent method in the lead with the tallest T wave."""
    smooth = ndimage.uniform_filter1d(median.astype(np.float64), 9, axis=0)
    onset, _ = qrs_bounds(median)
    st_t = smooth[R + 50 : R + 400]
    tallest = int(np.argmax(np.abs(st_t).max(axis=0)))
    lead = smooth[:, tallest]
    peak = R + 50 + int(np.argmax(np.abs(st_t[:, tallest])))
    towards_baseline = -np.sign(lead[peak]) * np.diff(lead)
    steepest = peak + int(np.argmax(towards_baseline[peak : peak + 100]))
    return (steepest + abs(lead[steepest]) / towards_baseline[steepest] - onset) * MS_PER_SAMPLE


@pytest.fixture(scope="module")
def varied() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """36 subjects from bradycardia to tachycardia, narrow to bundle-branch-block QRS, a third in AF."""
    rng = np.random.default_rng(3)
    n = 36
    rate = np.linspace(45, 140, n)
    qrs = rng.permutation(np.linspace(78, 165, n))
    af = rng.permutation(np.arange(n) % 3 == 0)
    mass = rng.uniform(70, 260, n)
    rows = [
        {
            spec.HEART_RATE: rate[i], s.QRS: qrs[i], s.QT: float(np.clip(420 * np.sqrt(60 / rate[i]) + 0.3 * (qrs[i] - 92), qrs[i] + 120, 560)),
            s.QRS_AXIS: rng.uniform(0, 100), spec.LV_MASS: mass[i], spec.LVH: bool(mass[i] > 200), s.BMI: rng.uniform(19, 40),
            spec.SEX: ("female", "male")[i % 2], **(AF_ROW if af[i] else {s.PR: rng.uniform(120, 250)}),
        }
        for i in range(n)
    ]
    table = drivers(rows)
    strips = synthesize_ecg_strips(table, np.arange(1000, 1000 + n))
    return table, strips, em.median_beats(strips)


def test_strips_are_float32_millivolts_in_schema_lead_order(varied):
    table, strips, medians = varied
    assert strips.shape == (len(table), spec.ECG_STRIP_SAMPLES, len(spec.ECG_LEADS)) and strips.dtype == np.float32
    assert medians.shape == (len(table), spec.ECG_MEDIAN_SAMPLES, len(spec.ECG_LEADS)) and medians.dtype == np.float32
    assert np.isfinite(strips).all() and np.abs(strips).max() < 10
    qrs_voltage = np.ptp(medians[:, R - 50 : R + 50], axis=1)  # (subjects, leads), mV
    assert (qrs_voltage.max(axis=1) > 0.8).all() and (qrs_voltage.max(axis=1) < 6).all()
    assert np.median(qrs_voltage[:, LEAD["V2"]]) > np.median(qrs_voltage[:, LEAD["aVL"]])  # chest leads see more


def test_a_subject_depends_only_on_its_row_and_seed():
    table = drivers([{}, AF_ROW, {spec.LV_MASS: 230.0, spec.LVH: True}])
    seeds = np.array([7, 8, 9])
    batch = synthesize_ecg_strips(table, seeds)
    np.testing.assert_array_equal(synthesize_ecg_strips(table.iloc[[1]], seeds[[1]])[0], batch[1])
    chunks = [synthesize_ecg_strips(table.iloc[rows], seeds[rows]) for rows in ([0, 1], [2])]
    np.testing.assert_array_equal(np.concatenate(chunks), batch)
    np.testing.assert_array_equal(synthesize_ecg_strips(table, seeds), batch)
    assert not np.array_equal(synthesize_ecg_strips(table.iloc[[1]], np.array([99]))[0], batch[1])


def test_only_ecg_drivers_shape_the_ecg():
    table = drivers([{}, {}])
    table[s.LVEDV], table[s.RVEDV], table[s.RVEF] = (140.0, 260.0), (150.0, 320.0), (60.0, 30.0)
    strips = synthesize_ecg_strips(table, np.array([5, 5]))
    np.testing.assert_array_equal(strips[0], strips[1])


def test_limb_leads_obey_einthoven_and_goldberger_noise_included(varied):
    _, strips, _ = varied
    lead_i, lead_ii = strips[..., LEAD["I"]], strips[..., LEAD["II"]]
    np.testing.assert_allclose(strips[..., LEAD["III"]], lead_ii - lead_i, atol=1e-6)
    np.testing.assert_allclose(strips[..., LEAD["aVR"]], -(lead_i + lead_ii) / 2, atol=1e-6)
    np.testing.assert_allclose(strips[..., LEAD["aVL"]], lead_i - lead_ii / 2, atol=1e-6)
    np.testing.assert_allclose(strips[..., LEAD["aVF"]], lead_ii - lead_i / 2, atol=1e-6)


def test_heart_rate_detected_in_lead_ii_matches_the_phenotype(varied):
    table, strips, _ = varied
    for rate, strip in zip(table[spec.HEART_RATE], strips, strict=True):
        tolerance = max(0.05 * rate, 3.0)
        assert abs(em.heart_rate_from_r_peaks(em.detect_r_peaks(strip[:, LEAD["II"]])) - rate) < tolerance
        assert abs(em.heart_rate_from_r_peaks(em.detect_r_peaks_multilead(strip)) - rate) < tolerance


def test_af_rr_intervals_are_irregular_and_sinus_nearly_regular(varied):
    table, strips, _ = varied
    irregularity = np.array([em.rr_irregularity(em.detect_r_peaks_multilead(strip)) for strip in strips])
    af = table[s.AF_RHYTHM].to_numpy()
    assert irregularity[~af].max() < 0.08
    assert irregularity[af].min() > 0.1


def test_af_has_fibrillatory_waves_and_no_p_wave():
    rows = [{**AF_ROW, spec.HEART_RATE: 60.0}] * 8 + [{spec.HEART_RATE: 60.0}] * 8
    strips, medians = generate(rows, first_seed=50)
    af = np.arange(len(rows)) < 8
    # P wave: energy in lead II of the median beat 80–280 ms before the R peak.
    p_window = np.sqrt((medians[:, R - 140 : R - 40, LEAD["II"]] ** 2).mean(axis=1))
    assert p_window[af].max() < p_window[~af].min()
    assert p_window[af].mean() < 0.4 * p_window[~af].mean()
    # f-waves: V1 activity in the T-P interval, 450 ms after one R peak to 250 ms before the next.
    activity = []
    for strip in strips:
        peaks = em.detect_r_peaks_multilead(strip)
        segments = [strip[start + 225 : stop - 125, LEAD["V1"]] for start, stop in zip(peaks[:-1], peaks[1:]) if stop - start > 400]
        activity.append(np.mean([detrend(segment).std() for segment in segments]))
    activity = np.array(activity)
    assert activity[af].min() > 0.02
    assert activity[af].min() > 1.5 * activity[~af].max()


def test_paroxysmal_af_is_sinus_rhythm_with_a_wider_p_wave():
    rows = [PAROXYSMAL_AF_ROW] * 8 + [{}] * 8
    strips, medians = generate(rows, first_seed=60)
    paroxysmal = np.arange(len(rows)) < 8
    irregularity = np.array([em.rr_irregularity(em.detect_r_peaks_multilead(strip)) for strip in strips])
    assert irregularity.max() < 0.08  # sinus rhythm now, whatever the diagnosis
    # P-wave width in lead II: samples 80–300 ms before the R peak above a quarter of the P peak.
    p_wave = np.abs(medians[:, R - 150 : R - 40, LEAD["II"]])
    width = (p_wave > 0.25 * p_wave.max(axis=1, keepdims=True)).sum(axis=1)
    assert width[paroxysmal].mean() > width[~paroxysmal].mean() + 5  # ≥ 10 ms wider on average
    assert p_wave[paroxysmal].max(axis=1).min() > 0.04  # P waves are there


def test_a_failing_lv_flattens_t_waves_and_loses_anterior_forces():
    efs = np.linspace(20, 70, 24)
    _, medians = generate([{spec.LVEF: ef} for ef in efs], first_seed=250)
    t_amplitude = np.abs(medians[:, R + 60 : R + 220]).max(axis=1).mean(axis=1)  # mean over leads of the ST-T peak
    early_anterior = medians[:, R - 25 : R + 5, LEAD["V2"]].max(axis=1)  # the early R of V2
    assert stats.spearmanr(efs, t_amplitude).statistic > 0.7
    assert stats.spearmanr(efs, early_anterior).statistic > 0.5
    assert t_amplitude[:6].mean() < 0.7 * t_amplitude[-6:].mean()


def test_qrs_voltage_rises_with_lv_mass():
    masses = np.linspace(70, 260, 24)
    _, medians = generate([{spec.LV_MASS: mass, spec.LVH: bool(mass > 190)} for mass in masses], first_seed=200)
    sokolow = [em.sokolow_lyon_mv(median, spec.ECG_LEADS) for median in medians]
    total = [em.qrs_amplitude_mv(median, spec.ECG_LEADS) for median in medians]
    assert stats.spearmanr(masses, sokolow).statistic > 0.8
    assert stats.spearmanr(masses, total).statistic > 0.8
    assert np.mean(sokolow[-6:]) > 3.5 > np.mean(sokolow[:6])  # LVH by Sokolow-Lyon at the heavy end only


def test_lvh_strain_inverts_lateral_t_waves():
    _, medians = generate([{spec.LV_MASS: 240.0, spec.LVH: True, s.QRS_AXIS: 20.0}] * 5 + [{}] * 5, first_seed=300)
    st_t = medians[:, R + 50 : R + 200]  # 100–400 ms after the R peak
    for name in ("V5", "V6"):
        strain = st_t[:5, :, LEAD[name]].min(axis=1)  # ST depression and T inversion; not every LVH heart shows it
        assert (strain < -0.1).sum() >= 4 and strain.mean() < -0.15, name
        assert (st_t[5:, :, LEAD[name]].max(axis=1) > 0.1).all() and (st_t[5:, :, LEAD[name]].min(axis=1) > -0.05).all(), name
    lateral_limb = st_t[:5][:, :, [LEAD["I"], LEAD["aVL"]]].min(axis=1)
    assert (lateral_limb < -0.05).any(axis=1).all()


def test_measured_qrs_axis_tracks_the_driver():
    axes = np.linspace(-60, 110, 18)
    _, medians = generate([{s.QRS_AXIS: axis} for axis in axes], first_seed=400)
    measured = np.array([frontal_axis_deg(median) for median in medians])
    assert np.abs(measured - axes).max() < 20
    assert np.abs(measured - axes).mean() < 8


def test_qt_interval_follows_the_driver():
    qts = np.linspace(340, 500, 10)
    _, medians = generate([{s.QT: qt, spec.HEART_RATE: 60.0} for qt in qts], first_seed=500)
    measured = np.array([qt_ms(median) for median in medians])
    assert np.abs(measured - qts).max() < 25
    assert stats.spearmanr(qts, measured).statistic > 0.95


def test_median_beat_is_clean_with_its_r_peak_at_the_fixed_index(varied):
    table, _, medians = varied
    magnitude = np.sqrt((medians.astype(np.float64) ** 2).sum(axis=2))
    assert (np.argmax(magnitude[:, R - 40 : R + 41], axis=1) == 40).all()
    # 0.5–0.4 s before R lies between the previous T wave and the P wave when the rate is slow: baseline.
    slow_sinus = (table[spec.HEART_RATE] < 70).to_numpy() & ~table[spec.AF].to_numpy()
    assert np.abs(medians[slow_sinus, :50]).max() < 0.05


def hand_made_strip(peaks: np.ndarray, polarity: float = 1.0) -> np.ndarray:
    """Two leads with Gaussian QRS complexes at known samples, a P wave, a T wave, wander and noise."""
    t = np.arange(spec.ECG_STRIP_SAMPLES)
    lead = np.zeros(spec.ECG_STRIP_SAMPLES)
    for peak in peaks:
        lead += polarity * 1.2 * np.exp(-0.5 * ((t - peak) / 5.0) ** 2)
        lead += 0.15 * np.exp(-0.5 * ((t - peak + 90) / 10.0) ** 2) + 0.3 * np.exp(-0.5 * ((t - peak - 140) / 25.0) ** 2)
    lead += 0.3 * np.sin(2 * np.pi * 0.25 * t / spec.ECG_SAMPLING_HZ) + np.random.default_rng(0).normal(0, 0.02, len(t))
    return np.stack([lead, 0.5 * lead], axis=1)


@pytest.mark.parametrize("polarity", [1.0, -1.0])
def test_r_peaks_and_median_beat_on_a_hand_made_strip(polarity):
    true_peaks = np.cumsum(np.r_[120, np.random.default_rng(1).integers(300, 520, 9)])
    strip = hand_made_strip(true_peaks, polarity)
    found = em.detect_r_peaks(strip[:, 0])
    assert len(found) == len(true_peaks) and np.abs(found - true_peaks).max() <= 1
    np.testing.assert_array_equal(em.detect_r_peaks_multilead(strip), found)
    median = em.median_beat(strip, found)
    assert median.shape == (spec.ECG_MEDIAN_SAMPLES, 2) and median.dtype == np.float32
    assert np.argmax(np.abs(median[:, 0])) == R
    assert median[R, 0] == pytest.approx(polarity * 1.2, abs=0.1)


def test_median_beat_rejects_strips_without_a_whole_beat():
    strip = hand_made_strip(np.array([100, 4900]))
    with pytest.raises(ValueError, match="whole beat window"):
        em.median_beat(strip, np.array([100, 4900]))


def test_rate_and_irregularity_from_known_r_peaks():
    regular = np.arange(0, 5000, 400)
    assert em.heart_rate_from_r_peaks(regular) == pytest.approx(75.0)
    assert em.rr_irregularity(regular) == 0.0
    alternating = np.cumsum([0, 400, 600, 400, 600])  # RR 0.8, 1.2 s: successive differences of 0.4 s
    assert em.rr_irregularity(alternating) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="at least 3 R peaks"):
        em.rr_irregularity(np.array([0, 400]))


def test_voltages_find_leads_by_name_in_any_order(varied):
    _, _, medians = varied
    ml4h_order = ("I", "II", "III", "V1", "V2", "V3", "V4", "V5", "V6", "aVF", "aVL", "aVR")
    reordered = medians[0][:, [LEAD[name] for name in ml4h_order]]
    assert em.sokolow_lyon_mv(reordered, ml4h_order) == em.sokolow_lyon_mv(medians[0], spec.ECG_LEADS)
    assert em.qrs_amplitude_mv(reordered, ml4h_order) == pytest.approx(em.qrs_amplitude_mv(medians[0], spec.ECG_LEADS))
    with pytest.raises(KeyError, match="not among the leads"):
        em.sokolow_lyon_mv(medians[0][:, :6], spec.ECG_LEADS[:6])


def test_generator_rejects_missing_or_inconsistent_drivers():
    with pytest.raises(KeyError, match=s.QT):
        synthesize_ecg_strips(drivers([{}]).drop(columns=s.QT), np.array([1]))
    with pytest.raises(ValueError, match="PR"):
        synthesize_ecg_strips(drivers([{s.PR: np.nan}]), np.array([1]))
    with pytest.raises(ValueError, match="seeds"):
        synthesize_ecg_strips(drivers([{}, {}]), np.array([1]))


def test_qrs_duration_tracks_the_driver_from_narrow_to_bundle_branch_block(varied):
    table, _, medians = varied
    measured = np.array([em.qrs_duration_ms(median) for median in medians])
    assert np.isfinite(measured).all()
    assert stats.pearsonr(measured, table[s.QRS]).statistic > 0.85
    assert np.mean(np.abs(measured - table[s.QRS])) < 20


def test_qrs_duration_of_a_flat_beat_is_undefined_and_of_a_strip_refused():
    assert np.isnan(em.qrs_duration_ms(np.zeros((600, 12))))
    with pytest.raises(ValueError, match="median beat"):
        em.qrs_duration_ms(np.zeros(600))
