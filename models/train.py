"""``python -m models.train --cohort DIR``: train the cross-modal autoencoder and save a checkpoint.

Trains on the cohort's train split, validates on its test split after every epoch (early stopping
keeps the best epoch), and writes ``weights.pt`` (a state dict) and ``config.json`` into ``--out``
(default ``DIR/model``). Reproducible on the CPU for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch

from data_loaders import Cohort, CohortFormatError, load_cohort
from data_loaders.cohort_io import atomic_folder
from models.checkpoint import save_checkpoint
from models.config import ModelConfig, TrainConfig
from models.data import CohortArrays
from models.device import DEVICE_CHOICES, DeviceUnavailableError, select_device
from models.sources import DEFAULT_MODEL_FOLDER, WEIGHTS_FILE, CheckpointError
from models.training import TrainProgress, TrainResult, split_ids, train_model


def weights_digest(folder: Path) -> str:
    """A short content hash of the weights: identifies the model that made a cohort's spaces."""
    return hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()[:16]


def train_and_save(
    cohort: Cohort,
    out: Path | str,
    model_config: ModelConfig,
    settings: TrainConfig,
    *,
    device: str | torch.device | None = "auto",
    arrays: CohortArrays | None = None,
    progress: TrainProgress | None = None,
    show_progress: bool = False,
) -> tuple[Path, TrainResult]:
    """Train, then write the checkpoint folder atomically (a half-written model never appears)."""
    result = train_model(cohort, model_config, settings, device=device, arrays=arrays, progress=progress, show_progress=show_progress)
    out = Path(out)
    metadata: dict[str, Any] = {
        "cohort": str(cohort.root),
        "cohort_name": cohort.name,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "device": str(select_device(device)),
        "torch": torch.__version__,
        "n_train": len(split_ids(cohort)[0]),
        "training": result.summary(),
        "history": result.history,
    }
    leads = tuple(cohort.ecg_leads) if cohort.has_ecg else ()
    with atomic_folder(out) as building:
        save_checkpoint(building, result.model, train_config=settings, ecg_leads=leads, metadata=metadata)
        metadata["model_id"] = weights_digest(building)
        save_checkpoint(building, result.model, train_config=settings, ecg_leads=leads, metadata=metadata)
    return out, result


def main(argv: list[str] | None = None) -> int:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, required=True, help="cohort folder (its manifest.toml)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help=f"maximum epochs (default {defaults.epochs})")
    parser.add_argument("--latent-dim", type=int, default=ModelConfig.latent_dim, help=f"latent size (default {ModelConfig.latent_dim})")
    parser.add_argument("--device", default="auto", help=f"{' | '.join(DEVICE_CHOICES)} | cuda:N (default auto: CUDA when available)")
    parser.add_argument("--out", type=Path, default=None, help=f"checkpoint folder (default DIR/{DEFAULT_MODEL_FOLDER})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default 0); CPU runs are reproducible")
    parser.add_argument("--size", choices=("auto", "cpu", "gpu"), default="auto", help="model size: small for CPU, wide for GPU (default: by device)")
    parser.add_argument("--ecg-input", choices=("median", "strip"), default="median", help="ECG the model reads: 600-sample median beat or 10 s strip")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--patience", type=int, default=defaults.patience, help="epochs without validation improvement before stopping")
    parser.add_argument("--validation-subjects", type=int, default=defaults.validation_subjects,
                        help=f"test subjects validated after every epoch, a seeded sample (default {defaults.validation_subjects}; 0: all of them)")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds of training at most (fits the schedule to it; results then depend on speed)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        device = select_device(args.device)
        size = args.size if args.size != "auto" else ("gpu" if device.type == "cuda" else "cpu")
        build = ModelConfig.gpu if size == "gpu" else ModelConfig.cpu
        model_config = build(latent_dim=args.latent_dim, ecg_input=args.ecg_input)
        settings = TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
            patience=args.patience, time_limit_s=args.time_limit, threads=args.threads,
            validation_subjects=args.validation_subjects or None,
        )
        cohort = load_cohort(args.cohort)
        out = args.out or cohort.root / DEFAULT_MODEL_FOLDER
        path, result = train_and_save(cohort, out, model_config, settings, device=device, show_progress=True)
    except (CohortFormatError, CheckpointError, DeviceUnavailableError, ValueError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = result.summary()
    print(f"Saved {path} (best epoch {summary['best_epoch']} of {summary['epochs_run']}, {summary['stopped']}, {summary['seconds']:.0f} s)")
    print(f"Next: python -m models.encode --cohort {args.cohort} --model {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
