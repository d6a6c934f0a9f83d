"""Clusters of a latent space as starting cohorts: Ward, k-means or HDBSCAN on the latent vectors, cached on disk.

Clustering runs on the full latent vectors, never on a 2-D projection (UMAP and t-SNE distort
distances and density). Ward's hierarchical clustering, the default, runs on the whitened
principal components: each direction of the latent space gets the same weight, so a group set
apart along a direction in which everyone else varies little (AF's missing P waves) counts as much
as the broad directions (body size, sex) that dominate raw distances and split k-means' clusters.
On the demo it agrees with the known groups four to eight times better than k-means
(``benchmarks/cluster_agreement.py``). Ward links each subject to its nearest neighbours only, so
memory grows with the cohort, not with its square. Like projections, results are cached under the space's content hash and
the parameters, so a retrained model never reuses old labels. Each cluster is described by what
sets it apart from everyone else ("older, low LV ejection fraction, 61 % AF"), using the same
standardised differences as Table 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from app.core.array_cache import ArrayCache
from app.core.statistics import compare_groups
from app.core.table_one import clinical_variables
from data_loaders.manifest import VariableSpec

ClusterMethod = Literal["ward", "kmeans", "hdbscan"]
CLUSTER_METHODS: dict[str, str] = {"ward": "Ward", "kmeans": "k-means", "hdbscan": "HDBSCAN"}
NOISE = -1  # HDBSCAN's label for subjects in no cluster
MAX_CLUSTERS = 30
WARD_COMPONENTS = 50  # principal components Ward clusters (whitened); fewer when the space has fewer dimensions
WARD_NEIGHBOURS = 15  # each subject is linked to this many nearest neighbours (in the whitened components)
# Ward's time grows faster than the cohort (about 3 minutes at 100,000 subjects on one core): above this, k-means.
WARD_MAX_SUBJECTS = 200_000


def offered_methods(n_subjects: int) -> dict[str, str]:
    """The clustering methods a cohort of this size is offered (key: label)."""
    return {key: label for key, label in CLUSTER_METHODS.items() if key != "ward" or n_subjects <= WARD_MAX_SUBJECTS}


@dataclass(frozen=True)
class ClusterSpec:
    """What to compute; checked on creation because it arrives from the browser."""

    method: ClusterMethod = "ward"
    n_clusters: int = 4  # Ward and k-means
    min_cluster_size: int = 50  # HDBSCAN
    standardise: bool = True  # scale each latent dimension to unit variance first, so no dimension dominates by its scale
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in CLUSTER_METHODS:
            raise ValueError(f"unknown clustering method {self.method!r}; expected one of {sorted(CLUSTER_METHODS)}")
        if not isinstance(self.n_clusters, int) or not 2 <= self.n_clusters <= MAX_CLUSTERS:
            raise ValueError(f"the number of clusters must be a whole number from 2 to {MAX_CLUSTERS}, got {self.n_clusters!r}")
        if not isinstance(self.min_cluster_size, int) or self.min_cluster_size < 2:
            raise ValueError(f"the smallest cluster must have at least 2 subjects, got {self.min_cluster_size!r}")

    def key_parameters(self) -> dict[str, object]:
        relevant = {"ward": ("n_clusters", "standardise", "seed"), "kmeans": ("n_clusters", "standardise", "seed"),
                    "hdbscan": ("min_cluster_size", "standardise")}[self.method]
        values = asdict(self)
        return {"method": self.method, **{name: values[name] for name in relevant}}


def cluster_latents(matrix: np.ndarray, spec: ClusterSpec) -> np.ndarray:
    """Cluster labels (int32, 0..k-1; NOISE for subjects HDBSCAN leaves out), numbered by decreasing size."""
    data = np.asarray(matrix, dtype=np.float64)
    if data.ndim != 2 or len(data) < 2:
        raise ValueError(f"clustering needs a (subjects, dimensions) matrix of at least 2 subjects, got shape {data.shape}")
    if spec.standardise:
        spread = data.std(axis=0)
        data = (data - data.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    if spec.method == "ward":
        labels = _ward(data, min(spec.n_clusters, len(data)), spec.seed)
    elif spec.method == "kmeans":
        from sklearn.cluster import KMeans

        labels = KMeans(n_clusters=min(spec.n_clusters, len(data)), n_init=10, random_state=spec.seed).fit_predict(data)
    else:
        from sklearn.cluster import HDBSCAN

        labels = HDBSCAN(min_cluster_size=min(spec.min_cluster_size, len(data)), copy=True).fit_predict(data)
    return _numbered_by_size(labels)


def _ward(data: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """Ward linkage on the whitened principal components, each subject joined only to its nearest neighbours."""
    import warnings

    from sklearn.cluster import AgglomerativeClustering
    from sklearn.decomposition import PCA
    from sklearn.neighbors import kneighbors_graph

    if n_clusters >= len(data):
        return np.arange(len(data))
    components = PCA(min(WARD_COMPONENTS, *data.shape), whiten=True, random_state=seed).fit_transform(data)
    graph = kneighbors_graph(components, min(WARD_NEIGHBOURS, len(data) - 1), include_self=False)
    with warnings.catch_warnings():  # groups with no neighbour in common: scikit-learn joins them, as it should, and says so
        warnings.filterwarnings("ignore", message=".*connected components.*")
        return AgglomerativeClustering(n_clusters=n_clusters, connectivity=graph, linkage="ward").fit_predict(components)


def _numbered_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber so cluster 0 is the largest: labels stay stable for a reader across parameter changes."""
    found, counts = np.unique(labels[labels != NOISE], return_counts=True)
    order = found[np.argsort(-counts, kind="stable")]
    renumbered = np.full(len(labels), NOISE, dtype=np.int32)
    for new, old in enumerate(order):
        renumbered[labels == old] = new
    return renumbered


