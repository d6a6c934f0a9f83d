"""End to end in headless Chromium: from a box selection to decoded ECGs and cines, cross-modal, prototypes,
a perturbation and an interpolation, each drawn by the real server's background callbacks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app.figures.decoded_views import PLACED_BEAT_LABEL
from data_loaders import load_cohort
from tests.browser import box_select_middle, chrome, highlighted_rows, plot_state, pushed_margins, requires_chromium, severe_console_errors, wait_for
from tests.conftest import SMALL_COHORT_SUBJECTS
from tests.serving import REPO_ROOT, running_app

pytestmark = [pytest.mark.browser, requires_chromium]
SCREENSHOTS = REPO_ROOT / "screenshots"

FIGURE_STATE = """
const graph = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!graph || !graph.data || !graph.layout) { return null; }
return {
    names: graph.data.map(t => t.name || null),
    types: graph.data.map(t => t.type),
    title: (graph.layout.title && graph.layout.title.text) || '',
    annotations: (graph.layout.annotations || []).map(a => a.text || ''),
    subtitle: (graph.layout.title && graph.layout.title.subtitle && graph.layout.title.subtitle.text) || '',
    frames: (graph._transitionData && graph._transitionData._frames || []).length,
};
"""


def figure_state(driver, graph_id: str) -> dict | None:
    """Trace names and types, title, annotation texts and animation frame count of a drawn figure."""
    return driver.execute_script(FIGURE_STATE, f"#{graph_id}")


def _with(driver, graph_id: str, predicate):
    state = figure_state(driver, graph_id)
    return state if state and predicate(state) else None


def _boxes(driver, graph_id: str, selectors: tuple[str, ...]) -> list[dict]:
    """Where each element drawn in a graph sits in the page (its first match per CSS selector)."""
    return driver.execute_script(
        "const graph = document.getElementById(arguments[0]);"
        "return arguments[1].map(s => { const r = graph.querySelector(s).getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, height: r.height, width: r.width}; });", graph_id, list(selectors))


def _shot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def _tab(driver, label: str) -> None:
    tab = driver.find_element(By.XPATH, f"//a[contains(@class, 'nav-link') and normalize-space()='{label}']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", tab)
    tab.click()


def _scroll_to(driver, element_id: str) -> None:
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'start', behavior: 'instant'});", element_id)


@pytest.fixture(scope="module")
def app_url(trained_cohort_dir, tmp_path_factory):
    with running_app(trained_cohort_dir, tmp_path_factory.mktemp("decoder-cache")) as url:
        yield url


@pytest.fixture(scope="module")
def driver():
    browser = chrome()
    browser.set_window_size(1500, 1300)
    yield browser
    browser.quit()


def _box_select(driver, subjects: int = SMALL_COHORT_SUBJECTS) -> set[int]:
    """Box-select about a quarter of the subjects in latent view 1; returns their rows."""
    wait_for(lambda: (t := plot_state(driver, "view-0")) and sum(len(x["rows"]) for x in t) == subjects, timeout=90, message="view 1 drawn")
    box_select_middle(driver, "view-0")
    selected = wait_for(lambda: highlighted_rows(plot_state(driver, "view-0")), message="a selection")
    assert 2 <= len(selected) < subjects
    return selected


CINE_FRAME = "return document.querySelector(arguments[0] + ' .js-plotly-plot')._fullLayout.sliders[0].active;"
ANNOTATION_BOXES = """
return Array.from(document.querySelectorAll(arguments[0] + ' .js-plotly-plot .annotation')).map(a => {
    const box = a.getBoundingClientRect();
    return {text: a.textContent, left: box.left, right: box.right, top: box.top, bottom: box.bottom};
});
"""


def _frames_seen(driver, graph_id: str, seconds: float) -> list[int]:
    frames, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        frames.append(driver.execute_script(CINE_FRAME, f"#{graph_id}"))
        time.sleep(0.1)
    return frames


def _cine_loops_until_paused(driver, graph_id: str) -> None:
    """Play runs past the last frame back to the first (more than one cycle), and Pause holds the frame."""
    buttons = driver.find_elements(By.CSS_SELECTOR, f"#{graph_id} .updatemenu-button")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", buttons[0])
    buttons[0].click()
    seen: list[int] = []

    def wrapped_round() -> bool:
        seen.append(driver.execute_script(CINE_FRAME, f"#{graph_id}"))
        return len(seen) > 1 and seen[-1] < max(seen[:-1]) - 5  # back near the start after a later frame

    # Headless Chromium draws heatmaps in software, so a cycle takes longer here than its RR interval.
    wait_for(wrapped_round, timeout=90, interval=0.3, message="the cine wrapping round to its first frames")
    buttons[1].click()
    time.sleep(0.5)
    held = _frames_seen(driver, graph_id, 1.0)
    assert len(set(held)) == 1, f"the cine kept playing after Pause: {held}"


# Hover the rhythm strip's 101st sample (0.2 s at 500 Hz) of the original ECG, as the mouse would; its hover text.
RHYTHM_HOVER = """
const graph = document.querySelector('#decoder-ecg .js-plotly-plot');
const trace = graph.data.findIndex((t) => (t.hovertemplate || '').startsWith('II (rhythm) · original'));
Plotly.Fx.hover(graph, [{curveNumber: trace, pointNumber: 100}]);
const text = Array.from(document.querySelectorAll('#decoder-ecg .hovertext')).map((e) => e.textContent).join(' | ');
return {x: graph.data[trace].x || null, mv: graph._fullData[trace].customdata[100], text: text};
"""


def test_a_box_selection_is_decoded_in_both_modalities_and_cross_modally(driver, app_url, trained_cohort_dir):
    driver.get(app_url)
    selected = _box_select(driver)

    _tab(driver, "Decode")
    wait_for(lambda: (badge := driver.find_element(By.ID, "decoder-device").text).startswith("Decoding on ") and "…" not in badge,
             message="the device badge, filled in once the tab is open")
    ecg = wait_for(lambda: _with(driver, "decoder-ecg", lambda s: {"original", PLACED_BEAT_LABEL} <= set(s["names"])), timeout=90,
                   message="the 10 s ECG on paper")
    assert ecg["types"].count("scatter") == 2 * 13 + 1  # 12 leads and the rhythm strip, each original and decoded, and the calibration pulses
    assert {a.split("</b>")[0].removeprefix("<b>") for a in ecg["annotations"]} >= {"I", "aVR", "V1", "V6", "II (rhythm)"}
    assert any(a.startswith("25 mm/s · 10 mm/mV") for a in ecg["annotations"])
    # Times go as a start and a step (no array per lead): hover still names each sample's time and its lead's own mV.
    _scroll_to(driver, "decoder-ecg")
    hovered = driver.execute_script(RHYTHM_HOVER)
    assert hovered["x"] is None and hovered["text"] == f"II (rhythm) · original0.200 s · {hovered['mv']:.2f} mV", hovered
    median = wait_for(lambda: _with(driver, "decoder-ecg-median", lambda s: {"original", "decoded"} <= set(s["names"])), message="the median beat")
    assert "median beat" in median["title"] and sum("µV" in a for a in median["annotations"]) == 12
    mri = wait_for(lambda: _with(driver, "decoder-mri", lambda s: s["types"] == ["heatmap", "heatmap"]), message="decoded cine drawn")
    assert mri["frames"] == 50 and "ms a frame · loops until paused" in mri["subtitle"]
    wait_for(lambda: plot_state(driver, "decoder-agreement"), message="the agreement figure drawn")
    for graph_id in ("decoder-ecg", "decoder-ecg-median", "decoder-mri", "decoder-agreement"):  # drawn once, not again by automargin
        assert pushed_margins(driver, graph_id) == [], f"{graph_id}: its labels or controls overflow its margins"
    shown = [label.text for label in driver.find_elements(By.CSS_SELECTOR, "#decoder-shown label")]
    selected_ids = set(load_cohort(trained_cohort_dir).subject_ids[sorted(selected)])
    assert len(shown) == 2 and set(shown) <= selected_ids, "the two subjects nearest the selection's centre are decoded"
    assert shown[0] in ecg["title"]
    assert "on CPU in" in driver.find_element(By.ID, "decoder-subject-status").text
    table = driver.find_element(By.ID, "decoder-subject-table").text
    assert "ECG r" in table and "RMSE" in table and "LV area curve r" in table
    _scroll_to(driver, "decoder-ecg")
    _shot(driver, "decoder-subjects-strip")
    # On a laptop the sheet is narrower than its height was sized for, and the squares stay square, so it ends above its
    # figure's bottom: the paper-speed note follows the sheet, not the figure (it sat 90 px lower, past blank space).
    driver.set_window_size(1366, 1300)
    try:
        wait_for(lambda: _boxes(driver, "decoder-ecg", (".main-svg",))[0]["width"] < 1100, message="the sheet redrawn narrower")
        sheet_bottom = _boxes(driver, "decoder-ecg", (".bglayer .bg",))[0]["bottom"]
        note = next(a for a in driver.execute_script(ANNOTATION_BOXES, "#decoder-ecg") if a["text"].startswith("25 mm/s"))
        assert 0 <= note["top"] - sheet_bottom <= 12, (note, sheet_bottom)
    finally:
        driver.set_window_size(1500, 1300)
    _scroll_to(driver, "decoder-ecg-median")
    _shot(driver, "decoder-subjects-median")
    _cine_loops_until_paused(driver, "decoder-mri")
    _scroll_to(driver, "decoder-mri")
    _shot(driver, "decoder-subjects-cine")

    ecg_only = driver.find_element(By.XPATH, "//label[normalize-space()='ECG only' and @for]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", ecg_only)
    ecg_only.click()
    cross = wait_for(lambda: _with(driver, "decoder-mri", lambda s: any("cross-modal" in a for a in s["annotations"])), timeout=60,
                     message="the MRI decoded from the ECG")
    assert any("ECG latent" in a for a in cross["annotations"])
    _scroll_to(driver, "decoder-mri")
    _shot(driver, "decoder-cross-modal")
    assert severe_console_errors(driver) == []


def test_prototypes_perturbation_and_interpolation_are_drawn(driver, app_url):
    driver.get(app_url)
    _box_select(driver)
    _tab(driver, "Decode")
    _tab(driver, "Cohort prototypes")
    proto = wait_for(lambda: _with(driver, "decoder-proto-ecg", lambda s: any((n or "").startswith("A: mean") for n in s["names"])), timeout=90,
                     message="prototypes drawn")
    assert any((n or "").startswith("B: mean of everyone else") for n in proto["names"])
    assert any(" − B: mean of everyone else" in (n or "") for n in proto["names"])  # the difference trace, A − B
    cine = wait_for(lambda: _with(driver, "decoder-proto-mri", lambda s: s["types"] == ["heatmap"] * 3), message="A, B and A − B cines")
    assert " − B: mean" in cine["annotations"][2].replace("<br>", " ")
    # The long cohort names wrap within their panels instead of running into each other (the figure's title comes first).
    panel_titles = driver.execute_script(ANNOTATION_BOXES, "#decoder-proto-mri")[:3]
    for left, right in zip(panel_titles, panel_titles[1:]):
        assert left["right"] <= right["left"] or left["bottom"] <= right["top"], panel_titles
    changed = wait_for(lambda: (text := driver.find_element(By.ID, "decoder-proto-table").text) and "Atrial fibrillation" in text and text,
                       message="what changed and the predictions on the prototypes")
    assert "QRS duration (ms)" in changed and "A − B" in changed and "B − A" not in changed
    title, legend, sheet = _boxes(driver, "decoder-proto-ecg", (".gtitle", ".legend", ".bglayer .bg"))
    assert legend["height"] > 30  # the long cohort names wrap onto a second row in this column...
    assert title["bottom"] <= legend["top"] and legend["bottom"] <= sheet["top"]  # ...under the title, pushing the sheet down
    _shot(driver, "decoder-prototypes")
    _scroll_to(driver, "decoder-proto-mri")
    _shot(driver, "decoder-prototypes-cine")

    _tab(driver, "Perturb")
    wait_for(lambda: _with(driver, "decoder-perturb-ecg", lambda s: "perturbed" in s["names"]), timeout=90, message="perturbation drawn")
    assert driver.find_element(By.ID, "decoder-perturb-start").text == "Prototype A (prototypes tab)"  # what is decoded is what is shown
    direction = driver.find_element(By.ID, "decoder-direction")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", direction)
    direction.click()
    wait_for(lambda: next((o for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option") if "Atrial fibrillation" in o.text), None),
             timeout=30, message="the atrial fibrillation direction").click()
    amount = driver.find_element(By.CSS_SELECTOR, "#decoder-direction-amount [role='slider']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", amount)
    amount.send_keys(Keys.END)  # +3 SD along the AF predictor
    towards_af = wait_for(lambda: _with(driver, "decoder-perturb-ecg", lambda s: "+3 SD" in s["title"]), timeout=60, message="+3 SD towards AF")
    assert any((n or "").startswith("perturbed − start") for n in towards_af["names"])
    moved_rows = wait_for(lambda: [line for line in driver.find_element(By.ID, "decoder-perturb-table").text.splitlines()
                                   if line.startswith("Atrial fibrillation") and "+" in line], message="the AF prediction moved")
    assert moved_rows
    _shot(driver, "decoder-perturb-af")
    driver.find_element(By.ID, "decoder-perturb-reset").click()
    thumb = driver.find_element(By.CSS_SELECTOR, "#decoder-pc-0 [role='slider']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", thumb)
    thumb.send_keys(Keys.END)  # to the slider's end: +3 SD along the first principal component
    moved = wait_for(lambda: _with(driver, "decoder-perturb-ecg", lambda s: "PC 1 +3 SD" in s["title"]), timeout=60, message="PC 1 moved by 3 SD")
    assert "perturbed" in moved["names"]
    wait_for(lambda: "↑" in driver.find_element(By.ID, "decoder-perturb-table").text or "↓" in driver.find_element(By.ID, "decoder-perturb-table").text,
             message="predictions change")
    _shot(driver, "decoder-perturb")

    _tab(driver, "Interpolate")
    strip = wait_for(lambda: _with(driver, "decoder-interp-strip", lambda s: s["types"].count("heatmap") == 15), timeout=90, message="strip drawn")
    assert "From mean of current cohort" in strip["title"]
    assert [driver.find_element(By.ID, end).text for end in ("decoder-interp-from", "decoder-interp-to")] == [
        "Prototype A (prototypes tab)", "Prototype B (prototypes tab)"]
    assert "press Decode again" in driver.find_element(By.ID, "decoder-interp-run-help").text
    steps = driver.find_element(By.CSS_SELECTOR, "#decoder-interp-steps [role='slider']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", steps)
    steps.send_keys(Keys.END)  # nine steps
    wait_for(lambda: _with(driver, "decoder-interp-strip", lambda s: s["types"].count("heatmap") == 27), timeout=90, message="nine steps drawn")
    titles = [box for box in driver.execute_script(ANNOTATION_BOXES, "#decoder-interp-strip") if "%" in box["text"]]
    titles.sort(key=lambda box: box["left"])
    assert len(titles) == 9
    for left, right in zip(titles, titles[1:]):
        assert left["right"] <= right["left"], f"column titles overlap: {left['text']!r} and {right['text']!r}"
    figure_title = driver.execute_script("return document.querySelector('#decoder-interp-strip .gtitle').getBoundingClientRect().bottom;")
    assert figure_title <= min(box["top"] for box in titles), "the figure's title runs into the column titles"
    change = wait_for(lambda: (text := driver.find_element(By.ID, "decoder-interp-change").text) and "QRS duration" in text and text,
                      message="what changed along the path")
    assert "A − B" in change
    wait_for(lambda: _with(driver, "decoder-interp-predictions", lambda s: len(s["types"]) >= 4), message="predictions along the path")
    _shot(driver, "decoder-interpolate")
    assert severe_console_errors(driver) == []
