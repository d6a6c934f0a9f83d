"""Build a cohort folder in our format from a phenotype table and WFDB/DICOM ECGs and DICOM/NIfTI cines.

Sources are indexed first (file names, or DICOM headers only), then subjects are read, conformed
and appended to ``ecg.h5`` / ``mri.h5`` one at a time, so memory stays flat however large the
cohort. Everything is written into a hidden temporary folder renamed into place when complete
(``cohort_io.atomic_folder``). Every subject of the phenotype table stays in the cohort: one whose
recording is absent or refused has that modality missing (``partial = true`` in the manifest,
``has_ecg`` / ``has_mri`` in the table), and the report says why, subject by subject.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError

from data_loaders import arrays, cohort_spec
from data_loaders.cohort_io import atomic_folder, write_manifest
from data_loaders.ecg_measures import detect_r_peaks_multilead, median_beat
from data_loaders.errors import CohortFormatError
from data_loaders.importers.dicom_ecg import read_dicom_ecg
from data_loaders.importers.dicom_mri import read_dicom_cine
from data_loaders.importers.ecg import MissingLeads, conform_ecg
from data_loaders.importers.mri import DEFAULT_FOV_MM, VIEW_NAMES, VIEW_SERIES_PATTERNS, RawCine, conform_cine
from data_loaders.importers.nifti_mri import read_nifti_cine
from data_loaders.importers.wfdb_ecg import read_wfdb_ecg
from data_loaders.manifest import FORMAT_VERSION, VariableSpec, variables_to_tables
from data_loaders.tables import read_table

REPORT_FILE = "import_report.csv"
HAS_ECG = "has_ecg"
HAS_MRI = "has_mri"
TEST_FRACTION = 0.2
MAX_CATEGORIES = 30  # text columns with more distinct values are free text, not offered as a variable
NIFTI_SUFFIXES = (".nii.gz", ".nii")
WRITE_BLOCK = 32  # subjects written to HDF5 at once
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportOptions:
    """What ``python -m data_loaders.import`` was asked to do; see the README for each option."""

    out: Path
    phenotypes: Path
    id_column: str
    ecg_wfdb: Path | None = None
    ecg_dicom: Path | None = None
    mri_dicom: Path | None = None
    mri_nifti: Path | None = None
    view: str = "lax_4ch"
    series: tuple[str, ...] = ()  # shell patterns for the series description (DICOM) or file name (NIfTI)
    missing_leads: MissingLeads = "refuse"
    fov_mm: float = DEFAULT_FOV_MM
    frames: int = cohort_spec.CINE_FRAMES
    size: int = cohort_spec.CINE_SIZE
    seed: int = 0
    name: str | None = None
    overwrite: bool = False


@dataclass
class ImportReport:
    """One row per subject and modality: imported, skipped (a recording refused, with why) or absent."""

    out: Path
    rows: list[dict[str, str]] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)  # recordings whose subject is not in the phenotype table
    left_out: dict[str, str] = field(default_factory=dict)  # phenotype columns not offered as variables, and why

    def add(self, subject_id: str, modality: str, status: str, note: str = "") -> None:
        self.rows.append({"subject_id": subject_id, "modality": modality, "status": status, "note": note})

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["subject_id", "modality", "status", "note"])

    def count(self, modality: str, status: str) -> int:
        return sum(1 for row in self.rows if row["modality"] == modality and row["status"] == status)

    def summary_lines(self) -> list[str]:
        """The summary the command prints: counts per modality, then every skipped subject and why."""
        lines = [f"Cohort written to {self.out}"]
        for modality in sorted({row["modality"] for row in self.rows}):
            lines.append(
                f"  {modality}: {self.count(modality, 'imported')} imported, {self.count(modality, 'skipped')} skipped, "
                f"{self.count(modality, 'absent')} without a recording (kept, {modality} missing)"
            )
        for modality, count in sorted(self.ignored.items()):
            lines.append(f"  {modality}: {count} recording(s) for subjects not in the phenotype table ignored")
        for column, why in self.left_out.items():
            lines.append(f"  column {column!r} is not offered as a variable: {why}")
        skipped = [row for row in self.rows if row["status"] == "skipped"]
        if skipped:
            lines.append(f"Skipped ({len(skipped)}):")
            lines += [f"  {row['subject_id']} {row['modality']}: {row['note']}" for row in skipped]
        lines.append(f"Per-subject notes: {self.out / REPORT_FILE}")
        return lines


def import_cohort(options: ImportOptions, progress: Progress | None = None) -> ImportReport:
    """Build the cohort folder ``options.out``; raises CohortFormatError for a bad table or option."""
    _check_options(options)
    out = Path(options.out)
    if out.exists() and any(out.iterdir()) and not options.overwrite:
        raise FileExistsError(f"{out} exists and is not empty; pass --overwrite to replace it")
    phenotypes = read_table(Path(options.phenotypes), options.id_column)
    ids = [str(i) for i in phenotypes.index]
    report = ImportReport(out)
    ecg_paths = _ecg_locations(options, set(ids), report)
    mri_locations = _mri_locations(options, set(ids), report)
    with atomic_folder(out) as building:
        has_ecg = np.zeros(len(ids), dtype=bool)
        has_mri = np.zeros(len(ids), dtype=bool)
        with _Writers(building, options) as writers:
            for row, subject_id in enumerate(ids):
                if ecg_paths is not None:
                    has_ecg[row] = _import_ecg(subject_id, ecg_paths, options, writers, report)
                if mri_locations is not None:
                    has_mri[row] = _import_mri(subject_id, mri_locations, options, writers, report)
                if progress:
                    progress(row + 1, len(ids))
        table = _with_import_columns(phenotypes, has_ecg if ecg_paths is not None else None, has_mri if mri_locations is not None else None, options.seed)
        table.reset_index().to_parquet(building / "phenotypes.parquet", index=False)
        report.table().to_csv(building / REPORT_FILE, index=False)
        variables = import_variables(table)
        report.left_out = {str(name): f"{table[name].dropna().astype(str).nunique()} distinct texts (at most {MAX_CATEGORIES} make a category)"
                           for name in table.columns if str(name) not in variables}
        write_manifest(building, _manifest(options, variables, has_ecg.any(), has_mri.any()))
    return report


def infer_variables(table: pd.DataFrame) -> dict[str, VariableSpec]:
    """Variable specs from the columns' values: 0/1 → binary, other numbers → continuous, few texts → categorical."""
    variables = {}
    for name in table.columns:
        column = table[name]
        values = column.dropna()
        if pd.api.types.is_bool_dtype(column) or (pd.api.types.is_numeric_dtype(column) and len(values) and values.isin([0, 1]).all()):
            kind, categories = "binary", ()
        elif pd.api.types.is_numeric_dtype(column):
            kind, categories = "continuous", ()
        elif values.astype(str).nunique() <= MAX_CATEGORIES:
            kind, categories = "categorical", tuple(sorted(values.astype(str).unique()))
        else:
            continue
        label = str(name).replace("_", " ")
        variables[str(name)] = VariableSpec(name=str(name), type=kind, label=label[:1].upper() + label[1:], group="Imported", categories=categories)
    return variables


