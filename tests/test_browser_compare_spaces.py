"""End to end in headless Chromium: the Compare-spaces tab draws the overlap map and shows a subject's neighbourhoods."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.browser import chrome, plot_state, requires_chromium, running_app, severe_console_errors, wait_for
from tests.conftest import PHENOTYPE_COHORT_SUBJECTS

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


def test_the_panel_draws_every_subject_and_selecting_one_shows_its_neighbourhood_in_both_spaces(driver, app_url):
    subjects = _open_panel(driver, app_url)
    assert subjects["type"] == "scattergl" and sorted(subjects["rows"]) == list(range(PHENOTYPE_COHORT_SUBJECTS))
    assert "nearest neighbours" in driver.find_element(By.ID, "cs-summary").text
    SCREENSHOTS.mkdir(exist_ok=True)
    first_row = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#cs-most-changed tr.cs-row"), message="the most-changed list")[0]
    subject_id = first_row.find_elements(By.TAG_NAME, "td")[0].text
    first_row.click()
    title = wait_for(lambda: driver.find_element(By.ID, "cs-subject-title").text or None, message="the subject's neighbourhood")
    assert title.startswith(subject_id) and "keeps" in title
    multiples = wait_for(lambda: plot_state(driver, "cs-neighbourhood"), message="the small multiples")
    assert {trace["type"] for trace in multiples} == {"scatter"}  # SVG subplots, no extra WebGL context
    assert driver.execute_script("return document.querySelectorAll('#cs-neighbourhood .subplot').length") >= 2
    wait_for(lambda: driver.find_element(By.ID, "current-count").text.startswith("1 of"), message="the shared selection to follow")
    highlighted = wait_for(lambda: (plot_state(driver, "cs-map") or [{}])[0].get("selected"), message="the subject highlighted on the map")
    assert len(highlighted) == 1
    driver.save_screenshot(str(SCREENSHOTS / "compare-spaces-subject.png"))
    assert severe_console_errors(driver) == []


def test_play_moves_every_subject_from_a_layout_to_b(driver, app_url):
    _open_panel(driver, app_url)
    first_x = driver.execute_script("return Array.from(document.querySelector('#cs-map .js-plotly-plot')._fullData[0].x).slice(0, 5)")
    driver.find_element(By.CSS_SELECTOR, "#cs-map .updatemenu-button").click()
    last = wait_for(lambda: driver.execute_script(
        "const g = document.querySelector('#cs-map .js-plotly-plot'); return g._fullLayout.sliders[0].active === g._transitionData._frames.length - 1"
        " ? Array.from(g._fullData[0].x).slice(0, 5) : null;"), timeout=30, message="the animation to reach B's layout")
    assert last != first_x  # the points moved
    driver.save_screenshot(str(SCREENSHOTS / "compare-spaces-animated.png"))
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
