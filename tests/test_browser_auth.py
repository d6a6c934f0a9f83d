"""Sign-in in the browser: the login page, then the explorer drawn under the CSP with no console errors."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from app.auth.users import UserStore
from tests.browser import chrome, plot_state, requires_chromium, severe_console_errors, wait_for
from tests.serving import running_app

pytestmark = [pytest.mark.browser, requires_chromium]
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def driver():
    browser = chrome()
    yield browser
    browser.quit()


def test_signing_in_with_a_password_opens_the_explorer_with_every_plot_drawn(driver, phenotype_cohort_dir, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    UserStore(cache / "cohorts.sqlite").add("clinician", PASSWORD)
    with running_app(phenotype_cohort_dir, cache, extra_args=("--auth", "password")) as url:
        driver.get(url)
        wait_for(lambda: driver.find_elements(By.ID, "login-submit"), message="the login page")
        driver.find_element(By.ID, "username").send_keys("clinician")
        driver.find_element(By.ID, "password").send_keys("not the password")
        driver.find_element(By.ID, "login-submit").click()
        assert "Wrong user name or password" in wait_for(lambda: driver.find_elements(By.ID, "login-error"), message="a refusal")[0].text
        driver.find_element(By.ID, "username").send_keys("clinician")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login-submit").click()
        for graph_id in ("view-0", "view-1"):
            traces = wait_for(lambda g=graph_id: plot_state(driver, g), timeout=60, message=f"{graph_id} drawn")
            assert sum(len(trace["rows"]) for trace in traces) > 0
        # Plotly's WebGL renderer (regl) compiles shaders with new Function: a CSP without 'unsafe-eval'
        # leaves a grey "WebGL is not supported" overlay over every scattergl view.
        assert driver.find_elements(By.CSS_SELECTOR, ".no-webgl") == []
        driver.save_screenshot(str(tmp_path / "signed-in.png"))
        errors = [e for e in severe_console_errors(driver) if "401" not in e]  # the wrong password's 401 page is logged
        assert errors == [], errors