def _check_options(options: ImportOptions) -> None:
    if options.ecg_wfdb and options.ecg_dicom:
        raise CohortFormatError("command line", "--ecg-wfdb / --ecg-dicom", "one ECG source", "both")
    if options.mri_dicom and options.mri_nifti:
        raise CohortFormatError("command line", "--mri-dicom / --mri-nifti", "one MRI source", "both")
    if options.view not in VIEW_SERIES_PATTERNS:
        raise CohortFormatError("command line", "--view", f"one of {', '.join(VIEW_SERIES_PATTERNS)}", repr(options.view))
    for flag, folder in (("--ecg-wfdb", options.ecg_wfdb), ("--ecg-dicom", options.ecg_dicom), ("--mri-dicom", options.mri_dicom), ("--mri-nifti", options.mri_nifti)):
        if folder is not None and not Path(folder).is_dir():
            raise CohortFormatError(folder, flag, "an existing folder of recordings", "no such folder")
    if not (options.fov_mm > 0 and options.frames >= 2 and options.size >= 8):
        found = f"{options.fov_mm}, {options.frames}, {options.size}"
        raise CohortFormatError("command line", "--fov-mm / --frames / --size", "a positive field of view, 2+ frames and 8+ pixels", found)


def _ecg_locations(options: ImportOptions, ids: set[str], report: ImportReport) -> dict[str, tuple[Path, ...]] | None:
    """Subject id → its ECG files: WFDB records named by the id, DICOM waveforms by their PatientID."""
    if options.ecg_wfdb:
        found = _grouped((path.stem, path) for path in sorted(Path(options.ecg_wfdb).rglob("*.hea")))
    elif options.ecg_dicom:
        found = _grouped((str(header.get("PatientID", "")), path) for path, header in _dicom_headers(Path(options.ecg_dicom), ["PatientID"]))
    else:
        return None
    return _known(found, ids, "ecg", report)


