"""The navbar's search box: find a subject by id, mark it in every explorer view, open it in Decode.

Suggestions come from the server as the user types (at most ``SUGGESTIONS`` ids, exact match
first), so the page never holds the cohort's id list. The box's value is the found subject
(``app.state.FOUND_SUBJECT``): the explorer's views ring it, and the address bar keeps it.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from app import validation
from app.context import AppContext
from app.core.subject_search import find_subjects
from app.panels.decoder.model import model_problem
from app.state import DECODE_SUBJECT, FOUND_SUBJECT, subject_row

SUGGESTIONS = 10
OPEN_IN_DECODE_TITLE = "Show the subject found by id on the Decode tab"
MAX_SEARCH_LENGTH = 200


def layout(after_badge: bool = False) -> html.Div:
    """The search box and its button, at the right of the navbar (after the training badge, when there is one)."""
    return html.Div(
        [
            dcc.Dropdown(id=FOUND_SUBJECT, options=[], placeholder="Find a subject by id…", searchable=True, clearable=True,
                         className="subject-search", style={"minWidth": "230px"}),
            dbc.Button("Open in Decode", id="open-in-decode", size="sm", color="light", outline=True, disabled=True,
                       title=OPEN_IN_DECODE_TITLE, className="text-nowrap"),
        ],
        className="d-flex align-items-center gap-2 " + ("ms-3" if after_badge else "ms-auto"),
        role="search",
    )


def suggestions(context: AppContext, text: object, chosen: object) -> list[dict]:
    """The ids matching what was typed (exact first, then starts with, then contains); the chosen one is kept listed."""
    text = validation.optional(validation.text, text, "subject search", MAX_SEARCH_LENGTH) or ""
    found = find_subjects(text, context.cohort.subject_ids, limit=SUGGESTIONS)
    row = subject_row(context, chosen)
    if row is not None and str(context.cohort.subject_ids[row]) not in found:
        found.append(str(context.cohort.subject_ids[row]))
    return [{"label": subject, "value": subject} for subject in found]


def decode_request(context: AppContext, clicks: object, subject: object) -> tuple[str, dict]:
    """(main tab, decode request) for "Open in Decode": the Decode tab, asked to show the found subject."""
    row = subject_row(context, subject)
    if row is None:
        raise validation.InputRefused("Open in Decode: find a subject by id first")
    return "decoder", {"subject": str(context.cohort.subject_ids[row]), "at": clicks}


def register(app: dash.Dash, context: AppContext) -> None:
    @app.callback(
        Output(FOUND_SUBJECT, "options"),
        Input(FOUND_SUBJECT, "search_value"),
        State(FOUND_SUBJECT, "value"),
        prevent_initial_call=True,
    )
    def _suggest(text, chosen):
        if not text:
            return dash.no_update  # the box was left or cleared: the chosen subject stays listed
        return suggestions(context, text, chosen)

    # Laid out disabled; a cohort that cannot be decoded keeps it so, its reason as the button's tooltip (the Decode tab
    # would show that reason alone). Asked each time: a first start's model becomes ready while the page is open.
    @app.callback(Output("open-in-decode", "disabled"), Output("open-in-decode", "title"), Input(FOUND_SUBJECT, "value"), prevent_initial_call=True)
    def _decode_possible(subject):
        problem = model_problem(context)
        return not subject or problem is not None, problem or OPEN_IN_DECODE_TITLE

    @app.callback(
        Output("main-tabs", "active_tab", allow_duplicate=True),
        Output(DECODE_SUBJECT, "data"),
        Input("open-in-decode", "n_clicks"),
        State(FOUND_SUBJECT, "value"),
        prevent_initial_call=True,
    )
    def _open_in_decode(clicks, subject):
        return decode_request(context, clicks, subject)
