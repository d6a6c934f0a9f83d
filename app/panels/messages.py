"""Messages that answer one action go when the user moves on, so none is read later as the state of the page.

The warning banner ("Not done: …", app.validation.show_refusal) stayed up through every later action, successful ones
included, until closed by hand; the sidebar's "a cohort needs a name" stayed through later filter changes. In the
browser, with no round trip: the banner closes on the next change of tab, filters, selection, colour or saved cohorts
after it appeared (a link's refused parts arrive together with the view they restore, and a refusal caused by a change
arrives after that change), and the save message on the next change of the current cohort.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State, dcc

from app.panels.address_bar import COLOUR
from app.panels.tab_panes import TABS
from app.state import COHORTS_VERSION, FILTERS, SELECTION
from app.validation import REFUSAL_ALERT_ID

SAVE_FEEDBACK = "save-feedback"
BANNER_SEEN = "refusal-seen"  # the banner's message as last seen, and the view (tab, filters, …) it was seen with


def layout() -> dcc.Store:
    return dcc.Store(id=BANNER_SEEN, data={"message": None, "view": None})


def register(app: dash.Dash) -> None:
    # One callback notes the banner's message and the view it was shown with, whatever order the browser hands it a new
    # message and the changes that came with it: a new message is noted and left up; a known one closes once the view
    # differs from the one noted (the filter boxes re-reporting the filters a link restored is no change).
    app.clientside_callback(
        """function (message, tab, filters, selection, colour, cohorts, isOpen, seen) {
            const noUpdate = window.dash_clientside.no_update;
            const text = JSON.stringify(message === undefined ? null : message);
            const view = JSON.stringify([tab, filters, selection, colour, cohorts]);
            const noted = { message: text, view: view };
            if (!seen || seen.message !== text) {
                return [noUpdate, noted];
            }
            return [isOpen && seen.view !== view ? false : noUpdate, noted];
        }""",
        Output(REFUSAL_ALERT_ID, "is_open", allow_duplicate=True),
        Output(BANNER_SEEN, "data"),
        Input(REFUSAL_ALERT_ID, "children"),
        Input(TABS, "active_tab"), Input(FILTERS, "data"), Input(SELECTION, "data"), Input(COLOUR, "value"), Input(COHORTS_VERSION, "data"),
        State(REFUSAL_ALERT_ID, "is_open"), State(BANNER_SEEN, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        "function () { return ''; }",
        Output(SAVE_FEEDBACK, "children", allow_duplicate=True),
        Input(FILTERS, "data"), Input(SELECTION, "data"),
        prevent_initial_call=True,
    )
