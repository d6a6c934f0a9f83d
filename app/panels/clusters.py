"""Clusters as starting cohorts: Ward, k-means or HDBSCAN on a space's latent vectors, listed with what sets each cluster apart.

*Find clusters* names a clustering; if its labels are cached it is put in force at once (the shared
``clusters`` store), else a background callback (the same thread-pool jobs as the explorer's UMAP)
computes and caches them first (app.core.clusters). The explorer's *Colour by → Clusters* colours
every view by the clustering in force; *Select* makes a cluster the shared selection (as
``{"cluster": {...}}``, resolved on the server on the cached labels, so a cluster of any size
travels as a few bytes); *Save as cohort* stores its subjects' ids.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import ALL, Input, Output, State, ctx, dcc, html

from app import validation
from app.cohort_store import CohortStoreError
from app.context import AppContext
from app.core.clusters import CLUSTER_METHODS, MAX_CLUSTERS, NOISE, WARD_MAX_SUBJECTS, ClusterSpec, cluster_names, offered_methods
from app.core.cohort_algebra import CohortDefinition
from app.figures.clusters import ClusterEntry, cluster_list
from app.figures.scatter import colour_coding
from app.jobs import HEAVY, BackgroundJob
from app.panels.tab_panes import clicked
from app.state import CLUSTERS, COHORTS_VERSION, SELECTION, cluster_column, clustering_spec, clustering_value, ordered_spaces, space_label

DEFAULT_K = 4
DEFAULT_MIN_SIZE = 50


def _method_name(spec: ClusterSpec) -> str:
    if spec.method == "hdbscan":
        return f"HDBSCAN, smallest cluster {spec.min_cluster_size}"
    return f"{CLUSTER_METHODS[spec.method]}, k = {spec.n_clusters}"


# What each method clusters, for the summary: a reader must know what "found on the latent vectors" means.
_CLUSTERED = {"ward": "Ward linkage on their whitened principal components, every direction weighted alike",
              "kmeans": "each dimension standardised", "hdbscan": "each dimension standardised"}


def _method_options(offered: dict[str, str]) -> list[dict]:
    """Every method, the ones this cohort is too large for disabled and saying why."""
    return [{"label": label if key in offered else f"{label} (up to {WARD_MAX_SUBJECTS:,} subjects)", "value": key, "disabled": key not in offered}
            for key, label in CLUSTER_METHODS.items()]


def cluster_request(context: AppContext, space: object, method: object, k: object, min_size: object) -> dict:
    """The clustering the controls name, checked (a refusal says which control and what it expects)."""
    space, spec = clustering_spec(context, {"space": space, "method": method, "n_clusters": k, "min_cluster_size": min_size})
    return clustering_value(space, spec)


def cluster_entries(context: AppContext, clusters: dict) -> list[ClusterEntry] | None:
    """The clustering in force, one entry per cluster (largest first, the unclustered last); None if it is not computed."""
    column = cluster_column(context, clusters)
    if column is None:
        return None
    space, spec = clustering_spec(context, clusters)
    labels = context.cached_clusters(space, spec)
    descriptions = context.cluster_descriptions(space, spec)
    names = cluster_names(labels, descriptions)
    colours = dict(colour_coding(*column).legend)
    entries = []
    for label in [*sorted(set(names) - {NOISE}), *([NOISE] if NOISE in names else [])]:
        size = int((labels == label).sum())
        title = "Not in a cluster" if label == NOISE else f"Cluster {label + 1}"
        description = "subjects HDBSCAN placed in no cluster" if label == NOISE else descriptions[label]
        entries.append(ClusterEntry(label, title, size, size / len(labels), description, colours[names[label]]))
    return entries


def render_clusters(context: AppContext, clusters: dict | None) -> tuple[object, object]:
    """(summary, list) of the clustering in force."""
    if not clusters:
        return "Choose a space and a method, then Find clusters.", None
    entries = cluster_entries(context, clusters)
    space, spec = clustering_spec(context, clusters)
    if entries is None:
        return f"The clusters of {space_label(space)} ({_method_name(spec)}) are no longer cached: press Find clusters.", None
    found = [entry for entry in entries if entry.label != NOISE]
    unclustered = sum(entry.size for entry in entries if entry.label == NOISE)
    dimensions = context.cohort.spaces[space].shape[1]
    summary = [
        html.Strong(f"{space_label(space)}, {_method_name(spec)}: "),
        f"{len(found)} clusters of {context.n_subjects:,} subjects"
        + (f", {unclustered:,} in none" if unclustered else "")
        + f", found on the {dimensions}-dimensional latent vectors ({_CLUSTERED[spec.method]}), never on a 2-D picture. "
        "Each is described by what sets it apart from everyone else (standardised differences, as in Table 1). "
        "Explore → Colour by → Clusters colours every view by them.",
    ]
    if not found:
        summary.append(" HDBSCAN found no group dense enough: try a smaller smallest cluster, or Ward.")
    return summary, cluster_list(entries)


def save_cluster(context: AppContext, clusters: dict, label: int) -> tuple[str, int]:
    """Save one cluster's subjects as a cohort (by subject ids); returns its name and size."""
    space, spec = clustering_spec(context, clusters)
    labels = context.cached_clusters(space, spec)
    if labels is None:
        raise CohortStoreError("these clusters are no longer cached: press Find clusters again")
    members = np.flatnonzero(labels == label)
    if not len(members):
        raise CohortStoreError("that cluster has no subjects")
    title = "not in a cluster" if label == NOISE else f"cluster {label + 1}"
    name = f"{space_label(space)}, {_method_name(spec)}: {title}"
    definition = CohortDefinition(subject_ids=tuple(context.cohort.subject_ids[members]))
    return context.store.save_unique(name, definition).name, len(members)


