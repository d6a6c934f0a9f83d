"""Accuracy metrics against scikit-learn, the vectorised bootstrap, its coverage, and the subgroup table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from app.core import metrics
from app.core.metrics import (
    MIN_PER_CLASS,
    MIN_SUBJECTS,
    age_bands,
    bootstrap_metrics,
    confusion_counts,
    evaluate_group,
    held_out_test_predictions,
    insufficiency,
    level_masks,
    point_metrics,
    precision_recall_points,
    reliability_bins,
    roc_points,
    sort_subgroups,
    subgroup_table,
    weighted_metrics,
)


def _binary_sample(n: int, seed: int, prevalence: float = 0.2, rounded: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < prevalence
    risk = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.4 * labels - 1.5)))
    return labels, np.round(risk, 2) if rounded else risk  # rounding makes many ties


def _continuous_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(140, 30, n)  # an LV mass in grams: far from zero, as real values are
    return truth, 0.6 * truth + 50 + rng.normal(0, 15, n)


def _sklearn_binary(labels, scores, threshold, weights=None) -> dict[str, float]:
    flagged = scores >= threshold
    (tn, fp), (fn, tp) = skm.confusion_matrix(labels, flagged, sample_weight=weights)
    return {
        "auroc": skm.roc_auc_score(labels, scores, sample_weight=weights),
        "auprc": skm.average_precision_score(labels, scores, sample_weight=weights),
        "sensitivity": skm.recall_score(labels, flagged, sample_weight=weights),
        "specificity": tn / (tn + fp),
        "ppv": skm.precision_score(labels, flagged, sample_weight=weights),
        "npv": tn / (tn + fn),
        "brier": skm.brier_score_loss(labels, scores, sample_weight=weights),
    }


@pytest.mark.parametrize("rounded", [False, True], ids=["distinct scores", "tied scores"])
def test_binary_metrics_match_scikit_learn(rounded):
    labels, scores = _binary_sample(400, seed=1, rounded=rounded)
    ours = point_metrics("binary", labels, scores, threshold=0.3)
    assert ours == pytest.approx(_sklearn_binary(labels, scores, 0.3), abs=1e-12)


def test_bootstrap_weights_are_sample_weights_to_scikit_learn():
    """A resample is the sample with each subject counted as often as it was drawn: scikit-learn's sample_weight."""
    labels, scores = _binary_sample(300, seed=2, rounded=True)
    counts = np.random.default_rng(0).multinomial(300, np.full(300, 1 / 300), size=3).astype(float)
    ours = weighted_metrics("binary", labels, scores, counts, threshold=0.25)
    for row, weights in enumerate(counts):
        expected = _sklearn_binary(labels, scores, 0.25, weights)
        assert {name: values[row] for name, values in ours.items()} == pytest.approx(expected, abs=1e-10)
    truth, prediction = _continuous_sample(300, seed=2)
    ours = weighted_metrics("continuous", truth, prediction, counts)
    for row, weights in enumerate(counts):
        assert ours["r2"][row] == pytest.approx(skm.r2_score(truth, prediction, sample_weight=weights), abs=1e-10)
        assert ours["mae"][row] == pytest.approx(skm.mean_absolute_error(truth, prediction, sample_weight=weights), abs=1e-10)


