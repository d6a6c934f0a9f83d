"""Lazy readers for the per-subject arrays (12-lead ECG, cine MRI).

Each source answers ``ids → array`` for the ids asked and nothing more, so a cohort of 100,000
subjects never sits in memory. Files are opened per call: safe across threads and workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import h5py
import numpy as np
import pandas as pd

from data_loaders import cohort_spec
from data_loaders.errors import CohortFormatError

ECG_STRIP_DATASET = "strip"
ECG_MEDIAN_DATASET = "median"
MRI_CINE_DATASET = "cine"
IDS_DATASET = "sample_id"


class EcgSource(Protocol):
    """Where a cohort's ECGs come from; arrays are float32 millivolts, leads in ``leads`` order.

    ``subject_ids`` lists the subjects that have one, or is None when every subject does.
    """

    leads: tuple[str, ...]
    subject_ids: pd.Index | None

    def strips(self, ids: Sequence[str]) -> np.ndarray: ...

    def medians(self, ids: Sequence[str]) -> np.ndarray: ...


class MriSource(Protocol):
    """Where a cohort's cines come from; arrays are float32 (n, frames, rows, cols) in [0, 1].

    ``subject_ids`` lists the subjects that have one, or is None when every subject does.
    """

    subject_ids: pd.Index | None

    def cines(self, ids: Sequence[str]) -> np.ndarray: ...


def first_flagged(ids: Sequence[str], flags: np.ndarray, count: int = 5) -> list[str]:
    """The first ``count`` ids whose flag is set: what an error names of the subjects concerned."""
    return [str(i) for i, flag in zip(ids, flags) if flag][:count]


def rows_for(index: pd.Index, ids: Sequence[str], path: Path) -> np.ndarray:
    """Positions of ``ids`` in a stored id index, with an error naming ids the file lacks."""
    rows = index.get_indexer(pd.Index([str(i) for i in ids]))
    if (rows < 0).any():
        missing = first_flagged(ids, rows < 0)
        raise KeyError(f"{path}: no arrays for subject ids {missing}")
    return rows


def read_rows(dataset: h5py.Dataset, rows: np.ndarray) -> np.ndarray:
    """Read rows in any order, one slice per run of consecutive stored rows.

    h5py's list selection (``dataset[[3, 8, 9]]``) costs about 12× more per row than slices on
    the compressed, one-subject-per-chunk datasets (37 ms against 3 ms per demo cine): reading a
    training split scattered through the file took minutes that way.
    """
    if len(rows) == 0:
        return np.empty((0, *dataset.shape[1:]), dtype=dataset.dtype)
    unique, inverse = np.unique(rows, return_inverse=True)
    block = np.empty((len(unique), *dataset.shape[1:]), dtype=dataset.dtype)
    run_starts = np.flatnonzero(np.diff(unique) != 1) + 1
    for first, end in zip(np.r_[0, run_starts], np.r_[run_starts, len(unique)]):
        dataset.read_direct(block, np.s_[int(unique[first]) : int(unique[end - 1]) + 1], np.s_[int(first) : int(end)])
    in_order = len(unique) == len(rows) and bool((np.diff(rows) > 0).all())
    return block if in_order else block[inverse]


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise CohortFormatError(path, "file", "an existing HDF5 file", "no such file")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise CohortFormatError(path, "file", "a readable HDF5 file", str(error)) from error


def _check_dataset(file: h5py.File, path: Path, name: str, shape_tail: tuple[int | None, ...], n_subjects: int) -> None:
    if name not in file:
        raise CohortFormatError(path, name, "a dataset of that name", f"datasets {sorted(file.keys())}")
    dataset = file[name]
    expected = (n_subjects, *shape_tail)
    fits = len(dataset.shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, dataset.shape))
    if not fits:
        shown = tuple("any" if e is None else e for e in expected)
        raise CohortFormatError(path, name, f"shape {shown}", str(dataset.shape))
    if not (np.issubdtype(dataset.dtype, np.integer) or np.issubdtype(dataset.dtype, np.floating)):
        raise CohortFormatError(path, name, "a numeric dtype", str(dataset.dtype))


def stored_subject_ids(file: h5py.File, path: Path) -> pd.Index:
    """The file's ``sample_id`` dataset as text ids: strings as stored, whole numbers (ml4h's UK Biobank ids) as their digits."""
    if IDS_DATASET not in file:
        raise CohortFormatError(path, IDS_DATASET, "a dataset of subject ids", "none")
    dataset = file[IDS_DATASET]
    if dataset.ndim != 1:
        raise CohortFormatError(path, IDS_DATASET, "one id per subject (a 1-D dataset)", f"shape {dataset.shape}")
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return pd.Index(dataset.asstr()[:])
    if np.issubdtype(dataset.dtype, np.integer):
        return pd.Index(dataset[:].astype(str))
    raise CohortFormatError(path, IDS_DATASET, "subject ids as strings or whole numbers", f"dtype {dataset.dtype}")


def _stored_ids(file: h5py.File, path: Path, expected_ids: pd.Index, partial: bool = False) -> pd.Index:
    """The file's subject ids: the phenotype table's, or with ``partial`` any subset of them (imported cohorts)."""
    stored = stored_subject_ids(file, path)
    if stored.has_duplicates:
        raise CohortFormatError(path, IDS_DATASET, "unique ids", f"duplicates such as {list(stored[stored.duplicated()][:5])}")
    missing = expected_ids.difference(stored)
    extra = stored.difference(expected_ids)
    if partial and len(extra):
        raise CohortFormatError(path, IDS_DATASET, "only subject ids of the phenotype table", f"{len(extra)} unknown (e.g. {list(extra[:3])})")
    if not partial and (len(missing) or len(extra)):
        raise CohortFormatError(
            path, IDS_DATASET, "the same subject ids as the phenotype table",
            f"{len(missing)} ids missing (e.g. {list(missing[:3])}) and {len(extra)} unknown (e.g. {list(extra[:3])})",
        )
    return stored


MAX_VALUES_PER_SUBJECT = 64_000_000  # 256 MB of float32: far above any ECG or cine, far below a hostile 50 x 100000 x 100000


def positive_scale(value: object, path: Path, field: str) -> float:
    """A scale factor that is a finite number above zero; anything else (text, 0, NaN, true) is refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value) or value <= 0:
        raise CohortFormatError(path, field, "a finite number above zero", repr(value))
    return float(value)


