"""Server-side time of the explorer's filter and selection callbacks at 5,000 and 100,000 subjects.

    .venv/bin/python -m benchmarks.explorer_callbacks --subjects 5000 100000

Times what one request costs the server when a filter or a lasso/box selection changes: the mask,
the per-view selected positions, and the Patch (serialised to JSON as Dash would send it); also
the full redraw of a view when the colour variable changes, for comparison, and the same view as a
density (its threshold set to half the cohort). Goal: p95 ≤ 50 ms for filter/selection changes at
100,000 subjects.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import plotly

from app.config import AppConfig
from app.context import AppContext
from app.core.filters import ChoiceFilter, RangeFilter
from app.core.projections import ProjectionSpec
from app.panels import cohorts
from app.panels.explorer import views as explorer_views
from data_loaders import load_cohort
from data_loaders.cohort_io import write_manifest, write_predictions, write_spaces
from data_loaders.manifest import variables_to_tables
from data_loaders.synthetic.phenotypes import VARIABLES, sample_phenotypes

PREDICTED_TASKS = ("atrial_fibrillation", "lv_mass_g")  # one binary and one continuous task, as the demo's predictors give


def build_cohort(folder: Path, n_subjects: int) -> Path:
    """Phenotypes, a 256-d stand-in joint space, a 64-d ECG space partly sharing it, and predictions in both.

    No arrays: the explorer needs none. The second space and the predictions give the Compare spaces
    and Accuracy tabs real work at this size (held-out predictions that track the truth, with noise).
    """
    phenotypes = sample_phenotypes(n_subjects, seed=0).assign(sokolow_lyon_mv=2.0)
    phenotypes.reset_index().to_parquet(folder / "phenotypes.parquet", index=False)
    write_manifest(folder, {"format_version": 1, "name": f"benchmark {n_subjects}", "phenotypes": {"path": "phenotypes.parquet"},
                            "variables": variables_to_tables(VARIABLES)})
    rng = np.random.default_rng(0)
    joint = rng.normal(size=(n_subjects, 256)).astype(np.float32)
    ecg = (joint[:, :64] + rng.normal(scale=0.7, size=(n_subjects, 64))).astype(np.float32)
    write_spaces(folder, {"joint": joint, "ecg": ecg}, list(phenotypes.index))
    write_predictions(folder, _stand_in_predictions(phenotypes, rng))
    return folder


def _stand_in_predictions(phenotypes: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Every subject's prediction per task and space: a noisy logit of the label, or the truth plus noise (ECG noisier)."""
    parts, split = [], phenotypes["split"].astype(str).to_numpy()
    for space, noise in (("joint", 1.0), ("ecg", 1.6)):
        for task in PREDICTED_TASKS:
            truth = phenotypes[task].to_numpy(dtype=float)
            truth = np.where(np.isnan(truth), np.nanmedian(truth), truth)  # a prediction for everyone, measured or not
            binary = VARIABLES[task].type == "binary"
            if binary:
                prediction = 1 / (1 + np.exp(-(np.where(truth > 0.5, 1.5, -1.5) + rng.normal(scale=noise, size=truth.size))))
            else:
                prediction = truth + rng.normal(scale=noise * 0.3 * np.nanstd(truth), size=truth.size)
            parts.append(pd.DataFrame({"sample_id": phenotypes.index.astype(str), "task": task, "space": space, "prediction": prediction,
                                       "kind": "binary" if binary else "continuous", "threshold": 0.5 if binary else np.nan,
                                       "split": split, "fit": np.where(split == "test", "held-out", "cross-fit")}))
    return pd.concat(parts, ignore_index=True)


def benchmark_cases(context: AppContext, filters: list[dict], selection: dict) -> dict:
    """One callable per request, each doing what the callback does for that event."""
    dense = AppContext(replace(context.config, density_threshold=max(1, context.n_subjects // 2)), context.cohort)  # views as densities
    return {
        "filter change → patch latent view": lambda: explorer_views.render_latent_view(
            context, 0, "joint", "pca", "atrial_fibrillation", filters, None, {"filters"}).figure,
        "selection (20%) → patch latent view": lambda: explorer_views.render_latent_view(
            context, 0, "joint", "pca", "atrial_fibrillation", [], selection, {"selection"}).figure,
        "selection (20%) → patch clinical view": lambda: explorer_views.render_clinical_view(
            context, "age_years", "lv_mass_g", "atrial_fibrillation", [], selection, {"selection"}),
        "filter change → 2 filter histograms + count": lambda: cohorts.filter_histograms(context, filters, None, ["age_years", "sex"]),
        "colour change → full latent view redraw": lambda: explorer_views.render_latent_view(
            context, 0, "joint", "pca", "lv_mass_g", [], None, {"colour-by"}).figure,
        "selection (20%) → density latent view": lambda: explorer_views.render_latent_view(
            dense, 0, "joint", "pca", "atrial_fibrillation", [], selection, {"selection"}).figure,
        "colour change → density latent view": lambda: explorer_views.render_latent_view(
            dense, 0, "joint", "pca", "lv_mass_g", [], None, {"colour-by"}).figure,
    }


def timed(function, repeats: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        json.dumps(result, cls=plotly.utils.PlotlyJSONEncoder)  # what Dash does before sending
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, nargs="+", default=[5000, 100000])
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    print(f"{'subjects':>9}  {'request':<46} {'median ms':>10} {'p95 ms':>8}")
    for n in args.subjects:
        with tempfile.TemporaryDirectory() as folder:
            cohort_dir = build_cohort(Path(folder), n)
            context = AppContext(AppConfig(cohort_dir=cohort_dir, cache_dir=Path(folder) / "cache"), load_cohort(cohort_dir))
            context.cached_projection("joint", ProjectionSpec("pca"))  # cached once, as in the app
            _ = context.hover_text
            rng = np.random.default_rng(1)
            filters = [RangeFilter("age_years", 55, 70).to_dict(), ChoiceFilter("sex", ("female",)).to_dict()]
            selection = {"rows": np.sort(rng.choice(n, size=n // 5, replace=False)).tolist()}
            cases = benchmark_cases(context, filters, selection)
            for name, case in cases.items():
                median, p95 = timed(case, args.repeats)
                print(f"{n:>9}  {name:<46} {median:>10.1f} {p95:>8.1f}")


if __name__ == "__main__":
    main()
