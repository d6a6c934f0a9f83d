"""Cohort controls: filters with histograms, save the current cohort, set algebra, rename, delete, export.

The current cohort is the subjects passing every filter and, when there is one, inside the
current lasso/box selection. Saved cohorts keep that definition in the SQLite store.
"""

from __future__ import annotations

import math

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import ALL, MATCH, Input, Output, State, ctx, dcc, html

from app import validation
from app.cohort_store import LOCAL_USER, CohortStoreError
from app.context import AppContext
from app.core.cohort_algebra import OPERATIONS, CohortDefinition
from app.core.cohort_description import describe_definition, readable_time
from app.core.exports import file_name_part, safe_csv_frame
from app.core.filters import ChoiceFilter, RangeFilter, slider_limits
from app.figures.distributions import filter_histogram
from app.state import COHORTS_VERSION, FILTERS, SAVED_COHORTS, SELECTION, current_cohort_mask, selection_mask, selection_variables, variable_options

OPERATION_LABELS = {"union": "A ∪ B (either)", "intersection": "A ∩ B (both)", "difference": "A − B (A, not B)", "complement": "not A"}


def current_definition(context: AppContext, filters: list | None, selection: dict | None) -> CohortDefinition:
    """The definition to save for what is highlighted now: filters plus the selected subjects' ids, and the variables they
    were picked by (a later Table 1 marks them as defining)."""
    selected = selection_mask(context, selection)
    ids = tuple(context.cohort.subject_ids[np.flatnonzero(selected)]) if selected is not None else ()
    return CohortDefinition(filters=tuple(validation.filter_specs(filters, context.variables)), subject_ids=ids,
                            selection_variables=tuple(sorted(selection_variables(context, selection))))


def filter_block(context: AppContext, variable: str, current: dict | None = None) -> html.Div:
    """The controls for one filter: a range slider with number boxes, or a checklist; its histogram and a remove button.

    ``current`` is the filter's spec in the shared store: a block drawn again (when another filter is
    added) starts from it, not from the full range.
    """
    spec = context.variables[variable]
    column = context.cohort.phenotypes[variable]
    current = current or {}
    if spec.type == "continuous":
        low, high = slider_limits(column)
        chosen = [low if current.get("low") is None else current["low"], high if current.get("high") is None else current["high"]]
        # Number boxes of our own: debounce=True applies a typed limit on Enter or on leaving the box.
        boxes = [dcc.Input(id={"type": f"range-{side}", "variable": variable}, type="number", value=value, min=low, max=high, debounce=True,
                           className=f"filter-{side} form-control form-control-sm", placeholder=name, step="any")
                 for side, name, value in (("low", "from", chosen[0]), ("high", "to", chosen[1]))]
        control = html.Div([
            dcc.RangeSlider(id={"type": "range-filter", "variable": variable}, min=low, max=high, value=chosen,
                            tooltip={"placement": "bottom", "always_visible": False}, allowCross=False, marks=None, allow_direct_input=False),
            html.Div([boxes[0], html.Span("to", className="small text-muted"), boxes[1]], className="d-flex align-items-center gap-2"),
        ])
    else:
        options = [{"label": "yes", "value": True}, {"label": "no", "value": False}] if spec.type == "binary" else [
            {"label": c, "value": c} for c in (spec.categories or sorted(column.dropna().astype(str).unique()))
        ]
        chosen = current.get("values", [o["value"] for o in options])
        control = dcc.Checklist(id={"type": "choice-filter", "variable": variable}, options=options,
                                value=list(chosen), inline=True, inputClassName="me-1", labelClassName="me-3")
    return html.Div(
        [
            html.Div(
                [html.Span(spec.display_label, className="fw-semibold small"),
                 dbc.Button("×", id={"type": "remove-filter", "variable": variable}, size="sm", color="link",
                            className="p-0 ms-auto text-danger", title=f"Remove the {spec.label} filter")],
                className="d-flex align-items-center",
            ),
            dcc.Graph(id={"type": "filter-histogram", "variable": variable}, config={"displayModeBar": False, "staticPlot": True},
                      style={"height": "90px"}),
            control,
        ],
        className="filter-block border rounded p-2 mb-2",
    )


def synced_range(low: float | None, high: float | None, minimum: float, maximum: float) -> tuple[list[float], float, float]:
    """Slider value and boxes from typed limits: an empty box means the end of the range; limits are kept in range and in order."""
    low = minimum if low is None else min(max(float(low), minimum), maximum)
    high = maximum if high is None else min(max(float(high), minimum), maximum)
    low, high = min(low, high), max(low, high)
    return [low, high], low, high


