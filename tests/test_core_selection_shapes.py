"""Box and lasso shapes resolved to masks on the server."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.selection_shapes import parse_shape, points_in_box, points_in_polygon, shape_mask

GRID = np.array([[x, y] for x in range(5) for y in range(5)], dtype=np.float32)


def test_box_is_closed_order_free_and_skips_missing_coordinates():
    points = np.array([[0, 0], [1, 1], [2, 2], [np.nan, 1]], dtype=np.float32)
    assert points_in_box(points, (2, 1), (0.5, 2)).tolist() == [False, True, True, False]


def test_polygon_matches_a_brute_force_even_odd_count_on_random_points():
    rng = np.random.default_rng(1)
    points = rng.uniform(-2, 2, size=(4000, 2))
    angles = np.linspace(0, 2 * np.pi, 9)[:-1]
    radii = np.where(np.arange(8) % 2, 0.6, 1.6)  # a star: not convex
    xs, ys = radii * np.cos(angles), radii * np.sin(angles)
    mask = points_in_polygon(points, xs, ys)
    expected = []
    for px, py in points:
        crossings = 0
        for i in range(8):
            x0, y0, x1, y1 = xs[i], ys[i], xs[(i + 1) % 8], ys[(i + 1) % 8]
            if (y0 > py) != (y1 > py) and px < x0 + (py - y0) * (x1 - x0) / (y1 - y0):
                crossings += 1
        expected.append(crossings % 2 == 1)
    assert mask.tolist() == expected and 0 < mask.sum() < len(points)


def test_a_triangle_lasso_on_a_grid():
    shape = parse_shape({"kind": "lasso", "x": [-0.5, 4.5, -0.5], "y": [-0.5, -0.5, 4.5]})
    inside = {tuple(p) for p in GRID[shape_mask(GRID, shape)].astype(int).tolist()}
    assert inside == {(x, y) for x in range(5) for y in range(5) if x + y <= 3}


@pytest.mark.parametrize("payload, message", [
    ([1, 2], "must be an object"),
    ({"kind": "circle", "x": [0, 1], "y": [0, 1]}, "'box' or 'lasso'"),
    ({"kind": "box", "x": [0, "1"], "y": [0, 1]}, "list of numbers"),
    ({"kind": "box", "x": [0, 1, 2], "y": [0, 1, 2]}, "needs 2 to 2 vertices"),
    ({"kind": "lasso", "x": [0, 1, 2], "y": [0, 1]}, "3 x but 2 y"),
    ({"kind": "box", "x": [0, float("inf")], "y": [0, 1]}, "finite"),
    ({"kind": "box", "x": [0, True], "y": [0, 1]}, "list of numbers"),
])
def test_malformed_shapes_are_refused_with_what_was_expected(payload, message):
    with pytest.raises(ValueError, match=message):
        parse_shape(payload)
