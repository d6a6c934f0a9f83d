"""End to end in headless Chromium: the Compare-spaces tab draws the overlap map and shows a subject's neighbourhoods.

A click focuses one subject and leaves the shared selection as it is; a range brushed on the overlap
histogram survives Plotly's redraw; the animation's controls never cover the map's axis title.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from data_loaders import load_cohort
from tests.browser import (
    SCROLL_INTO_VIEW,
    box_select_middle,
    chrome,
    current_count,
    highlighted_rows,
    hover_point,
    plot_state,
    pushed_margins,
    requires_chromium,
    severe_console_errors,
    wait_for,
)
from tests.conftest import PHENOTYPE_COHORT_SUBJECTS
from tests.serving import running_app

pytestmark = [pytest.mark.browser, requires_chromium]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


@pytest.fixture(scope="module")
def app_url(phenotype_cohort_dir, tmp_path_factory):
    with running_app(phenotype_cohort_dir, tmp_path_factory.mktemp("compare-spaces-cache")) as url:
        yield url


@pytest.fixture
def driver():
    browser = chrome()
    browser.set_window_size(1500, 2200)
    yield browser
    browser.quit()


def _open_panel(driver, app_url):
    driver.get(app_url)
    tab = wait_for(lambda: next((a for a in driver.find_elements(By.CSS_SELECTOR, "#main-tabs a") if a.text == "Compare spaces"), None),
                   message="the Compare spaces tab")
    tab.click()
    return wait_for(lambda: (plot_state(driver, "cs-map") or [None])[0] if len((plot_state(driver, "cs-map") or [{}])[0].get("rows", [])) ==
                    PHENOTYPE_COHORT_SUBJECTS else None, timeout=60, message="the overlap map")


def _use_row(driver, table: str, index: int, use) -> str:
    """The subject id of a list's row after ``use`` (a click, a focus) reached it: a list is one table, drawn again whole
    when the map's second answer arrives, so a row found a moment earlier may be gone; it is then found again."""
    def attempt():
        rows = driver.find_elements(By.CSS_SELECTOR, f"{table} tr.cs-row")
        if len(rows) <= index:
            return None
        row = rows[index]
        subject = row.find_elements(By.TAG_NAME, "td")[0].text
        use(row)
        return subject
    return wait_for(attempt, message=f"row {index} of {table}")


def test_the_panel_draws_every_subject_and_selecting_one_shows_its_neighbourhood_in_both_spaces(driver, app_url):
    subjects = _open_panel(driver, app_url)
    assert subjects["type"] == "scattergl" and sorted(subjects["rows"]) == list(range(PHENOTYPE_COHORT_SUBJECTS))
    assert "nearest neighbours" in driver.find_element(By.ID, "cs-summary").text
    wait_for(lambda: plot_state(driver, "cs-histogram"), message="the histogram drawn")
    assert pushed_margins(driver, "cs-map") == [] and pushed_margins(driver, "cs-histogram") == []  # each drawn once, not again by automargin
    SCREENSHOTS.mkdir(exist_ok=True)
    subject_id = _use_row(driver, "#cs-most-changed", 0, lambda row: row.click())
    title = wait_for(lambda: driver.find_element(By.ID, "cs-subject-title").text or None, message="the subject's neighbourhood")
    assert title.startswith(subject_id) and "keeps" in title
    multiples = wait_for(lambda: plot_state(driver, "cs-neighbourhood"), message="the small multiples")
    assert {trace["type"] for trace in multiples} == {"scatter"}  # SVG subplots, no extra WebGL context
    assert driver.execute_script("return document.querySelectorAll('#cs-neighbourhood .subplot').length") >= 2
    assert current_count(driver) == PHENOTYPE_COHORT_SUBJECTS  # focusing a subject leaves the selection (none) as it is
    assert (plot_state(driver, "cs-map") or [{}])[0].get("selected") is None
    driver.save_screenshot(str(SCREENSHOTS / "compare-spaces-subject.png"))
    # The lists are one HTML table each (not a component per cell); their rows work from the keyboard too.
    assert driver.execute_script("return document.querySelectorAll('#cs-most-changed tr.cs-row[tabindex=\"0\"]').length") >= 2
    second_id = _use_row(driver, "#cs-least-changed", 1, lambda row: driver.execute_script("arguments[0].focus()", row))
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait_for(lambda: driver.find_element(By.ID, "cs-subject-title").text.startswith(second_id) or None, message="the row chosen with Enter")
    assert current_count(driver) == PHENOTYPE_COHORT_SUBJECTS
    assert severe_console_errors(driver) == []


