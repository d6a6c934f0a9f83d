"""Nearest neighbours in full-dimensional latent spaces and how two spaces' neighbourhoods differ.

For two spaces over the same subjects, each subject's k nearest neighbours (Euclidean or cosine,
never in the 2-D projection) and the Jaccard overlap of its two k-sets; the neighbours it gained
and lost; a summary over a cohort; and groups of subjects whose neighbourhoods changed alike.

Everything stays O(n·k) in memory: neighbour lists are (n, k) integer arrays, distances are
computed block by block, and no n × n matrix is ever built. Small cohorts get exact neighbours;
large ones an inverted-file search (k-means cells, exact distances within the few nearest cells),
which on two shared CPU cores is far faster than NN-descent and measured against exact in tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from app.core.array_cache import ArrayCache

Metric = Literal["cosine", "euclidean"]
METRICS: dict[str, str] = {"cosine": "Cosine", "euclidean": "Euclidean"}
Method = Literal["auto", "exact", "approximate"]
DEFAULT_K = 50  # as in the Embedding Comparator
MAX_K = 250
TRAIL_CHUNK_ROWS = 20_000  # subjects whose trail targets are worked out at once (k × 2 coordinates each)
EXACT_LIMIT = 5_000  # subjects: above this, the approximate search is the default
NEIGHBOUR_THREADS_VARIABLE = "LSE_NEIGHBOUR_THREADS"  # cells searched side by side, one BLAS thread each (checked by app.config at start)
DEFAULT_SEARCH_THREADS = 4
# A cell is also compared with the cells its members have as second-nearest, the most frequent first, up to this many:
# on structured spaces they are few and all are kept (recall 0.998 at 50,000, as with no cap); on a space with
# little cluster structure they are nearly every cell, and without the cap the search was slower than an exact one.
MAX_BORDER_CELLS = 16
CELL_FACTOR = 0.5  # about √n / 2 cells: cells of ~2√n subjects
BLOCK_BYTES = 64 * 2**20  # distance blocks are at most this large, whatever n is

Progress = Callable[[float], None]


def prepared(matrix: np.ndarray, metric: Metric) -> np.ndarray:
    """float32 rows, unit-length for cosine: cosine neighbours are then Euclidean neighbours."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(METRICS)}")
    data = np.ascontiguousarray(matrix, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"a latent space is an (n, d) matrix, got shape {data.shape}")
    if metric == "cosine":
        norms = np.linalg.norm(data, axis=1, keepdims=True)
        data = data / np.where(norms > 0, norms, 1.0)
    return data


def _check_k(k: int, n: int) -> int:
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")
    if n < 2:
        raise ValueError("nearest neighbours need at least two subjects")
    return min(int(k), n - 1)


