"""Linked latent-space views: two latent projections and one clinical scatter, coloured alike.

A lasso/box selection in any view travels as its shape in that view's data coordinates (reduced
in the browser by a clientside callback, a few hundred bytes whatever it holds); the server
resolves it on the coordinates it holds, and every view repaints only its marker colour codes
(one byte per subject, faded outside the highlighted cohort) through a Patch. Hovering a point
asks the server for that one subject's id and key variables; a subject found by id (the navbar's
search) is ringed and labelled in every view, again through a Patch.

A Patch is only sent to a view known to be drawn: each view records what it drew (``view-N-drawn``).
Dash drops the result of a callback that is still running when the same callback is asked again
(as when a link restores the view while the first figures are being drawn), so a view whose full
figure never arrived is drawn in full instead of being patched.

A view holding more subjects than ``LSE_DENSITY_THRESHOLD`` draws their density instead
(app.figures.density); its zoom (reduced in the browser to the axis ranges) is then an input, and
once few enough subjects are in range the view draws those points.

A view whose UMAP or t-SNE is not cached yet shows a message, asks a background callback to
compute it, and records what it waits for; an interval then polls (cheaply: a file check) until
the projection is on disk and the view draws it. Polling, rather than an input from the background
callback, because Dash does not rerun a callback from a chain its own output started.
"""

from __future__ import annotations

import json

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import ClientsideFunction, Input, Output, Patch, State, dcc, html
from plotly.colors import sample_colorscale

from app import validation
from app.context import HOVER_VARIABLES, AppContext
from app.core.density import Viewport, parse_viewport
from app.core.projections import METHODS, ProjectionSpec
from app.core.selection_shapes import parse_shape
from app.figures.density import choose_drawing, density_caption, density_data, view_figure
from app.figures.messages import message_figure
from app.figures.scatter import (
    CONTINUOUS_SCALE,
    ColourCoding,
    colour_coding,
    found_subject_marks,
    highlighted_codes,
    marker_colours,
    selection_outline,
    subject_lines,
    typed_array,
    view_title,
)
from app.jobs import HEAVY, BackgroundJob
from app.state import (
    CLUSTER_COLOUR,
    CLUSTERS,
    FILTERS,
    FOUND_SUBJECT,
    SELECTION,
    SelectionError,
    cluster_column,
    highlight_mask,
    ordered_spaces,
    selection_mask,
    space_label,
    subject_row,
    triggered,
    variable_options,
    view_coordinates,
)
from data_loaders import cohort_spec

LATENT_VIEWS = (0, 1)
PROJECTION_JOB = BackgroundJob(request="projection-request", ready="projection-ready", poll="projection-poll", poll_ms=1000, lane=HEAVY)
CLUSTER_OPTION = {"label": "Clusters (found in the Clusters tab)", "value": CLUSTER_COLOUR}


def highlight_rows(context: AppContext, filters: list[dict] | None, selection: dict | None) -> np.ndarray | None:
    """Rows of the current cohort, or None when neither filters nor a selection narrow it."""
    mask = highlight_mask(context, filters, selection)
    return None if mask is None else np.flatnonzero(mask)


def _view_card(view: int, title: str, controls: list) -> dbc.Card:
    graph = dcc.Graph(id=f"view-{view}", clear_on_unhover=True, style={"height": "430px"},
                      # A double-click zooms out to everything drawn (not to the zoom a redrawn view started at).
                      config={"displaylogo": False, "scrollZoom": True, "editSelection": False, "doubleClick": "autosize"})
    return dbc.Card(
        [
            dbc.CardHeader(dbc.Row([dbc.Col(html.Strong(title), width="auto"), *controls], className="g-2 align-items-center")),
            dbc.CardBody(
                html.Div([dcc.Loading(graph, delay_show=400), dcc.Tooltip(id=f"view-{view}-tooltip", direction="bottom")],
                         style={"position": "relative"}),
                className="p-1",
            ),
        ],
        className="h-100",
    )