def test_continuous_metrics_match_scikit_learn():
    truth, prediction = _continuous_sample(500, seed=3)
    ours = point_metrics("continuous", truth, prediction)
    assert ours["r2"] == pytest.approx(skm.r2_score(truth, prediction), abs=1e-12)
    assert ours["mae"] == pytest.approx(skm.mean_absolute_error(truth, prediction), abs=1e-10)
    assert ours["rmse"] == pytest.approx(skm.root_mean_squared_error(truth, prediction), abs=1e-10)
    assert ours["bias"] == pytest.approx(np.mean(prediction - truth), abs=1e-10)


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_bootstrap_is_seeded_and_equals_the_metrics_of_its_resamples(kind):
    truth, prediction = _binary_sample(250, seed=4, rounded=True) if kind == "binary" else _continuous_sample(250, seed=4)
    first = bootstrap_metrics(kind, truth, prediction, 0.3, n_resamples=300, seed=11)
    again = bootstrap_metrics(kind, truth, prediction, 0.3, n_resamples=300, seed=11)
    other = bootstrap_metrics(kind, truth, prediction, 0.3, n_resamples=300, seed=12)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
        assert not np.allclose(first[name], other[name])
    # The same counts, drawn from the same seed, through the float64 path: the float32 kernel agrees.
    kernel = metrics._kernel(kind, truth, prediction, 0.3)
    counts = metrics._resample_counts(np.random.default_rng(11), 300, len(truth)).astype(np.float64)
    order = np.argsort(kernel.order) if kernel.order is not None else slice(None)
    exact = weighted_metrics(kind, truth, prediction, counts[:, order], 0.3)  # counts are in the kernel's column order
    for name in first:
        np.testing.assert_allclose(first[name], exact[name], rtol=1e-5, atol=1e-6)


def test_bootstrap_memory_is_chunked_without_changing_results(monkeypatch):
    labels, scores = _binary_sample(200, seed=5)
    whole = bootstrap_metrics("binary", labels, scores, 0.3, n_resamples=100, seed=3)
    monkeypatch.setattr(metrics, "CHUNK_CELLS", 200 * 7)  # seven resamples at a time
    chunked = bootstrap_metrics("binary", labels, scores, 0.3, n_resamples=100, seed=3)
    for name in whole:
        np.testing.assert_allclose(whole[name], chunked[name], rtol=1e-6)


def test_percentile_intervals_cover_the_true_auroc_and_bias_about_95_percent_of_the_time():
    """Repeated samples from a binormal model with a known AUROC, and from errors with a known mean."""
    separation, n, repeats = 1.0, 200, 200
    true_auroc = norm.cdf(separation / np.sqrt(2))
    rng = np.random.default_rng(2024)
    auroc_hits = bias_hits = 0
    for repeat in range(repeats):
        labels = np.r_[np.zeros(n // 2), np.ones(n // 2)]
        scores = norm.cdf(rng.normal(size=n) + separation * labels)  # a monotone map: the AUROC is unchanged
        auroc = evaluate_group("sim", "binary", labels, scores, 0.5, n_resamples=400, seed=repeat).estimates["auroc"]
        auroc_hits += auroc.low <= true_auroc <= auroc.high
        truth = rng.normal(100, 20, n)
        bias = evaluate_group("sim", "continuous", truth, truth + 2.0 + rng.normal(0, 10, n), n_resamples=400, seed=repeat).estimates["bias"]
        bias_hits += bias.low <= 2.0 <= bias.high
    assert 0.88 <= auroc_hits / repeats <= 0.99
    assert 0.88 <= bias_hits / repeats <= 0.99


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([], "no test subjects"),
        ([0, 1] * 4, f"too few test subjects (n = 8; {MIN_SUBJECTS} needed)"),
        ([0] * 30, None),  # one class only: each metric asks for the class it needs (metrics.metric_insufficiency)
        ([1] * 12, None),
        ([1] * (MIN_PER_CLASS - 1) + [0] * 40, None),
        ([1] * 20 + [0] * 20, None),
    ],
)
def test_only_a_group_too_small_as_a_whole_is_refused_as_a_whole(labels, expected):
    assert insufficiency("binary", np.asarray(labels, dtype=float)) == expected


