"""A group of subjects as a value: equal to any other group with the same members, whoever named them.

The key of the per-process memos of what is worked out from groups (Table 1, a selection's clinical
profile): read-only data, so one user's answer serves every user asking about the same subjects.
"""

from __future__ import annotations

import hashlib

import numpy as np


class Members:
    """A boolean mask over the cohort's rows, hashed by its packed bits."""

    def __init__(self, mask: np.ndarray):
        self.mask = mask
        self.digest = hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).digest() + len(mask).to_bytes(8, "little")

    @classmethod
    def of_rows(cls, rows: np.ndarray, n_subjects: int) -> Members:
        mask = np.zeros(n_subjects, dtype=bool)
        mask[rows] = True
        return cls(mask)

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Members) and self.digest == other.digest
