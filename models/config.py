"""Model and training settings: two frozen dataclasses, written beside every checkpoint as JSON.

The model config says everything needed to rebuild the network before loading its state dict;
the training config says how it was trained. Both round-trip through plain dicts so a checkpoint
folder stays readable without unpickling anything.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from data_loaders import cohort_spec

EcgInput = Literal["median", "strip"]
MriLoss = Literal["mse", "l1"]
MRI_LOSSES: tuple[str, ...] = ("mse", "l1")
ECG_INPUT_SAMPLES = {"median": cohort_spec.ECG_MEDIAN_SAMPLES, "strip": cohort_spec.ECG_STRIP_SAMPLES}


@dataclass(frozen=True)
class ModelConfig:
    """Shape and width of the cross-modal autoencoder (one encoder and decoder per modality).

    ``cpu()`` is small enough to train on the 5,000-subject demo cohort in minutes on two cores;
    ``gpu()`` is wider and deeper for real cohorts on a CUDA device.
    """

    latent_dim: int = 256
    # ECG: the 600-sample median beat (default) or the 10 s strip, 1-D convolutions over time.
    ecg_input: EcgInput = "median"
    ecg_leads: int = len(cohort_spec.ECG_LEADS)
    ecg_channels: tuple[int, ...] = (16, 32, 64, 64)
    ecg_strides: tuple[int, ...] = (2, 2, 2, 2)
    ecg_kernel: int = 7
    # MRI: frames as channels of 2-D convolutions. The encoder sees the cine average-pooled by
    # ``mri_pool``. The decoder starts from ``mri_decoder_channels[0]`` maps and doubles their side
    # with a transposed convolution per further entry; its output layer then either doubles once
    # more straight into the frames (``mri_subpixel = 1``) or maps each pixel to an s × s block of
    # every frame (a 1 × 1 convolution and pixel shuffle, ``mri_subpixel = s``): full resolution at
    # a fraction of the cost of a last convolution at full size. ``mri_decode_pool > 1`` decodes at
    # that fraction of the size and upsamples bilinearly (cheapest, blurriest). With
    # ``mri_frame_step = k`` the encoder sees the mean of every k frames and the decoder predicts
    # every k-th frame, the others interpolated linearly round the cycle: the cine's motion is
    # smooth enough that this costs almost nothing in SSIM and halves the work for k = 2.
    mri_frames: int = cohort_spec.CINE_FRAMES
    mri_size: int = cohort_spec.CINE_SIZE
    mri_pool: int = 2
    mri_channels: tuple[int, ...] = (32, 64, 128)
    mri_decoder_channels: tuple[int, ...] = (128, 64, 32, 32)
    mri_subpixel: int = 2
    mri_decode_pool: int = 1
    mri_frame_step: int = 2
    # Contrastive temperature: logits are cosine similarities times exp(logit_scale).
    initial_temperature: float = 0.07

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        if self.ecg_input not in ECG_INPUT_SAMPLES:
            raise ValueError(f"ecg_input must be one of {sorted(ECG_INPUT_SAMPLES)}, got {self.ecg_input!r}")
        if len(self.ecg_channels) != len(self.ecg_strides) or not self.ecg_channels:
            raise ValueError("ecg_channels and ecg_strides need one entry per encoder stage")
        if self.mri_size % (self.mri_pool * 2 ** len(self.mri_channels)):
            raise ValueError(f"mri_size {self.mri_size} must be divisible by mri_pool × 2^stages = {self.mri_pool * 2 ** len(self.mri_channels)}")
        if self.mri_size % self.mri_decode_pool:
            raise ValueError(f"mri_size {self.mri_size} must be divisible by mri_decode_pool {self.mri_decode_pool}")
        if self.mri_frame_step < 1 or self.mri_frames % self.mri_frame_step:
            raise ValueError(f"mri_frame_step {self.mri_frame_step} must divide the {self.mri_frames} frames")
        if self.mri_subpixel < 1 or not self.mri_decoder_channels:
            raise ValueError("mri_subpixel must be ≥ 1 and mri_decoder_channels non-empty")
        growth = self.mri_decoder_growth
        decoded = self.mri_size // self.mri_decode_pool
        if decoded % growth:
            raise ValueError(f"mri_size / mri_decode_pool = {decoded} must be divisible by the decoder's growth {growth} (2 per stage × the output layer's)")

    @property
    def mri_model_frames(self) -> int:
        """Frames the MRI networks see and predict (every ``mri_frame_step``-th)."""
        return self.mri_frames // self.mri_frame_step

    @property
    def mri_decoder_growth(self) -> int:
        """How many times the decoder's first maps are smaller than its output, per side."""
        output = 2 if self.mri_subpixel == 1 else self.mri_subpixel
        return 2 ** (len(self.mri_decoder_channels) - 1) * output

    @property
    def ecg_samples(self) -> int:
        return ECG_INPUT_SAMPLES[self.ecg_input]

    @property
    def ecg_shape(self) -> tuple[int, int]:
        """(samples, leads) of one ECG, as the cohort gives it."""
        return (self.ecg_samples, self.ecg_leads)

    @property
    def mri_shape(self) -> tuple[int, int, int]:
        """(frames, rows, cols) of one cine, as the cohort gives it."""
        return (self.mri_frames, self.mri_size, self.mri_size)

    @property
    def ecg_encoded_length(self) -> int:
        length = self.ecg_samples
        for stride in self.ecg_strides:
            length = math.ceil(length / stride)
        return length

    @classmethod
    def cpu(cls, **overrides: Any) -> ModelConfig:
        """The default: trains on the demo cohort within minutes on two CPU cores."""
        return cls(**_with_strip_defaults(overrides))

    @classmethod
    def gpu(cls, **overrides: Any) -> ModelConfig:
        """Wider and deeper, decoding the cine at full resolution: for a CUDA device."""
        settings = {
            "ecg_channels": (64, 128, 192, 256, 256),
            "ecg_strides": (2, 2, 2, 2, 2),
            "mri_pool": 1,
            "mri_channels": (64, 128, 192, 256),
            "mri_decoder_channels": (256, 192, 128, 96, 64),
            "mri_subpixel": 1,
            "mri_decode_pool": 1,
            "mri_frame_step": 1,
        }
        return cls(**_with_strip_defaults({**settings, **overrides}))

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        return _from_dict(cls, values)


