"""The space comparison's layout: the two spaces and settings, the overlap map and histogram, the focused subject, the lists."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app.context import AppContext
from app.core.neighbours import DEFAULT_K, MAX_K, METRICS
from app.core.projections import METHODS
from app.panels.compare_spaces.settings import LIST_LENGTH, NEIGHBOURS_JOB, PANEL_TAB, RANK, ROW_CLICK, SORT_ORDERS
from app.panels.compare_spaces.tables import table_columns
from app.panels.shown import shown_store
from app.state import space_label


def layout(context: AppContext) -> html.Div:
    spaces = list(context.cohort.spaces)
    options = [{"label": space_label(name), "value": name} for name in spaces]
    default_a = "ecg" if "ecg" in spaces else (spaces[0] if spaces else None)
    default_b = "mri" if "mri" in spaces else next((name for name in spaces if name != default_a), None)
    k_marks = {value: str(value) for value in (1, 50, 100, 150, 200, 250) if value <= MAX_K}
    control = "small fw-semibold"
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col([html.Label("Space A", htmlFor="cs-space-a", className=control),
                             dcc.Dropdown(id="cs-space-a", options=options, value=default_a, clearable=False)], md=2),
                    dbc.Col([html.Label("Space B", htmlFor="cs-space-b", className=control),
                             dcc.Dropdown(id="cs-space-b", options=options, value=default_b, clearable=False)], md=2),
                    dbc.Col([html.Label("Layout", htmlFor="cs-layout", className=control),
                             dcc.Dropdown(id="cs-layout", options=[{"label": label, "value": key} for key, label in METHODS.items()],
                                          value="pca", clearable=False)], md=2),
                    dbc.Col([html.Label("Neighbours k", htmlFor="cs-k", className=control),
                             dcc.Slider(id="cs-k", min=1, max=MAX_K, step=1, value=DEFAULT_K, marks=k_marks,
                                        tooltip={"placement": "bottom", "always_visible": False})], md=4),
                    dbc.Col([html.Label("Distance", className=control),
                             dbc.RadioItems(id="cs-metric", options=[{"label": label, "value": key} for key, label in METRICS.items()],
                                            value="cosine", inline=True)], md=2),
                ],
                className="g-2 mb-2 align-items-end",
            ),
            html.Div(id="cs-summary", className="small mb-2", role="status"),
            html.Div(dbc.Progress(id="cs-progress-bar", value=0, striped=True, animated=True, label=""), id="cs-progress",
                     style={"display": "none"}, className="mb-2"),
            dbc.Row(
                [
                    dbc.Col(dbc.Card([dbc.CardHeader(html.Span(id="cs-map-title", className="small fw-semibold")),
                                      dbc.CardBody(html.Div([dcc.Loading(
                        # As the explorer's views: dragging inside a box or lasso's outline never moves it (that would change the selection).
                        dcc.Graph(id="cs-map", clear_on_unhover=True, config={"displaylogo": False, "scrollZoom": True, "editSelection": False},
                                  style={"height": "560px"}), delay_show=400),
                        dcc.Tooltip(id="cs-map-tooltip", direction="bottom")], style={"position": "relative"}),
                        className="p-1")]), lg=8, className="mb-2"),
                    dbc.Col(
                        dbc.Card(dbc.CardBody(
                            [
                                html.Div("Overlap of each subject's neighbourhoods · drag across bars to show only those subjects",
                                         className="small text-muted"),
                                dcc.Graph(id="cs-histogram", config={"displayModeBar": False}, style={"height": "230px"}),
                                dbc.Button("Select the subjects shown", id="cs-select-range", size="sm", color="secondary", outline=True,
                                           className="mb-2", disabled=True),  # until a range is brushed (assets/compare_spaces.js)
                                dbc.Checklist(id="cs-show-trails", options=[{"label": "Trails toward each changed subject's new neighbours", "value": "on"}],
                                              value=["on"], switch=True, className="small"),
                                html.Label("Draw trails for subjects keeping less than", htmlFor="cs-trail-threshold", className="small"),
                                dcc.Slider(id="cs-trail-threshold", min=0.05, max=0.95, step=0.05, value=0.3,
                                           marks={0.1: "0.1", 0.3: "0.3", 0.5: "0.5", 0.7: "0.7", 0.9: "0.9"}),
                                dbc.Checklist(id="cs-align-on-selection", options=[{"label": "Align B's layout on the selection only", "value": "on"}],
                                              value=[], switch=True, className="small mt-2"),
                                html.Div("Red: the neighbourhood changed · blue: kept. ▶ moves every subject from A's layout to B's.",
                                         className="small text-muted mt-2"),
                            ]
                        )),
                        lg=4, className="mb-2",
                    ),
                ],
                className="g-2",
            ),
            dbc.Row(
                [
                    dbc.Col(dbc.Card([dbc.CardHeader(html.Span(id="cs-subject-title", className="small fw-semibold")),
                                      dbc.CardBody(dcc.Graph(id="cs-neighbourhood", config={"displayModeBar": False}, style={"height": "380px"}),
                                                   className="p-1")]), lg=6, className="mb-2"),
                    dbc.Col(dbc.Card(dbc.CardBody(html.Div(id="cs-common"))), lg=6, className="mb-2"),
                ],
                className="g-2",
            ),
            dbc.Row(
                [
                    dbc.Col(html.Span("Sort the lists by", className="small fw-semibold"), width="auto"),
                    dbc.Col(dcc.Dropdown(id="cs-sort-by", options=[{"label": "Rank (most / least changed first)", "value": RANK}]
                                         + [{"label": column["name"], "value": column["id"]} for column in table_columns(context)],
                                         value=RANK, clearable=False), md=3),
                    dbc.Col(dbc.RadioItems(id="cs-sort-order", options=[{"label": label, "value": key} for key, label in SORT_ORDERS.items()],
                                           value="ascending", inline=True, className="small"), width="auto"),
                ],
                className="g-2 mb-1 align-items-center",
            ),
            dbc.Row(
                [
                    dbc.Col([html.Div(f"{LIST_LENGTH} most changed subjects (lowest overlap) · click one to see its neighbourhoods",
                                      className="small fw-semibold"),
                             html.Div(id="cs-most-changed", className="cs-scroll")], lg=6, className="mb-2"),
                    dbc.Col([html.Div(f"{LIST_LENGTH} least changed subjects (highest overlap)", className="small fw-semibold"),
                             html.Div(id="cs-least-changed", className="cs-scroll")], lg=6, className="mb-2"),
                ],
                className="g-2",
            ),
            dbc.Card(
                [dbc.CardHeader([html.Strong("Suggested selections"),
                                 html.Span(" · groups of subjects whose gained and lost neighbours agree, most coherent first",
                                           className="small text-muted")]),
                 dbc.CardBody([html.Div(id="cs-suggestions"), html.Div(id="cs-save-feedback", className="small mt-1", role="status")])],
                className="mb-3",
            ),
            shown_store(PANEL_TAB),  # the current cohort, followed while the tab is shown (app.panels.shown)
            dcc.Store(id="cs-subject"),  # the focused subject {"row", "selection": key of the selection it was clicked under}
            dcc.Store(id="cs-map-spec"),  # the overlap map as the server sends it: its frames are drawn in the browser (assets/compare_spaces.js)
            dcc.Store(id="cs-map-click"),
            dcc.Store(id=ROW_CLICK),
            dcc.Store(id="cs-brushed"),  # the overlap range brushed on the histogram, {"range": {"x": [from, to]}}
            dcc.Store(id="cs-most-data", data=[]),
            dcc.Store(id="cs-least-data", data=[]),
            dcc.Store(id="cs-drawn"),
            dcc.Store(id="cs-suggested", data=[]),
            *NEIGHBOURS_JOB.components(),
        ],
        id="compare-spaces-panel",
    )
