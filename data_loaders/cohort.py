"""``load_cohort``: a cohort folder on disk → a validated, read-only :class:`Cohort`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from data_loaders import arrays, cohort_spec
from data_loaders.cohort_io import clean_leftovers
from data_loaders.errors import CohortFormatError
from data_loaders.manifest import MANIFEST_NAME, VariableSpec, parse_variables, read_manifest, section, string_field
from data_loaders.tables import read_latent_table, read_phenotypes, read_predictions

FINITE_CHECK_ROWS = 65_536

ARRAY_FORMATS = ("hdf5", "ml4h_hd5", "synthetic")

logger = logging.getLogger(__name__)


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
    def description(self) -> str:
        """The manifest's description of the cohort (Markdown; checked to be text at load), or ""."""
        return self.manifest.get("description", "")

    @property
    def space_descriptions(self) -> dict[str, str]:
        """Each latent space's description from the manifest, for the spaces that have one."""
        tables = self.manifest.get("spaces", {})
        return {name: tables[name]["description"] for name in self.spaces if name in tables and tables[name].get("description")}

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

    def predictions(self) -> pd.DataFrame | None:
        """The stored out-of-sample predictions of downstream predictors (a long table), or None when there are none.

        Its manifest path is held to the cohort folder like every other (``allow_outside_paths``).
        """
        manifest_path = self.root / MANIFEST_NAME
        table = section(self.manifest, "predictions", manifest_path, required=False)
        if not table:
            return None
        return read_predictions(manifest_file(self.manifest, table, manifest_path, self.root, "predictions"), self.phenotypes, self.variables)

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

    def _require_ecg(self) -> arrays.EcgSource:
        if self._ecg is None:
            raise LookupError(f"{self.root / MANIFEST_NAME}: this cohort has no [ecg] section")
        return self._ecg


def load_cohort(path: Path | str) -> Cohort:
    """Read and validate a cohort folder (or its manifest file); raises CohortFormatError."""
    path = Path(path)
    manifest_path = path if path.suffix == ".toml" else path / MANIFEST_NAME
    root = manifest_path.parent
    clean_leftovers(root.parent, only=root.name)  # a swap killed mid-way: the previous state back (logged)
    clean_leftovers(root)
    manifest = read_manifest(manifest_path)
    _check_description(manifest, manifest_path, "description")
    variables = parse_variables(manifest, manifest_path)
    table = section(manifest, "phenotypes", manifest_path)
    id_column = string_field(table, "id_column", manifest_path, "phenotypes", default=cohort_spec.SUBJECT_ID)
    phenotypes = read_phenotypes(manifest_file(manifest, table, manifest_path, root, "phenotypes"), id_column, variables)
    phenotypes.index.name = cohort_spec.SUBJECT_ID
    for name in [name for name, spec in variables.items() if spec.type == "continuous" and phenotypes[name].isna().all()]:
        logger.warning("%s: variable %s has no values in the phenotype table; it is left out of the app", manifest_path, name)
        del variables[name]
    ids = phenotypes.index
    ecg = _ecg_source(manifest, manifest_path, root, phenotypes)
    mri = _mri_source(manifest, manifest_path, root, phenotypes)
    spaces = _read_spaces(manifest, manifest_path, root, ids)
    return Cohort(root, manifest, phenotypes, variables, ecg, mri, spaces)


def _check_description(table: dict[str, Any], manifest_path: Path, field: str) -> None:
    """A description, where there is one, is text: the app shows it as Markdown (without HTML)."""
    value = table.get("description", "")
    if not isinstance(value, str):
        raise CohortFormatError(manifest_path, field, "text (Markdown)", f"{type(value).__name__} {value!r}"[:80])


def _array_format(table: dict[str, Any], manifest_path: Path, where: str) -> str:
    kind = table.get("format", "hdf5")
    if kind not in ARRAY_FORMATS:
        raise CohortFormatError(manifest_path, f"{where}.format", f"one of {', '.join(ARRAY_FORMATS)}", repr(kind))
    return kind


def _ml4h_folder(manifest: dict, table: dict[str, Any], manifest_path: Path, root: Path, ids: pd.Index, where: str) -> arrays.Ml4hFolder:
    return arrays.Ml4hFolder(manifest_file(manifest, table, manifest_path, root, where), ids, manifest_path, where, allows_outside_paths(manifest))


def _number(table: dict[str, Any], key: str, default: float, manifest_path: Path, where: str) -> float:
    return arrays.positive_scale(table.get(key, default), manifest_path, f"{where}.{key}")


def cohort_file(root: Path, relative: str, manifest_path: Path, field: str, allow_outside_paths: bool) -> Path:
    """``root / relative``, refused when it (or a link on the way) leads outside the cohort folder.

    Absolute paths, ``..`` and symbolic links out of the folder need ``allow_outside_paths = true``
    in the manifest: a manifest from elsewhere must not make the server read arbitrary files.
    """
    path = root / relative
    if not allow_outside_paths and not path.resolve().is_relative_to(root.resolve()):
        raise CohortFormatError(manifest_path, field, "a path inside the cohort folder (or allow_outside_paths = true)", repr(relative))
    return path


