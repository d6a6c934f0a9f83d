"""The cross-modal autoencoder: ECG and MRI encoders and decoders around one shared latent space.

Follows ml4h's DropFuse: every subject's latent comes from one randomly chosen modality (or, now
and then, the mean of both) and feeds both decoders, so either modality decodes into the other;
a CLIP-style symmetric contrastive loss with a learnable temperature pulls a subject's ECG and
MRI embeddings together. The public methods take and return data units (ECG in mV, cines on the
cohort's [0, 1] scale); normalisation constants are buffers, so they travel in the state dict.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
from torch import nn
from torch.nn import functional as F

from models import layouts
from models.config import ModelConfig, TrainConfig
from models.networks import EcgDecoder, EcgEncoder, MriDecoder, MriEncoder

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP's cap on 1 / temperature


@runtime_checkable
class LatentModel(Protocol):
    """What every model the app can use offers: our own autoencoder or a group's TorchScript modules.

    Tensors are in data units: ECG (n, samples, leads) in mV, cines (n, frames, rows, cols) on
    the cohort's intensity scale, latents (n, latent_dim).
    """

    latent_dim: int
    ecg_shape: tuple[int, int]
    mri_shape: tuple[int, int, int]

    def encode_ecg(self, ecg: torch.Tensor) -> torch.Tensor: ...

    def encode_mri(self, cine: torch.Tensor) -> torch.Tensor: ...

    def decode_ecg(self, latent: torch.Tensor) -> torch.Tensor: ...

    def decode_mri(self, latent: torch.Tensor) -> torch.Tensor: ...


class CrossModalAutoencoder(nn.Module):
    """ECG and MRI encoders/decoders sharing one latent space; built from a :class:`ModelConfig`."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        self.ecg_shape = config.ecg_shape
        self.mri_shape = config.mri_shape
        self.ecg_encoder = EcgEncoder(config)
        self.ecg_decoder = EcgDecoder(config)
        self.mri_encoder = MriEncoder(config)
        self.mri_decoder = MriDecoder(config)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.initial_temperature)))
        # Data ↔ model units, set from the training data by set_normalization().
        self.register_buffer("ecg_mean", torch.zeros(config.ecg_leads))
        self.register_buffer("ecg_std", torch.ones(config.ecg_leads))
        self.register_buffer("mri_mean", torch.tensor(0.0))
        self.register_buffer("mri_std", torch.tensor(1.0))

    # --- normalisation -------------------------------------------------------------------------
    def set_normalization(self, ecg_mean: torch.Tensor, ecg_std: torch.Tensor, mri_mean: float, mri_std: float) -> None:
        """Per-lead ECG mean/std (mV) and the cine's pixel mean/std, measured on training data."""
        self.ecg_mean.copy_(torch.as_tensor(ecg_mean, dtype=torch.float32))
        self.ecg_std.copy_(torch.as_tensor(ecg_std, dtype=torch.float32).clamp_min(1e-6))
        self.mri_mean.fill_(float(mri_mean))
        self.mri_std.fill_(max(float(mri_std), 1e-6))

    def ecg_to_model(self, ecg: torch.Tensor) -> torch.Tensor:
        """(n, samples, leads) mV → (n, leads, samples) normalised."""
        return ((ecg - self.ecg_mean) / self.ecg_std).transpose(1, 2)

    def ecg_from_model(self, ecg: torch.Tensor) -> torch.Tensor:
        """(n, leads, samples) normalised → (n, samples, leads) mV."""
        return ecg.transpose(1, 2) * self.ecg_std + self.ecg_mean

    def mri_to_model(self, cine: torch.Tensor) -> torch.Tensor:
        """Full cine in data units → the encoder's normalised input (frames averaged, pooled)."""
        return layouts.encoder_input((cine - self.mri_mean) / self.mri_std, self.config)

    def mri_target(self, cine: torch.Tensor) -> torch.Tensor:
        """Full cine in data units → the decoder's normalised training target."""
        return layouts.decoder_target((cine - self.mri_mean) / self.mri_std, self.config)

    def mri_from_model(self, cine: torch.Tensor) -> torch.Tensor:
        """Decoder output (n, frames/step, side, side) → full cine in data units, clipped to [0, 1]."""
        size = self.config.mri_size
        if cine.shape[-1] != size:
            cine = F.interpolate(cine, size=(size, size), mode="bilinear", align_corners=False)
        # Into data units on the key frames, before interpolation multiplies the pixels: the same
        # result (the scale is affine and interpolation linear; frames between two clipped ones stay
        # in [0, 1]) for a fraction of the element-wise work that dominates decoding on a CPU.
        key_frames = torch.addcmul(self.mri_mean, cine, self.mri_std).clamp_(0.0, 1.0)
        return layouts.interpolate_frames(key_frames, self.config.mri_frame_step)

    # --- the public interface, in data units ---------------------------------------------------
    def encode_ecg(self, ecg: torch.Tensor) -> torch.Tensor:
        return self.ecg_encoder(self.ecg_to_model(ecg))

    def encode_mri(self, cine: torch.Tensor) -> torch.Tensor:
        return self.mri_encoder(self.mri_to_model(cine))

    def decode_ecg(self, latent: torch.Tensor) -> torch.Tensor:
        return self.ecg_from_model(self.ecg_decoder(latent))

    def decode_mri(self, latent: torch.Tensor) -> torch.Tensor:
        return self.mri_from_model(self.mri_decoder(latent))

    # --- training ------------------------------------------------------------------------------
    def losses(
        self,
        ecg: torch.Tensor,
        cine_in: torch.Tensor,
        cine_target: torch.Tensor,
        settings: TrainConfig,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """DropFuse losses on a batch in model units.

        ``ecg`` is (n, leads, samples) normalised; ``cine_in`` is the encoder's input and
        ``cine_target`` the decoder's target, both normalised, in ``models.layouts``' layouts. Modality
        choices are drawn from ``generator`` so training is reproducible.
        """
        z_ecg = self.ecg_encoder(ecg)
        z_mri = self.mri_encoder(cine_in)
        n = ecg.shape[0]
        draw = torch.rand(n, generator=generator, device="cpu").to(ecg.device)
        fused = draw < settings.fused_probability
        from_ecg = (~fused & (draw < settings.fused_probability + (1 - settings.fused_probability) / 2)).unsqueeze(1)
        latent = torch.where(fused.unsqueeze(1), (z_ecg + z_mri) / 2, torch.where(from_ecg, z_ecg, z_mri))
        ecg_loss = F.mse_loss(self.ecg_decoder(latent), ecg)
        mri_loss = mri_reconstruction_loss(self.mri_decoder.forward_train(latent), cine_target, settings)
        contrastive = self.contrastive_loss(z_ecg, z_mri)
        total = settings.ecg_weight * ecg_loss + settings.mri_weight * mri_loss + settings.contrastive_weight * contrastive
        return {"loss": total, "ecg": ecg_loss, "mri": mri_loss, "contrastive": contrastive}

    def contrastive_loss(self, z_ecg: torch.Tensor, z_mri: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE over the batch between L2-normalised ECG and MRI embeddings."""
        scale = self.logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
        logits = scale * F.normalize(z_ecg, dim=1) @ F.normalize(z_mri, dim=1).T
        targets = torch.arange(logits.shape[0], device=logits.device)
        return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2

    @property
    def temperature(self) -> float:
        return float(self.logit_scale.detach().clamp(max=MAX_LOGIT_SCALE).exp().reciprocal())


def mri_reconstruction_loss(decoded: torch.Tensor, target: torch.Tensor, settings: TrainConfig) -> torch.Tensor:
    """The cine loss ``settings.mri_loss`` names, in model units: mean squared or mean absolute error."""
    return F.l1_loss(decoded, target) if settings.mri_loss == "l1" else F.mse_loss(decoded, target)