def layout(context: AppContext) -> html.Div:
    spaces = ordered_spaces(context)
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
    default_x = cohort_spec.AGE if cohort_spec.AGE in context.variables else (continuous[0]["value"] if continuous else None)
    default_y = cohort_spec.LV_MASS if cohort_spec.LV_MASS in context.variables else (continuous[-1]["value"] if continuous else None)
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
    default_colour = cohort_spec.AF if cohort_spec.AF in context.variables else None
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(html.Label("Colour by", htmlFor="colour-by", className="col-form-label fw-semibold"), width="auto"),
                    dbc.Col(dcc.Dropdown(id="colour-by", options=[*variable_options(context), CLUSTER_OPTION], value=default_colour, placeholder="no colour"), md=4),
                    dbc.Col(html.Div(id="colour-legend", className="small"), width=True),
                    dbc.Col(html.Div(id="selection-summary", className="text-muted small"), width="auto", className="text-end"),
                    dbc.Col(dbc.Button("Clear selection", id="clear-selection", size="sm", color="secondary", outline=True), width="auto"),
                ],
                className="g-2 mb-2 align-items-center",
            ),
            html.Div(id="projection-progress"),
            dbc.Row([dbc.Col(card, lg=4, className="mb-3") for card in cards], className="g-2"),
            *PROJECTION_JOB.components(),
            *[dcc.Store(id=f"view-{view}-pending") for view in LATENT_VIEWS],
            *[dcc.Store(id=f"view-{view}-drawn") for view in (*LATENT_VIEWS, 2)],  # what each view has drawn (see the module's docstring)
            *[dcc.Store(id=f"view-{view}-viewport") for view in (*LATENT_VIEWS, 2)],
        ]
    )


def _colour(context: AppContext, colour: str | None, clusters: dict | None = None) -> ColourCoding:
    """The colour codes of a variable, or of the clustering in force (CLUSTER_COLOUR); one colour for everyone otherwise."""
    column = cluster_column(context, clusters) if colour == CLUSTER_COLOUR else None
    if column is not None:
        return colour_coding(*column)
    if not colour or colour not in context.variables:
        return colour_coding(pd.Series(np.zeros(context.n_subjects)), None)
    return colour_coding(context.cohort.phenotypes[colour], context.variables[colour])


HIGHLIGHT_TRIGGERS = {"colour-by", CLUSTERS, SELECTION, FILTERS}


def _repaint_only(triggers: set[str]) -> bool:
    """Whether only the colour, the clusters, the highlighted cohort or the found subject changed: a Patch will do."""
    return bool(triggers) and triggers <= HIGHLIGHT_TRIGGERS | {FOUND_SUBJECT}


def _other_colour(triggers: set[str], colour: str | None) -> bool:
    """New clusters were found while the views are coloured by something else: nothing to repaint."""
    return triggers == {CLUSTERS} and colour != CLUSTER_COLOUR


def _found_marks(context: AppContext, coordinates: np.ndarray, found: str | None) -> dict[str, list[dict]]:
    row = subject_row(context, found)
    return found_subject_marks(coordinates, row, "" if row is None else str(context.cohort.subject_ids[row]))


def _selection_token(selection: dict | None) -> str:
    return json.dumps(selection, sort_keys=True, default=str)


def viewport_for(payload: object, revision: str) -> Viewport | None:
    """The zoom a view's browser reported, if it was reported for the figure now drawn (``revision``); None: everything."""
    if not isinstance(payload, dict) or payload.get("revision") != revision or payload.get("x") is None:
        return None
    try:
        return parse_viewport({"x": payload.get("x"), "y": payload.get("y")})
    except ValueError as error:
        raise validation.InputRefused(str(error)) from None


def outline_in_view(view: dict, selection: dict | None) -> list[dict]:
    """The outline of the selection in force, in the view it was drawn on (``view``: kind, space and method, or x and y); none elsewhere.

    A selection restored from a link, or drawn before the view was last replaced, shows its box or
    lasso again, so the highlighted subjects never appear without the shape that chose them.
    """
    drawn_on = (selection or {}).get("view")
    if not isinstance(drawn_on, dict) or "shape" not in selection or any(drawn_on.get(key) != value for key, value in view.items()):
        return []
    try:
        return [selection_outline(parse_shape(selection["shape"]).to_json())]
    except ValueError:
        return []


def _set_outline(patch: Patch, view_id: str, view: dict, selection: dict | None, triggers: set[str]) -> None:
    """Redraw this view's outline (via ``selectionrevision``) when the selection changed elsewhere: the one in force, or none.

    The view where the user just drew keeps Plotly's own outline untouched.
    """
    if SELECTION in triggers and (selection or {}).get("source") != view_id:
        patch["layout"]["selections"] = outline_in_view(view, selection)
        patch["layout"]["selectionrevision"] = _selection_token(selection)