def _mri_locations(options: ImportOptions, ids: set[str], report: ImportReport) -> dict[str, Any] | None:
    """Subject id → its cine: DICOM series grouped by PatientID and series UID, NIfTI files named by the id (or in a folder of that name)."""
    if options.mri_dicom:
        tags = ["PatientID", "SeriesInstanceUID", "SeriesDescription", "SeriesNumber"]
        series: dict[str, dict[str, list]] = {}
        for path, header in _dicom_headers(Path(options.mri_dicom), tags):
            subject = series.setdefault(str(header.get("PatientID", "")), {})
            entry = subject.setdefault(str(header.get("SeriesInstanceUID", "")), [str(header.get("SeriesDescription", "")), []])
            entry[1].append(path)
        return _known(series, ids, "mri", report)
    if options.mri_nifti:
        found = []
        for path in sorted(Path(options.mri_nifti).rglob("*.nii*")):
            stem = next((path.name[: -len(s)] for s in NIFTI_SUFFIXES if path.name.endswith(s)), None)
            if stem is not None:
                found.append((stem if stem in ids else path.parent.name, path))
        return _known(_grouped(found), ids, "mri", report)
    return None


def _grouped(pairs: Iterator[tuple[str, Path]] | list[tuple[str, Path]]) -> dict[str, tuple[Path, ...]]:
    groups: dict[str, list[Path]] = {}
    for key, path in pairs:
        groups.setdefault(key, []).append(path)
    return {key: tuple(paths) for key, paths in groups.items()}


def _known(found: dict[str, Any], ids: set[str], modality: str, report: ImportReport) -> dict[str, Any]:
    unknown = [key for key in found if key not in ids]
    if unknown:
        report.ignored[modality] = len(unknown)
    return {key: value for key, value in found.items() if key in ids}


