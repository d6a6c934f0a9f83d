"""End to end in headless Chromium: points drawn, linked selection, a cohort saved and kept."""

from __future__ import annotations

import json
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from selenium.webdriver.common.by import By

from app.figures.preview import autorange_pad_px
from tests.browser import (
    AXES,
    PICTURES,
    PLOT_AREA,
    UNHIDDEN_PICTURE_BOX,
    box_select_middle,
    choose_dropdown_option,
    drawn_points,
    highlighted_rows,
    hover_point,
    plot_state,
    pushed_margins,
    requires_chromium,
    severe_console_errors,
    wait_for,
    wait_until_drawn,
    with_callbacks_blocked,
)
from tests.conftest import PHENOTYPE_COHORT_SUBJECTS
from tests.serving import heavy_workers, running_app

pytestmark = [pytest.mark.browser, requires_chromium]
SUBJECTS = PHENOTYPE_COHORT_SUBJECTS



@pytest.fixture(scope="module")
def app_url(phenotype_cohort_dir, tmp_path_factory):
    with running_app(phenotype_cohort_dir, tmp_path_factory.mktemp("explorer-cache")) as url:
        yield url


VIEWS = ("view-0", "view-1", "view-2")
RECORD_UPLOADS = """
window.__uploads = [];
const send = window.fetch;
window.fetch = function (url, options) {
    if (options && typeof options.body === 'string') { window.__uploads.push(options.body.length); }
    return send.apply(this, arguments);
};
"""


def _drawn(driver, graph_id):
    return drawn_points(driver, graph_id, SUBJECTS)


def _all_drawn(driver) -> None:
    wait_until_drawn(driver, VIEWS, SUBJECTS)


def _highlighted(driver, graph_id):
    return highlighted_rows(plot_state(driver, graph_id))


def _box_selection_everywhere(driver) -> set[int]:
    box_select_middle(driver, "view-0")
    selected = wait_for(lambda: _highlighted(driver, "view-0"), message="a selection in view 1")
    assert 0 < len(selected) < SUBJECTS
    for other in VIEWS[1:]:
        wait_for(lambda o=other: _highlighted(driver, o) == selected, message=f"{other} to follow")
    return selected


# Plotly's drawing canvas (its first WebGL layer) without multisampling (assets/webgl_canvas.js); a canvas of anyone else's keeps it.
CANVAS_ANTIALIAS = """
const drawn = document.querySelector(arguments[0] + ' .js-plotly-plot')._fullLayout._glcanvas.data()[0].regl._gl;
const other = document.createElement('canvas').getContext('webgl');
return { plotly: drawn.getContextAttributes().antialias, other: other.getContextAttributes().antialias };
"""




@pytest.mark.parametrize("base64_decoder", ["the browser's", "the fallback (a browser without Uint8Array.fromBase64)"])
def test_page_loads_with_every_subject_once_in_compact_webgl_traces_one_per_colour(driver, app_url, tmp_path, base64_decoder):
    if "fallback" in base64_decoder:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "delete Uint8Array.fromBase64;"})
    driver.get(app_url)
    for graph_id in VIEWS:
        traces = wait_for(lambda g=graph_id: _drawn(driver, g), message=f"{graph_id} drawn")
        assert 2 <= len(traces) <= 3 and {trace["type"] for trace in traces} == {"scattergl"}  # AF no, yes (and missing)
        assert all(trace["typed"] and not trace["hovertext"] for trace in traces)  # float32 typed arrays, no per-point strings
        assert sorted(row for trace in traces for row in trace["rows"]) == list(range(SUBJECTS))
        # WebGL at the screen's pixel ratio (1 in headless Chromium), not Plotly's fixed 2, and the layout's own settings kept
        config = driver.execute_script("return document.querySelector(arguments[0] + ' .js-plotly-plot')._context", f"#{graph_id}")
        assert config["plotGlPixelRatio"] == 1 and config["scrollZoom"] is True and config["displaylogo"] is False
        assert driver.execute_script(CANVAS_ANTIALIAS, f"#{graph_id}") == {"plotly": False, "other": True}
        assert pushed_margins(driver, graph_id) == []  # the labels fit the margins: drawn once, not again by automargin
    assert "Atrial fibrillation: yes" in driver.find_element(By.ID, "colour-legend").text
    driver.save_screenshot(str(tmp_path / "explorer.png"))
    assert severe_console_errors(driver) == []


