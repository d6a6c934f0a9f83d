"""Cohort format, validation and readers; the synthetic demo cohort lives in ``data_loaders.synthetic``."""

from data_loaders.cohort import Cohort, load_cohort
from data_loaders.errors import CohortFormatError
from data_loaders.manifest import VariableSpec

__all__ = ["Cohort", "CohortFormatError", "VariableSpec", "load_cohort"]
