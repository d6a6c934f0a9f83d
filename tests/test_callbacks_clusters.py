"""Clusters panel callbacks as plain functions on a real app context (300 subjects, two spaces)."""

from __future__ import annotations

import dash
import numpy as np
import pytest

from app import validation
from app.config import AppConfig
from app.context import AppContext
from app.core.clusters import ClusterSpec, cluster_latents
from app.panels import clusters
from app.panels.explorer import views as explorer_views
from app.server import create_app
from app.state import CLUSTER_COLOUR, CLUSTERS, SelectionError, current_cohort_mask, selection_mask
from data_loaders import load_cohort
from tests.panels import opened_panel
from tests.typed_arrays import unpacked

KMEANS_3 = {"space": "joint", "method": "kmeans", "n_clusters": 3, "min_cluster_size": 50}


@pytest.fixture
def context(phenotype_cohort_dir, tmp_path) -> AppContext:
    return AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))


def test_the_panel_has_its_own_tab_and_computes_in_the_background(phenotype_cohort_dir, tmp_path):
    app = create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path))
    layout = str(app.layout)
    assert "tab_id='clusters'" in layout and f"'{CLUSTER_COLOUR}'" in layout  # colour-by offers clusters
    assert '"clusters-panel"' in opened_panel(app, "clusters")
    background = [key for key, callback in app.callback_map.items() if callback.get("background")]
    assert f"{CLUSTERS}.data" in background  # the clustering in force is written by the background job (and, when cached, at once)


def test_find_clusters_asks_the_background_job_once_then_uses_the_cache(context):
    request = clusters.cluster_request(context, "joint", "kmeans", 3, 50)
    assert request == KMEANS_3
    assert context.cached_clusters("joint", ClusterSpec("kmeans", n_clusters=3)) is None  # nothing computed in the request
    labels = context.compute_clusters("joint", ClusterSpec("kmeans", n_clusters=3))  # what the background callback does
    np.testing.assert_array_equal(labels, cluster_latents(context.cohort.spaces["joint"], ClusterSpec("kmeans", n_clusters=3)))
    assert (context.config.cache_dir / "clusters").is_dir()
    np.testing.assert_array_equal(context.cached_clusters("joint", ClusterSpec("kmeans", n_clusters=3)), labels)


@pytest.mark.parametrize(
    ("space", "method", "k", "min_size", "message"),
    [("nowhere", "kmeans", 3, 50, "clustering space"), ("joint", "spectral", 3, 50, "clustering method"), ("joint", "kmeans", 1, 50, "number of clusters"),
     ("joint", "kmeans", 31, 50, "number of clusters"), ("joint", "kmeans", 2.5, 50, "number of clusters"), ("joint", "kmeans", None, 50, "number"),
     ("joint", "kmeans", True, 50, "number of clusters"), ("joint", "hdbscan", 3, 1, "smallest cluster"), ("joint", "hdbscan", 3, "50", "smallest")],
)
def test_a_clustering_outside_what_the_page_offers_is_refused(context, space, method, k, min_size, message):
    with pytest.raises(validation.InputRefused, match=message):
        clusters.cluster_request(context, space, method, k, min_size)


def test_ward_is_refused_and_shown_disabled_for_a_cohort_too_large_for_it(context, monkeypatch):
    assert clusters.cluster_request(context, "joint", "ward", 3, 50)["method"] == "ward"
    monkeypatch.setattr("app.core.clusters.WARD_MAX_SUBJECTS", context.n_subjects - 1)
    with pytest.raises(validation.InputRefused, match="clustering method"):
        clusters.cluster_request(context, "joint", "ward", 3, 50)
    method = next(component for component in _components(clusters.layout(context)) if getattr(component, "id", None) == "cluster-method")
    assert method.value == "kmeans" and [option["disabled"] for option in method.options] == [True, False, False]


@pytest.mark.slow
def test_each_cluster_is_listed_with_its_size_colour_and_what_sets_it_apart(context):
    summary, listed = clusters.render_clusters(context, KMEANS_3)
    assert "no longer cached" in str(summary) and listed is None
    labels = context.compute_clusters("joint", ClusterSpec("kmeans", n_clusters=3))
    entries = clusters.cluster_entries(context, KMEANS_3)
    assert [entry.label for entry in entries] == [0, 1, 2]
    assert [entry.size for entry in entries] == [int((labels == label).sum()) for label in range(3)]
    assert sum(entry.share for entry in entries) == pytest.approx(1.0)
    assert entries[0].description == context.cluster_descriptions("joint", ClusterSpec("kmeans", n_clusters=3))[0] and entries[0].description
    assert len({entry.colour for entry in entries}) == 3
    summary, listed = clusters.render_clusters(context, KMEANS_3)
    assert "3 clusters of 300 subjects" in str(summary) and "8-dimensional latent vectors" in str(summary)
    assert str(listed).count("'cluster-select'") == 3 and str(listed).count("'cluster-save'") == 3


def test_hdbscan_lists_the_unclustered_last(context):
    value = {"space": "joint", "method": "hdbscan", "n_clusters": 4, "min_cluster_size": 20}
    labels = context.compute_clusters("joint", ClusterSpec("hdbscan", min_cluster_size=20))
    entries = clusters.cluster_entries(context, value)
    if (labels == -1).any():
        assert entries[-1].label == -1 and entries[-1].title == "Not in a cluster" and entries[-1].size == int((labels == -1).sum())
    assert [entry.label for entry in entries if entry.label != -1] == list(range(labels.max() + 1))