def _dicom_headers(folder: Path, tags: list[str]) -> Iterator[tuple[Path, pydicom.Dataset]]:
    """Headers of every DICOM file under ``folder`` (pixel and waveform data left unread); other files are passed over."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            yield path, pydicom.dcmread(path, stop_before_pixels=True, specific_tags=tags)
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue


def _import_ecg(subject_id: str, locations: dict[str, tuple[Path, ...]], options: ImportOptions, writers: _Writers, report: ImportReport) -> bool:
    paths = locations.get(subject_id)
    if not paths:
        report.add(subject_id, "ecg", "absent", "no ECG found")
        return False
    notes = [f"{len(paths)} ECGs found: the first, {paths[0].name}, imported"] if len(paths) > 1 else []
    try:
        raw = read_wfdb_ecg(paths[0]) if options.ecg_wfdb else read_dicom_ecg(paths[0])
        strip, conform_notes, _ = conform_ecg(raw, options.missing_leads)
        stored = np.clip(np.round(strip / cohort_spec.ECG_SCALE_TO_MV), -32768, 32767).astype(np.int16)
        as_stored_mv = stored * np.float32(cohort_spec.ECG_SCALE_TO_MV)  # the median beat of what the cohort holds, as the demo's
        try:
            median = median_beat(as_stored_mv, detect_r_peaks_multilead(as_stored_mv))
        except ValueError as error:
            raise CohortFormatError(paths[0], "beats", "whole beats for a median beat", str(error)) from error
    except CohortFormatError as error:
        report.add(subject_id, "ecg", "skipped", str(error))
        return False
    writers.append_ecg(subject_id, stored, np.clip(np.round(median / cohort_spec.ECG_SCALE_TO_MV), -32768, 32767).astype(np.int16))
    report.add(subject_id, "ecg", "imported", "; ".join(notes + conform_notes))
    return True


def _import_mri(subject_id: str, locations: dict[str, Any], options: ImportOptions, writers: _Writers, report: ImportReport) -> bool:
    found = locations.get(subject_id)
    if not found:
        report.add(subject_id, "mri", "absent", "no cine found")
        return False
    try:
        raw, notes = _read_cine(found, options)
        cine, conform_notes = conform_cine(raw, frames=options.frames, size=options.size, fov_mm=options.fov_mm)
    except CohortFormatError as error:
        report.add(subject_id, "mri", "skipped", str(error))
        return False
    writers.append_mri(subject_id, np.round(cine * cohort_spec.MRI_INTENSITY_SCALE).astype(np.uint8))
    report.add(subject_id, "mri", "imported", "; ".join(notes + conform_notes))
    return True


def _series_patterns(options: ImportOptions) -> tuple[str, ...]:
    if options.series:
        return tuple(p.lower() for p in options.series)
    return VIEW_SERIES_PATTERNS[options.view] if options.mri_dicom else ("*",)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name.lower(), pattern.lower()) for pattern in patterns)


def _read_cine(found: Any, options: ImportOptions) -> tuple[RawCine, list[str]]:
    patterns = _series_patterns(options)
    if options.mri_dicom:
        candidates = [(description, paths) for description, paths in found.values() if _matches(description, patterns)]
        if not candidates:
            described = sorted({description for description, _ in found.values()})
            folder = Path(next(iter(found.values()))[1][0]).parent
            raise CohortFormatError(folder, "SeriesDescription", f"a series matching {' or '.join(patterns)} (--series)", str(described))
        candidates.sort(key=lambda candidate: -len(candidate[1]))
        description, paths = candidates[0]
        raw, notes = read_dicom_cine(sorted(paths))
        if len(candidates) > 1:
            notes.insert(0, f"{len(candidates)} matching series: {description!r} ({len(paths)} frames) imported")
        return raw, notes
    files = [path for path in found if _matches(path.name, patterns)]
    if not files:
        raise CohortFormatError(found[0].parent, "file name", f"a NIfTI file matching {' or '.join(patterns)} (--series)", str([p.name for p in found]))
    raw, notes = read_nifti_cine(files[0])
    if len(files) > 1:
        notes.insert(0, f"{len(files)} matching files: {files[0].name} imported")
    return raw, notes


class _Writers:
    """``ecg.h5`` and ``mri.h5`` in our format, grown a block of subjects at a time (one chunk per subject, gzip).

    A block (``WRITE_BLOCK`` subjects) is a few megabytes: memory stays flat, and HDF5 resizes and
    compresses far fewer times than subject by subject.
    """

    def __init__(self, folder: Path, options: ImportOptions):
        self._folder = folder
        self._options = options
        self._files: dict[str, h5py.File] = {}
        self._pending: dict[str, list[tuple[str, dict[str, np.ndarray]]]] = {}

    def __enter__(self) -> _Writers:
        return self

    def __exit__(self, error_type: type | None, *_: object) -> None:
        try:
            if error_type is None:
                for name in list(self._pending):
                    self._flush(name)
        finally:
            for file in self._files.values():
                file.close()

    def _file(self, name: str, datasets: dict[str, tuple[tuple[int, ...], type]], attrs: dict[str, Any]) -> None:
        if name not in self._files:
            file = h5py.File(self._folder / name, "w")
            file.create_dataset(arrays.IDS_DATASET, (0,), dtype=h5py.string_dtype(), maxshape=(None,), chunks=(1024,))
            for dataset, (shape, dtype) in datasets.items():
                file.create_dataset(dataset, (0, *shape), dtype, maxshape=(None, *shape), chunks=(1, *shape), **cohort_spec.COMPRESSION)
            file.attrs.update(attrs)
            self._files[name] = file

    def _append(self, name: str, subject_id: str, values: dict[str, np.ndarray]) -> None:
        pending = self._pending.setdefault(name, [])
        pending.append((subject_id, values))
        if len(pending) >= WRITE_BLOCK:
            self._flush(name)

    def _flush(self, name: str) -> None:
        pending = self._pending.pop(name, [])
        if not pending:
            return
        file = self._files[name]
        start = file[arrays.IDS_DATASET].shape[0]
        stop = start + len(pending)
        blocks = {arrays.IDS_DATASET: np.array([subject_id for subject_id, _ in pending], dtype=object)}
        blocks.update({key: np.stack([values[key] for _, values in pending]) for key in pending[0][1]})
        for key, block in blocks.items():
            file[key].resize(stop, axis=0)
            file[key][start:stop] = block

    def append_ecg(self, subject_id: str, strip: np.ndarray, median: np.ndarray) -> None:
        leads = len(cohort_spec.ECG_LEADS)
        self._file(
            "ecg.h5",
            {
                arrays.ECG_STRIP_DATASET: ((cohort_spec.ECG_STRIP_SAMPLES, leads), np.int16),
                arrays.ECG_MEDIAN_DATASET: ((cohort_spec.ECG_MEDIAN_SAMPLES, leads), np.int16),
            },
            {"leads": list(cohort_spec.ECG_LEADS), "scale_to_mv": cohort_spec.ECG_SCALE_TO_MV, "sampling_hz": cohort_spec.ECG_SAMPLING_HZ, "units": "uV"},
        )
        self._append("ecg.h5", subject_id, {arrays.ECG_STRIP_DATASET: strip, arrays.ECG_MEDIAN_DATASET: median})

    def append_mri(self, subject_id: str, cine: np.ndarray) -> None:
        options = self._options
        self._file(
            "mri.h5",
            {arrays.MRI_CINE_DATASET: ((options.frames, options.size, options.size), np.uint8)},
            {"intensity_scale": cohort_spec.MRI_INTENSITY_SCALE, "view": VIEW_NAMES[options.view], "frame_order": "frames, rows, cols",
             "pixel_spacing_mm": options.fov_mm / options.size},
        )
        self._append("mri.h5", subject_id, {arrays.MRI_CINE_DATASET: cine})


def _with_import_columns(phenotypes: pd.DataFrame, has_ecg: np.ndarray | None, has_mri: np.ndarray | None, seed: int) -> pd.DataFrame:
    """The user's table plus which modalities each subject has and, when it has none, an 80/20 train/test split."""
    table = phenotypes.copy()
    if has_ecg is not None:
        table[HAS_ECG] = has_ecg
    if has_mri is not None:
        table[HAS_MRI] = has_mri
    if cohort_spec.SPLIT not in table.columns:
        test = np.random.default_rng(seed).permutation(len(table)) < round(TEST_FRACTION * len(table))
        table[cohort_spec.SPLIT] = np.where(test, "test", "train")
    return table


