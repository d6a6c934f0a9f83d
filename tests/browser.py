"""Helpers for browser tests: start the real server, drive headless Chromium, read Plotly's state."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.panels.tab_panes import LOADING_CLASS
from tests.serving import REPO_ROOT, free_port, wait_until_serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# --enable-unsafe-swiftshader: with --disable-gpu, WebGL (every Plotly scattergl view) runs on SwiftShader; Chromium
# deprecated falling back to it silently and warns on every page, so the tests opt in (they load only this app's pages).
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--enable-unsafe-swiftshader",
                "--window-size=1500,1000")

requires_chromium = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


requires_redis = pytest.mark.skipif(not shutil.which("redis-server"), reason="Debian's redis-server is not installed (.ci/run installs it)")


def scale_out_commands(port: int, redis_port: int, workdir: Path, web_workers: int = 2) -> list[list[str]]:
    """The README's scale-out recipe on loopback ports: Redis, a Celery worker per lane, gunicorn with gthread workers (in start order)."""
    return [
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "", "--appendonly", "no"],
        [sys.executable, "-m", "celery", "-A", "app.wsgi:celery_app", "worker", "--queues", "quick", "--concurrency", "2",
         "--hostname", "quick@%h", "--loglevel", "INFO"],
        ["nice", "-n", "10", sys.executable, "-m", "celery", "-A", "app.wsgi:celery_app", "worker", "--queues", "heavy", "--concurrency", "1",
         "--hostname", "heavy@%h", "--loglevel", "INFO"],
        [sys.executable, "-m", "gunicorn", "--workers", str(web_workers), "--worker-class", "gthread", "--threads", "8",
         "--timeout", "120", "--graceful-timeout", "20", "--bind", f"127.0.0.1:{port}", "app.wsgi:server"],
    ]


@contextmanager
def running_scaled_out(cohort_dir: Path, workdir: Path, web_workers: int = 2, timeout: float = 180) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """Redis + Celery workers (quick and heavy lanes) + gunicorn serving ``cohort_dir``; yield the URL and the processes; stop them all afterwards.

    Their output is in ``workdir / "server.log"``.
    """
    port, redis_port = free_port(), free_port()
    environment = {**os.environ, "LSE_CACHE_DIR": str(workdir / "cache"), "LSE_COHORT": str(cohort_dir),
                   "LSE_CELERY_BROKER": f"redis://127.0.0.1:{redis_port}/0", "LSE_DEVICE": "cpu",
                   "LSE_AUTH": "off"}  # the recipe's workers ask for sign-in by default; these tests drive the app, not the sign-in
    log = open(workdir / "server.log", "w")  # noqa: SIM115 - closed below, after the servers stop
    processes = [subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True)
                 for command in scale_out_commands(port, redis_port, workdir, web_workers)]
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, processes, timeout, workdir / "server.log")
        yield url, processes
    finally:
        # One at a time, the reverse of the start order: gunicorn, then Celery, then Redis. Stopping Redis while
        # a web worker still listens for job results made that worker log a connection traceback.
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, 15)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        log.close()


def chrome(logs: tuple[str, ...] = ("browser",)):
    """Headless Chromium keeping the given logs (``performance`` holds the CDP network events)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", dict.fromkeys(logs, "ALL"))
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_for(predicate, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    """Poll ``predicate`` until it returns something true; an element React replaced mid-read counts as "not yet"."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)


def open_tab(driver, label: str, timeout: float = 30) -> None:
    """Click a main tab, as a user does, and wait for its panel (fetched the first time it is opened: app.panels.tab_panes)."""
    from selenium.common.exceptions import ElementClickInterceptedException
    from selenium.webdriver.common.by import By

    tab = wait_for(lambda: next((a for a in driver.find_elements(By.CSS_SELECTOR, "#main-tabs a") if a.text == label), None), message=f"the {label} tab")

    def clicked() -> bool:  # the page may still move under the tab (a summary growing a line as a selection lands): scroll and try again
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", tab)
        try:
            tab.click()
        except ElementClickInterceptedException:
            return False
        return True

    wait_for(clicked, message=f"the {label} tab clicked")
    wait_for(lambda: driver.execute_script(
        f"const pane = document.querySelector('.tab-pane.active'); return Boolean(pane) && !pane.querySelector('.{LOADING_CLASS}');"),
        timeout=timeout, message=f"the {label} panel")


PLOT_STATE = """
const graph = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!graph || !graph.data || !graph._fullData) { return null; }
// gd.data keeps the base64 arrays as sent; _fullData holds them decoded.
return graph.data.map((trace, index) => {
    const full = graph._fullData[index] || {};
    const count = full.x ? full.x.length : 0;
    // Explorer views: one trace per colour code (assets/explorer.js), each point's row in customdata;
    // the highlight is in the code (faded ones >= 128).
    const explorer = trace.meta && trace.meta.highlight !== undefined;
    let selected = trace.selectedpoints === undefined || trace.selectedpoints === null ? null : Array.from(trace.selectedpoints);
    if (explorer) {
        selected = trace.meta.highlight ? (trace.meta.code < 128 ? Array.from({ length: count }, (_, i) => i) : []) : null;
    }
    return {
        type: trace.type,
        rows: full.customdata ? Array.from(full.customdata) : [],
        selected: selected,
        typed: Boolean(trace.x && (trace.x.bdata || ArrayBuffer.isView(trace.x))),
        hovertext: Boolean(full.hovertext && full.hovertext.length),
    };
});
"""


def plot_state(driver, graph_id: str) -> list[dict] | None:
    """Each trace's type, row ids (customdata) and highlighted positions, read from the page."""
    return driver.execute_script(PLOT_STATE, f"#{graph_id}")


