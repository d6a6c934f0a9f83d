"""The accuracy panel's layout: outcome, space and cohort choices, the threshold, the side-by-side numbers and the subgroups."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app.context import AppContext
from app.panels.accuracy.evaluation import task_label, task_predictions
from app.panels.accuracy.settings import ACCURACY_TAB, BY_AGE, BY_SAVED, BY_SPACE, PREVALENCE_NOTE, SORT_CLICK
from app.panels.accuracy.views import threshold_settings
from app.panels.shown import shown_store
from app.state import CURRENT, CURRENT_OPTION, SPACE_LABELS, space_label
from data_loaders import cohort_spec


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


def task_options(context: AppContext) -> list[dict]:
    tasks = task_predictions(context)
    seen: dict[str, str] = {}
    for (task, _space), predictions in tasks.items():
        seen.setdefault(task, predictions.kind)
    binary = [t for t, kind in seen.items() if kind == "binary"]
    continuous = [t for t, kind in seen.items() if kind != "binary"]
    return ([{"label": f"{task_label(context, t)} (yes/no)", "value": t} for t in binary]
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
    start = threshold_settings(context, default_task, default_space, None)  # laid out as the threshold callback would set it
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
                     dbc.Input(id="accuracy-threshold-value", type="number", min=0, max=1, step=0.001, value=start.value, size="sm",
                               debounce=True, className="accuracy-threshold-value")], width="auto"),
            dbc.Col([html.Label("Threshold", htmlFor="accuracy-threshold", className="visually-hidden"),  # for screen readers (assets/slider_labels.js)
                     dcc.Slider(id="accuracy-threshold", min=0, max=1, step=0.001, value=start.value, disabled=start.disabled,
                                marks={v / 10: f"{v / 10:g}" for v in range(11)}, updatemode="mouseup"),
                     html.Div(start.note, id="accuracy-threshold-note", className="small text-muted")], className="accuracy-threshold-slider"),
        ],
        className="g-3 mb-2 align-items-start", id="accuracy-threshold-block", style=start.block_style,
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
                                     dcc.Dropdown(id="accuracy-forest-metric", options=list(start.metric_options), value=start.metric,
                                                  clearable=False)], md=3),
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
                             id="accuracy-prevalence-note", style=start.block_style),  # yes/no outcomes only
                    dcc.Graph(id="accuracy-forest", config={"displayModeBar": False}),
                    dcc.Download(id="accuracy-download"),
                    dcc.Store(id="accuracy-sort", data=None),
                    dcc.Store(id=SORT_CLICK),
                    shown_store(ACCURACY_TAB),  # the current cohort, followed while the tab is shown (app.panels.shown)
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