def import_variables(table: pd.DataFrame) -> dict[str, VariableSpec]:
    """The imported table's variables: inferred from the values, with the columns the import adds described as such."""
    variables = infer_variables(table)
    for column, label in ((HAS_ECG, "Has an ECG"), (HAS_MRI, "Has a cine MRI")):
        if column in variables:
            variables[column] = VariableSpec(column, "binary", label, group="Recordings", description="Whether the import found and accepted this subject's recording.")
    if cohort_spec.SPLIT in variables and variables[cohort_spec.SPLIT].type == "categorical":  # bookkeeping, not a clinical finding (Table 1)
        variables[cohort_spec.SPLIT] = VariableSpec(cohort_spec.SPLIT, "categorical", "Split", group="Study", categories=variables[cohort_spec.SPLIT].categories,
                                                    description="Train/test split for models and predictors.", role="administrative")
    return variables


def _manifest(options: ImportOptions, variables: dict[str, VariableSpec], any_ecg: bool, any_mri: bool) -> dict[str, Any]:
    sources = [str(s) for s in (options.ecg_wfdb, options.ecg_dicom, options.mri_dicom, options.mri_nifti) if s]
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": options.name or Path(options.out).name,
        "description": f"Imported by data_loaders.import from {Path(options.phenotypes).name} and {', '.join(sources) or 'no recordings'}.",
        "phenotypes": {"path": "phenotypes.parquet", "id_column": options.id_column},
        "variables": variables_to_tables(variables),
    }
    if any_ecg:
        manifest["ecg"] = {"format": "hdf5", "path": "ecg.h5", "partial": True}
    if any_mri:
        manifest["mri"] = {"format": "hdf5", "path": "mri.h5", "partial": True}
    return manifest
