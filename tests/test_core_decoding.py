"""Latent maths of the decoder panel: prototypes, directions, perturbation, interpolation, agreement measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.core import decoding
from data_loaders import cohort_spec
from models.predictors import fit_predictors


@pytest.fixture(scope="module")
def latents() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.normal(size=(400, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.5, 0.2])).astype(np.float32)


def test_mean_prototype_is_the_cohorts_mean_and_the_medoid_a_member(latents):
    mask = latents[:, 0] > 1
    assert np.allclose(decoding.cohort_prototype(latents, mask, "mean"), latents[mask].mean(axis=0), atol=1e-5)
    medoid = decoding.cohort_prototype(latents, mask, "medoid")
    assert any(np.array_equal(medoid, row) for row in latents[mask])
    with pytest.raises(ValueError, match="at least one subject"):
        decoding.cohort_prototype(latents, np.zeros(len(latents), dtype=bool))
    with pytest.raises(ValueError, match="kind"):
        decoding.cohort_prototype(latents, mask, "median")


def test_medoid_minimises_the_summed_distance_even_when_only_candidates_near_the_mean_are_tried(latents):
    members = latents[:150].astype(np.float64)
    totals = np.linalg.norm(members[:, None] - members[None], axis=2).sum(axis=1)
    assert decoding.medoid_index(members) == int(np.argmin(totals))
    assert decoding.medoid_index(members, candidates=30) == int(np.argmin(totals))


def test_closest_to_centre_orders_the_given_rows_by_distance_to_their_mean(latents):
    rows = np.arange(50, 90)
    chosen = decoding.closest_to_centre(latents, rows, 3)
    distance = np.linalg.norm(latents[rows] - latents[rows].mean(axis=0), axis=1)
    assert chosen.tolist() == rows[np.argsort(distance)[:3]].tolist()
    assert decoding.closest_to_centre(latents, [], 3).tolist() == []


def test_closest_to_centre_keeps_ties_in_the_given_order_across_chunks(monkeypatch):
    monkeypatch.setattr(decoding, "_CENTRE_CHUNK", 3)
    cross = np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [2, 0], [-2, 0], [0, 0]], dtype=np.float32)
    assert decoding.closest_to_centre(cross, np.arange(7), 3).tolist() == [6, 0, 1]
    assert decoding.closest_to_centre(cross, np.arange(7), 10).tolist() == [6, 0, 1, 2, 3, 4, 5]
    assert decoding.closest_to_centre(cross, [3, 2, 1, 0, 6], 5).tolist() == [6, 3, 2, 1, 0]
    assert decoding.closest_to_centre(cross, [3, 2], 0).tolist() == []


def test_principal_directions_are_unit_vectors_with_the_populations_spread(latents):
    first, second = decoding.principal_directions(latents, 2)
    assert np.isclose(np.linalg.norm(first.vector), 1.0, atol=1e-5) and abs(float(first.vector @ second.vector)) < 1e-5
    assert abs(first.vector[0]) > 0.99  # the widest axis of the test cloud
    assert first.spread == pytest.approx(np.std(latents @ first.vector, ddof=1), rel=1e-3)
    assert first.spread > second.spread


def test_perturbation_moves_by_population_sds_and_leaves_the_start_untouched(latents):
    (first,) = decoding.principal_directions(latents, 1)
    start = latents[0].copy()
    moved = decoding.perturb(start, [first], [2.0])
    assert np.array_equal(start, latents[0])
    assert float((moved - start) @ first.vector) == pytest.approx(2.0 * first.spread, rel=1e-4)
    assert np.allclose(decoding.perturb(start, [first], [0.0]), start)
    with pytest.raises(ValueError):
        decoding.perturb(start, [first], [1.0, 2.0])


def test_cohort_difference_points_from_b_to_a(latents):
    mask_a, mask_b = latents[:, 1] > 0, latents[:, 1] <= 0
    difference = decoding.cohort_difference(latents, mask_a, mask_b)
    gap = latents[mask_a].mean(axis=0) - latents[mask_b].mean(axis=0)
    assert np.allclose(difference.vector, gap / np.linalg.norm(gap), atol=1e-5)
    with pytest.raises(ValueError, match="no length"):
        decoding.direction("nothing", np.zeros(6), latents)


def test_interpolation_runs_straight_from_start_to_end_in_even_steps():
    start, end = np.zeros(4, np.float32), np.arange(4, dtype=np.float32)
    path = decoding.interpolate(start, end, 5)
    assert path.shape == (5, 4)
    assert np.array_equal(path[0], start) and np.allclose(path[-1], end)
    assert np.allclose(np.diff(path, axis=0), end / 4)
    with pytest.raises(ValueError):
        decoding.interpolate(start, end, 1)
    with pytest.raises(ValueError):
        decoding.interpolate(start, np.zeros(3, np.float32), 3)


def test_a_step_along_a_predictors_direction_moves_its_prediction_the_expected_way():
    rng = np.random.default_rng(3)
    n = 400
    latents = rng.normal(size=(n, 8)).astype(np.float32)
    risk = latents[:, 0] - 0.5 * latents[:, 2]
    phenotypes = pd.DataFrame(
        {cohort_spec.AF: rng.random(n) < 1 / (1 + np.exp(-2 * risk)), cohort_spec.LVEF: 60 - 4 * latents[:, 1] + rng.normal(0, 1, n),
         cohort_spec.SPLIT: np.where(np.arange(n) < 300, "train", "test")},
        index=pd.Index([f"S{i:04d}" for i in range(n)], name="sample_id"),
    )
    predictors, _ = fit_predictors({"joint": latents}, phenotypes, tasks=[cohort_spec.AF, cohort_spec.LVEF])
    start = latents[:5].mean(axis=0)
    for task in (cohort_spec.AF, cohort_spec.LVEF):
        along = decoding.direction(task, predictors.direction(task, "joint"), latents)
        steps = np.stack([decoding.perturb(start, [along], [amount]) for amount in (-2.0, -1.0, 0.0, 1.0, 2.0)])
        predictions = predictors[task, "joint"].predict(steps)
        assert np.all(np.diff(predictions) > 0), f"{task}: {predictions}"
        path = decoding.interpolate(steps[0], steps[-1], 4)
        assert np.all(np.diff(predictors[task, "joint"].predict(path)) > 0)


def test_cine_agreement_follows_the_lv_cavity_of_synthetic_cines(small_cohort_dir):
    from data_loaders import load_cohort

    cohort = load_cohort(small_cohort_dir)
    cines = cohort.mri(list(cohort.subject_ids[:2]))
    flat = np.full_like(cines[:1], 0.5)
    same, unrelated = decoding.cine_agreement(cines, np.concatenate([cines[:1], flat]))
    assert same.truth_area.shape == (cines.shape[1],) and np.isfinite(same.truth_area).all()
    assert same.curve_correlation == pytest.approx(1.0) and same.truth_fac == pytest.approx(same.decoded_fac)
    assert 0.1 < same.truth_fac < 0.8
    assert np.isnan(unrelated.curve_correlation) and unrelated.decoded_fac == 0.0  # a motionless cine: no correlation, no area change
    assert same.area_error_pct == 0.0


def test_the_lv_area_error_sees_the_size_offset_the_correlation_cannot():
    """A decoded cavity 20 % too large all cycle long had r = 1.00 and nothing beside it to say so."""
    truth = 1000 + 200 * np.sin(np.linspace(0, 2 * np.pi, 50))
    assert decoding.area_error(truth, 1.2 * truth) == pytest.approx(20.0)
    assert decoding.area_error(truth, truth) == 0.0
    assert np.isnan(decoding.area_error(truth, np.where(np.arange(50) == 3, np.nan, truth)))  # a frame without a cavity


def test_a_recorded_cines_lv_curve_is_measured_once_per_process(small_cohort_dir, monkeypatch):
    from app import context as app_context
    from data_loaders import load_cohort
    from data_loaders.mri_measures import lv_area_curves

    cohort = load_cohort(small_cohort_dir)
    ids = list(cohort.subject_ids[:3])
    cines = cohort.mri(ids)
    measured: list[int] = []
    monkeypatch.setattr(app_context, "lv_area_curves", lambda stack: measured.append(len(stack)) or lv_area_curves(stack))
    memo = app_context.LvAreaMemo()
    first = memo(ids[:2], cines[:2])
    again = memo([ids[2], ids[0]], cines[[2, 0]])
    np.testing.assert_array_equal(first, lv_area_curves(cines[:2]))
    np.testing.assert_array_equal(again, lv_area_curves(cines[[2, 0]]))
    assert measured == [2, 1]  # the second call measured the new subject only
