"""The explorer's callbacks: the clientside selection and zoom reducers, each view's redraw or repaint (drawn in the browser), tooltips, the projection job."""

from __future__ import annotations

import dash
from dash import ClientsideFunction, Input, Output, State

from app.context import AppContext
from app.core.projections import ProjectionSpec
from app.panels.explorer.page import progress_bar
from app.panels.explorer.settings import CLINICAL_VIEW, LATENT_VIEWS, PENDING_SEEN, PROJECTION_JOB, VIEWS
from app.panels.explorer.views import (
    ask_again,
    checked_projection,
    colour_legend,
    other_colour,
    projection_arrived,
    projection_not_computed,
    render_clinical_view,
    render_latent_view,
    selection_summary,
)
from app.panels.tooltips import hover_tooltip
from app.state import CLUSTERS, FILTERS, FOUND_SUBJECT, SELECTION, triggered


def register(app: dash.Dash, context: AppContext) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="selectionFromViews"),
        Output(SELECTION, "data"),
        [Input(ids.graph, "selectedData") for ids in VIEWS],
        Input("clear-selection", "n_clicks"),
        [State(setting, "value") for ids in LATENT_VIEWS for setting in (ids.space, ids.method)],
        State("clinical-x", "value"),
        State("clinical-y", "value"),
        State(SELECTION, "data"),
        prevent_initial_call=True,
    )
    for ids in VIEWS:
        app.clientside_callback(
            ClientsideFunction(namespace="explorer", function_name="drawView"),
            Output(ids.graph, "figure"),
            Output(ids.graph, "config"),
            Input(ids.spec, "data"),
            State(ids.graph, "config"),
        )
        app.clientside_callback(
            ClientsideFunction(namespace="explorer", function_name="viewportFromRelayout"),
            Output(ids.viewport, "data"),
            Input(ids.graph, "relayoutData"),
            State(ids.graph, "id"),
            prevent_initial_call=True,
        )

    for view, ids in enumerate(LATENT_VIEWS):
        @app.callback(
            Output(ids.spec, "data"),
            Output("projection-request", "data", allow_duplicate=True),
            Output(ids.pending, "data"),
            Output(ids.drawn, "data"),
            Input(ids.space, "value"),
            Input(ids.method, "value"),
            Input("colour-by", "value"),
            Input(FILTERS, "data"),
            Input(SELECTION, "data"),
            Input(FOUND_SUBJECT, "value"),
            Input("projection-poll", "n_intervals"),
            Input(CLUSTERS, "data"),
            Input(ids.viewport, "data"),
            Input(PROJECTION_JOB.failed, "data"),
            State(ids.pending, "data"),
            State(ids.drawn, "data"),
            State(PROJECTION_JOB.request, "data"),
            prevent_initial_call="initial_duplicate",
        )
        def _update_latent_view(space, method, colour, filters, selection, found, _ticks, clusters, viewport, _failed, pending, drawn, asked,
                                view=view):
            triggers = triggered()
            if triggers == {"projection-poll"} and not projection_arrived(context, pending):
                # The two views share one request: the other view's may have replaced this one's (its job stopped). Once
                # that job is done, this view asks again.
                again = ask_again(context, pending, asked)
                return dash.no_update, again or dash.no_update, dash.no_update, dash.no_update
            if other_colour(triggers, colour):
                return dash.no_update, dash.no_update, dash.no_update, dash.no_update
            if triggers == {PROJECTION_JOB.failed}:
                if not pending or projection_arrived(context, pending):  # waits for nothing, or its projection is there: the next poll draws it
                    return dash.no_update, dash.no_update, dash.no_update, dash.no_update
                return projection_not_computed(pending["space"], pending["method"]), dash.no_update, None, None  # no more polling for it
            shown = f"{space}-{method}"
            return render_latent_view(context, view, space, method, colour, filters, selection, triggers, drawn=not pending and drawn == shown,
                                      clusters=clusters, found=found, viewport=viewport).outputs(shown)

    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="selectionWhenProjected"),
        Output(SELECTION, "data", allow_duplicate=True),
        Output(PENDING_SEEN, "data"),
        [Input(ids.pending, "data") for ids in LATENT_VIEWS],
        State(SELECTION, "data"),
        State(PENDING_SEEN, "data"),
        prevent_initial_call=True,
    )

    # Poll for a projection only while a view waits for one; in the browser, as the views' answers land (no round trip of its own).
    app.clientside_callback("function () { return !Array.from(arguments).some(Boolean); }",
                            Output("projection-poll", "disabled"), [Input(ids.pending, "data") for ids in LATENT_VIEWS])

    @app.callback(
        Output(CLINICAL_VIEW.spec, "data"),
        Output(CLINICAL_VIEW.drawn, "data"),
        Input("clinical-x", "value"),
        Input("clinical-y", "value"),
        Input("colour-by", "value"),
        Input(FILTERS, "data"),
        Input(SELECTION, "data"),
        Input(CLUSTERS, "data"),
        Input(FOUND_SUBJECT, "value"),
        Input(CLINICAL_VIEW.viewport, "data"),
        State(CLINICAL_VIEW.drawn, "data"),
    )
    def _update_clinical_view(x, y, colour, filters, selection, clusters, found, viewport, drawn):
        if other_colour(triggered(), colour):
            return dash.no_update, dash.no_update
        shown = f"{x}-{y}"
        return render_clinical_view(context, x, y, colour, filters, selection, triggered(), drawn=drawn == shown, found=found,
                                    clusters=clusters, viewport=viewport), shown

    # The layout holds the default view's summary and legend (page.py): nothing to ask for on load, nor a row that grows when they come.
    @app.callback(Output("selection-summary", "children"), Input(FILTERS, "data"), Input(SELECTION, "data"), prevent_initial_call=True)
    def _summarise(filters, selection):
        return selection_summary(context, filters, selection)

    @app.callback(Output("colour-legend", "children"), Input("colour-by", "value"), Input(CLUSTERS, "data"), prevent_initial_call=True)
    def _legend(colour, clusters):
        return colour_legend(context, colour, clusters)

    for ids in VIEWS:
        @app.callback(
            Output(ids.tooltip, "show"),
            Output(ids.tooltip, "bbox"),
            Output(ids.tooltip, "children"),
            Input(ids.graph, "hoverData"),
            prevent_initial_call=True,  # nothing is hovered when the page opens: no round trip per view
        )
        def _hover(hover):
            return hover_tooltip(context, hover).outputs()

    def _project(request: dict, _progress) -> None:
        request = checked_projection(context, request, "projection request")
        context.compute_projection(request["space"], ProjectionSpec(method=request["method"]))

    PROJECTION_JOB.register(app, _project,
                            running=[(Output("projection-progress", "children"), progress_bar(), None)])
