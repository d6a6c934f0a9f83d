"""2-D binning of a view's points, so a view of a million subjects can be drawn as a density image.

Every subject with coordinates in range falls in exactly one cell (none is sampled away); the
statistics per cell (count, mean, share, majority) are ``np.bincount`` over the flat cell index.
The viewport is the axis range the user zoomed to, sent by the browser and checked here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Viewport:
    """The axis ranges a view shows, in its data coordinates (low < high)."""

    x: tuple[float, float]
    y: tuple[float, float]

    def to_json(self) -> dict:
        return {"x": list(self.x), "y": list(self.y)}


def parse_viewport(payload: object) -> Viewport | None:
    """A viewport from what a browser sent (``{"x": [a, b], "y": [c, d]}``), None for the full extent.

    ValueError says what was wrong with anything else.
    """
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise ValueError(f"a view's range must be an object with x and y, not {type(payload).__name__}")
    ranges = []
    for axis in ("x", "y"):
        values = payload.get(axis)
        if (not isinstance(values, list) or len(values) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)):
            raise ValueError(f"a view's {axis} range must be a list of two numbers")
        low, high = sorted(float(v) for v in values)
        if not (np.isfinite(low) and np.isfinite(high)) or low == high:
            raise ValueError(f"a view's {axis} range must be two different finite numbers")
        ranges.append((low, high))
    return Viewport(*ranges)


def in_viewport(coordinates: np.ndarray, viewport: Viewport | None) -> np.ndarray:
    """Mask of the (N, 2) points drawn in the viewport (all with finite coordinates when it is None)."""
    x, y = coordinates[:, 0], coordinates[:, 1]
    if viewport is None:
        return np.isfinite(x) & np.isfinite(y)
    return (x >= viewport.x[0]) & (x <= viewport.x[1]) & (y >= viewport.y[0]) & (y <= viewport.y[1])


@dataclass(frozen=True)
class DensityGrid:
    """Which cell of a ``bins × bins`` grid each point falls in (-1: outside the grid)."""

    x_edges: np.ndarray
    y_edges: np.ndarray
    cells: np.ndarray  # int64 per point: row-major index y_bin * n_x + x_bin, or -1

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) = (y bins, x bins), as a heatmap's z."""
        return len(self.y_edges) - 1, len(self.x_edges) - 1

    @property
    def n_binned(self) -> int:
        return int((self.cells >= 0).sum())


def _edges(values: np.ndarray, limits: tuple[float, float] | None, bins: int) -> np.ndarray:
    if limits is None:
        low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    else:
        low, high = limits
    if high <= low:  # every point at one value: a unit-wide range around it
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value; the top edge belongs to the last bin, as in np.histogram."""
    bins = len(edges) - 1
    index = np.floor((values - edges[0]) / (edges[-1] - edges[0]) * bins).astype(np.int64)
    return np.minimum(index, bins - 1)


def density_grid(coordinates: np.ndarray, viewport: Viewport | None, bins: int) -> DensityGrid:
    """Bin the points in the viewport (all finite points when None) on a ``bins × bins`` grid spanning it."""
    inside = in_viewport(coordinates, viewport)
    x, y = coordinates[inside, 0].astype(np.float64), coordinates[inside, 1].astype(np.float64)
    x_edges = _edges(x, None if viewport is None else viewport.x, bins)
    y_edges = _edges(y, None if viewport is None else viewport.y, bins)
    cells = np.full(len(coordinates), -1, dtype=np.int64)
    cells[inside] = _bin(y, y_edges) * bins + _bin(x, x_edges)
    return DensityGrid(x_edges, y_edges, cells)


def _counted(grid: DensityGrid, members: np.ndarray | None) -> np.ndarray:
    """Mask of the points counted: binned, and in ``members`` when given."""
    return grid.cells >= 0 if members is None else (grid.cells >= 0) & members


def cell_counts(grid: DensityGrid, members: np.ndarray | None = None) -> np.ndarray:
    """Subjects per cell, (rows, columns); ``members``: count only those (a mask over points)."""
    counted = _counted(grid, members)
    n_cells = grid.shape[0] * grid.shape[1]
    return np.bincount(grid.cells[counted], minlength=n_cells).reshape(grid.shape)


def cell_means(grid: DensityGrid, values: np.ndarray, members: np.ndarray | None = None) -> np.ndarray:
    """Mean of ``values`` per cell over its counted points with a finite value; NaN where there is none."""
    counted = _counted(grid, members) & np.isfinite(values)
    n_cells = grid.shape[0] * grid.shape[1]
    totals = np.bincount(grid.cells[counted], weights=values[counted], minlength=n_cells)
    counts = np.bincount(grid.cells[counted], minlength=n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = totals / counts
    return means.reshape(grid.shape)


def cell_majority(grid: DensityGrid, codes: np.ndarray, n_codes: int, members: np.ndarray | None = None) -> np.ndarray:
    """The most common code (0..n_codes-1; others ignored) per cell, the lowest on a tie; -1 where there is none."""
    counted = _counted(grid, members) & (codes < n_codes)
    n_cells = grid.shape[0] * grid.shape[1]
    tallies = np.bincount(grid.cells[counted] * n_codes + codes[counted].astype(np.int64), minlength=n_cells * n_codes)
    tallies = tallies.reshape(n_cells, n_codes)
    majority = tallies.argmax(axis=1)
    majority[tallies.sum(axis=1) == 0] = -1
    return majority.reshape(grid.shape)
