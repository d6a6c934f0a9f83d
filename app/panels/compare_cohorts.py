"""Compare two cohorts (or one against the rest) over every variable, with overlaid distributions."""

from __future__ import annotations

from functools import lru_cache

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from app import validation
from app.context import AppContext
from app.core.cohort_algebra import CohortDefinition, defining_variables
from app.core.cohort_description import describe_definition, describe_filter
from app.core.exports import file_name_part
from app.core.members import Members
from app.core.table_one import TableOne, table_one
from app.figures.distributions import overlaid_distributions
from app.figures.messages import message_figure
from app.figures.table_one import table_one_component
from app.panels.shown import register_shown, shown_id, shown_inputs, shown_store
from app.state import (
    CURRENT,
    CURRENT_OPTION,
    FILTERS,
    REST,
    REST_OPTION,
    SELECTION,
    SelectionError,
    register_saved_cohort_options,
    resolve_choice,
    selection_in_words,
    selection_mask,
    selection_variables,
    variable_options,
)
from data_loaders import cohort_spec

COMPARE_TAB = "compare-cohorts"  # the tab_id app.server gives this panel

# In the layout too: a Dash 4 dropdown drops a value that is not among its options when it first draws.
GROUP_A_OPTIONS = [CURRENT_OPTION]
GROUP_B_OPTIONS = [REST_OPTION, {"label": "Current cohort", "value": CURRENT}]


def defining_variables_of(context: AppContext, choice: str | int | None, filters: list | None, selection: dict | None = None) -> set[str]:
    """The variables a group choice is defined by: their p-values are circular.

    Its filters, through saved operands; for the current cohort (and everyone else) also its selection's: a highlighted saved
    cohort's, or the two axes of a shape drawn in the clinical view.
    """
    def definition_of(operand: int) -> CohortDefinition:
        return context.store.get(operand).definition

    if choice not in (CURRENT, REST, None):
        return defining_variables(definition_of(choice), definition_of)
    return defining_variables(CohortDefinition(filters=tuple(filters or ())), definition_of) | selection_variables(context, selection)


def group_in_words(context: AppContext, choice: str | int | None, filters: list | None, selection: dict | None) -> str:
    """What a group of Table 1 is, for the exported file (a reader cannot tell afterwards which cohorts were compared)."""
    def name_of(operand: int) -> str:
        return f"“{context.store.get(operand).label}”"

    if choice == REST:
        return "everyone not in group A"
    if choice in (CURRENT, None):
        parts = [describe_filter(spec, context.variables) for spec in validation.filter_specs(filters, context.variables)]
        try:
            selected = selection_mask(context, selection)
        except SelectionError:  # ignored in the table too (app.state.highlight_mask)
            selected = None
        words = selection_in_words(context, selection, selected)
        return "the current cohort: " + (" and ".join([*parts, *([words] if words else [])]) or "everyone")
    saved = context.store.get(choice)
    return f"saved cohort {name_of(saved.id)}: {describe_definition(saved.definition, context.variables, name_of)}"


def group_file_name(context: AppContext, choice: str | int | None) -> str:
    """A group's name as part of an export's file name."""
    return file_name_part({CURRENT: "current", REST: "rest", None: "current"}.get(choice) or context.store.get(choice).name)


def compare_table(context: AppContext, a, b, filters: list | None, selection: dict | None) -> TableOne | None:
    """Table 1 of group A against group B, or None when either group is empty."""
    mask_a = resolve_choice(context, a, filters, selection)
    return _table_of(context, a, b, filters, selection, mask_a, resolve_choice(context, b, filters, selection, other=mask_a))


def _table_of(context: AppContext, a, b, filters: list | None, selection: dict | None, mask_a: np.ndarray, mask_b: np.ndarray) -> TableOne | None:
    """Table 1 of groups already resolved to their members (A and B still name them, for their defining variables)."""
    if not mask_a.any() or not mask_b.any():
        return None
    defining = defining_variables_of(context, a, filters, selection) | defining_variables_of(context, b, filters, selection)
    return _table_of_members(context, Members(mask_a), Members(mask_b), frozenset(defining))


@lru_cache(maxsize=32)
def _table_of_members(context: AppContext, a: Members, b: Members, defining: frozenset[str]) -> TableOne:
    """Table 1 worked out once per pair of groups in a process (read-only, shared by users): choosing another
    variable to plot, coming back to the tab or a colleague comparing the same groups costs nothing again
    (at a million subjects Table 1 takes seconds)."""
    return table_one(context.cohort.phenotypes, context.variables, a.mask, b.mask, defining=defining)