def stored_scale(file: h5py.File, path: Path, attribute: str, datasets: Sequence[str], meaning: str) -> float:
    """The file's scale attribute; 1.0 when absent only for float data: integers without it would be read in the wrong unit, silently."""
    if attribute in file.attrs:
        return positive_scale(file.attrs[attribute], path, f"attrs.{attribute}")
    integer = [name for name in datasets if name in file and np.issubdtype(file[name].dtype, np.integer)]
    if integer:
        raise CohortFormatError(path, f"attrs.{attribute}", f"{meaning} (needed: {integer[0]} is stored as {file[integer[0]].dtype})", "none")
    return 1.0


def check_subject_size(shape: tuple[int, ...], path: Path, name: str) -> None:
    """Refuse, before reading, per-subject arrays with an empty or impossibly large shape."""
    if any(size < 1 for size in shape):
        raise CohortFormatError(path, name, "every dimension at least 1", f"shape {shape}")
    if int(np.prod(shape, dtype=np.int64)) > MAX_VALUES_PER_SUBJECT:
        raise CohortFormatError(path, name, f"at most {MAX_VALUES_PER_SUBJECT:,} values per subject", f"shape {shape}")


def check_finite(values: np.ndarray, ids: Sequence[str], path: Path, name: str) -> np.ndarray:
    """Refuse arrays holding NaN or inf, naming the subjects concerned (first five)."""
    bad = ~np.isfinite(values).reshape(len(values), -1).all(axis=1) if len(values) else np.zeros(0, dtype=bool)
    if bad.any():
        named = first_flagged(ids, bad)
        raise CohortFormatError(path, name, "finite values (no NaN or inf)", f"{int(bad.sum())} subjects with NaN/inf, e.g. {named}")
    return values


def check_unit_range(values: np.ndarray, ids: Sequence[str], path: Path, name: str, scale_field: str) -> np.ndarray:
    """Refuse intensities outside [0, 1] once scaled (a wrong ``intensity_scale``), naming the subjects concerned (first five)."""
    flat = values.reshape(len(values), -1)
    bad = ((flat.min(axis=1) < 0) | (flat.max(axis=1) > 1 + 1e-6)) if len(values) else np.zeros(0, dtype=bool)
    if bad.any():
        named = first_flagged(ids, bad)
        raise CohortFormatError(path, name, f"intensities in [0, 1] once divided by {scale_field}",
                                f"{int(bad.sum())} subjects outside it (values {float(flat.min()):g} to {float(flat.max()):g}), e.g. {named}")
    return values


