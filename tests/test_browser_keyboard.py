"""End to end in headless Chromium: the tabs by keyboard, cohort names as typed, buttons that look as enabled as they are.

dbc.Tabs gave every tab tabindex="-1" and one shared id (assets/tabs.js says why and mends it); an 80-character
name with no space ran out of the sidebar over the views, and a right-to-left override in a name reversed the text
after it; Flatly's pale secondary grey made enabled buttons look disabled (assets/style.css).
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app.panels.tab_panes import LOADING_CLASS
from tests.browser import SCROLL_INTO_VIEW, open_tab, plot_state, requires_chromium, severe_console_errors, wait_for
from tests.serving import running_app

pytestmark = [pytest.mark.browser, requires_chromium]
LONG_NAME = "A" * 80  # the name box's limit, no space to wrap at
RIGHT_TO_LEFT_NAME = "חולי לב (2024)"  # Hebrew: a right-to-left name takes neutral characters after it along unless isolated


@pytest.fixture(scope="module")
def app_url(phenotype_cohort_dir, tmp_path_factory):
    with running_app(phenotype_cohort_dir, tmp_path_factory.mktemp("keyboard-cache")) as url:
        yield url


def _ready(driver, app_url: str) -> None:
    driver.get(app_url)
    wait_for(lambda: plot_state(driver, "view-0"), message="the explorer drawn")


def _press(driver, key: str) -> None:
    ActionChains(driver).send_keys(key).perform()


FOCUSED_TAB = """
const tab = document.activeElement;
if (!tab || tab.getAttribute('role') !== 'tab') { return null; }
const pane = document.getElementById(tab.getAttribute('aria-controls'));
return {label: tab.textContent, selected: tab.getAttribute('aria-selected'), tabindex: tab.getAttribute('tabindex'),
        paneShown: Boolean(pane) && pane.classList.contains('active') && pane.getBoundingClientRect().height > 0,
        paneLoaded: Boolean(pane) && !pane.querySelector('.' + arguments[0]) && pane.textContent.trim().length > 0};
"""

# The sidebar's last control in the tab order: the one a user tabs on from to reach the tabs.
FOCUS_LAST_IN_SIDEBAR = """
const reachable = Array.from(document.querySelectorAll('#sidebar button, #sidebar input, #sidebar a[href], #sidebar [tabindex]'))
    .filter((element) => element.tabIndex >= 0 && !element.disabled && element.getClientRects().length > 0);
reachable[reachable.length - 1].focus();
return document.activeElement.id;
"""


def _focused_tab(driver, label: str) -> dict:
    """The focused tab once it is ``label``'s, its panel shown and loaded."""
    return wait_for(lambda: (tab := driver.execute_script(FOCUSED_TAB, LOADING_CLASS)) and tab["label"] == label and tab["paneLoaded"] and tab,
                    message=f"the {label} tab focused and its panel shown")


def test_tab_reaches_the_active_tab_and_arrow_keys_open_the_next_one(driver, app_url, tmp_path):
    """The WAI-ARIA tabs pattern: one Tab press from the sidebar lands on the open tab; Left/Right (Home/End) move along
    the row and open the tab they reach. Every tab had tabindex="-1", so Tab skipped them all, and arrows did nothing."""
    _ready(driver, app_url)
    assert driver.execute_script(FOCUS_LAST_IN_SIDEBAR)
    _press(driver, Keys.TAB)
    explore = _focused_tab(driver, "Explore")
    assert explore == {"label": "Explore", "selected": "true", "tabindex": "0", "paneShown": True, "paneLoaded": True}

    _press(driver, Keys.ARROW_RIGHT)
    compare = _focused_tab(driver, "Compare cohorts")  # opened, as a click does: its panel fetched and shown
    assert compare["selected"] == "true" and compare["tabindex"] == "0" and compare["paneShown"]
    assert "Group A" in driver.find_element(By.CSS_SELECTOR, "#main-tabs + .tab-content > .tab-pane.active").text
    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(str(tmp_path / "focused-tab.png"))
    tabindexes = driver.execute_script("return Array.from(document.querySelectorAll('#main-tabs [role=tab]')).map((tab) => tab.getAttribute('tabindex'));")
    assert tabindexes.count("0") == 1  # only the open tab is in the page's tab order

    _press(driver, Keys.ARROW_LEFT)
    _focused_tab(driver, "Explore")
    _press(driver, Keys.END)
    _focused_tab(driver, "Variables")
    _press(driver, Keys.HOME)
    _focused_tab(driver, "Explore")
    _press(driver, Keys.ARROW_LEFT)  # wraps round to the last
    _focused_tab(driver, "Variables")
    assert severe_console_errors(driver) == []


TAB_WIRING = """
return Array.from(document.querySelectorAll('[role=tablist]')).map((list) => ({
    list: list.id,
    tabs: Array.from(list.querySelectorAll('[role=tab]')).map((tab) => {
        const pane = document.getElementById(tab.getAttribute('aria-controls'));
        return {label: tab.textContent, id: tab.id, tabindex: tab.getAttribute('tabindex'), selected: tab.getAttribute('aria-selected'),
                paneRole: pane && pane.getAttribute('role'), paneLabelledBy: pane && pane.getAttribute('aria-labelledby'),
                paneActive: Boolean(pane) && pane.classList.contains('active')};
    }),
}));
"""


