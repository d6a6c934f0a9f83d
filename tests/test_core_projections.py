"""Projections and their on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import projections
from app.core.projections import ProjectionCache, ProjectionSpec, compute_projection, fingerprint


@pytest.fixture
def clustered() -> tuple[np.ndarray, np.ndarray]:
    """150 subjects in 16 dimensions around three well-separated centres, and each one's centre."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, size=(3, 16))
    labels = rng.integers(0, 3, 150)
    return (centres[labels] + rng.normal(size=(150, 16))).astype(np.float32), labels


@pytest.fixture
def space(clustered) -> np.ndarray:
    return clustered[0]


@pytest.mark.parametrize("method", ["pca", pytest.param("umap", marks=pytest.mark.slow), pytest.param("tsne", marks=pytest.mark.slow)])
def test_each_method_gives_finite_2d_coordinates_that_keep_clusters_apart(clustered, method):
    space, labels = clustered
    coordinates = compute_projection(space, ProjectionSpec(method=method))
    assert coordinates.shape == (150, 2) and coordinates.dtype == np.float32
    assert np.isfinite(coordinates).all()
    # Each subject's nearest neighbour in 2-D is almost always from its own cluster.
    distances = np.linalg.norm(coordinates[:, None] - coordinates[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(1)] == labels).mean() > 0.9


def test_fingerprint_follows_content_not_identity(space):
    assert fingerprint(space) == fingerprint(space.copy())
    changed = space.copy()
    changed[0, 0] += 1e-3
    assert fingerprint(changed) != fingerprint(space)


@pytest.mark.slow
def test_cache_computes_once_and_keys_on_parameters(space, tmp_path, monkeypatch):
    calls = []
    real = projections.compute_projection
    monkeypatch.setattr(projections, "compute_projection", lambda m, s: calls.append(s) or real(m, s))
    cache = ProjectionCache(tmp_path)
    first = cache.get_or_compute(space, ProjectionSpec("pca"))
    again = ProjectionCache(tmp_path).get_or_compute(space, ProjectionSpec("pca", n_neighbors=99))  # PCA ignores it
    assert np.array_equal(first, again) and len(calls) == 1
    assert not first.flags.writeable
    cache.get_or_compute(space, ProjectionSpec("umap", n_neighbors=5))
    cache.get_or_compute(space, ProjectionSpec("umap", n_neighbors=10))
    assert len(calls) == 3
    assert not list(tmp_path.glob("*.partial"))