def checked_range_sync(context: AppContext, trigger: object, slider: object, low: object, high: object) -> tuple:
    """The slider and boxes of one range filter kept in step, every value checked: the limits are the server's, not the page's."""
    variable = trigger.get("variable") if isinstance(trigger, dict) else None
    continuous = [name for name, spec in context.variables.items() if spec.type == "continuous"]
    validation.choice(variable, continuous, "filter variable")
    minimum, maximum = slider_limits(context.cohort.phenotypes[variable])
    if trigger.get("type") == "range-filter":
        if not isinstance(slider, list) or len(slider) != 2:
            raise validation.InputRefused(f"{variable} filter: expected a lower and an upper limit, got {slider!r:.60}")
        bounds = [validation.number(value, f"{variable} filter limit", -math.inf, math.inf) for value in slider]
        return dash.no_update, bounds[0], bounds[1]
    typed = [validation.optional(validation.number, value, f"{variable} filter limit", -math.inf, math.inf) for value in (low, high)]
    return synced_range(*typed, minimum, maximum)


def filters_from_controls(range_ids: list[dict], range_values: list, choice_ids: list[dict], choice_values: list) -> list[dict]:
    filters = [RangeFilter(i["variable"], v[0], v[1]).to_dict() for i, v in zip(range_ids, range_values) if v]
    filters += [ChoiceFilter(i["variable"], tuple(v or ())).to_dict() for i, v in zip(choice_ids, choice_values)]
    return filters


def filter_histograms(context: AppContext, filters: list | None, selection: dict | None, variables: list[str]) -> tuple[list, str]:
    """Each filter's histogram of the current cohort against everyone, and the cohort's size."""
    mask = current_cohort_mask(context, filters, selection)
    phenotypes = context.cohort.phenotypes
    figures = [filter_histogram(phenotypes[variable], context.variables[variable], mask) for variable in variables]
    return figures, f"{int(mask.sum()):,} of {context.n_subjects:,}"


def saved_cohort_rows(context: AppContext) -> list[dict]:
    """Each saved cohort with its definition in words, when it was made and its size now (recomputed, never stored)."""
    listed = context.store.list()
    names = {saved.id: saved.label for saved in listed}
    rows = []
    for saved in listed:
        try:
            size = int(context.definition_mask(saved.definition).sum())
            definition = describe_definition(saved.definition, context.variables, lambda operand: names.get(operand, f"cohort {operand}"))
        except (ValueError, KeyError, CohortStoreError) as error:
            size, definition = None, f"cannot resolve: {error}"
        rows.append({"id": saved.id, "name": saved.label, "size": size, "definition": definition, "created": readable_time(saved.created_at),
                     "shared": saved.shared, "owner": saved.owner or LOCAL_USER, "mine": context.store.is_owner(saved)})
    return rows


def sharing_state(context: AppContext, chosen: object) -> tuple[bool, bool]:
    """(shared, switch disabled) for the chosen saved cohort: only its owner may change who sees it."""
    if chosen is None:
        return False, True
    saved = context.store.get(chosen)  # the store refuses anything but one of its ids
    return saved.shared, not context.store.is_owner(saved)


def set_sharing(context: AppContext, chosen: object, shared: object) -> str | None:
    """Share the chosen cohort with every user or make it private; None when it already is (the switch only showed its state)."""
    shared = validation.choice(shared, (True, False), "shared")
    if chosen is None:
        return None
    saved = context.store.get(chosen)
    if saved.shared == shared:
        return None
    context.store.set_shared(saved.id, shared)
    context.store.record("share" if shared else "unshare", f"{saved.name} (id {saved.id})")
    return f"“{saved.name}” is now {'shared with every user' if shared else 'private: only you see it'}"


