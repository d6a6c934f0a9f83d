"""A hidden tab's panel is laid out the first time its tab is opened, not with the page.

Laid out with the page, the six hidden panels cost every first load: at 100,000 subjects React
mounting them and Plotly drawing their fifteen empty graphs took 0.3-0.4 s of the browser's main
thread before the explorer's views could be drawn, and each page load asked the server for those
panels' first answers. Now a hidden tab holds an empty pane and a flag; opening it sets the flag in
the browser (``assets/panels.js``) and one request fetches the panel, which then stays on the page
(its settings kept as the user goes back and forth). Callbacks with outputs or inputs in the panel
run when it arrives (Dash's first call for components added to the page), as they did on page load.
Unlike on page load, Dash also runs a callback with ``prevent_initial_call`` then, when an input is in
the panel and an output outside it (the selection, the clustering in force): such a button's callback
must check ``clicked`` (opening Compare spaces once replaced the selection with everyone, and opening
Clusters ran a clustering nobody asked for).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html
from dash.development.base_component import Component

TABS = "main-tabs"
OPENED_SUFFIX = "-opened"  # assets/panels.js reads the tab from the flag's id
PANE_SUFFIX = "-pane"
LOADING_CLASS = "pane-loading"  # what a pane shows until its panel arrives (tests wait for it to go)


def opened_id(tab: str) -> str:
    """The id of the flag set (once, in the browser) when ``tab`` is first opened."""
    return f"{tab}{OPENED_SUFFIX}"


def pane_id(tab: str) -> str:
    """The id of the element that receives ``tab``'s panel."""
    return f"{tab}{PANE_SUFFIX}"


def pane(tab: str) -> html.Div:
    """What the page holds for ``tab`` until it is opened: the flag, and a pane showing that its panel is on its way."""
    loading = html.Div([dbc.Spinner(size="sm", color="secondary"), html.Span(" Opening the panel…", className="text-muted small")],
                       className=f"{LOADING_CLASS} mt-3", role="status")
    return html.Div([dcc.Store(id=opened_id(tab), data=False), html.Div(loading, id=pane_id(tab))])


def register_pane(app: dash.Dash, tab: str, panel: Component) -> None:
    """Send ``panel`` (built once, as the page's layout is) into ``tab``'s pane the first time the tab is opened."""
    app.clientside_callback(
        ClientsideFunction(namespace="panels", function_name="openedOnce"),
        Output(opened_id(tab), "data"),
        Input(TABS, "active_tab"),
        State(opened_id(tab), "data"),
        prevent_initial_call=True,  # the page opens on Explore; a link to another tab sets the active tab after load
    )

    @app.callback(Output(pane_id(tab), "children"), Input(opened_id(tab), "data"), prevent_initial_call=True)
    def _fill(opened):
        return panel if opened is True else dash.no_update


def clicked(n_clicks: int | None) -> bool:
    """Whether a button's callback was called by a click, not by its panel arriving (n_clicks still None: see above)."""
    return bool(n_clicks)
