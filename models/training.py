"""Training loop for the cross-modal autoencoder: reproducible on CPU for a seed, with early stopping.

``train_model`` fits on the cohort's train split and validates on a seeded sample of its test split
after every epoch; the weights of the best validation epoch are kept. Everything random (initial weights,
batch order, modality dropout) comes from generators seeded by ``TrainConfig.seed``.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from data_loaders import Cohort, cohort_spec
from models.autoencoder import CrossModalAutoencoder, mri_reconstruction_loss
from models.config import ModelConfig, TrainConfig
from models.data import UINT8_SCALE, CohortArrays, load_arrays
from models.device import select_device

log = logging.getLogger(__name__)

# progress(stage, done, total): stage is "load" (subjects read) or "train" (batches done).
TrainProgress = Callable[[str, int, int], None]
NORMALIZATION_SAMPLE = 512  # subjects used to measure the cine's mean and spread


@dataclass
class TrainResult:
    model: CrossModalAutoencoder
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float
    stopped: str  # "epochs", "early stopping" or "time limit"
    arrays: CohortArrays = field(repr=False)
    validation_ids: list[str] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        best = self.history[self.best_epoch - 1] if self.history else {}
        return {"best_epoch": self.best_epoch, "epochs_run": len(self.history), "seconds": round(self.seconds, 1), "stopped": self.stopped, "best": best}


def split_ids(cohort: Cohort) -> tuple[list[str], list[str]]:
    """Train and test subject ids among those with both an ECG and a cine; without a split column every one is for training.

    The cross-modal losses need both modalities of a subject, so a subject missing one (an
    imported cohort) is left out of training and evaluation; it is still encoded from what it has.
    """
    table = cohort.phenotypes
    paired = cohort.ecg_present & cohort.mri_present
    if cohort_spec.SPLIT not in table.columns:
        return [str(i) for i in table.index[paired]], []
    split = table[cohort_spec.SPLIT].astype(str).to_numpy()
    return [str(i) for i in table.index[paired & (split == "train")]], [str(i) for i in table.index[paired & (split == "test")]]


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generators (initial weights, modality dropout; CUDA's too) and return a CPU generator for batches.

    On a CUDA device cuDNN is also held to its deterministic kernels, so the GPU recipe is seeded
    like the CPU one (bitwise identity across machines is not promised on either).
    """
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed + 1)
    return generator


class Batches:
    """Turns in-memory arrays into normalised model-unit tensors on the training device."""

    def __init__(self, model: CrossModalAutoencoder, arrays: CohortArrays, device: torch.device):
        arrays.check_fits(model.config)
        self.device = device
        self.ecg = torch.from_numpy(((arrays.ecg - model.ecg_mean.cpu().numpy()) / model.ecg_std.cpu().numpy()).transpose(0, 2, 1).astype(np.float32))
        self.mri_input = torch.from_numpy(arrays.mri_input)
        self.mri_target = torch.from_numpy(arrays.mri_target)
        self.mri_scale = 1.0 / (UINT8_SCALE * float(model.mri_std))
        self.mri_shift = float(model.mri_mean) / float(model.mri_std)

    def __len__(self) -> int:
        return self.ecg.shape[0]

    def _cines(self, store: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return store[rows].to(self.device, non_blocking=True).float().mul_(self.mri_scale).sub_(self.mri_shift)

    def get(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised (ECG, encoder input, decoder target) for these rows."""
        ecg = self.ecg[rows].to(self.device, non_blocking=True)
        return ecg, self._cines(self.mri_input, rows), self._cines(self.mri_target, rows)


def validation_sample(rows: np.ndarray, settings: TrainConfig) -> np.ndarray:
    """The rows validated after every epoch: a seeded sample of ``settings.validation_subjects``, in stored order."""
    if settings.validation_subjects is None or len(rows) <= settings.validation_subjects:
        return rows
    return np.sort(np.random.default_rng(settings.seed).choice(rows, size=settings.validation_subjects, replace=False))


def measure_normalization(model: CrossModalAutoencoder, arrays: CohortArrays, seed: int) -> None:
    """Per-lead ECG mean/std and the cines' pixel mean/std from the training subjects."""
    ecg = arrays.ecg.astype(np.float64)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(arrays), size=min(NORMALIZATION_SAMPLE, len(arrays)), replace=False))
    cines = arrays.mri_target[sample].astype(np.float64) / UINT8_SCALE
    model.set_normalization(
        torch.from_numpy(ecg.mean(axis=(0, 1))).float(),
        torch.from_numpy(ecg.std(axis=(0, 1))).float(),
        float(cines.mean()),
        float(cines.std()),
    )


