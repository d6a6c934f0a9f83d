"""Checkpoint folders: ``weights.pt`` (a state dict of tensors) beside ``config.json``.

Weights are read with ``torch.load(..., weights_only=True)``, which refuses anything but tensors
and plain containers: a checkpoint holding a pickled Python object is rejected with a
:class:`CheckpointError` instead of running code from the file.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from data_loaders.cohort_io import atomic_path
from models.autoencoder import CrossModalAutoencoder
from models.config import ModelConfig, TrainConfig
from models.device import select_device
from models.sources import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CONFIG_FILE, WEIGHTS_FILE, CheckpointError, read_config


@dataclass
class Checkpoint:
    """A loaded model with the settings it was built and trained with."""

    model: CrossModalAutoencoder
    model_config: ModelConfig
    train_config: TrainConfig | None
    ecg_leads: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def save_checkpoint(
    folder: Path | str,
    model: CrossModalAutoencoder,
    *,
    train_config: TrainConfig | None = None,
    ecg_leads: tuple[str, ...] | list[str] = (),
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``weights.pt`` and ``config.json`` into ``folder`` (created), each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}
    document = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "weights": WEIGHTS_FILE,
        "model": model.config.to_dict(),
        "train": train_config.to_dict() if train_config else None,
        "ecg_leads": list(ecg_leads),
        "metadata": metadata or {},
    }
    with atomic_path(folder / WEIGHTS_FILE) as temporary:
        torch.save(state, temporary)
    with atomic_path(folder / CONFIG_FILE) as temporary:
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return folder


def load_state_dict(path: Path | str, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Read a state dict of tensors without unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            path,
            "refused: the file holds Python objects other than tensors, and loading them could run code "
            f"from the file. Save a state dict (model.state_dict()) instead. Detail: {first_line.strip()}",
        ) from error
    except (RuntimeError, EOFError, OSError) as error:
        raise CheckpointError(path, f"not a readable torch checkpoint ({error})") from error
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(path, "expected a state dict: a mapping of parameter names to tensors")
    return state


def load_checkpoint(folder: Path | str, device: str | torch.device | None = "auto") -> Checkpoint:
    """Rebuild the model from ``config.json`` and load ``weights.pt`` onto ``device``, in eval mode."""
    folder = Path(folder)
    document = read_config(folder)
    try:
        model_config = ModelConfig.from_dict(document["model"])
        train_config = TrainConfig.from_dict(document["train"]) if document.get("train") else None
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(folder / CONFIG_FILE, f"invalid model settings ({error})") from error
    target = select_device(device)
    model = CrossModalAutoencoder(model_config)
    state = load_state_dict(folder / document.get("weights", WEIGHTS_FILE), device="cpu")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(folder / WEIGHTS_FILE, f"weights do not fit the model in {CONFIG_FILE}: {error}") from error
    model.to(target).eval()
    return Checkpoint(model, model_config, train_config, tuple(document.get("ecg_leads", ())), dict(document.get("metadata", {})), folder)