SLIDER_AND_POINTS = "const g = document.querySelector('#cs-map .js-plotly-plot'); return [g._fullLayout.sliders[0].active, Array.from(g._fullData[0].x).slice(0, 5)];"


def test_play_moves_every_subject_from_a_layout_to_b(driver, app_url):
    _open_panel(driver, app_url)
    first_x = driver.execute_script("return Array.from(document.querySelector('#cs-map .js-plotly-plot')._fullData[0].x).slice(0, 5)")
    driver.find_element(By.CSS_SELECTOR, "#cs-map .updatemenu-button").click()
    last = wait_for(lambda: driver.execute_script(
        "const g = document.querySelector('#cs-map .js-plotly-plot'); return g._fullLayout.sliders[0].active === g._transitionData._frames.length - 1"
        " ? Array.from(g._fullData[0].x).slice(0, 5) : null;"), timeout=30, message="the animation to reach B's layout")
    assert last != first_x  # the points moved
    # Picking a tool draws the figure again: the slider's mark stays on B's frame, where the points are (it went back to A's).
    driver.find_element(By.CSS_SELECTOR, '#cs-map .modebar-btn[data-val="pan"]').click()
    wait_for(lambda: driver.execute_script("return document.querySelector('#cs-map .js-plotly-plot')._fullLayout.dragmode === 'pan'"),
             message="the pan tool")
    time.sleep(1)  # the redraw, and the mark's correction after it
    assert driver.execute_script(SLIDER_AND_POINTS) == [8, last]
    driver.save_screenshot(str(SCREENSHOTS / "compare-spaces-animated.png"))
    assert severe_console_errors(driver) == []


RECORD_SELECTIONS = """
window.__mapSelections = [];
const send = window.fetch;
window.fetch = function (url, options) {
    if (options && typeof options.body === 'string' && options.body.includes('compare-spaces-map')) { window.__mapSelections.push(options.body); }
    return send.apply(this, arguments);
};
"""

# The selection's outline the server draws on the map (a layout shape named "selection"): whether it is shown, and the
# subjects inside it counted on the coordinates the map now draws; null while there is none or Plotly still shows its own.
OUTLINE = """
const graph = document.querySelector('#cs-map .js-plotly-plot');
const box = (graph._fullLayout.shapes || []).find((shape) => shape.name === 'selection'), trace = graph._fullData[0];
if (!box || (graph._fullLayout.selections || []).length) { return null; }
const [x0, x1] = [Math.min(box.x0, box.x1), Math.max(box.x0, box.x1)], [y0, y1] = [Math.min(box.y0, box.y1), Math.max(box.y0, box.y1)];
let inside = 0;
for (let i = 0; i < trace.x.length; i += 1) { inside += trace.x[i] >= x0 && trace.x[i] <= x1 && trace.y[i] >= y0 && trace.y[i] <= y1; }
return {visible: box.visible, inside: inside, frame: graph._fullLayout.sliders[0].active};
"""


def _animate(driver, frame: int | None = None) -> None:
    """Play the map to B's layout (``frame`` None: the play button), or jump to ``frame`` as its slider step does."""
    driver.execute_script("window.__animated = false;"
                          " document.querySelector('#cs-map .js-plotly-plot').on('plotly_animated', () => { window.__animated = true; });")
    if frame is None:
        driver.find_element(By.CSS_SELECTOR, "#cs-map .updatemenu-button").click()
    else:
        driver.execute_script("const graph = document.querySelector('#cs-map .js-plotly-plot');"
                              " Plotly.animate(graph, [arguments[0]], graph._fullLayout.sliders[0].steps[0].args[1]);", str(frame))
    wait_for(lambda: driver.execute_script("return window.__animated;"), timeout=30, message=f"the animation to frame {frame}")


