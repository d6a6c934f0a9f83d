"""Accuracy panel: how well the stored latent-space predictors do in the current cohort, its complement and everyone.

Only the test split's held-out predictions are scored (training subjects chose the models and the
thresholds). Every number comes with a 95% bootstrap interval over resampled subjects, and a group
too small to judge says so. The maths is in app.core.metrics, the figures in app.figures.accuracy;
callbacks here read inputs and call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import ALL, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from app.cohort_store import CohortStoreError
from app.context import AppContext
from app.core.exports import safe_csv_frame
from app.core.metrics import (
    AGE_BANDS,
    CONFIDENCE,
    HIGHER_IS_BETTER,
    METRIC_LABELS,
    METRIC_UNITS_FOLLOW_TASK,
    N_RESAMPLES,
    THRESHOLD_METRICS,
    AurocDifference,
    GroupMetrics,
    MetricEstimate,
    TaskPredictions,
    age_bands,
    auroc_difference_paired,
    auroc_difference_unpaired,
    evaluate_group,
    held_out_test_predictions,
    insufficiency,
    level_masks,
    metric_names,
    paired_scores,
    sort_subgroups,
    subgroup_table,
)
from app.figures.accuracy import (
    COHORT_COLOUR,
    EVERYONE_COLOUR,
    OTHER_COLOUR,
    CohortData,
    agreement_figure,
    confusion_figure,
    forest_figure,
    note_figure,
    reliability_figure,
    roc_pr_figure,
)
from app.state import (
    COHORTS_VERSION,
    CURRENT,
    CURRENT_OPTION,
    FILTERS,
    SAVED_COHORTS,
    SELECTION,
    SPACE_LABELS,
    resolve_choice,
    saved_cohort_options,
    space_label,
)
from data_loaders import cohort_spec

ACCURACY_TAB = "accuracy"  # the tab_id app.server gives this panel
BY_SAVED = "saved-cohorts"
BY_AGE = "age-band"
BY_SPACE = "space"
SEED = 0
EVERYONE_GROUP = "Everyone"  # the group name of every test subject in an evaluation
EVERYONE_ELSE = "Everyone else"
EVERYONE_ROW = "Everyone (all test subjects)"
GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "svg"}}
PREVALENCE_METRICS = ("ppv", "npv", "brier")  # these move with a group's prevalence even when the predictor ranks equally well
PREVALENCE_NOTE = ("PPV, NPV and the Brier score move with the share of cases in a group (its prevalence), so a group with more or fewer "
                   "cases differs on them even when the predictor is equally good; compare AUROC, sensitivity and specificity for that.")
_PREDICTIONS: WeakKeyDictionary[AppContext, dict[tuple[str, str], TaskPredictions]] = WeakKeyDictionary()


def task_predictions(context: AppContext) -> dict[tuple[str, str], TaskPredictions]:
    """The cohort's held-out test-split predictions per (task, space), read from disk once per process (read-only)."""
    if context not in _PREDICTIONS:
        table = context.cohort.predictions()
        _PREDICTIONS[context] = {} if table is None else held_out_test_predictions(table, context.cohort.phenotypes)
    return _PREDICTIONS[context]


def _task_label(context: AppContext, task: str) -> str:
    spec = context.variables.get(task)
    return spec.label if spec else task


def _task_unit(context: AppContext, task: str) -> str:
    spec = context.variables.get(task)
    return (spec.unit or "") if spec else ""


# --- formatting ------------------------------------------------------------------------------------------------------

def _decimals(metric: str, kind: str) -> int:
    if metric == "brier":
        return 3
    return 1 if metric in METRIC_UNITS_FOLLOW_TASK and kind == "continuous" else 2


def format_number(metric: str, kind: str, value: float) -> str:
    decimals = _decimals(metric, kind)
    if round(value, decimals) == 0:
        value = 0.0  # no "-0.00"
    return f"{value:+.{decimals}f}" if metric == "bias" else f"{value:.{decimals}f}"


def _metric_label(metric: str, unit: str) -> str:
    return f"{METRIC_LABELS[metric]} ({unit})" if unit and metric in METRIC_UNITS_FOLLOW_TASK else METRIC_LABELS[metric]


