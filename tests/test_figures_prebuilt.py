"""Prebuilt figures: the plain dicts Dash sends, built without plotly.py's objects (app.figures.prebuilt)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from app.figures.prebuilt import prebuilt_figure, sendable, typed_array
from tests.figure_checks import assert_unchanged_by_validation
from tests.typed_arrays import unpacked


def test_a_prebuilt_figure_is_what_dash_sends_arrays_typed_nones_left_out_and_the_template_in_place():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    figure = prebuilt_figure([{"type": "scatter", "x": np.array([0.5, 1.5], dtype=np.float32), "y": [1, 2], "name": None, "text": np.array(["a", "b"])},
                              {"type": "heatmap", "z": image, "colorbar": None}],
                             {"title": {"text": "t", "subtitle": None}, "height": 300})
    scatter, heatmap = figure["data"]
    assert scatter["x"]["dtype"] == "f4" and unpacked(scatter["x"]).tolist() == [0.5, 1.5]
    assert scatter["y"] == [1, 2] and "name" not in scatter  # a list of numbers is left as it is; None means "not set"
    assert heatmap["z"]["shape"] == "3,4" and np.array_equal(unpacked(heatmap["z"]), image) and "colorbar" not in heatmap
    assert figure["layout"]["title"] == {"text": "t"} and figure["layout"]["template"] == pio.templates[pio.templates.default].to_plotly_json()
    assert "frames" not in figure  # as go.Figure.to_dict leaves it out when there are none
    assert_unchanged_by_validation(figure)


def test_each_figure_gets_its_own_template_so_changing_one_changes_no_other():
    first, second = prebuilt_figure([], {}), prebuilt_figure([], {})
    first["layout"]["template"]["layout"]["font"] = {"size": 30}
    assert second["layout"]["template"] == pio.templates[pio.templates.default].to_plotly_json()


def test_frames_are_sent_like_the_data():
    frames = [{"name": str(step), "data": [{"type": "heatmap", "z": np.full((2, 2), step, dtype=np.int8)}]} for step in range(3)]
    figure = prebuilt_figure([{"type": "heatmap", "z": np.zeros((2, 2), dtype=np.int8)}], {}, frames)
    assert [unpacked(frame["data"][0]["z"]).max() for frame in figure["frames"]] == [0, 1, 2]
    assert_unchanged_by_validation(figure)


@pytest.mark.parametrize("values, dtype", [([0, -5, 100], "i1"), ([300, -2], "i2"), ([70_000, 0], "i4"), ([2**40, 1], "f8")])
def test_64_bit_integers_go_as_the_narrowest_type_that_holds_them(values, dtype):
    packed = typed_array(np.array(values, dtype=np.int64))
    assert packed["dtype"] == dtype and unpacked(packed).tolist() == values


def test_sendable_leaves_a_prebuilt_figure_as_it_is_and_converts_a_graph_object():
    prebuilt = prebuilt_figure([{"type": "bar", "y": np.array([1.0, 2.0])}], {})
    assert sendable(prebuilt) is prebuilt
    converted = sendable(go.Figure(go.Bar(y=np.array([1.0, 2.0]))))
    assert isinstance(converted, dict) and unpacked(converted["data"][0]["y"]).tolist() == [1.0, 2.0]
