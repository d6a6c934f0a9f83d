"""Build a synthetic cohort folder in our cohort format, streaming chunks of subjects to disk.

Subjects are generated in chunks by worker processes and written as they come, so memory stays
flat as the cohort grows. The cohort is assembled in a hidden temporary folder and renamed into
place only when complete: an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import pandas as pd

from data_loaders import arrays, cohort_spec
from data_loaders.cohort_io import atomic_folder, die_with_parent, write_manifest
from data_loaders.manifest import FORMAT_VERSION, variables_to_tables
from data_loaders.synthetic import schema
from data_loaders.synthetic.phenotypes import DEMO_PREVALENCE_NOTE, VARIABLES, sample_phenotypes

ArrayMode = Literal["stored", "on-demand"]
Progress = Callable[[int, int], None]

DEFAULT_CHUNK_SIZE = 100


def generate_cohort(
    out_dir: Path | str,
    n_subjects: int,
    seed: int = 0,
    *,
    arrays_mode: ArrayMode = "stored",
    workers: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Generate a cohort of ``n_subjects`` into ``out_dir``; deterministic for ``(n_subjects, seed)``.

    ``arrays_mode="on-demand"`` stores no ECG/MRI arrays: the cohort regenerates a subject's arrays
    from its phenotypes and seed whenever they are read (for 100,000-subject scale work).
    """
    if n_subjects < 1:
        raise ValueError(f"n_subjects must be at least 1, got {n_subjects}")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{out_dir} exists and is not empty; pass overwrite=True (--overwrite) to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    workers = workers or min(os.cpu_count() or 1, 4)
    phenotypes = sample_phenotypes(n_subjects, seed)
    with atomic_folder(out_dir) as building:
        if arrays_mode == "stored":
            _write_arrays(building, phenotypes, workers, chunk_size, progress)
        else:
            _measure_ecg_only(phenotypes, workers, chunk_size, progress)
        phenotypes.reset_index().to_parquet(building / "phenotypes.parquet", index=False)
        write_manifest(building, _manifest(phenotypes, seed, arrays_mode))
    return out_dir


def generate_subject_arrays(drivers: pd.DataFrame, with_mri: bool = True) -> dict[str, np.ndarray]:
    """ECG strips, median beats (int16 µV), Sokolow-Lyon voltages and cines (uint8) for some subjects."""
    from data_loaders.ecg_measures import median_beats, sokolow_lyon_mv
    from data_loaders.synthetic.ecg import synthesize_ecg_strips

    seeds = drivers[schema.SEED].to_numpy()
    strips = synthesize_ecg_strips(drivers, seeds)
    medians = median_beats(strips)
    result = {
        "strip": _to_microvolts(strips),
        "median": _to_microvolts(medians),
        "sokolow_lyon": np.array([sokolow_lyon_mv(m, cohort_spec.ECG_LEADS) for m in medians], dtype=np.float64),
    }
    if with_mri:
        from data_loaders.synthetic.mri import synthesize_cines

        result["cine"] = synthesize_cines(drivers, seeds)
    return result


def _to_microvolts(millivolts: np.ndarray) -> np.ndarray:
    return np.clip(np.round(millivolts / cohort_spec.ECG_SCALE_TO_MV), -32768, 32767).astype(np.int16)


def _chunks(phenotypes: pd.DataFrame, chunk_size: int) -> Iterator[tuple[int, pd.DataFrame]]:
    for start in range(0, len(phenotypes), chunk_size):
        yield start, phenotypes.iloc[start : start + chunk_size]


