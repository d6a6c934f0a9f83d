"""Which steps of the model pipeline a cohort has done, read from its files alone.

No torch and no scikit-learn here: a gunicorn or Celery worker checks at start that the demo is
ready before it serves, and the app starts without either library (tests/test_start_without_torch).
The names of the pipeline's products (the spaces it writes, the predictors file) live here so
that the modules that write them and this one that checks them agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from data_loaders import load_cohort
from models.config import ModelConfig, TrainConfig
from models.sources import DEFAULT_MODEL_FOLDER, is_checkpoint, read_config

PREDICTORS_FILE = "predictors.json"  # beside the model's checkpoint
PREDICTORS_FORMAT = "latent-space-explorer/predictors"
DEFAULT_SPACES = ("joint", "ecg", "mri")  # the spaces the model's encoders write
RAW_SPACE = "raw"  # the raw-signal baseline (models.baseline)
# The baseline gets predictors too, so the accuracy panel can show what learning adds.
BASELINE_SPACES = (RAW_SPACE,)

# The demo's recipe: a fixed number of epochs and a fixed seed, never a time limit, so every machine
# trains the same model (the same weights on a given machine; the same quality everywhere) and the
# README's quality figures hold wherever it runs. The app serves while it trains (app.training), so
# the epochs are chosen for quality: 26 epochs take about 8 minutes on two idle CPU cores for 5,000
# subjects (about 1.5 minutes on an H200, where the same recipe runs, seeded, with cuDNN's
# deterministic kernels).
DEMO_TRAIN = TrainConfig(epochs=26)
DEMO_MODEL = ModelConfig.cpu()


def predictor_spaces(available: Iterable[str]) -> list[str]:
    """The spaces predictors are fitted on: the model's three and any baseline the cohort has."""
    present = set(available)
    return [name for name in (*DEFAULT_SPACES, *BASELINE_SPACES) if name in present]


def model_id(model_dir: Path) -> str | None:
    """The id the training run gave a checkpoint (the hash of its weights)."""
    return read_config(model_dir).get("metadata", {}).get("model_id")


def trained_with(model_dir: Path | str, model_config: ModelConfig, train_config: TrainConfig) -> bool:
    """Whether the checkpoint in ``model_dir`` was built and trained with exactly these settings."""
    document = read_config(model_dir)
    return document.get("model") == model_config.to_dict() and document.get("train") == train_config.to_dict()


def read_predictors_file(path: Path | str) -> dict:
    """A predictors file's parsed JSON, checked for our format marker; ValueError naming the file otherwise."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable predictors file ({error})") from error
    if not isinstance(document, dict) or document.get("format") != PREDICTORS_FORMAT:
        raise ValueError(f"{path}: not a predictors file (expected \"format\": \"{PREDICTORS_FORMAT}\")")
    return document


def fitted_predictors(path: Path) -> tuple[str | None, set[str]]:
    """The model id a predictors file was fitted for and the spaces it covers; (None, ∅) when it is not one."""
    try:
        document = read_predictors_file(path)
    except ValueError:
        return None, set()
    metadata = document.get("metadata")
    listed = document.get("predictors")
    if not isinstance(metadata, dict) or not isinstance(listed, list):
        return None, set()
    return metadata.get("model_id"), {str(entry.get("space")) for entry in listed if isinstance(entry, dict)}


def status(cohort_dir: Path | str, model_dir: Path | str | None = None, recipe: tuple[ModelConfig, TrainConfig] | None = None) -> dict[str, bool]:
    """Which steps are done for a cohort: trained (with ``recipe``'s settings, if given), encoded (by that model), predictors (for that model)."""
    cohort = load_cohort(cohort_dir)
    model_dir = Path(model_dir) if model_dir else cohort.root / DEFAULT_MODEL_FOLDER
    trained = is_checkpoint(model_dir) and (recipe is None or trained_with(model_dir, *recipe))
    current = model_id(model_dir) if trained else None
    table = cohort.manifest.get("model") or {}
    encoded = trained and all(s in cohort.spaces for s in DEFAULT_SPACES) and table.get("model_id") == current
    stored = cohort.manifest.get("predictions") or {}
    fitted = False
    if encoded and (cohort.root / str(stored.get("path", ""))).is_file():
        fitted_for, covered = fitted_predictors(model_dir / PREDICTORS_FILE)
        fitted = fitted_for == current and set(predictor_spaces(cohort.spaces)) <= covered
    return {"trained": trained, "encoded": encoded, "predictors": fitted}


__all__ = [
    "BASELINE_SPACES",
    "DEFAULT_SPACES",
    "DEMO_MODEL",
    "DEMO_TRAIN",
    "PREDICTORS_FILE",
    "PREDICTORS_FORMAT",
    "RAW_SPACE",
    "fitted_predictors",
    "model_id",
    "predictor_spaces",
    "read_predictors_file",
    "status",
    "trained_with",
]
