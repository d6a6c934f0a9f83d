"""Find and load the model a cohort names: our checkpoint folder or a group's TorchScript modules.

The cohort manifest's ``[model]`` table says which::

    [model]                      # our own DropFuse autoencoder (python -m models.train)
    path = "model"               # checkpoint folder, relative to the cohort folder

    [model]                      # your own encoders/decoders
    format = "torchscript"
    ecg_encoder = "my_model/ecg_encoder.pt"
    ecg_decoder = "my_model/ecg_decoder.pt"
    mri_encoder = "my_model/mri_encoder.pt"
    mri_decoder = "my_model/mri_decoder.pt"
    ecg_input = "median"         # or "strip": which ECG the encoder takes (default median)
"""

from __future__ import annotations

import numpy as np
import torch

from data_loaders import Cohort
from models.autoencoder import LatentModel
from models.checkpoint import load_checkpoint
from models.config import EcgInput
from models.device import select_device
from models.sources import TORCHSCRIPT_FORMAT, ModelSource
from models.torchscript import ModelShapeError, load_torchscript_model


def cohort_shapes(cohort: Cohort, ecg_input: EcgInput) -> tuple[tuple[int, int], tuple[int, int, int]]:
    """(samples, leads) and (frames, rows, cols) of the cohort's arrays, read from the first subject that has each."""
    if not (cohort.ecg_present.any() and cohort.mri_present.any()):
        raise ValueError(f"{cohort.root}: the model needs ECGs and cines; this cohort has {cohort.ecg_present.sum()} ECGs and {cohort.mri_present.sum()} cines")
    first_ecg = [str(cohort.phenotypes.index[np.argmax(cohort.ecg_present)])]
    first_mri = [str(cohort.phenotypes.index[np.argmax(cohort.mri_present)])]
    ecg = cohort.ecg_median(first_ecg) if ecg_input == "median" else cohort.ecg(first_ecg)
    return tuple(ecg.shape[1:]), tuple(cohort.mri(first_mri).shape[1:])  # type: ignore[return-value]


def load_model(
    source: ModelSource,
    *,
    device: str | torch.device | None = "auto",
    ecg_shape: tuple[int, int] | None = None,
    mri_shape: tuple[int, int, int] | None = None,
    ecg_leads: tuple[str, ...] | None = None,
) -> LatentModel:
    """Load a model in eval mode; with shapes (and lead names) given, refuse one that does not fit them."""
    target = select_device(device)
    if source.format == TORCHSCRIPT_FORMAT:
        if ecg_shape is None or mri_shape is None:
            raise ValueError("a TorchScript model needs the cohort's ECG and cine shapes to be checked against")
        return load_torchscript_model(source.module_paths, ecg_shape, mri_shape, target)
    assert source.path is not None
    checkpoint = load_checkpoint(source.path, target)
    model = checkpoint.model
    for what, expected, got in (("ECG", model.ecg_shape, ecg_shape), ("cine", model.mri_shape, mri_shape)):
        if got is not None and tuple(got) != tuple(expected):
            raise ModelShapeError(source.path / "config.json", f"the model expects {what} arrays of shape {expected}, the cohort's are {tuple(got)}")
    if ecg_leads and checkpoint.ecg_leads and tuple(ecg_leads) != tuple(checkpoint.ecg_leads):
        raise ModelShapeError(source.path / "config.json", f"the model was trained on leads {list(checkpoint.ecg_leads)}, the cohort has {list(ecg_leads)}")
    return model
