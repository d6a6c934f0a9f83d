"""Reconstruction metrics in numpy/torch: SSIM, PSNR, ECG and cine measurements.

SSIM follows Wang et al. (2004) with the usual settings: an 11 × 11 Gaussian window (σ = 1.5),
K1 = 0.01, K2 = 0.03, the data range L = 1 for cines on [0, 1], population (co)variances, and the
mean over the "valid" part of the image (as scikit-image does with ``gaussian_weights=True``).
"""

from __future__ import annotations

import numpy as np
import torch

from data_loaders import cohort_spec

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
QRS_HALF_WINDOW_S = 0.05


def _valid_gaussian_matrix(size: int, window: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """(size − window + 1, size) matrix whose product with a signal is its Gaussian blur, valid part only."""
    coords = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    weights = torch.exp(-(coords**2) / (2 * sigma**2))
    weights = weights / weights.sum()
    matrix = torch.zeros(size - window + 1, size, dtype=torch.float64)
    for row in range(size - window + 1):
        matrix[row, row : row + window] = weights
    return matrix


def ssim(reconstruction: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor, data_range: float = 1.0) -> np.ndarray:
    """Mean SSIM per image: (..., rows, cols) × 2 → (...) (e.g. (n, frames) for cines).

    The separable Gaussian blur is two matrix products (fast on CPU); float32 is ample for
    intensities on [0, 1].
    """
    x = torch.as_tensor(np.asarray(reconstruction, dtype=np.float32))
    y = torch.as_tensor(np.asarray(truth, dtype=np.float32))
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
    lead_shape, (rows, cols) = x.shape[:-2], x.shape[-2:]
    if min(rows, cols) < SSIM_WINDOW:
        raise ValueError(f"images of {rows} × {cols} are smaller than the {SSIM_WINDOW}-pixel SSIM window")
    x = x.reshape(-1, rows, cols)
    y = y.reshape(-1, rows, cols)
    blur_rows = _valid_gaussian_matrix(rows).float()
    blur_cols = _valid_gaussian_matrix(cols).float().T
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    values = torch.empty(x.shape[0], dtype=torch.float64)
    step = 256
    for start in range(0, x.shape[0], step):
        a, b = x[start : start + step], y[start : start + step]
        maps = blur_rows @ torch.stack([a, b, a * a, b * b, a * b]) @ blur_cols
        mu_x, mu_y, xx, yy, xy = maps
        var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
        values[start : start + step] = ssim_map.double().mean(dim=(1, 2))
    return values.reshape(lead_shape).numpy()


def psnr(reconstruction: np.ndarray, truth: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio in dB per subject (over all its frames): (n, ...) × 2 → (n,)."""
    mse = ((reconstruction.astype(np.float64) - truth.astype(np.float64)) ** 2).reshape(len(truth), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range**2 / mse)


def qrs_amplitude(ecg: np.ndarray, sampling_hz: float = cohort_spec.ECG_SAMPLING_HZ) -> np.ndarray:
    """Mean over leads of the peak-to-peak voltage around the R peak, in mV: (n, samples, leads) → (n,).

    The R peak is where the spatial magnitude (root-sum-square over leads, baseline removed) is
    largest; the window is ±50 ms around it.
    """
    centred = ecg - np.median(ecg, axis=1, keepdims=True)
    magnitude = np.sqrt((centred**2).sum(axis=2))
    peaks = magnitude.argmax(axis=1)
    half = int(round(QRS_HALF_WINDOW_S * sampling_hz))
    amplitudes = np.empty(len(ecg))
    for i, peak in enumerate(peaks):
        window = ecg[i, max(0, peak - half) : peak + half + 1]
        amplitudes[i] = (window.max(axis=0) - window.min(axis=0)).mean()
    return amplitudes


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or x[keep].std() == 0 or y[keep].std() == 0:
        return float("nan")
    return float(np.corrcoef(x[keep], y[keep])[0, 1])