# --- the side-by-side evaluation -------------------------------------------------------------------------------------

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
    predictions = task_predictions(context).get((task, space))
    if predictions is None:
        return None
    name, mask = cohort_choice_mask(context, choice, filters, selection)
    cut = (predictions.threshold if threshold is None else float(threshold)) if predictions.kind == "binary" else None
    inside = mask[predictions.rows]
    arrays = ((predictions.truth[inside], predictions.prediction[inside]),
              (predictions.truth[~inside], predictions.prediction[~inside]),
              (predictions.truth, predictions.prediction))
    groups = tuple(evaluate_group(group, predictions.kind, truth, prediction, cut, N_RESAMPLES, SEED)
                   for group, (truth, prediction) in zip((name, EVERYONE_ELSE, EVERYONE_GROUP), arrays))
    return Evaluation(predictions, name, groups, arrays, bool(inside.all()), cut, mask)


def _group_header(group: GroupMetrics) -> html.Th:
    counts = f"n = {group.n:,}" + (f" · {group.cases:,} cases ({100 * group.prevalence:.1f}%)" if group.cases is not None and group.n else "")
    return html.Th([html.Div(group.name), html.Small(counts, className="text-muted fw-normal")], className="accuracy-group")


DEGENERATE_INTERVAL = ("Every resample gave the same value: with this few cases or controls the bootstrap cannot show the uncertainty, "
                       "which is larger than it looks.")


def _estimate_lines(estimate: MetricEstimate, kind: str) -> list:
    """The estimate in bold over its interval (or why there is no interval)."""
    value = html.Span(format_number(estimate.metric, kind, estimate.value), className="fw-semibold accuracy-value")
    if not np.isfinite(estimate.low):
        return [value, html.Br(), html.Small(estimate.reason or "no interval", className="text-muted fst-italic")]
    text = f"{format_number(estimate.metric, kind, estimate.low)} to {format_number(estimate.metric, kind, estimate.high)}"
    if estimate.low == estimate.high:
        return [value, html.Br(), html.Small([text, " ", html.Abbr("(no spread)", title=DEGENERATE_INTERVAL)], className="text-warning-emphasis")]
    return [value, html.Br(), html.Small(text, className="text-muted accuracy-interval")]


def _metric_cell(estimate: MetricEstimate, kind: str) -> html.Td:
    if not np.isfinite(estimate.value):
        return html.Td(html.Small(estimate.reason or "–", className="text-muted fst-italic"), className="accuracy-missing")
    return html.Td(_estimate_lines(estimate, kind))


def metrics_table(evaluation: Evaluation, unit: str) -> dbc.Table:
    """Rows: metrics; columns: the cohort, everyone else, everyone; each cell the estimate over its 95% interval."""
    kind = evaluation.predictions.kind
    header = html.Thead(html.Tr([html.Th("Metric (95% CI)"), *[_group_header(group) for group in evaluation.groups]]))
    rows = []
    for metric in metric_names(kind):
        label = _metric_label(metric, unit)
        if metric in THRESHOLD_METRICS and evaluation.threshold is not None:
            label = [label, html.Small(f" at ≥ {evaluation.threshold:.3f}", className="text-muted")]
        if metric in PREVALENCE_METRICS:
            label = [*(label if isinstance(label, list) else [label]), html.Br(),
                     html.Small("moves with prevalence", className="text-warning-emphasis accuracy-prevalence-note", title=PREVALENCE_NOTE)]
        rows.append(html.Tr([html.Th(label, scope="row", className="fw-normal"),
                             *[_metric_cell(group.estimates[metric], kind) for group in evaluation.groups]]))
    return dbc.Table([header, html.Tbody(rows)], bordered=False, hover=True, size="sm", className="accuracy-metrics small mb-1", id="accuracy-metric-table")


def _difference_text(difference: AurocDifference) -> str:
    return (f"{difference.difference:+.3f} (95% CI {difference.low:+.3f} to {difference.high:+.3f}, p = {difference.p_value:.2g}; "
            f"AUROC {difference.auroc_a:.3f} vs {difference.auroc_b:.3f})")


