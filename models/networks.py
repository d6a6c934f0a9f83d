"""Encoders and decoders for each modality, in normalised units (the autoencoder does the scaling).

ECG: 1-D convolutions over time with the leads as channels, (n, leads, samples) ↔ (n, d).
MRI: 2-D convolutions with the cine's frames as channels, (n, frames, rows, cols) ↔ (n, d). Both
MRI networks may work on an average-pooled cine (``mri_pool``, ``mri_decode_pool``): the
autoencoder pools the input and upsamples the output, which keeps the CPU model cheap. Their
feature maps are kept channels-last: oneDNN's convolutions run 15–25 % faster that way on a CPU
(measured on the demo model, forward and backward), and the subpixel output layer then reads them
without a transpose.
"""

from __future__ import annotations

import torch
from torch import nn

from models import layouts
from models.config import ModelConfig

NEGATIVE_SLOPE = 0.1


def _ecg_block(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    # A (1, k) Conv2d over (n, c, 1, samples): several times faster on CPU than Conv1d's oneDNN path.
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, (1, kernel), stride=(1, stride), padding=(0, kernel // 2), bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(NEGATIVE_SLOPE),
    )


def _ecg_up_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    # Kernel 2·stride, padding stride/2: the length grows by exactly ``stride``.
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, (1, 2 * stride), stride=(1, stride), padding=(0, stride // 2), bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(NEGATIVE_SLOPE),
    )


def _conv2d_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(NEGATIVE_SLOPE),
    )


def _up2d_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(NEGATIVE_SLOPE),
    )


class EcgEncoder(nn.Module):
    """(n, leads, samples) normalised ECG → (n, latent_dim): strided convolutions over time."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        blocks = []
        c_in = config.ecg_leads
        for c_out, stride in zip(config.ecg_channels, config.ecg_strides):
            blocks.append(_ecg_block(c_in, c_out, config.ecg_kernel, stride))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(c_in * config.ecg_encoded_length, config.latent_dim)

    def forward(self, ecg: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(ecg.unsqueeze(2)).flatten(1))


class EcgDecoder(nn.Module):
    """(n, latent_dim) → (n, leads, samples) normalised ECG; upsampling mirrors the encoder's strides."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        channels = list(reversed(config.ecg_channels))
        strides = list(reversed(config.ecg_strides))
        self.samples = config.ecg_samples
        self.start_channels = channels[0]
        self.start_length = config.ecg_encoded_length
        self.head = nn.Linear(config.latent_dim, channels[0] * self.start_length)
        self.features = nn.Sequential(
            *[_ecg_up_block(c_in, c_out, stride) for c_in, c_out, stride in zip(channels, channels[1:] + [channels[-1]], strides)]
        )
        self.out = nn.Conv2d(channels[-1], config.ecg_leads, (1, config.ecg_kernel), padding=(0, config.ecg_kernel // 2))

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        hidden = self.head(latent).view(-1, self.start_channels, 1, self.start_length)
        return self.out(self.features(hidden))[:, :, 0, : self.samples]


class MriEncoder(nn.Module):
    """(n, frames/step, rows/mri_pool, cols/mri_pool) normalised cine → (n, latent_dim)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        blocks = []
        c_in = config.mri_model_frames
        for c_out in config.mri_channels:
            blocks.append(_conv2d_block(c_in, c_out, 2))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        side = config.mri_size // (config.mri_pool * 2 ** len(config.mri_channels))
        self.head = nn.Linear(c_in * side * side, config.latent_dim)

    def forward(self, cine: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(cine.contiguous(memory_format=torch.channels_last)).flatten(1))


class MriDecoder(nn.Module):
    """(n, latent_dim) → (n, frames/step, rows/mri_decode_pool, cols/mri_decode_pool) normalised cine.

    Transposed convolutions double the side of the feature maps stage by stage; the output layer
    doubles it once more straight into the frames, or (``mri_subpixel = s``) turns each pixel's
    features into an s × s block of every frame with one linear map (a 1 × 1 convolution and a
    pixel shuffle, done as a matrix product on channels-last features: faster on CPU).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        channels = list(config.mri_decoder_channels)
        self.config = config
        self.start_channels = channels[0]
        self.start_side = config.mri_size // (config.mri_decode_pool * config.mri_decoder_growth)
        self.head = nn.Linear(config.latent_dim, channels[0] * self.start_side**2)
        self.features = nn.Sequential(*[_up2d_block(c_in, c_out) for c_in, c_out in zip(channels, channels[1:])])
        frames, s = config.mri_model_frames, config.mri_subpixel
        if s == 1:
            self.out: nn.Module = nn.ConvTranspose2d(channels[-1], frames, 4, stride=2, padding=1)
        else:
            self.out = nn.Linear(channels[-1], frames * s * s)

    def forward_train(self, latent: torch.Tensor) -> torch.Tensor:
        """The output in the training target's layout (see ``models.layouts.decoder_target``)."""
        start = self.head(latent).view(-1, self.start_channels, self.start_side, self.start_side)
        hidden = self.features(start.contiguous(memory_format=torch.channels_last))
        if self.config.mri_subpixel == 1:
            return self.out(hidden)
        return self.out(hidden.permute(0, 2, 3, 1))

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        output = self.forward_train(latent)
        return output if self.config.mri_subpixel == 1 else layouts.from_phases(output, self.config)
