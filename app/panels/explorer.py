"""Linked latent-space views: two latent projections and one clinical scatter, coloured alike.

A lasso/box selection in any view becomes a compact list of row ids (reduced in the browser by
a clientside callback) and every view repaints only its ``selectedpoints`` through a Patch.

A view whose UMAP or t-SNE is not cached yet shows a message, asks a background callback to
compute it, and records what it waits for; an interval then polls (cheaply: a file check) until
the projection is on disk and the view draws it. Polling, rather than an input from the background
callback, because Dash does not rerun a callback from a chain its own output started.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import ClientsideFunction, Input, Output, Patch, State, dcc, html

from app.context import AppContext
from app.core.projections import METHODS, ProjectionSpec
from app.figures.messages import message_figure
from app.figures.scatter import scatter_figure, selected_points, trace_groups
from app.state import FILTERS, SELECTION, SPACE_LABELS, highlight_mask, space_label, triggered, variable_options

LATENT_VIEWS = (0, 1)
PROJECTION_POLL_MS = 1000


def highlight_rows(context: AppContext, filters: list[dict] | None, selection: dict | None) -> np.ndarray | None:
    """Rows of the current cohort, or None when neither filters nor a selection narrow it."""
    mask = highlight_mask(context, filters, selection)
    return None if mask is None else np.flatnonzero(mask)


def _view_card(view: int, title: str, controls: list) -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(dbc.Row([dbc.Col(html.Strong(title), width="auto"), *controls], className="g-2 align-items-center")),
            dbc.CardBody(
                dcc.Loading(
                    dcc.Graph(id=f"view-{view}", config={"displaylogo": False, "scrollZoom": True}, style={"height": "430px"}),
                    delay_show=400,
                ),
                className="p-1",
            ),
        ],
        className="h-100",
    )


def layout(context: AppContext) -> html.Div:
    known = list(SPACE_LABELS)
    spaces = sorted(context.cohort.spaces, key=lambda name: known.index(name) if name in known else len(known))
    space_options = [{"label": space_label(name), "value": name} for name in spaces]
    method_options = [{"label": label, "value": method} for method, label in METHODS.items()]
    continuous = variable_options(context, ("continuous",))
    cards = []
    for view in LATENT_VIEWS:
        default_space = spaces[min(view, len(spaces) - 1)] if spaces else None
        cards.append(
            _view_card(
                view,
                f"Latent view {view + 1}",
                [
                    dbc.Col(dcc.Dropdown(id=f"view-{view}-space", options=space_options, value=default_space, clearable=False,
                                         placeholder="no latent spaces", style={"minWidth": "150px"}), width=True),
                    dbc.Col(dcc.Dropdown(id=f"view-{view}-method", options=method_options, value="pca", clearable=False,
                                         style={"minWidth": "90px"}), width="auto"),
                ],
            )
        )
    default_x = "age_years" if "age_years" in context.variables else (continuous[0]["value"] if continuous else None)
    default_y = "lv_mass_g" if "lv_mass_g" in context.variables else (continuous[-1]["value"] if continuous else None)
    cards.append(
        _view_card(
            2,
            "Clinical view",
            [
                dbc.Col(dcc.Dropdown(id="clinical-x", options=continuous, value=default_x, clearable=False, style={"minWidth": "120px"}), width=True),
                dbc.Col(html.Span("vs", className="text-muted"), width="auto"),
                dbc.Col(dcc.Dropdown(id="clinical-y", options=continuous, value=default_y, clearable=False, style={"minWidth": "120px"}), width=True),
            ],
        )
    )
    default_colour = "atrial_fibrillation" if "atrial_fibrillation" in context.variables else None
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(html.Label("Colour by", htmlFor="colour-by", className="col-form-label fw-semibold"), width="auto"),
                    dbc.Col(dcc.Dropdown(id="colour-by", options=variable_options(context), value=default_colour, placeholder="no colour"), md=4),
                    dbc.Col(html.Div(id="selection-summary", className="text-muted small"), className="text-end"),
                    dbc.Col(dbc.Button("Clear selection", id="clear-selection", size="sm", color="secondary", outline=True), width="auto"),
                ],
                className="g-2 mb-2 align-items-center",
            ),
            html.Div(id="projection-progress"),
            dbc.Row([dbc.Col(card, lg=4, className="mb-3") for card in cards], className="g-2"),
            dcc.Store(id="projection-request"),
            dcc.Store(id="projection-ready", data=0),
            *[dcc.Store(id=f"view-{view}-pending") for view in LATENT_VIEWS],
            dcc.Interval(id="projection-poll", interval=PROJECTION_POLL_MS, disabled=True),
        ]
    )


def _colour(context: AppContext, colour: str | None):
    if not colour:
        return None, None
    return context.cohort.phenotypes[colour], context.variables[colour]


def _selection_only(triggers: set[str]) -> bool:
    return bool(triggers) and triggers <= {SELECTION, FILTERS}


def _patch_selection(context: AppContext, colour: str | None, rows: np.ndarray | None) -> Patch:
    values, spec = _colour(context, colour)
    groups = trace_groups(values, spec) or None
    patch = Patch()
    if groups is None:
        patch["data"][0]["selectedpoints"] = None if rows is None else rows.tolist()
        return patch
    for index, positions in enumerate(selected_points(groups, rows)):
        patch["data"][index]["selectedpoints"] = positions
    return patch


def render_latent_view(context: AppContext, view: int, space: str | None, method: str, colour: str | None,
                       filters: list | None, selection: dict | None, triggers: set[str]) -> tuple[object, object]:
    """(figure or patch, projection request) for one latent view."""
    if not space:
        return message_figure("This cohort has no latent spaces yet: run python -m models.encode"), None
    spec = ProjectionSpec(method=method)
    coordinates = context.cached_projection(space, spec)
    if coordinates is None:
        if _selection_only(triggers):
            return dash.no_update, dash.no_update
        text = f"Computing the {METHODS[method]} of the {space_label(space)} space…"
        return message_figure(text), {"space": space, "method": method}
    rows = highlight_rows(context, filters, selection)
    if _selection_only(triggers):
        return _patch_selection(context, colour, rows), dash.no_update
    values, colour_spec = _colour(context, colour)
    figure = scatter_figure(
        coordinates, trace_groups(values, colour_spec), values, colour_spec, context.hover_text, selected_rows=rows,
        title=f"{space_label(space)} · {METHODS[method]}", x_label=f"{METHODS[method]} 1", y_label=f"{METHODS[method]} 2",
        revision=f"{view}-{space}-{method}",
    )
    return figure, None


def render_clinical_view(context: AppContext, x: str | None, y: str | None, colour: str | None,
                         filters: list | None, selection: dict | None, triggers: set[str]) -> object:
    rows = highlight_rows(context, filters, selection)
    if _selection_only(triggers):
        return _patch_selection(context, colour, rows)
    if not x or not y:
        return message_figure("Choose two continuous variables")
    phenotypes = context.cohort.phenotypes
    coordinates = np.column_stack([phenotypes[x].to_numpy(dtype=np.float32, na_value=np.nan),
                                   phenotypes[y].to_numpy(dtype=np.float32, na_value=np.nan)])
    values, colour_spec = _colour(context, colour)
    return scatter_figure(
        coordinates, trace_groups(values, colour_spec), values, colour_spec, context.hover_text, selected_rows=rows,
        title=f"{context.variables[x].label} vs {context.variables[y].label}",
        x_label=context.variables[x].display_label, y_label=context.variables[y].display_label, revision=f"clinical-{x}-{y}",
    )


def projection_arrived(context: AppContext, pending: dict | None) -> bool:
    """Whether the projection a view waits for is now cached (False when it waits for none)."""
    return bool(pending) and context.projection_ready(pending["space"], ProjectionSpec(method=pending["method"]))


def selection_summary(context: AppContext, filters: list | None, selection: dict | None) -> str:
    rows = highlight_rows(context, filters, selection)
    if rows is None:
        return f"All {context.n_subjects:,} subjects · lasso or box-select points in any view"
    return f"{len(rows):,} of {context.n_subjects:,} subjects highlighted"


def register(app: dash.Dash, context: AppContext) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="selectionFromViews"),
        Output(SELECTION, "data"),
        [Input(f"view-{view}", "selectedData") for view in (*LATENT_VIEWS, 2)],
        Input("clear-selection", "n_clicks"),
        prevent_initial_call=True,
    )

    for view in LATENT_VIEWS:
        @app.callback(
            Output(f"view-{view}", "figure"),
            Output("projection-request", "data", allow_duplicate=True),
            Output(f"view-{view}-pending", "data"),
            Input(f"view-{view}-space", "value"),
            Input(f"view-{view}-method", "value"),
            Input("colour-by", "value"),
            Input(FILTERS, "data"),
            Input(SELECTION, "data"),
            Input("projection-poll", "n_intervals"),
            State(f"view-{view}-pending", "data"),
            prevent_initial_call="initial_duplicate",
        )
        def _update_latent_view(space, method, colour, filters, selection, _ticks, pending, view=view):
            triggers = triggered()
            if triggers == {"projection-poll"} and not projection_arrived(context, pending):
                return dash.no_update, dash.no_update, dash.no_update
            figure, request = render_latent_view(context, view, space, method, colour, filters, selection, triggers)
            return figure, request, request if request is not dash.no_update else dash.no_update

    @app.callback(Output("projection-poll", "disabled"), [Input(f"view-{view}-pending", "data") for view in LATENT_VIEWS])
    def _poll_while_waiting(*pending):
        return not any(pending)

    @app.callback(
        Output("view-2", "figure"),
        Input("clinical-x", "value"),
        Input("clinical-y", "value"),
        Input("colour-by", "value"),
        Input(FILTERS, "data"),
        Input(SELECTION, "data"),
    )
    def _update_clinical_view(x, y, colour, filters, selection):
        return render_clinical_view(context, x, y, colour, filters, selection, triggered())

    @app.callback(Output("selection-summary", "children"), Input(FILTERS, "data"), Input(SELECTION, "data"))
    def _summarise(filters, selection):
        return selection_summary(context, filters, selection)

    @app.callback(
        Output("projection-ready", "data"),
        Input("projection-request", "data"),
        State("projection-ready", "data"),
        background=True,
        running=[(Output("projection-progress", "children"), _progress_bar(), None)],
        prevent_initial_call=True,
    )
    def _compute_projection(request, ready):
        if not request:
            return dash.no_update
        context.compute_projection(request["space"], ProjectionSpec(method=request["method"]))
        return (ready or 0) + 1


def _progress_bar() -> dbc.Alert:
    return dbc.Alert(
        [
            html.Div("Computing a projection; it is cached on disk and will be instant next time.", className="mb-1"),
            dbc.Progress(value=100, striped=True, animated=True, style={"height": "6px"}),
        ],
        color="info",
        className="py-2",
    )
