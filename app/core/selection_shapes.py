"""Box and lasso selections as shapes in a view's data coordinates, resolved to masks on the server.

The browser sends the shape (a few numbers, whatever the number of points inside), never the
points; the server already holds the view's coordinates and computes who is inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LASSO_VERTICES = 5000


@dataclass(frozen=True)
class SelectionShape:
    """A box (two corners) or a lasso (closed polygon, vertices in order) in data coordinates."""

    kind: str  # "box" or "lasso"
    xs: tuple[float, ...]
    ys: tuple[float, ...]

    def to_json(self) -> dict:
        return {"kind": self.kind, "x": list(self.xs), "y": list(self.ys)}


def parse_shape(payload: object) -> SelectionShape:
    """A shape from what a browser sent; ValueError saying what was wrong otherwise."""
    if not isinstance(payload, dict):
        raise ValueError(f"a selection shape must be an object with kind, x and y, not {type(payload).__name__}")
    kind = payload.get("kind")
    if kind not in ("box", "lasso"):
        raise ValueError(f"selection shape kind must be 'box' or 'lasso', not {kind!r}")
    coordinates = []
    for axis in ("x", "y"):
        values = payload.get(axis)
        if not isinstance(values, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise ValueError(f"selection shape {axis} must be a list of numbers")
        if not np.isfinite(np.asarray(values, dtype=float)).all():
            raise ValueError(f"selection shape {axis} must be finite numbers")
        coordinates.append(tuple(float(v) for v in values))
    xs, ys = coordinates
    if len(xs) != len(ys):
        raise ValueError(f"selection shape has {len(xs)} x but {len(ys)} y values")
    expected = (2, 2) if kind == "box" else (3, MAX_LASSO_VERTICES)
    if not expected[0] <= len(xs) <= expected[1]:
        raise ValueError(f"a {kind} needs {expected[0]} to {expected[1]} vertices, got {len(xs)}")
    return SelectionShape(kind, xs, ys)


def points_in_box(coordinates: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float]) -> np.ndarray:
    """Mask of the (N, 2) points inside the closed box; NaN coordinates are outside."""
    x, y = coordinates[:, 0], coordinates[:, 1]
    (x_low, x_high), (y_low, y_high) = sorted(x_range), sorted(y_range)
    return (x >= x_low) & (x <= x_high) & (y >= y_low) & (y <= y_high)


def points_in_polygon(coordinates: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Mask of the (N, 2) points inside the polygon (even-odd rule, as Plotly's lasso), NaN outside.

    Vectorised over points, one pass per edge, and only over points inside the polygon's bounding box.
    """
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    candidates = np.flatnonzero(points_in_box(coordinates, (xs.min(), xs.max()), (ys.min(), ys.max())))
    px, py = coordinates[candidates, 0].astype(float), coordinates[candidates, 1].astype(float)
    inside = np.zeros(len(candidates), dtype=bool)
    for x0, y0, x1, y1 in zip(xs, ys, np.roll(xs, -1), np.roll(ys, -1)):
        if y0 == y1:
            continue
        crosses = (y0 > py) != (y1 > py)
        inside ^= crosses & (px < x0 + (py - y0) * (x1 - x0) / (y1 - y0))
    mask = np.zeros(len(coordinates), dtype=bool)
    mask[candidates[inside]] = True
    return mask


def shape_mask(coordinates: np.ndarray, shape: SelectionShape) -> np.ndarray:
    """Who is inside the shape."""
    if shape.kind == "box":
        return points_in_box(coordinates, shape.xs, shape.ys)
    return points_in_polygon(coordinates, np.asarray(shape.xs), np.asarray(shape.ys))