def scaled(raw: np.ndarray, scale: float) -> np.ndarray:
    """Stored values as float32 in the cohort's units (``scale`` per stored unit)."""
    return raw.astype(np.float32) * np.float32(scale) if scale != 1.0 else raw.astype(np.float32)


class Hdf5EcgSource:
    """Our own format: one HDF5 file with ``sample_id``, ``strip`` (N, 5000, L) and ``median`` (N, 600, L).

    Values are stored as integers or floats and multiplied by the ``scale_to_mv`` attribute; the
    lead names are the ``leads`` attribute, so no order is ever assumed. With ``partial`` the file
    may hold a subset of the subjects (the rest have no ECG).
    """

    def __init__(self, path: Path, expected_ids: pd.Index, partial: bool = False):
        self.path = path
        with _open(path) as file:
            self._index = _stored_ids(file, path, expected_ids, partial)
            self.subject_ids = self._index if partial else None
            leads = file.attrs.get("leads")
            if leads is None:
                raise CohortFormatError(path, "attrs.leads", "the lead names in array order", "none")
            self.leads = tuple(str(lead) for lead in leads)
            n = len(self._index)
            _check_dataset(file, path, ECG_STRIP_DATASET, (cohort_spec.ECG_STRIP_SAMPLES, len(self.leads)), n)
            _check_dataset(file, path, ECG_MEDIAN_DATASET, (cohort_spec.ECG_MEDIAN_SAMPLES, len(self.leads)), n)
            self._scale = stored_scale(file, path, "scale_to_mv", (ECG_STRIP_DATASET, ECG_MEDIAN_DATASET), "the millivolts per stored unit")

    def _read(self, name: str, ids: Sequence[str]) -> np.ndarray:
        rows = rows_for(self._index, ids, self.path)
        with h5py.File(self.path, "r") as file:
            return check_finite(scaled(read_rows(file[name], rows), self._scale), ids, self.path, name)

    def strips(self, ids: Sequence[str]) -> np.ndarray:
        return self._read(ECG_STRIP_DATASET, ids)

    def medians(self, ids: Sequence[str]) -> np.ndarray:
        return self._read(ECG_MEDIAN_DATASET, ids)


class Hdf5MriSource:
    """Our own format: one HDF5 file with ``sample_id`` and ``cine`` (N, frames, rows, cols).

    Stored values are divided by the ``intensity_scale`` attribute (255 for uint8) to give [0, 1].
    With ``partial`` the file may hold a subset of the subjects (the rest have no cine).
    """

    def __init__(self, path: Path, expected_ids: pd.Index, partial: bool = False):
        self.path = path
        with _open(path) as file:
            self._index = _stored_ids(file, path, expected_ids, partial)
            self.subject_ids = self._index if partial else None
            _check_dataset(file, path, MRI_CINE_DATASET, (None, None, None), len(self._index))
            self.frame_shape = tuple(file[MRI_CINE_DATASET].shape[1:])
            check_subject_size(self.frame_shape, path, MRI_CINE_DATASET)
            self._scale = 1.0 / stored_scale(file, path, "intensity_scale", (MRI_CINE_DATASET,), "the stored value of full intensity (255 for uint8)")

    def cines(self, ids: Sequence[str]) -> np.ndarray:
        rows = rows_for(self._index, ids, self.path)
        with h5py.File(self.path, "r") as file:
            cines = check_finite(scaled(read_rows(file[MRI_CINE_DATASET], rows), self._scale), ids, self.path, MRI_CINE_DATASET)
        return check_unit_range(cines, ids, self.path, MRI_CINE_DATASET, "attrs.intensity_scale")


