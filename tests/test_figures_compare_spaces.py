"""Compare spaces' figures: one subject's neighbourhood, side by side in A's layout and B's."""

from __future__ import annotations

import numpy as np
import pytest
from dash._utils import to_json

from app.figures.compare_spaces import NEIGHBOURHOOD_NARROWEST_PX, NEIGHBOURHOOD_TITLE_PX, neighbourhood_multiples, overlap_density_map
from app.figures.text import CHAR_PX_PER_FONT_PX
from tests.figure_checks import assert_unchanged_by_validation
from tests.typed_arrays import unpacked


def _figure(titles: tuple[str, str]) -> dict:
    rng = np.random.default_rng(0)
    layout = rng.normal(size=(40, 2))
    return neighbourhood_multiples(layout, layout + 0.1, 0, np.arange(1, 5), np.arange(5, 9), np.arange(9, 13),
                                   np.array([f"S{i}" for i in range(40)]), titles, np.arange(40))


def test_long_space_names_wrap_to_their_panel_and_the_top_margin_makes_room():
    """"B: Joint (ECG + MRI) (aligned to A)" ran past the card's right edge on a 1366 px laptop."""
    short = _figure(("A: ECG only (PCA)", "B: MRI only (aligned to A)"))
    long = _figure(("A: ECG only (PCA)", "B: Joint (ECG + MRI) (aligned to A)"))
    per_line = 0.9 * NEIGHBOURHOOD_NARROWEST_PX / 2 / (NEIGHBOURHOOD_TITLE_PX * CHAR_PX_PER_FONT_PX)
    titles = [annotation["text"] for annotation in long["layout"]["annotations"]]
    assert titles[1].replace("<br>", " ") == "B: Joint (ECG + MRI) (aligned to A)" and "<br>" in titles[1]
    assert all(len(line) <= per_line for title in titles for line in title.split("<br>"))
    assert long["layout"]["margin"]["t"] == short["layout"]["margin"]["t"] + 14
    assert_unchanged_by_validation(long)


def test_the_density_map_colours_each_cell_by_its_subjects_mean_overlap_and_does_not_grow_with_the_cohort():
    rng = np.random.default_rng(1)
    frames = [np.column_stack([np.repeat([0.0, 1.0], 50), np.zeros(100)]), np.column_stack([np.repeat([0.0, 1.0], 50), np.ones(100)])]
    overlap = np.r_[np.full(50, 0.2), np.full(50, 0.6)]
    figure = overlap_density_map(frames, overlap, bins=4)
    z = figure["data"][0]["z"]
    assert_unchanged_by_validation(figure)
    cells = np.asarray(unpacked(z), dtype=float).reshape(4, 4)
    assert np.nanmin(cells) == pytest.approx(0.2) and np.nanmax(cells) == pytest.approx(0.6) and np.isnan(cells).sum() == 14  # two cells hold everyone
    assert figure["layout"]["dragmode"] == "pan" and "lasso2d" in figure["layout"]["modebar"]["remove"]

    sizes = []
    for n in (2_000, 50_000):
        layout = rng.normal(size=(n, 2))
        sizes.append(len(to_json(overlap_density_map([layout, layout + 0.1], rng.random(n)))))
    assert sizes[1] < 1.2 * sizes[0]  # 25 times the subjects, the same cells
