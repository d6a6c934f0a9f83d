"""Two latent spaces' neighbourhoods compared, from the neighbour lists cached on disk.

Here rather than in the Compare spaces panel because a selection can name a range of overlap, or a
shape drawn on one frame of the overlap map (``app.state``): it is resolved on these cached lists and
layouts, so it travels as a few words whatever its size.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from app.context import AppContext
from app.core.alignment import fit_alignment, transition_fractions, transition_frame
from app.core.array_cache import ArrayCache
from app.core.neighbours import NeighbourCache, NeighbourComparison, compare_neighbourhoods, gained_centroids, kept_both_ways, resolved_method
from app.core.projections import ProjectionSpec


def neighbour_cache(context: AppContext) -> NeighbourCache:
    return NeighbourCache(Path(context.config.cache_dir) / "neighbours")


@lru_cache(maxsize=4)
def _compared(folder: str, fingerprint_a: str, fingerprint_b: str, k: int, metric: str, method: str) -> NeighbourComparison | None:
    """The comparison from cached neighbour lists; kept in memory for the last few (O(n·k) each).

    What each list kept of the other is stored beside the lists, worked out by the first process that
    needs it: 10 of the 15 s a fresh server took to open Compare spaces at a million subjects.
    """
    cache = NeighbourCache(Path(folder))
    neighbours_a, neighbours_b = cache.get(fingerprint_a, k, metric, method), cache.get(fingerprint_b, k, metric, method)
    if neighbours_a is None or neighbours_b is None:
        return None
    kept_cache = ArrayCache(Path(folder), dtype=bool)
    path = kept_cache.path_for(fingerprint_a, "kept", {"b": fingerprint_b, "k": int(k), "metric": metric, "method": method})
    kept = kept_cache.read_or_compute(path, lambda: kept_both_ways(neighbours_a, neighbours_b))
    return compare_neighbourhoods(neighbours_a, neighbours_b, kept)


def load_comparison(context: AppContext, space_a: str, space_b: str, k: int, metric: str, compute: bool = False,
                    progress=None) -> NeighbourComparison | None:
    """Both spaces' neighbours compared, from the disk cache; computed first when ``compute`` (else None if missing)."""
    method = resolved_method(context.n_subjects)
    cache = neighbour_cache(context)
    fingerprints = context.space_fingerprints
    if compute:
        for step, space in enumerate((space_a, space_b)):
            report = None if progress is None else (lambda done, step=step, space=space: progress((step + done) / 2, space))
            cache.get_or_compute(context.cohort.spaces[space], fingerprints[space], k, metric, method, report)
    if not all(cache.path_for(fingerprints[space], k, metric, method).is_file() for space in (space_a, space_b)):
        return None  # not computed yet (and not remembered as missing)
    return _compared(str(cache.folder), fingerprints[space_a], fingerprints[space_b], k, metric, method)


def stored_gained_centroids(context: AppContext, space_a: str, space_b: str, method: str, k: int, metric: str, layout_a: np.ndarray,
                            comparison: NeighbourComparison) -> np.ndarray:
    """Every subject's gained-neighbour centroid on A's ``method`` layout (what trails point to), stored beside the neighbour lists.

    50 million neighbour coordinates gathered at a million subjects: 3 s on every fresh server's first
    map, for any trail threshold, since the threshold only chooses among them.
    """
    cache = ArrayCache(neighbour_cache(context).folder, dtype=np.float32)
    fingerprints = context.space_fingerprints
    parameters = {"b": fingerprints[space_b], "k": int(k), "metric": metric, "method": resolved_method(context.n_subjects),
                  "layout": ProjectionSpec(method=method).key_parameters()}
    return cache.read_or_compute(cache.path_for(fingerprints[space_a], "centroids", parameters), lambda: gained_centroids(layout_a, comparison))


def in_overlap_range(overlap: np.ndarray, brushed: tuple[float, float]) -> np.ndarray:
    """Mask of the subjects whose overlap lies in the closed range ``brushed`` (what a brush on the histogram shows and selects)."""
    return (overlap >= brushed[0]) & (overlap <= brushed[1])


def aligned_layouts(context: AppContext, space_a: str, space_b: str, method: str, align_rows: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """A's projection and B's projection rotated/reflected/scaled onto it (fitted on ``align_rows`` if given)."""
    spec = ProjectionSpec(method=method)
    layout_a, layout_b = context.cached_projection(space_a, spec), context.cached_projection(space_b, spec)
    if layout_a is None or layout_b is None:
        return None
    if align_rows is None or len(align_rows) < 3:
        return layout_a, _aligned_on_everyone(context, space_a, space_b, method)
    return layout_a, fit_alignment(layout_b, layout_a, subset=align_rows).apply(layout_b)


@lru_cache(maxsize=4)
def _aligned_on_everyone(context: AppContext, space_a: str, space_b: str, method: str) -> np.ndarray:
    """B's layout aligned onto A's, fitted on everyone, once per pair (read-only; both layouts are computed).

    Every callback that reads a selection drawn on one of the map's frames works the frame out from it:
    fitting again took 23 ms of each at 100,000 subjects.
    """
    spec = ProjectionSpec(method=method)
    layout_b = context.cached_projection(space_b, spec)
    aligned = fit_alignment(layout_b, context.cached_projection(space_a, spec)).apply(layout_b)
    aligned.flags.writeable = False
    return aligned


def transition_frame_count(n_subjects: int) -> int:
    """Frames of the overlap map's A → B animation: fewer for large cohorts, as each carries every subject."""
    return 5 if n_subjects > 20_000 else 9


def transition_layout(context: AppContext, space_a: str, space_b: str, method: str, frame: int) -> np.ndarray | None:
    """The coordinates the overlap map draws on ``frame`` (B aligned on everyone); None until both layouts are computed."""
    layouts = aligned_layouts(context, space_a, space_b, method)
    return None if layouts is None else transition_frame(*layouts, transition_fractions(transition_frame_count(context.n_subjects))[frame])