def test_a_box_on_the_map_travels_as_its_shape_on_any_frame_and_is_outlined_on_that_frame_only(driver, app_url):
    """Not the rows inside it: on 100,000 subjects those were some 300 KB per lasso. The server draws its outline, in
    the frame it was drawn on: elsewhere it would outline subjects it did not choose."""
    _open_panel(driver, app_url)
    driver.execute_script(RECORD_SELECTIONS)
    for frame, frame_kind in ((0, "latent"), (8, "transition")):
        box_select_middle(driver, "cs-map")
        outline = wait_for(lambda: driver.execute_script(OUTLINE), message=f"the server's outline of the box on frame {frame}")
        assert outline["visible"] and outline["frame"] == frame and 0 < outline["inside"] < PHENOTYPE_COHORT_SUBJECTS
        inside = outline["inside"]
        wait_for(lambda n=inside: current_count(driver) == n, message=f"{inside} subjects selected, as many as the box holds on this frame")
        sent = [body for body in driver.execute_script("return window.__mapSelections;") if f'"kind":"{frame_kind}"' in body]
        assert sent and max(len(body) for body in sent) < 4000 and not any('"rows":[' in body for body in sent)
        assert len(highlighted_rows(plot_state(driver, "cs-map"))) == inside
        # On another frame the same box would hold other subjects: the outline is hidden there, its subjects stay chosen.
        _animate(driver, 0 if frame else None)
        wait_for(lambda: (driver.execute_script(OUTLINE) or {}).get("visible") is False, message="the outline hidden on another frame")
        assert current_count(driver) == inside
    _animate(driver)  # back to B's layout, where the second box was drawn: its outline again
    wait_for(lambda: (driver.execute_script(OUTLINE) or {}).get("visible") is True, message="the outline shown again on its own frame")
    driver.find_element(By.CSS_SELECTOR, '#cs-map .modebar-btn[data-val="pan"]').click()  # a redraw keeps it to its frame
    time.sleep(1)
    assert driver.execute_script(OUTLINE)["visible"] is True and driver.execute_script(OUTLINE)["frame"] == 8
    assert any('"frame":8' in body for body in driver.execute_script("return window.__mapSelections;"))  # B's layout: the last of 9 frames
    driver.save_screenshot(str(SCREENSHOTS / "compare-spaces-outline.png"))
    assert severe_console_errors(driver) == []


def test_hovering_a_subject_on_the_map_shows_it_and_its_overlap_looked_up_on_the_server(driver, app_url, phenotype_cohort_dir):
    """The map sends no text per point (its hover strings were a fifth of what the tab sent at 100,000 subjects)."""
    subject_ids = load_cohort(phenotype_cohort_dir).phenotypes.index
    _open_panel(driver, app_url)
    hover_point(driver, "cs-map", 7)
    tooltip = wait_for(lambda: driver.execute_script("const t = document.getElementById('cs-map-tooltip'); return t && t.textContent;"),
                       message="the hovered subject's tooltip")
    hovered = driver.execute_script("return document.querySelector('#cs-map .js-plotly-plot')._hoverdata[0].customdata;")
    assert tooltip.startswith(str(subject_ids[hovered])) and "overlap 0." in tooltip
    assert severe_console_errors(driver) == []


def test_a_suggested_group_becomes_the_shared_selection(driver, app_url):
    _open_panel(driver, app_url)
    select = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".cs-suggestion button"), message="suggested groups")[0]
    size = int(driver.find_element(By.CSS_SELECTOR, ".cs-suggestion strong").text.split(": ")[1].split(" ")[0])
    select.click()
    wait_for(lambda: driver.find_element(By.ID, "current-count").text.startswith(f"{size} of"), message="the group selected")
    wait_for(lambda: "have in common" in driver.find_element(By.ID, "cs-common").text, message="what the group has in common")
    driver.save_screenshot(str(SCREENSHOTS / "compare-spaces-suggestion.png"))
    assert severe_console_errors(driver) == []


# The subject drawn farthest from any other on the map (a click there hits it alone), its row and its pixel offset
# from the centre of the plot's drag layer.
LONELIEST_POINT = """
const graph = document.querySelector('#cs-map .js-plotly-plot');
const trace = graph._fullData[0], layout = graph._fullLayout;
const xs = Array.from(trace.x), ys = Array.from(trace.y), rows = Array.from(trace.customdata);
const px = xs.map((x) => layout.xaxis.l2p(x)), py = ys.map((y) => layout.yaxis.l2p(y));
let best = -1, bestGap = -1;
for (let i = 0; i < xs.length; i++) {
    let gap = Infinity;
    for (let j = 0; j < xs.length; j++) {
        if (i !== j) { gap = Math.min(gap, Math.hypot(px[i] - px[j], py[i] - py[j])); }
    }
    const inside = px[i] > 15 && px[i] < layout._size.w - 15 && py[i] > 15 && py[i] < layout._size.h - 15;
    if (inside && gap > bestGap) { best = i; bestGap = gap; }
}
return {row: rows[best], dx: Math.round(px[best] - layout._size.w / 2), dy: Math.round(py[best] - layout._size.h / 2), gap: bestGap};
"""