def layout(context: AppContext) -> html.Div:
    filterable = variable_options(context)
    return html.Div(
        [
            dbc.Card(
                [
                    dbc.CardHeader(html.Div([html.Strong("Current cohort"), dbc.Badge(id="current-count", color="primary", className="ms-2")])),
                    dbc.CardBody(
                        [
                            dcc.Dropdown(id="add-filter", options=filterable, placeholder="Add a filter on…", className="mb-2"),
                            html.Div(id="filter-blocks"),
                            dbc.InputGroup(
                                [dbc.Input(id="cohort-name", placeholder="Name the current cohort", maxLength=80, debounce=False),
                                 dbc.Button("Save", id="save-cohort", color="primary")],
                                size="sm",
                            ),
                            html.Div(id="save-feedback", className="small mt-1"),
                        ]
                    ),
                ],
                className="mb-3",
            ),
            dbc.Card(
                [
                    dbc.CardHeader(html.Strong("Saved cohorts")),
                    dbc.CardBody(
                        [
                            html.Div(id="saved-cohort-list", className="mb-2"),
                            dcc.Dropdown(id=SAVED_COHORTS, placeholder="Choose a saved cohort", className="mb-2"),
                            dbc.Switch(id="share-cohort", label="Shared with every user", value=False, disabled=True, className="small mb-1"),
                            dbc.ButtonGroup(
                                [dbc.Button("Highlight", id="apply-cohort", color="secondary", outline=True),
                                 dbc.Button("Export CSV", id="export-cohort", color="secondary", outline=True),
                                 dbc.Button("Delete", id="delete-cohort", color="danger", outline=True)],
                                size="sm", className="mb-2 w-100",
                            ),
                            dcc.ConfirmDialog(id="delete-confirm"),  # the browser asks before a saved cohort is deleted
                            dbc.InputGroup(
                                [dbc.Input(id="rename-to", placeholder="New name", maxLength=80),
                                 dbc.Button("Rename", id="rename-cohort", color="secondary", outline=True)],
                                size="sm", className="mb-2",
                            ),
                            html.Hr(className="my-2"),
                            html.Div("Combine saved cohorts", className="small fw-semibold mb-1"),
                            dcc.Dropdown(id="algebra-a", placeholder="Cohort A", className="mb-1"),
                            dcc.Dropdown(id="algebra-operation", options=[{"label": OPERATION_LABELS[o], "value": o} for o in OPERATIONS],
                                         value="intersection", clearable=False, className="mb-1"),
                            dcc.Dropdown(id="algebra-b", placeholder="Cohort B", className="mb-1"),
                            dbc.InputGroup(
                                [dbc.Input(id="algebra-name", placeholder="Name of the result", maxLength=80),
                                 dbc.Button("Save", id="save-algebra", color="primary")],
                                size="sm",
                            ),
                            html.Div(id="manage-feedback", className="small mt-1"),
                            dcc.Download(id="cohort-download"),
                        ]
                    ),
                ]
            ),
            dcc.Store(id="filter-variables", data=[]),
        ]
    )


def deletion_question(context: AppContext, chosen: object) -> str:
    """What to ask before deleting the chosen saved cohort, which is gone for good (and for everyone, if shared);
    refused at once (CohortStoreError) when there is nothing the user may delete."""
    if chosen is None:
        raise CohortStoreError("choose a saved cohort first")
    saved = context.store.require_owner(chosen)
    shared = " It is shared: every user loses it." if saved.shared and context.config.resolved_auth != "off" else ""
    return f"Delete the saved cohort “{saved.name}”?{shared} This cannot be undone."


def _feedback(text: str, ok: bool) -> html.Span:
    return html.Span(text, className="text-success" if ok else "text-danger", role="status")