def _with_strip_defaults(overrides: dict[str, Any]) -> dict[str, Any]:
    """The 10 s strip is 8× longer than the median beat: stride harder unless told otherwise."""
    if overrides.get("ecg_input") == "strip" and "ecg_strides" not in overrides:
        channels = overrides.get("ecg_channels", ModelConfig.ecg_channels)
        overrides = {**overrides, "ecg_strides": (4,) * (len(channels) - 1) + (2,)}
    return overrides


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained: optimiser, loss weights, modality dropout, stopping."""

    epochs: int = 30
    # Small batches train the cine faster per second on a CPU: in an 8-epoch A/B on the demo cohort,
    # batches of 64, 32, 16 and 8 reached SSIM 0.788, 0.812, 0.824 and 0.832 at the same time per
    # epoch (8: 20% slower). 16 keeps 15 negatives per subject for the contrastive loss.
    batch_size: int = 16
    learning_rate: float = 4e-3
    weight_decay: float = 1e-4
    seed: int = 0
    # Loss = ecg_weight · ECG reconstruction + mri_weight · MRI reconstruction + contrastive_weight · CLIP.
    # The cine is the harder modality (the median beat reconstructs to r ≈ 0.99 whatever the weight):
    # weighting it up makes the shared latent and the MRI encoder spend more on image detail. On the
    # demo: weight 1 → 3 took an 8-epoch run's SSIM from 0.776 to 0.785; in the full first start, 3 → 5
    # took it from 0.850 to 0.853, at an ECG-only LVEF R² of 0.77 → 0.74.
    ecg_weight: float = 1.0
    mri_weight: float = 5.0
    contrastive_weight: float = 0.1
    # The cine's reconstruction loss: "l1" keeps chamber edges sharper than "mse", which averages an
    # uncertain edge into blur (and blur is what SSIM and the image-measured LV area punish).
    mri_loss: MriLoss = "l1"
    # Modality dropout: each subject's latent comes from its ECG or its MRI at random; with
    # ``fused_probability`` it is the mean of both instead (the "joint" space the app decodes).
    fused_probability: float = 0.2
    # Early stopping on the validation (test-split) loss, measured after every epoch on a seeded
    # sample of this many test subjects (None: all of them). The demo's whole test split (956) cost
    # 5 s an epoch, a sixth of its training time; the quality report still uses every test subject.
    validation_subjects: int | None = 320
    patience: int = 5
    min_delta: float = 1e-4
    # Stop after this many seconds of training, whatever the epoch (None: no limit). A time limit
    # makes the number of epochs, and so the result, depend on the machine's speed.
    time_limit_s: float | None = None
    threads: int | None = None  # torch intra-op threads on CPU (None: torch's default)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be ≥ 1 and batch_size ≥ 2 (the contrastive loss needs pairs)")
        if self.mri_loss not in MRI_LOSSES:
            raise ValueError(f"mri_loss must be one of {MRI_LOSSES}, got {self.mri_loss!r}")
        if self.validation_subjects is not None and self.validation_subjects < 2:
            raise ValueError(f"validation_subjects must be ≥ 2 (the contrastive loss needs pairs) or None, got {self.validation_subjects}")
        if not 0.0 <= self.fused_probability <= 1.0:
            raise ValueError(f"fused_probability must be in [0, 1], got {self.fused_probability}")

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        return _from_dict(cls, values)


Config = TypeVar("Config", ModelConfig, TrainConfig)


def _to_dict(config: Any) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(config).items()}


def _from_dict(cls: type[Config], values: dict[str, Any]) -> Config:
    """Rebuild a config, naming unknown keys instead of silently dropping them."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown settings {unknown}; known: {sorted(known)}")
    converted = {key: tuple(value) if isinstance(value, list) else value for key, value in values.items()}
    return cls(**converted)


__all__ = ["ECG_INPUT_SAMPLES", "MRI_LOSSES", "EcgInput", "ModelConfig", "MriLoss", "TrainConfig"]