def test_clicking_a_subject_on_the_map_focuses_it_and_keeps_the_selection(driver, app_url, phenotype_cohort_dir):
    _open_panel(driver, app_url)
    select = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".cs-suggestion button"), message="suggested groups")[0]
    size = int(driver.find_element(By.CSS_SELECTOR, ".cs-suggestion strong").text.split(": ")[1].split(" ")[0])
    select.click()
    wait_for(lambda: current_count(driver) == size, message="the suggested group selected")
    wait_for(lambda: f"{size:,} selected subjects" in driver.find_element(By.ID, "cs-common").text, message="the group's common changes")
    target = driver.execute_script(LONELIEST_POINT)
    assert target["gap"] > 6, "a point a click cannot miss"
    subject_id = str(load_cohort(phenotype_cohort_dir).subject_ids[target["row"]])
    drag_layer = driver.find_element(By.CSS_SELECTOR, "#cs-map .nsewdrag")
    driver.execute_script(SCROLL_INTO_VIEW, drag_layer)
    ActionChains(driver).move_to_element_with_offset(drag_layer, target["dx"], target["dy"]).pause(0.5).click().perform()
    wait_for(lambda: driver.find_element(By.ID, "cs-subject-title").text.startswith(subject_id), message=f"{subject_id}'s neighbourhoods")
    time.sleep(1)
    assert current_count(driver) == size  # the shared selection is still the group
    assert f"{size:,} selected subjects" in driver.find_element(By.ID, "cs-common").text
    driver.save_screenshot(str(SCREENSHOTS / "compare-spaces-clicked.png"))
    assert severe_console_errors(driver) == []


def test_a_range_brushed_on_the_histogram_stays_and_selects_only_the_subjects_shown(driver, app_url):
    _open_panel(driver, app_url)
    wait_for(lambda: plot_state(driver, "cs-histogram"), message="the overlap histogram drawn")  # drawn after the map, at times (a flake in CI)
    histogram = driver.find_element(By.CSS_SELECTOR, "#cs-histogram .nsewdrag")
    driver.execute_script(SCROLL_INTO_VIEW, histogram)
    assert not driver.find_element(By.ID, "cs-select-range").is_enabled()  # nothing brushed: nothing to select
    width = histogram.size["width"]
    # From the left edge (overlap 0) to 40 % of the axis: the most-changed subjects.
    ActionChains(driver).move_to_element_with_offset(histogram, -width // 2 + 2, 0).click_and_hold().move_by_offset(
        int(width * 0.4), 0).release().perform()
    shown = wait_for(lambda: (n := len((plot_state(driver, "cs-map") or [{}])[0].get("rows", []))) < PHENOTYPE_COHORT_SUBJECTS and n,
                     message="the map narrowed to the brushed range")
    time.sleep(3)  # Plotly's echo of an empty selection after the redraw came here, and undid the brush
    assert len(plot_state(driver, "cs-map")[0]["rows"]) == shown
    assert "overlap 0.0" in driver.find_element(By.ID, "cs-map-title").text  # from the left edge (2 px in: 0.00 or 0.01)
    assert driver.execute_script("return document.querySelectorAll('#cs-histogram .selectionlayer path, #cs-histogram .select-outline').length") > 0
    wait_for(lambda: (button := driver.find_element(By.ID, "cs-select-range")).is_enabled() and button, message="Select the subjects shown, enabled by the brush").click()
    wait_for(lambda: current_count(driver) == shown, message=f"the {shown} subjects shown selected")
    # The selection is the range itself, resolved on the server: a link holds it, however many subjects it covers.
    assert '"overlap"' in unquote(driver.current_url) and '"rows"' not in unquote(driver.current_url)
    assert "picked one by one" not in driver.find_element(By.TAG_NAME, "body").text
    legend, plot = wait_for(lambda: driver.execute_script(HISTOGRAM_LEGEND), message="the histogram's legend: everyone and the selection")
    assert legend["bottom"] <= plot["top"] + 1  # above the bars and the brushed box, not over them
    driver.save_screenshot(str(SCREENSHOTS / "compare-spaces-brushed.png"))
    assert severe_console_errors(driver) == []


