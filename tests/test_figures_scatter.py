"""The compact linked scatter figure builder: one trace, typed arrays, one byte of colour per subject."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.io as pio
from plotly.io.json import to_json_plotly

from app.figures.scatter import (
    FADED_OFFSET,
    MISSING_CODE,
    colour_coding,
    highlighted_codes,
    palette,
    readable_value,
    scatter_figure,
    subject_lines,
    typed_array,
)
from data_loaders.manifest import VariableSpec
from tests.typed_arrays import unpacked

AGE = VariableSpec("age_years", "continuous", "Age", "years")
SEX = VariableSpec("sex", "categorical", "Sex", categories=("female", "male"))
AF = VariableSpec("af", "binary", "AF")


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {"age_years": [50.0, np.nan, 70.0, 61.0], "sex": ["male", "female", None, "female"], "af": [True, False, False, True]},
        index=pd.Index(["s0", "s1", "s2", "s3"], name="sample_id"),
    )


def _colour_at(coding, code: int) -> str:
    return coding.colorscale[code][1]


def test_categories_get_one_code_each_and_missing_its_own_grey():
    table = _table()
    sex = colour_coding(table.sex, SEX)
    assert sex.codes.dtype == np.uint8 and sex.codes.tolist() == [1, 0, MISSING_CODE, 0]
    assert sex.legend == [("female", "#1f77b4"), ("male", "#d62728"), ("missing", "#b0b0b0")]
    assert _colour_at(sex, 0) == "rgba(31,119,180,1.0)" and _colour_at(sex, MISSING_CODE) == "rgba(176,176,176,1.0)"
    af = colour_coding(table.af, AF)
    assert af.codes.tolist() == [1, 0, 0, 1] and [name for name, _ in af.legend] == ["AF: no", "AF: yes"]


def test_continuous_colour_is_quantised_between_its_percentiles_with_missing_apart():
    coding = colour_coding(_table().age_years, AGE)
    assert coding.codes[1] == MISSING_CODE
    assert coding.codes[0] < coding.codes[3] < coding.codes[2] < MISSING_CODE
    label, low, high = coding.continuous
    assert label == "Age (years)" and 50 < low < high < 70
    assert len(coding.colorscale) == 256 and coding.colorscale[0][0] == 0 and coding.colorscale[-1][0] == 1


def test_highlight_fades_everyone_outside_it_with_a_transparent_twin_colour():
    coding = colour_coding(_table().sex, SEX)
    codes = highlighted_codes(coding, np.array([True, False, True, False]))
    assert codes.tolist() == [1, FADED_OFFSET + 0, MISSING_CODE, FADED_OFFSET + 0]
    assert _colour_at(coding, FADED_OFFSET).endswith(",0.08)") and _colour_at(coding, 0).endswith(",1.0)")
    assert highlighted_codes(coding, None) is coding.codes


def test_figure_is_one_webgl_trace_of_typed_arrays_without_per_point_strings():
    table = _table()
    coordinates = np.arange(8, dtype=np.float64).reshape(4, 2)
    figure = scatter_figure(coordinates, colour_coding(table.sex, SEX), highlight=np.array([False, True, True, True]), revision="view-1")
    (trace,) = figure.data
    assert trace.type == "scattergl" and trace.hovertext is None and trace.customdata is None and trace.hoverinfo == "none"
    assert figure.layout.uirevision == "view-1"
    sent = json.loads(pio.to_json(figure))["data"][0]
    assert sent["x"]["dtype"] == "f4" and sent["marker"]["color"]["dtype"] == "u1"
    assert unpacked(sent["y"]).tolist() == [1.0, 3.0, 5.0, 7.0]
    assert unpacked(sent["marker"]["color"]).tolist() == [1 + FADED_OFFSET, 0, MISSING_CODE, 0]
    assert trace.unselected.marker.opacity == 1.0  # Plotly's own dimming off: the server's highlight rules
    # the browser splits it by colour (assets/explorer.js), one colour per code from the palette; no Plotly colour scale
    assert trace.meta == {"highlight": True, "colour_groups": True, "palette": palette(colour_coding(table.sex, SEX))}
    assert len(trace.meta["palette"]) == 256 and trace.meta["palette"][0] == "rgba(31,119,180,1.0)" and "colorscale" not in sent["marker"]


def test_each_point_costs_at_most_twelve_bytes_and_a_recolouring_two():
    def sizes(n: int) -> tuple[int, int]:
        rng = np.random.default_rng(0)
        coding = colour_coding(pd.Series(rng.normal(size=n)), AGE)
        figure = pio.to_json(scatter_figure(rng.normal(size=(n, 2)), coding))  # as Dash sends it, escapes and all
        return len(figure), len(to_json_plotly({"color": typed_array(coding.codes), "palette": palette(coding)}))

    (figure_small, colours_small), (figure_large, colours_large) = sizes(10_000), sizes(40_000)
    assert (figure_large - figure_small) / 30_000 <= 12.0  # float32 x, y and a uint8 code, base64: 12 bytes
    assert (colours_large - colours_small) / 30_000 <= 1.34


def test_typed_array_round_trips_and_names_the_dtype_as_plotly_does():
    packed = typed_array(np.array([1, 2, 300], dtype=np.int32))
    assert packed["dtype"] == "i4" and unpacked(packed).tolist() == [1, 2, 300]
    assert typed_array(np.array([1, 2], dtype=np.uint8))["dtype"] == "u1"


def test_hover_lines_describe_one_subject():
    table = _table()
    variables = {"age_years": AGE, "sex": SEX, "af": AF}
    assert subject_lines(table, variables, ["age_years", "sex", "af"], 0) == ["s0", "Age 50 years", "Sex male", "AF"]
    assert subject_lines(table, variables, ["age_years", "sex", "af"], 2) == ["s2", "Age 70 years", "Sex –", "no AF"]
    assert subject_lines(table, variables, ["age_years"], 1) == ["s1", "Age – years"]
    # As stored, not rounded: 59.5 showed as "60", which an age ≥ 60 filter excludes; mV values lost every decimal.
    assert [readable_value(v) for v in (59.5, 60.0, 1.23456789, 0.000123, 12345.6)] == ["59.5", "60", "1.23457", "0.000123", "12345.6"]


def test_typed_arrays_are_url_safe_base64_so_that_dash_does_not_escape_them():
    # Standard base64 of these bytes is "////+++/", and Dash (plotly's JSON) writes each "/" as the six characters \\u002f.
    packed = typed_array(np.array([255, 255, 255, 251, 239, 191], dtype=np.uint8))
    assert packed["bdata"] == "____---_" and unpacked(packed).tolist() == [255, 255, 255, 251, 239, 191]
