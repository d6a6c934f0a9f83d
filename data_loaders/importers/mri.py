"""What every cine source shares once read: frames in time order, the pixel spacing honoured, intensities to [0, 1].

A reader returns a :class:`RawCine` (frames, rows, cols) with its pixel spacing in mm;
:func:`conform_cine` resamples one cardiac cycle to the cohort's frame count, crops a centred field
of view of ``fov_mm`` and resamples it to ``size`` × ``size`` pixels, then scales intensities per
subject by robust percentiles, so scanners and sequences with other gains land on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from data_loaders.cohort_spec import CINE_FRAMES, CINE_SIZE
from data_loaders.errors import CohortFormatError

DEFAULT_FOV_MM = 192.0  # 96 px of 2 mm: the demo cohort's (and ml4h's lax_4ch_heart_center) field of view
INTENSITY_PERCENTILES = (1.0, 99.0)  # below → 0, above → 1; a few bright fat or flow pixels do not set the scale
# Series descriptions that name each view; matched case-insensitively as shell patterns.
VIEW_SERIES_PATTERNS = {
    "lax_4ch": ("*4ch*", "*4 ch*", "*4-ch*", "*4 chamber*", "*4-chamber*", "*four chamber*"),
    "lax_2ch": ("*2ch*", "*2 ch*", "*2-ch*", "*2 chamber*", "*2-chamber*", "*two chamber*"),
    "lax_3ch": ("*3ch*", "*3 ch*", "*3-ch*", "*3 chamber*", "*3-chamber*", "*three chamber*", "*lvot*"),
}
VIEW_NAMES = {"lax_4ch": "4-chamber long axis", "lax_2ch": "2-chamber long axis", "lax_3ch": "3-chamber long axis"}


@dataclass(frozen=True)
class RawCine:
    """One cine as a source holds it: (frames, rows, cols) in time order, pixel spacing (row, col) in mm."""

    frames: np.ndarray
    spacing_mm: tuple[float, float]
    path: Path


def conform_cine(raw: RawCine, *, frames: int = CINE_FRAMES, size: int = CINE_SIZE, fov_mm: float = DEFAULT_FOV_MM) -> tuple[np.ndarray, list[str]]:
    """The cine as float32 (frames, size, size) in [0, 1] and notes on what changed."""
    cine = np.asarray(raw.frames, dtype=np.float32)
    if cine.ndim != 3 or min(cine.shape) < 2:
        raise CohortFormatError(raw.path, "frames", "a cine of (frames, rows, cols), two or more of each", f"shape {cine.shape}")
    if not np.isfinite(cine).all():
        raise CohortFormatError(raw.path, "pixels", "finite intensities", f"{int((~np.isfinite(cine)).sum())} NaN or inf")
    if not all(np.isfinite(s) and s > 0 for s in raw.spacing_mm):
        raise CohortFormatError(raw.path, "pixel spacing", "positive row and column spacing in mm", repr(raw.spacing_mm))
    notes = []
    if len(cine) != frames:
        notes.append(f"{len(cine)} frames resampled to {frames} over the cycle")
        cine = _resample_cycle(cine, frames)
    out_spacing = fov_mm / size
    if cine.shape[1:] != (size, size) or tuple(raw.spacing_mm) != (out_spacing, out_spacing):
        notes.append(f"{cine.shape[1]}×{cine.shape[2]} px at {raw.spacing_mm[0]:g}×{raw.spacing_mm[1]:g} mm → centred {fov_mm:g} mm field of view at {size}×{size} px")
    cine = _centred_field_of_view(cine, raw.spacing_mm, size, out_spacing)
    return scale_intensities(cine, raw.path), notes


def scale_intensities(cine: np.ndarray, path: Path | str = "") -> np.ndarray:
    """Map the cine's robust percentiles to [0, 1], clipping beyond them (one scale for the whole cine)."""
    low, high = np.percentile(cine, INTENSITY_PERCENTILES)
    if not high > low:
        raise CohortFormatError(path, "pixels", "a cine with contrast", f"{INTENSITY_PERCENTILES[0]:g}th to {INTENSITY_PERCENTILES[1]:g}th percentile both {low:g}")
    return np.clip((cine - low) / (high - low), 0.0, 1.0).astype(np.float32)


def _resample_cycle(cine: np.ndarray, frames: int) -> np.ndarray:
    """Linear interpolation in time, wrapping round: the frames span one cardiac cycle."""
    position = np.arange(frames) * len(cine) / frames
    before = np.floor(position).astype(int)
    weight = (position - before)[:, None, None].astype(np.float32)
    return (1 - weight) * cine[before % len(cine)] + weight * cine[(before + 1) % len(cine)]


def _centred_field_of_view(cine: np.ndarray, spacing_mm: tuple[float, float], size: int, out_spacing: float) -> np.ndarray:
    """Sample a size × size grid of ``out_spacing`` mm centred on the image; outside the image is 0."""
    steps = [out_spacing / float(s) for s in spacing_mm]  # input pixels per output pixel, rows and cols
    sigma = [0.0] + [np.sqrt(step**2 - 1) / 2 if step > 1 else 0.0 for step in steps]  # anti-alias before shrinking
    if any(sigma):
        cine = ndimage.gaussian_filter(cine, sigma)
    offsets = np.arange(size) - (size - 1) / 2
    rows = (cine.shape[1] - 1) / 2 + offsets * steps[0]
    cols = (cine.shape[2] - 1) / 2 + offsets * steps[1]
    whole_pixels = np.allclose(rows, np.round(rows)) and np.allclose(cols, np.round(cols))
    if whole_pixels and rows.min() >= 0 and cols.min() >= 0 and rows.max() < cine.shape[1] and cols.max() < cine.shape[2]:
        return cine[:, np.round(rows).astype(int)][:, :, np.round(cols).astype(int)]  # no interpolation needed
    grid_rows, grid_cols = np.meshgrid(rows, cols, indexing="ij")
    out = np.empty((len(cine), size, size), dtype=np.float32)
    for frame, image in enumerate(cine):
        out[frame] = ndimage.map_coordinates(image, [grid_rows, grid_cols], order=1, mode="constant", cval=0.0)
    return out
