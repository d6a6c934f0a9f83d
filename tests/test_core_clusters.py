"""Clusters on latent vectors: recover planted groups, cache by content, describe what sets each apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from app.core.clusters import NOISE, WARD_MAX_SUBJECTS, ClusterCache, ClusterSpec, cluster_latents, describe_clusters, offered_methods
from app.core.projections import fingerprint
from data_loaders.manifest import VariableSpec


@pytest.fixture
def planted() -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated groups of 150, 100 and 50 subjects in 8 dimensions."""
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1, 2], [150, 100, 50])
    centres = rng.normal(0, 6, (3, 8))
    return (centres[groups] + rng.normal(0, 1, (len(groups), 8))).astype(np.float32), groups


@pytest.mark.parametrize("spec", [ClusterSpec("ward", n_clusters=3), ClusterSpec("kmeans", n_clusters=3), ClusterSpec("hdbscan", min_cluster_size=20)])
def test_planted_groups_are_found_and_numbered_by_size(planted, spec):
    latents, groups = planted
    labels = cluster_latents(latents, spec)
    found = labels != NOISE
    assert found.mean() > 0.9
    assert adjusted_rand_score(groups[found], labels[found]) > 0.95
    sizes = np.bincount(labels[found])
    assert list(sizes) == sorted(sizes, reverse=True)


def test_ward_finds_a_small_group_set_apart_where_everyone_else_varies_little():
    """Why Ward on whitened components is the default: a broad factor (body size) moving every dimension
    dominates raw distances, so k-means cuts along it; a small group offset along a quiet direction (AF's
    missing P waves) is what a clinician wants found."""
    rng = np.random.default_rng(0)
    n, dimensions = 2000, 20
    group = (np.arange(n) < 120).astype(int)
    loading = rng.normal(0, 1, dimensions)
    quiet = rng.normal(0, 1, dimensions)
    quiet -= quiet @ loading / (loading @ loading) * loading
    quiet /= np.linalg.norm(quiet)
    latents = 3 * rng.normal(0, 1, n)[:, None] * loading + rng.normal(0, 0.5, (n, dimensions)) + 2.5 * group[:, None] * quiet
    assert adjusted_rand_score(group, cluster_latents(latents, ClusterSpec("ward", n_clusters=2))) > 0.8
    assert adjusted_rand_score(group, cluster_latents(latents, ClusterSpec("kmeans", n_clusters=2))) < 0.1


def test_ward_is_not_offered_where_it_would_take_too_long():
    assert list(offered_methods(WARD_MAX_SUBJECTS)) == ["ward", "kmeans", "hdbscan"]
    assert list(offered_methods(WARD_MAX_SUBJECTS + 1)) == ["kmeans", "hdbscan"]


@pytest.mark.parametrize(
    "arguments", [{"method": "spectral"}, {"n_clusters": 1}, {"n_clusters": 31}, {"n_clusters": 2.5}, {"min_cluster_size": 1}]
)
def test_bad_parameters_are_refused_with_a_message(arguments):
    with pytest.raises(ValueError, match="clustering method|number of clusters|smallest cluster"):
        ClusterSpec(**arguments)


def test_labels_are_cached_by_content_and_parameters(planted, tmp_path):
    latents, _ = planted
    cache = ClusterCache(tmp_path)
    spec = ClusterSpec("kmeans", n_clusters=3)
    labels = cache.get_or_compute(latents, spec, fingerprint(latents))
    assert cache.path_for(fingerprint(latents), spec).is_file()
    assert not labels.flags.writeable
    assert cache.path_for(fingerprint(latents), ClusterSpec("kmeans", n_clusters=4)) != cache.path_for(fingerprint(latents), spec)
    assert cache.path_for(fingerprint(latents), ClusterSpec("hdbscan", n_clusters=9)) == cache.path_for(fingerprint(latents), ClusterSpec("hdbscan"))
    np.save(cache.path_for(fingerprint(latents), spec), np.zeros(len(latents), dtype=np.int32))  # a cached result is read, not recomputed
    assert (cache.get_or_compute(latents, spec, fingerprint(latents)) == 0).all()
    assert [path.name for path in tmp_path.iterdir() if path.suffix not in (".npy", ".lock")] == []  # no half-written file left


def test_clusters_are_described_by_what_sets_them_apart():
    rng = np.random.default_rng(1)
    n = 600
    labels = np.repeat([0, 1], [400, 200]).astype(np.int32)
    in_second = labels == 1
    phenotypes = pd.DataFrame(
        {
            "age": rng.normal(58, 6, n) + 12 * in_second,
            "lvef": rng.normal(60, 5, n) - 15 * in_second,
            "af": rng.random(n) < np.where(in_second, 0.61, 0.05),
            "bmi": rng.normal(27, 4, n),
            "split": pd.Categorical(np.where(in_second, "test", "train")),
        }
    )
    variables = {
        "age": VariableSpec("age", "continuous", "Age", "years"),
        "lvef": VariableSpec("lvef", "continuous", "LVEF", "%"),
        "af": VariableSpec("af", "binary", "AF"),
        "bmi": VariableSpec("bmi", "continuous", "BMI", "kg/m²"),
        "split": VariableSpec("split", "categorical", "Split", categories=("train", "test"), role="administrative"),
    }
    descriptions = describe_clusters(labels, phenotypes, variables)
    share = 100 * phenotypes["af"][in_second].mean()
    assert descriptions[1] == f"low LVEF, older, {share:.0f} % AF"
    assert "Split" not in descriptions[0] and "BMI" not in descriptions[1]
    assert descriptions[0].startswith("high LVEF, younger")


def test_clusters_become_a_categorical_variable_to_colour_by():
    from app.core.clusters import cluster_variable

    labels = np.array([0, 0, 1, NOISE, 0], dtype=np.int32)
    column, spec = cluster_variable(labels, {0: "older", 1: ""}, "joint")
    assert spec.type == "categorical" and spec.label == "Clusters of joint"
    assert spec.categories == ("Cluster 1 (3): older", "Cluster 2 (1)", "Not in a cluster (1)")
    assert list(column) == ["Cluster 1 (3): older"] * 2 + ["Cluster 2 (1)", "Not in a cluster (1)", "Cluster 1 (3): older"]


def test_labels_read_mid_sentence_and_acronyms_stay():
    from app.core.clusters import _in_sentence

    assert [_in_sentence(label) for label in ("Heart rate", "LV mass", "AF", "QRS duration", "Sex", "x", "Sokolow-Lyon voltage", "McKenna score")] == [
        "heart rate", "LV mass", "AF", "QRS duration", "sex", "x", "Sokolow-Lyon voltage", "McKenna score"]  # names keep their capitals