@pytest.mark.parametrize(
    ("labels", "flagged", "expected"),
    [
        ([1] * 12, 8, {"auroc": "needs cases and controls: all 12 test subjects are cases", "sensitivity": None,
                       "specificity": "needs controls: all 12 test subjects are cases", "ppv": None, "brier": None}),
        ([0] * 30, 8, {"auroc": "needs cases and controls: no cases among the 30 test subjects",
                       "sensitivity": "needs cases: none among the 30 test subjects", "specificity": None, "npv": None, "brier": None}),
        ([1] * (MIN_PER_CLASS - 1) + [0] * 40, 10,
         {"auroc": f"too few cases ({MIN_PER_CLASS - 1} cases, 40 controls; {MIN_PER_CLASS} of each needed)",
          "auprc": f"too few cases ({MIN_PER_CLASS - 1} cases, 40 controls; {MIN_PER_CLASS} of each needed)",
          "sensitivity": f"too few cases ({MIN_PER_CLASS - 1}; {MIN_PER_CLASS} needed)", "specificity": None}),
        ([1] * 20 + [0] * 20, 0, {"ppv": "no one at or above the threshold", "npv": None, "auroc": None}),
        ([1] * 20 + [0] * 20, 3, {"ppv": f"too few flagged (3 at or above the threshold; {MIN_PER_CLASS} needed)", "npv": None}),
        ([1] * 20 + [0] * 20, 38, {"ppv": None, "npv": f"too few below the threshold (2; {MIN_PER_CLASS} needed)"}),
        ([1] * 20 + [0] * 20, 20, dict.fromkeys(metrics.BINARY_METRICS)),
        ([0, 1] * 4, 4, dict.fromkeys(metrics.BINARY_METRICS, f"too few test subjects (n = 8; {MIN_SUBJECTS} needed)")),
    ],
)
def test_each_metric_asks_for_the_subjects_it_needs(labels, flagged, expected):
    labels = np.asarray(labels, dtype=float)
    scores = np.r_[np.zeros(len(labels) - flagged), np.ones(flagged)]  # the last `flagged` subjects are at or above the threshold
    reasons = metrics.metric_insufficiency("binary", labels, scores, 0.5)
    assert list(reasons) == list(metrics.BINARY_METRICS)
    assert {metric: reasons[metric] for metric in expected} == expected


def test_a_group_too_small_as_a_whole_has_its_reason_instead_of_every_number():
    result = evaluate_group("Women over 65", "binary", np.r_[np.zeros(4), np.ones(4)], np.linspace(0, 1, 8), 0.5)
    assert result.reason == f"too few test subjects (n = 8; {MIN_SUBJECTS} needed)" and result.n == 8 and result.cases == 4
    assert all(not estimate.available and estimate.reason == result.reason for estimate in result.estimates.values())
    constant = evaluate_group("x", "continuous", np.full(20, 150.0), np.linspace(100, 200, 20))
    assert constant.reason == "every one of the 20 test subjects has the same value"
    assert all(estimate.reason == constant.reason for estimate in constant.estimates.values())