def _generated_chunks(
    phenotypes: pd.DataFrame, workers: int, chunk_size: int, with_mri: bool, progress: Progress | None
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield (start row, arrays) in order, keeping only a few chunks in flight so memory stays flat."""
    total = len(phenotypes)
    done = 0
    if workers <= 1:
        for start, rows in _chunks(phenotypes, chunk_size):
            result = generate_subject_arrays(rows, with_mri)
            done += len(rows)
            if progress:
                progress(done, total)
            yield start, result
        return
    context = multiprocessing.get_context("spawn")  # safe inside a threaded server, unlike fork
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        pending: deque[tuple[int, int, Future[dict[str, np.ndarray]]]] = deque()
        chunks = _chunks(phenotypes, chunk_size)
        for start, rows in chunks:
            pending.append((start, len(rows), pool.submit(generate_subject_arrays, rows, with_mri)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            start, size, future = pending.popleft()
            result = future.result()
            next_chunk = next(chunks, None)
            if next_chunk is not None:
                pending.append((next_chunk[0], len(next_chunk[1]), pool.submit(generate_subject_arrays, next_chunk[1], with_mri)))
            done += size
            if progress:
                progress(done, total)
            yield start, result


def _write_arrays(folder: Path, phenotypes: pd.DataFrame, workers: int, chunk_size: int, progress: Progress | None) -> None:
    n = len(phenotypes)
    ids = phenotypes.index.to_numpy(dtype=object)
    leads = len(cohort_spec.ECG_LEADS)
    cine_shape = (cohort_spec.CINE_FRAMES, cohort_spec.CINE_SIZE, cohort_spec.CINE_SIZE)
    with h5py.File(folder / "ecg.h5", "w") as ecg, h5py.File(folder / "mri.h5", "w") as mri:
        for file in (ecg, mri):
            file.create_dataset(arrays.IDS_DATASET, data=ids, dtype=h5py.string_dtype())
        ecg.attrs.update(leads=list(cohort_spec.ECG_LEADS), scale_to_mv=cohort_spec.ECG_SCALE_TO_MV, sampling_hz=cohort_spec.ECG_SAMPLING_HZ, units="uV")
        strip = ecg.create_dataset(
            arrays.ECG_STRIP_DATASET, (n, cohort_spec.ECG_STRIP_SAMPLES, leads), np.int16, chunks=(1, cohort_spec.ECG_STRIP_SAMPLES, leads), **cohort_spec.COMPRESSION
        )
        median = ecg.create_dataset(
            arrays.ECG_MEDIAN_DATASET, (n, cohort_spec.ECG_MEDIAN_SAMPLES, leads), np.int16, chunks=(1, cohort_spec.ECG_MEDIAN_SAMPLES, leads), **cohort_spec.COMPRESSION
        )
        mri.attrs.update(intensity_scale=cohort_spec.MRI_INTENSITY_SCALE, view="4-chamber long axis", frame_order="frames, rows, cols")
        cine = mri.create_dataset(arrays.MRI_CINE_DATASET, (n, *cine_shape), np.uint8, chunks=(1, *cine_shape), **cohort_spec.DEMO_CINE_COMPRESSION)
        sokolow = np.empty(n)
        for start, result in _generated_chunks(phenotypes, workers, chunk_size, True, progress):
            stop = start + len(result["strip"])
            strip[start:stop] = result["strip"]
            median[start:stop] = result["median"]
            cine[start:stop] = result["cine"]
            sokolow[start:stop] = result["sokolow_lyon"]
    phenotypes[schema.SOKOLOW_LYON] = sokolow.round(2)


def _measure_ecg_only(phenotypes: pd.DataFrame, workers: int, chunk_size: int, progress: Progress | None) -> None:
    sokolow = np.empty(len(phenotypes))
    for start, result in _generated_chunks(phenotypes, workers, chunk_size, False, progress):
        sokolow[start : start + len(result["sokolow_lyon"])] = result["sokolow_lyon"]
    phenotypes[schema.SOKOLOW_LYON] = sokolow.round(2)


def _manifest(phenotypes: pd.DataFrame, seed: int, arrays_mode: ArrayMode) -> dict[str, Any]:
    if arrays_mode == "stored":
        ecg = {"format": "hdf5", "path": "ecg.h5"}
        mri = {"format": "hdf5", "path": "mri.h5"}
    else:
        ecg = {"format": "synthetic"}
        mri = {"format": "synthetic"}
    return {
        "format_version": FORMAT_VERSION,
        "name": f"Synthetic cardiac cohort ({len(phenotypes):,} subjects, seed {seed})",
        "description": "Generated by data_loaders.synthetic. " + DEMO_PREVALENCE_NOTE,
        "synthetic": {"seed": seed, "subjects": len(phenotypes), "arrays": arrays_mode},
        "phenotypes": {"path": "phenotypes.parquet", "id_column": cohort_spec.SUBJECT_ID},
        "ecg": ecg,
        "mri": mri,
        "variables": variables_to_tables(VARIABLES),
    }
