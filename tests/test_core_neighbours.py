"""Neighbourhood overlap between latent spaces: hand-made cases, bounds, approximate recall, cache, suggestions."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import neighbours
from app.core.neighbours import (
    NeighbourCache,
    approximate_neighbours,
    cohort_summary,
    common_changes,
    compare_neighbourhoods,
    exact_neighbours,
    gained_centroids,
    kept_both_ways,
    membership,
    nearest_neighbours,
    neighbour_trails,
    recall,
    suggest_groups,
)
from app.core.projections import fingerprint


def latent_mixture(n: int, d: int = 64, clusters: int = 12, rank: int = 6, seed: int = 0) -> np.ndarray:
    """Subjects around a few centres, each cluster spread along a low-dimensional subspace: latent-like."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, n)
    centres = rng.normal(0, 3, (clusters, d))
    basis = rng.normal(0, 1, (clusters, rank, d)) / np.sqrt(rank)
    spread = np.einsum("nr,nrd->nd", rng.normal(size=(n, rank)), basis[labels])
    return (centres[labels] + spread + rng.normal(0, 0.3, (n, d))).astype(np.float32)


def test_neighbours_on_a_line_are_the_nearest_points_nearest_first():
    line = np.array([[0.0], [1.0], [3.0], [6.5], [10.5]])
    assert exact_neighbours(line, 2).tolist() == [[1, 2], [0, 2], [1, 0], [2, 4], [3, 2]]
    assert approximate_neighbours(line, 2).tolist() == exact_neighbours(line, 2).tolist()


def test_cosine_ignores_length_and_euclidean_does_not():
    points = np.array([[1.0, 0.0], [10.0, 0.5], [0.0, 1.0], [1.0, 1.2]])
    assert exact_neighbours(points, 1, "cosine")[0, 0] == 1  # same direction, ten times longer
    assert exact_neighbours(points, 1, "euclidean")[0, 0] == 3
    with pytest.raises(ValueError, match="metric"):
        exact_neighbours(points, 1, "manhattan")
    with pytest.raises(ValueError, match="k must be"):
        exact_neighbours(points, 0)


def test_overlap_gained_and_lost_on_hand_made_neighbour_sets():
    a = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    b = np.array([[3, 2, 1], [2, 3, 0], [3, 1, 0], [0, 2, 1]])
    b[1] = [4, 5, 0]  # subject 1 kept only subject 0
    b[2] = [4, 5, 6]  # subject 2 kept nobody
    comparison = compare_neighbourhoods(a, b)
    np.testing.assert_allclose(comparison.overlap, [1.0, 1 / 5, 0.0, 1.0])
    assert sorted(comparison.shared(1)) == [0]
    assert sorted(comparison.lost(1)) == [2, 3]
    assert sorted(comparison.gained(1)) == [4, 5]
    assert sorted(comparison.gained(0)) == [] and sorted(comparison.lost(0)) == []
    assert membership(np.array([[7, 8]]), np.array([[8, 9]])).tolist() == [[False, True]]


def test_both_ways_membership_from_one_sort_equals_lookups_even_when_a_list_names_someone_twice():
    rng = np.random.default_rng(3)
    a = np.stack([rng.choice(60, 8, replace=False) for _ in range(400)]).astype(np.int32)
    b = np.stack([rng.choice(60, 5, replace=False) for _ in range(400)]).astype(np.int32)  # another k
    a[7, 1] = a[7, 0]  # a list naming a subject twice (never computed here, but not excluded by the format)
    b[9, :2] = a[9, 3]
    b[11, 0] = b[11, 1] = a[11, 2] = a[11, 5]
    kept = kept_both_ways(a, b)
    np.testing.assert_array_equal(kept[:, :8], membership(a, b))
    np.testing.assert_array_equal(kept[:, 8:], membership(b, a))
    assert kept.any() and not kept.all()
    assert kept_both_ways(np.empty((0, 3), dtype=np.int32), np.empty((0, 2), dtype=np.int32)).shape == (0, 5)
    with pytest.raises(ValueError, match="different subjects"):
        kept_both_ways(a, b[:10])
    given = compare_neighbourhoods(a, b, kept)  # as read from disk
    np.testing.assert_array_equal(given.overlap, compare_neighbourhoods(a, b).overlap)
    with pytest.raises(ValueError, match="booleans"):
        compare_neighbourhoods(a, b, kept[:, :8])


