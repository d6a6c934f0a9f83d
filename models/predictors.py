"""Outcome predictors on latent spaces: logistic regression / ridge on standardised latents.

For every task (binary outcomes and two continuous MRI phenotypes) and every space, a scikit-learn
Pipeline is fitted on the train split only. Every subject gets an out-of-sample prediction: test
subjects from the model fitted on all training subjects, training subjects by 5-fold
cross-fitting. Predictors are saved as plain numbers in JSON (no pickle) and rebuilt on loading;
their weight vectors in latent units give directions for latent traversals.

``python -m models.predictors --cohort DIR [--model PATH]`` fits them on the cohort's spaces.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV
from sklearn.metrics import r2_score, roc_auc_score, roc_curve
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from data_loaders import cohort_spec
from data_loaders.cohort_io import atomic_path
from models.readiness import DEFAULT_SPACES, PREDICTORS_FILE, PREDICTORS_FORMAT, predictor_spaces, read_predictors_file

BINARY_TASKS = (cohort_spec.AF, cohort_spec.HF, cohort_spec.LVH, cohort_spec.HYPERTENSION)
CONTINUOUS_TASKS = (cohort_spec.LVEF, cohort_spec.LV_MASS)
CROSS_FIT_FOLDS = 5
LOGISTIC_C = 0.1
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-2, 4, 13))

Progress = Callable[[int, int], None]
log = logging.getLogger(__name__)


class TooFewSubjects(ValueError):
    """A task cannot be cross-fitted on this cohort's training subjects (e.g. no positive case)."""


@dataclass
class Predictor:
    """One fitted predictor: a Pipeline(StandardScaler, LogisticRegression | Ridge) for a task on a space."""

    task: str
    space: str
    kind: str  # "binary" or "continuous"
    pipeline: Pipeline
    threshold: float | None = None  # binary: Youden's J on the training cross-fit predictions
    n_train: int = 0
    cross_fit_score: float | None = None  # AUROC or R² of the training cross-fit predictions

    def predict(self, latents: np.ndarray) -> np.ndarray:
        """Probability of the outcome (binary) or the predicted value (continuous), per subject."""
        latents = np.asarray(latents, dtype=np.float64)
        if self.kind == "binary":
            return self.pipeline.predict_proba(latents)[:, 1]
        return self.pipeline.predict(latents)

    @property
    def weights(self) -> np.ndarray:
        """The linear model's weights in latent units: the gradient of the logit (binary) or value per unit of each latent dimension."""
        scaler, model = self.pipeline.named_steps["scale"], self.pipeline.named_steps["model"]
        return np.ravel(model.coef_) / scaler.scale_

    @property
    def direction(self) -> np.ndarray:
        """Unit vector in latent space along which the prediction rises fastest (for traversals)."""
        weights = self.weights
        norm = np.linalg.norm(weights)
        return weights / norm if norm > 0 else weights

    def to_dict(self) -> dict[str, Any]:
        scaler, model = self.pipeline.named_steps["scale"], self.pipeline.named_steps["model"]
        settings = {"C": float(model.C)} if self.kind == "binary" else {"alpha": float(model.alpha)}
        return {
            "task": self.task,
            "space": self.space,
            "kind": self.kind,
            "mean": scaler.mean_.tolist(),
            "scale": scaler.scale_.tolist(),
            "coef": np.ravel(model.coef_).tolist(),
            "intercept": float(np.ravel(model.intercept_)[0]) if np.ndim(model.intercept_) else float(model.intercept_),
            "settings": settings,
            "threshold": self.threshold,
            "n_train": self.n_train,
            "cross_fit_score": self.cross_fit_score,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Predictor:
        mean = np.asarray(values["mean"], dtype=np.float64)
        scale = np.asarray(values["scale"], dtype=np.float64)
        coef = np.asarray(values["coef"], dtype=np.float64)
        if not (mean.shape == scale.shape == coef.shape) or mean.ndim != 1:
            raise ValueError(f"predictor {values.get('task')}/{values.get('space')}: mean, scale and coef must be vectors of one length")
        scaler = StandardScaler()
        scaler.mean_, scaler.scale_, scaler.var_ = mean, scale, scale**2
        scaler.n_features_in_ = len(mean)
        scaler.n_samples_seen_ = int(values.get("n_train", 0))
        if values["kind"] == "binary":
            model: LogisticRegression | Ridge = LogisticRegression(C=values["settings"]["C"])
            model.coef_ = coef[None, :]
            model.intercept_ = np.array([values["intercept"]])
            model.classes_ = np.array([0, 1])
        else:
            model = Ridge(alpha=values["settings"]["alpha"])
            model.coef_ = coef
            model.intercept_ = float(values["intercept"])
        model.n_features_in_ = len(coef)
        pipeline = Pipeline([("scale", scaler), ("model", model)])
        return cls(values["task"], values["space"], values["kind"], pipeline, values.get("threshold"), int(values.get("n_train", 0)), values.get("cross_fit_score"))


@dataclass
class PredictorSet:
    """All predictors fitted for one model's spaces, keyed by (task, space)."""

    predictors: dict[tuple[str, str], Predictor]
    metadata: dict[str, Any]

    def __getitem__(self, key: tuple[str, str]) -> Predictor:
        return self.predictors[key]

    def direction(self, task: str, space: str) -> np.ndarray:
        return self.predictors[(task, space)].direction

    def thresholds(self) -> dict[tuple[str, str], float]:
        return {key: p.threshold for key, p in self.predictors.items() if p.threshold is not None}

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        document = {"format": PREDICTORS_FORMAT, "version": 1, "metadata": self.metadata, "predictors": [p.to_dict() for p in self.predictors.values()]}
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(document) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path | str) -> PredictorSet:
        document = read_predictors_file(path)
        predictors = [Predictor.from_dict(values) for values in document["predictors"]]
        return cls({(p.task, p.space): p for p in predictors}, dict(document.get("metadata", {})))


