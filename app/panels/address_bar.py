"""The view in the address bar: a reload, a link sent to a colleague, or back/forward opens the same view.

One callback keeps the URL's query string and the page's controls in step, both ways (Dash's pattern
for controls that drive each other: one callback, so the graph has no cycle). When the address
changes (the page loads, or back/forward), the view is restored from it: only the controls that
differ are set (with ``set_props``, so that no other callback waits on this one), and nothing is written back. When a control changes, the view is written to the
address as a new history entry, but only if it differs from what the address already says, so a
restore never pushes an entry of its own. A part of a link that is not valid here is refused with a
message in the page (the refusal banner) and the rest still applies.

A drawn selection goes into the link as its shape (a few hundred characters), a saved cohort as its
number and a few subjects picked in Compare spaces as their rows; a larger pick stays out of the
link and the page says so (save it as a cohort to share it). The codec is ``app.core.url_state``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import zip_longest
from typing import Any

import dash
from dash import Input, Output, State, dcc, html, set_props

from app import validation
from app.cohort_store import CohortStoreError
from app.context import AppContext
from app.core.clusters import MAX_CLUSTERS, NOISE
from app.core.filters import open_at_limits, slider_limits
from app.core.projections import METHODS
from app.core.selection_shapes import parse_shape
from app.core.url_state import MAX_QUERY_LENGTH, ViewState, Vocabulary, from_query, to_query
from app.state import (
    FILTERS,
    FOUND_SUBJECT,
    SELECTION,
    VIEW_KEYS,
    SelectionError,
    clustering_spec,
    known_view,
    overlap_selection_spec,
    selection_mask,
    subject_row,
    triggered,
)
from app.validation import REFUSAL_ALERT_ID

LOCATION = "page-location"
OPENED_LINK = "link-opened"  # the address the page last restored a view from (see record)
LINK_NOTE = "link-note"
MAX_LINK_ROWS = 50            # subjects picked one by one that a link may list; more belong in a saved cohort
SHAPE_DIGITS = 7              # significant digits of a shape's corners: the float32 precision the server resolves it at
TABS = "main-tabs"
VIEW_CONTROLS = (("view-0-space", "view-0-method"), ("view-1-space", "view-1-method"))  # the explorer's latent views, in order (as in app/panels/explorer/settings.py)
CLINICAL_CONTROLS = ("clinical-x", "clinical-y")  # the explorer's clinical view's variables
COLOUR = "colour-by"
FILTER_VARIABLES = "filter-variables"  # the sidebar's filter blocks, one per variable
COLOURABLE = ("continuous", "binary", "categorical")
KEEP = dash.no_update


def layout() -> list:
    """The address bar's component and the note shown when part of the view cannot go into a link."""
    return [dcc.Location(id=LOCATION, refresh=False), html.Div(id=LINK_NOTE, className="small text-muted mb-1", role="status"),
            dcc.Store(id=OPENED_LINK)]


@dataclass(frozen=True)
class LinkSetup:
    """What links mean in this app and cohort: the values they may name, and the page's defaults for parts they leave out."""

    vocabulary: Vocabulary
    defaults: ViewState
    limits: dict[str, tuple[float, float]]  # each continuous variable's slider range (see app.core.filters.open_at_limits)


def link_setup(context: AppContext, layout: Any) -> LinkSetup:
    """Read the tabs and default controls from the page layout (``app.layout``), so the two never disagree."""
    variables = {name: spec for name, spec in context.variables.items() if spec.type in COLOURABLE}
    colours = tuple(option["value"] for option in layout[COLOUR].options)  # the dropdown's own choices
    axes = tuple(option["value"] for option in layout[CLINICAL_CONTROLS[0]].options)
    vocabulary = Vocabulary(tabs=tuple(tab.tab_id for tab in layout[TABS].children), spaces=tuple(context.cohort.spaces),
                            projections=tuple(METHODS), variables=variables, latent_views=len(VIEW_CONTROLS), colours=colours, axes=axes)
    views = tuple((layout[space].value, layout[method].value) for space, method in VIEW_CONTROLS)
    clinical = tuple(layout[control].value for control in CLINICAL_CONTROLS)
    defaults = ViewState(tab=layout[TABS].active_tab, views=tuple(view if view[0] else None for view in views), colour=layout[COLOUR].value or "",
                         clinical=clinical if all(clinical) else None)
    limits = {name: slider_limits(context.cohort.phenotypes[name]) for name, spec in variables.items() if spec.type == "continuous"}
    return LinkSetup(vocabulary, defaults, limits)


