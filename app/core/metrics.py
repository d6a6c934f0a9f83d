"""Predictor accuracy per cohort: binary and continuous metrics with bootstrap confidence intervals.

Every metric is written once, for a matrix of subject weights (one row per bootstrap resample,
each entry how often a subject was drawn); the point estimate is the same code with a row of
ones. That makes 2,000 resamples a handful of matrix products instead of 2,000 Python loops.
Only out-of-sample predictions belong here: :func:`held_out_test_predictions` keeps the test split.
No Dash: the accuracy panel and the tests call these functions directly.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data_loaders import cohort_spec

BINARY_METRICS = ("auroc", "auprc", "sensitivity", "specificity", "ppv", "npv", "brier")
CONTINUOUS_METRICS = ("r2", "mae", "rmse", "bias")
THRESHOLD_METRICS = ("sensitivity", "specificity", "ppv", "npv")
METRIC_LABELS = {
    "auroc": "AUROC",
    "auprc": "AUPRC",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "brier": "Brier score",
    "r2": "R²",
    "mae": "MAE",
    "rmse": "RMSE",
    "bias": "Bias (predicted − true)",
}
HIGHER_IS_BETTER = {"auroc": True, "auprc": True, "sensitivity": True, "specificity": True, "ppv": True, "npv": True,
                    "brier": False, "r2": True, "mae": False, "rmse": False, "bias": None}
METRIC_UNITS_FOLLOW_TASK = ("mae", "rmse", "bias")  # in the task's unit (g, %); the others are unitless

MIN_SUBJECTS = 10  # a group with fewer test subjects gets no metric at all
MIN_PER_CLASS = 5  # the fewest subjects a proportion or a ranking is estimated from: see METRIC_NEEDS
N_RESAMPLES = 2000
CONFIDENCE = 0.95
CHUNK_CELLS = 2_500_000  # resample weights held at once (rows × subjects): about 20 MB of float64
# Groups this large get the bag of little bootstraps (little_bootstrap_metrics): LITTLE_SUBSETS subsets of
# max(LITTLE_SUBSET_MIN, n^LITTLE_SUBSET_EXPONENT) subjects, instead of resampling all n subjects 2,000 times.
LITTLE_BOOTSTRAP_FROM = 50_000
LITTLE_SUBSETS = 10
LITTLE_SUBSET_MIN = 3_000
LITTLE_SUBSET_EXPONENT = 0.65
CURVE_POINTS = 800  # a drawn ROC or PR curve keeps at most this many points (see along_curve)
AGE_BANDS = ((None, 55, "< 55"), (55, 65, "55–64"), (65, 75, "65–74"), (75, None, "≥ 75"))
# What each binary metric needs of a group of at least MIN_SUBJECTS test subjects, beyond them (metric_insufficiency): a metric is shown
# when its subjects are there, so a cohort of cases only still has its sensitivity. Brier needs nothing more: it is the
# mean squared distance of each subject's predicted risk from their own outcome, defined with one class.
METRIC_NEEDS = {
    "auroc": f"{MIN_PER_CLASS} cases and {MIN_PER_CLASS} controls",
    "auprc": f"{MIN_PER_CLASS} cases and {MIN_PER_CLASS} controls",
    "sensitivity": f"{MIN_PER_CLASS} cases",
    "specificity": f"{MIN_PER_CLASS} controls",
    "ppv": f"{MIN_PER_CLASS} subjects at or above the threshold",
    "npv": f"{MIN_PER_CLASS} subjects below the threshold",
    "brier": None,  # nothing beyond MIN_SUBJECTS test subjects
}
BY_CONSTRUCTION = "by construction"  # in the reason of a PPV or NPV that a group with one class only fixes whatever the predictor does


def metric_names(kind: str) -> tuple[str, ...]:
    return BINARY_METRICS if kind == "binary" else CONTINUOUS_METRICS


# --- kernels: metrics for every row of a weight matrix -------------------------------------------------------------

class _BinaryKernel:
    """Binary metrics for weight matrices whose columns are the subjects in :attr:`order`: controls, then cases, each by score.

    With that order one cumulative sum along the rows gives, for every case, the weight of the
    controls scored below it (AUROC as Mann–Whitney, ties counted half) and of everyone flagged
    at its score (precision for average precision), and the counts at the threshold; one
    matrix-vector product gives the Brier score.
    """

    def __init__(self, labels: np.ndarray, scores: np.ndarray, threshold: float):
        labels = np.asarray(labels) > 0.5
        scores = np.asarray(scores, dtype=np.float64)
        controls, cases = np.flatnonzero(~labels), np.flatnonzero(labels)
        controls, cases = controls[np.argsort(scores[controls], kind="stable")], cases[np.argsort(scores[cases], kind="stable")]
        self.order = np.r_[controls, cases]
        self.n_controls = len(controls)
        control_scores, case_scores = scores[controls], scores[cases]
        self.below = np.searchsorted(control_scores, case_scores, side="left")  # controls scored below each case
        self.level = np.searchsorted(control_scores, case_scores, side="right")  # … or level with it
        self.first_level_case = self.n_controls + np.searchsorted(case_scores, case_scores, side="left")
        # Flagged subjects (score ≥ threshold) are a run at the top of each block: counted from the running sum, no product needed.
        self.first_flagged_control = int(np.searchsorted(control_scores, threshold, side="left"))
        self.first_flagged_case = self.n_controls + int(np.searchsorted(case_scores, threshold, side="left"))
        self.squared_error = (scores[self.order] - labels[self.order]) ** 2

    def __call__(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics per row of ``weights`` (n_resamples, n_subjects), columns in :attr:`order`."""
        n_rows, n = weights.shape
        running = np.zeros((n_rows, n + 1), dtype=weights.dtype)
        np.cumsum(weights, axis=1, out=running[:, 1:])
        everyone, controls_all = running[:, n:], running[:, self.n_controls : self.n_controls + 1]
        controls = controls_all[:, 0].astype(np.float64)
        cases = everyone[:, 0].astype(np.float64) - controls
        case_weights = weights[:, self.n_controls :]
        true_pos = (running[:, n] - running[:, self.first_flagged_case]).astype(np.float64)
        false_pos = (running[:, self.n_controls] - running[:, self.first_flagged_control]).astype(np.float64)
        squared_error = (weights @ self.squared_error.astype(weights.dtype)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            if 0 < self.n_controls < n:
                controls_below = 0.5 * (running[:, self.below] + running[:, self.level])
                # Row sums along contiguous rows are pairwise in numpy: accurate in float32.
                auroc = (case_weights * controls_below).sum(axis=1, dtype=np.float64) / (cases * controls)
                # Average precision as scikit-learn defines it: precision at each distinct score, weighted by the recall gained there.
                flagged_cases = everyone - running[:, self.first_level_case]
                flagged = flagged_cases + (controls_all - running[:, self.below])
                precision = np.divide(flagged_cases, flagged, out=np.zeros_like(flagged), where=flagged > 0)
                auprc = (case_weights * precision).sum(axis=1, dtype=np.float64) / cases
            else:  # one class only (a cohort of cases, say): nothing ranked against anything, so no work spent on it (same values)
                auroc = np.full(n_rows, np.nan)
                auprc = np.where(cases > 0, 1.0, np.nan) if self.n_controls == 0 else auroc  # cases only: every precision is 1
            false_neg, true_neg = cases - true_pos, controls - false_pos
            return {
                "auroc": auroc,
                "auprc": auprc,
                "sensitivity": true_pos / cases,
                "specificity": true_neg / controls,
                "ppv": true_pos / (true_pos + false_pos),
                "npv": true_neg / (true_neg + false_neg),
                "brier": squared_error / (cases + controls),
            }


class _ContinuousKernel:
    """R², MAE, RMSE and bias (mean of predicted − true) for weight matrices, from one matrix product."""

    order = None

    def __init__(self, truth: np.ndarray, prediction: np.ndarray):
        truth, prediction = np.asarray(truth, dtype=np.float64), np.asarray(prediction, dtype=np.float64)
        centred = truth - truth.mean()  # centring keeps the sum of squares exact for values far from zero
        error = prediction - truth
        self.columns = np.column_stack([np.ones_like(truth), error, np.abs(error), error**2, centred, centred**2])

    def __call__(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics per row of ``weights`` (n_resamples, n_subjects)."""
        total, error, absolute, squared, centred, centred_squared = (weights @ self.columns.astype(weights.dtype)).T.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = centred_squared - centred**2 / total
            return {"r2": 1.0 - squared / spread, "mae": absolute / total, "rmse": np.sqrt(squared / total), "bias": error / total}


def _kernel(kind: str, truth: np.ndarray, prediction: np.ndarray, threshold: float | None) -> _BinaryKernel | _ContinuousKernel:
    if kind == "binary":
        return _BinaryKernel(truth, prediction, 0.5 if threshold is None else float(threshold))
    return _ContinuousKernel(truth, prediction)


def weighted_metrics(kind: str, truth: np.ndarray, prediction: np.ndarray, weights: np.ndarray,
                     threshold: float | None = None) -> dict[str, np.ndarray]:
    """Every metric of ``kind`` for each row of ``weights`` (n_rows, n_subjects): how often each subject counts.

    A row of ones is the ordinary estimate; a row of bootstrap counts is one resample.
    """
    kernel = _kernel(kind, truth, prediction, threshold)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    return kernel(weights if kernel.order is None else weights[:, kernel.order])


def point_metrics(kind: str, truth: np.ndarray, prediction: np.ndarray, threshold: float | None = None) -> dict[str, float]:
    """The metrics on the subjects as they are (no resampling)."""
    values = weighted_metrics(kind, truth, prediction, np.ones((1, len(truth))), threshold)
    return {name: float(value[0]) for name, value in values.items()}


def _resample_counts(rng: np.random.Generator, n_resamples: int, n_subjects: int) -> np.ndarray:
    """How often each subject is drawn in each resample of ``n_subjects`` with replacement: (n_resamples, n_subjects).

    float32 holds these counts, and the sums of them the kernels take, exactly; it halves the memory traffic.
    """
    draws = rng.integers(0, n_subjects, size=(n_resamples, n_subjects))
    counts = np.empty((n_resamples, n_subjects), dtype=np.float32)
    for resample, drawn in enumerate(draws):  # one resample at a time: the counting stays in cache
        counts[resample] = np.bincount(drawn, minlength=n_subjects)
    return counts


def bootstrap_metrics(kind: str, truth: np.ndarray, prediction: np.ndarray, threshold: float | None = None,
                      n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, np.ndarray]:
    """Each metric on ``n_resamples`` resamples of the subjects (with replacement); NaN where a resample leaves it undefined.

    Seeded: the same data and seed give the same resamples. Resamples are made in chunks so that
    memory stays bounded at any cohort size.
    """
    kernel = _kernel(kind, truth, prediction, threshold)
    n = len(truth)
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_CELLS // max(n, 1))
    # Subjects are exchangeable under resampling, so counts are drawn straight in the kernel's column order.
    parts = [kernel(_resample_counts(rng, rows, n)) for rows in _chunks(n_resamples, chunk)]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def little_bootstrap_metrics(kind: str, truth: np.ndarray, prediction: np.ndarray, threshold: float | None = None,
                             n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, np.ndarray]:
    """The bag of little bootstraps (Kleiner et al., 2014) for a large group: ``n_resamples`` values per metric spread as the classic bootstrap's.

    The classic bootstrap costs ``n_resamples`` × n (3.8 s for the 200,000 test subjects of a million).
    Here ``LITTLE_SUBSETS`` subsets of b = max(3,000, n^0.65) distinct subjects are each resampled up to
    the group's size n, by Poisson counts of mean n/b over their b subjects (the Poisson bootstrap: half
    the cost of exact multinomial counts, and every metric is a ratio, so the total need not be exactly n),
    so a resample costs b. Each resample's deviation from its subset's own estimate, added to the whole
    group's estimate, stands for one classic resample; their percentiles are the interval. Seeded like
    :func:`bootstrap_metrics`.
    """
    truth, prediction = np.asarray(truth, dtype=np.float64), np.asarray(prediction, dtype=np.float64)
    n = len(truth)
    subset_size = min(n, max(LITTLE_SUBSET_MIN, int(n**LITTLE_SUBSET_EXPONENT)))
    whole = point_metrics(kind, truth, prediction, threshold)
    rng = np.random.default_rng(seed)
    parts = []
    for resamples in np.diff(np.linspace(0, n_resamples, LITTLE_SUBSETS + 1).astype(int)):
        chosen = rng.choice(n, size=subset_size, replace=False)
        kernel = _kernel(kind, truth[chosen], prediction[chosen], threshold)
        centre = {metric: float(value[0]) for metric, value in kernel(np.ones((1, subset_size))).items()}  # a ratio: weights n/b or 1 alike
        counts = rng.poisson(n / subset_size, size=(resamples, subset_size)).astype(np.float32)
        resampled = kernel(counts)
        parts.append({metric: whole[metric] + (values - centre[metric]) for metric, values in resampled.items()})
    return {metric: np.concatenate([part[metric] for part in parts]) for metric in parts[0]}


def resampled_metrics(kind: str, truth: np.ndarray, prediction: np.ndarray, threshold: float | None = None,
                      n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, np.ndarray]:
    """The classic bootstrap below ``LITTLE_BOOTSTRAP_FROM`` subjects, the bag of little bootstraps from there."""
    if len(truth) >= LITTLE_BOOTSTRAP_FROM:
        return little_bootstrap_metrics(kind, truth, prediction, threshold, n_resamples, seed)
    return bootstrap_metrics(kind, truth, prediction, threshold, n_resamples, seed)


def interval_method(n_subjects: int) -> str:
    """How a group of this size gets its intervals, in words for the page and the exports."""
    if n_subjects >= LITTLE_BOOTSTRAP_FROM:
        return f"bag of little bootstraps ({LITTLE_SUBSETS} subsets, {N_RESAMPLES:,} resamples)"
    return f"bootstrap ({N_RESAMPLES:,} resamples)"


class _ResampleMemo:
    """Bootstrap results remembered by the data they came from, so the same group is resampled once per process.

    At a million subjects the test split has 200,000, and 2,000 resamples of it take seconds: the
    Accuracy tab's two callbacks both evaluate everyone, a cohort of women and the sex breakdown's
    "female" are the same subjects, and an unchanged cohort is asked again when only the breakdown
    changes. The key is a digest of the arrays and settings (a pure function's inputs, nothing about
    the user); a caller asking for what another thread is computing waits for that result. Bounded:
    the least recently used results go first.
    """

    def __init__(self, size: int):
        self.size, self.lock, self.results = size, threading.Lock(), OrderedDict()

    def get(self, kind: str, truth: np.ndarray, prediction: np.ndarray, threshold: float | None, n_resamples: int, seed: int
            ) -> dict[str, np.ndarray]:
        digest = hashlib.blake2b(repr((kind, threshold, n_resamples, seed, len(truth))).encode(), digest_size=16)
        digest.update(np.ascontiguousarray(truth, dtype=np.float64).data)
        digest.update(np.ascontiguousarray(prediction, dtype=np.float64).data)
        key = digest.digest()
        with self.lock:
            future = self.results.get(key)
            computing = future is None
            if computing:
                future = self.results[key] = Future()
                while len(self.results) > self.size:
                    self.results.popitem(last=False)
            else:
                self.results.move_to_end(key)
        if computing:
            try:
                resampled = resampled_metrics(kind, truth, prediction, threshold, n_resamples, seed)
            except BaseException as error:
                with self.lock:
                    self.results.pop(key, None)
                future.set_exception(error)
                raise
            for values in resampled.values():
                values.setflags(write=False)  # shared between callers
            future.set_result(resampled)
        return future.result()


_RESAMPLED = _ResampleMemo(size=64)  # about 110 kB a binary group


def _chunks(total: int, size: int) -> Iterator[int]:
    for start in range(0, total, size):
        yield min(size, total - start)


# --- estimates with intervals, and why there is no number ------------------------------------------------------------

@dataclass(frozen=True)
class MetricEstimate:
    """One metric for one group: the estimate and its percentile bootstrap interval, or why there is none."""

    metric: str
    value: float = np.nan
    low: float = np.nan
    high: float = np.nan
    reason: str | None = None  # shown instead of a number, or instead of the interval of a number that has none
    defined_resamples: int = 0  # resamples in which the metric was defined (a resample can lose every case)

    @property
    def available(self) -> bool:
        return self.reason is None and np.isfinite(self.value)


@dataclass(frozen=True)
class GroupMetrics:
    """Every metric of one task for one group of test subjects (a cohort, its complement, everyone, a subgroup)."""

    name: str
    kind: str
    n: int
    cases: int | None  # binary tasks: subjects with the outcome
    reason: str | None  # why the group has no metrics at all (too few test subjects); a metric lacking its own subjects says so in its estimate
    estimates: dict[str, MetricEstimate] = field(default_factory=dict)
    threshold: float | None = None

    @property
    def prevalence(self) -> float:
        """Share of the group with the outcome (binary tasks; NaN otherwise): PPV, NPV and the Brier score move with it."""
        return self.cases / self.n if self.cases is not None and self.n else float("nan")


def insufficiency(kind: str, truth: np.ndarray) -> str | None:
    """Why a group cannot be evaluated at all (no test subjects, too few, a continuous outcome that never varies), or None.

    A yes/no outcome's classes are not asked for here: each metric asks for the subjects it needs
    (:func:`metric_insufficiency`), so a cohort of cases only keeps its sensitivity.
    """
    n = len(truth)
    if n == 0:
        return "no test subjects"
    if n < MIN_SUBJECTS:
        return f"too few test subjects (n = {n:,}; {MIN_SUBJECTS:,} needed)"
    if kind != "binary":
        return None if np.ptp(truth) > 0 else f"every one of the {n} test subjects has the same value"
    return None


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _class_reasons(n: int, cases: int) -> dict[str, str | None]:
    """Why sensitivity, specificity, AUROC and AUPRC cannot be estimated from this many cases among n (None: they can)."""
    controls = n - cases
    if cases == 0:
        both = f"needs cases and controls: no cases among the {n:,} test subjects"
    elif controls == 0:
        both = f"needs cases and controls: all {n:,} test subjects are cases"
    elif min(cases, controls) < MIN_PER_CLASS:
        rarer = "cases" if cases < controls else "controls"
        both = f"too few {rarer} ({_plural(cases, 'case')}, {_plural(controls, 'control')}; {MIN_PER_CLASS} of each needed)"
    else:
        both = None
    sensitivity = (f"needs cases: none among the {n:,} test subjects" if cases == 0
                   else f"too few cases ({cases:,}; {MIN_PER_CLASS} needed)" if cases < MIN_PER_CLASS else None)
    specificity = (f"needs controls: all {n:,} test subjects are cases" if controls == 0
                   else f"too few controls ({controls:,}; {MIN_PER_CLASS} needed)" if controls < MIN_PER_CLASS else None)
    return {"auroc": both, "auprc": both, "sensitivity": sensitivity, "specificity": specificity}


def _threshold_reasons(n: int, flagged: int) -> dict[str, str | None]:
    """Why PPV and NPV cannot be estimated with this many of n subjects flagged (None: they can)."""
    unflagged = n - flagged
    ppv = ("no one at or above the threshold" if flagged == 0
           else f"too few flagged ({flagged:,} at or above the threshold; {MIN_PER_CLASS} needed)" if flagged < MIN_PER_CLASS else None)
    npv = ("no one below the threshold" if unflagged == 0
           else f"too few below the threshold ({unflagged:,}; {MIN_PER_CLASS} needed)" if unflagged < MIN_PER_CLASS else None)
    return {"ppv": ppv, "npv": npv}


def metric_insufficiency(kind: str, truth: np.ndarray, prediction: np.ndarray, threshold: float | None = None) -> dict[str, str | None]:
    """Why each metric cannot be estimated on this group, or None where it can (see :data:`METRIC_NEEDS`).

    A group too small as a whole (:func:`insufficiency`) gives that reason for every metric. Otherwise,
    for a yes/no outcome: sensitivity needs ``MIN_PER_CLASS`` cases, specificity as many controls, AUROC
    and AUPRC (rankings of cases above controls) as many of each, PPV as many subjects flagged (predicted
    risk ≥ threshold) and NPV as many below the threshold; the Brier score needs no more than the group.
    Counting costs two passes over the group, whatever its size.
    """
    truth = np.asarray(truth, dtype=np.float64)
    reason = insufficiency(kind, truth)
    if reason is not None or kind != "binary":
        return {metric: reason for metric in metric_names(kind)}
    n = len(truth)
    cases = int(np.count_nonzero(truth > 0.5))
    flagged = int(np.count_nonzero(np.asarray(prediction, dtype=np.float64) >= (0.5 if threshold is None else float(threshold))))
    reasons = {**_class_reasons(n, cases), **_threshold_reasons(n, flagged), "brier": None}
    return {metric: reasons[metric] for metric in BINARY_METRICS}


def by_construction(metric: str, n: int, cases: int) -> str | None:
    """Why a PPV or NPV says nothing about the predictor in a group with one class only, or None.

    With no controls no one flagged can be a false positive, so PPV is 1 whatever the predictor
    does (and NPV 0: everyone below the threshold is a missed case); with no cases the reverse. Such
    a value is shown, as the counts give it, but without an interval (every resample gives it) and
    with this reason, and it is not compared with other groups (forest plot, sorting, disparities).
    """
    if metric not in ("ppv", "npv") or 0 < cases < n:
        return None
    if cases == n:  # cases only
        return (f"= 1 {BY_CONSTRUCTION}: no controls here, so no one flagged can be a false positive" if metric == "ppv"
                else f"= 0 {BY_CONSTRUCTION}: no controls here, so everyone below the threshold is a missed case")
    return (f"= 0 {BY_CONSTRUCTION}: no cases here, so everyone flagged is a false positive" if metric == "ppv"
            else f"= 1 {BY_CONSTRUCTION}: no cases here, so no one below the threshold can be a missed case")


def evaluate_group(name: str, kind: str, truth: np.ndarray, prediction: np.ndarray, threshold: float | None = None,
                   n_resamples: int = N_RESAMPLES, seed: int = 0, confidence: float = CONFIDENCE) -> GroupMetrics:
    """Every metric with a (percentile) bootstrap interval over resampled subjects, or the reason there is none.

    A group too small as a whole has its reason for every metric (``GroupMetrics.reason``); otherwise
    each metric has its own (:func:`metric_insufficiency`), so a cohort of cases only still gets its
    sensitivity with an interval, and its specificity says that it needs controls.
    """
    truth, prediction = np.asarray(truth, dtype=np.float64), np.asarray(prediction, dtype=np.float64)
    known = np.isfinite(truth) & np.isfinite(prediction)
    truth, prediction = truth[known], prediction[known]
    cases = int((truth > 0.5).sum()) if kind == "binary" else None
    reason = insufficiency(kind, truth)
    if reason is not None:
        return GroupMetrics(name, kind, len(truth), cases, reason, {m: MetricEstimate(m, reason=reason) for m in metric_names(kind)}, threshold)
    needs = metric_insufficiency(kind, truth, prediction, threshold)
    point = point_metrics(kind, truth, prediction, threshold)
    resampled = _RESAMPLED.get(kind, truth, prediction, threshold, n_resamples, seed)
    tail = 100 * (1 - confidence) / 2
    estimates = {}
    for metric in metric_names(kind):
        values = resampled[metric][np.isfinite(resampled[metric])]
        fixed = by_construction(metric, len(truth), cases) if kind == "binary" else None
        if needs[metric] is not None:
            estimates[metric] = MetricEstimate(metric, reason=needs[metric])
        elif not np.isfinite(point[metric]):
            # A PPV or NPV without a denominator never gets here (metric_insufficiency names it): what is left has no better name.
            estimates[metric] = MetricEstimate(metric, reason="undefined for this group")
        elif fixed is not None:
            estimates[metric] = MetricEstimate(metric, point[metric], reason=fixed, defined_resamples=len(values))
        elif len(values) < 0.5 * n_resamples:
            estimates[metric] = MetricEstimate(metric, point[metric], reason="too unstable for an interval", defined_resamples=len(values))
        else:
            low, high = np.percentile(values, [tail, 100 - tail])
            estimates[metric] = MetricEstimate(metric, point[metric], float(low), float(high), defined_resamples=len(values))
    return GroupMetrics(name, kind, len(truth), cases, None, estimates, threshold)


# --- curves and tables the figures draw ------------------------------------------------------------------------------

def _counts_by_threshold(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives and everyone flagged at each distinct score taken as the threshold (highest first), and those scores."""
    labels, scores = np.asarray(labels) > 0.5, np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    labels, scores = labels[order], scores[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]
    return np.cumsum(labels)[last_of_tie], last_of_tie + 1, scores[last_of_tie]


def roc_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False- and true-positive rates at each distinct score (highest first), from (0, 0); thresholds start at +inf."""
    true_pos, flagged, thresholds = _counts_by_threshold(labels, scores)
    false_pos = flagged - true_pos
    fpr = np.r_[0.0, false_pos / max(false_pos[-1], 1)]
    tpr = np.r_[0.0, true_pos / max(true_pos[-1], 1)]
    return fpr, tpr, np.r_[np.inf, thresholds]


def precision_recall_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Recall and precision at each distinct score (highest first), and those scores."""
    true_pos, flagged, thresholds = _counts_by_threshold(labels, scores)
    return true_pos / max(true_pos[-1], 1), true_pos / flagged, thresholds


def along_curve(x: np.ndarray, y: np.ndarray, max_points: int = CURVE_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` points spread evenly along a curve's length, its first and last included.

    A ROC or PR curve has a point per distinct score, as many as subjects: 200,000 at a million. Drawn
    a few hundred pixels wide, points spaced by arc length trace the same line (off by at most the
    curve's length / ``max_points``), and the figure stays a few kilobytes at any cohort size.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) <= max_points:
        return np.arange(len(x))
    along = np.r_[0.0, np.cumsum(np.hypot(np.diff(x), np.diff(np.nan_to_num(y))))]
    picked = np.searchsorted(along, np.linspace(0.0, along[-1], max_points - 1), side="left")
    return np.unique(np.r_[0, np.minimum(picked, len(x) - 1), len(x) - 1])


def operating_point(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Where a threshold sits on the ROC and PR curves (flagged = score ≥ threshold)."""
    counts = confusion_counts(labels, scores, threshold)
    (true_neg, false_pos), (false_neg, true_pos) = counts
    flagged = true_pos + false_pos
    return {"fpr": false_pos / max(true_neg + false_pos, 1), "tpr": true_pos / max(true_pos + false_neg, 1),
            "precision": true_pos / flagged if flagged else np.nan}


def confusion_counts(labels: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """2×2 counts, rows true (no, yes), columns predicted (no, yes), as scikit-learn's confusion_matrix."""
    labels = np.asarray(labels) > 0.5
    flagged = np.asarray(scores, dtype=np.float64) >= threshold
    return np.array([[np.sum(~labels & ~flagged), np.sum(~labels & flagged)], [np.sum(labels & ~flagged), np.sum(labels & flagged)]])


def reliability_bins(labels: np.ndarray, scores: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted risk, observed fraction of cases and size of each non-empty risk bin (deciles of predicted risk).

    Quantile bins, as scikit-learn's ``calibration_curve(strategy="quantile")``: predicted risks
    are skewed towards zero for rare outcomes, so equal-width bins would leave most of them empty.
    """
    labels, scores = np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    edges = np.percentile(scores, np.linspace(0, 100, n_bins + 1))
    bins = np.searchsorted(edges[1:-1], scores)
    size = np.bincount(bins, minlength=n_bins)
    predicted = np.bincount(bins, weights=scores, minlength=n_bins)
    observed = np.bincount(bins, weights=labels, minlength=n_bins)
    filled = size > 0
    return pd.DataFrame({"predicted": predicted[filled] / size[filled], "observed": observed[filled] / size[filled], "n": size[filled]})


def limits_of_agreement(truth: np.ndarray, prediction: np.ndarray) -> tuple[float, float, float]:
    """Bland–Altman: mean difference (predicted − true) and the 95% limits of agreement around it."""
    difference = np.asarray(prediction, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    bias = float(difference.mean())
    spread = 1.96 * float(difference.std(ddof=1)) if len(difference) > 1 else np.nan
    return bias, bias - spread, bias + spread


# --- the data: test-split predictions joined with the truth ----------------------------------------------------------

@dataclass(frozen=True)
class TaskPredictions:
    """Held-out predictions of one task on one space for the test subjects whose outcome is known."""

    task: str
    space: str
    kind: str
    rows: np.ndarray  # positions in the phenotype table (the explorer's row ids)
    truth: np.ndarray
    prediction: np.ndarray
    threshold: float | None  # binary: Youden's J on the training cross-fit predictions

    def subset(self, cohort_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(truth, prediction) of the subjects inside a mask over every subject of the cohort."""
        inside = np.asarray(cohort_mask, dtype=bool)[self.rows]
        return self.truth[inside], self.prediction[inside]


def held_out_test_predictions(predictions: pd.DataFrame, phenotypes: pd.DataFrame) -> dict[tuple[str, str], TaskPredictions]:
    """Every (task, space) of a stored prediction table, test split only and never a training subject.

    Training subjects' predictions are cross-fitted: out-of-sample, but they chose the threshold
    and the model's settings, so they would flatter the predictor. A row counts only when its
    split is "test" and, where the table says how it was made, it was "held-out".
    """
    keep = predictions[cohort_spec.SPLIT].astype(str).eq("test") if cohort_spec.SPLIT in predictions.columns else pd.Series(False, index=predictions.index)
    if "fit" in predictions.columns:
        keep &= predictions["fit"].astype(str).eq("held-out")
    test = predictions[keep.to_numpy()]
    position = pd.Series(np.arange(len(phenotypes)), index=phenotypes.index.astype(str))
    tasks = {}
    for (task, space), group in test.groupby(["task", "space"], sort=False, observed=True):
        if task not in phenotypes.columns:
            continue
        rows = position.reindex(group[cohort_spec.SUBJECT_ID].astype(str)).to_numpy()
        found = ~np.isnan(rows)
        rows = rows[found].astype(np.int64)
        truth = phenotypes[task].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        prediction = group["prediction"].to_numpy(dtype=np.float64)[found]
        known = np.isfinite(truth) & np.isfinite(prediction)
        kind = str(group["kind"].iloc[0]) if "kind" in group.columns else "binary"
        threshold = float(group["threshold"].iloc[0]) if "threshold" in group.columns and pd.notna(group["threshold"].iloc[0]) else None
        tasks[(str(task), str(space))] = TaskPredictions(str(task), str(space), kind, rows[known], truth[known], prediction[known],
                                                          threshold if kind == "binary" else None)
    return tasks


# --- subgroups -------------------------------------------------------------------------------------------------------

def age_bands(ages: pd.Series | np.ndarray) -> pd.Series:
    """Ten-year age bands (< 55, 55–64, 65–74, ≥ 75) as an ordered categorical; missing ages stay missing."""
    ages = pd.Series(ages, dtype="float64")
    labels = [label for _, _, label in AGE_BANDS]
    bands = pd.Series(pd.Categorical([None] * len(ages), categories=labels, ordered=True), index=ages.index)
    for low, high, label in AGE_BANDS:
        inside = ages.notna() & (ages >= (low if low is not None else -np.inf)) & (ages < (high if high is not None else np.inf))
        bands[inside] = label
    return bands


def level_masks(values: pd.Series, levels: Sequence | None = None) -> dict[str, np.ndarray]:
    """A mask per level of a categorical or binary variable (missing values fall in none)."""
    if values.dtype == bool or pd.api.types.is_bool_dtype(values):
        return {"no": ~values.fillna(True).to_numpy(dtype=bool), "yes": values.fillna(False).to_numpy(dtype=bool)}
    text = values.astype("string")
    present = set(text.dropna())
    ordered = [str(level) for level in (levels or sorted(present)) if str(level) in present]
    return {level: text.eq(level).fillna(False).to_numpy(dtype=bool) for level in ordered}


def subgroup_table(kind: str, groups: Sequence[tuple[str, np.ndarray, np.ndarray, float | None]], n_resamples: int = N_RESAMPLES,
                   seed: int = 0, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per subgroup (name, truth, prediction, threshold): size, cases, every metric with its interval, and why not.

    Columns: subgroup, n, cases, prevalence, threshold (the one each row was evaluated at), note (why
    the group has no metric at all, else empty), then ``<metric>``, ``<metric>_low``, ``<metric>_high``
    and ``<metric>_note`` for each metric: NaN where a group has no number or no interval, and the
    metric's own note says why (a cohort of cases only has a sensitivity, and a note under specificity).
    """
    rows = []
    for name, truth, prediction, threshold in groups:
        result = evaluate_group(name, kind, truth, prediction, threshold, n_resamples, seed, confidence)
        row: dict[str, object] = {"subgroup": name, "n": result.n, "cases": result.cases, "prevalence": result.prevalence,
                                  "threshold": np.nan if threshold is None else float(threshold), "note": result.reason or ""}
        for metric, estimate in result.estimates.items():
            row[metric] = estimate.value
            row[f"{metric}_low"], row[f"{metric}_high"] = estimate.low, estimate.high
            row[f"{metric}_note"] = estimate.reason or ""
        rows.append(row)
    columns = ["subgroup", "n", "cases", "prevalence", "threshold", "note"] + [
        f"{m}{suffix}" for m in metric_names(kind) for suffix in ("", "_low", "_high", "_note")]
    return pd.DataFrame(rows, columns=columns)


def sort_subgroups(table: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    """Rows ordered by one column. For a metric, the groups whose number has an interval are ranked first, then those
    with a number but no interval (a PPV fixed by a group of cases only, a number too unstable for one), and groups
    without a number always last."""
    values = table[column]
    tier = values.isna().to_numpy(dtype=np.int8) * 2
    low, high = f"{column}_low", f"{column}_high"
    if low in table.columns and high in table.columns:
        tier = np.maximum(tier, (table[low].isna() | table[high].isna()).to_numpy(dtype=np.int8))
    ordered = table.assign(_tier=tier).sort_values(["_tier", column], ascending=[True, not descending], na_position="last", kind="stable")
    return ordered.drop(columns="_tier").reset_index(drop=True)


# --- AUROC differences: DeLong's method ------------------------------------------------------------------------------

@dataclass(frozen=True)
class AurocDifference:
    """AUROC of A minus AUROC of B with DeLong's standard error, a normal interval and a two-sided p-value."""

    auroc_a: float
    auroc_b: float
    difference: float
    standard_error: float
    low: float
    high: float
    p_value: float
    paired: bool


def _placement_values(labels: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUROC and DeLong's structural components: per case, the share of controls it outranks (ties half), and per control, the share of cases that outrank it."""
    labels = np.asarray(labels) > 0.5
    scores = np.asarray(scores, dtype=np.float64)
    cases, controls = scores[labels], scores[~labels]
    if len(cases) == 0 or len(controls) == 0:
        raise ValueError(f"an AUROC needs cases and controls, got {len(cases)} cases and {len(controls)} controls")
    ordered = np.sort(controls)
    below = np.searchsorted(ordered, cases, side="left")
    tied = np.searchsorted(ordered, cases, side="right") - below
    per_case = (below + 0.5 * tied) / len(controls)
    ordered_cases = np.sort(cases)
    above = len(cases) - np.searchsorted(ordered_cases, controls, side="right")
    tied_cases = np.searchsorted(ordered_cases, controls, side="right") - np.searchsorted(ordered_cases, controls, side="left")
    per_control = (above + 0.5 * tied_cases) / len(cases)
    return float(per_case.mean()), per_case, per_control


def _difference(auroc_a: float, auroc_b: float, variance: float, paired: bool, confidence: float) -> AurocDifference:
    from scipy import stats  # imported on first use: scipy.stats takes over a second, and serving starts without it
    difference = auroc_a - auroc_b
    standard_error = float(np.sqrt(max(variance, 0.0)))
    z = stats.norm.ppf(0.5 + confidence / 2)
    p_value = float(2 * stats.norm.sf(abs(difference) / standard_error)) if standard_error > 0 else (1.0 if difference == 0 else 0.0)
    return AurocDifference(auroc_a, auroc_b, difference, standard_error, difference - z * standard_error, difference + z * standard_error,
                           p_value, paired)


def auroc_difference_unpaired(labels_a: np.ndarray, scores_a: np.ndarray, labels_b: np.ndarray, scores_b: np.ndarray,
                              confidence: float = CONFIDENCE) -> AurocDifference:
    """AUROC in group A minus group B, two groups of different subjects (the cohort against everyone else): DeLong variances add."""
    auroc_a, cases_a, controls_a = _placement_values(labels_a, scores_a)
    auroc_b, cases_b, controls_b = _placement_values(labels_b, scores_b)
    variance = sum(np.var(values, ddof=1) / len(values) if len(values) > 1 else 0.0 for values in (cases_a, controls_a, cases_b, controls_b))
    return _difference(auroc_a, auroc_b, float(variance), False, confidence)


def auroc_difference_paired(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, confidence: float = CONFIDENCE) -> AurocDifference:
    """AUROC of scores A minus scores B on the same subjects (two spaces' predictors): DeLong's covariance of the two AUROCs."""
    labels = np.asarray(labels)
    if not (len(labels) == len(scores_a) == len(scores_b)):
        raise ValueError(f"paired AUROCs need one label and two scores per subject, got {len(labels)}, {len(scores_a)}, {len(scores_b)}")
    auroc_a, cases_a, controls_a = _placement_values(labels, scores_a)
    auroc_b, cases_b, controls_b = _placement_values(labels, scores_b)
    case_diff, control_diff = cases_a - cases_b, controls_a - controls_b
    variance = (np.var(case_diff, ddof=1) / len(case_diff) if len(case_diff) > 1 else 0.0) + \
        (np.var(control_diff, ddof=1) / len(control_diff) if len(control_diff) > 1 else 0.0)
    return _difference(auroc_a, auroc_b, float(variance), True, confidence)


def paired_scores(first: TaskPredictions, second: TaskPredictions, cohort_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth, first's predictions, second's) on the test subjects both hold (inside ``cohort_mask`` if given), matched by subject."""
    common, at_first, at_second = np.intersect1d(first.rows, second.rows, assume_unique=True, return_indices=True)
    if cohort_mask is not None:
        inside = np.asarray(cohort_mask, dtype=bool)[common]
        at_first, at_second = at_first[inside], at_second[inside]
    return first.truth[at_first], first.prediction[at_first], second.prediction[at_second]