def test_every_tab_has_its_own_id_and_controls_its_own_panel(driver, app_url):
    """Each tab's id is unique and its aria-controls names its own panel, which names it back (aria-labelledby); the main
    tabs and the Decode panel's own tabs alike. All of them were "…-tab-null" controlling "…-tabpane-null"."""
    _ready(driver, app_url)
    open_tab(driver, "Decode")  # its inner tabs arrive with the panel
    lists = wait_for(lambda: (found := driver.execute_script(TAB_WIRING)) and {"main-tabs", "decoder-tabs"} <= {f["list"] for f in found} and found,
                     message="the main tabs and the Decode panel's tabs")
    ids = [tab["id"] for found in lists for tab in found["tabs"]]
    assert len(ids) == len(set(ids)) and all(ids), ids
    assert driver.execute_script("return arguments[0].map((id) => document.querySelectorAll(`[id='${id}']`).length);", ids) == [1] * len(ids)
    for found in lists:
        for tab in found["tabs"]:
            assert tab["paneRole"] == "tabpanel" and tab["paneLabelledBy"] == tab["id"], (found["list"], tab)
            assert tab["paneActive"] == (tab["selected"] == "true"), (found["list"], tab)
        assert [tab["tabindex"] for tab in found["tabs"]].count("0") == 1, found
        assert [tab["selected"] for tab in found["tabs"]].count("true") == 1, found
    main = next(found for found in lists if found["list"] == "main-tabs")
    decode = next(tab for tab in main["tabs"] if tab["label"] == "Decode")
    assert decode["selected"] == "true" and decode["tabindex"] == "0"


def _save_cohort(driver, name: str) -> None:
    box = driver.find_element(By.ID, "cohort-name")
    box.clear()
    box.send_keys(name)
    driver.find_element(By.ID, "save-cohort").click()
    wait_for(lambda: driver.find_element(By.ID, "save-feedback").text.startswith("Saved"), message=f"{name!r} saved")
    wait_for(lambda: driver.execute_script(NAME_IN_LIST, name), message=f"{name!r} listed")


# The element of the saved-cohort list whose own text is the name.
NAME_IN_LIST = """
return Array.from(document.querySelectorAll('#saved-cohort-list .saved-cohort *')).find((e) => e.children.length === 0 && e.textContent === arguments[0]) || null;
"""

# Every element of the sidebar (and of an open dropdown menu) that reaches past the sidebar's left or right edge.
OUTSIDE_SIDEBAR = """
const sidebar = document.getElementById('sidebar').getBoundingClientRect();
return Array.from(document.querySelectorAll('#sidebar *, .dash-dropdown-content *')).filter((e) => {
    const box = e.getBoundingClientRect();
    return box.width > 0 && (box.left < sidebar.left - 0.5 || box.right > sidebar.right + 0.5);
}).map((e) => `${e.tagName}.${e.className}: ${e.textContent.slice(0, 20)} [${Math.round(e.getBoundingClientRect().left)}, ${Math.round(e.getBoundingClientRect().right)}]`
       + ` outside [${Math.round(sidebar.left)}, ${Math.round(sidebar.right)}]`);
"""


def _open_saved_cohorts_dropdown(driver) -> None:
    dropdown = driver.find_element(By.ID, "manage-cohort")
    driver.execute_script(SCROLL_INTO_VIEW, dropdown)
    dropdown.click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-content .dash-dropdown-option"), message="the saved cohorts' menu")