def _one_class_sample(n: int, case: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n test subjects all of one class, with predicted risks spread on both sides of 0.5."""
    rng = np.random.default_rng(seed)
    return np.full(n, float(case)), rng.beta(4, 2, n) if case else rng.beta(2, 4, n)


def test_a_cohort_of_cases_only_has_its_sensitivity_with_an_interval_and_says_why_not_its_specificity():
    """The clinician's question: of my 88 AF patients, how many does the model flag?"""
    labels, scores = _one_class_sample(88, True, seed=21)
    result = evaluate_group("Saved: AF", "binary", labels, scores, 0.5, n_resamples=400)
    assert result.reason is None and (result.n, result.cases) == (88, 88)
    sensitivity = result.estimates["sensitivity"]
    assert sensitivity.available and sensitivity.value == pytest.approx(np.mean(scores >= 0.5))
    assert sensitivity.low < sensitivity.value < sensitivity.high and sensitivity.defined_resamples == 400
    assert np.percentile(bootstrap_metrics("binary", labels, scores, 0.5, 400, 0)["sensitivity"], [2.5, 97.5]) == pytest.approx(
        [sensitivity.low, sensitivity.high])
    specificity = result.estimates["specificity"]
    assert np.isnan(specificity.value) and specificity.reason == "needs controls: all 88 test subjects are cases"
    for metric in ("auroc", "auprc"):
        assert np.isnan(result.estimates[metric].value)
        assert result.estimates[metric].reason == "needs cases and controls: all 88 test subjects are cases"
    # PPV is 1 whatever the predictor does: shown as the counts give it, with no interval and the reason why.
    ppv, npv = result.estimates["ppv"], result.estimates["npv"]
    assert ppv.value == 1.0 and np.isnan(ppv.low) and not ppv.available and metrics.BY_CONSTRUCTION in ppv.reason and "no controls" in ppv.reason
    assert npv.value == 0.0 and np.isnan(npv.low) and not npv.available and npv.reason.startswith("= 0 by construction")
    brier = result.estimates["brier"]  # defined with one class: how far the predicted risks are from the outcome they all share
    assert brier.available and brier.value == pytest.approx(np.mean((1 - scores) ** 2)) and brier.low < brier.value < brier.high


def test_a_cohort_of_controls_only_has_its_specificity_with_an_interval_and_says_why_not_its_sensitivity():
    labels, scores = _one_class_sample(60, False, seed=22)
    result = evaluate_group("Saved: no AF", "binary", labels, scores, 0.5, n_resamples=400)
    assert result.reason is None and (result.n, result.cases) == (60, 0)
    specificity = result.estimates["specificity"]
    assert specificity.available and specificity.value == pytest.approx(np.mean(scores < 0.5))
    assert specificity.low < specificity.value < specificity.high
    sensitivity = result.estimates["sensitivity"]
    assert np.isnan(sensitivity.value) and sensitivity.reason == "needs cases: none among the 60 test subjects"
    assert result.estimates["auroc"].reason == "needs cases and controls: no cases among the 60 test subjects"
    ppv, npv = result.estimates["ppv"], result.estimates["npv"]
    assert ppv.value == 0.0 and np.isnan(ppv.high) and ppv.reason.startswith("= 0 by construction: no cases")
    assert npv.value == 1.0 and np.isnan(npv.high) and npv.reason.startswith("= 1 by construction: no cases")
    assert result.estimates["brier"].available


def test_a_group_with_three_cases_has_its_specificity_but_not_its_sensitivity():
    rng = np.random.default_rng(23)
    labels = np.r_[np.ones(3), np.zeros(57)]
    scores = np.clip(np.r_[rng.normal(0.7, 0.1, 3), rng.normal(0.3, 0.15, 57)], 0, 1)
    result = evaluate_group("small", "binary", labels, scores, 0.5, n_resamples=400)
    assert result.reason is None and result.cases == 3
    assert np.isnan(result.estimates["sensitivity"].value)
    assert result.estimates["sensitivity"].reason == f"too few cases (3; {MIN_PER_CLASS} needed)"
    specificity = result.estimates["specificity"]
    assert specificity.available and specificity.value == pytest.approx(np.mean(scores[3:] < 0.5)) and specificity.low < specificity.high
    assert result.estimates["auroc"].reason == f"too few cases (3 cases, 57 controls; {MIN_PER_CLASS} of each needed)"
    assert result.estimates["brier"].available


def test_a_group_with_enough_of_each_class_is_evaluated_as_before():
    """The normal case: every metric with its percentile interval from the same resamples, and no note."""
    labels, scores = _binary_sample(400, seed=24)
    result = evaluate_group("A", "binary", labels, scores, 0.3, n_resamples=300, seed=5)
    resampled = bootstrap_metrics("binary", labels, scores, 0.3, 300, 5)
    assert result.reason is None
    for metric, estimate in result.estimates.items():
        assert estimate.available and estimate.reason is None and estimate.defined_resamples == 300
        assert estimate.value == pytest.approx(_sklearn_binary(labels, scores, 0.3)[metric], abs=1e-12)
        assert [estimate.low, estimate.high] == pytest.approx(np.percentile(resampled[metric], [2.5, 97.5]))


def test_ppv_is_undefined_when_no_one_is_flagged_and_the_rest_still_has_numbers():
    labels, scores = _binary_sample(200, seed=6)
    result = evaluate_group("cohort", "binary", labels, scores, threshold=1.01, n_resamples=200)
    assert result.reason is None
    assert np.isnan(result.estimates["ppv"].value) and result.estimates["ppv"].reason == "no one at or above the threshold"
    assert result.estimates["sensitivity"].value == 0.0
    auroc = result.estimates["auroc"]
    assert auroc.available and auroc.low < auroc.value < auroc.high and auroc.defined_resamples == 200


def test_missing_outcomes_are_left_out():
    labels, scores = _binary_sample(100, seed=7)
    with_missing = np.r_[labels.astype(float), [np.nan, np.nan]]
    result = evaluate_group("x", "binary", with_missing, np.r_[scores, [0.5, 0.9]], 0.3, n_resamples=50)
    assert result.n == 100
    assert result.estimates["auroc"].value == pytest.approx(skm.roc_auc_score(labels, scores))


def test_curves_and_tables_match_scikit_learn():
    labels, scores = _binary_sample(300, seed=8, rounded=True)
    fpr, tpr, thresholds = roc_points(labels, scores)
    sk_fpr, sk_tpr, sk_thresholds = skm.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thresholds[1:], sk_thresholds[1:])
    recall, precision, cuts = precision_recall_points(labels, scores)
    sk_precision, sk_recall, sk_cuts = skm.precision_recall_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(recall, sk_recall[:-1][::-1])
    np.testing.assert_allclose(precision, sk_precision[:-1][::-1])
    np.testing.assert_allclose(cuts, sk_cuts[::-1])
    np.testing.assert_array_equal(confusion_counts(labels, scores, 0.3), skm.confusion_matrix(labels, scores >= 0.3))
    bins = reliability_bins(labels, scores, n_bins=8)
    observed, predicted = calibration_curve(labels, scores, n_bins=8, strategy="quantile")
    np.testing.assert_allclose(bins["observed"], observed)
    np.testing.assert_allclose(bins["predicted"], predicted)
    assert bins["n"].sum() == len(labels)


