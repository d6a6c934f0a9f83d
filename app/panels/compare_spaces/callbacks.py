"""The space comparison's callbacks: read the inputs, call the views, return their outputs."""

from __future__ import annotations

import threading
from dataclasses import replace

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, ctx

from app.context import AppContext
from app.core.projections import METHODS, ProjectionSpec
from app.panels.compare_spaces.neighbourhoods import effective_k, focused_row, load_comparison, overlap_range, ready_to_draw, subject_from_event
from app.panels.compare_spaces.settings import NEIGHBOURS_JOB, NEIGHBOURS_NOT_COMPUTED, PANEL_TAB, ROW_CLICK, WAITING_MARK
from app.panels.compare_spaces.tables import sorted_records, subject_table, table_columns
from app.panels.compare_spaces.views import Overview, map_tooltip, render_overview, render_subject, use_suggestion
from app.panels.shown import is_shown, register_shown, shown_id, shown_inputs, visible_id
from app.panels.tab_panes import clicked
from app.state import COHORTS_VERSION, SELECTION, inputs_key, space_label, triggered


def _triggers() -> set[str]:
    """What triggered the callback, the tab's view of the current cohort read as the selection (the only part used here)."""
    return {SELECTION if trigger == shown_id(PANEL_TAB) else trigger for trigger in triggered()}


class InProgress:
    """Keys of work under way in this process, claimed by one request at a time.

    Once the neighbours are ready, every tick of the 1.5 s poll asks for the map until the first answer
    arrives and stops the polling. At a million subjects drawing it takes tens of seconds, so ticks piled
    up a dozen identical renders (6.5 GB, every request thread busy); now the first tick draws and the
    others return at once. It holds no one's data: a tick that finds the key taken simply asks again.
    """

    def __init__(self):
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._keys.discard(key)


