"""Projections and their on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import projections
from app.core.projections import ProjectionCache, ProjectionSpec, compute_projection, fingerprint


@pytest.fixture
def space() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, size=(3, 16))
    return (centres[rng.integers(0, 3, 150)] + rng.normal(size=(150, 16))).astype(np.float32)


@pytest.mark.parametrize("method", ["pca", "umap", "tsne"])
def test_each_method_gives_finite_2d_coordinates_that_keep_clusters_apart(space, method):
    coordinates = compute_projection(space, ProjectionSpec(method=method))
    assert coordinates.shape == (150, 2) and coordinates.dtype == np.float32
    assert np.isfinite(coordinates).all()
    # The nearest neighbour in 2-D is mostly the nearest-cluster neighbour in the full space.
    distances = np.linalg.norm(coordinates[:, None] - coordinates[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    full = np.linalg.norm(space[:, None] - space[None], axis=-1)
    np.fill_diagonal(full, np.inf)
    same_cluster = np.linalg.norm(space[distances.argmin(1)] - space, axis=1) < 10
    assert same_cluster.mean() > 0.9


def test_fingerprint_follows_content_not_identity(space):
    assert fingerprint(space) == fingerprint(space.copy())
    changed = space.copy()
    changed[0, 0] += 1e-3
    assert fingerprint(changed) != fingerprint(space)


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