def test_held_out_predictions_never_include_training_subjects():
    phenotypes = pd.DataFrame({"atrial_fibrillation": [True, False, True, False, None], "lv_mass_g": [150.0, 120, 130, 160, 140]},
                              index=pd.Index(["S0", "S1", "S2", "S3", "S4"], name="sample_id"))
    rows = []
    for sample, split, fit in (("S0", "train", "cross-fit"), ("S1", "test", "held-out"), ("S2", "test", "held-out"), ("S3", "test", "cross-fit"),
                               ("S4", "test", "held-out")):
        rows.append({"sample_id": sample, "task": "atrial_fibrillation", "space": "ecg", "prediction": 0.4, "kind": "binary", "threshold": 0.2,
                     "split": split, "fit": fit})
        rows.append({"sample_id": sample, "task": "lv_mass_g", "space": "ecg", "prediction": 140.0, "kind": "continuous", "threshold": np.nan,
                     "split": split, "fit": fit})
    tasks = held_out_test_predictions(pd.DataFrame(rows), phenotypes)
    af = tasks[("atrial_fibrillation", "ecg")]
    assert af.rows.tolist() == [1, 2]  # S0 trained the model, S3 was cross-fitted, S4 has no known outcome
    assert af.truth.tolist() == [0.0, 1.0] and af.threshold == 0.2 and af.kind == "binary"
    mass = tasks[("lv_mass_g", "ecg")]
    assert mass.rows.tolist() == [1, 2, 4] and mass.threshold is None
    truth, prediction = mass.subset(np.array([False, False, True, False, True]))
    assert truth.tolist() == [130.0, 140.0] and prediction.tolist() == [140.0, 140.0]


def test_age_bands_and_level_masks():
    bands = age_bands(pd.Series([45.0, 54.9, 55.0, 64.99, 65.0, 74.0, 75.0, 82.0, np.nan]))
    assert bands.astype(object).where(bands.notna(), None).tolist() == ["< 55", "< 55", "55–64", "55–64", "65–74", "65–74", "≥ 75", "≥ 75", None]
    masks = level_masks(bands, ["< 55", "55–64", "65–74", "≥ 75"])
    assert list(masks) == ["< 55", "55–64", "65–74", "≥ 75"] and sum(m.sum() for m in masks.values()) == 8
    flags = level_masks(pd.Series([True, False, True]))
    assert flags["yes"].tolist() == [True, False, True] and flags["no"].tolist() == [False, True, False]