def register(app: dash.Dash, context: AppContext) -> None:
    @app.callback(
        Output("filter-variables", "data"),
        Output("add-filter", "value"),
        Input("add-filter", "value"),
        Input({"type": "remove-filter", "variable": ALL}, "n_clicks"),
        State("filter-variables", "data"),
        prevent_initial_call=True,
    )
    def _edit_filter_list(added, _removed, variables):
        variables = list(variables or [])
        trigger = ctx.triggered_id
        if trigger == "add-filter":
            if added and added not in variables:
                variables.append(added)
            return variables, None
        if isinstance(trigger, dict) and ctx.triggered[0]["value"]:
            variables = [v for v in variables if v != trigger["variable"]]
            return variables, dash.no_update
        return dash.no_update, dash.no_update

    @app.callback(Output("filter-blocks", "children"), Input("filter-variables", "data"), State(FILTERS, "data"))
    def _render_filter_blocks(variables, filters):
        current = {spec.get("variable"): spec for spec in filters or [] if isinstance(spec, dict)}
        return [filter_block(context, variable, current.get(variable)) for variable in variables or []]

    @app.callback(
        Output({"type": "range-filter", "variable": MATCH}, "value"),
        Output({"type": "range-low", "variable": MATCH}, "value"),
        Output({"type": "range-high", "variable": MATCH}, "value"),
        Input({"type": "range-filter", "variable": MATCH}, "value"),
        Input({"type": "range-low", "variable": MATCH}, "value"),
        Input({"type": "range-high", "variable": MATCH}, "value"),
        prevent_initial_call=True,
    )
    def _sync_range(slider, low, high):
        return checked_range_sync(context, ctx.triggered_id, slider, low, high)

    @app.callback(
        Output(FILTERS, "data"),
        Input({"type": "range-filter", "variable": ALL}, "value"),
        Input({"type": "choice-filter", "variable": ALL}, "value"),
        State({"type": "range-filter", "variable": ALL}, "id"),
        State({"type": "choice-filter", "variable": ALL}, "id"),
        prevent_initial_call=True,  # views draw first; filters only patch what is already drawn
    )
    def _collect_filters(range_values, choice_values, range_ids, choice_ids):
        return filters_from_controls(range_ids, range_values, choice_ids, choice_values)

    @app.callback(
        Output({"type": "filter-histogram", "variable": ALL}, "figure"),
        Output("current-count", "children"),
        Input(FILTERS, "data"),
        Input(SELECTION, "data"),
        State({"type": "filter-histogram", "variable": ALL}, "id"),
    )
    def _update_histograms(filters, selection, histogram_ids):
        return filter_histograms(context, filters, selection, [i["variable"] for i in histogram_ids])

    @app.callback(
        Output("save-feedback", "children"),
        Output(COHORTS_VERSION, "data", allow_duplicate=True),
        Output("cohort-name", "value"),
        Input("save-cohort", "n_clicks"),
        Input("cohort-name", "n_submit"),
        State("cohort-name", "value"),
        State(FILTERS, "data"),
        State(SELECTION, "data"),
        State(COHORTS_VERSION, "data"),
        prevent_initial_call=True,
    )
    def _save_current(_clicks, _submit, name, filters, selection, version):
        definition = current_definition(context, filters, selection)
        if not context.definition_mask(definition).any():
            return _feedback("Not saved: the current cohort is empty. Widen the filters or the selection first.", False), dash.no_update, dash.no_update
        try:
            saved = context.store.save(name or "", definition)
        except (CohortStoreError, ValueError) as error:
            return _feedback(str(error), False), dash.no_update, dash.no_update
        size = int(context.definition_mask(saved.definition).sum())
        return _feedback(f"Saved “{saved.name}” ({size:,} subjects)", True), (version or 0) + 1, ""

    @app.callback(
        Output("saved-cohort-list", "children"),
        Output(SAVED_COHORTS, "options"),
        Output("algebra-a", "options"),
        Output("algebra-b", "options"),
        Input(COHORTS_VERSION, "data"),
    )
    def _list_saved(_version):
        rows = saved_cohort_rows(context)
        if not rows:
            listing = html.Div("No saved cohorts yet.", className="text-muted small")
        else:
            listing = dbc.ListGroup(
                [dbc.ListGroupItem(
                    [html.Div([html.Span(row["name"], className="fw-semibold me-auto"),
                               dbc.Badge(f"{row['size']:,} now" if row["size"] is not None else "?",
                                         color="warning" if row["size"] == 0 else "light", text_color="dark", className="ms-2")],
                              className="d-flex align-items-center"),
                     html.Div(row["definition"], className="text-muted saved-cohort-definition"),
                     html.Div(f"created {row['created']}" + ("" if row["mine"] else f" by {row['owner']}")
                              + (" · shared" if row["shared"] else " · private") + (" · empty now" if row["size"] == 0 else ""),
                              className="text-muted")],
                    className="py-1 small saved-cohort")
                 for row in rows],
                flush=True,
            )
        options = [{"label": row["name"], "value": row["id"]} for row in rows]
        return listing, options, options, options

    @app.callback(
        Output("delete-confirm", "displayed"),
        Output("delete-confirm", "message"),
        Output("manage-feedback", "children", allow_duplicate=True),
        Input("delete-cohort", "n_clicks"),
        State(SAVED_COHORTS, "value"),
        prevent_initial_call=True,
    )
    def _ask_before_deleting(_clicks, chosen):
        try:
            return True, deletion_question(context, chosen), ""
        except (CohortStoreError, ValueError) as error:
            return False, dash.no_update, _feedback(str(error), False)

    @app.callback(
        Output("manage-feedback", "children", allow_duplicate=True),
        Output(COHORTS_VERSION, "data", allow_duplicate=True),
        Output(SAVED_COHORTS, "value", allow_duplicate=True),
        Output(SELECTION, "data", allow_duplicate=True),
        Input("rename-cohort", "n_clicks"),
        Input("delete-confirm", "submit_n_clicks"),  # Delete, once the browser's question is answered OK
        Input("save-algebra", "n_clicks"),
        State(SAVED_COHORTS, "value"),
        State("rename-to", "value"),
        State("algebra-a", "value"),
        State("algebra-operation", "value"),
        State("algebra-b", "value"),
        State("algebra-name", "value"),
        State(COHORTS_VERSION, "data"),
        State(SELECTION, "data"),
        prevent_initial_call=True,
    )
    def _manage(_rename, _delete, _algebra, chosen, new_name, a, operation, b, algebra_name, version, selection):
        """Rename, delete or combine saved cohorts. A deleted cohort is no longer chosen (the sharing switch then has nothing
        to act on) nor highlighted: every panel drops it at once, rather than some showing it and others refusing it."""
        chosen_after, selection_after = dash.no_update, dash.no_update
        try:
            if ctx.triggered_id == "save-algebra":
                operands = (a,) if operation == "complement" else (a, b)
                if any(operand is None for operand in operands):
                    raise CohortStoreError("choose the cohorts to combine")
                combined = CohortDefinition(operation=operation, operands=tuple(operands))
                if not context.definition_mask(combined).any():
                    raise CohortStoreError("not saved: that combination has no subjects")
                saved = context.store.save(algebra_name or "", combined)
                message = f"Saved “{saved.name}” ({int(context.definition_mask(saved.definition).sum()):,} subjects)"
            elif chosen is None:
                raise CohortStoreError("choose a saved cohort first")
            elif ctx.triggered_id == "rename-cohort":
                message = f"Renamed to “{context.store.rename(chosen, new_name or '').name}”"
            else:
                name = context.store.get(chosen).name
                context.store.delete(chosen)
                message, chosen_after = f"Deleted “{name}”", None
                if isinstance(selection, dict) and selection.get("cohort") == chosen:
                    message, selection_after = f"{message}; it was highlighted, and no longer is", None
        except (CohortStoreError, ValueError) as error:
            return _feedback(str(error), False), dash.no_update, dash.no_update, dash.no_update
        return _feedback(message, True), (version or 0) + 1, chosen_after, selection_after

    @app.callback(Output("share-cohort", "value"), Output("share-cohort", "disabled"), Input(SAVED_COHORTS, "value"), Input(COHORTS_VERSION, "data"),
                  prevent_initial_call=True)  # laid out off and disabled, as for no cohort chosen
    def _show_sharing(chosen, _version):
        try:
            return sharing_state(context, chosen)
        except CohortStoreError:
            return False, True

    @app.callback(
        Output("manage-feedback", "children", allow_duplicate=True),
        Output(COHORTS_VERSION, "data", allow_duplicate=True),
        Input("share-cohort", "value"),
        State(SAVED_COHORTS, "value"),
        State(COHORTS_VERSION, "data"),
        prevent_initial_call=True,
    )
    def _share(shared, chosen, version):
        try:
            message = set_sharing(context, chosen, shared)
        except CohortStoreError as error:
            return _feedback(str(error), False), dash.no_update
        return (dash.no_update, dash.no_update) if message is None else (_feedback(message, True), (version or 0) + 1)

    @app.callback(
        Output(SELECTION, "data", allow_duplicate=True),
        Output("filter-variables", "data", allow_duplicate=True),
        Output("manage-feedback", "children", allow_duplicate=True),
        Input("apply-cohort", "n_clicks"),
        State(SAVED_COHORTS, "value"),
        prevent_initial_call=True,
    )
    def _highlight_saved(_clicks, chosen):
        if chosen is None:
            return dash.no_update, dash.no_update, _feedback("choose a saved cohort first", False)
        return {"cohort": chosen, "source": "saved"}, [], ""  # an earlier action's message no longer applies

    @app.callback(
        Output("cohort-download", "data"),
        Output("manage-feedback", "children", allow_duplicate=True),
        Input("export-cohort", "n_clicks"),
        State(SAVED_COHORTS, "value"),
        prevent_initial_call=True,
    )
    def _export(_clicks, chosen):
        if chosen is None:
            return dash.no_update, _feedback("choose a saved cohort first", False)
        saved = context.store.get(chosen)
        table = context.cohort.phenotypes.loc[context.saved_cohort_mask(chosen), list(context.variables)]
        filename = file_name_part(saved.name, limit=80) + ".csv"
        context.store.record("export", f"saved cohort {saved.id} {saved.name!r}: {len(table):,} subjects x {table.shape[1]} variables")
        return dcc.send_data_frame(safe_csv_frame(table).to_csv, filename), _feedback(f"Exported {len(table):,} subjects", True)
