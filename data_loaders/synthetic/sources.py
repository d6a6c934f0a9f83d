"""Array sources of an on-demand synthetic cohort (``format = "synthetic"``): each subject's ECG and
cine regenerated from its phenotypes and seed whenever they are read, for 100,000-subject scale work."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from data_loaders import cohort_spec
from data_loaders.arrays import scaled
from data_loaders.ecg_measures import median_beats
from data_loaders.synthetic import schema
from data_loaders.synthetic.ecg import synthesize_ecg_strips
from data_loaders.synthetic.mri import INTENSITY_SCALE, synthesize_cines


class SyntheticEcgSource:
    """ECGs regenerated on demand from each subject's phenotypes and seed."""

    leads = cohort_spec.ECG_LEADS
    subject_ids = None

    def __init__(self, phenotypes: pd.DataFrame):
        self._phenotypes = phenotypes

    def strips(self, ids: Sequence[str]) -> np.ndarray:
        rows = self._phenotypes.loc[[str(i) for i in ids]]
        return synthesize_ecg_strips(rows, rows[schema.SEED].to_numpy())

    def medians(self, ids: Sequence[str]) -> np.ndarray:
        return median_beats(self.strips(ids))


class SyntheticMriSource:
    """Cines regenerated on demand from each subject's phenotypes and seed."""

    subject_ids = None

    def __init__(self, phenotypes: pd.DataFrame):
        self._phenotypes = phenotypes

    def cines(self, ids: Sequence[str]) -> np.ndarray:
        rows = self._phenotypes.loc[[str(i) for i in ids]]
        return scaled(synthesize_cines(rows, rows[schema.SEED].to_numpy()), 1.0 / INTENSITY_SCALE)