def test_hovering_a_point_shows_that_subject_looked_up_on_the_server(driver, app_url, phenotype_cohort_dir):
    from data_loaders import load_cohort

    subject_ids = load_cohort(phenotype_cohort_dir).phenotypes.index
    driver.get(app_url)
    _all_drawn(driver)
    hover_point(driver, "view-0", 7)
    tooltip = wait_for(lambda: driver.execute_script("const t = document.getElementById('view-0-tooltip'); return t && t.textContent;"),
                       message="the hovered subject's tooltip")
    hovered = driver.execute_script("return document.querySelector('#view-0 .js-plotly-plot')._hoverdata[0].customdata;")
    assert tooltip.startswith(str(subject_ids[hovered])) and "Age" in tooltip


def test_box_selection_sends_its_shape_and_highlights_the_same_subjects_in_every_view(driver, app_url):
    driver.get(app_url)
    _all_drawn(driver)
    driver.execute_script(RECORD_UPLOADS)
    selected = _box_selection_everywhere(driver)
    summary = wait_for(lambda: driver.find_element(By.ID, "selection-summary").text, message="the summary")
    assert f"{len(selected):,} of {SUBJECTS:,} subjects highlighted" in summary
    uploads = driver.execute_script("return window.__uploads;")
    assert uploads and max(uploads) < 4000  # the box's corners, not the points inside it
    # Once the server has the selection, its outline (a shape) stands for Plotly's own, which Plotly would
    # otherwise select and restyle every point against on each redraw; the highlight stays.
    wait_for(lambda: driver.execute_script(OUTLINES, "#view-0") == [1, 0], message="the server's outline in place of Plotly's")
    assert [driver.execute_script(OUTLINES, f"#{graph_id}") for graph_id in VIEWS[1:]] == [[0, 0], [0, 0]]
    assert _highlighted(driver, "view-0") == selected
    box_select_middle(driver, "view-1")  # a new box in another view: the outline moves there
    wait_for(lambda: [driver.execute_script(OUTLINES, f"#{graph_id}")[0] for graph_id in VIEWS] == [0, 1, 0], message="the outline in view 2 only")
    assert severe_console_errors(driver) == []


OUTLINES = """
const layout = document.querySelector(arguments[0] + ' .js-plotly-plot')._fullLayout;
return [(layout.shapes || []).filter((s) => s.name === 'selection').length, (layout.selections || []).length];
"""


X_RANGE = "return document.querySelector(arguments[0] + ' .js-plotly-plot')._fullLayout.xaxis.range.slice();"


