"""End to end in headless Chromium: the view lives in the address bar (reload, a shared link, back/forward) and a subject is found by id."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser import (
    box_select_middle,
    choose_dropdown_option,
    chrome,
    highlighted_rows,
    plot_state,
    requires_chromium,
    severe_console_errors,
    wait_for,
    wait_until_drawn,
)
from tests.conftest import PHENOTYPE_COHORT_SUBJECTS, SMALL_COHORT_SUBJECTS
from tests.serving import running_app

pytestmark = [pytest.mark.browser, requires_chromium]
SUBJECTS = PHENOTYPE_COHORT_SUBJECTS
VIEWS = ("view-0", "view-1", "view-2")
FOUND = "SYN000042"


@pytest.fixture(scope="module")
def app_url(phenotype_cohort_dir, tmp_path_factory):
    with running_app(phenotype_cohort_dir, tmp_path_factory.mktemp("links-cache")) as url:
        yield url


@pytest.fixture
def screenshots(tmp_path_factory):
    return tmp_path_factory.mktemp("link-screenshots")


def _title(driver, graph_id: str) -> str | None:
    return driver.execute_script("const g = document.querySelector(arguments[0] + ' .js-plotly-plot');"
                                 "return g && g.layout && g.layout.title ? g.layout.title.text : null;", f"#{graph_id}")


def _marked(driver, graph_id: str) -> list[str]:
    """The subjects a view points out (its found-subject labels)."""
    return driver.execute_script("const g = document.querySelector(arguments[0] + ' .js-plotly-plot');"
                                 "return g && g.layout ? (g.layout.annotations || []).filter(a => a.name === 'found-subject').map(a => a.text) : [];",
                                 f"#{graph_id}") or []


def _count(driver) -> int | None:
    text = driver.find_element(By.ID, "current-count").text
    return int(text.split(" of ")[0].replace(",", "")) if " of " in text else None


def _query(driver) -> dict[str, list[str]]:
    return parse_qs(urlsplit(driver.current_url).query, keep_blank_values=True)


def _legend(driver) -> str:
    return driver.find_element(By.ID, "colour-legend").text


def _active_tab(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#main-tabs .nav-link.active").text


def _clicked(driver, element_id: str) -> bool:
    try:
        driver.find_element(By.ID, element_id).click()
    except (NoSuchElementException, StaleElementReferenceException):
        return False
    return True


def _find_subject(driver, typed: str, subject: str) -> list[str]:
    """Type into the navbar's search box and pick ``subject`` among the suggestions; return the suggestions shown."""
    wait_for(lambda: _clicked(driver, "subject-search"), message="the search box")  # re-rendered while a callback that sets it runs
    box = wait_for(lambda: next((e for e in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-search") if e.is_displayed()), None),
                   message="the search box's text field")
    box.send_keys(typed)
    options = wait_for(lambda: (found := driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")) and any(o.text == subject for o in found)
                       and found, message=f"{subject} suggested")
    suggested = [option.text for option in options]
    next(option for option in options if option.text == subject).click()
    return suggested


OUTLINES = """
const g = document.querySelector(arguments[0] + ' .js-plotly-plot');
return g && g._fullLayout ? (g._fullLayout.shapes || []).filter((s) => s.name === 'selection').length : null;
"""


def _view_as_shown(driver) -> dict:
    """What a colleague would compare: tab, view titles, legend, cohort size, highlighted subjects, marked subject."""
    wait_until_drawn(driver, VIEWS, SUBJECTS)
    return {
        "tab": _active_tab(driver),
        "titles": [_title(driver, graph_id) for graph_id in VIEWS],
        "legend": _legend(driver),
        "count": _count(driver),
        "highlighted": [highlighted_rows(plot_state(driver, graph_id)) for graph_id in VIEWS],
        "marked": [_marked(driver, graph_id) for graph_id in VIEWS],
        "age_from": [box.get_attribute("value") for box in driver.find_elements(By.CSS_SELECTOR, ".filter-block .filter-low input")],
        "outlines": [driver.execute_script(OUTLINES, f"#{graph_id}") for graph_id in VIEWS],
    }


def _wait_for_view(driver, expected: dict) -> None:
    wait_for(lambda: _view_as_shown(driver) == expected, timeout=30, message=f"the view {expected}")


def test_a_reload_and_a_link_opened_in_another_browser_show_the_same_view(driver, app_url, screenshots):
    driver.get(app_url)
    wait_until_drawn(driver, VIEWS, SUBJECTS)
    assert urlsplit(driver.current_url).query == ""  # the default view needs no link
    choose_dropdown_option(driver, "colour-by", "Clinical · Sex")
    wait_for(lambda: "female" in _legend(driver), message="coloured by sex")
    choose_dropdown_option(driver, "view-0-space", "ECG only")
    wait_for(lambda: (_title(driver, "view-0") or "").startswith("ECG only"), message="view 1 in the ECG space")
    choose_dropdown_option(driver, "add-filter", "Clinical · Age (years)")
    box = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".filter-block .filter-low input"), message="the age box")[0]
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("60", Keys.TAB)
    wait_for(lambda: (n := _count(driver)) is not None and n < SUBJECTS, message="the age filter applied")
    choose_dropdown_option(driver, "clinical-x", "BMI (kg/m²)")
    wait_for(lambda: (_title(driver, "view-2") or "").startswith("BMI vs"), message="the clinical view plots BMI")
    box_select_middle(driver, "view-2")
    wait_for(lambda: highlighted_rows(plot_state(driver, "view-1")) is not None, message="the box selection in every view")
    _find_subject(driver, "syn00004", FOUND)
    wait_for(lambda: all(_marked(driver, graph_id) == [FOUND] for graph_id in VIEWS), message="the subject marked in every view")

    query = wait_for(lambda: (q := _query(driver)).get("subject") == [FOUND] and q, message="the subject in the address")
    assert query["colour"] == ["sex"] and query["view1"] == ["ecg:pca"] and query["filter"] == ["age_years:60~"]
    assert '"kind":"clinical"' in query["selection"][0] and len(driver.current_url) < 600  # the box's corners, not its points
    assert query["clinical"] == ["bmi_kg_m2:lv_mass_g"]
    shown = _view_as_shown(driver)
    assert shown["titles"][0].startswith("ECG only") and "female" in shown["legend"] and shown["age_from"] == ["60"]
    assert shown["titles"][2].startswith("BMI vs") and shown["outlines"] == [0, 0, 1]  # the box stays outlined where it was drawn
    assert 0 < len(shown["highlighted"][0]) == shown["count"] < SUBJECTS  # filters and box together
    driver.save_screenshot(str(screenshots / "before-reload.png"))

    link = driver.current_url
    driver.refresh()
    _wait_for_view(driver, shown)
    assert driver.current_url == link
    driver.save_screenshot(str(screenshots / "after-reload.png"))
    assert severe_console_errors(driver) == []

    colleague = chrome()
    try:
        colleague.get(link)
        _wait_for_view(colleague, shown)
        colleague.save_screenshot(str(screenshots / "colleague.png"))
        assert severe_console_errors(colleague) == []
    finally:
        colleague.quit()


def test_back_and_forward_return_to_earlier_views(driver, app_url):
    driver.get(app_url)
    wait_until_drawn(driver, VIEWS, SUBJECTS)
    entries = driver.execute_script("return history.length;")
    choose_dropdown_option(driver, "colour-by", "Clinical · Sex")
    wait_for(lambda: _query(driver).get("colour") == ["sex"], message="the colour in the address")
    choose_dropdown_option(driver, "view-1-space", "Joint (ECG + MRI)")
    wait_for(lambda: _query(driver).get("view2") == ["joint:pca"], message="view 2's space in the address")
    wait_for(lambda: (_title(driver, "view-1") or "").startswith("Joint"), message="view 2 in the joint space")
    assert driver.execute_script("return history.length;") == entries + 2  # one entry per change

    driver.back()
    wait_for(lambda: (_title(driver, "view-1") or "").startswith("ECG only"), message="back: view 2 in the ECG space again")
    assert "female" in _legend(driver)
    driver.back()
    wait_for(lambda: "Atrial fibrillation" in _legend(driver), message="back: the default colour again")
    assert urlsplit(driver.current_url).query == ""
    driver.forward()
    wait_for(lambda: "female" in _legend(driver), message="forward: coloured by sex again")
    assert (_title(driver, "view-1") or "").startswith("ECG only")
    driver.forward()
    wait_for(lambda: (_title(driver, "view-1") or "").startswith("Joint"), message="forward: view 2 in the joint space again")
    assert driver.execute_script("return history.length;") == entries + 2  # restoring pushed no entries of its own
    assert severe_console_errors(driver) == []


def test_a_tampered_link_is_refused_part_by_part_and_the_rest_of_the_view_opens(driver, app_url, screenshots):
    link = f"{app_url}/?tab=explore&view1=secret:pca&colour=sex&filter=age_years:old~&filter=sex=female&cohort=987&debug=1"
    driver.get(link)
    banner = wait_for(lambda: next((alert.text for alert in driver.find_elements(By.ID, "input-refused") if alert.is_displayed()), None),
                      message="the refusal")
    assert "Parts of this link were not applied" in banner and "The rest of the view is shown" in banner
    for refused in ("space 'secret'", "must be numbers", "saved cohort 987", "unknown part 'debug'"):
        assert refused in banner
    wait_until_drawn(driver, VIEWS, SUBJECTS)
    wait_for(lambda: "female" in _legend(driver), message="the valid colour applied")
    women = wait_for(lambda: (n := _count(driver)) is not None and n < SUBJECTS and n, message="the valid filter applied")
    assert 0 < women < SUBJECTS and (_title(driver, "view-0") or "").startswith("Joint")
    assert driver.current_url == link  # the refused parts stay visible in the address until the view changes
    driver.save_screenshot(str(screenshots / "tampered.png"))
    assert severe_console_errors(driver) == []


def test_a_subject_found_by_id_is_marked_in_every_view_and_decode_says_why_it_cannot_open(driver, app_url, screenshots):
    driver.get(app_url)
    wait_until_drawn(driver, VIEWS, SUBJECTS)
    suggested = _find_subject(driver, "syn00004", FOUND)
    assert sorted(suggested) == [f"SYN00004{digit}" for digit in range(10)]  # ten at most: the ids that start with what was typed
    for graph_id in VIEWS:
        wait_for(lambda g=graph_id: _marked(driver, g) == [FOUND], message=f"{FOUND} marked in {graph_id}")
    driver.save_screenshot(str(screenshots / "found.png"))
    # This cohort has no arrays to decode: Open in Decode stays disabled and says why (its Decode tab shows that alone).
    button = driver.find_element(By.ID, "open-in-decode")
    wait_for(lambda: "no ECG or MRI arrays" in (button.get_attribute("title") or ""), message="the reason on the button")
    assert not button.is_enabled()
    assert severe_console_errors(driver) == []


def test_a_subject_found_by_id_opens_in_decode(driver, trained_cohort_dir, tmp_path):
    with running_app(trained_cohort_dir, tmp_path) as url:
        driver.get(url)
        wait_until_drawn(driver, VIEWS, SMALL_COHORT_SUBJECTS)
        found = "SYN000042"
        _find_subject(driver, "syn000042", found)
        wait_for(lambda: (button := driver.find_element(By.ID, "open-in-decode")).is_enabled() and button, message="Open in Decode enabled").click()
        wait_for(lambda: _active_tab(driver) == "Decode", message="the Decode tab")
        wait_for(lambda: found in driver.find_element(By.ID, "decoder-subjects").text, message=f"{found} chosen in Decode")
        assert _query(driver).get("tab") == ["decoder"]
        assert severe_console_errors(driver) == []
