"""The accuracy panel's tables as HTML: estimates over their intervals, sortable subgroup rows, AUROC differences.

Each table is one component (app.figures.static_html): as a component per cell, the two tables' ~220
cells were most of the 2.8 s the tab took to open at 100,000 subjects. A header's sort button sets
``SORT_CLICK`` from assets/accuracy.js.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import dcc, html

from app.core.metrics import (
    BY_CONSTRUCTION,
    METRIC_LABELS,
    METRIC_NEEDS,
    METRIC_UNITS_FOLLOW_TASK,
    MIN_SUBJECTS,
    THRESHOLD_METRICS,
    GroupMetrics,
    MetricEstimate,
    metric_names,
)
from app.figures.static_html import one_component
from app.panels.accuracy.evaluation import Evaluation, disparity
from app.panels.accuracy.settings import BY_CONSTRUCTION_NOTE, DEGENERATE_INTERVAL, PREVALENCE_METRICS, PREVALENCE_NOTE


def _decimals(metric: str, kind: str) -> int:
    if metric == "brier":
        return 3
    return 1 if metric in METRIC_UNITS_FOLLOW_TASK and kind == "continuous" else 2


def format_number(metric: str, kind: str, value: float) -> str:
    decimals = _decimals(metric, kind)
    if round(value, decimals) == 0:
        value = 0.0  # no "-0.00"
    return f"{value:+.{decimals}f}" if metric == "bias" else f"{value:.{decimals}f}"


def metric_label(metric: str, unit: str) -> str:
    return f"{METRIC_LABELS[metric]} ({unit})" if unit and metric in METRIC_UNITS_FOLLOW_TASK else METRIC_LABELS[metric]


def _group_header(group: GroupMetrics) -> html.Th:
    counts = f"n = {group.n:,}" + (f" · {group.cases:,} cases ({100 * group.prevalence:.1f}%)" if group.cases is not None and group.n else "")
    return html.Th([html.Div(group.name), html.Small(counts, className="text-muted fw-normal")], className="accuracy-group")


def _note_title(estimate: MetricEstimate, kind: str) -> str | None:
    """The tooltip of a number without an interval, or of a metric without a number: what the metric needs of a group."""
    if estimate.reason and BY_CONSTRUCTION in estimate.reason:
        return BY_CONSTRUCTION_NOTE
    if not np.isfinite(estimate.value) and estimate.metric in METRIC_LABELS:
        needs = METRIC_NEEDS.get(estimate.metric) if kind == "binary" else None
        return f"{METRIC_LABELS[estimate.metric]} is shown for a group of at least {MIN_SUBJECTS} test subjects" + (f" with at least {needs}." if needs else ".")
    return None


def _estimate_lines(estimate: MetricEstimate, kind: str) -> list:
    """The estimate in bold over its interval (or why there is no interval)."""
    value = html.Span(format_number(estimate.metric, kind, estimate.value), className="fw-semibold accuracy-value")
    if not np.isfinite(estimate.low):
        return [value, html.Br(), html.Small(estimate.reason or "no interval", className="text-muted fst-italic accuracy-metric-note",
                                             title=_note_title(estimate, kind))]
    text = f"{format_number(estimate.metric, kind, estimate.low)} to {format_number(estimate.metric, kind, estimate.high)}"
    if estimate.low == estimate.high:
        return [value, html.Br(), html.Small([text, " ", html.Abbr("(no spread)", title=DEGENERATE_INTERVAL)], className="text-warning-emphasis")]
    return [value, html.Br(), html.Small(text, className="text-muted accuracy-interval")]


def _metric_cell(estimate: MetricEstimate, kind: str) -> html.Td:
    if not np.isfinite(estimate.value):
        return html.Td(html.Small(estimate.reason or "–", className="text-muted fst-italic accuracy-metric-note", title=_note_title(estimate, kind)),
                       className="accuracy-missing")
    return html.Td(_estimate_lines(estimate, kind))


def metrics_table(evaluation: Evaluation, unit: str) -> dcc.Markdown:
    """Rows: metrics; columns: the cohort, everyone else, everyone; each cell the estimate over its 95% interval."""
    kind = evaluation.predictions.kind
    header = html.Thead(html.Tr([html.Th("Metric (95% CI)"), *[_group_header(group) for group in evaluation.groups]]))
    rows = []
    for metric in metric_names(kind):
        label = metric_label(metric, unit)
        if metric in THRESHOLD_METRICS and evaluation.threshold is not None:
            label = [label, html.Small(f" at ≥ {evaluation.threshold:.3f}", className="text-muted")]
        if metric in PREVALENCE_METRICS:
            label = [*(label if isinstance(label, list) else [label]), html.Br(),
                     html.Small("moves with prevalence", className="text-warning-emphasis accuracy-prevalence-note", title=PREVALENCE_NOTE)]
        rows.append(html.Tr([html.Th(label, scope="row", className="fw-normal"),
                             *[_metric_cell(group.estimates[metric], kind) for group in evaluation.groups]]))
    return one_component(dbc.Table([header, html.Tbody(rows)], bordered=False, hover=True, size="sm", className="accuracy-metrics small mb-1"),
                         component_id="accuracy-metric-table")


def comparisons_component(lines: list[tuple[str, str]]) -> html.Div:
    if not lines:
        return html.Div()
    return html.Div([html.Div("Differences in AUROC, with 95% intervals", className="fw-semibold small mt-2"),
                     html.Ul([html.Li([html.Span(what, className="text-muted"), ": ", html.Span(text, className="accuracy-difference")])
                              for what, text in lines], className="small mb-1 ps-3")],
                    id="accuracy-auroc-differences")


def _sort_button(column: str, label: str, sort: dict | None) -> html.Th:
    arrow = ""
    if sort and sort.get("column") == column:
        arrow = " ▼" if sort.get("descending") else " ▲"
    return html.Th(html.Button(f"{label}{arrow}", type="button", title=f"Sort by {label}", **{"data-column": column},
                               className="btn btn-link btn-sm p-0 fw-semibold text-decoration-none text-reset text-start accuracy-sort"))


def subgroup_table_component(table: pd.DataFrame, kind: str, unit: str, sort: dict | None) -> dcc.Markdown:
    """The subgroup table as HTML: sortable headers, estimates with intervals, disparities shaded against everyone."""
    metrics = metric_names(kind)
    header = [_sort_button("subgroup", "Subgroup", sort), _sort_button("n", "n", sort)]
    if kind == "binary":
        header += [_sort_button("cases", "Cases", sort), _sort_button("prevalence", "Prevalence", sort)]
    header += [_sort_button(metric, metric_label(metric, unit), sort) for metric in metrics]
    reference = table.iloc[0]
    body = []
    for position, row in table.iterrows():
        name = [row["subgroup"], html.Br(), html.Small(row["note"], className="text-muted fst-italic accuracy-note")] if row["note"] else row["subgroup"]
        cells = [html.Td(name, className="fw-semibold" if position == 0 else None), html.Td(f"{int(row['n']):,}")]
        if kind == "binary":
            cells.append(html.Td("–" if pd.isna(row["cases"]) else f"{int(row['cases']):,}"))
            cells.append(html.Td("–" if pd.isna(row["prevalence"]) else f"{100 * row['prevalence']:.1f}%"))
        for metric in metrics:
            note = row.get(f"{metric}_note")
            estimate = MetricEstimate(metric, row[metric], row[f"{metric}_low"], row[f"{metric}_high"], note if isinstance(note, str) and note else None)
            if row["note"] or (not np.isfinite(estimate.value) and not estimate.reason):
                cells.append(html.Td("–", className="text-muted"))  # the whole row's note says why
                continue
            if not np.isfinite(estimate.value):  # this metric's own note, wrapped in its cell: the row's other metrics stand
                cells.append(html.Td(_metric_cell(estimate, kind).children, className="accuracy-missing text-wrap"))
                continue
            flag = None if position == 0 else disparity(metric, estimate.low, estimate.high, reference[metric])
            flag_title = {"worse": "95% interval entirely worse than everyone's value",
                          "better": "95% interval entirely better than everyone's value"}.get(flag)
            if flag_title and metric in PREVALENCE_METRICS:
                flag_title += f" ({METRIC_LABELS[metric]} moves with prevalence: compare this group's prevalence with everyone's)"
            wrap = "text-wrap" if estimate.reason and not np.isfinite(estimate.low) else None  # a number with a note instead of an interval
            cells.append(html.Td(_estimate_lines(estimate, kind), className=f"accuracy-{flag}" if flag else wrap, title=flag_title))
        body.append(html.Tr(cells, className="accuracy-reference" if position == 0 else None))
    return one_component(dbc.Table([html.Thead(html.Tr(header)), html.Tbody(body)], size="sm", hover=True, responsive=True,
                                   className="accuracy-subgroups small"), component_id="accuracy-subgroup-table")
