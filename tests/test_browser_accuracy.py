"""End to end in headless Chromium: highlight a saved cohort, open the Accuracy tab, read metrics with intervals for it and the rest."""

from __future__ import annotations

import re

import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app.cohort_store import CohortStore
from app.core.cohort_algebra import CohortDefinition
from app.core.filters import RangeFilter
from app.core.metrics import MIN_SUBJECTS
from data_loaders import load_cohort
from models.predictors import BINARY_TASKS
from tests.browser import SCROLL_INTO_VIEW, choose_dropdown_option, plot_state, pushed_margins, requires_chromium, severe_console_errors, wait_for
from tests.serving import REPO_ROOT, running_app

pytestmark = [pytest.mark.browser, requires_chromium]
SCREENSHOTS = REPO_ROOT / "screenshots"
COHORT_NAME = "Older half of the test split"
ESTIMATE_OVER_INTERVAL = re.compile(r"^[+−-]?\d+\.\d+\n[+−-]?\d+\.\d+ to [+−-]?\d+\.\d+$")


def _older_half(cohort_dir) -> tuple[RangeFilter, int, int, int]:
    """An age filter splitting the test split in two halves big enough to judge; (filter, cohort size, its test subjects, the rest's)."""
    phenotypes = load_cohort(cohort_dir).phenotypes
    test = phenotypes["split"].astype(str).eq("test").to_numpy()
    assert test.sum() >= 2 * MIN_SUBJECTS, "the trained small cohort's test split is too small for this test"
    older = RangeFilter("age_years", float(np.median(phenotypes["age_years"].to_numpy()[test])), None)
    inside = older.mask(phenotypes)
    return older, int(inside.sum()), int((inside & test).sum()), int((~inside & test).sum())


def _balanced_binary_task_label(cohort_dir) -> str:
    """The dropdown label of the binary outcome whose test split has the most subjects in its rarer class."""
    cohort = load_cohort(cohort_dir)
    test = cohort.phenotypes["split"].astype(str).eq("test").to_numpy()
    binary = [name for name in BINARY_TASKS if name in cohort.phenotypes]
    def rarer_class(name: str) -> float:
        cases = cohort.phenotypes[name].to_numpy(dtype=float)[test].sum()
        return min(cases, test.sum() - cases)
    return f"{cohort.variables[max(binary, key=rarer_class)].label} (yes/no)"


@pytest.fixture(scope="module")
def app_url(trained_cohort_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("accuracy-cache")
    older, *_ = _older_half(trained_cohort_dir)
    CohortStore(cache / "cohorts.sqlite", dataset=str(trained_cohort_dir.resolve())).save(COHORT_NAME, CohortDefinition(filters=(older.to_dict(),)))
    with running_app(trained_cohort_dir, cache) as url:
        yield url


METRIC_TABLE = """
return Array.from(document.querySelectorAll('#accuracy-metric-table tr'))
    .map(row => Array.from(row.querySelectorAll('th, td')).map(cell => cell.innerText.trim()));
"""


def _metric_table(driver) -> list[list[str]]:
    """The metrics table's cells as text, read in one script so that a re-render cannot change it half-way."""
    return driver.execute_script(METRIC_TABLE)


def test_metrics_with_intervals_for_a_highlighted_cohort_and_its_complement(driver, app_url, trained_cohort_dir):
    _, size, in_test, rest = _older_half(trained_cohort_dir)
    driver.get(app_url)
    choose_dropdown_option(driver, "manage-cohort", COHORT_NAME)
    driver.find_element(By.ID, "apply-cohort").click()
    wait_for(lambda: driver.find_element(By.ID, "current-count").text.startswith(f"{size:,} of"), message="the saved cohort highlighted")
    next(tab for tab in driver.find_elements(By.CSS_SELECTOR, "#main-tabs .nav-link") if tab.text == "Accuracy").click()
    choose_dropdown_option(driver, "accuracy-task", "LV mass (g)")
    table = wait_for(lambda: (rows := _metric_table(driver)) and "MAE (g)" in str(rows) and rows, message="the LV mass metrics")
    header = table[0]
    assert header[1].startswith("Current cohort") and f"n = {in_test}" in header[1]
    assert header[2].startswith("Everyone else") and f"n = {rest}" in header[2]
    assert header[3].startswith("Everyone") and f"n = {in_test + rest}" in header[3]
    assert [row[0] for row in table[1:]] == ["R²", "MAE (g)", "RMSE (g)", "Bias (predicted − true) (g)"]
    for row in table[1:]:
        for cell in row[1:]:
            assert ESTIMATE_OVER_INTERVAL.match(cell), f"{row[0]}: {cell!r} is not an estimate over its interval"
    assert wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#accuracy-agreement .js-plotly-plot"), message="the agreement plots")
    subgroups = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#accuracy-subgroup-table tbody tr"), message="the subgroup table")
    assert subgroups[0].text.startswith("Everyone (all test subjects)")
    SCREENSHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "accuracy-browser-test.png"))
    # The table is one component; its headers' sort buttons are plain buttons, by mouse or by keyboard.
    sizes = lambda: [int(row.split("\t")[1].replace(",", "")) for row in driver.execute_script(SUBGROUP_ROWS)[1:]]  # noqa: E731
    button = driver.find_element(By.CSS_SELECTOR, "#accuracy-subgroup-table button.accuracy-sort[data-column='n']")
    driver.execute_script(SCROLL_INTO_VIEW, button)
    button.click()
    wait_for(lambda: "n ▼" in driver.find_element(By.CSS_SELECTOR, "#accuracy-subgroup-table thead").text, message="sorted by n")
    assert len(sizes()) >= 2 and sizes() == sorted(sizes(), reverse=True)  # largest first; everyone stays on top
    button = driver.find_element(By.CSS_SELECTOR, "#accuracy-subgroup-table button.accuracy-sort[data-column='n']")
    driver.execute_script("arguments[0].focus()", button)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait_for(lambda: "n ▲" in driver.find_element(By.CSS_SELECTOR, "#accuracy-subgroup-table thead").text, message="the order flipped with Enter")
    assert sizes() == sorted(sizes()) and driver.execute_script(SUBGROUP_ROWS)[0].startswith("Everyone (all test subjects)")
    assert severe_console_errors(driver) == []