def _top_k(distances: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Per row, the k candidates with the smallest distances, nearest first (ties by index).

    The selection is torch's top-k (a partial selection in compiled code, GIL released): on rows of
    60,000 candidates it took a tenth of the time of numpy's ``argpartition``, which was four fifths of
    the whole search at a million subjects.
    """
    if distances.shape[1] > k:
        import torch  # a dependency already (the decoders); imported here so that the core stays importable fast

        selected = torch.topk(torch.from_numpy(distances), k, dim=1, largest=False, sorted=False)
        part, part_distances = selected.indices.numpy(), selected.values.numpy()
    else:
        part = np.broadcast_to(np.arange(distances.shape[1]), distances.shape)
        part_distances = distances
    chosen = candidates[part] if candidates.ndim == 1 else np.take_along_axis(candidates, part, axis=1)
    order = np.lexsort((chosen, part_distances), axis=1)
    return np.take_along_axis(chosen, order, axis=1)


def _block_distances(queries: np.ndarray, query_norms: np.ndarray, points: np.ndarray, point_norms: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances by one matrix product: |q|² − 2 q·p + |p|²."""
    distances = queries @ points.T
    distances *= -2.0
    distances += query_norms[:, None]
    distances += point_norms[None, :]
    return distances


def exact_neighbours(matrix: np.ndarray, k: int, metric: Metric = "euclidean", progress: Progress | None = None) -> np.ndarray:
    """Every subject's k nearest other subjects, (n, k) int32, nearest first: brute force, a block of rows at a time.

    Each block goes through scikit-learn's chunked k-nearest search (matrix products and a heap,
    in compiled code), so memory stays at ``BLOCK_BYTES`` of distances whatever n is.
    """
    from sklearn import config_context
    from sklearn.neighbors import NearestNeighbors

    data = prepared(matrix, metric)
    n = len(data)
    k = _check_k(k, n)
    index = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric="euclidean").fit(data)
    block = max(1, min(n, BLOCK_BYTES // (4 * n)))
    result = np.empty((n, k), dtype=np.int32)
    with config_context(working_memory=max(BLOCK_BYTES / 2**20, 1e-3)):
        for start in range(0, n, 8 * block):
            stop = min(n, start + 8 * block)
            found = index.kneighbors(data[start:stop], return_distance=False)
            is_self = found == np.arange(start, stop)[:, None]
            found = np.take_along_axis(found, np.argsort(is_self, axis=1, kind="stable"), axis=1)  # oneself last, then dropped
            result[start:stop] = found[:, :k]
            if progress:
                progress(stop / n)
    return result


def _kmeans_cells(data: np.ndarray, norms: np.ndarray, n_cells: int, seed: int, iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Cell centroids (Lloyd's k-means on a sample, by matrix products) and every subject's cell."""
    rng = np.random.default_rng(seed)
    sample = data[rng.choice(len(data), size=min(len(data), 25 * n_cells), replace=False)]
    sample_norms = np.einsum("ij,ij->i", sample, sample)
    centroids = sample[rng.choice(len(sample), size=n_cells, replace=False)].copy()
    for _ in range(iterations):
        assigned = np.argmin(_block_distances(sample, sample_norms, centroids, np.einsum("ij,ij->i", centroids, centroids)), axis=1)
        onehot = np.zeros((len(sample), n_cells), dtype=np.float32)
        onehot[np.arange(len(sample)), assigned] = 1.0
        counts, sums = onehot.sum(axis=0), onehot.T @ sample
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    centroid_norms = np.einsum("ij,ij->i", centroids, centroids)
    nearest = np.empty((len(data), 2), dtype=np.int32)
    step = max(1, BLOCK_BYTES // (4 * n_cells))
    for start in range(0, len(data), step):
        stop = min(len(data), start + step)
        distances = _block_distances(data[start:stop], norms[start:stop], centroids, centroid_norms)
        if n_cells > 2:
            two = np.argpartition(distances, 1, axis=1)[:, :2]
            swap = np.take_along_axis(distances, two, axis=1)
            nearest[start:stop] = np.where((swap[:, :1] <= swap[:, 1:]), two, two[:, ::-1])
        else:
            nearest[start:stop] = np.argsort(distances, axis=1)[:, :2] if n_cells == 2 else 0
    return centroids, nearest


def approximate_neighbours(matrix: np.ndarray, k: int, metric: Metric = "euclidean", n_probe: int = 4, seed: int = 0,
                           progress: Progress | None = None) -> np.ndarray:
    """Approximate k nearest neighbours, (n, k) int32, nearest first: an inverted-file search.

    Subjects are split into about √n / 2 k-means cells. The subjects of a cell are compared exactly
    with everyone in the ``n_probe`` cells nearest to that cell and in its members' second-nearest
    cells (subjects on a border; the ``MAX_BORDER_CELLS`` most frequent, while the candidates stay within
    about as many subjects as that many average cells hold): one matrix product and one
    partition per cell, a block at a time.
    """
    from threadpoolctl import threadpool_limits  # comes with scikit-learn

    # One BLAS thread: the products here are small (a cell against a few cells), and threaded BLAS
    # on small products spins and waits; on a busy two-core machine it was five times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        return _inverted_file_search(prepared(matrix, metric), k, n_probe, seed, progress)


def _inverted_file_search(data: np.ndarray, k: int, n_probe: int, seed: int, progress: Progress | None) -> np.ndarray:
    n = len(data)
    k = _check_k(k, n)
    norms = np.einsum("ij,ij->i", data, data)
    n_cells = int(np.clip(round(np.sqrt(n) * CELL_FACTOR), 1, 2048))
    n_probe = min(n_probe, n_cells)
    centroids, nearest = _kmeans_cells(data, norms, n_cells, seed)
    cells = nearest[:, 0]
    centroid_norms = np.einsum("ij,ij->i", centroids, centroids)
    cell_probes = np.argsort(_block_distances(centroids, centroid_norms, centroids, centroid_norms), axis=1)[:, :n_probe]
    members = np.argsort(cells, kind="stable").astype(np.int32)
    bounds = np.searchsorted(cells[members], np.arange(n_cells + 1))
    result = np.empty((n, k), dtype=np.int32)

    sizes = np.diff(bounds)
    # Besides its nearest cells, a cell is compared with border cells up to about this many subjects in all:
    # k-means cells are uneven, and the most frequent border cells tend to be the largest ones.
    budget = (n_probe + MAX_BORDER_CELLS) * n / n_cells

    def search_cell(cell: int) -> None:
        queries = members[bounds[cell]:bounds[cell + 1]]
        if not len(queries):
            return
        nearest_cells = np.setdiff1d(cell_probes[cell], [cell])
        borders, counts = np.unique(nearest[queries, 1], return_counts=True)
        borders = borders[np.argsort(-counts, kind="stable")]
        borders = borders[~np.isin(borders, nearest_cells) & (borders != cell)][:MAX_BORDER_CELLS]
        within = len(queries) + sizes[nearest_cells].sum() + np.cumsum(sizes[borders]) <= budget
        probed = np.concatenate([nearest_cells, borders[within]])
        # The cell's own members first, so that a query's own column is its place among the queries.
        candidates = np.concatenate([queries] + [members[bounds[c]:bounds[c + 1]] for c in probed])
        isolated = len(candidates) <= k
        if isolated:  # compare with everyone
            candidates = np.arange(n, dtype=np.int32)
        # Gathered once per cell (not per block of queries): at a million subjects this copy was a third of the time.
        points, point_norms = (data, norms) if isolated else (data[candidates], norms[candidates])
        rows = max(1, BLOCK_BYTES // (4 * len(candidates)))
        for start in range(0, len(queries), rows):
            chunk = queries[start:start + rows]
            distances = _block_distances(data[chunk], norms[chunk], points, point_norms)
            own_columns = chunk if isolated else np.arange(start, start + len(chunk))
            distances[np.arange(len(chunk)), own_columns] = np.inf  # a subject is not its own neighbour
            result[chunk] = _top_k(distances, candidates, k)  # cells are disjoint: threads never write the same rows

    # numpy releases the GIL in the products and partitions, so cells can be searched side by side.
    threads = int(os.environ.get(NEIGHBOUR_THREADS_VARIABLE) or DEFAULT_SEARCH_THREADS)
    with ThreadPoolExecutor(max_workers=max(1, min(threads, os.cpu_count() or 1))) as pool:
        for done, _ in enumerate(pool.map(search_cell, range(n_cells)), start=1):
            if progress:
                progress(done / n_cells)
    return result


def _exact_rows(data: np.ndarray, norms: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    distances = _block_distances(data[rows], norms[rows], data, norms)
    distances[np.arange(len(rows)), rows] = np.inf
    return _top_k(distances, np.arange(len(data), dtype=np.int32), k)


def resolved_method(n_subjects: int, method: Method = "auto") -> Literal["exact", "approximate"]:
    if method == "auto":
        return "exact" if n_subjects <= EXACT_LIMIT else "approximate"
    if method not in ("exact", "approximate"):
        raise ValueError(f"unknown neighbour method {method!r}")
    return method


def nearest_neighbours(matrix: np.ndarray, k: int, metric: Metric = "euclidean", method: Method = "auto",
                       progress: Progress | None = None) -> np.ndarray:
    """Exact neighbours for small cohorts, approximate ones for large cohorts (or as asked)."""
    if resolved_method(len(matrix), method) == "exact":
        return exact_neighbours(matrix, k, metric, progress)
    return approximate_neighbours(matrix, k, metric, progress=progress)


def membership(neighbours: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(n, k) bool: is ``neighbours[i, j]`` among ``others[i]``? Row-wise, vectorised, O(n·k log k)."""
    n = len(neighbours)
    if len(others) != n:
        raise ValueError(f"the two neighbour lists cover different subjects ({n} and {len(others)})")
    offset = np.int64(max(int(neighbours.max(initial=0)), int(others.max(initial=0))) + 1)
    rows = np.arange(n, dtype=np.int64)[:, None] * offset
    haystack = np.sort((others.astype(np.int64) + rows).ravel())
    needles = (neighbours.astype(np.int64) + rows).ravel()
    found = np.searchsorted(haystack, needles)
    found = np.minimum(found, len(haystack) - 1)
    return (haystack[found] == needles).reshape(neighbours.shape)


def kept_both_ways(neighbours_a: np.ndarray, neighbours_b: np.ndarray) -> np.ndarray:
    """(n, k_a + k_b) bool: :func:`membership` both ways side by side (A's neighbours kept in B, then B's that were in A).

    One stable row-wise sort of the two lists side by side, four times faster than two global sorts
    and binary searches (21 → 5 s at a million subjects, k = 50). A subject named in both lists sorts
    into a run of two equal values, one from each list. Rows where a list names a subject twice (never
    in lists this project computes) are looked up one by one instead.
    """
    if len(neighbours_a) != len(neighbours_b):
        raise ValueError(f"the two neighbour lists cover different subjects ({len(neighbours_a)} and {len(neighbours_b)})")
    k_a = neighbours_a.shape[1]
    both = np.concatenate([neighbours_a, neighbours_b], axis=1)
    order = np.argsort(both, axis=1, kind="stable")
    values = np.take_along_axis(both, order, axis=1)
    equal = values[:, 1:] == values[:, :-1]
    from_b = order >= k_a
    found = np.zeros(both.shape, dtype=bool)
    found[:, 1:] |= equal
    found[:, :-1] |= equal
    kept = np.empty_like(found)
    np.put_along_axis(kept, order, found, axis=1)
    repeated = np.flatnonzero((equal & (from_b[:, 1:] == from_b[:, :-1])).any(axis=1))
    if len(repeated):
        kept[repeated, :k_a] = membership(neighbours_a[repeated], neighbours_b[repeated])
        kept[repeated, k_a:] = membership(neighbours_b[repeated], neighbours_a[repeated])
    return kept


@dataclass(frozen=True)
class NeighbourComparison:
    """Both spaces' neighbour lists, which neighbours each kept, and each subject's overlap (Jaccard)."""

    neighbours_a: np.ndarray
    neighbours_b: np.ndarray
    in_b: np.ndarray = field(repr=False)  # neighbours_a[i, j] is also a neighbour in B
    in_a: np.ndarray = field(repr=False)  # neighbours_b[i, j] is also a neighbour in A
    overlap: np.ndarray = field(repr=False)

    @property
    def n_subjects(self) -> int:
        return len(self.overlap)

    @property
    def k(self) -> int:
        return int(self.neighbours_a.shape[1])

    def shared(self, row: int) -> np.ndarray:
        return self.neighbours_a[row][self.in_b[row]]

    def lost(self, row: int) -> np.ndarray:
        """Neighbours in A that are not neighbours in B."""
        return self.neighbours_a[row][~self.in_b[row]]

    def gained(self, row: int) -> np.ndarray:
        """Neighbours in B that were not neighbours in A."""
        return self.neighbours_b[row][~self.in_a[row]]

    @cached_property
    def suggested_groups(self) -> list[SuggestedGroup]:
        """:func:`suggest_groups` with its defaults, worked out once: the overview asks again with every selection or brush."""
        return suggest_groups(self)


def compare_neighbourhoods(neighbours_a: np.ndarray, neighbours_b: np.ndarray, kept: np.ndarray | None = None) -> NeighbourComparison:
    """Jaccard overlap |A ∩ B| / |A ∪ B| of each subject's two neighbour sets, with what was kept.

    ``kept`` is :func:`kept_both_ways` of the two lists when already worked out (e.g. read from disk).
    """
    if neighbours_a.shape[0] != neighbours_b.shape[0]:
        raise ValueError(f"the spaces cover different numbers of subjects ({neighbours_a.shape[0]} and {neighbours_b.shape[0]})")
    expected = (len(neighbours_a), neighbours_a.shape[1] + neighbours_b.shape[1])
    if kept is None:
        kept = kept_both_ways(neighbours_a, neighbours_b)
    elif kept.shape != expected or kept.dtype != bool:
        raise ValueError(f"what each list kept should be {expected} booleans, not {kept.shape} {kept.dtype}")
    in_b, in_a = kept[:, : neighbours_a.shape[1]], kept[:, neighbours_a.shape[1] :]
    shared = in_b.sum(axis=1)
    union = neighbours_a.shape[1] + neighbours_b.shape[1] - shared
    overlap = np.where(union > 0, shared / np.maximum(union, 1), 1.0)
    return NeighbourComparison(neighbours_a, neighbours_b, in_b, in_a, overlap)


def recall(approximate: np.ndarray, exact: np.ndarray) -> float:
    """The share of the exact neighbours that the approximate search found."""
    return float(membership(exact, approximate).mean())


@dataclass(frozen=True)
class OverlapSummary:
    n_subjects: int
    mean: float
    median: float
    q10: float
    q90: float
    share_changed: float  # overlap below one half: most of the neighbourhood is new


def cohort_summary(overlap: np.ndarray, mask: np.ndarray | None = None, changed_below: float = 0.5) -> OverlapSummary:
    """How much a cohort's neighbourhoods changed, in a few numbers."""
    values = overlap if mask is None else overlap[mask]
    if not len(values):
        return OverlapSummary(0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
    q10, median, q90 = np.quantile(values, [0.1, 0.5, 0.9])
    return OverlapSummary(len(values), float(values.mean()), float(median), float(q10), float(q90), float((values < changed_below).mean()))


@dataclass(frozen=True)
class CommonChanges:
    """Subjects that many of a selection's neighbourhoods gained (or lost), with how many."""

    gained_rows: np.ndarray
    gained_counts: np.ndarray
    lost_rows: np.ndarray
    lost_counts: np.ndarray
    n_selected: int


def _counted(values: np.ndarray, exclude: np.ndarray, n: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(values, minlength=n)
    counts[exclude] = 0
    top = min(top, int((counts > 0).sum()))
    rows = np.argsort(-counts, kind="stable")[:top]
    return rows, counts[rows]


def common_changes(comparison: NeighbourComparison, rows: np.ndarray, top: int = 10) -> CommonChanges:
    """What the selection's neighbourhoods gained and lost in common (selected subjects themselves excluded)."""
    rows = np.asarray(rows, dtype=np.int64)
    gained = comparison.neighbours_b[rows][~comparison.in_a[rows]]
    lost = comparison.neighbours_a[rows][~comparison.in_b[rows]]
    gained_rows, gained_counts = _counted(gained, rows, comparison.n_subjects, top)
    lost_rows, lost_counts = _counted(lost, rows, comparison.n_subjects, top)
    return CommonChanges(gained_rows, gained_counts, lost_rows, lost_counts, len(rows))


@dataclass(frozen=True)
class SuggestedGroup:
    """Subjects whose gained and lost neighbours agree: a candidate selection."""

    rows: np.ndarray
    mean_overlap: float
    agreement: float  # 1 − mean Jaccard distance of their gained and lost sets
    score: float


def _pairwise_jaccard_distance(sets: np.ndarray, valid: np.ndarray, n: int) -> np.ndarray:
    """Jaccard distances between the rows' sets (padded (m, k) arrays); m × m, m bounded by the caller."""
    from scipy.sparse import csr_matrix

    m = len(sets)
    columns = sets[valid]
    indptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
    onehot = csr_matrix((np.ones(len(columns), dtype=np.float32), columns, indptr), shape=(m, n))
    intersection = (onehot @ onehot.T).toarray()
    sizes = valid.sum(axis=1).astype(np.float32)
    union = sizes[:, None] + sizes[None, :] - intersection
    return np.where(union > 0, 1.0 - intersection / np.maximum(union, 1), 0.0)


def suggest_groups(comparison: NeighbourComparison, changed_below: float = 0.5, max_candidates: int = 1500,
                   distance_thresholds: tuple[float, ...] = (0.7, 0.8, 0.9), min_size: int = 3, max_groups: int = 8) -> list[SuggestedGroup]:
    """Groups of changed subjects whose gained and lost neighbours agree, best first (as Emblaze suggests selections).

    Only the ``max_candidates`` most-changed subjects are clustered (average linkage on the mean of
    the Jaccard distances of their gained and of their lost sets, cut at a few heights), so memory
    stays bounded at any n. Groups are ranked by agreement × change × log(size).
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    changed = np.flatnonzero(comparison.overlap < changed_below)
    if len(changed) < min_size:
        return []
    tie_break = np.random.default_rng(0).random(len(changed))  # many subjects may share the lowest overlap: sample them fairly
    candidates = changed[np.lexsort((tie_break, comparison.overlap[changed]))[:max_candidates]]
    n = comparison.n_subjects
    distances = (_pairwise_jaccard_distance(comparison.neighbours_b[candidates], ~comparison.in_a[candidates], n)
                 + _pairwise_jaccard_distance(comparison.neighbours_a[candidates], ~comparison.in_b[candidates], n)) / 2
    np.fill_diagonal(distances, 0.0)
    tree = linkage(squareform(distances, checks=False), method="average")
    groups, seen = [], set()
    for threshold in distance_thresholds:  # as Emblaze: tighter and looser groups, ranked together
        labels = fcluster(tree, t=threshold, criterion="distance")
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            if len(members) < min_size or tuple(members) in seen:
                continue
            seen.add(tuple(members))
            within = distances[np.ix_(members, members)]
            agreement = 1.0 - float(within.sum() / (len(members) * (len(members) - 1)))
            rows = candidates[members]
            mean_overlap = float(comparison.overlap[rows].mean())
            groups.append(SuggestedGroup(np.sort(rows), mean_overlap, agreement, float(agreement * (1 - mean_overlap) * np.log1p(len(members)))))
    groups.sort(key=lambda group: group.score, reverse=True)
    return groups[:max_groups]


def gained_centroids(coordinates: np.ndarray, comparison: NeighbourComparison, rows: np.ndarray | None = None) -> np.ndarray:
    """(len(rows), 2) float32: each subject's centroid, in this layout, of the neighbours it gained in B (every subject if ``rows`` is None).

    A subject that gained nobody gets the origin of its weights, (0, 0); trails are drawn only for
    changed subjects, who gained someone.
    """
    rows = np.arange(comparison.n_subjects) if rows is None else np.asarray(rows)
    # In chunks of rows: gathering every subject's k neighbours' coordinates at once took 800 MB at a million.
    centroids = np.empty((len(rows), 2), dtype=np.float32)
    for start in range(0, len(rows), TRAIL_CHUNK_ROWS):
        chunk = rows[start : start + TRAIL_CHUNK_ROWS]
        gained = ~comparison.in_a[chunk]
        weights = gained / np.maximum(gained.sum(axis=1, keepdims=True), 1)
        centroids[start : start + len(chunk)] = np.einsum("rk,rkc->rc", weights, coordinates[comparison.neighbours_b[chunk]])
    return centroids


def neighbour_trails(coordinates: np.ndarray, comparison: NeighbourComparison, changed_below: float = 0.3,
                     max_trails: int = 300, centroids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For the most-changed subjects: (rows, targets), a target being the centroid, in this layout, of the neighbours it gained.

    A trail from a subject to its target shows where, in this layout, its new neighbourhood lies.
    Only subjects with overlap below ``changed_below`` and only the ``max_trails`` strongest
    trails (most changed × longest) are kept, as Emblaze draws its star trails. ``centroids``:
    :func:`gained_centroids` of every subject, when already worked out (they do not depend on the threshold).
    """
    rows = np.flatnonzero(comparison.overlap < changed_below)
    if not len(rows):
        return rows, np.empty((0, 2), dtype=np.float32)
    targets = gained_centroids(coordinates, comparison, rows) if centroids is None else np.asarray(centroids)[rows]
    strength = (1.0 - comparison.overlap[rows]) * np.linalg.norm(targets - coordinates[rows], axis=1)
    keep = np.argsort(-strength, kind="stable")[:max_trails]
    return rows[keep], targets[keep].astype(np.float32)


class NeighbourCache:
    """Neighbour lists stored as .npy files named by the space's content fingerprint, k, metric and method; each computed once."""

    def __init__(self, folder: Path):
        self.arrays = ArrayCache(folder, dtype=np.int32)

    @property
    def folder(self) -> Path:
        return self.arrays.folder

    def path_for(self, space_fingerprint: str, k: int, metric: Metric, method: str) -> Path:
        return self.arrays.path_for(space_fingerprint, "knn", {"k": int(k), "metric": metric, "method": method})

    def get(self, space_fingerprint: str, k: int, metric: Metric, method: str) -> np.ndarray | None:
        return self.arrays.read(self.path_for(space_fingerprint, k, metric, method))

    def get_or_compute(self, matrix: np.ndarray, space_fingerprint: str, k: int, metric: Metric, method: Method = "auto",
                       progress: Progress | None = None) -> np.ndarray:
        method = resolved_method(len(matrix), method)
        return self.arrays.read_or_compute(self.path_for(space_fingerprint, k, metric, method),
                                           lambda: nearest_neighbours(matrix, k, metric, method, progress))