@dataclass(frozen=True)
class Page:
    """The page's controls that a link holds, as the browser posted them."""

    tab: object = None
    views: tuple = ()  # (space, projection) per latent view
    colour: object = None
    filters: object = None
    selection: object = None
    subject: object = None
    clinical: tuple = (None, None)  # the clinical view's x and y


def _rounded(values: object) -> object:
    if isinstance(values, list):
        return [_rounded(value) for value in values]
    if isinstance(values, float) and math.isfinite(values):
        return float(f"{values:.{SHAPE_DIGITS}g}")
    return values


def link_selection(selection: object) -> tuple[dict | None, int | None, str]:
    """(selection as a link holds it, saved cohort id, note): a shape with rounded corners, a cohort's number or a few rows.

    The note says why a selection was left out of the link (too many subjects picked one by one).
    """
    if not isinstance(selection, dict):
        return None, None, ""
    if "cohort" in selection:
        return None, selection["cohort"], ""
    if "cluster" in selection:  # a cluster of a clustering: a few words, whatever its size
        return {"cluster": selection["cluster"]}, None, ""
    if "overlap" in selection:  # a range of neighbourhood overlap: a few words too
        return {"overlap": selection["overlap"]}, None, ""
    if "shape" in selection:
        view, shape = selection.get("view"), selection.get("shape")
        view = {key: view[key] for key in VIEW_KEYS if key in view} if isinstance(view, dict) else view
        shape = {key: _rounded(value) for key, value in shape.items()} if isinstance(shape, dict) else shape
        return {"view": view, "shape": shape}, None, ""
    rows = selection.get("rows")
    if isinstance(rows, list):
        if len(rows) > MAX_LINK_ROWS:
            return None, None, (f"The link does not hold the selection ({len(rows):,} subjects picked one by one): "
                                "save it as a cohort to share it.")
        return {"rows": rows}, None, ""
    if set(selection) - {"source", "at"}:  # a kind of selection a link does not carry
        return None, None, "The link does not hold this selection: save it as a cohort to share it."
    return None, None, ""


def page_state(context: AppContext, setup: LinkSetup, page: Page) -> tuple[ViewState, str]:
    """The view the page shows, as a link holds it, and a note on what a link cannot hold."""
    vocabulary = setup.vocabulary
    tab = validation.choice(page.tab, vocabulary.tabs, "tab")
    views = tuple(
        (validation.choice(space, vocabulary.spaces, "space"), validation.choice(method, vocabulary.projections, "projection"))
        if space is not None else None
        for space, method in page.views
    )
    colour = validation.optional(validation.choice, page.colour, vocabulary.colours, "colour")
    clinical = tuple(validation.choice(name, vocabulary.axes, f"clinical view {axis}") for axis, name in zip("xy", page.clinical)) \
        if any(name is not None for name in page.clinical) else setup.defaults.clinical
    filters = open_at_limits(validation.filter_specs(page.filters, context.variables), setup.limits)
    selection, cohort, note = link_selection(page.selection)
    if cohort is not None:
        validation.integer(cohort, "saved cohort", 1, 2**63 - 1)
    if selection is not None and "rows" in selection:
        validation.rows(selection["rows"], context.n_subjects, "selected subjects", MAX_LINK_ROWS)
    if selection is not None and "shape" in selection:
        try:
            parse_shape(selection["shape"])
        except ValueError as error:
            raise validation.InputRefused(str(error)) from None
    if selection is not None and "cluster" in selection:
        cluster = selection["cluster"]
        clustering_spec(context, cluster)
        validation.integer(cluster.get("label"), "cluster", NOISE, MAX_CLUSTERS - 1)
    if selection is not None and "overlap" in selection:
        overlap_selection_spec(context, selection["overlap"])
    row = subject_row(context, page.subject)
    subject = None if row is None else str(context.cohort.subject_ids[row])
    return ViewState(tab=tab, views=views, colour=colour or "", filters=tuple(filters), cohort=cohort, selection=selection, subject=subject,
                     clinical=clinical), note