class Ml4hFolder:
    """ml4h's tensor layout: a folder of ``<sample_id>.hd5`` files, one per subject."""

    def __init__(self, folder: Path, expected_ids: pd.Index, manifest_path: Path, where: str, allow_outside_paths: bool = False):
        if not folder.is_dir():
            raise CohortFormatError(manifest_path, f"{where}.path", "a folder of <sample_id>.hd5 files", f"{folder} does not exist")
        present = {p.stem for p in folder.glob("*.hd5")}
        missing = [i for i in expected_ids if i not in present]
        if missing:
            raise CohortFormatError(folder, f"{missing[0]}.hd5", f"one .hd5 file per subject ({len(expected_ids)})", f"{len(missing)} missing, e.g. {missing[:3]}")
        self.folder = folder
        self._allow_outside_paths = allow_outside_paths

    def read(self, sample_id: str, dataset: str) -> np.ndarray:
        path = self.folder / f"{sample_id}.hd5"
        if not self._allow_outside_paths and not path.resolve().is_relative_to(self.folder.resolve()):
            raise CohortFormatError(path, "file", "a file inside the folder (or allow_outside_paths = true in the manifest)", f"a link to {path.resolve()}")
        try:
            with h5py.File(path, "r") as file:
                if dataset not in file:
                    raise CohortFormatError(path, dataset, "a dataset at that path", "none")
                check_subject_size(file[dataset].shape, path, dataset)
                values = file[dataset][()]
                if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
                    raise CohortFormatError(path, dataset, "finite values (no NaN or inf)", f"{int((~np.isfinite(values)).sum())} non-finite")
                return values
        except OSError as error:
            raise CohortFormatError(path, "file", "a readable HDF5 file", str(error)) from error


class Ml4hEcgSource:
    """ECGs from ml4h hd5 files: one 1-D dataset per lead, e.g. ``ukb_ecg_rest/strip_I/instance_0``."""

    subject_ids = None

    def __init__(self, folder: Ml4hFolder, leads: Sequence[str], strip_pattern: str, median_pattern: str, scale_to_mv: float):
        self._folder = folder
        self.leads = tuple(leads)
        self._patterns = {ECG_STRIP_DATASET: strip_pattern, ECG_MEDIAN_DATASET: median_pattern}
        self._lengths = {ECG_STRIP_DATASET: cohort_spec.ECG_STRIP_SAMPLES, ECG_MEDIAN_DATASET: cohort_spec.ECG_MEDIAN_SAMPLES}
        self._scale = scale_to_mv

    def _read(self, kind: str, ids: Sequence[str]) -> np.ndarray:
        length = self._lengths[kind]
        out = np.empty((len(ids), length, len(self.leads)), dtype=np.float32)
        for row, sample_id in enumerate(ids):
            for column, lead in enumerate(self.leads):
                dataset = self._patterns[kind].format(lead=lead)
                trace = np.asarray(self._folder.read(str(sample_id), dataset)).reshape(-1)
                if trace.shape[0] != length:
                    raise CohortFormatError(self._folder.folder / f"{sample_id}.hd5", dataset, f"{length} samples", f"{trace.shape[0]}")
                out[row, :, column] = trace
        return out * np.float32(self._scale) if self._scale != 1.0 else out

    def strips(self, ids: Sequence[str]) -> np.ndarray:
        return self._read(ECG_STRIP_DATASET, ids)

    def medians(self, ids: Sequence[str]) -> np.ndarray:
        return self._read(ECG_MEDIAN_DATASET, ids)


class Ml4hMriSource:
    """Cines from ml4h hd5 files, stored (rows, cols, frames) as ml4h does; returned (frames, rows, cols)."""

    subject_ids = None

    def __init__(self, folder: Ml4hFolder, dataset: str, intensity_scale: float):
        self._folder = folder
        self._dataset = dataset
        self._scale = 1.0 / intensity_scale

    def cines(self, ids: Sequence[str]) -> np.ndarray:
        frames = []
        for sample_id in ids:
            series = np.asarray(self._folder.read(str(sample_id), self._dataset))
            if series.ndim != 3:
                path = self._folder.folder / f"{sample_id}.hd5"
                raise CohortFormatError(path, self._dataset, "a (rows, cols, frames) cine", f"shape {series.shape}")
            frames.append(np.moveaxis(series, -1, 0))
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise CohortFormatError(self._folder.folder, self._dataset, "the same cine shape for every subject", str(sorted(shapes)))
        if not frames:
            return np.empty((0, 0, 0, 0), dtype=np.float32)
        return check_unit_range(scaled(np.stack(frames), self._scale), ids, self._folder.folder, self._dataset, "the manifest's mri.intensity_scale")