@torch.no_grad()
def validate(model: CrossModalAutoencoder, batches: Batches, settings: TrainConfig) -> dict[str, float]:
    """Reconstruction losses from each source (own modality, the other, the mean of both) and the contrastive loss.

    Deterministic: every subject is decoded from every source, no random modality choice.
    """
    model.eval()
    totals: dict[str, float] = {}
    n_total = len(batches)
    order = torch.arange(n_total)
    for start in range(0, n_total, settings.batch_size):
        rows = order[start : start + settings.batch_size]
        ecg, cine_in, target = batches.get(rows)
        z_ecg, z_mri = model.ecg_encoder(ecg), model.mri_encoder(cine_in)
        sources = {"ecg": z_ecg, "mri": z_mri, "joint": (z_ecg + z_mri) / 2}
        values = {}
        for name, latent in sources.items():
            values[f"ecg_from_{name}"] = F.mse_loss(model.ecg_decoder(latent), ecg)
            values[f"mri_from_{name}"] = mri_reconstruction_loss(model.mri_decoder.forward_train(latent), target, settings)
        values["contrastive"] = model.contrastive_loss(z_ecg, z_mri) if len(rows) > 1 else torch.tensor(0.0)
        for key, value in values.items():
            totals[key] = totals.get(key, 0.0) + float(value) * len(rows)
    metrics = {key: value / n_total for key, value in totals.items()}
    recon = np.mean([settings.ecg_weight * metrics[f"ecg_from_{s}"] + settings.mri_weight * metrics[f"mri_from_{s}"] for s in ("ecg", "mri", "joint")])
    metrics["loss"] = float(recon + settings.contrastive_weight * metrics["contrastive"])
    return metrics


def train_model(
    cohort: Cohort,
    model_config: ModelConfig,
    settings: TrainConfig,
    *,
    device: str | torch.device | None = "auto",
    arrays: CohortArrays | None = None,
    progress: TrainProgress | None = None,
    show_progress: bool = False,
) -> TrainResult:
    """Train on the cohort's train split, validate on its test split, keep the best epoch's weights."""
    select_device(device)  # fail before reading gigabytes
    train_ids, test_ids = split_ids(cohort)
    if len(train_ids) < 2:
        raise ValueError(f"{cohort.root}: need at least 2 training subjects with both an ECG and a cine, found {len(train_ids)}")
    if not test_ids:
        log.warning("%s: no test split; validating on the training subjects", cohort.root)
    if arrays is None:
        with tqdm(total=len(train_ids) + len(test_ids), unit="subject", desc="Reading arrays", disable=not show_progress) as bar:

            def loaded(done: int, total: int) -> None:
                bar.update(done - bar.n)
                if progress:
                    progress("load", done, total)

            arrays = load_arrays(cohort, train_ids + test_ids, model_config, progress=loaded)
    return fit(arrays, train_ids, test_ids, model_config, settings, device=device, progress=progress, show_progress=show_progress)


