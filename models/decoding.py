"""The app's door to the models: latents ↔ arrays in data units, batched, loaded once per process.

``codec_for_cohort(cohort)`` gives the :class:`LatentCodec` of the model a cohort names (cached by
the model files, so a retrained model is picked up); ``load_codec(path)`` does the same for a
checkpoint folder. Decoding returns ECG medians in mV (n, samples, leads) and cines (n, frames,
rows, cols) on the cohort's [0, 1] intensity scale, computed under ``torch.inference_mode()``.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from data_loaders import Cohort
from models.autoencoder import LatentModel
from models.device import select_device
from models.loading import cohort_shapes, load_model
from models.sources import ModelSource, cohort_model_source, source_from_path

Modality = Literal["ecg", "mri"]
MODALITIES: tuple[Modality, ...] = ("ecg", "mri")
DEFAULT_BATCH_SIZE = 64


class LatentCodec:
    """Encode arrays to latents and decode latents to arrays with one loaded model, on one device."""

    def __init__(self, model: LatentModel, device: torch.device, batch_size: int = DEFAULT_BATCH_SIZE, source: ModelSource | None = None):
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.source = source
        self._lock = threading.Lock()  # one forward at a time, so concurrent callbacks cannot pile up memory

    @property
    def latent_dim(self) -> int:
        return int(self.model.latent_dim)

    @property
    def ecg_shape(self) -> tuple[int, int]:
        return tuple(self.model.ecg_shape)  # type: ignore[return-value]

    @property
    def mri_shape(self) -> tuple[int, int, int]:
        return tuple(self.model.mri_shape)  # type: ignore[return-value]

    def decode(self, latents: np.ndarray, modality: Modality) -> np.ndarray:
        """(n, d) latents → (n, samples, leads) ECG in mV, or (n, frames, rows, cols) cines."""
        latents = np.asarray(latents, dtype=np.float32)
        if latents.ndim == 1:
            latents = latents[None]
        if latents.ndim != 2 or latents.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents of shape (n, {self.latent_dim}), got {latents.shape}")
        method = self._method("decode", modality)
        shape = self.ecg_shape if modality == "ecg" else self.mri_shape
        return self._run(method, latents, shape)

    def encode(self, arrays: np.ndarray, modality: Modality) -> np.ndarray:
        """ECGs (n, samples, leads) in mV or cines (n, frames, rows, cols) → (n, d) latents."""
        arrays = np.asarray(arrays, dtype=np.float32)
        expected = self.ecg_shape if modality == "ecg" else self.mri_shape
        if arrays.shape[1:] != tuple(expected):
            raise ValueError(f"expected {modality} arrays of shape (n, {', '.join(map(str, expected))}), got {arrays.shape}")
        return self._run(self._method("encode", modality), arrays, (self.latent_dim,))

    def decode_ecg(self, latents: np.ndarray) -> np.ndarray:
        return self.decode(latents, "ecg")

    def decode_mri(self, latents: np.ndarray) -> np.ndarray:
        return self.decode(latents, "mri")

    def encode_ecg(self, ecg: np.ndarray) -> np.ndarray:
        return self.encode(ecg, "ecg")

    def encode_mri(self, cines: np.ndarray) -> np.ndarray:
        return self.encode(cines, "mri")

    def _method(self, direction: str, modality: str):
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        return getattr(self.model, f"{direction}_{modality}")

    def _run(self, method, inputs: np.ndarray, item_shape: tuple[int, ...]) -> np.ndarray:
        if not inputs.flags.writeable:  # e.g. a cohort's read-only latent matrix; torch wants writable memory
            inputs = inputs.copy()
        out = np.empty((len(inputs), *item_shape), dtype=np.float32)
        with self._lock, torch.inference_mode():
            for start in range(0, len(inputs), self.batch_size):
                batch = torch.from_numpy(inputs[start : start + self.batch_size]).to(self.device)
                out[start : start + len(batch)] = method(batch).float().cpu().numpy()
        return out


def load_codec(path: Path | str, device: str | torch.device | None = "auto", batch_size: int = DEFAULT_BATCH_SIZE) -> LatentCodec:
    """The codec of a checkpoint folder; loaded once per process (per device and file version)."""
    source = source_from_path(path)
    target = select_device(device)
    return _cached_codec(source, source.stamp(), str(target), batch_size, None, None, None)


def codec_for_cohort(
    cohort: Cohort, device: str | torch.device | None = "auto", batch_size: int = DEFAULT_BATCH_SIZE, model_path: Path | str | None = None
) -> LatentCodec:
    """The codec of the model a cohort names, checked against the cohort's array shapes; cached."""
    source = cohort_model_source(cohort, model_path)
    target = select_device(device)
    ecg_shape, mri_shape = _cohort_shapes_cached(str(cohort.root), source.ecg_input, cohort)
    leads = tuple(cohort.ecg_leads) if cohort.has_ecg else None
    return _cached_codec(source, source.stamp(), str(target), batch_size, ecg_shape, mri_shape, leads)


def _cohort_shapes_cached(root: str, ecg_input: str, cohort: Cohort) -> tuple[tuple[int, int], tuple[int, int, int]]:
    key = (root, ecg_input)
    if key not in _SHAPES:
        _SHAPES[key] = cohort_shapes(cohort, ecg_input)  # type: ignore[arg-type]
    return _SHAPES[key]


_SHAPES: dict[tuple[str, str], tuple[tuple[int, int], tuple[int, int, int]]] = {}


@functools.lru_cache(maxsize=8)
def _cached_codec(
    source: ModelSource,
    stamp: tuple,
    device: str,
    batch_size: int,
    ecg_shape: tuple[int, int] | None,
    mri_shape: tuple[int, int, int] | None,
    ecg_leads: tuple[str, ...] | None,
) -> LatentCodec:
    del stamp  # part of the cache key only
    target = torch.device(device)
    model = load_model(source, device=target, ecg_shape=ecg_shape, mri_shape=mri_shape, ecg_leads=ecg_leads)
    return LatentCodec(model, target, batch_size, source)


def clear_cache() -> None:
    """Forget loaded models (tests; after replacing model files in place with equal timestamps)."""
    _cached_codec.cache_clear()
    _SHAPES.clear()
