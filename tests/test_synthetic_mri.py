"""The synthetic 4-chamber cine generator and the image-based chamber measures.

Drivers are built by hand here (not by the phenotype model) so each test controls exactly which
phenotype varies; the label maps give the ground truth the image measures are checked against.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats

from data_loaders import cohort_spec as spec
from data_loaders.mri_measures import fractional_area_change, left_atrial_max_area, lv_cavity_area_curve
from data_loaders.synthetic import mri
from data_loaders.synthetic import schema as s

NORMAL = {
    s.LVEDV: 140.0, s.LVESV: 56.0, spec.LV_MASS: 120.0, s.RVEDV: 150.0, s.RVEF: 56.0, spec.AF: False, s.AF_RHYTHM: False, spec.HF: False, spec.SEX: "male", s.BMI: 27.0,
}


def drivers(rows: list[dict]) -> pd.DataFrame:
    """A driver table: each row is NORMAL with some phenotypes changed."""
    return pd.DataFrame([{**NORMAL, **row} for row in rows])


def areas(labels: np.ndarray, label: int) -> np.ndarray:
    return (labels == label).sum(axis=(-2, -1))


@pytest.fixture(scope="module")
def sweep() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """40 subjects spanning ejection fractions from heart failure to hyperdynamic, with varied size and mass."""
    rng = np.random.default_rng(4)
    n = 40
    lvedv = rng.uniform(90, 240, n)
    lvef = np.linspace(22, 72, n)
    table = drivers(
        [
            {s.LVEDV: edv, s.LVESV: edv * (1 - ef / 100), spec.LV_MASS: mass, s.RVEDV: rvedv, s.RVEF: rvef,
             spec.HF: ef < 40, spec.AF: bool(af), spec.SEX: sex, s.BMI: bmi}
            for edv, ef, mass, rvedv, rvef, af, sex, bmi in zip(
                lvedv, lvef, rng.uniform(80, 220, n), lvedv * rng.uniform(0.9, 1.25, n), rng.uniform(35, 65, n),
                rng.random(n) < 0.2, rng.choice(["female", "male"], n), rng.uniform(19, 38, n), strict=True,
            )
        ]
    )
    table[spec.LVEF] = lvef
    table[s.AF_RHYTHM] = table[spec.AF]
    cines, labels = mri.synthesize_cines(table, np.arange(100, 100 + n), return_labels=True)
    return table, cines, labels


@pytest.fixture(scope="module")
def measured_lv(sweep) -> np.ndarray:
    """The image-measured LV area curves of the sweep, in pixels."""
    return lv_cavity_area_curve(sweep[1])


def test_cines_and_labels_have_the_documented_shape_type_and_range(sweep):
    table, cines, labels = sweep
    expected = (len(table), spec.CINE_FRAMES, spec.CINE_SIZE, spec.CINE_SIZE)
    assert cines.shape == labels.shape == expected
    assert cines.dtype == labels.dtype == np.uint8
    assert set(np.unique(labels)) == set(mri.LABEL_NAMES)
    assert cines.max() > 200 and np.percentile(cines, 5) < 30  # bright blood, dark lungs


def test_a_subject_depends_only_on_its_row_and_seed():
    table = drivers([{}, {spec.AF: True}, {spec.LV_MASS: 200.0}])
    seeds = np.array([7, 8, 9])
    batch, batch_labels = mri.synthesize_cines(table, seeds, return_labels=True)
    alone, alone_labels = mri.synthesize_cines(table.iloc[[1]], seeds[[1]], return_labels=True)
    np.testing.assert_array_equal(alone[0], batch[1])
    np.testing.assert_array_equal(alone_labels[0], batch_labels[1])
    np.testing.assert_array_equal(mri.synthesize_cines(table, seeds), batch)
    assert not np.array_equal(mri.synthesize_cines(table.iloc[[1]], np.array([99]))[0], batch[1])


def test_blood_pools_are_bright_and_myocardium_dark(sweep):
    _, cines, labels = sweep
    myocardium = cines[labels == mri.LV_MYOCARDIUM].mean()
    for pool in (mri.LV_BLOOD_POOL, mri.RV_BLOOD_POOL, mri.LEFT_ATRIUM, mri.RIGHT_ATRIUM):
        assert cines[labels == pool].mean() > max(150, 2 * myocardium), mri.LABEL_NAMES[pool]
    assert myocardium < 0.5 * mri.BLOOD_INTENSITY


def test_lv_cavity_area_follows_the_volume_curve(sweep):
    table, _, labels = sweep
    lv = areas(labels, mri.LV_BLOOD_POOL).astype(float)
    assert (lv[:, 0] == lv.max(axis=1)).all()  # frame 0 is end-diastole
    end_systole = lv.argmin(axis=1) / spec.CINE_FRAMES
    assert ((end_systole > 0.3) & (end_systole < 0.45)).all()
    expected_ratio = (table[s.LVESV] / table[s.LVEDV]).to_numpy() ** (2 / 3)  # area ∝ volume^(2/3)
    np.testing.assert_allclose(lv.min(axis=1) / lv[:, 0], expected_ratio, atol=0.04)


def test_image_fractional_area_change_tracks_ejection_fraction(sweep, measured_lv):
    table, _, labels = sweep
    fac = fractional_area_change(measured_lv)
    assert stats.spearmanr(fac, table[spec.LVEF]).statistic > 0.85
    label_fac = fractional_area_change(areas(labels, mri.LV_BLOOD_POOL))
    assert np.abs(fac - label_fac).max() < 0.06


def test_image_lv_area_matches_the_labels_frame_by_frame(sweep, measured_lv):
    truth = areas(sweep[2], mri.LV_BLOOD_POOL)
    relative_error = measured_lv / truth - 1
    assert abs(np.median(relative_error)) < 0.03
    assert np.percentile(np.abs(relative_error), 95) < 0.08


@pytest.mark.slow
def test_measures_survive_the_blur_of_a_reconstruction(sweep, measured_lv):
    cines = sweep[1]
    blurred = ndimage.gaussian_filter(cines.astype(np.float32), (0, 0, 1, 1))  # a reconstruction's softness
    blurred_curve = lv_cavity_area_curve(blurred)
    assert np.abs(fractional_area_change(blurred_curve) - fractional_area_change(measured_lv)).max() < 0.07
    assert np.median(np.abs(blurred_curve / measured_lv - 1)) < 0.05
    # A heavier, 2 px blur bridges the septum at the crux: the LV must still be measured alone.
    heavily_blurred = lv_cavity_area_curve(ndimage.gaussian_filter(cines.astype(np.float32), (0, 0, 2, 2)))
    assert np.median(heavily_blurred[:, 0] / measured_lv[:, 0]) < 1.1
    some = slice(0, len(cines), 4)
    assert np.abs(left_atrial_max_area(blurred[some]) / left_atrial_max_area(cines[some]) - 1).max() < 0.15


def test_area_in_mm2_scales_with_pixel_size(sweep, measured_lv):
    in_mm2 = lv_cavity_area_curve(sweep[1][:2], pixel_size_mm=mri.PIXEL_SPACING_MM)
    np.testing.assert_allclose(in_mm2, measured_lv[:2] * mri.PIXEL_SPACING_MM**2)


def test_lv_wall_grows_with_mass_and_thickens_in_systole():
    masses = [70.0, 110.0, 160.0, 220.0, 280.0]
    _, labels = mri.synthesize_cines(drivers([{spec.LV_MASS: m} for m in masses]), np.full(len(masses), 3), return_labels=True)
    wall, cavity = areas(labels, mri.LV_MYOCARDIUM), areas(labels, mri.LV_BLOOD_POOL)
    assert np.all(np.diff(wall[:, 0]) > 0)
    # The wall keeps its area while the cavity shrinks, so it is thicker at end-systole: thickness
    # ∝ wall area / mid-wall perimeter, and that perimeter ∝ √(cavity + half the wall) for a given shape.
    assert np.all(wall.max(axis=1) / wall.min(axis=1) < 1.15)
    thickness = wall / np.sqrt(cavity + wall / 2)
    end_systole = cavity.argmin(axis=1)
    assert np.all(thickness[np.arange(len(masses)), end_systole] > 1.1 * thickness[:, 0])


def test_rv_area_follows_rv_volume_and_ejection_fraction():
    volumes = [100.0, 140.0, 190.0, 250.0]
    _, labels = mri.synthesize_cines(drivers([{s.RVEDV: v} for v in volumes]), np.full(len(volumes), 5), return_labels=True)
    rv = areas(labels, mri.RV_BLOOD_POOL).astype(float)
    assert np.all(np.diff(rv[:, 0]) > 0)
    np.testing.assert_allclose(rv[:, 0] / rv[0, 0], (np.array(volumes) / volumes[0]) ** (2 / 3), rtol=0.08)
    np.testing.assert_allclose(rv.min(axis=1) / rv[:, 0], (1 - NORMAL[s.RVEF] / 100) ** (2 / 3), atol=0.05)


def test_atria_fill_while_the_ventricles_empty():
    _, labels = mri.synthesize_cines(drivers([{}, {s.LVEDV: 180.0, s.LVESV: 70.0}]), np.array([1, 2]), return_labels=True)
    for subject in labels:
        lv, la, ra = (areas(subject, label).astype(float) for label in (mri.LV_BLOOD_POOL, mri.LEFT_ATRIUM, mri.RIGHT_ATRIUM))
        assert abs(int(la.argmax()) - int(lv.argmin())) <= 3  # largest atrium at ventricular end-systole
        assert la[0] < 0.7 * la.max()
        assert np.corrcoef(lv, la)[0, 1] < -0.7
        assert np.corrcoef(areas(subject, mri.RV_BLOOD_POOL), ra)[0, 1] < -0.7


def test_left_atrium_is_larger_in_af_and_heart_failure_than_in_matched_controls():
    seeds = np.array([11, 12, 13])
    controls = drivers([{s.LVEDV: edv, s.LVESV: edv * 0.4} for edv in (120.0, 150.0, 180.0)])
    af = controls.assign(**{spec.AF: True, s.AF_RHYTHM: True})
    hf = controls.assign(**{spec.HF: True})
    paroxysmal = controls.assign(**{spec.AF: True})
    table = pd.concat([controls, af, hf, paroxysmal], ignore_index=True)
    cines, labels = mri.synthesize_cines(table, np.tile(seeds, 4), return_labels=True)
    label_la = areas(labels, mri.LEFT_ATRIUM).max(axis=1).reshape(4, -1)
    image_la = left_atrial_max_area(cines).reshape(4, -1)
    for la in (label_la, image_la):
        assert np.all(la[1] > 1.15 * la[0])  # AF rhythm
        assert np.all(la[2] > 1.1 * la[0])  # heart failure
        assert np.all(la[3] > 1.07 * la[0]) and np.all(la[3] < la[1])  # paroxysmal AF: larger, less so than in AF rhythm
    # No atrial kick in AF rhythm: the LV barely fills over the last fifth of the cycle; paroxysmal AF keeps its kick.
    lv = areas(labels, mri.LV_BLOOD_POOL).astype(float).reshape(4, len(seeds), -1)
    late_filling = (lv[..., 0] - lv[..., 40]) / lv[..., 0]
    assert np.all(late_filling[1] < 0.5 * late_filling[0])
    assert np.all(late_filling[3] > 0.8 * late_filling[0])


def test_bad_input_is_rejected_with_a_clear_error():
    with pytest.raises(KeyError, match=s.RVEDV):
        mri.synthesize_cines(drivers([{}]).drop(columns=[s.RVEDV]), np.array([1]))
    with pytest.raises(ValueError, match="seeds"):
        mri.synthesize_cines(drivers([{}, {}]), np.array([1]))
    with pytest.raises(ValueError, match=s.LVEDV):
        mri.synthesize_cines(drivers([{s.LVEDV: np.nan}]), np.array([1]))
    with pytest.raises(ValueError, match="frames"):
        lv_cavity_area_curve(np.zeros((50, 96, 96)))


def test_an_lv_seed_picks_the_same_pool_as_the_default(sweep, measured_lv):
    _, cines, labels = sweep
    rows, cols = np.nonzero(labels[0, 0] == mri.LV_BLOOD_POOL)
    centre = (int(np.median(rows)), int(np.median(cols)))
    np.testing.assert_array_equal(lv_cavity_area_curve(cines[:1], lv_seed=centre), measured_lv[:1])
    with pytest.raises(ValueError, match="lv_seed"):
        lv_cavity_area_curve(cines[:1], lv_seed=(0, 0))


@pytest.mark.slow
def test_the_lv_is_cut_from_the_atrium_where_the_closed_valve_is_not_drawn(sweep, measured_lv):
    """Decoders, cross-modal ones most, blur the thin closed valve away; the LV must not take in the atrium."""
    _, cines, labels = sweep

    def near(label: int) -> np.ndarray:
        return ndimage.binary_dilation(labels == label, structure=np.ones((1, 1, 5, 5), bool))

    pools = (labels == mri.LV_BLOOD_POOL) | (labels == mri.LEFT_ATRIUM)
    between = near(mri.LV_BLOOD_POOL) & near(mri.LEFT_ATRIUM)
    no_valve = np.where(pools | between, np.median(cines[labels == mri.LV_BLOOD_POOL]), cines).astype(np.float32)
    curves = lv_cavity_area_curve(ndimage.gaussian_filter(no_valve, (0, 0, 1, 1)))
    assert np.median(curves[:, 0] / measured_lv[:, 0]) < 1.25  # 1.44 when the atrium was taken in
    assert stats.spearmanr(fractional_area_change(curves), sweep[0][spec.LVEF]).statistic > 0.8
