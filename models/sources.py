"""Where a cohort's model is and whether its config is ours: checked without torch, so the app starts without it.

A checkpoint folder holds ``config.json`` (marked with our format and version) and ``weights.pt``;
a research group's own model is four TorchScript files named in the manifest's ``[model]`` table
(see :mod:`models.loading`). Loading either needs torch; finding it and reading its config do not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_loaders import Cohort, CohortFormatError
from data_loaders.cohort import allows_outside_paths, cohort_file
from data_loaders.manifest import MANIFEST_NAME
from models.config import ECG_INPUT_SAMPLES, EcgInput

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
CHECKPOINT_FORMAT = "latent-space-explorer/dropfuse"
CHECKPOINT_VERSION = 1
MODULE_NAMES = ("ecg_encoder", "ecg_decoder", "mri_encoder", "mri_decoder")  # a TorchScript model's four files


class CheckpointError(ValueError):
    """A checkpoint folder is missing, incomplete, unsafe to load or does not fit its config."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}")


def is_checkpoint(folder: Path | str) -> bool:
    """Whether a folder holds a checkpoint's two files (whether they load is for models.checkpoint to say)."""
    folder = Path(folder)
    return (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()


def read_config(folder: Path | str) -> dict[str, Any]:
    """The parsed ``config.json`` of a checkpoint folder, checked for our format marker."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(path, "no such file: a checkpoint folder holds config.json and weights.pt (train one with python -m models.train)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(path, f"not valid JSON ({error})") from error
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(path, f"not a model config: expected \"format\": \"{CHECKPOINT_FORMAT}\"")
    if document.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(path, f"config version {document.get('version')!r}; this code reads version {CHECKPOINT_VERSION}")
    return document


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
    outside = allows_outside_paths(manifest)  # a manifest from elsewhere must not make the server load any file as a model
    if kind == NATIVE_FORMAT:
        path = table.get("path")
        if not isinstance(path, str) or not path:
            raise CohortFormatError(manifest_path, "model.path", "the checkpoint folder, relative to the cohort folder", repr(path))
        return ModelSource(NATIVE_FORMAT, path=cohort_file(root, path, manifest_path, "model.path", outside).resolve(), ecg_input=ecg_input)
    modules = {}
    for name in MODULE_NAMES:
        value = table.get(name)
        if not isinstance(value, str) or not value:
            raise CohortFormatError(manifest_path, f"model.{name}", "the path of a TorchScript file, relative to the cohort folder", repr(value))
        modules[name] = cohort_file(root, value, manifest_path, f"model.{name}", outside).resolve()
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