def allows_outside_paths(manifest: dict[str, Any]) -> bool:
    """Whether the manifest lets its paths lead out of the cohort folder (``allow_outside_paths = true``, nothing else)."""
    return manifest.get("allow_outside_paths", False) is True


def manifest_file(manifest: dict[str, Any], table: dict[str, Any], manifest_path: Path, root: Path, where: str) -> Path:
    """The ``path`` of a manifest table, checked to stay inside the cohort unless the manifest allows otherwise."""
    return cohort_file(root, string_field(table, "path", manifest_path, where), manifest_path, f"{where}.path", allows_outside_paths(manifest))


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
        from data_loaders.synthetic.sources import SyntheticEcgSource  # the generator, only for cohorts that need it

        return SyntheticEcgSource(phenotypes)
    if kind == "hdf5":
        return arrays.Hdf5EcgSource(manifest_file(manifest, table, manifest_path, root, "ecg"), phenotypes.index, _partial(table, manifest_path, "ecg"))
    leads = table.get("leads")
    if not isinstance(leads, list) or not leads or not all(isinstance(lead, str) for lead in leads):
        raise CohortFormatError(manifest_path, "ecg.leads", "the list of lead names to read, e.g. ['I', 'II', …]", repr(leads))
    return arrays.Ml4hEcgSource(
        _ml4h_folder(manifest, table, manifest_path, root, phenotypes.index, "ecg"),
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
        from data_loaders.synthetic.sources import SyntheticMriSource

        return SyntheticMriSource(phenotypes)
    if kind == "hdf5":
        return arrays.Hdf5MriSource(manifest_file(manifest, table, manifest_path, root, "mri"), phenotypes.index, _partial(table, manifest_path, "mri"))
    return arrays.Ml4hMriSource(
        _ml4h_folder(manifest, table, manifest_path, root, phenotypes.index, "mri"),
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
        _check_description(table, manifest_path, f"{where}.description")
        path = manifest_file(manifest, table, manifest_path, root, where)
        if path.suffix.lower() in (".h5", ".hdf5"):
            stored_ids, matrix = _read_space_hdf5(path, string_field(table, "dataset", manifest_path, where, default=name))
        else:
            stored_ids, matrix = read_latent_table(path, string_field(table, "id_column", manifest_path, where, default=cohort_spec.SUBJECT_ID))
        spaces[name] = _align_space(path, name, stored_ids, matrix, ids)
    return spaces


def _read_space_hdf5(path: Path, dataset: str) -> tuple[pd.Index, np.ndarray]:
    if not path.is_file():
        raise CohortFormatError(path, "file", "an existing HDF5 file of latent spaces", "no such file")
    with h5py.File(path, "r") as file:
        if dataset not in file:
            raise CohortFormatError(path, dataset, "a latent matrix of that name", f"datasets {sorted(file.keys())}")
        stored_ids = arrays.stored_subject_ids(file, path)
        stored = file[dataset]
        offset = stored.id.get_offset()
        if offset is None or stored.chunks is not None or stored.compression or stored.dtype != np.dtype("<f4") or stored.ndim != 2:
            return stored_ids, stored[()]
        shape = stored.shape
    # Contiguous, uncompressed float32 (as write_spaces stores it): a read-only memory map, so every
    # worker process serving the cohort shares one copy in the page cache instead of holding its own.
    return stored_ids, np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=shape)


def _align_space(path: Path, name: str, stored_ids: pd.Index, matrix: np.ndarray, ids: pd.Index) -> np.ndarray:
    """Reorder a latent matrix to the phenotype table's order, refusing gaps and NaN/inf."""
    if matrix.ndim != 2 or matrix.shape[0] != len(stored_ids) or matrix.shape[1] < 1:
        raise CohortFormatError(path, name, f"an (N, d) matrix with one row per id ({len(stored_ids)}) and d >= 1", f"shape {matrix.shape}")
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
    if isinstance(matrix, np.memmap) and np.array_equal(rows, np.arange(len(rows))):
        aligned = np.asarray(matrix)  # already in order: keep the shared map (a plain read-only ndarray view of it)
    else:
        aligned = np.ascontiguousarray(matrix[rows], dtype=np.float32)
    for start in range(0, len(aligned), FINITE_CHECK_ROWS):  # in blocks: no full-size temporary for a mapped matrix
        bad = ~np.isfinite(aligned[start:start + FINITE_CHECK_ROWS])
        if bad.any():
            first = np.argwhere(bad)[0]
            raise CohortFormatError(path, name, "finite values (no NaN or inf)",
                                    f"non-finite values, the first at subject {ids[start + first[0]]}, dimension {first[1]}")
    aligned.setflags(write=False)
    return aligned
