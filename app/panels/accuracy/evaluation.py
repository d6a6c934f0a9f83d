"""What the accuracy panel scores: the stored test-split predictions, a cohort against everyone else, and subgroups (no Dash)."""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

import numpy as np
import pandas as pd

from app.cohort_store import CohortStoreError
from app.context import AppContext
from app.core.metrics import (
    AGE_BANDS,
    CONFIDENCE,
    HIGHER_IS_BETTER,
    N_RESAMPLES,
    AurocDifference,
    GroupMetrics,
    TaskPredictions,
    age_bands,
    auroc_difference_paired,
    auroc_difference_unpaired,
    evaluate_group,
    held_out_test_predictions,
    interval_method,
    level_masks,
    metric_insufficiency,
    paired_scores,
    sort_subgroups,
    subgroup_table,
)
from app.panels.accuracy.settings import BY_AGE, BY_SAVED, BY_SPACE, EVERYONE_ELSE, EVERYONE_GROUP, EVERYONE_ROW, SEED
from app.state import CURRENT, SPACE_LABELS, resolve_choice, space_label
from data_loaders import cohort_spec

_PREDICTIONS: WeakKeyDictionary[AppContext, dict[tuple[str, str], TaskPredictions]] = WeakKeyDictionary()


def task_predictions(context: AppContext) -> dict[tuple[str, str], TaskPredictions]:
    """The cohort's held-out test-split predictions per (task, space), read from disk once per process (read-only)."""
    if context not in _PREDICTIONS:
        table = context.cohort.predictions()
        _PREDICTIONS[context] = {} if table is None else held_out_test_predictions(table, context.cohort.phenotypes)
    return _PREDICTIONS[context]


def task_label(context: AppContext, task: str) -> str:
    spec = context.variables.get(task)
    return spec.label if spec else task


def task_unit(context: AppContext, task: str) -> str:
    spec = context.variables.get(task)
    return (spec.unit or "") if spec else ""


@dataclass(frozen=True)
class Evaluation:
    """The chosen cohort, its complement and everyone, evaluated for one task on one space."""

    predictions: TaskPredictions
    cohort_name: str
    groups: tuple[GroupMetrics, GroupMetrics, GroupMetrics]
    arrays: tuple[tuple[np.ndarray, np.ndarray], ...]
    cohort_is_everyone: bool
    threshold: float | None
    cohort_mask: np.ndarray | None = None


def cohort_choice_mask(context: AppContext, choice: str | int | None, filters: list | None, selection: dict | None) -> tuple[str, np.ndarray]:
    """(name, mask over every subject) for the cohort to evaluate: the current one or a saved one."""
    name = "Current cohort" if choice in (CURRENT, None) else f"Saved: {context.store.get(choice).label}"
    return name, resolve_choice(context, choice, filters, selection)


def evaluate(context: AppContext, task: str, space: str, threshold: float | None, choice: str | int | None,
             filters: list | None, selection: dict | None) -> Evaluation | None:
    """Metrics with intervals for the chosen cohort, everyone else and everyone (test split); None when nothing is stored."""
    if (task, space) not in task_predictions(context):
        return None
    return evaluate_cohort(context, task, space, threshold, *cohort_choice_mask(context, choice, filters, selection))


def evaluate_cohort(context: AppContext, task: str, space: str, threshold: float | None, name: str, mask: np.ndarray) -> Evaluation | None:
    """:func:`evaluate` for a cohort already resolved to its name and members."""
    predictions = task_predictions(context).get((task, space))
    if predictions is None:
        return None
    cut = (predictions.threshold if threshold is None else float(threshold)) if predictions.kind == "binary" else None
    inside = mask[predictions.rows]
    arrays = ((predictions.truth[inside], predictions.prediction[inside]),
              (predictions.truth[~inside], predictions.prediction[~inside]),
              (predictions.truth, predictions.prediction))
    groups = tuple(evaluate_group(group, predictions.kind, truth, prediction, cut, N_RESAMPLES, SEED)
                   for group, (truth, prediction) in zip((name, EVERYONE_ELSE, EVERYONE_GROUP), arrays))
    return Evaluation(predictions, name, groups, arrays, bool(inside.all()), cut, mask)


def _difference_text(difference: AurocDifference) -> str:
    return (f"{difference.difference:+.3f} (95% CI {difference.low:+.3f} to {difference.high:+.3f}, p = {difference.p_value:.2g}; "
            f"AUROC {difference.auroc_a:.3f} vs {difference.auroc_b:.3f})")


def auroc_comparisons(context: AppContext, evaluation: Evaluation, cohort_mask: np.ndarray) -> list[tuple[str, str]]:
    """(what, DeLong difference as text) for the cohort against everyone else (unpaired) and this space against each other space on
    the cohort's test subjects (paired); a comparison a group has no AUROC for (too few subjects, cases or controls) says why."""
    predictions = evaluation.predictions
    if predictions.kind != "binary":
        return []
    lines = []
    cohort, rest = evaluation.groups[0], evaluation.groups[1]
    what = f"AUROC, {evaluation.cohort_name} − everyone else (different subjects; DeLong)"
    lacking = next((group for group in (cohort, rest) if not np.isfinite(group.estimates["auroc"].value)), None)
    if evaluation.cohort_is_everyone:
        lines.append((what, "not available: the cohort is everyone"))
    elif lacking is not None:
        lines.append((what, f"not available for {lacking.name}: {lacking.estimates['auroc'].reason or 'no AUROC'}"))
    else:
        (truth_a, score_a), (truth_b, score_b) = evaluation.arrays[0], evaluation.arrays[1]
        lines.append((what, _difference_text(auroc_difference_unpaired(truth_a, score_a, truth_b, score_b))))
    tasks = task_predictions(context)
    order = list(SPACE_LABELS)
    for space in sorted({s for t, s in tasks if t == predictions.task and s != predictions.space},
                        key=lambda s: order.index(s) if s in order else len(order)):
        other = tasks[(predictions.task, space)]
        truth, mine, theirs = paired_scores(predictions, other, None if evaluation.cohort_is_everyone else cohort_mask)
        what = (f"AUROC, {space_label(predictions.space)} − {space_label(space)} space, same test subjects of "
                f"{'everyone' if evaluation.cohort_is_everyone else evaluation.cohort_name} (paired DeLong)")
        reason = metric_insufficiency("binary", truth, mine, evaluation.threshold)["auroc"]
        lines.append((what, f"not available: {reason}" if reason else _difference_text(auroc_difference_paired(truth, mine, theirs))))
    return lines