MARGINS = """
const full = document.querySelector(arguments[0] + ' .js-plotly-plot')._fullLayout;
return ['l', 'r', 't', 'b'].filter((side) => full._size[side] > full.margin[side]);
"""


def pushed_margins(driver, graph_id: str) -> list[str]:
    """The sides whose drawn margin is wider than the figure's own: Plotly's automargin grew them, drawing the figure twice."""
    return driver.execute_script(MARGINS, f"#{graph_id}")


def drawn_points(driver, graph_id: str, subjects: int) -> list[dict] | None:
    """A view's traces once they hold all ``subjects`` points; None until then."""
    traces = plot_state(driver, graph_id)
    return traces if traces and sum(len(t["rows"]) for t in traces) == subjects else None


def wait_until_drawn(driver, graph_ids: tuple[str, ...], subjects: int) -> None:
    for graph_id in graph_ids:
        wait_for(lambda g=graph_id: drawn_points(driver, g, subjects), message=f"{graph_id} drawn")


def highlighted_rows(traces: list[dict]) -> set[int] | None:
    """Row ids drawn as selected across all traces (None when nothing is selected)."""
    if all(trace["selected"] is None for trace in traces):
        return None
    return {trace["rows"][position] for trace in traces for position in (trace["selected"] or [])}


def box_select_middle(driver, graph_id: str) -> None:
    """Pick the plot's box-select tool and drag a box over the middle of its plot area, as a user would."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f'#{graph_id} .modebar-btn[data-val="select"]').click()
    plot_area = driver.find_element(By.CSS_SELECTOR, f"#{graph_id} .nsewdrag")
    width, height = plot_area.size["width"], plot_area.size["height"]
    ActionChains(driver).move_to_element_with_offset(plot_area, -width // 3, -height // 3).click_and_hold().move_by_offset(
        width // 2, height // 2).release().perform()


# A subject's point in a view, in pixels from the graph's top-left corner, and the graph's size.
POINT_PIXEL = """
const graph = document.querySelector(arguments[0] + ' .js-plotly-plot');
const layout = graph._fullLayout, trace = graph._fullData.find((t) => Array.from(t.customdata).includes(arguments[1]));
const at = Array.from(trace.customdata).indexOf(arguments[1]);
return [layout.xaxis.l2p(trace.x[at]) + layout.margin.l, layout.yaxis.l2p(trace.y[at]) + layout.margin.t,
        graph.offsetWidth, graph.offsetHeight];
"""


def hover_point(driver, graph_id: str, row: int) -> None:
    """Move the mouse onto one subject's point, as a user would."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    x, y, width, height = driver.execute_script(POINT_PIXEL, f"#{graph_id}", row)
    graph = driver.find_element(By.CSS_SELECTOR, f"#{graph_id} .js-plotly-plot")
    ActionChains(driver).move_to_element_with_offset(graph, int(x - width / 2), int(y - height / 2)).perform()


def current_count(driver) -> int | None:
    """The size of the current cohort from the sidebar's badge ("2,011 of 5,000"), None before it is drawn."""
    from selenium.webdriver.common.by import By

    text = driver.find_element(By.ID, "current-count").text
    return int(text.split(" of ")[0].replace(",", "")) if " of " in text else None


def severe_console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


SCROLL_INTO_VIEW = "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});"


def choose_dropdown_option(driver, dropdown_id: str, text: str, timeout: float = 10) -> None:
    """Open a Dash 4 dropdown and click the option whose label is ``text``."""
    from selenium.webdriver.common.by import By

    dropdown = wait_for(lambda: driver.find_elements(By.ID, dropdown_id), timeout=timeout, message=f"the dropdown {dropdown_id}")[0]
    driver.execute_script(SCROLL_INTO_VIEW, dropdown)
    dropdown.click()
    option = wait_for(lambda: next((o for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option") if o.text == text), None),
                      timeout=timeout, message=f"the option {text!r} of {dropdown_id}")
    driver.execute_script(SCROLL_INTO_VIEW, option)  # a long list opened low on the page reaches below the window
    option.click()


# The pictures of the explorer's views (app/figures/preview.py), shown until Plotly has drawn each view.
PICTURES = """
return Array.from(document.querySelectorAll('.view-preview')).map((cover) => {
    const picture = cover.querySelector('img');
    const box = picture.getBoundingClientRect();
    return { view: cover.dataset.view, query: cover.dataset.query, hidden: cover.hidden,
             shown: !cover.hidden && getComputedStyle(cover).visibility === 'visible' && picture.complete && picture.naturalWidth > 0,
             box: [box.left, box.top, box.width, box.height] };
});
"""
PLOT_AREA = "const r = document.querySelector(arguments[0] + ' .nsewdrag').getBoundingClientRect(); return [r.left, r.top, r.width, r.height];"
UNHIDDEN_PICTURE_BOX = """
const cover = document.querySelector('.view-preview[data-view="' + arguments[0] + '"]');
cover.hidden = false;
const r = cover.querySelector('img').getBoundingClientRect();
cover.hidden = true;
return [r.left, r.top, r.width, r.height];
"""


def with_callbacks_blocked(driver, url: str) -> None:
    """Open ``url`` with every callback request refused: the page's layout and nothing the server draws afterwards."""
    from selenium.webdriver.common.by import By

    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*_dash-update-component*"]})
    driver.get(url)
    wait_for(lambda: driver.find_elements(By.ID, "view-0"), message="the layout")


AXES = "const l = document.querySelector(arguments[0] + ' .js-plotly-plot')._fullLayout; return [[l.xaxis.range, l.xaxis._length], [l.yaxis.range, l.yaxis._length]];"