def fit(
    arrays: CohortArrays,
    train_ids: list[str],
    validation_ids: list[str],
    model_config: ModelConfig,
    settings: TrainConfig,
    *,
    device: str | torch.device | None = "auto",
    progress: TrainProgress | None = None,
    show_progress: bool = False,
) -> TrainResult:
    """Train on arrays in memory: ``train_ids`` for fitting, ``validation_ids`` (or the training ids) for early stopping."""
    target = select_device(device)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    generator = seed_everything(settings.seed)
    train_rows = arrays.rows_of(train_ids)
    test_rows = validation_sample(arrays.rows_of(validation_ids) if validation_ids else train_rows, settings)
    test_ids = list(validation_ids)

    model = CrossModalAutoencoder(model_config)
    arrays.check_fits(model_config)
    measure_normalization(model, arrays.subset(train_rows), settings.seed)
    model.to(target)
    train_batches = Batches(model, arrays.subset(train_rows), target)
    test_batches = Batches(model, arrays.subset(test_rows), target)

    n_train = len(train_batches)
    batch_size = min(settings.batch_size, n_train)
    steps_per_epoch = n_train // batch_size
    # The fused kernel updates all parameters in one pass (8 % of a CPU training step, against 55 small ops per parameter).
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay, fused=True)
    schedule = WarmupCosine(settings.epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state = math.inf, 0, None
    stale, stopped, planned_epochs = 0, "epochs", settings.epochs
    started = time.perf_counter()
    with tqdm(total=planned_epochs * steps_per_epoch, unit="batch", desc="Training", disable=not show_progress) as bar:
        epoch = 0
        while epoch < planned_epochs:
            epoch += 1
            model.train()
            order = torch.randperm(n_train, generator=generator)
            sums = {"loss": 0.0, "ecg": 0.0, "mri": 0.0, "contrastive": 0.0}
            for step in range(steps_per_epoch):
                rows = order[step * batch_size : (step + 1) * batch_size].sort().values
                ecg, cine_in, cine_target = train_batches.get(rows)
                losses = model.losses(ecg, cine_in, cine_target, settings, generator)
                optimizer.zero_grad(set_to_none=True)
                losses["loss"].backward()
                optimizer.step()
                scheduler.step()
                for key in sums:
                    sums[key] += losses[key].detach().item()
                bar.update(1)
                bar.set_postfix(epoch=epoch, ecg=f"{sums['ecg'] / (step + 1):.3f}", mri=f"{sums['mri'] / (step + 1):.3f}", clip=f"{sums['contrastive'] / (step + 1):.2f}")
                if progress:
                    progress("train", (epoch - 1) * steps_per_epoch + step + 1, planned_epochs * steps_per_epoch)
            metrics = {f"train_{key}": value / steps_per_epoch for key, value in sums.items()}
            metrics.update({f"val_{key}": value for key, value in validate(model, test_batches, settings).items()})
            metrics.update(epoch=epoch, seconds=time.perf_counter() - started, temperature=model.temperature, learning_rate=scheduler.get_last_lr()[0])
            history.append(metrics)
            if show_progress:
                bar.write(_epoch_line(metrics))
            log.info(_epoch_line(metrics))
            if metrics["val_loss"] < best_loss - settings.min_delta:
                best_loss, best_epoch, stale = metrics["val_loss"], epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
                if stale >= settings.patience:
                    stopped = "early stopping"
                    break
            if settings.time_limit_s is not None:
                # Fit the schedule into the time left, from the last epoch's pace: the learning rate
                # still anneals to its end when the limit, not the epoch count, decides.
                elapsed = metrics["seconds"]
                last_epoch = elapsed - (history[-2]["seconds"] if len(history) > 1 else 0.0)
                affordable = epoch + int(max(0.0, settings.time_limit_s - elapsed) // max(last_epoch, 1e-6))
                planned = max(epoch, min(settings.epochs, affordable))
                if planned != planned_epochs:
                    planned_epochs = planned
                    schedule.total_steps = planned_epochs * steps_per_epoch
                    bar.total = planned_epochs * steps_per_epoch
                    stopped = "time limit" if planned_epochs < settings.epochs else "epochs"
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model, history, best_epoch, time.perf_counter() - started, stopped, arrays, test_ids)


class WarmupCosine:
    """Learning-rate factor: linear warm-up, then cosine decay to 2% at ``total_steps`` (which may shrink)."""

    def __init__(self, total_steps: int, warmup_fraction: float = 0.1, floor: float = 0.02):
        self.total_steps = total_steps
        self.warmup_fraction = warmup_fraction
        self.floor = floor

    def __call__(self, step: int) -> float:
        warmup = max(1, int(self.warmup_fraction * self.total_steps))
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, self.total_steps - warmup))
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _epoch_line(metrics: dict[str, float]) -> str:
    return (
        f"epoch {metrics['epoch']}: train {metrics['train_loss']:.4f} | val {metrics['val_loss']:.4f} "
        f"(ECG {metrics['val_ecg_from_ecg']:.4f}, MRI {metrics['val_mri_from_mri']:.4f}, ECG→MRI {metrics['val_mri_from_ecg']:.4f}, "
        f"MRI→ECG {metrics['val_ecg_from_mri']:.4f}, CLIP {metrics['val_contrastive']:.3f}) {metrics['seconds']:.0f}s"
    )