def test_subgroup_table_keeps_a_one_class_group_with_a_note_per_metric():
    labels, scores = _binary_sample(600, seed=25)
    cases_only = _one_class_sample(40, True, seed=26)
    table = subgroup_table("binary", [("everyone", labels, scores, 0.3), ("AF", *cases_only, 0.3), ("tiny", labels[:6], scores[:6], 0.3)],
                           n_resamples=200)
    af = table.iloc[1]
    assert af["note"] == ""  # not refused as a whole
    assert af["sensitivity"] == pytest.approx(np.mean(cases_only[1] >= 0.3)) and af["sensitivity_low"] < af["sensitivity_high"]
    assert af["sensitivity_note"] == ""
    assert np.isnan(af["specificity"]) and af["specificity_note"] == "needs controls: all 40 test subjects are cases"
    assert np.isnan(af["auroc"]) and af["auroc_note"].startswith("needs cases and controls")
    assert af["ppv"] == 1.0 and np.isnan(af["ppv_low"]) and "by construction" in af["ppv_note"]
    assert table.loc[2, "note"].startswith("too few test subjects") and table.loc[2, "sensitivity_note"] == table.loc[2, "note"]
    # Sorting by PPV: a value fixed by the group's make-up ranks after every value with an interval, before no value at all.
    assert sort_subgroups(table, "ppv", descending=True)["subgroup"].tolist() == ["everyone", "AF", "tiny"]
    assert sort_subgroups(table, "ppv", descending=False)["subgroup"].tolist() == ["everyone", "AF", "tiny"]
    assert sort_subgroups(table, "sensitivity", descending=False)["subgroup"].tolist()[-1] == "tiny"


def test_subgroup_table_has_intervals_notes_and_sorts_missing_last():
    labels, scores = _binary_sample(600, seed=9)
    groups = [("A", labels[:300], scores[:300], 0.3), ("B", labels[300:], scores[300:], 0.3), ("tiny", labels[:6], scores[:6], 0.3)]
    table = subgroup_table("binary", groups, n_resamples=200)
    assert table["subgroup"].tolist() == ["A", "B", "tiny"]
    assert table.loc[2, "note"].startswith("too few test subjects") and np.isnan(table.loc[2, "auroc"])
    first = table.iloc[0]
    assert first["auroc_low"] < first["auroc"] < first["auroc_high"]
    assert first["auroc"] == pytest.approx(skm.roc_auc_score(labels[:300], scores[:300]))
    ordered = sort_subgroups(table, "auroc", descending=True)
    assert ordered["subgroup"].iloc[-1] == "tiny" and ordered["auroc"].iloc[0] >= ordered["auroc"].iloc[1]
    assert sort_subgroups(table, "auroc", descending=False)["subgroup"].iloc[-1] == "tiny"


def test_subgroup_rows_carry_their_own_threshold_and_prevalence():
    rng = np.random.default_rng(5)
    labels = rng.random(300) < 0.2
    scores = np.clip(0.2 + 0.3 * labels + rng.normal(0, 0.2, 300), 0, 1)
    table = subgroup_table("binary", [("everyone", labels, scores, 0.061), ("ecg", labels, scores, 0.09), ("mri", labels, scores, 0.123)],
                           n_resamples=50)
    assert table["threshold"].tolist() == [0.061, 0.09, 0.123]
    assert table["prevalence"].tolist() == pytest.approx([labels.mean()] * 3)
    assert table.loc[1, "sensitivity"] == pytest.approx(point_metrics("binary", labels, scores, 0.09)["sensitivity"])