def register(app: dash.Dash, context: AppContext) -> None:
    first_poll_drawing = InProgress()
    register_shown(app, PANEL_TAB)

    unchanged = (*Overview().outputs(), dash.no_update, dash.no_update)  # every output of _overview left as it is, cs-drawn and the poll's switch too

    @app.callback(
        Output("cs-map-spec", "data"),
        Output("cs-map", "figure", allow_duplicate=True),  # a Patch of the highlighted points, applied to the figure drawn
        Output("cs-histogram", "figure"),
        Output("cs-most-data", "data"),
        Output("cs-least-data", "data"),
        Output("cs-suggestions", "children"),
        Output("cs-suggested", "data"),
        Output("cs-request", "data", allow_duplicate=True),  # a duplicate output: the request → ready → redraw loop is no cycle to Dash
        Output("cs-summary", "children"),
        Output("cs-map-title", "children"),
        Output("cs-drawn", "data"),
        Output("cs-poll", "disabled"),
        Input(visible_id(PANEL_TAB), "data"),
        Input("cs-space-a", "value"),
        Input("cs-space-b", "value"),
        Input("cs-layout", "value"),
        Input("cs-k", "value"),
        Input("cs-metric", "value"),
        Input("cs-brushed", "data"),
        Input("cs-trail-threshold", "value"),
        Input("cs-show-trails", "value"),
        Input("cs-align-on-selection", "value"),
        Input(shown_id(PANEL_TAB), "data"),
        Input("cs-poll", "n_intervals"),
        Input(NEIGHBOURS_JOB.failed, "data"),
        State("cs-drawn", "data"),
        prevent_initial_call=True,  # hidden on page load: the tab's visibility store calls it once the tab is opened
    )
    def _overview(visible, space_a, space_b, method, k, metric, brushed, threshold, trails, align, shown, _poll, _failed, drawn):
        # Redrawn when the tab is open (the explorer's first load is not slowed) and something changed; while the
        # background callback computes, an interval polls the disk cache (the renderer would not rerun this
        # callback from the background callback's output, which its own request started).
        triggers = _triggers()
        selection = shown_inputs(shown)[1]
        polled = triggers == {"cs-poll"}
        # cs-drawn is the key of what is shown, marked while it still waits for the background result: a tick
        # queued after the full map was drawn must not send it (several MB) again, and stops the polling.
        key = inputs_key(space_a, space_b, method, k, metric, brushed, threshold, trails, align, selection)
        if polled and drawn == key:
            return (*unchanged[:-1], True)
        if triggers == {NEIGHBOURS_JOB.failed}:
            # A job ended without a result: the map says so and stops polling, if it still waits for one.
            if drawn != key + WAITING_MARK or not is_shown(visible):
                return unchanged
            if ready_to_draw(context, space_a, space_b, method, k, metric):
                return unchanged  # its result is there after all: the next poll draws it
            return (*Overview.message(NEIGHBOURS_NOT_COMPUTED).outputs(), None, True)
        if not is_shown(visible) or (drawn in (key, key + WAITING_MARK) and not polled):
            return unchanged
        if polled and not ready_to_draw(context, space_a, space_b, method, k, metric):
            return unchanged
        if polled and not first_poll_drawing.claim(key):
            return unchanged  # an earlier tick is drawing this already; its answer stops the polling
        try:
            overview = render_overview(context, space_a, space_b, method, k, metric, brushed, threshold, trails, align, selection,
                                       triggers - {visible_id(PANEL_TAB), "cs-poll"} if drawn else set())
        finally:
            if polled:
                first_poll_drawing.release(key)
        waiting = overview.waiting
        if polled:
            overview = replace(overview, request=dash.no_update)  # the computation is already running
        return (*overview.outputs(), key + WAITING_MARK if waiting else key, not waiting)

    def _compute(request: dict, set_progress) -> None:
        spec = ProjectionSpec(method=request["method"])
        for space in (request["space_a"], request["space_b"]):
            set_progress((0, f"{METHODS[request['method']]} layout of {space_label(space)}…"))
            context.compute_projection(space, spec)
        load_comparison(context, request["space_a"], request["space_b"], request["k"], request["metric"], compute=True,
                        progress=lambda done, space: set_progress((int(100 * done), f"neighbours in {space_label(space)}: {done:.0%}")))

    NEIGHBOURS_JOB.register(app, _compute, progress=[Output("cs-progress-bar", "value"), Output("cs-progress-bar", "label")],
                            running=[(Output("cs-progress", "style"), {"display": "block"}, {"display": "none"})])

    @app.callback(
        Output("cs-most-changed", "children"),
        Output("cs-least-changed", "children"),
        Input("cs-most-data", "data"),
        Input("cs-least-data", "data"),
        Input("cs-sort-by", "value"),
        Input("cs-sort-order", "value"),
    )
    def _lists(most, least, sort_by, order):
        columns = table_columns(context)
        return (subject_table(sorted_records(most or [], sort_by, order), columns, "most"),
                subject_table(sorted_records(least or [], sort_by, order), columns, "least"))

    # In the browser (assets/compare_spaces.js): Plotly's click and selection events reduced to what the server needs.
    for function_name, result, event in (
        ("subjectFromMap", Output("cs-map-click", "data"), Input("cs-map", "clickData")),
        ("brushFromHistogram", Output("cs-brushed", "data"), Input("cs-histogram", "selectedData")),
        ("nothingBrushed", Output("cs-select-range", "disabled"), Input("cs-brushed", "data")),
    ):
        app.clientside_callback(ClientsideFunction(namespace="compareSpaces", function_name=function_name), result, event, prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction(namespace="compareSpaces", function_name="drawMap"), Output("cs-map", "figure"),
                            Input("cs-map-spec", "data"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction(namespace="compareSpaces", function_name="selectionFromMap"),
                            Output(SELECTION, "data", allow_duplicate=True), Input("cs-map", "selectedData"), State(SELECTION, "data"),
                            prevent_initial_call=True)

    @app.callback(
        Output("cs-map-tooltip", "show"),
        Output("cs-map-tooltip", "bbox"),
        Output("cs-map-tooltip", "children"),
        Input("cs-map", "hoverData"),
        State("cs-space-a", "value"),
        State("cs-space-b", "value"),
        State("cs-k", "value"),
        State("cs-metric", "value"),
        prevent_initial_call=True,
    )
    def _hover(hover, space_a, space_b, k, metric):
        return map_tooltip(context, hover, space_a, space_b, k, metric).outputs()

    @app.callback(
        Output("cs-subject", "data"),
        Input("cs-map-click", "data"),
        Input(ROW_CLICK, "data"),
        State(SELECTION, "data"),
        prevent_initial_call=True,
    )
    def _choose_subject(map_click, row_click, selection):
        row = subject_from_event(context, ctx.triggered_id, map_click if ctx.triggered_id == "cs-map-click" else row_click)
        if row is None:
            return dash.no_update
        return {"row": row, "selection": inputs_key(selection)}

    @app.callback(
        Output(SELECTION, "data", allow_duplicate=True),
        Input("cs-select-range", "n_clicks"),
        State("cs-space-a", "value"),
        State("cs-space-b", "value"),
        State("cs-k", "value"),
        State("cs-metric", "value"),
        State("cs-brushed", "data"),
        prevent_initial_call=True,
    )
    def _select_range(clicks, space_a, space_b, k, metric, brushed):
        """The subjects in the brushed overlap range become the selection (nothing brushed: the button is disabled, and nothing happens).

        It travels as the range, resolved on the cached neighbour lists like a cluster on its labels: as rows it grew with
        the subjects in range (a 0–0.4 brush at 100,000 subjects sent some 600 KB down and back up with every request)."""
        brushed_range = overlap_range(brushed)
        if not clicked(clicks) or not space_a or not space_b or space_a == space_b or brushed_range is None:
            return dash.no_update
        k = effective_k(context, k)
        if load_comparison(context, space_a, space_b, k, metric) is None:
            return dash.no_update
        return {"overlap": {"a": space_a, "b": space_b, "k": k, "metric": metric, "range": list(brushed_range)}, "source": "compare-spaces-histogram"}

    @app.callback(
        Output("cs-neighbourhood", "figure"),
        Output("cs-subject-title", "children"),
        Output("cs-common", "children"),
        Input("cs-space-a", "value"),
        Input("cs-space-b", "value"),
        Input("cs-layout", "value"),
        Input("cs-k", "value"),
        Input("cs-metric", "value"),
        Input("cs-subject", "data"),
        Input(shown_id(PANEL_TAB), "data"),
        Input("cs-align-on-selection", "value"),
        Input("cs-ready", "data"),
        Input(visible_id(PANEL_TAB), "data"),
        prevent_initial_call=True,  # hidden on page load (see _overview)
    )
    def _subject(space_a, space_b, method, k, metric, focused, shown, align, _ready, visible):
        if not is_shown(visible):
            return dash.no_update, dash.no_update, dash.no_update
        selection = shown_inputs(shown)[1]
        return render_subject(context, space_a, space_b, method, k, metric, focused_row(context, focused, selection), selection, align).outputs()

    @app.callback(
        Output(SELECTION, "data", allow_duplicate=True),
        Output("cs-save-feedback", "children"),
        Output(COHORTS_VERSION, "data", allow_duplicate=True),
        Input({"type": "cs-suggestion-select", "index": ALL}, "n_clicks"),
        Input({"type": "cs-suggestion-save", "index": ALL}, "n_clicks"),
        State("cs-suggested", "data"),
        State("cs-space-a", "value"),
        State("cs-space-b", "value"),
        State("cs-k", "value"),
        State(COHORTS_VERSION, "data"),
        prevent_initial_call=True,
    )
    def _use_suggestion(_select, _save, suggested, space_a, space_b, k, version):
        return use_suggestion(context, ctx.triggered_id, bool(ctx.triggered and ctx.triggered[0]["value"]), suggested, space_a, space_b,
                              effective_k(context, k), version).outputs()
