"""DICOM MR cine series (UK Biobank's delivery, hospital PACS exports), read with ``pydicom``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from data_loaders.errors import CohortFormatError
from data_loaders.importers.mri import RawCine


def read_dicom_cine(paths: Sequence[Path]) -> tuple[RawCine, list[str]]:
    """One series (a file per frame) as a cine in time order: by TriggerTime, then InstanceNumber.

    Intensities get the modality rescale (slope, intercept); a series with more than one slice
    position is refused, since a cine is one plane.
    """
    if not paths:
        raise CohortFormatError("", "series", "one or more DICOM files", "none")
    frames = []
    for path in paths:
        try:
            dataset = pydicom.dcmread(path)
            pixels = dataset.pixel_array.astype(np.float32)
        except (InvalidDicomError, OSError, ValueError, AttributeError, RuntimeError) as error:
            raise CohortFormatError(path, "PixelData", "a readable DICOM image", str(error)) from error
        if pixels.ndim != 2:
            raise CohortFormatError(path, "PixelData", "one 2-D frame per file", f"shape {pixels.shape}")
        pixels = pixels * float(dataset.get("RescaleSlope", 1.0)) + float(dataset.get("RescaleIntercept", 0.0))
        spacing = dataset.get("PixelSpacing")
        if spacing is None or len(spacing) != 2:
            raise CohortFormatError(path, "PixelSpacing (0028,0030)", "row and column spacing in mm", repr(spacing))
        position = tuple(round(float(v), 2) for v in dataset.get("ImagePositionPatient", ()))
        order = (float(dataset.get("TriggerTime", 0.0)), int(dataset.get("InstanceNumber", 0)))
        frames.append((order, pixels, (float(spacing[0]), float(spacing[1])), position, path))
    frames.sort(key=lambda frame: frame[0])
    first = frames[0]
    for _, pixels, spacing, position, path in frames[1:]:
        if pixels.shape != first[1].shape or spacing != first[2]:
            raise CohortFormatError(path, "Rows, Columns, PixelSpacing", f"the series' {first[1].shape} at {first[2]} mm", f"{pixels.shape} at {spacing} mm")
        if position != first[3]:
            raise CohortFormatError(path, "ImagePositionPatient", f"one slice position {first[3]} (a cine is one plane)", str(position))
    notes = [] if len(frames) == len({frame[0] for frame in frames}) else ["frames with the same trigger time and instance number"]
    return RawCine(np.stack([frame[1] for frame in frames]), first[2], Path(first[4]).parent), notes
