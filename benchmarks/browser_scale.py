"""The explorer at scale in headless Chromium: seconds, bytes down/up and server RSS per user action.

    .venv/bin/python -m benchmarks.browser_scale --subjects 100000 1000000 --cache /tmp/bench-scale [--density-threshold N] [--loads 3]

Builds (or reuses, under ``--cache``) a cohort per size as ``benchmarks.explorer_callbacks`` does,
serves it with ``python -m app``, and drives Chromium through: first load (every view drawn), a
colour change, a box selection, clearing it, adding a filter and changing it, and each tab. Bytes down are the encoded
sizes of every response (Chrome's performance log, CDP Network events); bytes up are the bodies
of the page's requests (counted by a wrapper around ``fetch``). An action is done when every view
shows its result (every point, or a density of every subject above the app's density threshold)
and no request is in flight; it is timed from the user's last input (the end of the drag, the click), and a
first load from the navigation's start (so the page, its scripts and its layout count). A first load has two times:
"first paint", when every view first shows every subject (the explorer's layout carries a picture of each view,
app/figures/preview.py, until Plotly has drawn it), and "first load", when every view is drawn and nothing is in
flight. ``--loads`` first loads are timed, each in a fresh browser, and their medians printed too. The same loads and a box selection are then timed on
a plain Dash page (three Scattergl figures with hover strings, the selection sent as Plotly's
``selectedData``) with the same points, and the ratios printed (of the median for loads).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from benchmarks.explorer_callbacks import build_cohort
from benchmarks.process_tree import tree_rss_kib
from tests.browser import box_select_middle, chrome
from tests.serving import free_port, running_app

INSTRUMENT = """
if (!window.__bench) {
    window.__bench = { inflight: 0, up: 0, pictured: null };
    const send = window.fetch;
    window.fetch = function (url, options) {
        window.__bench.inflight += 1;
        if (options && typeof options.body === 'string') { window.__bench.up += options.body.length; }
        return send.apply(this, arguments).finally(() => { window.__bench.inflight -= 1; });
    };
    // The frame in which all three views' pictures (app/figures/preview.py) are on screen, decoded: checked before
    // each frame is painted, for the first minute.
    const pictured = () => {
        const shown = Array.from(document.querySelectorAll('.view-preview.shown:not([hidden]) img'));
        if (shown.length === 3 && shown.every((picture) => picture.complete && picture.naturalWidth > 0)) {
            window.__bench.pictured = performance.now();
        } else if (performance.now() < 60000) {
            requestAnimationFrame(pictured);
        }
    };
    requestAnimationFrame(pictured);
}
"""
VIEW_STATE = """
return ['view-0', 'view-1', 'view-2'].map((id) => {
    const g = document.querySelector('#' + id + ' .js-plotly-plot');
    if (!g || !g._fullData || !g._fullData.length) { return null; }
    const trace = g.data[0];
    // A density view (above the threshold) counts the subjects it bins; a point view its points.
    const density = Boolean(trace.meta && trace.meta.density !== undefined);
    const points = density ? trace.meta.density : g._fullData.reduce((total, t) => total + (t.x ? t.x.length : 0), 0);
    const highlight = trace.meta && trace.meta.highlight !== undefined ? trace.meta.highlight
        : g.data.some((t) => t.selectedpoints !== undefined && t.selectedpoints !== null);
    // The colours drawn: a point view is one trace per colour (assets/explorer.js); a density view has colour scales.
    const scale = JSON.stringify(g.data.map((t) => (t.marker && typeof t.marker.color === 'string' ? t.marker.color : null)
        || ((t.marker && t.marker.colorscale) || t.colorscale || []).slice(0, 2)));
    return { points: points, highlight: highlight, scale: scale, mode: density ? 'density' : 'points' };
});
"""
TIMEOUT_S = 600
SETTLE_CHECK_S = 0.05  # an action is done when its condition holds at two checks this far apart
BASELINE_GIVE_UP_S = 120  # the plain Dash page's box selection at 100,000 did not finish in 600 s: its ratio is then "more than"
BUILT = ".built-v2"  # the marker of a finished cohort; a new name when build_cohort changes what it writes


def chrome_with_network_log():
    driver = chrome(logs=("performance",))
    driver.set_script_timeout(TIMEOUT_S)
    driver.set_page_load_timeout(TIMEOUT_S)
    return driver


def bytes_down(driver) -> tuple[int, int]:
    """(all, callback responses only) encoded bytes finished since the last call (the log is drained)."""
    total = callbacks = 0
    urls = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls[message["params"]["requestId"]] = message["params"]["request"]["url"]
        elif message["method"] == "Network.loadingFinished":
            size = int(message["params"].get("encodedDataLength", 0))
            total += size
            callbacks += size if "_dash-update-component" in urls.get(message["params"]["requestId"], "") else 0
    return total, callbacks


def views(driver) -> list[dict | None]:
    return driver.execute_script(VIEW_STATE)


def settle(driver, done, timeout: float = TIMEOUT_S) -> float:
    """Seconds until ``done(views)`` holds with no request in flight (checked twice, ``SETTLE_CHECK_S`` apart)."""
    start = time.monotonic()
    quiet = 0
    while time.monotonic() - start < timeout:
        state = views(driver)
        idle = driver.execute_script("return window.__bench ? window.__bench.inflight : 1;") == 0
        quiet = quiet + 1 if idle and done(state) else 0
        if quiet == 2:
            return time.monotonic() - start - SETTLE_CHECK_S
        time.sleep(SETTLE_CHECK_S)
    raise TimeoutError("the action did not finish")


class Recorder:
    def __init__(self, driver, server_pid: int | None, label: str):
        self.driver, self.server_pid, self.label, self.rows = driver, server_pid, label, []

    def first_paint(self) -> None:
        """Add "first paint" for the first load just measured: when every view first showed every subject."""
        drawn = next(row[2] for row in self.rows if row[1] == "first load")
        seconds = load_times(self.driver, drawn).painted
        self.rows.append((self.label, "first paint", seconds, 0, 0, float("nan"), 0))
        print(f"{self.label:>22} {'first paint':<24} {seconds:>8.2f}", flush=True)

    def measure(self, action: str, act, done, give_up_after: float | None = None, from_navigation: bool = False) -> float:
        """Seconds from the end of ``act`` (the user's last input) until ``done``; with ``from_navigation``, from the
        page's navigation start instead (a load: the HTML, scripts and layout count too). With ``give_up_after``,
        an action still unfinished then counts as never (inf)."""
        bytes_down(self.driver)
        up_before = self.driver.execute_script("return window.__bench ? window.__bench.up : 0;") or 0
        act()
        try:
            seconds = settle(self.driver, done, give_up_after or TIMEOUT_S)
            if from_navigation:  # performance.now() counts from the navigation's start; less the settle's second, quiet check
                seconds = self.driver.execute_script("return performance.now();") / 1000 - SETTLE_CHECK_S
        except TimeoutError:
            if give_up_after is None:
                raise
            print(f"{self.label:>22} {action:<24} did not finish in {give_up_after:.0f} s", flush=True)
            self.rows.append((self.label, action, float("inf"), 0, 0, float("nan"), 0))
            return float("inf")
        up = (self.driver.execute_script("return window.__bench.up;") or 0) - up_before
        rss = tree_rss_kib(self.server_pid) / 2**20 if self.server_pid else float("nan")
        down, callbacks = bytes_down(self.driver)
        self.rows.append((self.label, action, seconds, down, up, rss, callbacks))
        print(f"{self.label:>22} {action:<24} {seconds:>8.2f} {down / 1e6:>10.2f} {callbacks / 1e6:>10.2f} {up / 1e3:>9.1f} {rss:>8.2f}", flush=True)
        return seconds


def load(driver, url: str) -> None:
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INSTRUMENT})
    driver.get(url)


class LoadTimes(NamedTuple):
    """A first load's seconds from the navigation's start."""

    painted: float  # every view shows every subject: the server's picture of it (app/figures/preview.py) or its points drawn
    drawn: float    # every view drawn by Plotly (hover, selection and zoom work), nothing in flight


def load_times(driver, drawn: float) -> LoadTimes:
    """The load just finished (``drawn`` seconds after its navigation started): when the views' pictures were on screen, if they were."""
    pictured = driver.execute_script("return window.__bench.pictured;")
    return LoadTimes(min(pictured / 1000, drawn) if pictured else drawn, drawn)


def cold_load(url: str, n: int) -> LoadTimes:
    """A first load in a fresh browser (nothing cached): until every view shows its ``n`` subjects, pictured and drawn."""
    driver = chrome_with_network_log()
    try:
        load(driver, url)
        settle(driver, all_drawn(n))
        return load_times(driver, driver.execute_script("return performance.now();") / 1000 - SETTLE_CHECK_S)
    finally:
        driver.quit()


def first_loads(record: Recorder, url: str, n: int, loads: int) -> None:
    """Time ``loads`` first loads in all, the one already in ``record`` and each other in a fresh browser (nothing cached), and
    add their medians as "first paint, median" and "first load, median" (what the ratios use): one load on this machine varies
    by a second between runs."""
    first = LoadTimes(*(next(row[2] for row in record.rows if row[1] == action) for action in ("first paint", "first load")))
    times = [first] + [cold_load(url, n) for _ in range(loads - 1)]
    for action, seconds in (("first paint", [t.painted for t in times]), ("first load", [t.drawn for t in times])):
        median = float(np.median(seconds))
        record.rows.append((record.label, f"{action}, median", median, 0, 0, float("nan"), 0))
        print(f"{record.label:>22} {action + ', median':<24} {median:>8.2f}   of {len(seconds)}: {', '.join(f'{x:.2f}' for x in sorted(seconds))}", flush=True)


def all_drawn(n: int):
    return lambda state: all(view is not None and view["points"] == n for view in state)


def choose_option(driver, dropdown_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, dropdown_id).click()
    driver.find_element(By.CSS_SELECTOR, f"#{dropdown_id} .dash-dropdown-search, .dash-dropdown-search").send_keys(text)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        options = [o for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option") if text in o.text]
        if options:
            driver.execute_script("arguments[0].click();", options[0])
            return
        time.sleep(0.1)
    raise TimeoutError(f"no option {text!r} in {dropdown_id}")


def run_explorer(cohort: Path, cache: Path, n: int, density_threshold: int | None = None, loads: int = 1) -> list[tuple]:
    from selenium.webdriver.common.by import By

    cache.mkdir(parents=True, exist_ok=True)
    environment = {"LSE_DENSITY_THRESHOLD": str(density_threshold)} if density_threshold else None
    with running_app(cohort, cache, timeout=TIMEOUT_S, extra_env=environment) as url:
        server_pid = serving_pid(url)
        driver = chrome_with_network_log()
        try:
            record = Recorder(driver, server_pid, f"explorer {n:,}")
            record.measure("first load", lambda: load(driver, url), all_drawn(n), from_navigation=True)
            record.first_paint()
            first_loads(record, url, n, loads)
            print(f"{'views drawn as':>22} {', '.join(view['mode'] for view in views(driver))}", flush=True)
            scales = [view["scale"] for view in views(driver)]
            record.measure("colour change", lambda: choose_option(driver, "colour-by", "LV mass"),
                           lambda state: all(view["scale"] != old for view, old in zip(state, scales)))
            record.measure("box selection", lambda: box_select_middle(driver, "view-0"),
                           lambda state: all(view["highlight"] for view in state))
            record.measure("clear selection", lambda: driver.find_element(By.ID, "clear-selection").click(),
                           lambda state: not any(view["highlight"] for view in state))
            record.measure("add filter (sex)", lambda: _add_sex_filter(driver), lambda state: True)
            record.measure("filter change (women)", lambda: _untick_men(driver), lambda state: all(view["highlight"] for view in state))
            for tab in ("Compare cohorts", "Decode", "Accuracy", "Compare spaces", "Variables", "Explore"):
                record.measure(f"tab {tab}", lambda t=tab: driver.find_element(By.LINK_TEXT, t).click(), lambda state: True)
            return record.rows
        finally:
            driver.quit()


def _add_sex_filter(driver) -> None:
    """Add a filter on sex from the filter menu; done when its tick boxes are on the page."""
    from selenium.webdriver.common.by import By

    choose_option(driver, "add-filter", "Sex")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if driver.find_elements(By.CSS_SELECTOR, "[id*='choice-filter'] input[value='male']"):
            return
        time.sleep(0.05)
    raise TimeoutError("the sex filter did not appear")


def _untick_men(driver) -> None:
    """The filter change itself: untick "male" in the sex filter."""
    from selenium.webdriver.common.by import By

    driver.execute_script("arguments[0].click();", driver.find_element(By.CSS_SELECTOR, "[id*='choice-filter'] input[value='male']"))


def serving_pid(url: str) -> int | None:
    """The process listening on the URL's port (the server itself, whose RSS counts), None until one listens."""
    port = url.rsplit(":", 1)[1]
    found = subprocess.run(["bash", "-c", f"ss -ltnp 'sport = :{port}' | grep -o 'pid=[0-9]*' | head -1"], capture_output=True, text=True)
    return int(found.stdout.strip()[4:]) if found.stdout.strip() else None


def serve_baseline(cohort: Path, port: int) -> None:
    """A plain Dash page: three Scattergl views of the same points, hover strings, selectedData to the server."""
    import dash
    import plotly.graph_objects as go
    from dash import Input, Output, dcc, html

    from data_loaders import load_cohort

    loaded = load_cohort(cohort)
    phenotypes = loaded.phenotypes
    latent = loaded.spaces["joint"][:, :4]
    views = [latent[:, :2], latent[:, 2:4], phenotypes[["age_years", "lv_mass_g"]].to_numpy(dtype=float)]
    af = phenotypes["atrial_fibrillation"].fillna(False).to_numpy(dtype=bool)
    hover = (phenotypes.index.astype(str) + "<br>Age " + phenotypes["age_years"].round().astype(str) + "<br>Sex "
             + phenotypes["sex"].astype(str)).to_numpy()

    def figure(coordinates, selected: set[int] | None) -> go.Figure:
        fig = go.Figure()
        for group in (False, True):
            rows = np.flatnonzero(af == group)
            fig.add_trace(go.Scattergl(x=coordinates[rows, 0], y=coordinates[rows, 1], mode="markers", customdata=rows, hovertext=hover[rows],
                                       selectedpoints=None if selected is None else [i for i, r in enumerate(rows) if r in selected]))
        fig.update_layout(dragmode="select", uirevision="keep")
        return fig

    app = dash.Dash(__name__)
    app.layout = html.Div([dcc.Graph(id=f"view-{i}", figure=figure(v, None), style={"height": "430px", "width": "32%", "display": "inline-block"})
                           for i, v in enumerate(views)])

    @app.callback(Output("view-1", "figure"), Output("view-2", "figure"), Input("view-0", "selectedData"), prevent_initial_call=True)
    def _linked(selected_data):
        selected = {int(p["customdata"]) for p in (selected_data or {}).get("points", [])}
        return figure(views[1], selected), figure(views[2], selected)

    app.run(port=port, debug=False)


def run_baseline(cohort: Path, n: int, loads: int = 1) -> list[tuple]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.browser_scale", "--serve-baseline", str(cohort), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + TIMEOUT_S
        while serving_pid(url) is None:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the baseline page did not start")
            time.sleep(0.5)
        driver = chrome_with_network_log()
        try:
            record = Recorder(driver, server.pid, f"plain Dash {n:,}")
            record.measure("first load", lambda: load(driver, url), all_drawn(n), from_navigation=True)
            record.first_paint()
            first_loads(record, url, n, loads)
            record.measure("box selection", lambda: box_select_middle(driver, "view-0"),
                           lambda state: all(view["highlight"] for view in state[1:]), give_up_after=BASELINE_GIVE_UP_S)
            return record.rows
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait(timeout=30)


def benchmark_cohort(cache: Path, n: int) -> Path:
    """The ``n``-subject cohort under ``cache`` (its app cache beside it, ``app-cache-{n}``), built unless already there."""
    cohort = cache / f"cohort-{n}"
    if not (cohort / BUILT).exists():  # a cohort built by an earlier version of build_cohort is built again
        shutil.rmtree(cohort, ignore_errors=True)
        shutil.rmtree(cache / f"app-cache-{n}", ignore_errors=True)
        cohort.mkdir(parents=True)
        build_cohort(cohort, n)
        (cohort / BUILT).touch()
    return cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, nargs="+", default=[100_000])
    parser.add_argument("--cache", type=Path, required=False, help="folder for the cohorts and the app's caches (reused between runs)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--loads", type=int, default=3, help="first loads timed per page, each in a fresh browser; the ratio uses their median")
    parser.add_argument("--density-threshold", type=int, help="LSE_DENSITY_THRESHOLD for the explorer (default: the app's, 200,000)")
    parser.add_argument("--serve-baseline", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline, args.port)
        return
    if args.cache is None:
        parser.error("--cache is required")
    if not 1 <= args.loads <= 20:
        parser.error("--loads must be between 1 and 20")
    print(f"{'page':>22} {'action':<24} {'seconds':>8} {'MB down':>10} {'of it data':>10} {'KB up':>9} {'RSS GiB':>8}", flush=True)
    for n in args.subjects:
        cohort = benchmark_cohort(args.cache, n)
        rows = run_explorer(cohort, args.cache / f"app-cache-{n}", n, args.density_threshold, args.loads)
        for action in ("first load", "colour change", "box selection"):
            print(f"{'data bytes/point/view':>22} {action:<24} {next(r for r in rows if r[1] == action)[6] / n / 3:>8.2f}")
        if args.no_baseline:
            continue
        baseline = run_baseline(cohort, n, args.loads)
        ours = {action: seconds for _, action, seconds, *_ in rows}
        for _, action, seconds, down, *_ in baseline:
            mine = next(r for r in rows if r[1] == action)
            if seconds == float("inf"):
                print(f"{'ratio ' + f'{n:,}':>22} {action:<24} more than {BASELINE_GIVE_UP_S / ours[action]:.0f}x  (plain Dash / explorer)")
            else:
                byte_ratio = f"{down / max(mine[3], 1):>9.1f}x" if down else f"{'':>10}"  # a median has no bytes of its own
                print(f"{'ratio ' + f'{n:,}':>22} {action:<24} {seconds / ours[action]:>7.1f}x {byte_ratio}  (plain Dash / explorer)")


if __name__ == "__main__":
    main()