class ClusterCache:
    """Cluster labels stored as .npy files named by the space's fingerprint and the parameters, each computed once."""

    def __init__(self, folder: Path):
        self.arrays = ArrayCache(folder)

    def path_for(self, space_fingerprint: str, spec: ClusterSpec) -> Path:
        return self.arrays.path_for(space_fingerprint, f"clusters-{spec.method}", spec.key_parameters())

    def get(self, space_fingerprint: str, spec: ClusterSpec) -> np.ndarray | None:
        return self.arrays.read(self.path_for(space_fingerprint, spec))

    def get_or_compute(self, matrix: np.ndarray, spec: ClusterSpec, space_fingerprint: str) -> np.ndarray:
        return self.arrays.read_or_compute(self.path_for(space_fingerprint, spec), lambda: cluster_latents(matrix, spec))


def _in_sentence(label: str) -> str:
    """A label as it reads mid-sentence: "Heart rate" → "heart rate"; acronyms ("LV mass", "AF") and names ("Sokolow-Lyon
    voltage": another capital in its first word) stay as they are."""
    first_word = label.split(" ")[0]
    common = len(label) > 1 and label[0].isupper() and first_word[1:] == first_word[1:].lower()
    return label[0].lower() + label[1:] if common else label


def _phrase(row: pd.Series, spec: VariableSpec, share_in_cluster: float) -> str:
    if row["kind"] == "proportion":
        what = f"{row['level']} ({_in_sentence(spec.label)})" if row["level"] else _in_sentence(spec.label)
        return f"{100 * share_in_cluster:.0f} % {what}"
    higher = row["std_diff"] > 0
    if spec.unit == "years":  # an age
        return "older" if higher else "younger"
    return f"{'high' if higher else 'low'} {_in_sentence(spec.label)}"


def describe_clusters(
    labels: np.ndarray, phenotypes: pd.DataFrame, variables: dict[str, VariableSpec], most: int = 3, min_effect: float = 0.3
) -> dict[int, str]:
    """For each cluster, its ``most`` largest differences from everyone else (|standardised difference| ≥ ``min_effect``).

    Proportions are given as the share within the cluster ("61 % AF"); continuous variables as
    "high"/"low" ("older" for ages). A cluster like the rest on every variable says so.
    """
    clinical = clinical_variables(variables, phenotypes)
    descriptions = {}
    for cluster in sorted(set(np.unique(labels)) - {NOISE}):
        inside = labels == cluster
        table = compare_groups(phenotypes, clinical, inside, ~inside)
        table = table[(table["std_diff"].abs() >= min_effect) & ~(table["kind"].eq("proportion") & (table["std_diff"] < 0))]
        phrases = [_phrase(row, clinical[row["variable"]], row["A"]) for _, row in table.drop_duplicates("variable").head(most).iterrows()]
        descriptions[int(cluster)] = ", ".join(phrases) or "like the rest on every variable"
    return descriptions


def cluster_names(labels: np.ndarray, descriptions: dict[int, str]) -> dict[int, str]:
    """``Cluster 1 (812): older, low LV ejection fraction``, numbered from 1 for people; NOISE is 'not in a cluster'."""
    names = {int(c): f"Cluster {c + 1} ({int((labels == c).sum()):,}): {descriptions.get(int(c), '')}".rstrip(": ")
             for c in np.unique(labels) if c != NOISE}
    if (labels == NOISE).any():
        names[NOISE] = f"Not in a cluster ({int((labels == NOISE).sum()):,})"
    return names


def cluster_variable(labels: np.ndarray, descriptions: dict[int, str], space: str) -> tuple[pd.Series, VariableSpec]:
    """The clusters as a categorical variable, so any view can colour by them like by a clinical category."""
    names = cluster_names(labels, descriptions)
    order = [names[c] for c in sorted(names) if c != NOISE] + ([names[NOISE]] if NOISE in names else [])
    column = pd.Series(pd.Categorical([names[int(c)] for c in labels], categories=order))
    return column, VariableSpec(f"clusters_{space}", "categorical", f"Clusters of {space}", categories=tuple(order))