def auroc_comparisons(context: AppContext, evaluation: Evaluation, cohort_mask: np.ndarray) -> list[tuple[str, str]]:
    """(what, DeLong difference as text) for the cohort against everyone else (unpaired) and this space against each other space on
    the cohort's test subjects (paired); a comparison a group is too small for says why."""
    predictions = evaluation.predictions
    if predictions.kind != "binary":
        return []
    lines = []
    cohort, rest = evaluation.groups[0], evaluation.groups[1]
    what = f"AUROC, {evaluation.cohort_name} − everyone else (different subjects; DeLong)"
    if evaluation.cohort_is_everyone or cohort.reason or rest.reason:
        lines.append((what, "not available: " + (cohort.reason or rest.reason or "the cohort is everyone")))
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
        reason = insufficiency("binary", truth)
        lines.append((what, f"not available: {reason}" if reason else _difference_text(auroc_difference_paired(truth, mine, theirs))))
    return lines


def comparisons_component(lines: list[tuple[str, str]]) -> html.Div:
    if not lines:
        return html.Div()
    return html.Div([html.Div("Differences in AUROC, with 95% intervals", className="fw-semibold small mt-2"),
                     html.Ul([html.Li([html.Span(what, className="text-muted"), ": ", html.Span(text, className="accuracy-difference")])
                              for what, text in lines], className="small mb-1 ps-3")],
                    id="accuracy-auroc-differences")


def _drawn_groups(evaluation: Evaluation) -> list[CohortData]:
    """The groups to draw: the cohort and everyone else when each can be judged, and everyone dashed (once, if the cohort is everyone)."""
    styles = ((COHORT_COLOUR, "solid"), (OTHER_COLOUR, "solid"), (EVERYONE_COLOUR, "dash"))
    drawn = []
    for index, (group, (truth, prediction), (colour, dash_style)) in enumerate(zip(evaluation.groups, evaluation.arrays, styles)):
        if group.reason is not None or (index == 0 and evaluation.cohort_is_everyone):
            continue
        drawn.append(CohortData(group.name, truth, prediction, colour, dash_style))
    return drawn


def evaluation_figures(context: AppContext, evaluation: Evaluation) -> list:
    """The figures for a task's kind: curves, calibration and confusion (binary); agreement (continuous)."""
    task = evaluation.predictions.task
    label = _task_label(context, task)
    drawn = _drawn_groups(evaluation)
    if evaluation.predictions.kind != "binary" and len(drawn) > 1:
        drawn = [group for group in drawn if group.name != EVERYONE_GROUP]  # everyone's points would cover the cohort's and the rest's
    if not drawn:
        return [dcc.Graph(id="accuracy-curves", figure=note_figure("No group here has enough test subjects to draw"), config=GRAPH_CONFIG)]
    if evaluation.predictions.kind != "binary":
        return [_figure_heading("Predicted vs true, and Bland–Altman", "Right: bias (solid) and 95% limits of agreement (dashed) per group."),
                dcc.Graph(id="accuracy-agreement", figure=agreement_figure(drawn, label, _task_unit(context, task)), config=GRAPH_CONFIG)]
    threshold = evaluation.threshold if evaluation.threshold is not None else 0.5
    return [
        _figure_heading(f"ROC and precision–recall curves · dots: threshold {threshold:.3f}",
                        "Dotted: chance (ROC) and each group's prevalence (PR)."),
        dcc.Graph(id="accuracy-curves", figure=roc_pr_figure(drawn, threshold, label), config=GRAPH_CONFIG),
        dbc.Row(
            [
                dbc.Col([_figure_heading("Calibration (reliability diagram)", "Each dot: a tenth of the group by predicted risk."),
                         dcc.Graph(id="accuracy-calibration", figure=reliability_figure(drawn), config=GRAPH_CONFIG)], lg=5),
                dbc.Col([_figure_heading(f"Confusion matrices at threshold {threshold:.3f}", "Flagged: predicted risk ≥ threshold."),
                         dcc.Graph(id="accuracy-confusion", figure=confusion_figure(drawn, threshold, label), config=GRAPH_CONFIG)], lg=7),
            ],
            className="g-2",
        ),
    ]