def use_cluster(context: AppContext, trigger: object, clicked: bool, clusters: dict | None, version: int | None) -> tuple:
    """(selection, feedback, cohorts version) for a click on a cluster's Select or Save as cohort button."""
    nothing = (dash.no_update,) * 3
    if not clicked or not clusters or not isinstance(trigger, dict) or trigger.get("type") not in ("cluster-select", "cluster-save"):
        return nothing  # the buttons being drawn is not a click
    label = validation.integer(trigger.get("index"), "cluster", NOISE, MAX_CLUSTERS - 1)
    space, spec = clustering_spec(context, clusters)
    if trigger["type"] == "cluster-select":
        return {"cluster": {**clustering_value(space, spec), "label": label}, "source": "clusters"}, dash.no_update, dash.no_update
    try:
        name, size = save_cluster(context, clusters, label)
    except CohortStoreError as error:
        return dash.no_update, html.Span(str(error), className="text-danger"), dash.no_update
    return dash.no_update, html.Span(f"Saved “{name}” ({size:,} subjects)", className="text-success"), (version or 0) + 1


def layout(context: AppContext) -> html.Div:
    spaces = ordered_spaces(context)
    methods = offered_methods(context.n_subjects)
    control = "small fw-semibold"
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col([html.Label("Space", htmlFor="cluster-space", className=control),
                             dcc.Dropdown(id="cluster-space", options=[{"label": space_label(name), "value": name} for name in spaces],
                                          value=spaces[0] if spaces else None, clearable=False, placeholder="no latent spaces")], md=3),
                    dbc.Col([html.Label("Method", className=control),
                             dbc.RadioItems(id="cluster-method", options=_method_options(methods), value=next(iter(methods)), inline=True)], md=3),
                    dbc.Col([html.Label("Clusters k", htmlFor="cluster-k", title="Ward and k-means", className=control),
                             dcc.Input(id="cluster-k", type="number", min=2, max=MAX_CLUSTERS, step=1, value=DEFAULT_K,
                                       className="form-control form-control-sm")], md=2),
                    dbc.Col([html.Label("Smallest cluster (HDBSCAN)", htmlFor="cluster-min-size", className=control),
                             dcc.Input(id="cluster-min-size", type="number", min=2, step=1, value=DEFAULT_MIN_SIZE,
                                       className="form-control form-control-sm")], md=2),
                    dbc.Col(dbc.Button("Find clusters", id="cluster-run", color="primary", size="sm"), md=2),
                ],
                className="g-2 mb-2 align-items-end",
            ),
            html.Div(id="cluster-progress"),
            html.Div(id="cluster-summary", className="small mb-2", role="status"),
            html.Div(id="cluster-list", className="mb-2"),
            html.Div(id="cluster-feedback", className="small", role="status"),
            *CLUSTER_JOB.components(),
        ],
        id="clusters-panel",
        className="mt-2",
    )


CLUSTER_JOB = BackgroundJob(request="cluster-request", lane=HEAVY)


def register(app: dash.Dash, context: AppContext) -> None:
    @app.callback(
        Output("cluster-request", "data"),
        Output(CLUSTERS, "data", allow_duplicate=True),
        Input("cluster-run", "n_clicks"),
        State("cluster-space", "value"),
        State("cluster-method", "value"),
        State("cluster-k", "value"),
        State("cluster-min-size", "value"),
        prevent_initial_call=True,
    )
    def _find(clicks, space, method, k, min_size):
        if not clicked(clicks):
            return dash.no_update, dash.no_update
        request = cluster_request(context, space, method, k, min_size)
        if context.cached_clusters(*clustering_spec(context, request)) is not None:
            return dash.no_update, request  # cached: in force at once, no background job
        return request, dash.no_update

    def _compute(request: dict, _progress) -> dict:
        context.compute_clusters(*clustering_spec(context, request))
        return request  # the clustering, now cached, is the one in force

    CLUSTER_JOB.register(app, _compute, outputs=[Output(CLUSTERS, "data")],
                         running=[(Output("cluster-progress", "children"), _progress_note(), None), (Output("cluster-run", "disabled"), True, False)])

    @app.callback(Output("cluster-summary", "children"), Output("cluster-list", "children"), Input(CLUSTERS, "data"))
    def _render(clusters):
        return render_clusters(context, clusters)

    @app.callback(
        Output(SELECTION, "data", allow_duplicate=True),
        Output("cluster-feedback", "children"),
        Output(COHORTS_VERSION, "data", allow_duplicate=True),
        Input({"type": "cluster-select", "index": ALL}, "n_clicks"),
        Input({"type": "cluster-save", "index": ALL}, "n_clicks"),
        State(CLUSTERS, "data"),
        State(COHORTS_VERSION, "data"),
        prevent_initial_call=True,
    )
    def _use(_select, _save, clusters, version):
        return use_cluster(context, ctx.triggered_id, bool(ctx.triggered and ctx.triggered[0]["value"]), clusters, version)


def _progress_note() -> dbc.Alert:
    return dbc.Alert(
        [html.Div("Finding clusters in the background; they are cached on disk and will be instant next time.", className="mb-1"),
         dbc.Progress(value=100, striped=True, animated=True, style={"height": "6px"})],
        color="info",
        className="py-2",
    )
