"""End to end in headless Chromium: points drawn, linked selection, a cohort saved and kept."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser import box_select_middle, choose_dropdown_option, highlighted_rows, plot_state, requires_chromium, running_app, severe_console_errors, wait_for
from tests.conftest import PHENOTYPE_COHORT_SUBJECTS

pytestmark = [pytest.mark.browser, requires_chromium]
SUBJECTS = PHENOTYPE_COHORT_SUBJECTS



@pytest.fixture(scope="module")
def app_url(phenotype_cohort_dir, tmp_path_factory):
    with running_app(phenotype_cohort_dir, tmp_path_factory.mktemp("explorer-cache")) as url:
        yield url


def _drawn(driver, graph_id):
    traces = plot_state(driver, graph_id)
    return traces if traces and sum(len(t["rows"]) for t in traces) == SUBJECTS else None


def test_page_loads_with_every_subject_drawn_in_webgl(driver, app_url, tmp_path):
    driver.get(app_url)
    for graph_id in ("view-0", "view-1", "view-2"):
        traces = wait_for(lambda g=graph_id: _drawn(driver, g), message=f"{graph_id} drawn")
        assert all(trace["type"] == "scattergl" for trace in traces)
        assert sorted(row for trace in traces for row in trace["rows"]) == list(range(SUBJECTS))
    driver.save_screenshot(str(tmp_path / "explorer.png"))
    assert severe_console_errors(driver) == []


def test_box_selection_in_one_view_highlights_the_same_subjects_in_the_others(driver, app_url):
    driver.get(app_url)
    for graph_id in ("view-0", "view-1", "view-2"):
        wait_for(lambda g=graph_id: _drawn(driver, g), message=f"{graph_id} drawn")
    box_select_middle(driver, "view-0")
    selected = wait_for(lambda: highlighted_rows(plot_state(driver, "view-0")), message="a selection in view 1")
    assert 0 < len(selected) < SUBJECTS
    for other in ("view-1", "view-2"):
        linked = wait_for(lambda o=other: highlighted_rows(plot_state(driver, o)) == selected or None, message=f"{other} to follow")
        assert linked
    summary = driver.find_element(By.ID, "selection-summary").text
    assert f"{len(selected):,} of {SUBJECTS:,} subjects highlighted" in summary
    assert severe_console_errors(driver) == []


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
    wait_for(lambda: _umap_drawn(driver), timeout=120, message="the UMAP drawn once computed")
    assert severe_console_errors(driver) == []


def _umap_drawn(driver) -> bool:
    title = driver.execute_script("const g = document.querySelector('#view-1 .js-plotly-plot'); return g && g.layout.title ? g.layout.title.text : null;")
    return bool(title and "UMAP" in title and _drawn(driver, "view-1"))
