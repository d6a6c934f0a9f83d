"""The current cohort as a hidden panel sees it, and whether it is shown: two stores that change only when that matters.

A panel's server callbacks read the filters, the selection and the saved cohorts' version from
``<tab>-current-cohort`` instead of the shared stores. A clientside callback (``assets/panels.js``) copies
them there while the tab is shown and leaves the store alone while it is hidden, so a selection in
Explore sends no request for panels nobody is looking at (at a million subjects a hidden Table 1
took seconds of a worker the views needed), and opening the tab sends what changed meanwhile, once.

A panel that must also know when it is shown reads ``<tab>-visible`` rather than the tabs' own
``active_tab``: the store changes only when its tab is opened or left, so switching between two
other tabs sends no request for it (six did on every switch, answered "no update").
"""

from __future__ import annotations

import dash
from dash import ClientsideFunction, Input, Output, State, dcc, html

from app import validation
from app.state import COHORTS_VERSION, FILTERS, SELECTION

SUFFIX = "-current-cohort"  # assets/panels.js reads the tab from the store's id
VISIBLE_SUFFIX = "-visible"


def shown_id(tab: str) -> str:
    """The id of the store through which the panel on ``tab`` reads the current cohort."""
    return f"{tab}{SUFFIX}"


def visible_id(tab: str) -> str:
    """The id of the store that says whether ``tab`` is shown (True or False)."""
    return f"{tab}{VISIBLE_SUFFIX}"


def shown_store(tab: str) -> html.Div:
    """The panel's two stores: its view of the current cohort, and whether it is shown (not at first)."""
    return html.Div([dcc.Store(id=shown_id(tab)), dcc.Store(id=visible_id(tab), data=False)])


def register_shown(app: dash.Dash, tab: str) -> None:
    """Copy the filters, selection and cohorts' version into the tab's store while the tab is shown (in the browser)."""
    app.clientside_callback(
        ClientsideFunction(namespace="panels", function_name="whenShown"),
        Output(shown_id(tab), "data"),
        Input(FILTERS, "data"),
        Input(SELECTION, "data"),
        Input(COHORTS_VERSION, "data"),
        Input("main-tabs", "active_tab"),
        State(shown_id(tab), "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="panels", function_name="whetherShown"),
        Output(visible_id(tab), "data"),
        Input("main-tabs", "active_tab"),
        State(visible_id(tab), "data"),
    )


def is_shown(value: object) -> bool:
    """A tab's visibility store as the browser sent it: True or False (None before the page set it); anything else is refused."""
    if value is None or isinstance(value, bool):
        return bool(value)
    raise validation.InputRefused(f"panel visibility: expected true or false, got {value!r:.80}")


def shown_inputs(value: object) -> tuple[list | None, dict | None, int | None]:
    """(filters, selection, cohorts' version) from a tab's store; nothing yet (None) means no filters and no selection.

    The store arrives from the browser like any input: its shape is checked here, its filters and
    selection where they are resolved.
    """
    if value is None:
        return None, None, None
    if not isinstance(value, dict) or not set(value) <= {"filters", "selection", "version"}:
        raise validation.InputRefused(f"panel inputs: expected filters, selection and version, got {value!r:.80}")
    return value.get("filters"), value.get("selection"), value.get("version")
