"""Align one 2-D layout to another (Procrustes / Kabsch) so the same subject sits in comparable places.

Projections of different spaces are arbitrary up to rotation, reflection, scale and shift: PCA's
signs flip, UMAP's orientation is random. The best rotation (optionally with reflection), uniform
scale and shift of B onto A, fitted on all subjects or only on a selected subset, removes that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Alignment:
    """x ↦ scale · (x − source_centre) @ rotation + target_centre."""

    rotation: np.ndarray  # (2, 2) orthogonal
    scale: float
    source_centre: np.ndarray
    target_centre: np.ndarray

    @property
    def reflects(self) -> bool:
        return bool(np.linalg.det(self.rotation) < 0)

    def apply(self, coordinates: np.ndarray) -> np.ndarray:
        return (self.scale * (np.asarray(coordinates, dtype=np.float64) - self.source_centre) @ self.rotation + self.target_centre).astype(np.float32)


def fit_alignment(source: np.ndarray, target: np.ndarray, subset: np.ndarray | None = None, allow_reflection: bool = True,
                  allow_scale: bool = True) -> Alignment:
    """The rotation (and reflection), scale and shift that bring ``source`` closest to ``target`` (least squares, Kabsch).

    ``subset`` (row indices or a mask) fits on those subjects only, e.g. a selection the user wants
    to see in the same place in both layouts; the transform still applies to everyone.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2:
        raise ValueError(f"layouts must have the same (n, d) shape, got {source.shape} and {target.shape}")
    rows = np.arange(len(source)) if subset is None else np.asarray(subset)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    finite = np.isfinite(source[rows]).all(axis=1) & np.isfinite(target[rows]).all(axis=1)
    rows = rows[finite]
    if len(rows) < 2:
        raise ValueError("an alignment needs at least two subjects with coordinates in both layouts")
    fitted_source, fitted_target = source[rows], target[rows]
    source_centre, target_centre = fitted_source.mean(axis=0), fitted_target.mean(axis=0)
    centred_source, centred_target = fitted_source - source_centre, fitted_target - target_centre
    u, singular, vt = np.linalg.svd(centred_source.T @ centred_target)
    if not allow_reflection and np.linalg.det(u @ vt) < 0:
        u[:, -1] *= -1
        singular = singular.copy()
        singular[-1] *= -1
    rotation = u @ vt
    spread = float((centred_source**2).sum())
    scale = float(singular.sum() / spread) if allow_scale and spread > 0 else 1.0
    return Alignment(rotation, scale, source_centre, target_centre)


def align_layout(source: np.ndarray, target: np.ndarray, subset: np.ndarray | None = None, allow_reflection: bool = True) -> np.ndarray:
    """``source`` moved onto ``target`` by the best-fitting rotation/reflection, scale and shift."""
    return fit_alignment(source, target, subset, allow_reflection).apply(source)


def transition_fractions(steps: int) -> list[float]:
    """Each of ``steps`` frames' share of the way from one layout to the other, eased in and out (0 first, 1 last)."""
    if steps < 2:
        raise ValueError("a transition needs at least two frames")
    return [float((1 - np.cos(np.pi * index / (steps - 1))) / 2) for index in range(steps)]


def transition_frame(start: np.ndarray, end: np.ndarray, fraction: float) -> np.ndarray:
    """The layout ``fraction`` of the way from ``start`` to ``end``.

    Worked out in double precision and rounded to float32, exactly as the browser draws the overlap
    map's frames from the two layouts (assets/compare_spaces.js): a shape drawn on a frame is resolved
    here on the very coordinates drawn, bit for bit.
    """
    return ((1 - fraction) * np.asarray(start, dtype=np.float64) + fraction * np.asarray(end, dtype=np.float64)).astype(np.float32)


def transition_frames(start: np.ndarray, end: np.ndarray, steps: int) -> list[np.ndarray]:
    """Layouts on the straight path from ``start`` to ``end`` (both included), eased in and out."""
    return [transition_frame(start, end, fraction) for fraction in transition_fractions(steps)]
