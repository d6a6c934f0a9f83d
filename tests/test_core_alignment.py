"""Procrustes alignment of 2-D layouts: known rotations, reflections, scales and subsets are recovered."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.alignment import align_layout, fit_alignment, transition_fractions, transition_frames


def _rotation(degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    return np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])


@pytest.fixture
def layout() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(200, 2)) * [3.0, 1.0]


def test_a_known_rotation_scale_and_shift_are_recovered(layout):
    moved = 2.5 * layout @ _rotation(37) + [10.0, -4.0]
    alignment = fit_alignment(moved, layout)
    np.testing.assert_allclose(alignment.rotation, _rotation(37).T, atol=1e-9)
    assert alignment.scale == pytest.approx(1 / 2.5)
    np.testing.assert_allclose(alignment.apply(moved), layout, atol=1e-5)
    assert not alignment.reflects


def test_a_reflection_is_undone_only_when_allowed(layout):
    mirrored = layout * [-1.0, 1.0] @ _rotation(120)
    assert fit_alignment(mirrored, layout).reflects
    np.testing.assert_allclose(align_layout(mirrored, layout), layout, atol=1e-5)
    rotation_only = fit_alignment(mirrored, layout, allow_reflection=False)
    assert not rotation_only.reflects and np.linalg.det(rotation_only.rotation) == pytest.approx(1.0)
    assert np.abs(rotation_only.apply(mirrored) - layout).mean() > 0.5  # a mirror image cannot be rotated onto the original


def test_fitting_on_a_subset_aligns_that_subset_even_if_the_rest_moved(layout):
    moved = layout @ _rotation(-75)
    moved[100:] = np.random.default_rng(1).normal(size=(100, 2)) * 5  # the rest of the subjects went elsewhere
    subset = np.arange(100)
    aligned = align_layout(moved, layout, subset=subset)
    np.testing.assert_allclose(aligned[subset], layout[subset], atol=1e-5)
    assert np.abs(align_layout(moved, layout)[subset] - layout[subset]).mean() > 0.1  # fitting on everyone would not
    mask = np.zeros(len(layout), dtype=bool)
    mask[subset] = True
    np.testing.assert_allclose(align_layout(moved, layout, subset=mask), aligned, atol=1e-6)


def test_missing_coordinates_are_left_out_of_the_fit_and_too_few_subjects_refused(layout):
    moved = layout @ _rotation(10)
    moved[:5] = np.nan
    aligned = align_layout(moved, layout)
    np.testing.assert_allclose(aligned[5:], layout[5:], atol=1e-5)
    with pytest.raises(ValueError, match="at least two"):
        fit_alignment(moved, layout, subset=np.arange(6))
    with pytest.raises(ValueError, match="same"):
        fit_alignment(moved[:10], layout)


def test_a_transition_runs_from_one_layout_to_the_other(layout):
    end = layout + 4.0
    frames = transition_frames(layout, end, 5)
    assert len(frames) == 5
    np.testing.assert_allclose(frames[0], layout, atol=1e-6)
    np.testing.assert_allclose(frames[-1], end, atol=1e-5)
    np.testing.assert_allclose(frames[2], layout + 2.0, atol=1e-5)
    with pytest.raises(ValueError):
        transition_frames(layout, end, 1)


def test_a_frame_is_that_share_of_the_way_in_double_precision_and_its_ends_are_the_layouts(layout):
    """The browser draws each frame from the two layouts with this arithmetic; a shape drawn on one is resolved on it here."""
    start, end = layout.astype(np.float32), (layout * -2.0 + 1.0).astype(np.float32)
    fractions = transition_fractions(9)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions[4] == pytest.approx(0.5) and fractions == sorted(fractions)
    frames = transition_frames(start, end, 9)
    for fraction, frame in zip(fractions, frames, strict=True):
        in_double = (1 - fraction) * start.astype(np.float64) + fraction * end.astype(np.float64)
        np.testing.assert_array_equal(frame, in_double.astype(np.float32))
    np.testing.assert_array_equal(frames[0], start)
    np.testing.assert_array_equal(frames[-1], end)
    with pytest.raises(ValueError, match="at least two"):
        transition_fractions(1)