def _figure_heading(title: str, hint: str) -> html.Div:
    return html.Div([html.Span(title, className="fw-semibold"), html.Span(f" {hint}", className="text-muted small")], className="mt-3 mb-0")


def sizes_text(context: AppContext, evaluation: Evaluation) -> list:
    predictions = evaluation.predictions
    parts = [f"{_task_label(context, predictions.task)} from the {space_label(predictions.space)} space · test split only: "
             f"{len(predictions.rows):,} of {context.n_subjects:,} subjects (training subjects are never scored here) · "
             f"95% intervals from {N_RESAMPLES:,} bootstrap resamples of subjects (seed {SEED})."]
    cohort = context.cohort
    lacking = int((~(cohort.ecg_present & cohort.mri_present))[predictions.rows].sum()) if cohort.has_ecg and cohort.has_mri else 0
    if lacking:
        parts.append(html.Div(f"{lacking:,} of these test subjects lack an ECG or a cine: their latent comes from the recording they have, "
                              "so single-modality spaces score them cross-modally.", className="text-info-emphasis", id="accuracy-missing-modalities"))
    if evaluation.cohort_is_everyone:
        parts.append(html.Div("The current cohort is everyone: narrow it with filters (left) or a lasso selection (Explore tab), "
                              "or choose a saved cohort, to compare it with everyone else.", className="text-warning-emphasis"))
    return parts


def render_evaluation(context: AppContext, task: str | None, space: str | None, threshold: float | None, choice: str | int | None,
                      filters: list | None, selection: dict | None) -> tuple[list, object, list]:
    """(summary line, metrics table, figures) for the panel's choices."""
    try:
        evaluation = evaluate(context, task, space, threshold, choice, filters, selection) if task and space else None
    except CohortStoreError as error:  # e.g. the chosen saved cohort was deleted in another tab
        message = f"The chosen saved cohort cannot be used ({error}): choose another."
        return [message], dbc.Alert(message, color="warning"), []
    if evaluation is None:
        message = f"No stored predictions of {task} from the {space_label(space or '')} space." if task else "Choose an outcome."
        return [message], dbc.Alert(message, color="warning"), []
    table = [metrics_table(evaluation, _task_unit(context, task)), comparisons_component(auroc_comparisons(context, evaluation, evaluation.cohort_mask))]
    return sizes_text(context, evaluation), table, evaluation_figures(context, evaluation)


# --- subgroups -------------------------------------------------------------------------------------------------------

def breakdown_options(context: AppContext) -> list[dict]:
    options = [
        {"label": "Saved cohorts", "value": BY_SAVED},
        {"label": "Age band (< 55, 55–64, 65–74, ≥ 75)", "value": BY_AGE},
        {"label": "Latent space: the chosen cohort and everyone else", "value": BY_SPACE},
    ]
    for name, spec in context.variables.items():
        if spec.type in ("categorical", "binary") and name != cohort_spec.SPLIT:
            options.append({"label": spec.display_label, "value": name})
    return options


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


def _sort_button(column: str, label: str, sort: dict | None) -> html.Th:
    arrow = ""
    if sort and sort.get("column") == column:
        arrow = " ▼" if sort.get("descending") else " ▲"
    return html.Th(dbc.Button(f"{label}{arrow}", id={"type": "accuracy-sort", "column": column}, color="link", size="sm",
                              className="p-0 fw-semibold text-decoration-none text-reset text-start", title=f"Sort by {label}"))


