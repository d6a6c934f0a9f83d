"""Explorer views above the density threshold: density of everyone, the highlighted cohort over it, points once zoomed in."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.io as pio

from app.core.density import Viewport, cell_counts, density_grid, in_viewport
from app.figures.density import COUNT_BAR_MARGIN_PX, SHARE_BAR_MARGIN_PX, choose_drawing, view_figure
from app.figures.scatter import VIEW_RIGHT_MARGIN_PX, colour_coding
from data_loaders.manifest import VariableSpec
from tests.typed_arrays import unpacked

AGE = VariableSpec("age_years", "continuous", "Age", "years")
SEX = VariableSpec("sex", "categorical", "Sex", categories=("female", "male", "other"))
AF = VariableSpec("af", "binary", "AF")
N = 3000
BINS = 20


def _cohort(n: int = N, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n, 2))
    table = pd.DataFrame({
        "age_years": np.where(rng.random(n) < 0.05, np.nan, 60 + 10 * points[:, 0]),  # older to the right
        "sex": rng.choice(["female", "male"], size=n, p=[0.3, 0.7]),
        "af": points[:, 1] > 0,  # AF in the upper half only
    })
    return points, table


def _figure(points, coding, *, highlight=None, viewport=None, threshold=100):
    drawing = choose_drawing(points, viewport, threshold)
    return view_figure(points, coding, drawing, highlight=highlight, viewport=viewport, threshold=threshold,
                       title="Joint · PCA", x_label="PC 1", y_label="PC 2", revision="0-joint-pca", bins=BINS)


def _z(trace) -> np.ndarray:
    return np.asarray(trace.z, dtype=float)


def test_up_to_the_threshold_every_point_is_drawn_and_above_it_a_density():
    points, table = _cohort()
    coding = colour_coding(table.sex, SEX)
    assert choose_drawing(points, None, N).mode == "points"
    small = _figure(points, coding, threshold=N)
    assert [trace.type for trace in small.data] == ["scattergl"] and len(unpacked(small.data[0].x)) == N
    drawing = choose_drawing(points, None, N - 1)
    assert drawing.mode == "density" and drawing.n_shown == N and drawing.follows_zoom


def test_the_density_counts_every_subject_once_and_says_so_with_how_to_see_points():
    points, table = _cohort()
    figure = _figure(points, colour_coding(table.sex, SEX))
    everyone, coloured, handle = figure.data
    assert (everyone.type, coloured.type, handle.type) == ("heatmap", "heatmap", "scatter")
    assert everyone.meta == {"density": N, "highlight": False, "follows_zoom": True}
    assert np.nansum(np.rint(10 ** _z(everyone))) == N  # log10 counts: nobody sampled away
    assert len(everyone.x) == len(everyone.y) == BINS + 1 and _z(everyone).shape == (BINS, BINS)
    assert "Density of 3,000 subjects" in figure.layout.title.text and "zoom in to ≤ 100 subjects to see points" in figure.layout.title.text
    assert handle.marker.opacity == 0 and figure.layout.dragmode == "lasso"  # box and lasso tools stay
    assert (handle.x[0], handle.x[-1]) == (everyone.x[0], everyone.x[-1])


def test_categorical_colour_shows_each_cells_majority_and_binary_its_share_of_yes():
    points, table = _cohort()
    sex = colour_coding(table.sex, SEX)
    majority = _z(_figure(points, sex).data[1])
    occupied = np.isfinite(majority)
    assert set(np.unique(majority[occupied])) <= {0.0, 1.0} and (majority[occupied] == 1).mean() > 0.5  # male (code 1) mostly
    af = colour_coding(table.af.astype("boolean"), AF)
    share = _z(_figure(points, af).data[1])
    grid = density_grid(points, None, BINS)
    upper = grid.y_edges[:-1] >= 0  # cells wholly above y = 0: everyone has AF there
    lower = grid.y_edges[1:] <= 0
    assert np.nanmin(share[upper]) == 1.0 and np.nanmax(share[lower]) == 0.0
    colours = _figure(points, af).data[1].colorscale
    assert colours[0][1] == af.colorscale[1 - af.share_code][1] and colours[-1][1] == af.colorscale[af.share_code][1]


def test_a_view_with_a_colour_bar_has_the_right_margin_it_needs_and_one_without_none():
    """Room for the bar's ticks and title from the start: Plotly's automargin would push the margin and draw the view again."""
    points, table = _cohort()
    codings = {"share of yes": colour_coding(table.af.astype("boolean"), AF), "counts": colour_coding(pd.Series(np.zeros(N)), None),
               "majority": colour_coding(table.sex, SEX), "mean": colour_coding(table.age_years, AGE)}
    margins = {name: _figure(points, coding).layout.margin.r for name, coding in codings.items()}
    bars = {name: any(trace.type == "heatmap" and trace.showscale for trace in _figure(points, coding).data) for name, coding in codings.items()}
    assert margins == {"share of yes": SHARE_BAR_MARGIN_PX, "counts": COUNT_BAR_MARGIN_PX, "majority": VIEW_RIGHT_MARGIN_PX, "mean": VIEW_RIGHT_MARGIN_PX}
    assert bars == {"share of yes": True, "counts": True, "majority": False, "mean": False}


def test_continuous_colour_shows_each_cells_mean_on_the_colour_scale():
    points, table = _cohort()
    age = colour_coding(table.age_years, AGE)
    means = _z(_figure(points, age).data[1])
    _, columns = np.nonzero(np.isfinite(means))
    assert np.corrcoef(columns, means[np.isfinite(means)])[0, 1] > 0.8  # older to the right
    assert np.nanmax(means) <= 126 and np.nanmin(means) >= 0


def test_a_highlighted_cohort_is_its_own_coloured_layer_over_everyone_faded():
    points, _ = _cohort()
    highlight = points[:, 0] > 1.0
    figure = _figure(points, colour_coding(pd.Series(np.zeros(N)), None), highlight=highlight)  # no colour variable: counts
    everyone, coloured, _ = figure.data
    assert everyone.meta["highlight"] is True and everyone.opacity < 1
    counts = np.where(np.isfinite(_z(coloured)), np.rint(10 ** _z(coloured)), 0)
    assert counts.sum() == highlight.sum()  # colour by count: the cohort's own counts
    grid = density_grid(points, None, BINS)
    assert np.array_equal(counts, cell_counts(grid, highlight))
    assert coloured.colorbar.title.text.startswith("subjects")


def test_zoomed_in_to_few_enough_subjects_the_view_draws_exactly_those_points_with_their_rows():
    points, table = _cohort()
    viewport = Viewport((1.0, 3.0), (-1.0, 1.0))
    inside = np.flatnonzero(in_viewport(points, viewport))
    assert 0 < len(inside) <= 400
    drawing = choose_drawing(points, viewport, 400)
    assert drawing.mode == "zoomed" and drawing.rows.tolist() == inside.tolist()
    figure = _figure(points, colour_coding(table.sex, SEX), viewport=viewport, threshold=400)
    (trace,) = figure.data
    assert trace.type == "scattergl" and {key: trace.meta[key] for key in ("highlight", "colour_groups", "follows_zoom")} == {
        "highlight": False, "colour_groups": True, "follows_zoom": True}
    sent = json.loads(pio.to_json(figure))["data"][0]
    assert sent["customdata"]["dtype"] == "i4"
    assert unpacked(sent["customdata"]).tolist() == inside.tolist()
    assert np.allclose(unpacked(sent["x"]), points[inside, 0].astype(np.float32))
    assert f"{len(inside):,} subjects in range, as points" in figure.layout.title.text
    many = choose_drawing(points, Viewport((-3.0, 3.0), (-3.0, 3.0)), 400)
    assert many.mode == "density" and many.n_shown > 400


def test_a_density_of_a_hundred_thousand_subjects_is_a_few_hundred_kilobytes():
    points, table = _cohort(100_000, seed=1)
    figure = view_figure(points, colour_coding(table.age_years, AGE), choose_drawing(points, None, 50_000), highlight=points[:, 1] > 0,
                         viewport=None, threshold=50_000, title="t", x_label="x", y_label="y", revision="r")
    sent = json.dumps(json.loads(pio.to_json(figure)))  # plotly escapes '/' as \\u002f: undone here
    assert len(sent) < 500_000  # two 200 × 200 float32 layers, whatever the cohort's size