def _zoom_into_the_middle(driver, graph_id: str) -> list[float]:
    """Pick the zoom tool and drag a rectangle over the middle of the plot, as a user would; the x range it zoomed to."""
    from selenium.webdriver.common.action_chains import ActionChains

    before = driver.execute_script(X_RANGE, f"#{graph_id}")
    driver.find_element(By.CSS_SELECTOR, f'#{graph_id} .modebar-btn[data-val="zoom"]').click()
    plot_area = driver.find_element(By.CSS_SELECTOR, f"#{graph_id} .nsewdrag")
    width, height = plot_area.size["width"], plot_area.size["height"]
    ActionChains(driver).move_to_element_with_offset(plot_area, -width // 4, -height // 4).click_and_hold().move_by_offset(
        width // 2, height // 2).release().perform()
    return wait_for(lambda: (now := driver.execute_script(X_RANGE, f"#{graph_id}")) != before and now, message=f"{graph_id} zoomed in")


def test_a_colour_change_keeps_the_selection_and_the_zoom(driver, app_url):
    driver.get(app_url)
    _all_drawn(driver)
    selected = _box_selection_everywhere(driver)
    zoomed = _zoom_into_the_middle(driver, "view-1")
    driver.find_element(By.ID, "colour-by").click()
    driver.find_element(By.CSS_SELECTOR, ".dash-dropdown-search").send_keys("Age (years)")
    option = wait_for(lambda: next((o for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option") if "Age (years)" in o.text), None),
                      message="the Age option")
    driver.execute_script("arguments[0].click();", option)
    wait_for(lambda: "legend-bar" in driver.find_element(By.ID, "colour-legend").get_attribute("innerHTML"), message="the new legend")
    wait_for(lambda: driver.execute_script("return document.querySelector('#view-0 .js-plotly-plot').data.every((t) => t.marker.color !== 'rgba(31,119,180,1.0)')"),
             message="view 1 recoloured")
    for graph_id in VIEWS:
        assert _highlighted(driver, graph_id) == selected
    assert driver.execute_script(X_RANGE, "#view-1") == pytest.approx(zoomed)
    assert f"{len(selected):,} of" in driver.find_element(By.ID, "selection-summary").text


def test_clearing_the_selection_unlights_every_view_and_drops_the_outline(driver, app_url):
    driver.get(app_url)
    _all_drawn(driver)
    _box_selection_everywhere(driver)
    outlines = "return (document.querySelector('#view-0 .js-plotly-plot')._fullLayout.shapes || []).filter((s) => s.name === 'selection').length;"
    assert driver.execute_script(outlines) == 1
    driver.find_element(By.ID, "clear-selection").click()
    for graph_id in VIEWS:
        wait_for(lambda g=graph_id: _highlighted(driver, g) is None, message=f"{graph_id} cleared")
    wait_for(lambda: driver.execute_script(outlines) == 0, message="the outline in view 1 dropped")
    assert "All 300 subjects" in driver.find_element(By.ID, "selection-summary").text


def test_a_saved_cohort_is_still_listed_after_a_reload(driver, app_url):
    driver.get(app_url)
    wait_for(lambda: _drawn(driver, "view-0"), message="view 1 drawn")
    name = driver.find_element(By.ID, "cohort-name")
    name.send_keys("Everyone in the browser test")
    driver.find_element(By.ID, "save-cohort").click()
    wait_for(lambda: "Saved" in driver.find_element(By.ID, "save-feedback").text, message="save confirmation")
    driver.refresh()
    listed = wait_for(lambda: [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".saved-cohort")], message="saved cohorts listed")
    assert any("Everyone in the browser test" in text and f"{SUBJECTS:,}" in text for text in listed)
    assert severe_console_errors(driver) == []


def test_a_umap_view_is_computed_in_the_background_and_then_drawn(driver, app_url):
    driver.get(app_url)
    wait_for(lambda: _drawn(driver, "view-1"), message="view 2 drawn")
    choose_dropdown_option(driver, "view-1-method", "UMAP")
    wait_for(lambda: "Computing" in driver.find_element(By.ID, "view-1").text or _umap_drawn(driver), message="the UMAP to be requested")
    wait_for(lambda: _umap_drawn(driver), timeout=300, message="the UMAP drawn once computed")  # numba compiles UMAP on first use: slow on a busy machine
    assert severe_console_errors(driver) == []


def _umap_drawn(driver) -> bool:
    title = driver.execute_script("const g = document.querySelector('#view-1 .js-plotly-plot'); return g && g.layout.title ? g.layout.title.text : null;")
    return bool(title and "UMAP" in title and _drawn(driver, "view-1"))


def test_a_view_whose_projection_stops_mid_job_says_so_and_can_ask_again(driver, phenotype_cohort_dir, tmp_path):
    import psutil

    with running_app(phenotype_cohort_dir, tmp_path) as url:
        port = url.rsplit(":", 1)[1]
        (server,) = [p for p in psutil.Process().children(recursive=True) if "--port" in p.cmdline() and port in p.cmdline()]
        driver.get(url)
        wait_for(lambda: _drawn(driver, "view-1"), message="view 2 drawn")
        choose_dropdown_option(driver, "view-1-method", "t-SNE")
        (worker,) = wait_for(lambda: heavy_workers(server.pid), timeout=60, interval=0.02, message="the heavy worker started for the t-SNE")
        worker.kill()  # mid-job (it is still starting), as the out-of-memory killer would
        wait_for(lambda: any("stopped before it finished" in alert.text for alert in driver.find_elements(By.ID, "input-refused")), timeout=60,
                 message="the page's message")  # the alert is on the page only while open
        wait_for(lambda: "was not computed" in driver.find_element(By.ID, "view-1").text, message="the view saying what it waited for")
        driver.save_screenshot(str(tmp_path / "stopped-projection.png"))
        assert "Computing" not in driver.find_element(By.ID, "view-1").text
        choose_dropdown_option(driver, "view-1-method", "PCA")
        choose_dropdown_option(driver, "view-1-method", "t-SNE")  # asked again, as the view says: a new worker computes it
        wait_for(lambda: "t-SNE" in (driver.execute_script(VIEW_TITLE, "#view-1") or "") and _drawn(driver, "view-1"), timeout=120,
                 message="the t-SNE drawn")
        assert severe_console_errors(driver) == []


def test_a_link_with_two_projections_still_to_compute_draws_both(driver, phenotype_cohort_dir, tmp_path):
    # The two views share one job request: the second view's replaced the first's (Dash stopped that job), which
    # left the first view "Computing…" for good; it now asks again once the other job is done.
    with running_app(phenotype_cohort_dir, tmp_path) as url:
        driver.get(url + "/?tab=explore&view1=joint:tsne&view2=ecg:tsne")
        for graph_id, title in (("view-0", "Joint (ECG + MRI) · t-SNE"), ("view-1", "ECG only · t-SNE")):
            wait_for(lambda g=graph_id, t=title: driver.execute_script(VIEW_TITLE, f"#{g}") == t and _drawn(driver, g), timeout=120,
                     message=f"{graph_id} drawn as {title}")
        assert severe_console_errors(driver) == []


VIEW_TITLE = "const g = document.querySelector(arguments[0] + ' .js-plotly-plot'); return g && g.layout.title ? g.layout.title.text : null;"


def test_a_links_selection_on_a_projection_still_to_compute_applies_in_every_view_once_it_is_drawn(driver, phenotype_cohort_dir, tmp_path):
    """Opened before its t-SNE existed, the link's box lit the t-SNE view once drawn, while the other views, the count and
    the summary ("Selection ignored: … not computed yet") stayed as they were until a reload."""
    box = {"shape": {"kind": "box", "x": [0, 1000], "y": [0, 1000]}, "view": {"kind": "latent", "method": "tsne", "space": "ecg"}}
    with running_app(phenotype_cohort_dir, tmp_path) as url:
        driver.get(url + "/?tab=explore&view2=ecg:tsne&selection=" + quote(json.dumps(box)))
        wait_for(lambda: driver.execute_script(VIEW_TITLE, "#view-1") == "ECG only · t-SNE" and _drawn(driver, "view-1"), timeout=120,
                 message="the t-SNE drawn")
        inside = wait_for(lambda: (rows := _highlighted(driver, "view-1")) and len(rows) < SUBJECTS and rows, message="the box lit in the t-SNE")
        for graph_id in ("view-0", "view-2"):
            wait_for(lambda g=graph_id: _highlighted(driver, g) == inside, message=f"the same subjects lit in {graph_id}")
        summary = driver.find_element(By.ID, "selection-summary").text
        assert summary.startswith(f"{len(inside):,} of {SUBJECTS:,} subjects highlighted") and "ignored" not in summary
        assert driver.find_element(By.ID, "current-count").text.startswith(f"{len(inside):,} of")
        assert severe_console_errors(driver) == []




def test_each_view_is_pictured_over_its_plot_area_until_plotly_has_drawn_it(driver, app_url, tmp_path, phenotype_cohort_dir):
    with_callbacks_blocked(driver, app_url)
    pictures = wait_for(lambda: (shown := driver.execute_script(PICTURES)) and all(p["shown"] for p in shown) and shown,
                        message="the views' pictures on screen before any view is drawn")
    assert [p["view"] for p in pictures] == list(VIEWS)
    assert not any(_drawn(driver, graph_id) for graph_id in VIEWS)
    assert "Atrial fibrillation: yes" in driver.find_element(By.ID, "colour-legend").text  # the legend and summary are the layout's:
    assert driver.find_element(By.ID, "selection-summary").text.startswith(f"All {SUBJECTS:,} subjects")  # no row grows when they come
    driver.save_screenshot(str(tmp_path / "pictured.png"))
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    driver.get_log("browser")  # the blocked requests' errors; what follows is a plain load
    driver.get(app_url)
    _all_drawn(driver)
    wait_for(lambda: all(p["hidden"] for p in driver.execute_script(PICTURES)), message="every picture hidden once its view is drawn")
    driver.save_screenshot(str(tmp_path / "drawn.png"))
    for graph_id, picture in zip(VIEWS, pictures):  # where Plotly draws the points: the picture's box is the plot area's, to the pixel
        assert driver.execute_script(UNHIDDEN_PICTURE_BOX, graph_id) == pytest.approx(driver.execute_script(PLOT_AREA, f"#{graph_id}"), abs=1.5)
        # nothing moved since the picture was first seen (a dropdown drawn once its script loaded made its header a row taller)
        assert picture["box"] == pytest.approx(driver.execute_script(UNHIDDEN_PICTURE_BOX, graph_id), abs=1.5)
    # and inside it, the subjects where Plotly's autorange put them: the outermost this far from the axes' ends, as pictured
    phenotypes = pd.read_parquet(phenotype_cohort_dir / "phenotypes.parquet")
    for (axis_range, length), variable in zip(driver.execute_script(AXES, "#view-2"), ("age_years", "lv_mass_g")):
        values = phenotypes[variable].dropna().to_numpy(dtype=np.float32)
        per_pixel = (axis_range[1] - axis_range[0]) / length
        margins = [(values.min() - axis_range[0]) / per_pixel, (axis_range[1] - values.max()) / per_pixel]
        assert margins == pytest.approx([autorange_pad_px(length)] * 2, abs=0.5), variable
    assert severe_console_errors(driver) == []


def test_a_link_to_another_view_is_not_pictured_as_the_default_one(driver, app_url):
    with_callbacks_blocked(driver, app_url)
    default_address = wait_for(lambda: driver.execute_script(PICTURES), message="the pictures")[0]["query"]
    assert default_address.startswith("?tab=explore")
    for address, pictured in ((default_address, True), ("?colour=sex", False), ("?tab=explore&selection=x", False)):
        with_callbacks_blocked(driver, app_url + address)
        if pictured:
            wait_for(lambda: all(p["shown"] for p in driver.execute_script(PICTURES)), message=f"pictures shown at {address}")
        else:  # shown or not is settled as the layout joins the page, before it is painted
            assert len(wait_for(lambda: driver.execute_script(PICTURES), message="the pictures in the layout")) == 3
            assert not any(p["shown"] for p in driver.execute_script(PICTURES)), address