def _mark_found(patch: Patch, triggers: set[str], marks: dict[str, list[dict]] | None) -> None:
    """Move the found subject's ring and label (or take them away) when the found subject changed."""
    if FOUND_SUBJECT in triggers:
        for key, value in (marks or {"annotations": [], "shapes": []}).items():
            patch["layout"][key] = value


def repaint_patch(view_id: str, view: dict, coding: ColourCoding, highlight: np.ndarray | None, selection: dict | None,
                  triggers: set[str], rows: np.ndarray | None = None, marks: dict[str, list[dict]] | None = None) -> Patch:
    """The marker colours (codes with the cohort highlighted) of an already drawn view, or its found-subject marks; zoom is untouched.

    ``view``: what the view shows (see :func:`outline_in_view`); ``rows``: the subjects a zoomed-in
    view draws (point *i* is ``rows[i]``). The view's outline follows the selection in force.
    """
    patch = Patch()
    if triggers & HIGHLIGHT_TRIGGERS:
        codes = highlighted_codes(coding, highlight)
        colours = typed_array(codes if rows is None else codes[rows])
        if triggers & {"colour-by", CLUSTERS}:
            patch["data"][0]["marker"].update({**marker_colours(coding, highlight), "color": colours})
        else:
            patch["data"][0]["marker"]["color"] = colours
        patch["data"][0]["meta"] = {"highlight": highlight is not None, **({"follows_zoom": True} if rows is not None else {})}
    _set_outline(patch, view_id, view, selection, triggers)
    _mark_found(patch, triggers, marks)
    return patch


def render_view(context: AppContext, view_id: str, view: dict, coordinates: np.ndarray, labels: dict[str, str], colour: str | None,
                filters: list | None, selection: dict | None, triggers: set[str], viewport: object, drawn: bool = True,
                clusters: dict | None = None, found: str | None = None) -> object:
    """A drawn view's figure, or the Patch that repaints it when only the colour, the highlighted cohort or the found subject changed.

    Above the density threshold the view draws a density image (a repaint sends its new layers, a
    few hundred KB), or, zoomed in to few enough subjects, their points; ``labels``: title, axis
    labels and the revision that keeps zoom; ``view``: what the view shows (kind, space and method,
    or x and y); ``found``: a subject to ring in the view.
    """
    coding = _colour(context, colour, clusters)
    highlight = highlight_mask(context, filters, selection)
    threshold = context.config.density_threshold
    zoom = viewport_for(viewport, labels["revision"])
    drawing = choose_drawing(coordinates, zoom, threshold)
    marks = _found_marks(context, coordinates, found)
    if not (drawn and _repaint_only(triggers)):
        marks = {**marks, "selections": outline_in_view(view, selection)}
        return view_figure(coordinates, coding, drawing, highlight=highlight, viewport=zoom, threshold=threshold, marks=marks, **labels)
    if drawing.mode != "density":
        return repaint_patch(view_id, view, coding, highlight, selection, triggers, drawing.rows, marks)
    patch = Patch()  # a density view: new layers, the same axes, zoom and outline
    if triggers & HIGHLIGHT_TRIGGERS:
        patch["data"] = density_data(coordinates, coding, highlight, zoom)
        patch["layout"]["title"]["text"] = view_title(labels["title"], density_caption(drawing, threshold, coding))
    _set_outline(patch, view_id, view, selection, triggers)
    _mark_found(patch, triggers, marks)
    return patch


NO_SPACES = "This cohort has no latent spaces yet: run python -m models.encode"
NO_SPACE_YET = ("The raw-signal baseline space is being computed in the background (progress in the badge above): "
                "this view draws itself when it is ready. The clinical view, filters and Compare cohorts work meanwhile.")


