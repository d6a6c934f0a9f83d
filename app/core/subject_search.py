"""Find subjects by id as a clinician types it: exact match first, then ids that start with, then contain, the text."""

from __future__ import annotations

import numpy as np
import pandas as pd


def find_subjects(query: str, subject_ids: pd.Index, limit: int = 10) -> list[str]:
    """Up to ``limit`` matching ids, best first; case and surrounding spaces are ignored."""
    wanted = str(query or "").strip().casefold()
    if not wanted:
        return []
    folded = pd.Index(subject_ids.astype(str)).str.casefold()
    exact = np.flatnonzero(folded == wanted)
    starts = np.flatnonzero(folded.str.startswith(wanted) & (folded != wanted))
    contains = np.flatnonzero(folded.str.contains(wanted, regex=False) & ~folded.str.startswith(wanted))
    order = np.concatenate([exact, starts, contains])[:limit]
    return [str(subject_ids[position]) for position in order]
