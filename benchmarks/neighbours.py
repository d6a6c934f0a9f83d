"""Neighbourhood comparison of two latent spaces: ours against the Emblaze package, and ours at 100,000 subjects.

    .venv/bin/python -m benchmarks.neighbours                       # 5,000 and 20,000 vs Emblaze, then 100,000
    .venv/bin/python -m benchmarks.neighbours --subjects 5000 --large 0 --metric cosine

For each size, two 256-d Gaussian-mixture spaces over the same subjects (B is A rotated, noised,
with a third of the subjects moved to other clusters) and k = 50. Timed: every subject's k nearest
neighbours in both spaces plus every subject's overlap (Jaccard of its two k-sets). Emblaze does
the same through its own code (``Embedding.compute_neighbors``, i.e. scikit-learn, and its
recommender's gained/lost sets); it runs in its own virtual environment, never in ours:

    python3 -m venv /tmp/emblaze-venv && /tmp/emblaze-venv/bin/pip install emblaze

Goals (issue 7): ≥ 5× faster than Emblaze at 20,000 subjects with per-subject overlaps within a
mean absolute difference of 0.02, and 100,000 subjects in under 60 s.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np

from app.core.neighbours import compare_neighbourhoods, exact_neighbours, membership, nearest_neighbours, resolved_method

EMBLAZE_PYTHON = Path("/tmp/emblaze-venv/bin/python")
EMBLAZE_SCRIPT = textwrap.dedent(
    """
    import sys, time, numpy as np
    import emblaze
    from emblaze.recommender import SelectionRecommender

    folder, k, metric = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    spaces = [np.load(f"{folder}/space_a.npy"), np.load(f"{folder}/space_b.npy")]
    colour = np.zeros(len(spaces[0]))
    start = time.perf_counter()
    embeddings = [emblaze.Embedding({emblaze.Field.POSITION: space, emblaze.Field.COLOR: colour}, n_neighbors=k, metric=metric) for space in spaces]
    for embedding in embeddings:
        embedding.compute_neighbors()
    recommender = SelectionRecommender.__new__(SelectionRecommender)  # only its gained/lost sets, not its clustering
    recommender.embeddings = embeddings
    gained, lost = recommender._make_neighbor_changes(0, 1)
    overlap = np.array([(k - len(l)) / (k + len(g)) for g, l in zip(gained, lost)])  # |A∩B| / |A∪B| from the changes
    seconds = time.perf_counter() - start
    np.save(f"{folder}/emblaze_overlap.npy", overlap)
    print(seconds)
    """
)


def latent_spaces(n_subjects: int, dimensions: int = 256, clusters: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two related latent spaces: clusters spread along low-rank directions; in B a third of the subjects changed cluster."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, n_subjects)
    centres = rng.normal(0, 3, (clusters, dimensions)).astype(np.float32)
    basis = (rng.normal(0, 1, (clusters, 12, dimensions)) / np.sqrt(12)).astype(np.float32)
    within = rng.normal(size=(n_subjects, 12)).astype(np.float32)
    moved = rng.random(n_subjects) < 1 / 3
    labels_b = np.where(moved, rng.integers(0, clusters, n_subjects), labels)
    rotation = np.linalg.qr(rng.normal(size=(dimensions, dimensions)))[0].astype(np.float32)

    def place(cluster_of: np.ndarray) -> np.ndarray:
        space = centres[cluster_of]
        for cluster in range(clusters):  # cluster by cluster: no (n, 12, d) intermediate
            members = np.flatnonzero(cluster_of == cluster)
            space[members] += within[members] @ basis[cluster]
        return space

    space_a = place(labels) + rng.normal(0, 0.3, (n_subjects, dimensions)).astype(np.float32)
    space_b = place(labels_b) @ rotation + rng.normal(0, 0.5, (n_subjects, dimensions)).astype(np.float32)
    return space_a, space_b


def ours(space_a: np.ndarray, space_b: np.ndarray, k: int, metric: str) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    overlap = compare_neighbourhoods(nearest_neighbours(space_a, k, metric), nearest_neighbours(space_b, k, metric)).overlap
    return time.perf_counter() - start, overlap


def emblaze(space_a: np.ndarray, space_b: np.ndarray, k: int, metric: str, python: Path) -> tuple[float, np.ndarray]:
    with tempfile.TemporaryDirectory(prefix="bench-emblaze-") as folder:
        np.save(f"{folder}/space_a.npy", space_a)
        np.save(f"{folder}/space_b.npy", space_b)
        result = subprocess.run([str(python), "-c", EMBLAZE_SCRIPT, folder, str(k), metric], capture_output=True, text=True, check=False)
        if result.returncode:
            raise SystemExit(f"Emblaze failed:\n{result.stderr[-3000:]}")
        return float(result.stdout.strip().splitlines()[-1]), np.load(f"{folder}/emblaze_overlap.npy")


def sampled_recall(space: np.ndarray, approximate: np.ndarray, k: int, metric: str, sample: int = 1000) -> float:
    """Recall of the approximate neighbours against exact ones, on a random sample of subjects (exact for all would be n²)."""
    from app.core.neighbours import _block_distances, _top_k, prepared

    rows = np.random.default_rng(1).choice(len(space), size=min(sample, len(space)), replace=False)
    data = prepared(space, metric)
    norms = np.einsum("ij,ij->i", data, data)
    distances = _block_distances(data[rows], norms[rows], data, norms)
    distances[np.arange(len(rows)), rows] = np.inf
    exact = _top_k(distances, np.arange(len(space), dtype=np.int32), k)
    return float(membership(exact, approximate[rows]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, nargs="*", default=[5000, 20000], help="sizes compared with Emblaze")
    parser.add_argument("--large", type=int, default=100_000, help="a size timed for us alone (0: skip)")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    parser.add_argument("--emblaze-python", type=Path, default=EMBLAZE_PYTHON)
    args = parser.parse_args()
    exact_neighbours(np.random.default_rng(0).normal(size=(50, 4)), 3)  # imports and first calls outside the timings

    print(f"k = {args.k}, {args.metric} distance, 256-d spaces; times are neighbours in both spaces + every subject's overlap")
    print(f"{'subjects':>9} {'method':>12} {'ours s':>8} {'Emblaze s':>10} {'speed-up':>9} {'overlap MAD':>12} {'mean overlap':>13}")
    for n in args.subjects:
        space_a, space_b = latent_spaces(n)
        our_seconds, our_overlap = ours(space_a, space_b, args.k, args.metric)
        method = resolved_method(n)
        if not args.emblaze_python.exists():
            print(f"{n:>9} {method:>12} {our_seconds:>8.2f}   (Emblaze not installed at {args.emblaze_python}: see this module's docstring)")
            continue
        their_seconds, their_overlap = emblaze(space_a, space_b, args.k, args.metric, args.emblaze_python)
        difference = float(np.abs(our_overlap - their_overlap).mean())
        print(f"{n:>9} {method:>12} {our_seconds:>8.2f} {their_seconds:>10.2f} {their_seconds / our_seconds:>8.1f}× {difference:>12.4f} "
              f"{our_overlap.mean():>13.3f}")
    if args.large:
        space_a, space_b = latent_spaces(args.large)
        tracemalloc.start()  # numpy reports its arrays to tracemalloc: the peak is what the computation itself allocated
        start = time.perf_counter()
        neighbours_a = nearest_neighbours(space_a, args.k, args.metric)
        neighbours_b = nearest_neighbours(space_b, args.k, args.metric)
        overlap = compare_neighbourhoods(neighbours_a, neighbours_b).overlap
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        recall = sampled_recall(space_a, neighbours_a, args.k, args.metric)
        print(f"{args.large:>9} {resolved_method(args.large):>12} {seconds:>8.2f} {'–':>10} {'–':>9} {'–':>12} {overlap.mean():>13.3f}"
              f"   recall vs exact (1,000 sampled subjects) {recall:.3f}; peak memory allocated {peak:,.0f} MiB "
              f"(the two spaces themselves: {(space_a.nbytes + space_b.nbytes) / 2**20:,.0f} MiB)")


if __name__ == "__main__":
    main()