def _checked_selection(context: AppContext, selection: dict) -> tuple[dict | None, str]:
    """A link's selection, or None and why it was left out; one whose projection is not computed yet is kept."""
    if "shape" in selection:
        candidate = {"view": selection.get("view"), "shape": selection.get("shape")}
    elif "rows" in selection:
        candidate = {"rows": selection.get("rows")}
    elif "cluster" in selection:
        candidate = {"cluster": selection.get("cluster")}
    elif "overlap" in selection:
        candidate = {"overlap": selection.get("overlap")}
    else:
        return None, "the selection in the link is neither a drawn shape, a cluster, a range of overlap nor a list of subjects, so it was left out"
    try:
        selection_mask(context, candidate)
    except SelectionError:
        if "cluster" in candidate:
            return None, "the cluster in the link is not computed here yet (find the clusters in the Clusters tab), so it was left out"
        if "overlap" in candidate:
            return None, "the neighbours behind the overlap range in the link are not computed here yet (open Compare spaces), so it was left out"
        if not known_view(context, candidate.get("view")):
            return None, "the selection in the link was drawn on a view this app does not have, so it was left out"
    except validation.InputRefused as error:
        return None, f"the selection in the link was left out: {error}"
    if len(candidate.get("rows") or ()) > MAX_LINK_ROWS:
        return None, f"the selection in the link lists more than {MAX_LINK_ROWS} subjects, so it was left out"
    return link_selection(candidate)[0], ""


def linked_state(context: AppContext, setup: LinkSetup, search: object) -> tuple[ViewState, list[str]]:
    """The view a link describes (parts it leaves out are the page's defaults) and a message for each part refused."""
    state, problems = from_query(search if isinstance(search, str) else "", setup.vocabulary)
    filters, filtered = [], set()
    for spec in state.filters:
        if spec["variable"] in filtered:
            problems.append(f"the link filters {spec['variable']} twice; the first was kept")
        else:
            filtered.add(spec["variable"])
            filters.append(spec)
    cohort, selection = state.cohort, None
    if cohort is not None:
        try:
            context.store.get(cohort)
        except CohortStoreError:
            problems.append(f"saved cohort {cohort} is not among this app's saved cohorts (it may have been deleted), so nothing was highlighted")
            cohort = None
    if state.selection is not None:
        selection, problem = _checked_selection(context, state.selection)
        problems += [problem] if problem else []
        if cohort is not None and selection is not None:
            problems.append("the link holds a saved cohort and a drawn selection; the saved cohort was highlighted")
            selection = None
    try:
        row = subject_row(context, state.subject)
    except validation.InputRefused as error:
        problems.append(str(error))
        row = None
    defaults = setup.defaults
    views = tuple(linked or default for linked, default in zip_longest(state.views, defaults.views))
    return ViewState(
        tab=state.tab or defaults.tab, views=views, colour=defaults.colour if state.colour is None else state.colour,
        clinical=state.clinical or defaults.clinical,
        filters=tuple(open_at_limits(filters, setup.limits)), cohort=cohort, selection=selection,
        subject=None if row is None else str(context.cohort.subject_ids[row]),
    ), problems


@dataclass(frozen=True)
class AddressUpdate:
    """What the address-bar callback sets: the address, or the controls a link restores (KEEP: left as they are)."""

    search: object = KEEP
    tab: object = KEEP
    view_controls: tuple = field(default=(KEEP,) * 2 * len(VIEW_CONTROLS))  # space, projection of each latent view
    clinical: tuple = (KEEP, KEEP)  # the clinical view's x and y
    colour: object = KEEP
    filters: object = KEEP
    filter_variables: object = KEEP
    selection: object = KEEP
    subject: object = KEEP
    subject_options: object = KEEP
    note: object = KEEP
    problems: tuple[str, ...] = ()

    def outputs(self) -> tuple:
        return (self.search, self.tab, *self.view_controls, *self.clinical, self.colour, self.filters, self.filter_variables, self.selection,
                self.subject, self.subject_options, self.note)


def _same(first: ViewState, second: ViewState, part: str) -> bool:
    """Whether two views agree on one part, compared as a link writes it (so 65 and 65.0000000001 are one limit)."""
    return to_query(ViewState(**{part: getattr(first, part)})) == to_query(ViewState(**{part: getattr(second, part)}))