def layout(context: AppContext) -> html.Div:
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col([html.Label("Group A", htmlFor="compare-a", className="small fw-semibold"),
                             dcc.Dropdown(id="compare-a", options=GROUP_A_OPTIONS, value=CURRENT, clearable=False)], md=4),
                    dbc.Col([html.Label("Group B", htmlFor="compare-b", className="small fw-semibold"),
                             dcc.Dropdown(id="compare-b", options=GROUP_B_OPTIONS, value=REST, clearable=False)], md=4),
                    dbc.Col([html.Label("Distribution of", htmlFor="compare-variable", className="small fw-semibold"),
                             dcc.Dropdown(id="compare-variable", options=variable_options(context),
                                          value=cohort_spec.LV_MASS if cohort_spec.LV_MASS in context.variables else None)], md=4),
                ],
                className="g-2 mb-2",
            ),
            html.Div(id="compare-sizes", className="small text-muted mb-2"),
            dbc.Row(
                [
                    dbc.Col([
                        dbc.ButtonGroup([dbc.Button("Export Table 1 (CSV for Excel)", id="compare-export-csv", color="secondary", outline=True),
                                         dbc.Button("Export Table 1 (HTML)", id="compare-export-html", color="secondary", outline=True)],
                                        size="sm", className="mb-2"),
                        dcc.Download(id="compare-download"),
                        dcc.Loading(html.Div(id="compare-table", className="compare-table"), delay_show=300),
                    ], width=12, className="compare-table-column"),  # beside the plot only on wide screens (assets/style.css)
                    dbc.Col(dcc.Graph(id="compare-distribution", config={"displaylogo": False}), width=12, className="compare-plot-column"),
                ]
            ),
            shown_store(COMPARE_TAB),
        ]
    )


def compare_outputs(context: AppContext, a, b, variable: str | None, filters: list | None, selection: dict | None) -> tuple:
    """(table, distribution figure, sizes) for the Compare cohorts panel."""
    mask_a = resolve_choice(context, a, filters, selection)
    mask_b = resolve_choice(context, b, filters, selection, other=mask_a)
    sizes = f"A: {int(mask_a.sum()):,} subjects · B: {int(mask_b.sum()):,} subjects"
    table = _table_of(context, a, b, filters, selection, mask_a, mask_b)
    if table is None:
        advice = ("Both groups need at least one subject: narrow the current cohort with filters or a lasso selection, "
                  "or choose saved cohorts.")
        return dbc.Alert(advice, color="warning"), message_figure("Nothing to compare yet"), sizes
    rendered = table_one_component(table)
    figure = dash.no_update
    if variable:
        figure = overlaid_distributions(context.cohort.phenotypes[variable], context.variables[variable], {"A": mask_a, "B": mask_b})
    return rendered, figure, sizes


def compare_when_shown(context: AppContext, a, b, variable: str | None, shown: object) -> tuple:
    """(table, figure, sizes) once the tab has been shown (``shown``: its view of the current cohort, app.panels.shown).

    Never shown, nothing to compute: at a million subjects Table 1 takes seconds.
    """
    if shown is None:
        raise PreventUpdate
    filters, selection, _version = shown_inputs(shown)
    return compare_outputs(context, a, b, variable, filters, selection)


def register(app: dash.Dash, context: AppContext) -> None:
    register_saved_cohort_options(app, ("compare-a", GROUP_A_OPTIONS), ("compare-b", GROUP_B_OPTIONS))

    @app.callback(
        Output("compare-table", "children"),
        Output("compare-distribution", "figure"),
        Output("compare-sizes", "children"),
        Input("compare-a", "value"),
        Input("compare-b", "value"),
        Input("compare-variable", "value"),
        Input(shown_id(COMPARE_TAB), "data"),
        prevent_initial_call=True,  # never shown on page load: the tab's view of the cohort arrives when it is opened
    )
    def _compare(a, b, variable, shown):
        return compare_when_shown(context, a, b, variable, shown)

    register_shown(app, COMPARE_TAB)

    @app.callback(
        Output("compare-download", "data"),
        Input("compare-export-csv", "n_clicks"),
        Input("compare-export-html", "n_clicks"),
        State("compare-a", "value"),
        State("compare-b", "value"),
        State(FILTERS, "data"),
        State(SELECTION, "data"),
        prevent_initial_call=True,
    )
    def _export(_csv, _html, a, b, filters, selection):
        table = compare_table(context, a, b, filters, selection)
        if table is None:
            return dash.no_update
        groups = [f"A: {group_in_words(context, a, filters, selection)}", f"B: {group_in_words(context, b, filters, selection)}"]
        name = f"table-1_{group_file_name(context, a)}_vs_{group_file_name(context, b)}"
        if ctx.triggered_id == "compare-export-html":
            return dcc.send_string(table.to_html(title="Table 1: group A vs group B", groups=groups), f"{name}.html")
        return dcc.send_string(table.to_csv(groups=groups), f"{name}.csv")
