"""The Variables tab: what the cohort holds (its size, spaces and modalities) and a summary of every variable.

The summary table is laid out the first time the tab is opened, not with the page: a static table
of a row per variable was about 190 of the page's 650 Dash components, and the renderer visits
every component on each change of the page's state (each callback answer), in every tab.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from app.context import AppContext
from app.core.modalities import missing_modalities_note
from app.core.summary import variable_summary

VARIABLES_TAB = "variables"
CONTENT = "variables-panel"
WANTED = "variables-wanted"  # set once, in the browser, when the tab is first opened


def layout(context: AppContext) -> html.Div:
    """The cohort's facts and a note on any missing modality (read by people and tests from the page itself), the table to come."""
    cohort = context.cohort
    facts = f"{context.n_subjects:,} subjects · {len(cohort.variables)} variables · spaces: {', '.join(cohort.spaces) or 'none yet'}"
    missing = missing_modalities_note(cohort.ecg_present, cohort.mri_present, cohort.has_ecg, cohort.has_mri)
    return html.Div([
        html.P(facts, className="text-muted mt-2", id="cohort-facts"),
        *([dbc.Alert(missing, color="info", className="py-2 small", id="cohort-missing-modalities")] if missing else []),
        dcc.Store(id=WANTED, data=False),
        html.Div(id=CONTENT, children=dbc.Spinner(size="sm", color="secondary")),
    ])


def content(context: AppContext) -> dbc.Table:
    """The variable summary table."""
    summary = variable_summary(context.cohort.phenotypes, context.cohort.variables)
    return dbc.Table.from_dataframe(summary, striped=True, hover=True, size="sm", id="variable-table")


def register(app: dash.Dash, context: AppContext) -> None:
    table = content(context)  # built once, as the page's layout is; sent to each page that opens the tab
    app.clientside_callback(
        f"function (tab, wanted) {{ return tab === {VARIABLES_TAB!r} && !wanted ? true : window.dash_clientside.no_update; }}",
        Output(WANTED, "data"),
        Input("main-tabs", "active_tab"),
        State(WANTED, "data"),
    )

    @app.callback(Output(CONTENT, "children"), Input(WANTED, "data"), prevent_initial_call=True)
    def _fill(wanted):
        return table if wanted is True else dash.no_update