HISTOGRAM_LEGEND = """
const graph = document.querySelector('#cs-histogram .js-plotly-plot');
const legend = graph && graph.querySelector('.legend'), plot = graph && graph.querySelector('.nsewdrag');
if (!legend || !plot) return null;
return [legend, plot].map((element) => { const r = element.getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; });
"""

BOXES = """
const graph = document.querySelector('#cs-map .js-plotly-plot');
const box = (selector) => Array.from(graph.querySelectorAll(selector)).map((element) => {
    const r = element.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
}).filter((r) => r.right > r.left && r.bottom > r.top);
return {title: box('.g-xtitle'), ticks: box('.xtick text'), slider: box('.slider-container'), buttons: box('.updatemenu-button'),
        plot: box('.nsewdrag'), figure: box('.main-svg')};
"""


def _overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_the_animation_controls_sit_below_the_axis_title_without_overlapping(driver, app_url):
    _open_panel(driver, app_url)
    boxes = driver.execute_script(BOXES)
    assert boxes["title"] and boxes["slider"] and len(boxes["buttons"]) == 2 and boxes["ticks"]
    title, slider = boxes["title"][0], boxes["slider"][0]
    controls = [slider, *boxes["buttons"]]
    for control in controls:
        assert not _overlap(control, title), (control, title)
        assert all(not _overlap(control, tick) for tick in boxes["ticks"])
        assert control["top"] >= title["bottom"] and control["bottom"] <= boxes["figure"][0]["bottom"]  # below the title, inside the figure
    assert not _overlap(slider, boxes["buttons"][-1])
    driver.save_screenshot(str(SCREENSHOTS / "compare-spaces-controls.png"))
    assert severe_console_errors(driver) == []


MAP_KIND = """
const graph = document.querySelector('#cs-map .js-plotly-plot');
if (!graph || !graph._fullData || !graph._fullData.length) { return null; }
return {type: graph._fullData[0].type, frames: (graph._transitionData && graph._transitionData._frames || []).length,
        lasso: Boolean(document.querySelector('#cs-map [data-attr="dragmode"][data-val="lasso"]')),
        slider: graph._fullLayout.sliders[0].active};
"""


def test_above_the_density_threshold_the_map_is_a_density_that_still_plays_and_the_histogram_selects(driver, phenotype_cohort_dir, tmp_path):
    with running_app(phenotype_cohort_dir, tmp_path, extra_env={"LSE_DENSITY_THRESHOLD": "100"}) as url:
        driver.get(url)
        wait_for(lambda: next((a for a in driver.find_elements(By.CSS_SELECTOR, "#main-tabs a") if a.text == "Compare spaces"), None),
                 message="the Compare spaces tab").click()  # the page is laid out by React after the load
        drawn = wait_for(lambda: driver.execute_script(MAP_KIND), timeout=60, message="the overlap map")
        assert drawn["type"] == "heatmap" and drawn["frames"] == 9 and not drawn["lasso"]  # no points to lasso
        assert "as a density of 300 subjects" in driver.find_element(By.ID, "cs-map-title").text
        play = driver.find_elements(By.CSS_SELECTOR, "#cs-map .updatemenu-button")[0]
        driver.execute_script(SCROLL_INTO_VIEW, play)
        play.click()
        wait_for(lambda: driver.execute_script(MAP_KIND)["slider"] == 8, message="the density moved to B's layout")
        histogram = driver.find_element(By.CSS_SELECTOR, "#cs-histogram .nsewdrag")
        driver.execute_script(SCROLL_INTO_VIEW, histogram)
        width = histogram.size["width"]
        ActionChains(driver).move_to_element_with_offset(histogram, -width // 2 + 2, 0).click_and_hold().move_by_offset(
            int(width * 0.4), 0).release().perform()
        wait_for(lambda: (button := driver.find_element(By.ID, "cs-select-range")).is_enabled() and button, message="a brushed range").click()
        selected = wait_for(lambda: (count := current_count(driver)) is not None and count < PHENOTYPE_COHORT_SUBJECTS and count,
                            message="the brushed subjects selected")
        assert selected > 0
        driver.save_screenshot(str(SCREENSHOTS / "compare-spaces-density.png"))
        assert severe_console_errors(driver) == []
