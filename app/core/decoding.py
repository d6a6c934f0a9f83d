"""Latent-space maths behind the decoder panel: prototypes, directions, perturbations, interpolations,
and measures of how well a reconstruction agrees with the truth.

Everything here takes and returns numpy arrays; nothing knows about Dash or the model, so it is
tested on its own and the panel's callbacks only glue it to the decoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from data_loaders.mri_measures import fractional_area_change, lv_area_curves

PROTOTYPE_KINDS = ("mean", "medoid")
MEDOID_CANDIDATES = 256  # the medoid is sought among this many subjects nearest the mean (exact for smaller cohorts)


def cohort_prototype(latents: np.ndarray, mask: np.ndarray, kind: str = "mean") -> np.ndarray:
    """The latent that stands for a cohort: its mean, or its medoid (a real subject's latent)."""
    if kind not in PROTOTYPE_KINDS:
        raise ValueError(f"prototype kind must be one of {PROTOTYPE_KINDS}, got {kind!r}")
    members = np.asarray(latents, dtype=np.float64)[np.asarray(mask, dtype=bool)]
    if len(members) == 0:
        raise ValueError("a prototype needs at least one subject in the cohort")
    if kind == "mean":
        return members.mean(axis=0).astype(np.float32)
    return members[medoid_index(members)].astype(np.float32)


def medoid_index(latents: np.ndarray, candidates: int = MEDOID_CANDIDATES) -> int:
    """Row of the subject with the smallest summed Euclidean distance to all others.

    Only the ``candidates`` subjects nearest the mean are tried, so a 100,000-subject cohort costs
    ``candidates × N`` distances, not N²; the medoid lies near the mean unless the cohort is very skewed.
    """
    latents = np.asarray(latents, dtype=np.float64)
    if len(latents) == 0:
        raise ValueError("the medoid of no subjects is undefined")
    to_mean = np.linalg.norm(latents - latents.mean(axis=0), axis=1)
    tried = np.argsort(to_mean, kind="stable")[: max(1, candidates)]
    squared = (latents**2).sum(axis=1)
    distances = np.sqrt(np.maximum(squared[tried, None] + squared[None, :] - 2 * latents[tried] @ latents.T, 0.0))
    return int(tried[np.argmin(distances.sum(axis=1))])


_CENTRE_CHUNK = 65_536  # rows widened to float64 at a time by closest_to_centre


def closest_to_centre(latents: np.ndarray, rows: Sequence[int] | np.ndarray, count: int) -> np.ndarray:
    """Of ``rows``, the ``count`` subjects whose latents lie nearest the group's mean, nearest first (ties: in ``rows`` order)."""
    rows = np.asarray(rows, dtype=np.intp)
    if len(rows) == 0 or count <= 0:
        return rows[:0]
    # In chunks of rows, summed with a float64 accumulator and widened to float64 one chunk at a time:
    # converting the whole space first took seconds and gigabytes at a million subjects.
    chunks = [rows[start : start + _CENTRE_CHUNK] for start in range(0, len(rows), _CENTRE_CHUNK)]
    centre = sum(latents[chunk].sum(axis=0, dtype=np.float64) for chunk in chunks) / len(rows)
    squared = np.empty(len(rows))
    for start, chunk in zip(range(0, len(rows), _CENTRE_CHUNK), chunks):
        offset = latents[chunk].astype(np.float64)
        offset -= centre
        squared[start : start + len(chunk)] = np.einsum("ij,ij->i", offset, offset)
    # Only the nearest few are ordered: a full sort of a million distances is most of a second.
    if count < len(rows):
        cutoff = np.partition(squared, count - 1)[count - 1]
        candidates = np.flatnonzero(squared <= cutoff)
    else:
        candidates = np.arange(len(rows))
    nearest = candidates[np.lexsort((candidates, squared[candidates]))][:count]
    return rows[nearest]


@dataclass(frozen=True)
class Direction:
    """A unit vector in a latent space and the population's standard deviation along it (the slider's unit)."""

    name: str
    vector: np.ndarray
    spread: float

    def step(self, amount_sd: float) -> np.ndarray:
        """The latent offset of ``amount_sd`` population SDs along the direction."""
        return (amount_sd * self.spread * self.vector).astype(np.float32)


def direction(name: str, vector: np.ndarray, latents: np.ndarray) -> Direction:
    """Normalise ``vector`` and measure the population's spread along it."""
    vector = np.asarray(vector, dtype=np.float64)
    norm = np.linalg.norm(vector)
    if not np.isfinite(norm) or norm == 0:
        raise ValueError(f"direction {name!r} has no length")
    unit = vector / norm
    spread = float(np.std(np.asarray(latents, dtype=np.float64) @ unit))
    return Direction(name, unit.astype(np.float32), spread if spread > 0 else 1.0)


def principal_directions(latents: np.ndarray, count: int) -> list[Direction]:
    """The first ``count`` principal components of a space, each with its SD (sign: the largest loading positive)."""
    latents = np.asarray(latents, dtype=np.float64)
    centred = latents - latents.mean(axis=0)
    _, singular, vectors = np.linalg.svd(centred, full_matrices=False)
    directions = []
    for index in range(min(count, len(singular))):
        vector = vectors[index]
        vector = vector if vector[np.argmax(np.abs(vector))] >= 0 else -vector
        spread = float(singular[index] / np.sqrt(max(len(latents) - 1, 1)))
        directions.append(Direction(f"PC {index + 1}", vector.astype(np.float32), spread if spread > 0 else 1.0))
    return directions


def cohort_difference(latents: np.ndarray, mask_a: np.ndarray, mask_b: np.ndarray, name: str = "A − B") -> Direction:
    """From cohort B's mean towards cohort A's (ml4h's explorations): unit vector, population SD along it."""
    mean_a = cohort_prototype(latents, mask_a)
    mean_b = cohort_prototype(latents, mask_b)
    return direction(name, mean_a - mean_b, latents)


def perturb(latent: np.ndarray, directions: Sequence[Direction], amounts_sd: Sequence[float]) -> np.ndarray:
    """A latent moved by each direction's amount (in population SDs); the start is left untouched."""
    if len(directions) != len(amounts_sd):
        raise ValueError(f"{len(directions)} directions but {len(amounts_sd)} amounts")
    moved = np.array(latent, dtype=np.float32, copy=True)
    for chosen, amount in zip(directions, amounts_sd):
        moved += chosen.step(float(amount))
    return moved


def interpolate(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` latents (steps, d) evenly spaced on the straight line from ``start`` to ``end``, both included."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    start, end = np.asarray(start, dtype=np.float32), np.asarray(end, dtype=np.float32)
    if start.shape != end.shape or start.ndim != 1:
        raise ValueError(f"start and end must be latent vectors of one length, got {start.shape} and {end.shape}")
    fractions = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return (1 - fractions) * start + fractions * end


@dataclass(frozen=True)
class CineAgreement:
    """How a decoded cine's LV cavity follows the truth's over the cycle."""

    truth_area: np.ndarray  # (frames,) pixels
    decoded_area: np.ndarray
    curve_correlation: float  # Pearson r of the two area curves: their shape only
    area_error_pct: float  # mean |decoded − truth| over the cycle, in % of the truth's mean area: the size r cannot see
    truth_fac: float  # fractional area change
    decoded_fac: float


def cine_agreement(truth: np.ndarray, decoded: np.ndarray, truth_curves: np.ndarray | None = None) -> list[CineAgreement]:
    """Per subject, the LV cavity area curves of truth and reconstruction and how they agree.

    ``truth_curves``: the truth's curves when already measured (a recording's never change).
    """
    truth_curves = lv_area_curves(truth) if truth_curves is None else truth_curves
    decoded_curves = lv_area_curves(decoded)
    results = []
    for truth_area, decoded_area in zip(truth_curves, decoded_curves):
        r = _correlation(truth_area, decoded_area)
        results.append(CineAgreement(truth_area, decoded_area, r, area_error(truth_area, decoded_area), area_change(truth_area), area_change(decoded_area)))
    return results


def area_error(truth_area: np.ndarray, decoded_area: np.ndarray) -> float:
    """Mean absolute difference of two area curves, in % of the truth's mean area; NaN when either has gaps or no area."""
    if not (np.isfinite(truth_area).all() and np.isfinite(decoded_area).all()) or np.mean(truth_area) <= 0:
        return float("nan")
    return float(100 * np.mean(np.abs(decoded_area - truth_area)) / np.mean(truth_area))


def area_change(curve: np.ndarray) -> float:
    """Fractional area change of one area curve; NaN when the curve has gaps."""
    return float(fractional_area_change(curve[None])[0]) if np.isfinite(curve).all() else float("nan")


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if not (np.isfinite(a).all() and np.isfinite(b).all()) or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
