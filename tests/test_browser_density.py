"""End to end in headless Chromium with a density threshold of 50 on 300 subjects: every view starts as a density."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from app.config import AppConfig
from app.context import AppContext
from app.core.projections import ProjectionSpec
from app.core.selection_shapes import points_in_box
from app.figures.preview import autorange_pad_px
from data_loaders import load_cohort
from tests.browser import (
    AXES,
    PICTURES,
    PLOT_AREA,
    UNHIDDEN_PICTURE_BOX,
    box_select_middle,
    highlighted_rows,
    plot_state,
    pushed_margins,
    requires_chromium,
    severe_console_errors,
    wait_for,
    with_callbacks_blocked,
)
from tests.conftest import PHENOTYPE_COHORT_SUBJECTS
from tests.serving import running_app

pytestmark = [pytest.mark.browser, requires_chromium]
THRESHOLD = 50
VIEWS = ("view-0", "view-1", "view-2")
SCREENSHOTS = Path("/tmp/issue-17b")


@pytest.fixture(scope="module")
def app_url(phenotype_cohort_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("density-cache")
    with running_app(phenotype_cohort_dir, cache, extra_env={"LSE_DENSITY_THRESHOLD": str(THRESHOLD)}) as url:
        yield url


@pytest.fixture(scope="module")
def joint_pca(phenotype_cohort_dir, tmp_path_factory) -> np.ndarray:
    """View 1's coordinates as the server computes them."""
    context = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path_factory.mktemp("pca")), load_cohort(phenotype_cohort_dir))
    return context.cached_projection("joint", ProjectionSpec(method="pca"))


VIEW_STATE = """
const g = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!g || !g.data || !g._fullData || !g.data.length) { return null; }
// Points (zoomed in) are one trace per colour, each point's row in customdata; a density has none.
const points = g._fullData.filter((t) => t.customdata);
return {
    types: g.data.map((t) => t.type),
    meta: g.data[0].meta || {},
    title: g.layout.title ? g.layout.title.text : '',
    rows: points.length ? points.flatMap((t) => Array.from(t.customdata)) : null,
    xs: points.flatMap((t) => Array.from(t.x)),
    ys: points.flatMap((t) => Array.from(t.y)),
    range: [g._fullLayout.xaxis.range, g._fullLayout.yaxis.range],
    outlines: (g.layout.shapes || []).filter((s) => s.name === 'selection').map((s) => [s.x0, s.x1, s.y0, s.y1]),
};
"""


def _view(driver, graph_id: str) -> dict | None:
    return driver.execute_script(VIEW_STATE, f"#{graph_id}")


def _density(driver, graph_id: str) -> dict | None:
    view = _view(driver, graph_id)
    return view if view and view["types"][:2] == ["heatmap", "heatmap"] else None


def _shot(driver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / name))


def test_every_view_draws_the_density_of_everyone_and_says_how_to_see_points(driver, app_url):
    driver.get(app_url)
    for graph_id in VIEWS:
        view = wait_for(lambda g=graph_id: _density(driver, g), message=f"{graph_id} drawn as a density")
        assert view["meta"]["density"] == PHENOTYPE_COHORT_SUBJECTS and view["meta"]["highlight"] is False
        assert f"Density of {PHENOTYPE_COHORT_SUBJECTS} subjects" in view["title"] and f"zoom in to ≤ {THRESHOLD} subjects to see points" in view["title"]
        assert pushed_margins(driver, graph_id) == []  # room for the colour bar: drawn once, not again by automargin
    _shot(driver, "density-views.png")
    assert severe_console_errors(driver) == []


def test_a_box_drawn_on_a_density_highlights_the_subjects_inside_it_in_every_view(driver, app_url, joint_pca):
    driver.get(app_url)
    for graph_id in VIEWS:
        wait_for(lambda g=graph_id: _density(driver, g), message=f"{graph_id} drawn as a density")
    box_select_middle(driver, "view-0")
    for graph_id in VIEWS:
        wait_for(lambda g=graph_id: (_density(driver, g) or {}).get("meta", {}).get("highlight"), message=f"{graph_id} highlighted")
    (x0, x1, y0, y1), = _view(driver, "view-0")["outlines"]
    inside = points_in_box(joint_pca, (x0, x1), (y0, y1))
    assert 0 < inside.sum() < PHENOTYPE_COHORT_SUBJECTS
    summary = wait_for(lambda: driver.find_element(By.ID, "selection-summary").text, message="the summary")
    assert f"{inside.sum():,} of {PHENOTYPE_COHORT_SUBJECTS:,} subjects highlighted" in summary
    _shot(driver, "density-box-selection.png")
    assert severe_console_errors(driver) == []