def test_hdbscan_finding_no_cluster_says_what_to_try(context):
    value = {"space": "joint", "method": "hdbscan", "n_clusters": 4, "min_cluster_size": 20}
    spec = ClusterSpec("hdbscan", min_cluster_size=20)
    path = context.cluster_cache.path_for(context.space_fingerprints["joint"], spec)
    path.parent.mkdir(parents=True)
    np.save(path, np.full(context.n_subjects, -1, dtype=np.int32))  # everyone unclustered
    summary, listed = clusters.render_clusters(context, value)
    assert "0 clusters of 300 subjects, 300 in none" in str(summary) and "try a smaller smallest cluster" in str(summary)
    assert str(listed).count("'cluster-select'") == 1  # the unclustered can still be selected


def test_one_click_makes_a_cluster_the_selection_resolved_on_the_server(context):
    labels = context.compute_clusters("joint", ClusterSpec("kmeans", n_clusters=3))
    selection, feedback, version = clusters.use_cluster(context, {"type": "cluster-select", "index": 1}, True, KMEANS_3, 0)
    assert selection == {"cluster": {**KMEANS_3, "label": 1}, "source": "clusters"} and feedback is dash.no_update
    np.testing.assert_array_equal(selection_mask(context, selection), labels == 1)
    np.testing.assert_array_equal(current_cohort_mask(context, [], selection), labels == 1)
    assert clusters.use_cluster(context, {"type": "cluster-select", "index": 1}, False, KMEANS_3, 0) == (dash.no_update,) * 3  # drawn, not clicked


@pytest.mark.slow
def test_a_cluster_saved_as_a_cohort_keeps_its_subjects(context):
    labels = context.compute_clusters("joint", ClusterSpec("kmeans", n_clusters=3))
    _, feedback, version = clusters.use_cluster(context, {"type": "cluster-save", "index": 2}, True, KMEANS_3, 5)
    assert version == 6 and "Saved" in str(feedback)
    saved = context.store.list()[0]
    assert saved.name == "Joint (ECG + MRI), k-means, k = 3: cluster 3"
    np.testing.assert_array_equal(context.saved_cohort_mask(saved.id), labels == 2)
    _, again, version = clusters.use_cluster(context, {"type": "cluster-save", "index": 2}, True, KMEANS_3, 6)  # a second click
    assert "already saved as “Joint (ECG + MRI), k-means, k = 3: cluster 3”" in str(again) and version is dash.no_update
    assert len(context.store.list()) == 1


@pytest.mark.parametrize("selection", [{"cluster": {**KMEANS_3, "label": 40}}, {"cluster": {**KMEANS_3, "label": True}}, {"cluster": "joint"},
                                       {"cluster": {**KMEANS_3, "space": "nowhere", "label": 0}}, {"cluster": {**KMEANS_3, "n_clusters": 99, "label": 0}}])
def test_a_malformed_cluster_selection_is_refused(context, selection):
    with pytest.raises(validation.InputRefused):
        selection_mask(context, selection)


def test_a_cluster_selection_whose_clusters_are_not_cached_is_ignored_with_a_reason(context):
    selection = {"cluster": {**KMEANS_3, "label": 0}}
    with pytest.raises(SelectionError, match="not computed yet"):
        selection_mask(context, selection)
    assert "Selection ignored" in explorer_views.selection_summary(context, [], selection)


@pytest.mark.slow
def test_the_explorer_colours_every_view_by_the_clusters_in_force(context):
    labels = context.compute_clusters("joint", ClusterSpec("kmeans", n_clusters=3))
    figure = explorer_views.render_latent_view(context, 0, "ecg", "pca", CLUSTER_COLOUR, [], None, set(), clusters=KMEANS_3).figure
    codes = unpacked(figure.data[0].marker.color)
    for label in range(3):
        assert len(set(codes[labels == label])) == 1  # one colour per cluster
    assert len(set(codes)) == 3
    legend = str(explorer_views.colour_legend(context, CLUSTER_COLOUR, KMEANS_3))
    assert "Cluster 1 (" in legend and "Cluster 3 (" in legend
    patch = explorer_views.render_latent_view(context, 0, "ecg", "pca", CLUSTER_COLOUR, [], None, {CLUSTERS}, clusters=KMEANS_3).figure
    operations = patch.to_plotly_json()["operations"]
    # only the colours are patched: the codes and the palette they index
    assert {tuple(operation["location"]) for operation in operations} >= {("data", 0, "marker", "color"), ("data", 0, "meta", "palette")}
    assert not any(operation["location"][:3] == ["data", 0, "x"] for operation in operations)
    assert "No clusters yet" in str(explorer_views.colour_legend(context, CLUSTER_COLOUR, None))
    uniform = explorer_views.render_latent_view(context, 0, "ecg", "pca", CLUSTER_COLOUR, [], None, set(), clusters=None).figure
    assert len(set(unpacked(uniform.data[0].marker.color))) == 1


def _components(component):
    """Every component in a layout tree."""
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            yield from _components(child)
