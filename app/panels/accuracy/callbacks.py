"""The accuracy panel's callbacks: read the inputs, call the views, return their outputs."""

from __future__ import annotations

import dash
from dash import Input, Output, State, ctx, dcc
from dash.exceptions import PreventUpdate

from app import validation
from app.context import AppContext
from app.core.exports import safe_csv_frame
from app.panels.accuracy.evaluation import export_frame, next_sort, subgroup_results, task_predictions
from app.panels.accuracy.settings import ACCURACY_TAB, SORT_CLICK, SORT_COLUMNS
from app.panels.accuracy.views import render_evaluation, render_subgroups, synced_threshold, threshold_settings
from app.panels.shown import register_shown, shown_id, shown_inputs
from app.state import CURRENT_OPTION, FILTERS, SELECTION, register_saved_cohort_options
from app.validation import number, optional


def _current_cohort(shown: object) -> tuple[list | None, dict | None]:
    """(filters, selection) as the tab sees them (app.panels.shown); never shown yet, nothing to compute.

    Bootstrapping while another tab is shown would slow every filter change there; opening the tab catches up.
    """
    if shown is None:
        raise PreventUpdate
    filters, selection, _version = shown_inputs(shown)
    return filters, selection


def register(app: dash.Dash, context: AppContext) -> None:
    if not task_predictions(context):
        return
    register_shown(app, ACCURACY_TAB)

    register_saved_cohort_options(app, ("accuracy-cohort", [CURRENT_OPTION]))

    @app.callback(
        Output("accuracy-threshold", "value"),
        Output("accuracy-threshold", "disabled"),
        Output("accuracy-threshold-note", "children"),
        Output("accuracy-forest-metric", "options"),
        Output("accuracy-forest-metric", "value"),
        Output("accuracy-threshold-block", "style"),
        Output("accuracy-prevalence-note", "style"),
        Input("accuracy-task", "value"),
        Input("accuracy-space", "value"),
        State("accuracy-forest-metric", "value"),
        prevent_initial_call=True,  # the layout starts where this would set it (page.layout)
    )
    def _threshold(task, space, metric):
        return threshold_settings(context, task, space, metric).outputs()

    @app.callback(
        Output("accuracy-threshold", "value", allow_duplicate=True),
        Output("accuracy-threshold-value", "value"),
        Output("accuracy-threshold-value", "invalid"),
        Input("accuracy-threshold-value", "value"),
        Input("accuracy-threshold", "value"),
        prevent_initial_call=True,  # laid out in step
    )
    def _typed_threshold(typed, slid):
        return synced_threshold(ctx.triggered_id, typed, slid).outputs()

    @app.callback(
        Output("accuracy-sizes", "children"),
        Output("accuracy-metrics", "children"),
        Output("accuracy-figures", "children"),
        Input("accuracy-task", "value"),
        Input("accuracy-space", "value"),
        Input("accuracy-threshold", "value"),
        Input("accuracy-cohort", "value"),
        Input(shown_id(ACCURACY_TAB), "data"),
        prevent_initial_call=True,  # hidden on page load: opening the tab sets its store
    )
    def _evaluate(task, space, threshold, choice, shown):
        threshold = checked_threshold(threshold)
        filters, selection = _current_cohort(shown)
        return render_evaluation(context, task, space, threshold, choice, filters, selection).outputs()

    @app.callback(
        Output("accuracy-sort", "data"),
        Input(SORT_CLICK, "data"),
        State("accuracy-sort", "data"),
        prevent_initial_call=True,
    )
    def _sort(click, current):
        if not isinstance(click, dict):
            return dash.no_update  # the store before any click
        return next_sort(current if isinstance(current, dict) else None, validation.choice(click.get("column"), SORT_COLUMNS, "sort column"))

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
        Input(shown_id(ACCURACY_TAB), "data"),
        prevent_initial_call=True,  # hidden on page load: opening the tab sets its store
    )
    def _subgroups(task, space, threshold, breakdown, metric, sort, choice, shown):
        threshold = checked_threshold(threshold)
        filters, selection = _current_cohort(shown)
        return render_subgroups(context, task, space, threshold, breakdown, metric, filters, selection, sort, choice).outputs()

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
        threshold = checked_threshold(threshold)
        _kind, table = subgroup_results(context, task, space, threshold, breakdown, filters, selection, sort, choice)
        frame = export_frame(table, task, space)
        context.store.record("export", f"accuracy of {task} from {space} by {breakdown}: {len(frame):,} rows")
        return dcc.send_data_frame(safe_csv_frame(frame).to_csv, f"accuracy-{task}-{space}-by-{breakdown}.csv", index=False)


def checked_threshold(threshold: object) -> float | None:
    """The decision threshold as the slider offers it: none yet, or a probability from 0 to 1 (a string, list or 5 is refused)."""
    return optional(number, threshold, "decision threshold", 0.0, 1.0)
