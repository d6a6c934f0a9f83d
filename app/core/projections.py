"""2-D projections of latent spaces (PCA, UMAP, t-SNE), computed once and cached on disk.

The cache key is the space's *content* (a hash of its bytes) plus the parameters, so a retrained
model's new latents never reuse an old layout. umap-learn is imported only when a UMAP is
actually computed: its import and JIT compilation take seconds and must not delay app start.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from data_loaders.cohort_io import atomic_path

Method = Literal["pca", "umap", "tsne"]
METHODS: dict[str, str] = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}


@dataclass(frozen=True)
class ProjectionSpec:
    """What to compute; only the parameters of the chosen method enter the cache key."""

    method: Method = "pca"
    n_neighbors: int = 15  # UMAP
    min_dist: float = 0.1  # UMAP
    perplexity: float = 30.0  # t-SNE
    seed: int = 0

    def key_parameters(self) -> dict[str, object]:
        relevant = {"pca": ("seed",), "umap": ("n_neighbors", "min_dist", "seed"), "tsne": ("perplexity", "seed")}[self.method]
        values = asdict(self)
        return {"method": self.method, **{name: values[name] for name in relevant}}


def fingerprint(matrix: np.ndarray) -> str:
    """A content hash of a latent matrix (shape, dtype and bytes)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{matrix.shape}{matrix.dtype}".encode())
    digest.update(np.ascontiguousarray(matrix).data)
    return digest.hexdigest()


def compute_projection(matrix: np.ndarray, spec: ProjectionSpec) -> np.ndarray:
    """Project (N, d) latents to (N, 2) float32 coordinates."""
    data = np.asarray(matrix, dtype=np.float32)
    if spec.method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=spec.seed).fit_transform(data).astype(np.float32)
    if spec.method == "umap":
        with warnings.catch_warnings():  # umap warns that ParametricUMAP needs TensorFlow; we do not use it
            warnings.simplefilter("ignore", ImportWarning)
            import umap  # deferred: slow to import and compile

        reducer = umap.UMAP(n_neighbors=min(spec.n_neighbors, len(data) - 1), min_dist=spec.min_dist, random_state=spec.seed, n_jobs=1)
        return reducer.fit_transform(data).astype(np.float32)
    if spec.method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(spec.perplexity, (len(data) - 1) / 3)
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=spec.seed).fit_transform(data).astype(np.float32)
    raise ValueError(f"unknown projection method {spec.method!r}; expected one of {sorted(METHODS)}")


class ProjectionCache:
    """Projections stored as .npy files named by the space's fingerprint and the parameters."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path_for(self, space_fingerprint: str, spec: ProjectionSpec) -> Path:
        parameters = hashlib.blake2b(json.dumps(spec.key_parameters(), sort_keys=True).encode(), digest_size=8).hexdigest()
        return self.folder / f"{space_fingerprint}-{spec.method}-{parameters}.npy"

    def has(self, space_fingerprint: str, spec: ProjectionSpec) -> bool:
        return self.path_for(space_fingerprint, spec).is_file()

    def get(self, space_fingerprint: str, spec: ProjectionSpec) -> np.ndarray | None:
        path = self.path_for(space_fingerprint, spec)
        if not path.is_file():
            return None
        coordinates = np.load(path, allow_pickle=False)
        coordinates.setflags(write=False)
        return coordinates

    def put(self, space_fingerprint: str, spec: ProjectionSpec, coordinates: np.ndarray) -> None:
        """Write atomically, so a concurrent reader never sees half a file."""
        with atomic_path(self.path_for(space_fingerprint, spec)) as temporary, temporary.open("wb") as file:
            np.save(file, np.asarray(coordinates, dtype=np.float32), allow_pickle=False)

    def get_or_compute(self, matrix: np.ndarray, spec: ProjectionSpec, space_fingerprint: str | None = None) -> np.ndarray:
        space_fingerprint = space_fingerprint or fingerprint(matrix)
        cached = self.get(space_fingerprint, spec)
        if cached is not None:
            return cached
        coordinates = compute_projection(matrix, spec)
        self.put(space_fingerprint, spec, coordinates)
        return self.get(space_fingerprint, spec)