def _pipeline(kind: str, alpha: float | None = None) -> Pipeline:
    if kind == "binary":
        return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=LOGISTIC_C, max_iter=2000))])
    return Pipeline([("scale", StandardScaler()), ("model", Ridge(alpha=alpha if alpha is not None else 1.0))])


def _ridge_alpha(latents: np.ndarray, target: np.ndarray) -> float:
    """Ridge penalty by efficient leave-one-out on the training subjects."""
    scaled = StandardScaler().fit_transform(latents)
    return float(RidgeCV(alphas=RIDGE_ALPHAS).fit(scaled, target).alpha_)


def _youden_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    fpr, tpr, thresholds = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    return float(np.clip(thresholds[best], 0.0, 1.0))


def task_kind(phenotypes: pd.DataFrame, task: str) -> str:
    return "binary" if task in BINARY_TASKS or phenotypes[task].dropna().isin([0, 1, True, False]).all() else "continuous"


def fit_task(
    task: str, space: str, latents: np.ndarray, target: pd.Series, train: np.ndarray, kind: str, folds: int, seed: int
) -> tuple[Predictor, np.ndarray, np.ndarray]:
    """Fit one predictor on the training rows; return it, every subject's out-of-sample prediction and whether it came from cross-fitting."""
    known = target.notna().to_numpy()
    fit_rows = np.flatnonzero(train & known)
    y = target.to_numpy()[fit_rows].astype(np.float64)
    x = latents[fit_rows].astype(np.float64)
    if kind == "binary":
        y = y.astype(int)
        counts = np.bincount(y, minlength=2)
        if counts.min() < 2:
            raise TooFewSubjects(f"the training subjects have {counts[1]} positive and {counts[0]} negative cases; cross-fitting needs 2 of each")
        n_splits = int(min(folds, counts.min()))
        splitter: StratifiedKFold | KFold = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        alpha = None
    else:
        n_splits = min(folds, len(y))
        splitter = KFold(n_splits, shuffle=True, random_state=seed)
        alpha = _ridge_alpha(x, y)
    if n_splits < 2:
        raise TooFewSubjects(f"{len(y)} training subjects with a value; cross-fitting needs 2")
    cross_fit = np.empty(len(y))
    for fold_train, fold_test in splitter.split(x, y):
        model = _pipeline(kind, alpha).fit(x[fold_train], y[fold_train])
        cross_fit[fold_test] = model.predict_proba(x[fold_test])[:, 1] if kind == "binary" else model.predict(x[fold_test])
    pipeline = _pipeline(kind, alpha).fit(x, y)
    predictor = Predictor(task, space, kind, pipeline, n_train=len(y))
    if kind == "binary":
        predictor.threshold = _youden_threshold(y, cross_fit)
        predictor.cross_fit_score = float(roc_auc_score(y, cross_fit))
    else:
        predictor.cross_fit_score = float(r2_score(y, cross_fit))
    predictions = predictor.predict(latents)
    from_cross_fit = np.zeros(len(latents), dtype=bool)
    predictions[fit_rows] = cross_fit
    from_cross_fit[fit_rows] = True
    return predictor, predictions, from_cross_fit


