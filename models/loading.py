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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from data_loaders import Cohort, CohortFormatError
from data_loaders.manifest import MANIFEST_NAME
from models.autoencoder import LatentModel
from models.checkpoint import CheckpointError, load_checkpoint, read_config
from models.config import ECG_INPUT_SAMPLES, EcgInput
from models.device import select_device
from models.torchscript import MODULE_NAMES, ModelShapeError, load_torchscript_model

NATIVE_FORMAT = "dropfuse"
TORCHSCRIPT_FORMAT = "torchscript"
MODEL_FORMATS = (NATIVE_FORMAT, TORCHSCRIPT_FORMAT)
DEFAULT_MODEL_FOLDER = "model"


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are, resolved to absolute paths."""

    format: str
    path: Path | None = None  # the checkpoint folder (our format)
    modules: tuple[tuple[str, Path], ...] = ()  # TorchScript files by role (hashable: sources key caches)
    ecg_input: EcgInput = "median"

    @property
    def module_paths(self) -> dict[str, Path]:
        return dict(self.modules)

    @property
    def home(self) -> Path:
        """The folder predictors are saved in: the checkpoint folder, or the ECG encoder's folder."""
        return self.path if self.path is not None else self.module_paths["ecg_encoder"].parent

    def files(self) -> list[Path]:
        if self.path is not None:
            return [self.path / "config.json", self.path / "weights.pt"]
        return [self.module_paths[name] for name in MODULE_NAMES]

    def stamp(self) -> tuple[tuple[str, int, int], ...]:
        """Path, size and modification time of each file: changes when a model is retrained or replaced."""
        stamps = []
        for path in self.files():
            stat = path.stat() if path.exists() else None
            stamps.append((str(path), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0))
        return tuple(stamps)


def source_from_path(path: Path | str) -> ModelSource:
    """A checkpoint folder given on the command line."""
    path = Path(path).resolve()
    document = read_config(path)
    return ModelSource(NATIVE_FORMAT, path=path, ecg_input=document["model"].get("ecg_input", "median"))


def source_from_manifest(root: Path, manifest: dict[str, Any]) -> ModelSource | None:
    """The model named by a manifest's ``[model]`` table, or None when it names none."""
    table = manifest.get("model")
    manifest_path = root / MANIFEST_NAME
    if table is None:
        return None
    if not isinstance(table, dict):
        raise CohortFormatError(manifest_path, "[model]", "a table", type(table).__name__)
    kind = table.get("format", NATIVE_FORMAT)
    if kind not in MODEL_FORMATS:
        raise CohortFormatError(manifest_path, "model.format", f"one of {', '.join(MODEL_FORMATS)}", repr(kind))
    ecg_input = table.get("ecg_input", "median")
    if ecg_input not in ECG_INPUT_SAMPLES:
        raise CohortFormatError(manifest_path, "model.ecg_input", f"one of {', '.join(ECG_INPUT_SAMPLES)}", repr(ecg_input))
    if kind == NATIVE_FORMAT:
        path = table.get("path")
        if not isinstance(path, str) or not path:
            raise CohortFormatError(manifest_path, "model.path", "the checkpoint folder, relative to the cohort folder", repr(path))
        return ModelSource(NATIVE_FORMAT, path=(root / path).resolve(), ecg_input=ecg_input)
    modules = {}
    for name in MODULE_NAMES:
        value = table.get(name)
        if not isinstance(value, str) or not value:
            raise CohortFormatError(manifest_path, f"model.{name}", "the path of a TorchScript file, relative to the cohort folder", repr(value))
        modules[name] = (root / value).resolve()
    return ModelSource(TORCHSCRIPT_FORMAT, modules=tuple(modules.items()), ecg_input=ecg_input)


def cohort_model_source(cohort: Cohort, model_path: Path | str | None = None) -> ModelSource:
    """The model to use with a cohort: ``model_path`` when given, else the manifest's, else ``<cohort>/model``."""
    if model_path is not None:
        return source_from_path(model_path)
    source = source_from_manifest(cohort.root, cohort.manifest)
    if source is not None:
        return source
    default = cohort.root / DEFAULT_MODEL_FOLDER
    if (default / "config.json").is_file():
        return source_from_path(default)
    raise CheckpointError(cohort.root / MANIFEST_NAME, "no [model] table and no model/ folder: train one with python -m models.train --cohort DIR")


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
