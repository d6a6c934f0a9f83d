"""Subjects without a recording: the note the panels show and the NaN-filled originals they draw from."""

from __future__ import annotations

import numpy as np

from app.core.modalities import missing_modalities_note, where_present


def test_a_complete_cohort_needs_no_note():
    everyone = np.ones(5, bool)
    assert missing_modalities_note(everyone, everyone) is None
    assert missing_modalities_note(everyone, np.zeros(5, bool), has_mri=False) is None


def test_the_note_counts_the_subjects_without_each_recording():
    note = missing_modalities_note(np.array([True, False, True, True]), np.array([False, False, True, True]))
    assert note.startswith("1 of 4 subjects have no ECG; 2 have no cine MRI: their latents come from the recording they have")


def test_originals_are_read_only_for_subjects_that_have_them():
    asked: list[list[str]] = []

    def read(ids: list[str]) -> np.ndarray:
        asked.append(ids)
        return np.stack([np.full((2, 3), float(i[-1])) for i in ids])

    out = where_present(np.array([False, True, False, True]), ["s0", "s1", "s2", "s3"], read, (2, 3))
    assert asked == [["s1", "s3"]]
    assert np.isnan(out[[0, 2]]).all() and (out[1] == 1).all() and (out[3] == 3).all()
    assert where_present(np.zeros(2, bool), ["a", "b"], read, (2, 3)).shape == (2, 2, 3) and len(asked) == 1
