"""Read a cohort's ECG and MRI arrays into memory once, compactly, for training and encoding.

ECGs stay float32 millivolts (5,000 median beats are 144 MB). Cines are kept as uint8 (0–255) in
the two layouts the MRI networks use (``models.layouts``): the encoder's input (frames averaged,
pooled) and the decoder's target. For the CPU model and 5,000 subjects that is 0.3 + 1.2 GB
instead of 9 GB of float32 cines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from data_loaders import Cohort
from models import layouts
from models.config import EcgInput, ModelConfig

Progress = Callable[[int, int], None]
READ_CHUNK = 100  # subjects per read: one chunk of float32 cines is ~180 MB
UINT8_SCALE = 255.0


def layout_key(config: ModelConfig) -> tuple[int, ...]:
    """The settings that decide the in-memory cine layouts: arrays loaded for one config fit another with the same key."""
    return (config.mri_frames, config.mri_size, config.mri_pool, config.mri_frame_step, config.mri_decode_pool, config.mri_subpixel)


@dataclass
class CohortArrays:
    """ECGs (n, samples, leads) float32 mV and the cines' encoder inputs and decoder targets as uint8 (0–255)."""

    subject_ids: list[str]
    ecg: np.ndarray
    mri_input: np.ndarray
    mri_target: np.ndarray
    layout: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.subject_ids)

    def subset(self, rows: np.ndarray) -> CohortArrays:
        return CohortArrays([self.subject_ids[i] for i in rows], self.ecg[rows], self.mri_input[rows], self.mri_target[rows], self.layout)

    def rows_of(self, subject_ids: Sequence[str]) -> np.ndarray:
        positions = pd.Index(self.subject_ids).get_indexer(pd.Index([str(i) for i in subject_ids]))
        if (positions < 0).any():
            raise KeyError(f"subjects not loaded: {[str(i) for i, p in zip(subject_ids, positions) if p < 0][:5]}")
        return positions

    def check_fits(self, config: ModelConfig) -> None:
        """Refuse arrays whose ECG shape or cine layout differ from what ``config`` expects."""
        if self.ecg.shape[1:] != config.ecg_shape:
            raise ValueError(f"the cohort's ECGs are {self.ecg.shape[1:]} (samples, leads); the model expects {config.ecg_shape}")
        if self.layout != layout_key(config):
            frames, size = self.layout[:2]
            raise ValueError(
                f"the cines were loaded for another layout (cines {(frames, size, size)}, pooling/step/subpixel {self.layout[2:]}); "
                f"the model expects cines {config.mri_shape}, {layout_key(config)[2:]}"
            )


def in_stored_order(cohort: Cohort, subject_ids: Sequence[str]) -> list[str]:
    """The ids sorted by their row in the phenotype table, which is how the arrays are stored: reads are fastest so."""
    positions = cohort.phenotypes.index.get_indexer(pd.Index([str(i) for i in subject_ids]))
    if (positions < 0).any():
        raise KeyError(f"{cohort.root}: unknown subject ids {[str(i) for i, p in zip(subject_ids, positions) if p < 0][:5]}")
    return [str(subject_ids[i]) for i in np.argsort(positions, kind="stable")]


def read_ecg(cohort: Cohort, subject_ids: Sequence[str], ecg_input: EcgInput) -> np.ndarray:
    return cohort.ecg_median(subject_ids) if ecg_input == "median" else cohort.ecg(subject_ids)


def iter_chunks(cohort: Cohort, subject_ids: Sequence[str], ecg_input: EcgInput, chunk_size: int = READ_CHUNK) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
    """Yield (ids, ECG float32 mV, cines float32) chunk by chunk, ids in the order given."""
    ids = [str(i) for i in subject_ids]
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        yield chunk, read_ecg(cohort, chunk, ecg_input), cohort.mri(chunk)


def _to_uint8(cines: torch.Tensor) -> np.ndarray:
    return cines.mul(UINT8_SCALE).round_().clamp_(0, 255).to(torch.uint8).numpy()


def cine_layouts(cines: np.ndarray, config: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """Float cines on [0, 1] (n, frames, rows, cols) → uint8 encoder inputs and decoder targets."""
    expected = config.mri_shape
    if cines.shape[1:] != expected:
        raise ValueError(f"the cohort's cines are {cines.shape[1:]} (frames, rows, cols); the model expects {expected}")
    tensor = torch.from_numpy(np.ascontiguousarray(cines, dtype=np.float32))
    return _to_uint8(layouts.encoder_input(tensor, config)), _to_uint8(layouts.decoder_target(tensor, config))


def arrays_from_memory(subject_ids: Sequence[str], ecg: np.ndarray, cines: np.ndarray, config: ModelConfig) -> CohortArrays:
    """Arrays already in memory (tests, notebooks) → the training copy."""
    mri_input, mri_target = cine_layouts(cines, config)
    return CohortArrays([str(i) for i in subject_ids], np.asarray(ecg, dtype=np.float32), mri_input, mri_target, layout_key(config))


def load_arrays(
    cohort: Cohort,
    subject_ids: Sequence[str],
    config: ModelConfig,
    *,
    chunk_size: int = READ_CHUNK,
    progress: Progress | None = None,
) -> CohortArrays:
    """Read the subjects' ECGs and cines into memory in the model's layouts, in stored order."""
    ids = in_stored_order(cohort, subject_ids)
    if not ids:
        raise ValueError(f"{cohort.root}: no subjects to load")
    ecg_parts, input_parts, target_parts = [], [], []
    done = 0
    for chunk, ecg, cines in iter_chunks(cohort, ids, config.ecg_input, chunk_size):
        ecg_parts.append(ecg.astype(np.float32, copy=False))
        mri_input, mri_target = cine_layouts(cines, config)
        input_parts.append(mri_input)
        target_parts.append(mri_target)
        done += len(chunk)
        if progress:
            progress(done, len(ids))
    return CohortArrays(ids, np.concatenate(ecg_parts), np.concatenate(input_parts), np.concatenate(target_parts), layout_key(config))
