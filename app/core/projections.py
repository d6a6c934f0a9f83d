"""2-D projections of latent spaces (PCA, UMAP, t-SNE), computed once and cached on disk.

The cache key is the space's *content* (a hash of its bytes) plus the parameters, so a retrained
model's new latents never reuse an old layout. umap-learn is imported only when a UMAP is
actually computed: its import and JIT compilation take seconds and must not delay app start.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from app.core.array_cache import ArrayCache

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
    """Projections stored as .npy files named by the space's fingerprint and the parameters, each computed once."""

    def __init__(self, folder: Path):
        self.arrays = ArrayCache(folder, dtype=np.float32)

    def path_for(self, space_fingerprint: str, spec: ProjectionSpec) -> Path:
        return self.arrays.path_for(space_fingerprint, spec.method, spec.key_parameters())

    def has(self, space_fingerprint: str, spec: ProjectionSpec) -> bool:
        return self.path_for(space_fingerprint, spec).is_file()

    def get(self, space_fingerprint: str, spec: ProjectionSpec) -> np.ndarray | None:
        return self.arrays.read(self.path_for(space_fingerprint, spec))

    def put(self, space_fingerprint: str, spec: ProjectionSpec, coordinates: np.ndarray) -> None:
        self.arrays.write(self.path_for(space_fingerprint, spec), coordinates)

    def get_or_compute(self, matrix: np.ndarray, spec: ProjectionSpec, space_fingerprint: str | None = None) -> np.ndarray:
        path = self.path_for(space_fingerprint or fingerprint(matrix), spec)
        return self.arrays.read_or_compute(path, lambda: compute_projection(matrix, spec))