def render_latent_view(context: AppContext, view: int, space: str | None, method: str, colour: str | None,
                       filters: list | None, selection: dict | None, triggers: set[str], drawn: bool = True,
                       clusters: dict | None = None, found: str | None = None, viewport: object = None) -> tuple[object, object]:
    """(figure or patch, projection request) for one latent view; ``drawn``: the view shows its points now; ``found``: a subject to mark."""
    if not space:
        return message_figure(NO_SPACE_YET if context.spaces_pending else NO_SPACES), None
    spec = ProjectionSpec(method=method)
    coordinates = context.cached_projection(space, spec)
    if coordinates is None:
        if _repaint_only(triggers):
            return dash.no_update, dash.no_update
        text = f"Computing the {METHODS[method]} of the {space_label(space)} space…"
        return message_figure(text), {"space": space, "method": method}
    labels = {"title": f"{space_label(space)} · {METHODS[method]}", "x_label": f"{METHODS[method]} 1", "y_label": f"{METHODS[method]} 2",
              "revision": f"{view}-{space}-{method}"}
    shown = {"kind": "latent", "space": space, "method": method}
    figure = render_view(context, f"view-{view}", shown, coordinates, labels, colour, filters, selection, triggers, viewport, drawn=drawn,
                         clusters=clusters, found=found)
    return figure, (dash.no_update if isinstance(figure, Patch) else None)


def render_clinical_view(context: AppContext, x: str | None, y: str | None, colour: str | None,
                         filters: list | None, selection: dict | None, triggers: set[str], drawn: bool = True,
                         found: str | None = None, clusters: dict | None = None, viewport: object = None) -> object:
    if not x or not y:
        return message_figure("Choose two continuous variables")
    coordinates = view_coordinates(context, {"kind": "clinical", "x": x, "y": y})
    labels = {"title": f"{context.variables[x].label} vs {context.variables[y].label}", "x_label": context.variables[x].display_label,
              "y_label": context.variables[y].display_label, "revision": f"clinical-{x}-{y}"}
    return render_view(context, "view-2", {"kind": "clinical", "x": x, "y": y}, coordinates, labels, colour, filters, selection, triggers, viewport, drawn=drawn,
                       clusters=clusters, found=found)


def colour_legend(context: AppContext, colour: str | None, clusters: dict | None = None) -> list:
    """One legend for the three views (they are coloured alike): category swatches or a colour bar."""
    if colour == CLUSTER_COLOUR and cluster_column(context, clusters) is None:
        return [html.Span("No clusters yet: find them in the Clusters tab.", className="text-muted")]
    if not colour or (colour not in context.variables and colour != CLUSTER_COLOUR):
        return []
    coding = _colour(context, colour, clusters)
    items = []
    if coding.continuous is not None:
        label, low, high = coding.continuous
        stops = ", ".join(sample_colorscale(CONTINUOUS_SCALE, np.linspace(0, 1, 6).tolist()))
        items.append(html.Span([html.Span(f"{label}  {low:.3g} "), html.Span(className="legend-bar", style={"background": f"linear-gradient(to right, {stops})"}),
                                html.Span(f" {high:.3g}")], className="me-3"))
    for name, swatch in coding.legend:
        items.append(html.Span([html.Span(className="legend-swatch", style={"background": swatch}), name], className="me-3 text-nowrap"))
    return items


def hover_tooltip(context: AppContext, hover: dict | None) -> tuple[bool, object, object]:
    """(show, bbox, children) of a view's tooltip: the hovered subject's id and key variables, looked up here."""
    points = (hover or {}).get("points") or []
    point = points[0] if points and isinstance(points[0], dict) else {}
    row, bbox = point.get("customdata", point.get("pointNumber")), point.get("bbox")  # customdata: a zoomed-in view's row
    if point.get("curveNumber") != 0 or not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < context.n_subjects:
        return False, dash.no_update, dash.no_update
    present = [name for name in HOVER_VARIABLES if name in context.variables]
    lines = subject_lines(context.cohort.phenotypes, context.variables, present, row)
    children = [html.Strong(lines[0]), *[html.Div(line) for line in lines[1:]]]
    return True, bbox, html.Div(children, className="small")


def projection_arrived(context: AppContext, pending: dict | None) -> bool:
    """Whether the projection a view waits for is now cached (False when it waits for none)."""
    return bool(pending) and context.projection_ready(pending["space"], ProjectionSpec(method=pending["method"]))


