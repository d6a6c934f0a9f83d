"""What the accuracy panel shows, as frozen dataclasses of components and figures; the callbacks only turn them into outputs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import dcc, html

from app.cohort_store import CohortStoreError
from app.context import AppContext
from app.core.members import Members
from app.core.metrics import LITTLE_BOOTSTRAP_FROM, N_RESAMPLES, metric_names
from app.figures.accuracy import (
    COHORT_COLOUR,
    EVERYONE_COLOUR,
    OTHER_COLOUR,
    CohortData,
    agreement_figure,
    confusion_figure,
    forest_figure,
    reliability_figure,
    roc_pr_figure,
)
from app.figures.messages import message_figure
from app.panels.accuracy.evaluation import (
    Evaluation,
    auroc_comparisons,
    cohort_choice_mask,
    evaluate_cohort,
    subgroup_results,
    task_label,
    task_predictions,
    task_unit,
)
from app.panels.accuracy.settings import BY_SAVED, EVERYONE_GROUP, GRAPH_CONFIG, SEED
from app.panels.accuracy.tables import comparisons_component, metric_label, metrics_table, subgroup_table_component
from app.state import CURRENT, space_label


def _drawn_groups(evaluation: Evaluation, metric: str | None = None) -> tuple[list[CohortData], list[str]]:
    """The groups to draw: the cohort and everyone else when each can be judged, and everyone dashed (once, if the cohort is everyone).

    Given a metric (the ROC and PR curves: ``auroc``, which needs cases and controls), only the groups with that
    metric; the second list says which groups that left out and why ("name: reason").
    """
    styles = ((COHORT_COLOUR, "solid"), (OTHER_COLOUR, "solid"), (EVERYONE_COLOUR, "dash"))
    drawn, left_out = [], []
    for index, (group, (truth, prediction), (colour, dash_style)) in enumerate(zip(evaluation.groups, evaluation.arrays, styles)):
        if group.reason is not None or (index == 0 and evaluation.cohort_is_everyone):
            continue
        if metric is not None and not np.isfinite(group.estimates[metric].value):
            left_out.append(f"{group.name}: {group.estimates[metric].reason or 'undefined'}")
            continue
        drawn.append(CohortData(group.name, truth, prediction, colour, dash_style))
    return drawn, left_out


def evaluation_figures(context: AppContext, evaluation: Evaluation) -> list:
    """The figures for a task's kind: curves, calibration and confusion (binary); agreement (continuous)."""
    task = evaluation.predictions.task
    label = task_label(context, task)
    drawn, _ = _drawn_groups(evaluation)
    if evaluation.predictions.kind != "binary" and len(drawn) > 1:
        drawn = [group for group in drawn if group.name != EVERYONE_GROUP]  # everyone's points would cover the cohort's and the rest's
    if not drawn:
        return [dcc.Graph(id="accuracy-curves", figure=message_figure("No group here has enough test subjects to draw", height=320), config=GRAPH_CONFIG)]
    if evaluation.predictions.kind != "binary":
        return [_figure_heading("Predicted vs true, and Bland–Altman", "Right: bias (solid) and 95% limits of agreement (dashed) per group."),
                dcc.Graph(id="accuracy-agreement", figure=agreement_figure(drawn, label, task_unit(context, task)), config=GRAPH_CONFIG)]
    threshold = evaluation.threshold if evaluation.threshold is not None else 0.5
    # A curve ranks cases against controls: a group with one class only (or too few of one) is left out of the curves, not
    # of calibration and the confusion matrices, which are defined with one class.
    curved, left_out = _drawn_groups(evaluation, "auroc")
    not_drawn = f" Not drawn here: {'; '.join(left_out)}." if left_out else ""
    curves = (roc_pr_figure(curved, threshold, label) if curved else
              message_figure("No group here has enough cases and controls for ROC and precision–recall curves\n" + "\n".join(left_out), height=320))
    return [
        _figure_heading(f"ROC and precision–recall curves · dots: threshold {threshold:.3f}",
                        f"Dotted: chance (ROC) and each group's prevalence (PR).{not_drawn}"),
        dcc.Graph(id="accuracy-curves", figure=curves, config=GRAPH_CONFIG),
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
    large = f"; groups of {LITTLE_BOOTSTRAP_FROM:,} or more: bag of little bootstraps" if len(predictions.rows) >= LITTLE_BOOTSTRAP_FROM else ""
    parts = [f"{task_label(context, predictions.task)} from the {space_label(predictions.space)} space · test split only: "
             f"{len(predictions.rows):,} of {context.n_subjects:,} subjects (training subjects are never scored here) · "
             f"95% intervals from {N_RESAMPLES:,} bootstrap resamples of subjects (seed {SEED}{large})."]
    cohort = context.cohort
    lacking = int((~(cohort.ecg_present & cohort.mri_present))[predictions.rows].sum()) if cohort.has_ecg and cohort.has_mri else 0
    if lacking:
        parts.append(html.Div(f"{lacking:,} of these test subjects lack an ECG or a cine: their latent comes from the recording they have, "
                              "so single-modality spaces score them cross-modally.", className="text-info-emphasis", id="accuracy-missing-modalities"))
    if evaluation.cohort_is_everyone:
        parts.append(html.Div("The current cohort is everyone: narrow it with filters (left) or a lasso selection (Explore tab), "
                              "or choose a saved cohort, to compare it with everyone else.", className="text-warning-emphasis"))
    return parts


@dataclass(frozen=True)
class EvaluationView:
    """The side-by-side evaluation: the line saying what is scored, the metrics table with AUROC differences, the figures."""

    sizes: list  # the summary line (text and notes), or the refusal
    metrics: object  # the metrics table and the AUROC differences, or a warning
    figures: list

    @classmethod
    def refusal(cls, message: str) -> EvaluationView:
        """Nothing to evaluate: ``message`` in the summary line and in a warning where the table would be."""
        return cls([message], dbc.Alert(message, color="warning"), [])

    def outputs(self) -> tuple:
        return self.sizes, self.metrics, self.figures


def render_evaluation(context: AppContext, task: str | None, space: str | None, threshold: float | None, choice: str | int | None,
                      filters: list | None, selection: dict | None) -> EvaluationView:
    """The summary line, metrics table and figures for the panel's choices."""
    if not task:
        return EvaluationView.refusal("Choose an outcome.")
    try:
        name, mask = cohort_choice_mask(context, choice, filters, selection)
    except CohortStoreError as error:  # e.g. the chosen saved cohort was deleted in another tab
        return EvaluationView.refusal(f"The chosen saved cohort cannot be used ({error}): choose another.")
    return _evaluation_view(context, task, space, threshold, name, Members(mask))


@lru_cache(maxsize=32)
def _evaluation_view(context: AppContext, task: str, space: str | None, threshold: float | None, name: str, cohort: Members) -> EvaluationView:
    """Worked out once per outcome, space, threshold and cohort in a process (read-only predictions, shared by users): coming
    back to an outcome, or a colleague looking at the same cohort, costs nothing again. Callers only read the view."""
    evaluation = evaluate_cohort(context, task, space, threshold, name, cohort.mask) if space else None
    if evaluation is None:
        return EvaluationView.refusal(f"No stored predictions of {task} from the {space_label(space or '')} space.")
    table = [metrics_table(evaluation, task_unit(context, task)), comparisons_component(auroc_comparisons(context, evaluation, evaluation.cohort_mask))]
    return EvaluationView(sizes_text(context, evaluation), table, evaluation_figures(context, evaluation))


@dataclass(frozen=True)
class ThresholdSettings:
    """The threshold control and the forest plot's metric choices for an outcome and a space."""

    value: float = 0.5
    disabled: bool = True  # a continuous outcome, or no predictions: no threshold to set
    note: str = ""
    metric_options: tuple[dict, ...] = ()
    metric: str | None = None
    shown: bool = False  # whether the threshold block is on the page

    @property
    def block_style(self) -> dict:
        """The threshold block's style: hidden when there is no threshold to set."""
        return {} if self.shown else {"display": "none"}

    def outputs(self) -> tuple:
        """The threshold block and the note on prevalence share one style: both concern yes/no outcomes only."""
        return self.value, self.disabled, self.note, list(self.metric_options), self.metric, self.block_style, self.block_style


def threshold_settings(context: AppContext, task: str | None, space: str | None, metric: str | None) -> ThresholdSettings:
    """What the threshold control starts at when the outcome or the space changes: the stored training threshold where there is one."""
    predictions = task_predictions(context).get((task, space)) if task and space else None
    if predictions is None:
        return ThresholdSettings()
    metrics = metric_names(predictions.kind)
    options = tuple({"label": metric_label(m, task_unit(context, task)), "value": m} for m in metrics)
    chosen = metric if metric in metrics else metrics[0]
    if predictions.kind != "binary":
        return ThresholdSettings(note="Continuous outcome: no threshold.", metric_options=options, metric=chosen)
    if predictions.threshold is None:
        return ThresholdSettings(disabled=False, note="No stored threshold: 0.5 to start with.", metric_options=options, metric=chosen, shown=True)
    note = f"Default {predictions.threshold:.3f}: Youden's J on the training subjects' cross-fitted predictions."
    return ThresholdSettings(round(predictions.threshold, 3), False, note, options, chosen, shown=True)


@dataclass(frozen=True)
class ThresholdSync:
    """The two threshold controls kept in step: the slider's value, the typed value, and whether the typed one is refused."""

    slider: object = dash.no_update  # a number, or no_update to keep the slider where it is
    typed: object = dash.no_update
    invalid: bool = False

    def outputs(self) -> tuple:
        return self.slider, self.typed, self.invalid


def synced_threshold(trigger: str | None, typed: float | str | None, slid: float | None) -> ThresholdSync:
    """The controls when either changes: a typed value moves the slider, a slid one the box; a typed value outside 0–1 is refused, not clamped."""
    if trigger == "accuracy-threshold-value":
        try:
            value = float(typed) if typed is not None else float("nan")
        except (TypeError, ValueError):
            value = float("nan")
        if not 0 <= value <= 1:
            return ThresholdSync(invalid=True)
        return ThresholdSync(slider=round(value, 3))
    return ThresholdSync(typed=slid)


@dataclass(frozen=True)
class SubgroupsView:
    """A breakdown: the subgroup table (with any advice above it) and the forest plot of one metric."""

    table: object
    forest: object  # a figure

    def outputs(self) -> tuple:
        return self.table, self.forest


def render_subgroups(context: AppContext, task: str | None, space: str | None, threshold: float | None, breakdown: str | None,
                     metric: str | None, filters: list | None, selection: dict | None, sort: dict | None,
                     choice: str | int | None = CURRENT) -> SubgroupsView:
    """The subgroup table and forest plot for a breakdown."""
    if not task or not space or (task, space) not in task_predictions(context) or not breakdown:
        return SubgroupsView(html.Div(), message_figure("Choose an outcome and a breakdown", height=200))
    try:
        kind, table = subgroup_results(context, task, space, threshold, breakdown, filters, selection, sort, choice)
    except CohortStoreError as error:  # the chosen saved cohort was deleted in another tab
        return SubgroupsView(dbc.Alert(f"The chosen saved cohort cannot be used ({error}): choose another.", color="warning"), message_figure("", height=200))
    if breakdown == BY_SAVED and len(table) == 1:
        advice = dbc.Alert("No saved cohorts yet: save some in the sidebar to compare the predictor across them.", color="info", className="py-2")
        return SubgroupsView([advice, subgroup_table_component(table, kind, task_unit(context, task), sort)], message_figure("No saved cohorts yet", height=200))
    metric = metric if metric in metric_names(kind) else metric_names(kind)[0]
    first = table.iloc[0]
    figure = forest_figure(table.iloc[1:], metric, (first[metric], first[f"{metric}_low"], first[f"{metric}_high"]), "Everyone")
    return SubgroupsView(subgroup_table_component(table, kind, task_unit(context, task), sort), figure)