def test_overlap_is_symmetric_bounded_and_one_for_identical_spaces():
    space_a, space_b = latent_mixture(600, seed=1), latent_mixture(600, seed=2)
    knn_a, knn_b = exact_neighbours(space_a, 15), exact_neighbours(space_b, 15)
    forward, backward = compare_neighbourhoods(knn_a, knn_b), compare_neighbourhoods(knn_b, knn_a)
    np.testing.assert_allclose(forward.overlap, backward.overlap)
    assert ((forward.overlap >= 0) & (forward.overlap <= 1)).all()
    assert forward.overlap.mean() < 0.2  # unrelated spaces share few neighbours
    np.testing.assert_array_equal(compare_neighbourhoods(knn_a, knn_a).overlap, 1.0)
    for row in (0, 17, 599):
        assert set(forward.gained(row)) == set(backward.lost(row))
        assert len(forward.shared(row)) + len(forward.lost(row)) == 15


def test_exact_neighbours_do_not_depend_on_the_block_size(monkeypatch):
    space = latent_mixture(700)
    whole = exact_neighbours(space, 10)
    monkeypatch.setattr(neighbours, "BLOCK_BYTES", 4 * 700 * 13)  # 13 rows at a time: never an n × n matrix
    np.testing.assert_array_equal(exact_neighbours(space, 10), whole)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_approximate_neighbours_recall_at_least_95_percent_of_exact(metric):
    space = latent_mixture(6000, seed=3)
    exact, approximate = exact_neighbours(space, 50, metric), approximate_neighbours(space, 50, metric)
    assert approximate.shape == exact.shape and approximate.dtype == np.int32
    assert (approximate != np.arange(len(space))[:, None]).all()  # nobody is their own neighbour
    assert all(len(set(row)) == 50 for row in approximate[:200])
    assert recall(approximate, exact) >= 0.95
    other = latent_mixture(6000, seed=4)
    exact_overlap = compare_neighbourhoods(exact, exact_neighbours(other, 50, metric)).overlap
    approximate_overlap = compare_neighbourhoods(approximate, approximate_neighbours(other, 50, metric)).overlap
    assert np.abs(exact_overlap - approximate_overlap).mean() <= 0.02


def test_probing_every_cell_is_an_exact_search():
    """With every cell probed the candidates are everyone (the own cell first): the result must be exact, self excluded."""
    space = latent_mixture(900, seed=6)
    np.testing.assert_array_equal(approximate_neighbours(space, 12, n_probe=10_000), exact_neighbours(space, 12))


def test_a_space_without_clusters_is_searched_in_a_bounded_number_of_cells(monkeypatch):
    """Every cell borders nearly every other in isotropic noise: each is compared with about n_probe + MAX_BORDER_CELLS cells' worth."""
    noise = np.random.default_rng(5).normal(size=(20_000, 32)).astype(np.float32)
    widest = []
    compared = neighbours._block_distances

    def recorded(queries, query_norms, points, point_norms):
        widest.append(len(points))
        return compared(queries, query_norms, points, point_norms)

    monkeypatch.setattr(neighbours, "_block_distances", recorded)
    found = approximate_neighbours(noise, 10)
    cells = round(np.sqrt(len(noise)) * neighbours.CELL_FACTOR)
    assert found.shape == (20_000, 10) and (found != np.arange(20_000)[:, None]).all()
    # k-means cells are uneven, but the candidates stay within as many subjects as that many average cells hold
    assert max(widest) <= (4 + neighbours.MAX_BORDER_CELLS) * len(noise) / cells < len(noise)


def test_auto_method_is_exact_for_small_cohorts(monkeypatch):
    monkeypatch.setattr(neighbours, "approximate_neighbours", lambda *args, **kwargs: pytest.fail("small cohorts are exact"))
    nearest_neighbours(latent_mixture(300), 5)
    assert neighbours.resolved_method(neighbours.EXACT_LIMIT + 1) == "approximate"