SUBGROUP_ROWS = "return Array.from(document.querySelectorAll('#accuracy-subgroup-table tbody tr')).map(row => row.innerText);"  # one read, no stale rows
ELEMENT_BOX = "const box = document.getElementById(arguments[0]).getBoundingClientRect(); return {width: box.width, height: box.height};"


def test_threshold_typed_prevalence_auroc_differences_and_the_space_breakdown_follow_the_chosen_cohort(driver, app_url, trained_cohort_dir):
    _, _, in_test, _ = _older_half(trained_cohort_dir)
    driver.set_window_size(1600, 1200)
    driver.get(app_url)
    wait_for(lambda: next((tab for tab in driver.find_elements(By.CSS_SELECTOR, "#main-tabs .nav-link") if tab.text == "Accuracy"), None),
             timeout=60, message="the Accuracy tab").click()
    wait_for(lambda: "AUROC" in str(_metric_table(driver)), message="the atrial fibrillation metrics")
    # The small cohort's test split has too few AF cases for a DeLong interval: judge its most balanced outcome instead.
    choose_dropdown_option(driver, "accuracy-task", _balanced_binary_task_label(trained_cohort_dir))
    wait_for(lambda: "AUROC" in str(_metric_table(driver)), message="the balanced outcome's metrics")
    for graph_id in ("accuracy-curves", "accuracy-calibration", "accuracy-confusion"):
        wait_for(lambda g=graph_id: plot_state(driver, g), message=f"{graph_id} drawn")
        assert pushed_margins(driver, graph_id) == [], f"{graph_id}: its labels overflow its margins, so Plotly draws it twice"
    page = driver.execute_script("return document.getElementById('accuracy-panel').getBoundingClientRect().width;")
    block = driver.execute_script(ELEMENT_BOX, "accuracy-threshold-block")
    label = driver.execute_script(ELEMENT_BOX, "accuracy-threshold-label")
    assert block["width"] >= 0.95 * page and label["height"] < 30, f"threshold control {block}, label {label}, page {page}"
    slider = driver.execute_script("return document.querySelector('#accuracy-threshold').getBoundingClientRect().width;")
    assert slider >= 0.6 * page

    typed = driver.find_element(By.ID, "accuracy-threshold-value")
    typed.clear()
    typed.send_keys("0.2\n")
    wait_for(lambda: "at ≥ 0.200" in str(_metric_table(driver)), message="metrics at the typed threshold")
    assert driver.execute_script("return document.querySelector('#accuracy-threshold [role=slider]').getAttribute('aria-valuenow');") == "0.2"

    table = _metric_table(driver)
    assert all(re.search(r"cases \(\d+\.\d%\)", cell) for cell in table[0][1:] if "n = 0" not in cell), f"prevalence missing from {table[0]}"
    flagged = [row[0] for row in table if "moves with prevalence" in row[0]]
    assert [row.split("\n")[0] for row in flagged] == ["PPV at ≥ 0.200", "NPV at ≥ 0.200", "Brier score"]
    differences = wait_for(lambda: driver.find_elements(By.ID, "accuracy-auroc-differences"), message="AUROC differences")[0].text
    assert "(paired DeLong)" in differences and "95% CI" in differences

    choose_dropdown_option(driver, "accuracy-cohort", f"Saved: {COHORT_NAME}")
    choose_dropdown_option(driver, "accuracy-breakdown", "Latent space: the chosen cohort and everyone else")
    rows = wait_for(lambda: [text for text in driver.execute_script(SUBGROUP_ROWS) if f"Saved: {COHORT_NAME}" in text] or None,
                    message="the space breakdown of the saved cohort")
    spaces = len(load_cohort(trained_cohort_dir).spaces)  # the model's three and the raw-signal baseline
    assert len(rows) == spaces == 4 and not any("no test subjects" in r for r in rows)
    assert all(f"{in_test:,}" in r for r in rows)  # each space scored on the saved cohort's test subjects
    header = driver.find_element(By.CSS_SELECTOR, "#accuracy-subgroup-table thead").text
    assert "Prevalence" in header
    assert "move with the share of cases" in driver.find_element(By.ID, "accuracy-prevalence-note").text
    driver.execute_script("document.getElementById('accuracy-threshold-block').scrollIntoView({block: 'start', behavior: 'instant'});")
    SCREENSHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "accuracy-threshold-and-metrics.png"))
    driver.execute_script("document.getElementById('accuracy-subgroup-table').scrollIntoView({block: 'start', behavior: 'instant'});")
    driver.save_screenshot(str(SCREENSHOTS / "accuracy-space-breakdown.png"))
    assert severe_console_errors(driver) == []