def _delong_by_pairs(labels: np.ndarray, score_sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DeLong (1988) written out over every case-control pair: AUROCs and their covariance matrix S10/m + S01/n."""
    labels = np.asarray(labels, dtype=bool)
    components_cases, components_controls, aurocs = [], [], []
    for scores in score_sets:
        cases, controls = scores[labels], scores[~labels]
        kernel = (cases[:, None] > controls[None, :]) + 0.5 * (cases[:, None] == controls[None, :])
        aurocs.append(kernel.mean())
        components_cases.append(kernel.mean(axis=1))
        components_controls.append(kernel.mean(axis=0))
    s10, s01 = np.atleast_2d(np.cov(components_cases)), np.atleast_2d(np.cov(components_controls))
    return np.array(aurocs), s10 / labels.sum() + s01 / (~labels).sum()


def _two_scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.3
    shared = rng.normal(0, 1, n)
    scores_a = np.round(labels * 1.0 + shared + rng.normal(0, 0.7, n), 1)  # rounded: ties count half
    scores_b = np.round(labels * 0.6 + shared + rng.normal(0, 0.7, n), 1)
    return labels, scores_a, scores_b


def test_paired_delong_matches_the_pairwise_formula_and_scikit_learn():
    labels, scores_a, scores_b = _two_scores(400, 1)
    result = metrics.auroc_difference_paired(labels, scores_a, scores_b)
    aurocs, covariance = _delong_by_pairs(labels, [scores_a, scores_b])
    assert result.auroc_a == pytest.approx(skm.roc_auc_score(labels, scores_a))
    assert result.auroc_b == pytest.approx(aurocs[1])
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    assert result.standard_error == pytest.approx(np.sqrt(variance))
    assert result.paired and result.low < result.difference < result.high
    assert result.p_value == pytest.approx(2 * norm.sf(abs(result.difference) / np.sqrt(variance)))
    # the shared component makes the paired interval narrower than treating the two as independent
    assert np.sqrt(variance) < np.sqrt(covariance[0, 0] + covariance[1, 1])


@pytest.mark.slow
def test_unpaired_delong_adds_the_two_groups_variances_and_agrees_with_a_bootstrap():
    labels_a, scores_a, _ = _two_scores(300, 2)
    labels_b, _, scores_b = _two_scores(500, 3)
    result = metrics.auroc_difference_unpaired(labels_a, scores_a, labels_b, scores_b)
    (auroc_a,), variance_a = _delong_by_pairs(labels_a, [scores_a])
    (auroc_b,), variance_b = _delong_by_pairs(labels_b, [scores_b])
    assert result.difference == pytest.approx(auroc_a - auroc_b) and not result.paired
    assert result.standard_error == pytest.approx(np.sqrt(variance_a[0, 0] + variance_b[0, 0]))
    rng = np.random.default_rng(0)
    resampled = []
    for _ in range(400):
        ia, ib = rng.integers(0, len(labels_a), len(labels_a)), rng.integers(0, len(labels_b), len(labels_b))
        resampled.append(skm.roc_auc_score(labels_a[ia], scores_a[ia]) - skm.roc_auc_score(labels_b[ib], scores_b[ib]))
    assert result.standard_error == pytest.approx(np.std(resampled), rel=0.15)


def test_delong_interval_covers_a_zero_difference_about_95_percent_of_the_time():
    covered = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        labels = rng.random(120) < 0.4
        signal = labels * 1.0 + rng.normal(0, 1, 120)
        result = metrics.auroc_difference_paired(labels, signal + rng.normal(0, 0.5, 120), signal + rng.normal(0, 0.5, 120))
        covered += result.low <= 0 <= result.high
    assert 0.91 <= covered / 300 <= 0.99


def test_an_auroc_difference_needs_cases_and_controls():
    with pytest.raises(ValueError, match="cases and controls"):
        metrics.auroc_difference_paired(np.zeros(10), np.arange(10.0), np.arange(10.0))
    with pytest.raises(ValueError, match="one label and two scores"):
        metrics.auroc_difference_paired(np.zeros(10), np.arange(10.0), np.arange(9.0))


def test_paired_scores_match_two_spaces_by_subject_inside_the_cohort():
    first = metrics.TaskPredictions("af", "joint", "binary", np.array([4, 1, 7, 2]), np.array([1.0, 0, 1, 0]), np.array([0.9, 0.1, 0.8, 0.2]), 0.5)
    second = metrics.TaskPredictions("af", "ecg", "binary", np.array([2, 4, 9, 1]), np.array([0.0, 1, 1, 0]), np.array([0.3, 0.6, 0.5, 0.4]), 0.5)
    truth, a, b = metrics.paired_scores(first, second)
    assert truth.tolist() == [0, 0, 1] and a.tolist() == [0.1, 0.2, 0.9] and b.tolist() == [0.4, 0.3, 0.6]  # subjects 1, 2, 4
    mask = np.zeros(10, dtype=bool)
    mask[[2, 4]] = True
    truth, a, b = metrics.paired_scores(first, second, mask)
    assert truth.tolist() == [0, 1] and a.tolist() == [0.2, 0.9] and b.tolist() == [0.3, 0.6]


def test_a_long_curve_is_drawn_from_a_few_hundred_points_that_trace_the_same_line():
    rng = np.random.default_rng(4)
    labels = rng.random(200_000) < 0.1
    scores = labels * 0.8 + rng.normal(size=labels.size)
    fpr, tpr, _ = metrics.roc_points(labels, scores)
    kept = metrics.along_curve(fpr, tpr)
    assert len(fpr) > 100_000 and len(kept) <= metrics.CURVE_POINTS
    assert kept[0] == 0 and kept[-1] == len(fpr) - 1 and np.all(np.diff(kept) > 0)
    # Everywhere along the false-positive axis the thinned curve stays within a hair of the full one.
    assert np.max(np.abs(np.interp(fpr, fpr[kept], tpr[kept]) - tpr)) < 0.01
    short = np.linspace(0, 1, 50)
    assert np.array_equal(metrics.along_curve(short, short), np.arange(50))


def test_a_group_is_resampled_once_however_often_and_by_however_many_threads_it_is_asked(monkeypatch):
    import threading
    import time

    computed = []
    real = metrics.bootstrap_metrics

    def slow_and_counted(*arguments):
        computed.append(arguments[3])
        time.sleep(0.2)  # long enough for the other thread to ask meanwhile
        return real(*arguments)

    monkeypatch.setattr(metrics, "bootstrap_metrics", slow_and_counted)
    monkeypatch.setattr(metrics, "_RESAMPLED", metrics._ResampleMemo(size=2))
    rng = np.random.default_rng(9)
    labels, scores = (rng.random(400) < 0.3).astype(float), rng.random(400)
    results = []
    threads = [threading.Thread(target=lambda: results.append(metrics.evaluate_group("A", "binary", labels.copy(), scores.copy(), 0.5, 200)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert computed == [0.5] and results[0].estimates == results[1].estimates  # the second thread waited for the first's result
    again = metrics.evaluate_group("B", "binary", labels, scores, 0.5, 200)
    assert computed == [0.5] and again.name == "B" and again.estimates == results[0].estimates
    metrics.evaluate_group("A", "binary", labels, scores, 0.6, 200)  # another threshold: other numbers
    metrics.evaluate_group("A", "binary", labels, 1 - scores, 0.5, 200)  # other predictions
    metrics.evaluate_group("A", "binary", labels, scores, 0.5, 200)  # pushed out by the two before (room for two)
    assert computed == [0.5, 0.6, 0.5, 0.5]


def test_large_groups_get_the_bag_of_little_bootstraps_with_the_full_bootstraps_intervals():
    rng = np.random.default_rng(12)
    n = metrics.LITTLE_BOOTSTRAP_FROM + 10_000
    labels = (rng.random(n) < 0.1).astype(float)
    scores = 1 / (1 + np.exp(-(np.where(labels > 0.5, 1.2, -1.2) + rng.normal(size=n))))
    truth = rng.normal(150, 30, n)
    for kind, y, predicted, threshold in (("binary", labels, scores, 0.5), ("continuous", truth, truth + rng.normal(0, 12, n), None)):
        full = metrics.bootstrap_metrics(kind, y, predicted, threshold, 1000, 0)
        little = metrics.resampled_metrics(kind, y, predicted, threshold, 1000, 0)
        assert np.array_equal(little["auroc" if kind == "binary" else "r2"],
                              metrics.little_bootstrap_metrics(kind, y, predicted, threshold, 1000, 0)["auroc" if kind == "binary" else "r2"])
        for metric, values in full.items():
            assert len(little[metric]) == 1000
            classic, bag = np.percentile(values, [2.5, 97.5]), np.percentile(little[metric], [2.5, 97.5])
            assert np.max(np.abs(classic - bag)) < 0.2 * (classic[1] - classic[0]), metric
    assert metrics.interval_method(n).startswith("bag of little bootstraps") and metrics.interval_method(500).startswith("bootstrap")
