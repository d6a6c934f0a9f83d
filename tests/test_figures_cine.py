"""Cine players: one frame slider for every panel, one grey scale, a signed A − B, one cycle per RR interval, looping."""

from __future__ import annotations

import numpy as np
import pytest

from app.figures import cine
from app.figures.text import CHAR_PX_PER_FONT_PX
from tests.figure_checks import assert_unchanged_by_validation, validated


def _cine(frames=20, value=0.5, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(value + rng.normal(0, 0.1, (frames, 16, 16)), 0, 1).astype(np.float32)


@pytest.mark.parametrize(("rate", "frames", "expected"), [(60, 50, 20), (120, 50, 10), (75, 25, 32), (None, 50, 20), (500, 50, 6)])
def test_one_cycle_takes_one_rr_interval(rate, frames, expected):
    frame_ms = cine.frame_ms_for_heart_rate(rate, frames)
    assert frame_ms == expected
    if rate is not None and rate <= 200:
        assert frame_ms * frames == pytest.approx(60_000 / rate, rel=0.02)


def test_original_and_decoded_share_one_scale_one_slider_and_the_loop_flag():
    original, decoded = _cine(), _cine(value=0.3, seed=1)
    figure = validated(cine.cine_pair_figure(original, decoded, heart_rate_bpm=75))
    first, second = figure.data
    assert (first.zmin, first.zmax) == (second.zmin, second.zmax) == (0, 255) and first.colorscale == second.colorscale
    assert len(figure.frames) == 20 and all(frame.traces == (0, 1) for frame in figure.frames)
    assert np.array_equal(figure.frames[7].data[1].z, np.round(decoded[7] * 255).astype(np.uint8))
    assert np.asarray(first.z).dtype == np.uint8
    over_range = validated(cine.cine_pair_figure(original * 2, original, heart_rate_bpm=60))  # clipped to the one scale, not rescaled
    assert np.array_equal(over_range.data[0].z, np.round(np.clip(original[0] * 2, 0, 1) * 255).astype(np.uint8))
    assert figure.layout.meta["cine_loop"] is True and figure.layout.meta["frame_ms"] == 40
    play = figure.layout.updatemenus[0].buttons[0]
    assert play.args[0] is None and play.args[1]["frame"]["duration"] == 40  # the loop script restarts "Play" (args[0] None)
    assert len(figure.layout.sliders[0].steps) == 20
    assert "75 bpm" in figure.layout.title.subtitle.text and "40 ms a frame" in figure.layout.title.subtitle.text


def test_difference_is_a_minus_b_signed_on_a_symmetric_scale():
    a, b = _cine(value=0.6), _cine(value=0.4, seed=2)
    figure = validated(cine.cine_difference_figure(a, b, label_a="AF", label_b="rest", heart_rate_bpm=60))
    titles = [annotation.text for annotation in figure.layout.annotations][:3]
    assert titles == ["AF", "rest", "AF − rest"]
    signed = figure.data[2]
    assert signed.zmin == -signed.zmax and signed.colorscale[0][1] != signed.colorscale[-1][1]
    limit = cine.difference_scale(a - b)
    assert np.array_equal(figure.frames[3].data[2].z, np.clip(np.round((a[3] - b[3]) / limit * 127), -127, 127).astype(np.int8))
    assert np.asarray(figure.frames[3].data[2].z, dtype=float).mean() > 0  # A brighter than B: positive (red)
    assert len(figure.frames[0].data) == 3  # all three panels change on the one slider


def test_players_are_prebuilt_exactly_as_plotly_would_validate_them():
    a, b = _cine(value=0.6), _cine(value=0.4, seed=2)
    assert_unchanged_by_validation(cine.cine_pair_figure(a, b, heart_rate_bpm=75, title="<b>x</b>"))
    assert_unchanged_by_validation(cine.cine_difference_figure(a, b, heart_rate_bpm=None))
    assert_unchanged_by_validation(cine.cine_player([cine.greyscale_panel("decoded", a, colourbar=True)], frame_ms=40))


def test_difference_scale_rounds_up_and_never_shrinks_to_noise():
    assert cine.difference_scale(np.full(100, 0.12)) == pytest.approx(0.15)
    assert cine.difference_scale(np.zeros(100)) == cine.MIN_DIFFERENCE_SCALE


def test_players_refuse_mismatched_cines():
    with pytest.raises(ValueError, match="one frame count"):
        validated(cine.cine_pair_figure(_cine(20), _cine(10), heart_rate_bpm=60))
    with pytest.raises(ValueError, match="differ in shape"):
        validated(cine.cine_difference_figure(_cine(20), _cine(10), heart_rate_bpm=60))
    with pytest.raises(ValueError, match="at least one frame"):
        cine.frame_ms_for_heart_rate(60, 0)


def test_long_cohort_names_wrap_to_their_panel_and_the_figure_grows_to_keep_the_images():
    """Prototype names ("A: mean of current cohort (2,795)") ran into each other over the A − B panel and off the colour bar."""
    label_a, label_b = "A: mean of current cohort (2,795)", "B: mean of everyone else (2,205)"
    short = cine.cine_difference_figure(_cine(), _cine(seed=1), label_a="A", label_b="B", title="Cine")
    long = cine.cine_difference_figure(_cine(), _cine(seed=1), label_a=label_a, label_b=label_b,
                                       title=f"Cine: {label_a}, {label_b} and {label_a} − {label_b} (red: brighter in {label_a}) " * 2)
    titles = [annotation["text"] for annotation in long["layout"]["annotations"]]
    per_line = int(0.9 * 1000 / 3 / (cine.PANEL_TITLE_PX * CHAR_PX_PER_FONT_PX))
    assert titles[2].replace("<br>", " ") == f"{label_a} − {label_b}" and titles[2].count("<br>") == 1
    assert all(len(line) <= per_line for title in titles for line in title.split("<br>"))
    assert long["data"][2]["colorbar"]["title"]["text"] == "difference"
    title_lines = long["layout"]["title"]["text"].count("<br>")
    assert title_lines == 2 and long["layout"]["title"]["text"].endswith("…")  # three lines at most
    grown = long["layout"]["height"] - short["layout"]["height"]
    assert grown == long["layout"]["margin"]["t"] - short["layout"]["margin"]["t"] == 15 + 18 * title_lines  # the images keep their height