def _option(driver, name: str):
    return next((o for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option") if o.text.replace("\n", "") == name), None)


def test_a_long_cohort_name_wraps_inside_the_sidebar(driver, app_url, tmp_path):
    """80 characters without a space: listed, offered in the dropdown and chosen there, it wraps inside the sidebar
    (it ran 550 px out of it, over the views)."""
    _ready(driver, app_url)
    _save_cohort(driver, LONG_NAME)
    assert driver.execute_script(OUTSIDE_SIDEBAR) == []
    name = driver.execute_script(NAME_IN_LIST, LONG_NAME)
    assert name.size["height"] > 2 * driver.find_element(By.ID, "current-count").size["height"]  # wrapped onto several lines

    _open_saved_cohorts_dropdown(driver)
    assert driver.execute_script(OUTSIDE_SIDEBAR) == []
    driver.save_screenshot(str(tmp_path / "long-name-menu.png"))
    wait_for(lambda: _option(driver, LONG_NAME), message="the long name offered").click()
    wait_for(lambda: LONG_NAME in driver.find_element(By.ID, "manage-cohort").text.replace("\n", ""), message="the long name chosen")
    assert driver.execute_script(OUTSIDE_SIDEBAR) == []
    driver.save_screenshot(str(tmp_path / "long-name-sidebar.png"))
    assert severe_console_errors(driver) == []


UNICODE_BIDI = "return getComputedStyle(arguments[0]).unicodeBidi;"


def test_a_right_to_left_cohort_name_stays_inside_the_name_and_an_override_is_refused(driver, app_url):
    """Where a name is shown (the saved-cohort list, a dropdown's options and its chosen value) it is bidi-isolated: a
    right-to-left name reorders nothing after it. A text-direction override ("RTL \u202eevil" listed as "RTL live") is
    refused when saved (app.cohort_store), so it reaches no message either."""
    _ready(driver, app_url)
    driver.find_element(By.ID, "cohort-name").send_keys("RTL \u202eevil")
    driver.find_element(By.ID, "save-cohort").click()
    wait_for(lambda: "cannot hold control or text-direction characters (found U+202E)" in driver.find_element(By.ID, "save-feedback").text,
             message="the override refused")
    _save_cohort(driver, RIGHT_TO_LEFT_NAME)
    assert driver.execute_script(UNICODE_BIDI, driver.execute_script(NAME_IN_LIST, RIGHT_TO_LEFT_NAME)) == "isolate"

    _open_saved_cohorts_dropdown(driver)
    option = wait_for(lambda: _option(driver, RIGHT_TO_LEFT_NAME), message="the name offered")
    label = option.find_element(By.CSS_SELECTOR, ".dash-options-list-option-text > *")
    assert label.text == RIGHT_TO_LEFT_NAME and driver.execute_script(UNICODE_BIDI, label) == "isolate"
    option.click()
    chosen = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#manage-cohort .dash-dropdown-value-item"), message="the name chosen")[0]
    assert chosen.text == RIGHT_TO_LEFT_NAME and driver.execute_script(UNICODE_BIDI, chosen) == "isolate"
    assert severe_console_errors(driver) == []


# Contrast (WCAG 2.x) of a button's text and border against what is behind it, after its opacity.
BUTTON_CONTRAST = """
const button = document.getElementById(arguments[0]);
const rgba = (text) => { const [r, g, b, a] = text.match(/[\\d.]+/g).map(Number); return [r, g, b, a === undefined ? 1 : a]; };
const over = (top, bottom, alpha) => top.slice(0, 3).map((c, i) => c * alpha + bottom[i] * (1 - alpha));
let behind = [255, 255, 255];
for (let e = button.parentElement; e; e = e.parentElement) {
    const colour = rgba(getComputedStyle(e).backgroundColor);
    if (colour[3] > 0) { behind = colour.slice(0, 3); break; }
}
const style = getComputedStyle(button), opacity = Number(style.opacity);
const face = over(rgba(style.backgroundColor), behind, rgba(style.backgroundColor)[3]);
const shown = (colour) => over(over(rgba(colour), face, rgba(colour)[3]), behind, opacity);
const luminance = (rgb) => rgb.map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
const contrast = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const background = over(face, behind, opacity);
return {text: contrast(shown(style.color), background), border: contrast(shown(style.borderTopColor), behind), opacity: opacity};
"""


def test_enabled_secondary_buttons_look_enabled_and_disabled_ones_do_not(driver, app_url):
    """Clear selection, Highlight, Export CSV and Rename are enabled: their text reaches 4.5:1 and their border 3:1 (WCAG
    AA) against what is behind them. They were Flatly's pale grey, 2.6:1, as if disabled. A disabled one stays faint."""
    _ready(driver, app_url)
    for button in ("clear-selection", "apply-cohort", "export-cohort", "rename-cohort"):
        assert driver.find_element(By.ID, button).is_enabled()
        contrast = driver.execute_script(BUTTON_CONTRAST, button)
        assert contrast["text"] >= 4.5 and contrast["border"] >= 3, (button, contrast)
    driver.execute_script("document.getElementById('rename-cohort').disabled = true;")  # drawn as a disabled one is
    try:  # once Bootstrap's colour transition (0.15 s) is over
        wait_for(lambda: (faint := driver.execute_script(BUTTON_CONTRAST, "rename-cohort"))["opacity"] < 1 and faint["text"] < 3 and faint["border"] < 3,
                 timeout=5, message="the disabled button faint")
    finally:
        driver.execute_script("document.getElementById('rename-cohort').disabled = false;")


SLIDER_NAMES = """
const slider = document.getElementById(arguments[0]);
return slider && Array.from(slider.querySelectorAll('[role="slider"], input')).map((part) => part.getAttribute('aria-label'));
"""


def test_a_slider_and_its_number_box_are_named_by_their_label(driver, app_url):
    """dcc.Slider takes no aria-label: a screen reader said "slider, 20" for Compare spaces' k (assets/slider_labels.js)."""
    _ready(driver, app_url)
    open_tab(driver, "Compare spaces")
    for slider_id, label in (("cs-k", "Neighbours k"), ("cs-trail-threshold", "Draw trails for subjects keeping less than")):
        names = wait_for(lambda s=slider_id: (found := driver.execute_script(SLIDER_NAMES, s)) and all(found) and found, message=f"{slider_id} named")
        assert names == [label, label]  # the number box, then the thumb
