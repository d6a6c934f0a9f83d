"""Which subjects have which recording: imported cohorts may lack an ECG or a cine for some subjects.

Pure helpers the panels use to say so (and to stay away from arrays that do not exist).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def missing_modalities_note(ecg_present: np.ndarray, mri_present: np.ndarray, has_ecg: bool = True, has_mri: bool = True) -> str | None:
    """One sentence on the subjects without an ECG or a cine, or None when every subject has both the cohort offers."""
    total = len(ecg_present)
    parts = []
    if has_ecg and not ecg_present.all():
        parts.append(f"{int((~ecg_present).sum()):,} of {total:,} subjects have no ECG")
    if has_mri and not mri_present.all():
        parts.append(f"{int((~mri_present).sum()):,} have no cine MRI")
    if not parts:
        return None
    return "; ".join(parts) + ": their latents come from the recording they have (filter on Has an ECG / Has a cine MRI)."


def where_present(present: np.ndarray, subject_ids: Sequence[str], read: Callable[[list[str]], np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """``read`` for the subjects that have the recording, NaN-filled rows of ``shape`` for the others, in ``subject_ids`` order."""
    out = np.full((len(subject_ids), *shape), np.nan, dtype=np.float32)
    chosen = [str(s) for s, has in zip(subject_ids, present) if has]
    if chosen:
        out[np.asarray(present, dtype=bool)] = read(chosen)
    return out
