"""Compare spaces' figures: one subject's neighbourhood, side by side in A's layout and B's."""

from __future__ import annotations

import numpy as np

from app.figures.compare_spaces import NEIGHBOURHOOD_NARROWEST_PX, NEIGHBOURHOOD_TITLE_PX, neighbourhood_multiples
from app.figures.text import CHAR_PX_PER_FONT_PX
from tests.figure_checks import assert_unchanged_by_validation


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