def subgroup_table_component(table: pd.DataFrame, kind: str, unit: str, sort: dict | None) -> dbc.Table:
    """The subgroup table as HTML: sortable headers, estimates with intervals, disparities shaded against everyone."""
    metrics = metric_names(kind)
    header = [_sort_button("subgroup", "Subgroup", sort), _sort_button("n", "n", sort)]
    if kind == "binary":
        header += [_sort_button("cases", "Cases", sort), _sort_button("prevalence", "Prevalence", sort)]
    header += [_sort_button(metric, _metric_label(metric, unit), sort) for metric in metrics]
    reference = table.iloc[0]
    body = []
    for position, row in table.iterrows():
        name = [row["subgroup"], html.Br(), html.Small(row["note"], className="text-muted fst-italic accuracy-note")] if row["note"] else row["subgroup"]
        cells = [html.Td(name, className="fw-semibold" if position == 0 else None), html.Td(f"{int(row['n']):,}")]
        if kind == "binary":
            cells.append(html.Td("–" if pd.isna(row["cases"]) else f"{int(row['cases']):,}"))
            cells.append(html.Td("–" if pd.isna(row["prevalence"]) else f"{100 * row['prevalence']:.1f}%"))
        for metric in metrics:
            estimate = MetricEstimate(metric, row[metric], row[f"{metric}_low"], row[f"{metric}_high"])
            if not np.isfinite(estimate.value):
                cells.append(html.Td("–", className="text-muted"))
                continue
            flag = None if position == 0 else disparity(metric, estimate.low, estimate.high, reference[metric])
            flag_title = {"worse": "95% interval entirely worse than everyone's value",
                          "better": "95% interval entirely better than everyone's value"}.get(flag)
            if flag_title and metric in PREVALENCE_METRICS:
                flag_title += f" ({METRIC_LABELS[metric]} moves with prevalence: compare this group's prevalence with everyone's)"
            cells.append(html.Td(_estimate_lines(estimate, kind), className=f"accuracy-{flag}" if flag else None, title=flag_title))
        body.append(html.Tr(cells, className="accuracy-reference" if position == 0 else None))
    return dbc.Table([html.Thead(html.Tr(header)), html.Tbody(body)], size="sm", hover=True, responsive=True,
                     className="accuracy-subgroups small", id="accuracy-subgroup-table")


def export_frame(table: pd.DataFrame, task: str, space: str) -> pd.DataFrame:
    """The subgroup table as numbers for CSV: estimates and interval bounds per metric, and what they are of.

    Each row keeps the threshold it was evaluated at (in the latent-space breakdown each space has its own).
    """
    frame = table.copy()
    frame.insert(0, "space", space)
    frame.insert(0, "task", task)
    frame["confidence"] = CONFIDENCE
    frame["bootstrap_resamples"] = N_RESAMPLES
    frame["seed"] = SEED
    return frame


def next_sort(current: dict | None, column: str) -> dict:
    """Clicking a header sorts by it, best-looking first for metrics; clicking again flips the order."""
    if current and current.get("column") == column:
        return {"column": column, "descending": not current.get("descending")}
    return {"column": column, "descending": column not in ("subgroup",) and HIGHER_IS_BETTER.get(column, True) is not False}


# --- layout and callbacks --------------------------------------------------------------------------------------------

def task_options(context: AppContext) -> list[dict]:
    tasks = task_predictions(context)
    seen: dict[str, str] = {}
    for (task, _space), predictions in tasks.items():
        seen.setdefault(task, predictions.kind)
    binary = [t for t, kind in seen.items() if kind == "binary"]
    continuous = [t for t, kind in seen.items() if kind != "binary"]
    return ([{"label": f"{_task_label(context, t)} (yes/no)", "value": t} for t in binary]
            + [{"label": context.variables[t].display_label if t in context.variables else t, "value": t} for t in continuous])


def space_options(context: AppContext) -> list[dict]:
    spaces = list(dict.fromkeys(space for _task, space in task_predictions(context)))
    order = list(SPACE_LABELS)
    spaces.sort(key=lambda s: order.index(s) if s in order else len(order))
    return [{"label": space_label(space), "value": space} for space in spaces]