def test_cache_is_keyed_by_space_content_k_and_metric(tmp_path, monkeypatch):
    space = latent_mixture(200)
    cache = NeighbourCache(tmp_path)
    first = cache.get_or_compute(space, fingerprint(space), 10, "cosine")
    assert len(list(tmp_path.glob("*.npy"))) == 1
    monkeypatch.setattr(neighbours, "nearest_neighbours", lambda *args, **kwargs: pytest.fail("should come from the cache"))
    np.testing.assert_array_equal(cache.get_or_compute(space, fingerprint(space), 10, "cosine"), first)
    assert cache.get(fingerprint(space), 11, "cosine", "exact") is None
    assert cache.get(fingerprint(space), 10, "euclidean", "exact") is None
    assert cache.get(fingerprint(space + 1), 10, "cosine", "exact") is None


def two_spaces_where_a_group_moved(spread: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three clusters; in space B twelve members of the first cluster moved into the third (into one spot, if ``spread`` is small)."""
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    labels = np.repeat([0, 1, 2], 60)
    space_a = centres[labels] + rng.normal(0, 1, (180, 2))
    movers = np.sort(rng.choice(60, size=12, replace=False))
    space_b = space_a.copy()
    space_b[movers] = centres[2] + [0.5, 0.5] + rng.normal(0, spread, (12, 2))
    return space_a, space_b, movers


def test_suggestions_find_the_group_whose_neighbourhoods_changed_alike():
    space_a, space_b, movers = two_spaces_where_a_group_moved()
    comparison = compare_neighbourhoods(exact_neighbours(space_a, 10), exact_neighbours(space_b, 10))
    groups = suggest_groups(comparison)
    assert groups, "the movers should be suggested"
    best = groups[0]
    assert len(set(best.rows) & set(movers)) >= 10 and set(best.rows) <= set(movers)
    assert 0 <= best.agreement <= 1 and best.mean_overlap < 0.5
    changes = common_changes(comparison, best.rows, top=5)
    assert set(changes.gained_rows) <= set(range(120, 180)) | set(movers)  # they gained members of the third cluster (and each other)
    assert set(changes.lost_rows) <= set(range(60)) - set(movers)  # and lost the rest of their own
    assert not set(changes.gained_rows) & set(best.rows)
    assert (np.diff(changes.gained_counts) <= 0).all()
    assert suggest_groups(compare_neighbourhoods(comparison.neighbours_a, comparison.neighbours_a)) == []
    assert [group.rows.tolist() for group in comparison.suggested_groups] == [group.rows.tolist() for group in groups]
    assert comparison.suggested_groups is comparison.suggested_groups  # worked out once per comparison


def test_summary_and_trails_of_the_most_changed_subjects():
    space_a, space_b, movers = two_spaces_where_a_group_moved(spread=1.0)
    comparison = compare_neighbourhoods(exact_neighbours(space_a, 10), exact_neighbours(space_b, 10))
    summary = cohort_summary(comparison.overlap)
    assert summary.n_subjects == 180 and 0 < summary.share_changed < 0.2
    assert cohort_summary(comparison.overlap, np.isin(np.arange(180), movers)).mean < 0.1
    assert cohort_summary(comparison.overlap, np.zeros(180, dtype=bool)).n_subjects == 0
    rows, targets = neighbour_trails(space_a, comparison, changed_below=0.3, max_trails=40)
    assert 12 <= len(rows) <= 40 and set(movers) <= set(rows) <= set(movers) | set(range(120, 180))
    moved = np.isin(rows, movers)
    assert (targets[moved, 1] > 8).all() and targets[moved, 1].mean() > 14  # movers point to the third cluster (y = 20), away from theirs (y = 0)
    assert (np.linalg.norm(targets[~moved] - [0.0, 0.0], axis=1) < 3.5).all()  # their new neighbours' trails point back at them
    assert len(neighbour_trails(space_a, comparison, changed_below=0.3, max_trails=5)[0]) == 5
    everyone = gained_centroids(space_a, comparison)  # worked out once for every threshold
    for threshold in (0.2, 0.3, 0.6):
        given = neighbour_trails(space_a, comparison, threshold, 40, centroids=everyone)
        worked_out = neighbour_trails(space_a, comparison, threshold, 40)
        np.testing.assert_array_equal(given[0], worked_out[0])
        np.testing.assert_array_equal(given[1], worked_out[1])
    assert len(neighbour_trails(space_a, compare_neighbourhoods(comparison.neighbours_a, comparison.neighbours_a))[0]) == 0
