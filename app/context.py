"""What every request of a process shares: the loaded cohort and handles to the persisted stores.

All of it is read-only after start-up; anything a user creates goes to the cohort store (SQLite).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from app.auth import current_username
from app.cohort_store import CohortStore
from app.config import AppConfig
from app.core.clusters import ClusterCache, ClusterSpec, describe_clusters
from app.core.cohort_algebra import CohortDefinition, leaf_mask, resolve_mask
from app.core.projections import ProjectionCache, ProjectionSpec, fingerprint
from app.figures.scatter import hover_texts
from data_loaders import Cohort, cohort_spec
from data_loaders.manifest import VariableSpec
from data_loaders.mri_measures import lv_area_curves

HOVER_VARIABLES = (cohort_spec.AGE, cohort_spec.SEX, cohort_spec.LVEF, cohort_spec.LV_MASS, cohort_spec.AF, cohort_spec.HF)
LV_AREAS_KEPT = 20_000  # recorded cines' LV area curves kept per process (50 floats each)
LEAF_MASKS_KEPT = 256  # filter/id cohorts' masks kept per process, as packed bits: 32 MB at a million subjects


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
        """The cohort's rows now; operands are looked up as the current user (refused if not theirs or shared), leaves remembered."""
        return resolve_mask(definition, self.cohort.phenotypes, lambda operand: self.store.get(operand).definition, leaf=self._leaf_masks)

    def recorded_lv_areas(self, subject_ids: Sequence[str], cines: np.ndarray) -> np.ndarray:
        """LV cavity area curves (n, frames) of these subjects' recorded ``cines``, each measured once per process."""
        return self._lv_areas(subject_ids, cines)

    @cached_property
    def _lv_areas(self) -> LvAreaMemo:
        return LvAreaMemo()

    @cached_property
    def _leaf_masks(self) -> LeafMaskMemo:
        return LeafMaskMemo(self.cohort.phenotypes)


class RecentlyUsed:
    """A thread-safe dict that keeps its ``size`` most recently used entries (the memos below)."""

    def __init__(self, size: int):
        self._size = size
        self._kept: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._kept.get(key)
            if value is not None:
                self._kept.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._kept[key] = value
            self._kept.move_to_end(key)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)


class LvAreaMemo:
    """Recorded cines' LV area curves by subject, the most recently used kept.

    A recording never changes, and measuring it was half of comparing a decoded cine with it (the
    largest part of a decode under 20 simulated users, py-spy).
    """

    def __init__(self):
        self._kept = RecentlyUsed(LV_AREAS_KEPT)

    def __call__(self, subject_ids: Sequence[str], cines: np.ndarray) -> np.ndarray:
        known = {subject: curve for subject in subject_ids if (curve := self._kept.get(subject)) is not None}
        missing = [index for index, subject in enumerate(subject_ids) if subject not in known]
        if missing:
            for index, curve in zip(missing, lv_area_curves(cines[missing])):
                known[subject_ids[index]] = curve
                self._kept.put(subject_ids[index], curve)
        return np.array([known[subject] for subject in subject_ids]).reshape(len(subject_ids), -1)


class LeafMaskMemo:
    """Masks of filter/id cohorts, by definition, the most recently used kept.

    Listing the saved cohorts resolves every one of them each time any user saves, renames or
    shares one (the list shows each cohort's size now): with a hundred cohorts that was 7 % of the
    server's time under 20 simulated users (py-spy). A leaf reads no other cohort, so its mask
    depends on the (read-only) data and its definition only; who may see an operand is still
    checked on every resolution.
    """

    def __init__(self, phenotypes: pd.DataFrame):
        self._phenotypes = phenotypes
        self._kept = RecentlyUsed(LEAF_MASKS_KEPT)

    def __call__(self, definition: CohortDefinition) -> np.ndarray:
        key = hashlib.sha256(json.dumps([definition.filters, definition.subject_ids], sort_keys=True, default=str).encode()).hexdigest()
        packed = self._kept.get(key)
        if packed is not None:
            return np.unpackbits(packed, count=len(self._phenotypes)).view(bool)  # a new array: callers may change it
        mask = leaf_mask(definition, self._phenotypes)
        self._kept.put(key, np.packbits(mask))
        return mask


@lru_cache(maxsize=16)
def _cluster_descriptions(context: AppContext, _fingerprint: str, space: str, spec: ClusterSpec) -> dict[int, str]:
    """Descriptions of cached labels (derived, read-only; the space's fingerprint in the key, so new latents miss it)."""
    labels = context.cached_clusters(space, spec)
    if labels is None:
        raise ValueError(f"the clusters of {space} are not computed yet")
    return describe_clusters(labels, context.cohort.phenotypes, context.variables)