def fit_predictors(
    spaces: Mapping[str, np.ndarray],
    phenotypes: pd.DataFrame,
    *,
    tasks: Sequence[str] | None = None,
    folds: int = CROSS_FIT_FOLDS,
    seed: int = 0,
    progress: Progress | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[PredictorSet, pd.DataFrame]:
    """Fit every task on every space (train split only) and return the out-of-sample prediction table.

    The table is long: sample_id, task, space, prediction, plus kind, threshold, split and
    ``fit`` ("cross-fit" for training subjects, "held-out" for the others).
    """
    tasks = [t for t in (tasks or BINARY_TASKS + CONTINUOUS_TASKS) if t in phenotypes.columns]
    split = phenotypes[cohort_spec.SPLIT].astype(str).to_numpy() if cohort_spec.SPLIT in phenotypes.columns else np.full(len(phenotypes), "train")
    train = split == "train"
    ids = phenotypes.index.astype(str).to_numpy()
    predictors: dict[tuple[str, str], Predictor] = {}
    tables = []
    jobs = [(task, space) for space in spaces for task in tasks]
    skipped: list[str] = []
    for done, (task, space) in enumerate(jobs, start=1):
        latents = np.asarray(spaces[space])
        if len(latents) != len(phenotypes):
            raise ValueError(f"space {space!r} has {len(latents)} rows; the phenotype table has {len(phenotypes)}")
        kind = task_kind(phenotypes, task)
        target = phenotypes[task].astype("float64")
        try:
            predictor, predictions, from_cross_fit = fit_task(task, space, latents, target, train, kind, folds, seed)
        except TooFewSubjects as error:
            log.warning("skipping the %s predictor on %s: %s", task, space, error)
            skipped.append(task)
            continue
        predictors[(task, space)] = predictor
        tables.append(
            pd.DataFrame(
                {
                    "sample_id": ids,
                    "task": task,
                    "space": space,
                    "prediction": predictions.astype(np.float64),
                    "kind": kind,
                    "threshold": np.nan if predictor.threshold is None else predictor.threshold,
                    "split": split,
                    "fit": np.where(from_cross_fit, "cross-fit", "held-out"),
                }
            )
        )
        if progress:
            progress(done, len(jobs))
    fitted = [t for t in tasks if t not in skipped]
    meta = {"tasks": fitted, "skipped": sorted(set(skipped)), "spaces": list(spaces), "folds": folds, "seed": seed, "logistic_C": LOGISTIC_C, **(metadata or {})}
    columns = ["sample_id", "task", "space", "prediction", "kind", "threshold", "split", "fit"]
    return PredictorSet(predictors, meta), pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)


def held_out_scores(predictions: pd.DataFrame, phenotypes: pd.DataFrame) -> pd.DataFrame:
    """AUROC (binary) or R² (continuous) of the held-out test predictions, one row per task and space."""
    rows = []
    test = predictions[predictions["split"] == "test"] if "split" in predictions.columns else predictions
    for (task, space), group in test.groupby(["task", "space"], sort=False):
        truth = phenotypes.loc[group["sample_id"], task]
        known = truth.notna().to_numpy()
        y, p = truth.to_numpy()[known], group["prediction"].to_numpy()[known]
        kind = group["kind"].iloc[0] if "kind" in group.columns else task_kind(phenotypes, task)
        if kind == "binary":
            y = y.astype(int)
            score = roc_auc_score(y, p) if len(np.unique(y)) == 2 else np.nan
            rows.append({"task": task, "space": space, "metric": "AUROC", "value": score, "n": len(y), "positives": int(y.sum())})
        else:
            rows.append({"task": task, "space": space, "metric": "R²", "value": r2_score(y.astype(float), p) if len(y) > 1 else np.nan, "n": len(y), "positives": None})
    return pd.DataFrame(rows)


def predictors_for_cohort(cohort: Any, model_path: Path | str | None = None) -> PredictorSet | None:
    """The predictors saved beside the cohort's model (for thresholds and traversal directions), or None."""
    from models.sources import cohort_model_source

    path = cohort_model_source(cohort, model_path).home / PREDICTORS_FILE
    return PredictorSet.load(path) if path.is_file() else None


def fit_cohort_predictors(cohort_dir: Path | str, model_path: Path | str | None = None, *, progress: Progress | None = None, show_progress: bool = False) -> Path:
    """Fit predictors on a cohort's joint/ecg/mri spaces (and its raw baseline), save them beside the model, store the predictions."""
    from data_loaders import load_cohort
    from data_loaders.cohort_io import write_predictions
    from models.sources import cohort_model_source

    cohort = load_cohort(cohort_dir)
    missing = [s for s in DEFAULT_SPACES if s not in cohort.spaces]
    if missing:
        raise ValueError(f"{cohort.root}: no latent space(s) {missing}; run python -m models.encode --cohort {cohort.root} first")
    source = cohort_model_source(cohort, model_path)
    spaces = {name: cohort.spaces[name] for name in predictor_spaces(cohort.spaces)}
    model_id = (cohort.manifest.get("model") or {}).get("model_id")
    with tqdm(total=len(spaces) * 6, desc="Fitting predictors", unit="fit", disable=not show_progress) as bar:

        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)
            if progress:
                progress(done, total)

        predictor_set, predictions = fit_predictors(spaces, cohort.phenotypes, progress=advance, metadata={"model_id": model_id, "cohort": str(cohort.root)})
    path = predictor_set.save(source.home / PREDICTORS_FILE)
    write_predictions(cohort.root, predictions)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.predictors", description="Fit outcome predictors on a cohort's latent spaces.")
    parser.add_argument("--cohort", type=Path, required=True, help="cohort folder with joint/ecg/mri spaces (python -m models.encode)")
    parser.add_argument("--model", type=Path, default=None, help="checkpoint folder to save predictors beside (default: the cohort's model)")
    args = parser.parse_args(argv)
    try:
        path = fit_cohort_predictors(args.cohort, args.model, show_progress=True)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Predictors saved to {path}; out-of-sample predictions stored in {args.cohort}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