def selection_summary(context: AppContext, filters: list | None, selection: dict | None) -> str:
    try:
        selection_mask(context, selection)
    except SelectionError as error:
        return f"Selection ignored: {error}"
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
        [State(f"view-{view}-{setting}", "value") for view in LATENT_VIEWS for setting in ("space", "method")],
        State("clinical-x", "value"),
        State("clinical-y", "value"),
        State(SELECTION, "data"),
        prevent_initial_call=True,
    )
    for view in (*LATENT_VIEWS, 2):
        app.clientside_callback(
            ClientsideFunction(namespace="explorer", function_name="viewportFromRelayout"),
            Output(f"view-{view}-viewport", "data"),
            Input(f"view-{view}", "relayoutData"),
            State(f"view-{view}", "id"),
            prevent_initial_call=True,
        )

    for view in LATENT_VIEWS:
        @app.callback(
            Output(f"view-{view}", "figure"),
            Output("projection-request", "data", allow_duplicate=True),
            Output(f"view-{view}-pending", "data"),
            Output(f"view-{view}-drawn", "data"),
            Input(f"view-{view}-space", "value"),
            Input(f"view-{view}-method", "value"),
            Input("colour-by", "value"),
            Input(FILTERS, "data"),
            Input(SELECTION, "data"),
            Input(FOUND_SUBJECT, "value"),
            Input("projection-poll", "n_intervals"),
            Input(CLUSTERS, "data"),
            Input(f"view-{view}-viewport", "data"),
            State(f"view-{view}-pending", "data"),
            State(f"view-{view}-drawn", "data"),
            prevent_initial_call="initial_duplicate",
        )
        def _update_latent_view(space, method, colour, filters, selection, found, _ticks, clusters, viewport, pending, drawn, view=view):
            triggers = triggered()
            if (triggers == {"projection-poll"} and not projection_arrived(context, pending)) or _other_colour(triggers, colour):
                return dash.no_update, dash.no_update, dash.no_update, dash.no_update
            shown = f"{space}-{method}"
            figure, request = render_latent_view(context, view, space, method, colour, filters, selection, triggers,
                                                 drawn=not pending and drawn == shown, clusters=clusters, found=found, viewport=viewport)
            if request is None:  # drawn: the view waits for nothing, and no (empty) background job is queued
                return figure, dash.no_update, None, shown
            if request is dash.no_update:
                return figure, dash.no_update, dash.no_update, dash.no_update
            return figure, request, request, None

    @app.callback(Output("projection-poll", "disabled"), [Input(f"view-{view}-pending", "data") for view in LATENT_VIEWS])
    def _poll_while_waiting(*pending):
        return not any(pending)

    @app.callback(
        Output("view-2", "figure"),
        Output("view-2-drawn", "data"),
        Input("clinical-x", "value"),
        Input("clinical-y", "value"),
        Input("colour-by", "value"),
        Input(FILTERS, "data"),
        Input(SELECTION, "data"),
        Input(CLUSTERS, "data"),
        Input(FOUND_SUBJECT, "value"),
        Input("view-2-viewport", "data"),
        State("view-2-drawn", "data"),
    )
    def _update_clinical_view(x, y, colour, filters, selection, clusters, found, viewport, drawn):
        if _other_colour(triggered(), colour):
            return dash.no_update, dash.no_update
        shown = f"{x}-{y}"
        return render_clinical_view(context, x, y, colour, filters, selection, triggered(), drawn=drawn == shown, found=found,
                                    clusters=clusters, viewport=viewport), shown

    @app.callback(Output("selection-summary", "children"), Input(FILTERS, "data"), Input(SELECTION, "data"))
    def _summarise(filters, selection):
        return selection_summary(context, filters, selection)

    @app.callback(Output("colour-legend", "children"), Input("colour-by", "value"), Input(CLUSTERS, "data"))
    def _legend(colour, clusters):
        return colour_legend(context, colour, clusters)

    for view in (*LATENT_VIEWS, 2):
        @app.callback(
            Output(f"view-{view}-tooltip", "show"),
            Output(f"view-{view}-tooltip", "bbox"),
            Output(f"view-{view}-tooltip", "children"),
            Input(f"view-{view}", "hoverData"),
        )
        def _hover(hover):
            return hover_tooltip(context, hover)

    PROJECTION_JOB.register(app, lambda request, _progress: context.compute_projection(request["space"], ProjectionSpec(method=request["method"])),
                            running=[(Output("projection-progress", "children"), _progress_bar(), None)])


def _progress_bar() -> dbc.Alert:
    return dbc.Alert(
        [
            html.Div("Computing a projection; it is cached on disk and will be instant next time.", className="mb-1"),
            dbc.Progress(value=100, striped=True, animated=True, style={"height": "6px"}),
        ],
        color="info",
        className="py-2",
    )