def _zoom_with_the_mouse(driver, graph_id: str, fraction: float) -> None:
    """Pick the zoom tool and drag a box of ``fraction`` of the plot's width and height around its middle, as a user would."""
    driver.find_element(By.CSS_SELECTOR, f'#{graph_id} .modebar-btn[data-val="zoom"]').click()
    plot_area = driver.find_element(By.CSS_SELECTOR, f"#{graph_id} .nsewdrag")
    width, height = plot_area.size["width"], plot_area.size["height"]
    ActionChains(driver).move_to_element(plot_area).move_by_offset(-int(width * fraction / 2), -int(height * fraction / 2)).click_and_hold().move_by_offset(
        int(width * fraction), int(height * fraction)).release().perform()


def test_zooming_in_draws_the_points_in_range_and_autoscale_the_density_again(driver, app_url, joint_pca):
    driver.get(app_url)
    wait_for(lambda: _density(driver, "view-0"), message="view 1 drawn as a density")
    _zoom_with_the_mouse(driver, "view-0", 0.12)
    view = wait_for(lambda: (v := _view(driver, "view-0")) and v["rows"] is not None and v, message="the points in range drawn")
    (x_low, x_high), (y_low, y_high) = view["range"]  # the zoom the user chose, kept while the points replace the density
    expected = np.flatnonzero(points_in_box(joint_pca, (x_low, x_high), (y_low, y_high)))
    assert 0 < len(expected) <= THRESHOLD
    assert set(view["types"]) == {"scattergl"} and sorted(view["rows"]) == expected.tolist()
    assert np.allclose(view["xs"], joint_pca[view["rows"], 0]) and f"{len(expected)} subjects in range, as points" in view["title"]
    assert highlighted_rows(plot_state(driver, "view-0")) is None
    _shot(driver, "density-zoomed-in.png")
    # Selenium's double-click does not reach Plotly's drag layer here; the toolbar's Autoscale sends the same relayout.
    ActionChains(driver).move_to_element(driver.find_element(By.CSS_SELECTOR, "#view-0 .nsewdrag")).perform()
    driver.find_element(By.CSS_SELECTOR, '#view-0 .modebar-btn[data-val="auto"]').click()
    back = wait_for(lambda: _density(driver, "view-0"), message="the density again after Autoscale")
    assert back["meta"]["density"] == PHENOTYPE_COHORT_SUBJECTS
    assert severe_console_errors(driver) == []


GRID_EDGES = """
const g = document.querySelector(arguments[0] + ' .js-plotly-plot');
const x = Array.from(g._fullData[0].x), y = Array.from(g._fullData[0].y);
return [[x[0], x[x.length - 1]], [y[0], y[y.length - 1]]];
"""


def test_each_density_is_pictured_over_its_plot_area_until_plotly_has_drawn_it(driver, app_url, tmp_path):
    """Above the threshold the picture is the view's density layers, where Plotly puts the grid (its corners' markers set the range)."""
    with_callbacks_blocked(driver, app_url)
    pictures = wait_for(lambda: (shown := driver.execute_script(PICTURES)) and all(p["shown"] for p in shown) and shown,
                        message="the densities' pictures on screen before any view is drawn")
    driver.save_screenshot(str(tmp_path / "pictured.png"))
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    driver.get_log("browser")  # the blocked requests' errors
    driver.get(app_url)
    wait_for(lambda: all((view := _view(driver, g)) and view["meta"].get("density") for g in VIEWS), message="every view a density")
    wait_for(lambda: all(p["hidden"] for p in driver.execute_script(PICTURES)), message="every picture hidden once its view is drawn")
    for graph_id, picture in zip(VIEWS, pictures):
        plot_area = driver.execute_script(PLOT_AREA, f"#{graph_id}")
        assert picture["box"] == pytest.approx(plot_area, abs=1.5) == driver.execute_script(UNHIDDEN_PICTURE_BOX, graph_id)
        for (axis_range, length), edges in zip(driver.execute_script(AXES, f"#{graph_id}"), driver.execute_script(GRID_EDGES, f"#{graph_id}")):
            per_pixel = (axis_range[1] - axis_range[0]) / length
            margins = [(edges[0] - axis_range[0]) / per_pixel, (axis_range[1] - edges[1]) / per_pixel]
            assert margins == pytest.approx([autorange_pad_px(length)] * 2, abs=0.5), graph_id
    assert severe_console_errors(driver) == []
