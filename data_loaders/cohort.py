"""``load_cohort``: a cohort folder on disk → a validated, read-only :class:`Cohort`."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from data_loaders import arrays
from data_loaders.errors import CohortFormatError
from data_loaders.manifest import MANIFEST_NAME, VariableSpec, parse_variables, read_manifest, section, string_field
from data_loaders.tables import read_latent_table, read_phenotypes, read_table

ARRAY_FORMATS = ("hdf5", "ml4h_hd5", "synthetic")
PREDICTION_COLUMNS = ("task", "space", "prediction")


class Cohort:
    """One cohort: phenotypes, variable metadata, lazily read ECG/MRI arrays and latent spaces.

    Everything here is read-only and shared by all requests of a process; arrays are read from
    disk for the ids asked only.
    """

    def __init__(
        self,
        root: Path,
        manifest: dict[str, Any],
        phenotypes: pd.DataFrame,
        variables: dict[str, VariableSpec],
        ecg_source: arrays.EcgSource | None,
        mri_source: arrays.MriSource | None,
        spaces: dict[str, np.ndarray],
    ):
        self.root = root
        self.manifest = manifest
        self.phenotypes = phenotypes
        self.variables = variables
        self._ecg = ecg_source
        self._mri = mri_source
        self.spaces = spaces

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.root.name))

    @property
    def subject_ids(self) -> pd.Index:
        return self.phenotypes.index

    @property
    def ecg_leads(self) -> tuple[str, ...]:
        return self._require_ecg().leads

    def ecg(self, ids: Sequence[str]) -> np.ndarray:
        """10 s 12-lead strips, float32 (n, 5000, leads) in mV."""
        return self._require_ecg().strips(ids)

    def ecg_median(self, ids: Sequence[str]) -> np.ndarray:
        """Median beats, float32 (n, 600, leads) in mV."""
        return self._require_ecg().medians(ids)

    def mri(self, ids: Sequence[str]) -> np.ndarray:
        """Cines, float32 (n, frames, rows, cols) in [0, 1]."""
        if self._mri is None:
            raise LookupError(f"{self.root / MANIFEST_NAME}: this cohort has no [mri] section")
        return self._mri.cines(ids)

    @property
    def has_ecg(self) -> bool:
        """Whether the cohort has ECGs at all; ``ecg_present`` says for which subjects."""
        return self._ecg is not None

    @property
    def has_mri(self) -> bool:
        """Whether the cohort has cines at all; ``mri_present`` says for which subjects."""
        return self._mri is not None

    @cached_property
    def ecg_present(self) -> np.ndarray:
        """Read-only bool (N,) in phenotype order: which subjects have an ECG (an imported cohort may lack some)."""
        return self._present(self._ecg)

    @cached_property
    def mri_present(self) -> np.ndarray:
        """Read-only bool (N,) in phenotype order: which subjects have a cine."""
        return self._present(self._mri)

    def _present(self, source: arrays.EcgSource | arrays.MriSource | None) -> np.ndarray:
        if source is None:
            present = np.zeros(len(self.phenotypes), dtype=bool)
        elif source.subject_ids is None:
            present = np.ones(len(self.phenotypes), dtype=bool)
        else:
            present = self.phenotypes.index.isin(source.subject_ids)
        present.setflags(write=False)
        return present

    @cached_property
    def predictions(self) -> pd.DataFrame | None:
        """Out-of-sample predictor outputs (long table: sample_id, task, space, prediction, …)."""
        table = section(self.manifest, "predictions", self.root / MANIFEST_NAME, required=False)
        if table is None:
            return None
        path = self.root / string_field(table, "path", self.root / MANIFEST_NAME, "predictions")
        predictions = read_table(path, "sample_id").reset_index()
        missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
        if missing:
            raise CohortFormatError(path, missing[0], f"columns sample_id, {', '.join(PREDICTION_COLUMNS)}", str(list(predictions.columns)))
        return predictions

    def _require_ecg(self) -> arrays.EcgSource:
        if self._ecg is None:
            raise LookupError(f"{self.root / MANIFEST_NAME}: this cohort has no [ecg] section")
        return self._ecg


def load_cohort(path: Path | str) -> Cohort:
    """Read and validate a cohort folder (or its manifest file); raises CohortFormatError."""
    path = Path(path)
    manifest_path = path if path.suffix == ".toml" else path / MANIFEST_NAME
    root = manifest_path.parent
    manifest = read_manifest(manifest_path)
    variables = parse_variables(manifest, manifest_path)
    table = section(manifest, "phenotypes", manifest_path)
    id_column = string_field(table, "id_column", manifest_path, "phenotypes", default="sample_id")
    phenotypes = read_phenotypes(root / string_field(table, "path", manifest_path, "phenotypes"), id_column, variables)
    phenotypes.index.name = "sample_id"
    ids = phenotypes.index
    ecg = _ecg_source(manifest, manifest_path, root, phenotypes)
    mri = _mri_source(manifest, manifest_path, root, phenotypes)
    spaces = _read_spaces(manifest, manifest_path, root, ids)
    return Cohort(root, manifest, phenotypes, variables, ecg, mri, spaces)


def _array_format(table: dict[str, Any], manifest_path: Path, where: str) -> str:
    kind = table.get("format", "hdf5")
    if kind not in ARRAY_FORMATS:
        raise CohortFormatError(manifest_path, f"{where}.format", f"one of {', '.join(ARRAY_FORMATS)}", repr(kind))
    return kind


def _ml4h_folder(table: dict[str, Any], manifest_path: Path, root: Path, ids: pd.Index, where: str) -> arrays.Ml4hFolder:
    return arrays.Ml4hFolder(root / string_field(table, "path", manifest_path, where), ids, manifest_path, where)


def _number(table: dict[str, Any], key: str, default: float, manifest_path: Path, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise CohortFormatError(manifest_path, f"{where}.{key}", "a positive number", repr(value))
    return float(value)


def _partial(table: dict[str, Any], manifest_path: Path, where: str) -> bool:
    """``partial = true``: the file may lack some subjects, who then have no such recording."""
    value = table.get("partial", False)
    if not isinstance(value, bool):
        raise CohortFormatError(manifest_path, f"{where}.partial", "true or false", repr(value))
    return value


def _ecg_source(manifest: dict, manifest_path: Path, root: Path, phenotypes: pd.DataFrame) -> arrays.EcgSource | None:
    table = section(manifest, "ecg", manifest_path, required=False)
    if table is None:
        return None
    kind = _array_format(table, manifest_path, "ecg")
    if kind == "synthetic":
        return arrays.SyntheticEcgSource(phenotypes)
    if kind == "hdf5":
        return arrays.Hdf5EcgSource(root / string_field(table, "path", manifest_path, "ecg"), phenotypes.index, _partial(table, manifest_path, "ecg"))
    leads = table.get("leads")
    if not isinstance(leads, list) or not leads or not all(isinstance(lead, str) for lead in leads):
        raise CohortFormatError(manifest_path, "ecg.leads", "the list of lead names to read, e.g. ['I', 'II', …]", repr(leads))
    return arrays.Ml4hEcgSource(
        _ml4h_folder(table, manifest_path, root, phenotypes.index, "ecg"),
        leads,
        string_field(table, "strip_dataset", manifest_path, "ecg", default="ukb_ecg_rest/strip_{lead}/instance_0"),
        string_field(table, "median_dataset", manifest_path, "ecg", default="ukb_ecg_rest/median_{lead}/instance_0"),
        _number(table, "scale_to_mv", 1.0, manifest_path, "ecg"),
    )


def _mri_source(manifest: dict, manifest_path: Path, root: Path, phenotypes: pd.DataFrame) -> arrays.MriSource | None:
    table = section(manifest, "mri", manifest_path, required=False)
    if table is None:
        return None
    kind = _array_format(table, manifest_path, "mri")
    if kind == "synthetic":
        return arrays.SyntheticMriSource(phenotypes)
    if kind == "hdf5":
        return arrays.Hdf5MriSource(root / string_field(table, "path", manifest_path, "mri"), phenotypes.index, _partial(table, manifest_path, "mri"))
    return arrays.Ml4hMriSource(
        _ml4h_folder(table, manifest_path, root, phenotypes.index, "mri"),
        string_field(table, "dataset", manifest_path, "mri", default="ukb_cardiac_mri/cine_segmented_lax_4ch/2/instance_0"),
        _number(table, "intensity_scale", 255.0, manifest_path, "mri"),
    )


def _read_spaces(manifest: dict, manifest_path: Path, root: Path, ids: pd.Index) -> dict[str, np.ndarray]:
    tables = section(manifest, "spaces", manifest_path, required=False) or {}
    spaces = {}
    for name, table in tables.items():
        where = f"spaces.{name}"
        if not isinstance(table, dict):
            raise CohortFormatError(manifest_path, where, "a table with a path", type(table).__name__)
        path = root / string_field(table, "path", manifest_path, where)
        if path.suffix.lower() in (".h5", ".hdf5"):
            stored_ids, matrix = _read_space_hdf5(path, string_field(table, "dataset", manifest_path, where, default=name))
        else:
            stored_ids, matrix = read_latent_table(path, string_field(table, "id_column", manifest_path, where, default="sample_id"))
        spaces[name] = _align_space(path, name, stored_ids, matrix, ids)
    return spaces


def _read_space_hdf5(path: Path, dataset: str) -> tuple[pd.Index, np.ndarray]:
    if not path.is_file():
        raise CohortFormatError(path, "file", "an existing HDF5 file of latent spaces", "no such file")
    with h5py.File(path, "r") as file:
        if dataset not in file:
            raise CohortFormatError(path, dataset, "a latent matrix of that name", f"datasets {sorted(file.keys())}")
        if arrays.IDS_DATASET not in file:
            raise CohortFormatError(path, arrays.IDS_DATASET, "a dataset of subject ids", "none")
        return pd.Index(file[arrays.IDS_DATASET].asstr()[:]), file[dataset][()]


def _align_space(path: Path, name: str, stored_ids: pd.Index, matrix: np.ndarray, ids: pd.Index) -> np.ndarray:
    """Reorder a latent matrix to the phenotype table's order, refusing gaps and NaN/inf."""
    if matrix.ndim != 2 or matrix.shape[0] != len(stored_ids):
        raise CohortFormatError(path, name, f"an (N, d) matrix with one row per id ({len(stored_ids)})", f"shape {matrix.shape}")
    if not np.issubdtype(matrix.dtype, np.number):
        raise CohortFormatError(path, name, "numbers", str(matrix.dtype))
    if stored_ids.has_duplicates:
        raise CohortFormatError(path, "sample_id", "unique ids", f"duplicates such as {list(stored_ids[stored_ids.duplicated()][:5])}")
    rows = stored_ids.get_indexer(ids)
    if (rows < 0).any():
        missing = ids[rows < 0]
        raise CohortFormatError(path, "sample_id", "a latent vector for every subject in the phenotype table", f"{len(missing)} missing, e.g. {list(missing[:3])}")
    extra = stored_ids.difference(ids)
    if len(extra):
        raise CohortFormatError(path, "sample_id", "only subjects of the phenotype table", f"{len(extra)} unknown ids, e.g. {list(extra[:3])}")
    aligned = np.ascontiguousarray(matrix[rows], dtype=np.float32)
    bad = ~np.isfinite(aligned)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise CohortFormatError(path, name, "finite values (no NaN or inf)", f"{int(bad.sum())} non-finite, first at subject {ids[first[0]]}, dimension {first[1]}")
    aligned.setflags(write=False)
    return aligned
