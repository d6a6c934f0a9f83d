"""What every request of a process shares: the loaded cohort and handles to the persisted stores.

All of it is read-only after start-up; anything a user creates goes to the cohort store (SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from app.auth import current_username
from app.cohort_store import CohortStore
from app.config import AppConfig
from app.core.clusters import ClusterCache, ClusterSpec, describe_clusters
from app.core.cohort_algebra import CohortDefinition, resolve_mask
from app.core.projections import ProjectionCache, ProjectionSpec, fingerprint
from app.figures.scatter import hover_texts
from data_loaders import Cohort, cohort_spec
from data_loaders.manifest import VariableSpec

HOVER_VARIABLES = (cohort_spec.AGE, cohort_spec.SEX, cohort_spec.LVEF, cohort_spec.LV_MASS, cohort_spec.AF, cohort_spec.HF)


@dataclass(frozen=True, eq=False)
class AppContext:
    config: AppConfig
    cohort: Cohort
    spaces_pending: bool = False  # a background run is computing this cohort's first space (the demo's raw baseline)

    @cached_property
    def store(self) -> CohortStore:
        return CohortStore(self.config.resolved_cohort_db, dataset=str(self.cohort.root.resolve()), current_user=current_username)

    @cached_property
    def projection_cache(self) -> ProjectionCache:
        return ProjectionCache(self.config.projection_cache_dir)

    @cached_property
    def cluster_cache(self) -> ClusterCache:
        return ClusterCache(self.config.cluster_cache_dir)

    @cached_property
    def space_fingerprints(self) -> dict[str, str]:
        return {name: fingerprint(matrix) for name, matrix in self.cohort.spaces.items()}

    @cached_property
    def hover_text(self) -> np.ndarray:
        present = [name for name in HOVER_VARIABLES if name in self.cohort.variables]
        return hover_texts(self.cohort.phenotypes, self.cohort.variables, present)

    @property
    def variables(self) -> dict[str, VariableSpec]:
        return self.cohort.variables

    @property
    def n_subjects(self) -> int:
        return len(self.cohort.phenotypes)

    def cached_projection(self, space: str, spec: ProjectionSpec) -> np.ndarray | None:
        """A projection if it is cached; PCA is cheap enough to compute on the spot."""
        key = self.space_fingerprints[space]
        if spec.method == "pca":
            return self.projection_cache.get_or_compute(self.cohort.spaces[space], spec, key)
        return self.projection_cache.get(key, spec)

    def projection_ready(self, space: str, spec: ProjectionSpec) -> bool:
        """Whether a projection can be drawn now without computing anything slow."""
        return spec.method == "pca" or self.projection_cache.has(self.space_fingerprints[space], spec)

    def compute_projection(self, space: str, spec: ProjectionSpec) -> np.ndarray:
        return self.projection_cache.get_or_compute(self.cohort.spaces[space], spec, self.space_fingerprints[space])

    def cached_clusters(self, space: str, spec: ClusterSpec) -> np.ndarray | None:
        """A clustering's labels if they are cached (clustering is never computed in a request)."""
        return self.cluster_cache.get(self.space_fingerprints[space], spec)

    def compute_clusters(self, space: str, spec: ClusterSpec) -> np.ndarray:
        """Labels from the cache, else clustered now and cached (background jobs only); its descriptions made ready too."""
        labels = self.cluster_cache.get_or_compute(self.cohort.spaces[space], spec, self.space_fingerprints[space])
        self.cluster_descriptions(space, spec)
        return labels

    def cluster_descriptions(self, space: str, spec: ClusterSpec) -> dict[int, str]:
        """What sets each cluster apart (Table 1 statistics), worked out once per process for each cached clustering."""
        return _cluster_descriptions(self, self.space_fingerprints[space], space, spec)

    def saved_cohort_mask(self, cohort_id: int) -> np.ndarray:
        return self.definition_mask(self.store.get(cohort_id).definition)

    def definition_mask(self, definition: CohortDefinition) -> np.ndarray:
        return resolve_mask(definition, self.cohort.phenotypes, lambda operand: self.store.get(operand).definition)


@lru_cache(maxsize=16)
def _cluster_descriptions(context: AppContext, _fingerprint: str, space: str, spec: ClusterSpec) -> dict[int, str]:
    """Descriptions of cached labels (derived, read-only; the space's fingerprint in the key, so new latents miss it)."""
    labels = context.cached_clusters(space, spec)
    if labels is None:
        raise ValueError(f"the clusters of {space} are not computed yet")
    return describe_clusters(labels, context.cohort.phenotypes, context.variables)