def layout(context: AppContext) -> html.Div:
    if not task_predictions(context):
        return html.Div(dbc.Alert(["This cohort has no stored test-split predictions. Fit the predictors with ",
                                   html.Code(f"python -m models.predictors --cohort {context.cohort.root}"), " and restart."],
                                  color="info", className="mt-2"), id="accuracy-panel")
    tasks, spaces = task_options(context), space_options(context)
    default_task = cohort_spec.AF if any(o["value"] == cohort_spec.AF for o in tasks) else tasks[0]["value"]
    default_space = "joint" if any(o["value"] == "joint" for o in spaces) else spaces[0]["value"]
    breakdowns = breakdown_options(context)
    default_breakdown = cohort_spec.SEX if cohort_spec.SEX in context.variables else BY_AGE
    controls = dbc.Row(
        [
            dbc.Col([html.Label("Outcome predicted", htmlFor="accuracy-task", className="small fw-semibold"),
                     dcc.Dropdown(id="accuracy-task", options=tasks, value=default_task, clearable=False)], md=3),
            dbc.Col([html.Div("From the latent space", className="small fw-semibold mb-1"),
                     dbc.RadioItems(id="accuracy-space", options=spaces, value=default_space, inline=True,
                                    className="btn-group btn-group-sm", inputClassName="btn-check",
                                    labelClassName="btn btn-outline-primary", labelCheckedClassName="active")], md="auto"),
            dbc.Col([html.Label("Cohort", htmlFor="accuracy-cohort", className="small fw-semibold"),
                     dcc.Dropdown(id="accuracy-cohort", value=CURRENT, clearable=False,
                                  options=[CURRENT_OPTION])], md=3),
        ],
        className="g-3 mb-2 align-items-start",
    )
    threshold = dbc.Row(
        [
            dbc.Col([html.Label("Threshold: flagged when predicted risk ≥", htmlFor="accuracy-threshold-value", className="small fw-semibold",
                                id="accuracy-threshold-label"),
                     dbc.Input(id="accuracy-threshold-value", type="number", min=0, max=1, step=0.001, value=0.5, size="sm",
                               debounce=True, className="accuracy-threshold-value")], width="auto"),
            dbc.Col([dcc.Slider(id="accuracy-threshold", min=0, max=1, step=0.001, value=0.5,
                                marks={v / 10: f"{v / 10:g}" for v in range(11)}, updatemode="mouseup"),
                     html.Div(id="accuracy-threshold-note", className="small text-muted")], className="accuracy-threshold-slider"),
        ],
        className="g-3 mb-2 align-items-start", id="accuracy-threshold-block",
    )
    subgroups = dbc.Card(
        [
            dbc.CardHeader(html.Strong("Subgroups: one predictor across groups, with 95% intervals")),
            dbc.CardBody(
                [
                    dbc.Row(
                        [
                            dbc.Col([html.Label("Break down by", htmlFor="accuracy-breakdown", className="small fw-semibold"),
                                     dcc.Dropdown(id="accuracy-breakdown", options=breakdowns, value=default_breakdown, clearable=False)], md=4),
                            dbc.Col([html.Label("Plot", htmlFor="accuracy-forest-metric", className="small fw-semibold"),
                                     dcc.Dropdown(id="accuracy-forest-metric", clearable=False)], md=3),
                            dbc.Col(dbc.Button("Export CSV", id="accuracy-export", color="secondary", outline=True, size="sm"),
                                    width="auto", className="ms-auto align-self-end"),
                        ],
                        className="g-2 mb-2",
                    ),
                    dcc.Loading(html.Div(id="accuracy-subgroups"), delay_show=400),
                    html.Div([html.Span("Red", className="accuracy-worse px-1"), " / ", html.Span("green", className="accuracy-better px-1"),
                              ": the subgroup's 95% interval lies entirely on the worse / better side of everyone's value. "
                              "Click a column header to sort."], className="small text-muted mt-1"),
                    html.Div(["Prevalence: the share of cases in each group. ", PREVALENCE_NOTE], className="small text-warning-emphasis mt-1",
                             id="accuracy-prevalence-note"),
                    dcc.Graph(id="accuracy-forest", config={"displayModeBar": False}),
                    dcc.Download(id="accuracy-download"),
                    dcc.Store(id="accuracy-sort", data=None),
                ]
            ),
        ],
        className="mt-3",
    )
    return html.Div(
        [
            controls,
            threshold,
            html.Div(id="accuracy-sizes", className="small text-muted mb-2"),
            dcc.Loading(html.Div(id="accuracy-metrics"), delay_show=400),
            dcc.Loading(html.Div(id="accuracy-figures"), delay_show=400),
            subgroups,
        ],
        id="accuracy-panel",
        className="pt-2",
    )


