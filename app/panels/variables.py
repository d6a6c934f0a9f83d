"""The Variables tab: what the cohort holds (its size, spaces and modalities) and a summary of every variable.

The summary table is laid out the first time the tab is opened (app.panels.tab_panes), not with the
page: a static table of a row per variable was about 190 of the page's 650 Dash components, and the
renderer visits every component on each change of the page's state (each callback answer), in every
tab. The cohort's facts above it stay in the page, where people and tests read them at once.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from app.context import AppContext
from app.core.modalities import missing_modalities_note
from app.core.summary import variable_summary
from app.figures.static_html import one_component
from app.panels.tab_panes import pane, register_pane
from app.state import ordered_spaces, space_label

VARIABLES_TAB = "variables"


def layout(context: AppContext) -> html.Div:
    """The cohort's facts and a note on any missing modality (read by people and tests from the page itself), the table to come."""
    cohort = context.cohort
    spaces = ", ".join(space_label(name) for name in ordered_spaces(context)) or "none yet"
    facts = f"{context.n_subjects:,} subjects · {len(cohort.variables)} variables · spaces: {spaces}"
    missing = missing_modalities_note(cohort.ecg_present, cohort.mri_present, cohort.has_ecg, cohort.has_mri)
    return html.Div([
        html.P(facts, className="text-muted mt-2", id="cohort-facts"),
        *([dbc.Alert(missing, color="info", className="py-2 small", id="cohort-missing-modalities")] if missing else []),
        pane(VARIABLES_TAB),
    ])


def content(context: AppContext) -> html.Div:
    """The manifest's descriptions of the cohort and its spaces (Markdown, raw HTML shown as text), then the variable summary table."""
    cohort = context.cohort
    summary = variable_summary(cohort.phenotypes, cohort.variables)
    about = [dcc.Markdown(cohort.description, id="cohort-description", className="small")] if cohort.description.strip() else []
    spaces = cohort.space_descriptions
    if spaces:
        about.append(html.Ul([html.Li([html.B(space_label(name)), f": {spaces[name]}"]) for name in ordered_spaces(context) if name in spaces],
                             id="space-descriptions", className="small"))
    return html.Div([*about, one_component(dbc.Table.from_dataframe(summary, striped=True, hover=True, size="sm"), component_id="variable-table")])


def register(app: dash.Dash, context: AppContext) -> None:
    register_pane(app, VARIABLES_TAB, content(context))  # built once, as the page's layout is; sent to each page that opens the tab
