"""2-D binning for density views: every subject in range counted once, statistics per cell, hostile ranges refused."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.density import Viewport, cell_counts, cell_majority, cell_means, density_grid, in_viewport, parse_viewport


def _points(n: int = 2000, seed: int = 0) -> np.ndarray:
    points = np.random.default_rng(seed).normal(size=(n, 2)).astype(np.float32)
    points[:5] = np.nan  # subjects without coordinates in this view (a missing clinical value)
    return points


def test_every_point_with_coordinates_falls_in_one_cell_as_numpy_histogram2d_counts_them():
    points = _points()
    grid = density_grid(points, None, bins=30)
    counts = cell_counts(grid)
    assert counts.shape == (30, 30) and counts.sum() == grid.n_binned == len(points) - 5
    finite = points[5:].astype(np.float64)
    reference, _, _ = np.histogram2d(finite[:, 0], finite[:, 1], bins=[grid.x_edges, grid.y_edges])
    assert np.array_equal(counts, reference.T.astype(int))  # rows are y bins, as a heatmap's z
    assert grid.x_edges[0] == finite[:, 0].min() and grid.x_edges[-1] == finite[:, 0].max()


def test_a_viewport_bins_only_the_points_inside_it_on_a_grid_spanning_it():
    points = _points()
    viewport = Viewport((-0.5, 1.0), (0.0, 2.0))
    grid = density_grid(points, viewport, bins=10)
    inside = in_viewport(points, viewport)
    assert cell_counts(grid).sum() == inside.sum() and (grid.cells[~inside] == -1).all()
    assert grid.x_edges[0] == -0.5 and grid.x_edges[-1] == 1.0 and grid.y_edges[-1] == 2.0
    assert not in_viewport(points, None)[:5].any() and in_viewport(points, None)[5:].all()


def test_points_at_one_value_still_get_a_grid():
    grid = density_grid(np.ones((4, 2), dtype=np.float32), None, bins=4)
    assert cell_counts(grid).sum() == 4 and grid.x_edges[0] < 1 < grid.x_edges[-1]


def test_statistics_per_cell_count_only_members_and_skip_missing_values():
    points = np.array([[0.1, 0.1], [0.2, 0.2], [0.3, 0.1], [0.9, 0.9], [0.8, 0.9]], dtype=np.float32)
    grid = density_grid(points, Viewport((0, 1), (0, 1)), bins=2)
    members = np.array([True, True, False, True, True])
    assert cell_counts(grid, members).tolist() == [[2, 0], [0, 2]]
    values = np.array([1.0, 3.0, 100.0, np.nan, 4.0])
    means = cell_means(grid, values, members)
    assert means[0, 0] == 2.0 and means[1, 1] == 4.0 and np.isnan(means[0, 1])
    codes = np.array([1, 0, 1, 2, 127], dtype=np.uint8)  # 127: missing, not a category
    assert cell_majority(grid, codes, 3).tolist() == [[1, -1], [-1, 2]]
    assert cell_majority(grid, codes, 3, members).tolist() == [[0, -1], [-1, 2]]  # a tie goes to the lower code


@pytest.mark.parametrize(("payload", "message"), [
    ("0,1", "must be an object"),
    ({"x": [0, 1]}, "y range must be a list of two numbers"),
    ({"x": [0, "1"], "y": [0, 1]}, "x range must be a list of two numbers"),
    ({"x": [True, 1], "y": [0, 1]}, "x range must be a list of two numbers"),
    ({"x": [0, 1, 2], "y": [0, 1]}, "x range must be a list of two numbers"),
    ({"x": [0, 1], "y": [2, 2]}, "y range must be two different finite numbers"),
    ({"x": [0, float("inf")], "y": [0, 1]}, "x range must be two different finite numbers"),
])
def test_a_hostile_viewport_is_refused_with_what_was_wrong(payload, message):
    with pytest.raises(ValueError, match=message):
        parse_viewport(payload)


def test_a_viewport_is_read_in_either_order_and_none_means_everything():
    assert parse_viewport({"x": [2, -1], "y": [0, 1.5]}) == Viewport((-1.0, 2.0), (0.0, 1.5))
    assert parse_viewport(None) is None
