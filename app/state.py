"""State every panel shares: the page-wide stores, cohort choices, space labels and small callback helpers.

The stores are declared once, by ``stores()`` in the page layout; panels read and write them through the
id constants below, never by importing another panel. A cohort choice (a dropdown value) means the same in
every panel and is turned into a mask by ``resolve_choice`` alone.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence

import dash
import numpy as np
import pandas as pd
from dash import Input, Output, ctx, dcc

from app import validation
from app.cohort_store import CohortStoreError
from app.comparisons import in_overlap_range, load_comparison, transition_frame_count, transition_layout
from app.context import AppContext
from app.core.clusters import CLUSTER_METHODS, MAX_CLUSTERS, NOISE, ClusterSpec, cluster_variable, offered_methods
from app.core.cohort_algebra import CohortDefinition, defining_variables
from app.core.neighbours import MAX_K, METRICS
from app.core.projections import METHODS, ProjectionSpec
from app.core.selection_shapes import parse_shape, shape_mask
from data_loaders.manifest import VariableSpec

# Page-wide stores: component ids (their values are what the browser posts, so they stay stable).
SELECTION = "selection"              # a drawn shape {"source", "view", "shape"}, {"cohort": id}, {"rows": [...]}, {"cluster": {...}}, {"overlap": {...}} or None
FILTERS = "filters"                  # [filter dict, ...] of the current cohort
COHORTS_VERSION = "cohorts-version"  # bumped whenever saved cohorts change
SAVED_COHORTS = "manage-cohort"      # the sidebar's saved-cohort dropdown; its options list every saved cohort
CLUSTERS = "clusters"                # the clustering in force, once computed: {"space", "method", "n_clusters", "min_cluster_size"} or None
CLUSTER_COLOUR = "@clusters"         # the colour-by value that colours every view by the clustering in force (never a variable's name)
FOUND_SUBJECT = "subject-search"     # the navbar's search box; its value is the subject found by id, marked in every view
DECODE_SUBJECT = "decode-subject"    # {"subject": id, "at": clicks}: "Open in Decode" asks the decoder to show that subject

# Cohort choices: the values a group dropdown may hold besides a saved cohort's id.
CURRENT = "current"   # the current cohort: filters and selection together
REST = "rest"         # everyone not in the other group
EVERYONE = "all"      # every subject

CURRENT_OPTION = {"label": "Current cohort (filters + selection)", "value": CURRENT}
EVERYONE_OPTION = {"label": "Everyone", "value": EVERYONE}
REST_OPTION = {"label": "Everyone else (not A)", "value": REST}

# Known spaces first, in this order (the model's, then the raw-signal baseline); any other space after them.
SPACE_LABELS = {"joint": "Joint (ECG + MRI)", "ecg": "ECG only", "mri": "MRI only", "raw": "Raw signals (PCA baseline)"}


def stores() -> list[dcc.Store]:
    """The shared stores, placed once in the page layout."""
    return [dcc.Store(id=SELECTION), dcc.Store(id=FILTERS, data=[]), dcc.Store(id=COHORTS_VERSION, data=0), dcc.Store(id=CLUSTERS),
            dcc.Store(id=DECODE_SUBJECT)]


def space_label(name: str) -> str:
    return SPACE_LABELS.get(name, name)


def ordered_spaces(context: AppContext) -> list[str]:
    """The cohort's spaces, known ones first in SPACE_LABELS' order: every space dropdown lists them alike."""
    known = list(SPACE_LABELS)
    return sorted(context.cohort.spaces, key=lambda name: known.index(name) if name in known else len(known))


def variable_options(context: AppContext, types: tuple[str, ...] = ("continuous", "binary", "categorical"), short: bool = False) -> list[dict]:
    """Dropdown options for the variables of ``types``, labelled "Group · Label (unit)".

    ``short``: labelled "Label (unit)" for a narrow dropdown ("Clinical · Age (…" was all the clinical view's
    showed), the group kept where two variables share a label; the full label is still searched and shown on hover.
    """
    specs = {name: spec for name, spec in context.variables.items() if spec.type in types}
    full = {name: f"{spec.group} · {spec.display_label}" if spec.group else spec.display_label for name, spec in specs.items()}
    if not short:
        return [{"label": label, "value": name} for name, label in full.items()]
    shared = {label for label, count in Counter(spec.display_label for spec in specs.values()).items() if count > 1}
    return [{"label": full[name] if spec.display_label in shared else spec.display_label, "value": name, "search": full[name], "title": full[name]}
            for name, spec in specs.items()]


def register_saved_cohort_options(app: dash.Dash, *dropdowns: tuple[str, Sequence[dict]]) -> None:
    """Keep group dropdowns' options as (id, ``leading`` choices): those choices, then every saved cohort as "Saved: name".

    Made in the browser from the sidebar's list of saved cohorts (SAVED_COHORTS' options): a round
    trip per panel each time the list changes (every page load, every save) bought nothing.
    """
    leading = json.dumps([list(choices) for _, choices in dropdowns])
    pick = "" if len(dropdowns) > 1 else "[0]"
    app.clientside_callback(
        f"""function (saved) {{
            const cohorts = (saved || []).map((option) => ({{ label: "Saved: " + option.label, value: option.value }}));
            return {leading}.map((choices) => choices.concat(cohorts)){pick};
        }}""",
        *[Output(dropdown, "options") for dropdown, _ in dropdowns],
        Input(SAVED_COHORTS, "options"),
    )


class SelectionError(validation.InputRefused):
    """A well-formed selection that no longer resolves (its view or saved cohort is gone, or not computed yet).

    Malformed selections (negative rows, a bool for an id, a shape without numbers) are refused outright
    with :class:`app.validation.InputRefused`; a stale one is ignored and the summary says why.
    """


VIEW_KEYS = ("kind", "space", "method", "x", "y", "a", "b", "frame")  # what names a view a shape was drawn on (see known_view)


def transition_view(space_a: str, space_b: str, method: str, frame: int) -> dict:
    """Frame ``frame`` of Compare spaces' A → B map, named as a selection names the view it was drawn on (frame 0 is A's own layout)."""
    if frame == 0:
        return {"kind": "latent", "space": space_a, "method": method}
    return {"kind": "transition", "a": space_a, "b": space_b, "method": method, "frame": frame}


def selection_variables(context: AppContext, selection: object) -> set[str]:
    """The variables a selection picks subjects by: a highlighted saved cohort's (its filters', through its operands), or the two
    axes of a shape drawn in the clinical view; none for a shape in a latent view or subjects picked one by one."""
    if isinstance(selection, dict) and "cohort" in selection:
        return defining_variables(context.store.get(selection["cohort"]).definition, lambda operand: context.store.get(operand).definition)
    if isinstance(selection, dict) and "shape" in selection:
        view = selection.get("view")
        if known_view(context, view) and view["kind"] == "clinical":
            return {view["x"], view["y"]}
    return set()


def known_view(context: AppContext, view: object) -> bool:
    """Whether ``view`` names a view this app draws: a space's projection, two variables, or a frame of a space comparison's map."""
    if not isinstance(view, dict):
        return False

    def named(key: str, names: object) -> bool:  # a string among names: a list or a dict sent in its place is no name (nor hashable)
        return isinstance(view.get(key), str) and view[key] in names

    spaces = context.cohort.spaces
    if view.get("kind") == "latent":
        return named("space", spaces) and named("method", METHODS)
    if view.get("kind") == "clinical":
        return named("x", context.variables) and named("y", context.variables)
    frame = view.get("frame")
    return (view.get("kind") == "transition" and named("a", spaces) and named("b", spaces) and view["a"] != view["b"] and named("method", METHODS)
            and type(frame) is int and 0 < frame < transition_frame_count(context.n_subjects))


def view_coordinates(context: AppContext, view: object) -> np.ndarray:
    """The coordinates of the view a shape was drawn on, as the server holds them."""
    if not isinstance(view, dict):
        raise SelectionError("the selection does not say which view it was drawn on")
    if not known_view(context, view):
        raise SelectionError(f"the selection was drawn on an unknown view {view!r:.200}")
    if view["kind"] == "clinical":
        phenotypes = context.cohort.phenotypes
        return np.column_stack([phenotypes[view["x"]].to_numpy(dtype=np.float32, na_value=np.nan),
                                phenotypes[view["y"]].to_numpy(dtype=np.float32, na_value=np.nan)])
    if view["kind"] == "latent":
        coordinates = context.cached_projection(view["space"], ProjectionSpec(method=view["method"]))
        computed = f"the {METHODS[view['method']]} of {space_label(view['space'])}"
    else:
        coordinates = transition_layout(context, view["a"], view["b"], view["method"], view["frame"])
        computed = f"the {METHODS[view['method']]} layouts of {space_label(view['a'])} and {space_label(view['b'])}"
    if coordinates is None:
        raise SelectionError(f"{computed} {'is' if view['kind'] == 'latent' else 'are'} not computed yet")
    return coordinates


def clustering_spec(context: AppContext, value: object) -> tuple[str, ClusterSpec]:
    """A clustering named by the browser ({"space", "method", "n_clusters", "min_cluster_size"}), checked field by field."""
    if not isinstance(value, dict):
        raise validation.InputRefused(f"clustering: expected an object naming a space and a method, got {value!r:.60}")
    space = validation.choice(value.get("space"), list(context.cohort.spaces), "clustering space")
    method = validation.choice(value.get("method"), list(offered_methods(context.n_subjects)), "clustering method")
    n_clusters = validation.integer(value.get("n_clusters", 4), "number of clusters", 2, MAX_CLUSTERS)
    min_size = validation.integer(value.get("min_cluster_size", 50), "smallest cluster", 2, max(2, context.n_subjects))
    return space, ClusterSpec(method=method, n_clusters=n_clusters, min_cluster_size=min_size)


def clustering_value(space: str, spec: ClusterSpec) -> dict:
    """What the CLUSTERS store (and a cluster selection) holds for a clustering: the inverse of :func:`clustering_spec`."""
    return {"space": space, "method": spec.method, "n_clusters": spec.n_clusters, "min_cluster_size": spec.min_cluster_size}


def cluster_column(context: AppContext, clusters: object) -> tuple[pd.Series, VariableSpec] | None:
    """The clustering in force as a categorical column named by cluster descriptions, for colouring; None if none is computed."""
    if not clusters:
        return None
    space, spec = clustering_spec(context, clusters)
    labels = context.cached_clusters(space, spec)
    if labels is None:
        return None
    return cluster_variable(labels, context.cluster_descriptions(space, spec), space_label(space))


def cluster_selection_mask(context: AppContext, value: object) -> np.ndarray:
    """The members of one cluster ({"space", "method", …, "label"}); its clustering must be computed already."""
    space, spec = clustering_spec(context, value)
    label = validation.integer(value.get("label"), "cluster", NOISE, MAX_CLUSTERS - 1)
    labels = context.cached_clusters(space, spec)
    if labels is None:
        raise SelectionError(f"the clusters of {space_label(space)} ({CLUSTER_METHODS[spec.method]}) are not computed yet")
    return labels == label


def overlap_selection_spec(context: AppContext, value: object) -> tuple[str, str, int, str, tuple[float, float]]:
    """A range of neighbourhood overlap between two spaces, as the browser names it ({"a", "b", "k", "metric", "range"}), checked field by field."""
    if not isinstance(value, dict):
        raise validation.InputRefused(f"overlap range: expected an object naming two spaces, k, a distance and a range, got {value!r:.60}")
    space_a = validation.choice(value.get("a"), list(context.cohort.spaces), "space A")
    space_b = validation.choice(value.get("b"), [space for space in context.cohort.spaces if space != space_a], "space B (not A)")
    k = validation.integer(value.get("k"), "neighbours k", 1, max(1, min(MAX_K, context.n_subjects - 1)))
    metric = validation.choice(value.get("metric"), list(METRICS), "distance")
    ends = value.get("range")
    if not isinstance(ends, list) or len(ends) != 2:
        raise validation.InputRefused(f"overlap range: expected two numbers from 0 to 1, got {ends!r:.60}")
    low, high = sorted(validation.number(end, "overlap range", 0.0, 1.0) for end in ends)
    return space_a, space_b, k, metric, (low, high)


def overlap_selection_mask(context: AppContext, value: object) -> np.ndarray:
    """The subjects whose neighbourhood overlap lies in a range, resolved on the cached neighbour lists (never computed here)."""
    space_a, space_b, k, metric, (low, high) = overlap_selection_spec(context, value)
    comparison = load_comparison(context, space_a, space_b, k, metric)
    if comparison is None:
        raise SelectionError(f"the {k} nearest neighbours in {space_label(space_a)} and {space_label(space_b)} are not computed yet")
    return in_overlap_range(comparison.overlap, (low, high))


def selection_mask(context: AppContext, selection: dict | None) -> np.ndarray | None:
    """Who the selection holds, or None when there is none.

    A selection is a shape drawn on a view (resolved on the coordinates the server holds), a saved
    cohort, one cluster of a computed clustering (resolved on its cached labels, so a cluster of
    any size travels as a few bytes), a range of neighbourhood overlap brushed in Compare spaces
    (resolved on the cached neighbour lists, as few bytes) or a short list of rows (a subject
    clicked in Compare spaces); anything else is refused.
    """
    if not selection:
        return None
    if not isinstance(selection, dict):
        raise validation.InputRefused("selection: expected an object (a drawn shape, a saved cohort or rows)")
    if "shape" in selection:
        try:
            shape = parse_shape(selection["shape"])
        except ValueError as error:
            raise validation.InputRefused(str(error)) from None
        return shape_mask(view_coordinates(context, selection.get("view")), shape)
    if "cohort" in selection:
        cohort_id = validation.integer(selection["cohort"], "saved cohort", 1, 2**63 - 1)
        try:
            return context.saved_cohort_mask(cohort_id)
        except CohortStoreError as error:
            raise SelectionError(f"the saved cohort {selection['cohort']!r} cannot be highlighted: {error}") from None
    if "cluster" in selection:
        return cluster_selection_mask(context, selection["cluster"])
    if "overlap" in selection:
        return overlap_selection_mask(context, selection["overlap"])
    if "rows" in selection:
        rows = validation.rows(selection["rows"], context.n_subjects, "selected subjects")
        mask = np.zeros(context.n_subjects, dtype=bool)
        mask[np.asarray(rows, dtype=np.int64)] = True
        return mask
    return None


def selection_in_words(context: AppContext, selection: dict | None, selected: np.ndarray | None) -> str:
    """What a selection holds, for people (the page's summary, an exported Table 1); "" for none.

    ``selected``: its members, as :func:`selection_mask` resolved them for the caller (None: no selection, or one that does
    not resolve). Only names the app offered are used (a saved cohort by its name, a view by its labels), so nothing sent
    by a browser is echoed.
    """
    if selected is None:
        return ""
    if "cohort" in selection:
        return f"saved cohort “{context.store.get(selection['cohort']).label}”"
    if "shape" in selection:
        view, kind = selection["view"], "lasso" if selection["shape"].get("kind") == "lasso" else "box"
        if view["kind"] == "clinical":
            return f"a {kind} in the clinical view ({context.variables[view['x']].label} × {context.variables[view['y']].label})"
        if view["kind"] == "latent":
            return f"a {kind} in {space_label(view['space'])} · {METHODS[view['method']]}"
        return f"a {kind} in the {space_label(view['a'])} → {space_label(view['b'])} map"
    if "cluster" in selection:
        space, spec = clustering_spec(context, selection["cluster"])
        return f"cluster {selection['cluster']['label']} of {space_label(space)} ({CLUSTER_METHODS[spec.method]})"
    if "overlap" in selection:
        space_a, space_b, k, _metric, (low, high) = overlap_selection_spec(context, selection["overlap"])
        return f"neighbourhood overlap {low:.2f}–{high:.2f} between {space_label(space_a)} and {space_label(space_b)} (k = {k})"
    count = int(selected.sum())
    return f"{count:,} subject{'s' if count != 1 else ''} picked one by one"


def highlight_mask(context: AppContext, filters: list[dict] | None, selection: dict | None) -> np.ndarray | None:
    """Mask of the current cohort (filters ∧ selection), or None when neither narrows it.

    A selection that cannot be resolved narrows nothing (the summary says why); a malformed one is refused.
    """
    try:
        selected = selection_mask(context, selection)
    except SelectionError:
        selected = None
    return narrowed_mask(context, filters, selected)


def narrowed_mask(context: AppContext, filters: list[dict] | None, selected: np.ndarray | None) -> np.ndarray | None:
    """Filters ∧ a selection already resolved (``selected``; None: none), or None when neither narrows the cohort."""
    filters = validation.filter_specs(filters, context.variables)
    if not filters and selected is None:
        return None
    mask = context.definition_mask(CohortDefinition(filters=tuple(filters)))
    return mask if selected is None else mask & selected


def current_cohort_mask(context: AppContext, filters: list[dict] | None, selection: dict | None) -> np.ndarray:
    """The current cohort as a mask: everyone when nothing narrows it."""
    mask = highlight_mask(context, filters, selection)
    return np.ones(context.n_subjects, dtype=bool) if mask is None else mask


def resolve_choice(context: AppContext, choice: str | int | None, filters: list | None, selection: dict | None,
                   other: np.ndarray | None = None) -> np.ndarray:
    """Mask for a cohort choice: CURRENT (or None), EVERYONE, REST (the complement of ``other``) or a saved cohort's id."""
    if choice == EVERYONE:
        return np.ones(context.n_subjects, dtype=bool)
    if choice == REST and other is not None:
        return ~other
    if choice in (CURRENT, None):
        return current_cohort_mask(context, filters, selection)
    return context.saved_cohort_mask(choice)  # the store refuses anything but a real store id (no int("3") coercion)


def check_choice(context: AppContext, choice: object, what: str) -> None:
    """Refuse a cohort choice the requesting user may not use: only CURRENT, REST, EVERYONE, None or a saved cohort they can see.

    Background jobs resolve choices again as their requester (``app.auth``); this refuses in the request,
    before a job is queued for nothing.
    """
    if choice is None or (isinstance(choice, str) and choice in (CURRENT, REST, EVERYONE)):
        return
    try:
        context.store.get(choice)
    except CohortStoreError as error:
        raise validation.InputRefused(f"{what}: {error}") from None


def subject_row(context: AppContext, subject: object) -> int | None:
    """The row of a subject named by id (the search box, a link), or None when none is named; an unknown id is refused."""
    if subject is None or subject == "":
        return None
    return named_subject_row(context, subject)


def named_subject_row(context: AppContext, subject: object, what: str = "subject") -> int:
    """The row of a subject id that must be given: anything but the id of a subject of this cohort is refused."""
    subject = validation.text(subject, what, 200)
    row = int(context.cohort.subject_ids.get_indexer([subject])[0])
    if row < 0:
        raise validation.InputRefused(f"{what}: there is no subject {subject!r} in this cohort")
    return row


def triggered() -> set[str]:
    """Ids of the components that triggered the running callback."""
    return {prop_id.split(".")[0] for prop_id in ctx.triggered_prop_ids}


def inputs_key(*values: object) -> str:
    """A short digest of a callback's inputs: a panel redraws on a tab switch only if something changed meanwhile."""
    return hashlib.blake2b(json.dumps(values, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()
