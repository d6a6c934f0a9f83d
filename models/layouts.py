"""How cines are laid out for the MRI networks: pooled input, training target, and the way back.

Pure tensor functions of a :class:`ModelConfig`, shared by the model, the training data loader and
the tests, so the in-memory training copy and the model cannot disagree.

- Encoder input: the mean of every ``mri_frame_step`` frames, average-pooled by ``mri_pool``.
- Decoder target: every ``mri_frame_step``-th frame, average-pooled by ``mri_decode_pool``; with
  ``mri_subpixel = s`` in "phase" layout (n, h, w, frames·s·s), the layout the decoder's last
  linear layer produces, so training never shuffles full-size tensors.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from models.config import ModelConfig


def encoder_input(cines: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """(n, frames, rows, cols) → (n, frames/step, rows/pool, cols/pool)."""
    n, frames, rows, cols = cines.shape
    step = config.mri_frame_step
    if step > 1:
        cines = cines.reshape(n, frames // step, step, rows, cols).mean(dim=2)
    if config.mri_pool > 1:
        cines = F.avg_pool2d(cines, config.mri_pool)
    return cines


def decoder_target(cines: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """(n, frames, rows, cols) → what ``MriDecoder.forward_train`` is compared with."""
    cines = cines[:, :: config.mri_frame_step]
    if config.mri_decode_pool > 1:
        cines = F.avg_pool2d(cines, config.mri_decode_pool)
    s = config.mri_subpixel
    if s == 1:
        return cines.contiguous()
    n, frames, rows, cols = cines.shape
    return cines.reshape(n, frames, rows // s, s, cols // s, s).permute(0, 2, 4, 1, 3, 5).reshape(n, rows // s, cols // s, frames * s * s)


def from_phases(phases: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """Phase layout (n, h, w, frames·s·s) → (n, frames, h·s, w·s): the inverse of ``decoder_target``'s last step."""
    s = config.mri_subpixel
    n, h, w, channels = phases.shape
    frames = channels // (s * s)
    return phases.reshape(n, h, w, frames, s, s).permute(0, 3, 1, 4, 2, 5).reshape(n, frames, h * s, w * s)


def interpolate_frames(cines: torch.Tensor, step: int) -> torch.Tensor:
    """(n, k, rows, cols) key frames → (n, k·step, rows, cols), linear in time round the cycle."""
    if step == 1:
        return cines
    n, k, rows, cols = cines.shape
    following = torch.roll(cines, shifts=-1, dims=1)
    weights = torch.arange(step, dtype=cines.dtype, device=cines.device).div_(step).view(1, 1, step, 1, 1)
    # One broadcast lerp writes every in-between frame in place: no per-step tensors to stack.
    return torch.lerp(cines.unsqueeze(2), following.unsqueeze(2), weights).reshape(n, k * step, rows, cols)