def subgroup_groups(context: AppContext, task: str, space: str, threshold: float | None, breakdown: str,
                    filters: list | None, selection: dict | None, choice: str | int | None = CURRENT
                    ) -> tuple[str, list[tuple[str, np.ndarray, np.ndarray, float | None]]]:
    """(kind, [(subgroup, truth, prediction, threshold)]) for a breakdown; the whole test split comes first."""
    tasks = task_predictions(context)
    predictions = tasks[(task, space)]
    cut = (predictions.threshold if threshold is None else float(threshold)) if predictions.kind == "binary" else None
    everyone = f"{EVERYONE_ROW} · {space_label(space)}" if breakdown == BY_SPACE else EVERYONE_ROW
    groups = [(everyone, predictions.truth, predictions.prediction, cut)]
    if breakdown == BY_SPACE:
        cohort_name, mask = cohort_choice_mask(context, choice, filters, selection)
        for other_space in sorted({s for t, s in tasks if t == task}, key=lambda s: list(SPACE_LABELS).index(s) if s in SPACE_LABELS else 99):
            other = tasks[(task, other_space)]
            # Each space is judged at its own training threshold unless this space's slider moved it.
            own = (cut if other_space == space else other.threshold) if other.kind == "binary" else None
            at = f" at ≥ {own:.3f}" if own is not None else ""
            for side, inside in ((cohort_name, mask), ("everyone else", ~mask)):
                truth, prediction = other.subset(inside)
                groups.append((f"{space_label(other_space)} · {side}{at}", truth, prediction, own))
        return predictions.kind, groups
    if breakdown == BY_SAVED:
        masks = {}
        for saved in context.store.list():
            try:
                masks[saved.label] = context.definition_mask(saved.definition)
            except (CohortStoreError, KeyError, ValueError):  # defined from a cohort since deleted: the sidebar says so
                continue
    elif breakdown == BY_AGE:
        masks = level_masks(age_bands(context.cohort.phenotypes[cohort_spec.AGE]), [label for *_, label in AGE_BANDS])
        masks = {f"Age {band}": mask for band, mask in masks.items()}
    else:
        spec = context.variables[breakdown]
        values = context.cohort.phenotypes[breakdown]
        masks = level_masks(values, spec.categories or None)
        masks = {f"{spec.label}: {level}": mask for level, mask in masks.items()}
    for name, mask in masks.items():
        truth, prediction = predictions.subset(mask)
        groups.append((name, truth, prediction, cut))
    return predictions.kind, groups


def subgroup_results(context: AppContext, task: str, space: str, threshold: float | None, breakdown: str,
                     filters: list | None, selection: dict | None, sort: dict | None = None,
                     choice: str | int | None = CURRENT) -> tuple[str, pd.DataFrame]:
    """The subgroup table (numbers, intervals, notes), sorted as asked; the whole test split stays the first row."""
    kind, groups = subgroup_groups(context, task, space, threshold, breakdown, filters, selection, choice)
    table = subgroup_table(kind, groups, N_RESAMPLES, SEED)
    if sort and sort.get("column") in table.columns and len(table) > 1:
        table = pd.concat([table.iloc[:1], sort_subgroups(table.iloc[1:], sort["column"], bool(sort.get("descending")))], ignore_index=True)
    return kind, table


def disparity(metric: str, low: float, high: float, reference: float) -> str | None:
    """'worse'/'better' when a subgroup's interval excludes everyone's value, for metrics with a better direction."""
    better = HIGHER_IS_BETTER.get(metric)
    if better is None or not (np.isfinite(low) and np.isfinite(high) and np.isfinite(reference)):
        return None
    if high < reference:
        return "worse" if better else "better"
    if low > reference:
        return "better" if better else "worse"
    return None


def export_frame(table: pd.DataFrame, task: str, space: str) -> pd.DataFrame:
    """The subgroup table as numbers for CSV: estimates and interval bounds per metric, and what they are of.

    Each row keeps the threshold it was evaluated at (in the latent-space breakdown each space has its own).
    """
    frame = table.copy()
    frame.insert(0, "space", space)
    frame.insert(0, "task", task)
    frame["confidence"] = CONFIDENCE
    frame["bootstrap_resamples"] = N_RESAMPLES
    frame["interval_method"] = [interval_method(int(n)) for n in frame["n"]]
    frame["seed"] = SEED
    return frame


def next_sort(current: dict | None, column: str) -> dict:
    """Clicking a header sorts by it, best-looking first for metrics; clicking again flips the order."""
    if current and current.get("column") == column:
        return {"column": column, "descending": not current.get("descending")}
    return {"column": column, "descending": column not in ("subgroup",) and HIGHER_IS_BETTER.get(column, True) is not False}
