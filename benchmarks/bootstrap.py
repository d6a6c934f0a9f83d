"""Time of the accuracy panel's bootstrap: 2,000 resamples of 10,000 subjects, for every metric.

    .venv/bin/python -m benchmarks.bootstrap [--subjects 10000] [--resamples 2000] [--repeats 5]

All binary metrics (AUROC, AUPRC, sensitivity, specificity, PPV, NPV, Brier) come from one pass
over each chunk of resample weights, and all continuous ones (R², MAE, RMSE, bias) from another,
so each metric's time is its pass's time; the script prints both, the best and the median of
the repeats, and the full interval computation (point estimate + resamples + percentiles) as
the panel runs it. Goal: well under a second per pass on one CPU core.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from app.core.metrics import METRIC_LABELS, bootstrap_metrics, evaluate_group, metric_names


def simulated(kind: str, n_subjects: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A predictor of AF-like rarity (about 9% cases) or of an LV-mass-like value in grams."""
    rng = np.random.default_rng(seed)
    if kind == "binary":
        truth = (rng.random(n_subjects) < 0.09).astype(float)
        prediction = 1 / (1 + np.exp(-(rng.normal(size=n_subjects) + 1.8 * truth - 2.5)))
        return truth, np.round(prediction, 3)  # stored risks are often rounded: ties included
    truth = rng.normal(140, 30, n_subjects)
    return truth, 0.7 * truth + 40 + rng.normal(0, 15, n_subjects)


def timed(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--resamples", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{args.resamples:,} bootstrap resamples of {args.subjects:,} subjects; best and median of {args.repeats} runs")
    print(f"{'metric':<26}{'pass (s) best':>15}{'median':>10}{'with CI (s) best':>19}{'median':>10}")
    for kind in ("binary", "continuous"):
        truth, prediction = simulated(kind, args.subjects)
        threshold = 0.1 if kind == "binary" else None
        bootstrap_metrics(kind, truth, prediction, threshold, 50, 0)  # warm-up: imports, BLAS threads
        passes = timed(lambda: bootstrap_metrics(kind, truth, prediction, threshold, args.resamples, 1), args.repeats)  # noqa: B023
        full = timed(lambda: evaluate_group("all", kind, truth, prediction, threshold, args.resamples, 1), args.repeats)  # noqa: B023
        for metric in metric_names(kind):
            print(f"{METRIC_LABELS[metric]:<26}{min(passes):>15.3f}{statistics.median(passes):>10.3f}{min(full):>19.3f}{statistics.median(full):>10.3f}")


if __name__ == "__main__":
    main()