@dataclass(frozen=True)
class ThresholdSettings:
    """The threshold control and the forest plot's metric choices for an outcome and a space."""

    value: float = 0.5
    disabled: bool = True  # a continuous outcome, or no predictions: no threshold to set
    note: str = ""
    metric_options: tuple[dict, ...] = ()
    metric: str | None = None
    shown: bool = False  # whether the threshold block is on the page

    def outputs(self) -> tuple:
        return self.value, self.disabled, self.note, list(self.metric_options), self.metric, {} if self.shown else {"display": "none"}


def threshold_settings(context: AppContext, task: str | None, space: str | None, metric: str | None) -> ThresholdSettings:
    """What the threshold control starts at when the outcome or the space changes: the stored training threshold where there is one."""
    predictions = task_predictions(context).get((task, space)) if task and space else None
    if predictions is None:
        return ThresholdSettings()
    metrics = metric_names(predictions.kind)
    options = tuple({"label": _metric_label(m, _task_unit(context, task)), "value": m} for m in metrics)
    chosen = metric if metric in metrics else metrics[0]
    if predictions.kind != "binary":
        return ThresholdSettings(note="Continuous outcome: no threshold.", metric_options=options, metric=chosen)
    if predictions.threshold is None:
        return ThresholdSettings(disabled=False, note="No stored threshold: 0.5 to start with.", metric_options=options, metric=chosen, shown=True)
    note = f"Default {predictions.threshold:.3f}: Youden's J on the training subjects' cross-fitted predictions."
    return ThresholdSettings(round(predictions.threshold, 3), False, note, options, chosen, shown=True)


def synced_threshold(trigger: str | None, typed: float | str | None, slid: float | None) -> tuple:
    """(slider value, typed value, typed value invalid) when either threshold control changes; a typed value outside 0–1 is refused, not clamped."""
    if trigger == "accuracy-threshold-value":
        try:
            value = float(typed) if typed is not None else float("nan")
        except (TypeError, ValueError):
            value = float("nan")
        if not 0 <= value <= 1:
            return dash.no_update, dash.no_update, True
        return round(value, 3), dash.no_update, False
    return dash.no_update, slid, False


def render_subgroups(context: AppContext, task: str | None, space: str | None, threshold: float | None, breakdown: str | None,
                     metric: str | None, filters: list | None, selection: dict | None, sort: dict | None,
                     choice: str | int | None = CURRENT) -> tuple[object, object]:
    """(table, forest plot) for a breakdown."""
    if not task or not space or (task, space) not in task_predictions(context) or not breakdown:
        return html.Div(), note_figure("Choose an outcome and a breakdown", height=200)
    try:
        kind, table = subgroup_results(context, task, space, threshold, breakdown, filters, selection, sort, choice)
    except CohortStoreError as error:  # the chosen saved cohort was deleted in another tab
        return dbc.Alert(f"The chosen saved cohort cannot be used ({error}): choose another.", color="warning"), note_figure("", height=200)
    if breakdown == BY_SAVED and len(table) == 1:
        advice = dbc.Alert("No saved cohorts yet: save some in the sidebar to compare the predictor across them.", color="info", className="py-2")
        return [advice, subgroup_table_component(table, kind, _task_unit(context, task), sort)], note_figure("No saved cohorts yet", height=200)
    metric = metric if metric in metric_names(kind) else metric_names(kind)[0]
    first = table.iloc[0]
    figure = forest_figure(table.iloc[1:], metric, (first[metric], first[f"{metric}_low"], first[f"{metric}_high"]), "Everyone")
    return subgroup_table_component(table, kind, _task_unit(context, task), sort), figure


def _only_when_shown(tab: str | None) -> None:
    """Bootstrapping while another tab is shown would slow every filter change there; opening the tab catches up."""
    if tab != ACCURACY_TAB:
        raise PreventUpdate