def restore(context: AppContext, setup: LinkSetup, search: object, page: Page) -> AddressUpdate:
    """The controls to set so the page shows the view in ``search``: only those that differ."""
    wanted, problems = linked_state(context, setup, search)
    shown, _note = page_state(context, setup, page)
    changes: dict[str, Any] = {"problems": tuple(problems)}
    if wanted.tab != shown.tab:
        changes["tab"] = wanted.tab
    controls = []
    for linked, current in zip(wanted.views, page.views):
        space, method = linked or (None, None)
        controls += [space if linked and space != current[0] else KEEP, method if linked and method != current[1] else KEEP]
    changes["view_controls"] = tuple(controls)
    if wanted.clinical and wanted.clinical != shown.clinical:
        changes["clinical"] = tuple(linked if linked != current else KEEP for linked, current in zip(wanted.clinical, page.clinical))
    if wanted.colour != shown.colour:
        changes["colour"] = wanted.colour or None
    if not _same(wanted, shown, "filters"):
        changes["filters"] = list(wanted.filters)
        changes["filter_variables"] = [spec["variable"] for spec in wanted.filters]
    if not (_same(wanted, shown, "selection") and wanted.cohort == shown.cohort):
        if wanted.cohort is not None:
            changes["selection"] = {"cohort": wanted.cohort, "source": "saved"}
        else:
            changes["selection"] = None if wanted.selection is None else {**wanted.selection, "source": "link"}
    if wanted.subject != shown.subject:
        changes["subject"] = wanted.subject
        changes["subject_options"] = [{"label": wanted.subject, "value": wanted.subject}] if wanted.subject else []
    return AddressUpdate(**changes)


def record(context: AppContext, setup: LinkSetup, search: object, page: Page, opened: object = None) -> AddressUpdate:
    """The address to push for the view the page shows now, unless the address already says so.

    A link's refused parts stay in the address while the page shows the view that link opened (``opened``: the address it
    was opened at), so the user sees what was refused; an address the page wrote itself is rewritten once parts of it no
    longer apply (a highlighted saved cohort deleted since), though the view it resolves to is the one shown.
    """
    shown, note = page_state(context, setup, page)
    if len(to_query(shown)) > MAX_QUERY_LENGTH:  # a long lasso: a link that long would be refused when opened
        shown = replace(shown, selection=None)
        note = "The link does not hold the selection (its outline is too detailed for a link): save it as a cohort to share it."
    linked, problems = linked_state(context, setup, search)
    current = to_query(shown) == to_query(linked) and (not problems or search == opened)
    return AddressUpdate(search=KEEP if current else to_query(shown), note=note)


def refused_parts_message(problems: tuple[str, ...]) -> str:
    return f"Parts of this link were not applied: {'; '.join(problems)}. The rest of the view is shown."


def register(app: dash.Dash, context: AppContext) -> LinkSetup:
    """Keep the address and the page in step; returns what it read from the layout (the page's defaults among it)."""
    setup = link_setup(context, app.layout)
    view_ids = [control for pair in VIEW_CONTROLS for control in pair] + list(CLINICAL_CONTROLS)

    # What a restore sets, in AddressUpdate.outputs' order between the address and the note. Set with set_props, not
    # declared as outputs: Dash holds back every callback whose inputs a pending callback outputs, so declaring them
    # made each view wait for this callback's round trip (0.2 s of a repaint at 100,000 subjects) on every change.
    restored = [(TABS, "active_tab"), *[(control, "value") for control in view_ids], (COLOUR, "value"), (FILTERS, "data"),
                (FILTER_VARIABLES, "data"), (SELECTION, "data"), (FOUND_SUBJECT, "value"), (FOUND_SUBJECT, "options")]

    @app.callback(
        Output(LOCATION, "search"),
        Output(LINK_NOTE, "children"),
        Input(LOCATION, "search"),
        Input(TABS, "active_tab"),
        *[Input(control, "value") for control in view_ids],
        Input(COLOUR, "value"),
        Input(FILTERS, "data"),
        Input(SELECTION, "data"),
        Input(FOUND_SUBJECT, "value"),
        State(OPENED_LINK, "data"),
        prevent_initial_call=True,  # the Location reports the address once it is on the page, which restores the view
    )
    def _sync_address(search, tab, *values):
        controls, (colour, filters, selection, subject, opened) = values[: len(view_ids)], values[len(view_ids):]
        latent, clinical = controls[: -len(CLINICAL_CONTROLS)], tuple(controls[-len(CLINICAL_CONTROLS):])
        page = Page(tab, tuple(zip(latent[::2], latent[1::2])), colour, filters, selection, subject, clinical)
        if LOCATION in triggered():
            update = restore(context, setup, search, page)
            set_props(OPENED_LINK, {"data": search})
            if update.problems:
                set_props(REFUSAL_ALERT_ID, {"children": refused_parts_message(update.problems), "is_open": True})
        else:
            update = record(context, setup, search, page, opened)
        address, *controls, note = update.outputs()
        props: dict[str, dict] = {}
        for (component, prop), value in zip(restored, controls, strict=True):
            if value is not KEEP:
                props.setdefault(component, {})[prop] = value
        for component, values in props.items():
            set_props(component, values)
        return address, note

    return setup
