"""End to end in headless Chromium: clusters found in the background, listed with what sets them apart, coloured in
the explorer, and turned into the selection or a saved cohort with one click."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser import choose_dropdown_option, current_count, open_tab, plot_state, requires_chromium, severe_console_errors, wait_for
from tests.conftest import PHENOTYPE_COHORT_SUBJECTS
from tests.serving import running_app

pytestmark = [pytest.mark.browser, requires_chromium]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


@pytest.fixture(scope="module")
def app_url(phenotype_cohort_dir, tmp_path_factory):
    with running_app(phenotype_cohort_dir, tmp_path_factory.mktemp("clusters-cache")) as url:
        yield url


def _find_clusters(driver, k: int) -> list:
    open_tab(driver, "Clusters")
    box = wait_for(lambda: driver.find_element(By.ID, "cluster-k"), message="the k box")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(k))
    wait_for(lambda: (button := driver.find_element(By.ID, "cluster-run")).is_enabled() and button, message="Find clusters ready").click()
    return wait_for(lambda: len(items := driver.find_elements(By.CSS_SELECTOR, "#cluster-items .cluster-item")) == k and items,
                    timeout=60, message=f"{k} clusters listed")


def _size(item) -> int:
    return int(item.find_element(By.CSS_SELECTOR, ".text-muted").text.split("·")[1].split("subjects")[0].replace(",", ""))


def test_clusters_are_listed_coloured_in_the_explorer_and_one_click_selects_one(driver, app_url):
    driver.get(app_url)
    wait_for(lambda: plot_state(driver, "view-0"), message="the explorer drawn")
    items = _find_clusters(driver, 3)
    sizes = [_size(item) for item in items]
    assert sum(sizes) == PHENOTYPE_COHORT_SUBJECTS and sizes == sorted(sizes, reverse=True)
    descriptions = [item.find_element(By.CSS_SELECTOR, ".cluster-description").text for item in items]
    assert all(descriptions), descriptions
    assert "found on the 8-dimensional latent vectors" in driver.find_element(By.ID, "cluster-summary").text
    SCREENSHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "clusters-list.png"))

    items[1].find_element(By.XPATH, ".//button[text()='Select']").click()
    wait_for(lambda: current_count(driver) == sizes[1], message="cluster 2 as the selection")

    open_tab(driver, "Explore")
    choose_dropdown_option(driver, "colour-by", "Clusters (found in the Clusters tab)")
    wait_for(lambda: "Cluster 3 (" in driver.find_element(By.ID, "colour-legend").text, message="the clusters in the legend")
    codes = wait_for(lambda: (found := [code for code, count in driver.execute_script(
        "return document.querySelector('#view-0 .js-plotly-plot')._fullData.map((t) => [t.meta.code, t.x.length])") for _ in range(count)])
        and len(set(c % 128 for c in found)) == 3 and found, message="three cluster colours in the latent view")
    highlighted = [code for code in codes if code < 128]
    assert len(highlighted) == sizes[1] and len(set(highlighted)) == 1  # the selected cluster lit, in one colour
    driver.save_screenshot(str(SCREENSHOTS / "clusters-explorer.png"))
    assert severe_console_errors(driver) == []


def test_a_cluster_is_saved_as_a_cohort_with_one_click(driver, app_url):
    driver.get(app_url)
    wait_for(lambda: plot_state(driver, "view-0"), message="the explorer drawn")
    items = _find_clusters(driver, 2)  # the cache answers at once the second time round, or computes in the background
    size = _size(items[0])
    items[0].find_element(By.XPATH, ".//button[text()='Save as cohort']").click()
    feedback = wait_for(lambda: driver.find_element(By.ID, "cluster-feedback").text or None, message="the saved cohort")
    assert feedback.startswith("Saved") and f"({size:,} subjects)" in feedback
    wait_for(lambda: "Ward, k = 2: cluster 1" in driver.find_element(By.ID, "saved-cohort-list").text, message="the cohort listed")
    assert severe_console_errors(driver) == []
