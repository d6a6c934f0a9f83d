"""NIfTI cines (ACDC, M&Ms, Kaggle Data Science Bowl conversions), read with ``nibabel``."""

from __future__ import annotations

from pathlib import Path

import nibabel
import numpy as np
from nibabel.filebasedimages import ImageFileError

from data_loaders.errors import CohortFormatError
from data_loaders.importers.mri import RawCine

_TO_MM = {"mm": 1.0, "meter": 1000.0, "micron": 0.001, "unknown": 1.0}


def read_nifti_cine(path: Path) -> tuple[RawCine, list[str]]:
    """A 4-D volume (x = columns, y = rows, slice, frame) as a cine; of several slices the middle one.

    The pixel spacing comes from the header's zooms in its spatial unit (mm unless it says otherwise).
    """
    try:
        image = nibabel.load(path)
        volume = np.asarray(image.dataobj, dtype=np.float32)
    except (ImageFileError, OSError, ValueError, EOFError) as error:
        raise CohortFormatError(path, "file", "a readable NIfTI image", str(error)) from error
    if volume.ndim != 4:
        raise CohortFormatError(path, "dim", "a 4-D volume (x, y, slice, frame)", f"{volume.ndim}-D, shape {volume.shape}")
    notes = []
    slice_index = volume.shape[2] // 2
    if volume.shape[2] > 1:
        notes.append(f"{volume.shape[2]} slices: the middle one ({slice_index}) imported")
    spatial_unit = image.header.get_xyzt_units()[0]
    zooms = image.header.get_zooms()
    to_mm = _TO_MM.get(spatial_unit, 1.0)
    cine = np.transpose(volume[:, :, slice_index, :], (2, 1, 0))  # (x, y, t) → (frames, rows, cols)
    return RawCine(cine, (float(zooms[1]) * to_mm, float(zooms[0]) * to_mm), Path(path)), notes