def register(app: dash.Dash, context: AppContext) -> None:
    if not task_predictions(context):
        return

    @app.callback(Output("accuracy-cohort", "options"), Input(SAVED_COHORTS, "options"))
    def _cohort_options(saved_options):
        return saved_cohort_options(saved_options, CURRENT_OPTION)

    @app.callback(
        Output("accuracy-threshold", "value"),
        Output("accuracy-threshold", "disabled"),
        Output("accuracy-threshold-note", "children"),
        Output("accuracy-forest-metric", "options"),
        Output("accuracy-forest-metric", "value"),
        Output("accuracy-threshold-block", "style"),
        Input("accuracy-task", "value"),
        Input("accuracy-space", "value"),
        State("accuracy-forest-metric", "value"),
    )
    def _threshold(task, space, metric):
        return threshold_settings(context, task, space, metric).outputs()

    @app.callback(
        Output("accuracy-threshold", "value", allow_duplicate=True),
        Output("accuracy-threshold-value", "value"),
        Output("accuracy-threshold-value", "invalid"),
        Input("accuracy-threshold-value", "value"),
        Input("accuracy-threshold", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def _typed_threshold(typed, slid):
        return synced_threshold(ctx.triggered_id, typed, slid)

    @app.callback(
        Output("accuracy-sizes", "children"),
        Output("accuracy-metrics", "children"),
        Output("accuracy-figures", "children"),
        Input("accuracy-task", "value"),
        Input("accuracy-space", "value"),
        Input("accuracy-threshold", "value"),
        Input("accuracy-cohort", "value"),
        Input(FILTERS, "data"),
        Input(SELECTION, "data"),
        Input(COHORTS_VERSION, "data"),
        Input("main-tabs", "active_tab"),
    )
    def _evaluate(task, space, threshold, choice, filters, selection, _version, tab):
        _only_when_shown(tab)
        return render_evaluation(context, task, space, threshold, choice, filters, selection)

    @app.callback(
        Output("accuracy-sort", "data"),
        Input({"type": "accuracy-sort", "column": ALL}, "n_clicks"),
        State("accuracy-sort", "data"),
        prevent_initial_call=True,
    )
    def _sort(clicks, current):
        if not isinstance(ctx.triggered_id, dict) or not any(clicks):
            return dash.no_update
        return next_sort(current, ctx.triggered_id["column"])

    @app.callback(
        Output("accuracy-subgroups", "children"),
        Output("accuracy-forest", "figure"),
        Input("accuracy-task", "value"),
        Input("accuracy-space", "value"),
        Input("accuracy-threshold", "value"),
        Input("accuracy-breakdown", "value"),
        Input("accuracy-forest-metric", "value"),
        Input("accuracy-sort", "data"),
        Input("accuracy-cohort", "value"),
        Input(FILTERS, "data"),
        Input(SELECTION, "data"),
        Input(COHORTS_VERSION, "data"),
        Input("main-tabs", "active_tab"),
    )
    def _subgroups(task, space, threshold, breakdown, metric, sort, choice, filters, selection, _version, tab):
        _only_when_shown(tab)
        return render_subgroups(context, task, space, threshold, breakdown, metric, filters, selection, sort, choice)

    @app.callback(
        Output("accuracy-download", "data"),
        Input("accuracy-export", "n_clicks"),
        State("accuracy-task", "value"),
        State("accuracy-space", "value"),
        State("accuracy-threshold", "value"),
        State("accuracy-breakdown", "value"),
        State("accuracy-sort", "data"),
        State("accuracy-cohort", "value"),
        State(FILTERS, "data"),
        State(SELECTION, "data"),
        prevent_initial_call=True,
    )
    def _export(_clicks, task, space, threshold, breakdown, sort, choice, filters, selection):
        if not task or not space or not breakdown:
            return dash.no_update
        _kind, table = subgroup_results(context, task, space, threshold, breakdown, filters, selection, sort, choice)
        frame = export_frame(table, task, space)
        context.store.record("export", f"accuracy of {task} from {space} by {breakdown}: {len(frame):,} rows")
        return dcc.send_data_frame(safe_csv_frame(frame).to_csv, f"accuracy-{task}-{space}-by-{breakdown}.csv", index=False)
