"""A corpus of hostile callback requests posted straight to /_dash-update-component of the real server.

Each must get a clean answer (no 500, no traceback; a refusal in the page where the input is one the
page never offers) and the server must keep serving. Requests are built from the server's own
/_dash-layout and /_dash-dependencies as the browser builds them, with one value replaced.
"""

from __future__ import annotations

import json
import random

import pytest

from app.panels.shown import VISIBLE_SUFFIX, visible_id
from app.panels.tab_panes import OPENED_SUFFIX
from app.state import inputs_key
from benchmarks.load import User
from tests.conftest import SMALL_COHORT_SUBJECTS
from tests.serving import running_app

N = SMALL_COHORT_SUBJECTS
HUGE = 10**30
REFUSED = b"Not done:"  # the page's refusal banner (app.validation.show_refusal)

BAD_SELECTIONS = [{"rows": [-1]}, {"rows": [HUGE]}, {"rows": [1.7]}, {"rows": [True]}, {"rows": ["1"]}, {"rows": 5}, "everyone", [1, 2],
                  {"rows": list(range(N + 1))}, {"cohort": "1"},
                  {"view": {"kind": "latent", "space": "joint", "method": "pca"}, "shape": {"kind": "box", "x": ["a"], "y": []}},
                  {"cluster": "joint"}, {"cluster": {"space": "joint", "method": "kmeans", "n_clusters": 3, "min_cluster_size": 50, "label": 99}}]
BOX = {"kind": "box", "x": [0, 1], "y": [0, 1]}
FRAMES_NEVER_DRAWN = [{"kind": "transition", "a": "joint", "b": "ecg", "method": "pca", "frame": frame} for frame in (0, 99, -1, True, "2", 1.5)] + [
    {"kind": "transition", "a": "joint", "b": "joint", "method": "pca", "frame": 2}, {"kind": "transition", "a": "joint", "b": ["ecg"], "frame": 2},
    {"kind": "latent", "space": ["joint"], "method": "pca"}, {"kind": "latent", "space": "joint", "method": {"pca": 1}},
    {"kind": "clinical", "x": ["age_years"], "y": "sex"}]  # unhashable names were a TypeError (a generic refusal) before they were checked
BAD_FILTERS = [[{"kind": "range", "variable": "synthetic_seed", "low": 0}], "age_years > 50", [1], [{"kind": "regex", "variable": "age_years"}],
               [{"kind": "range", "variable": "age_years", "low": "fifty"}], [{"kind": "choice", "variable": "sex", "values": "female"}],
               [{"kind": "choice", "variable": "sex", "values": [{"$ne": 1}]}]]
BAD_COHORT_IDS = [-1, HUGE, True, "1", 1.5]

# (a fragment of the callback's output, the tab it needs, {(component id, property): hostile value}, must the page show a refusal? (or which))
CASES = (
    [("view-0-spec.data", "explore", {("selection", "data"): value}, True) for value in BAD_SELECTIONS]
    + [("view-0-spec.data", "explore", {("filters", "data"): value}, True) for value in BAD_FILTERS]
    + [("selection-summary.children", "explore", {("selection", "data"): value}, True) for value in BAD_SELECTIONS[:4]]
    + [("selection-summary.children", "explore", {("selection", "data"): {"view": view, "shape": BOX}}, b"Selection ignored: the selection was drawn on an unknown view")
       for view in FRAMES_NEVER_DRAWN]
    + [("view-0-spec.data", "explore", {("view-0-space", "value"): value}, False) for value in ("nowhere", 3, ["joint"], True)]
    + [("view-0-spec.data", "explore", {("view-0-method", "value"): value}, False) for value in ("tsne2", 7, {"a": 1})]
    + [("view-2-spec.data", "explore", {("colour-by", "value"): value}, False) for value in ("synthetic_seed", "__class__", 5, ["sex"])]
    + [("view-2-spec.data", "explore", {("clinical-x", "value"): value}, False) for value in ("nowhere", {}, 3)]
    + [("compare-", "compare-cohorts", {("compare-a", "value"): value}, False) for value in (*BAD_COHORT_IDS, "x")]
    + [("compare-", "compare-cohorts", {("compare-variable", "value"): value}, False) for value in ("nowhere", 3)]
    + [("manage-feedback.children", "explore", {(component, prop): 1, ("manage-cohort", "value"): value}, False)
       for component, prop in (("delete-cohort", "n_clicks"), ("delete-confirm", "submit_n_clicks")) for value in BAD_COHORT_IDS]
    + [("manage-feedback.children", "explore", {("save-algebra", "n_clicks"): 1, ("algebra-a", "value"): 1, ("algebra-b", "value"): 1,
                                                 ("algebra-operation", "value"): "union", ("algebra-name", "value"): "A or A"}, False)]
    + [("manage-feedback.children", "explore", {("delete-confirm", "submit_n_clicks"): 1, ("manage-cohort", "value"): 999, ("selection", "data"): value}, False)
       for value in ({"cohort": [999]}, {"cohort": {"$ne": 1}}, "x", [999])]  # the selection a deletion reads, to drop a deleted highlight
    + [("selection.data", "explore", {("apply-cohort", "n_clicks"): 1, ("manage-cohort", "value"): value}, False) for value in BAD_COHORT_IDS[:3]]
    + [("save-feedback.children", "explore", {("save-cohort", "n_clicks"): 1, ("cohort-name", "value"): "hostile",
                                               ("selection", "data"): {"rows": [-1]}}, False)]
    + [("decoder-ecg.figure", "decoder", {("decoder-subject-request", "data"): {"subjects": value, "latent": "joint", "shown": []}}, False)
       for value in (["nobody"], [-1], 5, ["x"] * 1000, [True])]
    + [("accuracy-", "accuracy", {(component, "value"): value}, False)
       for component, value in (("accuracy-task", "nothing"), ("accuracy-space", "nowhere"),
                                ("accuracy-cohort", -1), ("accuracy-cohort", HUGE), ("accuracy-cohort", "x"))]
    + [(output, "accuracy", {("accuracy-threshold", "value"): value}, b"Not done: decision threshold: expected a number from 0 to 1")
       for output in ("accuracy-sizes.children", "accuracy-subgroups.children") for value in (5, -0.1, "a", True, [0.5], {"x": 1})]
    + [("page-location.search", "explore", {("page-location", "search"): value}, False)
       for value in (5, ["?tab=admin"], "?tab=admin", "?" + "x" * 20_000, "?selection=" + "%5B" * 5000, "?cohort=99999999999999999999999")]
    + [("page-location.search", "explore", {("link-opened", "data"): value, ("colour-by", "value"): "sex"}, False)  # the address a link was opened at
       for value in (5, {"x": 1}, ["?tab=explore"], "?" + "x" * 20_000)]
    + [("page-location.search", "explore", {(component, property_): value}, True)
       for component, property_, value in (("colour-by", "value", "synthetic_seed"), ("view-0-space", "value", "nowhere"), ("main-tabs", "active_tab", "admin"),
                                           ("subject-search", "value", "nobody"), ("selection", "data", {"cohort": "1"}),
                                           ("selection", "data", {"rows": [-1]}), ("filters", "data", "age_years > 50"))]
    + [("view-0-spec.data", "explore", {("subject-search", "value"): value}, True) for value in ("nobody", 5, ["SYN000001"])]
    + [("subject-search.options", "explore", {("subject-search", "search_value"): value}, True) for value in (5, "x" * 1000, {"$ne": 1})]
    + [("main-tabs.active_tab", "explore", {("open-in-decode", "n_clicks"): 1, ("subject-search", "value"): value}, True) for value in (None, "nobody")]
    + [("decoder-subjects", "decoder", {("decode-subject", "data"): value}, True) for value in ({"subject": "nobody"}, {"subject": 5}, "SYN000001")]
    + [("cs-", "compare-spaces", {(component, "value"): value}, False)
       for component, value in (("cs-k", 0), ("cs-k", -1), ("cs-k", 10**9), ("cs-k", 1.5), ("cs-k", True), ("cs-metric", "x"), ("cs-layout", "x"))]
    + [("cs-map-spec.data", "compare-spaces", {("cs-trail-threshold", "value"): value, ("cs-show-trails", "value"): ["on"]}, True)
       for value in ("0.3", 1e308, -0.5, [0.3])]
    + [("cs-map-tooltip.show", "compare-spaces", {("cs-map", "hoverData"): {"points": [{"customdata": row}]}}, False)
       for row in (-1, HUGE, "3", True, 1.5, None)]
    + [("cs-map-tooltip.show", "compare-spaces", {("cs-map", "hoverData"): {"points": [{"customdata": 3}]}, (component, "value"): value}, True)
       for component, value in (("cs-space-b", "ecg"), ("cs-space-b", ["joint"]), ("cs-k", "abc"), ("cs-k", 10**9), ("cs-metric", "manhattan"))]
    + [("cs-map-spec.data", "compare-spaces", {("cs-brushed", "data"): value}, True) for value in ({"range": {"x": ["a", 1]}}, {"range": {"x": [0.5]}})]
    + [("view-0-spec.data", "explore", {("selection", "data"): {"overlap": value}}, True)
       for value in ("x", {"a": "ecg", "b": "ecg", "k": 5, "metric": "cosine", "range": [0, 1]},
                     {"a": "ecg", "b": "joint", "k": 10**12, "metric": "cosine", "range": [0, 1]},
                     {"a": "ecg", "b": "joint", "k": 5, "metric": "cosine", "range": [0, 1e308, 3]})]
    + [("cs-neighbourhood.figure", "compare-spaces", {("cs-subject", "data"): {"row": value, "selection": inputs_key(None)}}, True)
       for value in (-1, HUGE, 1.5, "3")]
    + [("accuracy-sort.data", "accuracy", {("accuracy-sort-click", "data"): value}, True)
       for value in ({"column": "__class__"}, {"column": ["n"]}, {"column": None}, {"column": "x" * 10_000})]
    + [("cs-subject.data", "compare-spaces", {("cs-row-click", "data"): value}, True)
       for value in ({"list": "most", "row": -1}, {"list": "most", "row": HUGE}, {"list": "everyone", "row": 1}, {"list": ["most"], "row": "3"})]
    + [("cluster-request.data", "clusters", {("cluster-run", "n_clicks"): 1, (component, "value"): value}, True)
       for component, value in (("cluster-k", 1), ("cluster-k", 31), ("cluster-k", 2.5), ("cluster-k", True), ("cluster-k", "3"),
                                ("cluster-space", "nowhere"), ("cluster-method", "spectral"), ("cluster-min-size", 1))]
    + [(f"{job}.data", "decoder", {("decoder-tabs", "active_tab"): tab, (component, "value"): value}, True)
       for job, tab, component, value in (
           ("decoder-interp-request", "interpolate", "decoder-interp-steps", 200), ("decoder-interp-request", "interpolate", "decoder-interp-steps", 10**9),
           ("decoder-interp-request", "interpolate", "decoder-interp-steps", "5"), ("decoder-interp-request", "interpolate", "decoder-interp-steps", 2.5),
           ("decoder-interp-request", "interpolate", "decoder-interp-from", "subject:nobody"), ("decoder-interp-request", "interpolate", "decoder-interp-lead", "V13"),
           ("decoder-perturb-request", "perturb", "decoder-pc-0", 40), ("decoder-perturb-request", "perturb", "decoder-direction-amount", "1"),
           ("decoder-perturb-request", "perturb", "decoder-perturb-space", "nowhere"), ("decoder-perturb-request", "perturb", "decoder-direction", "__class__"),
           ("decoder-proto-request", "prototypes", "decoder-proto-kind", "max"), ("decoder-proto-request", "prototypes", "decoder-proto-space", 3),
           ("decoder-proto-request", "prototypes", "decoder-proto-a", -1), ("decoder-subject-request", "subjects", "decoder-subjects", ["nobody"]),
           ("decoder-subject-request", "subjects", "decoder-subjects", ["x"] * 9), ("decoder-subject-request", "subjects", "decoder-latent", "nowhere"))]
    # A panel's view of the current cohort (app.panels.shown) is posted by the browser like any input.
    + [(fragment, tab, {(f"{tab}-current-cohort", "data"): value}, True)
       for fragment, tab in (("compare-table.children", "compare-cohorts"), ("accuracy-sizes.children", "accuracy"),
                             ("cs-neighbourhood.figure", "compare-spaces"), ("decoder-subjects.options", "decoder"))
       for value in ("everyone", {"rows": [1]}, {"filters": None, "selection": BAD_SELECTIONS[0], "version": 0})]
    # Whether a tab is shown (app.panels.shown) is posted by the browser too.
    + [(fragment, tab, {(f"{tab}-visible", "data"): value}, True)
       for fragment, tab in (("decoder-subjects.options", "decoder"), ("cs-map-spec.data", "compare-spaces"), ("decoder-subject-request.data", "decoder"))
       for value in ("yes", 1, {"shown": True})]
    # A job's "ended without a result" store is written by the server, but the browser posts it back like any input.
    + [(fragment, tab, {(store, "data"): value}, False) for fragment, tab, store in (("view-0-spec.data", "explore", "projection-failed"),
                                                                                   ("cs-map-spec.data", "compare-spaces", "cs-failed"))
       for value in ("x", 1, [None], {"space": "nowhere", "method": "umap"})]
    # The flag that fetches a hidden tab's panel (app.panels.tab_panes) is posted by the browser too.
    + [(f"{tab}-pane.children", "explore", {(f"{tab}-opened", "data"): value}, False) for tab in ("decoder", "variables") for value in ("yes", 1, {"x": 1}, None)]
    + [("compare-table.children", "compare-cohorts", {("compare-cohorts-current-cohort", "data"): {"filters": value, "selection": None, "version": 0}}, True)
       for value in BAD_FILTERS[:3]]
    + [("colour-legend.children", "explore", {("colour-by", "value"): "@clusters", ("clusters", "data"): value}, True)
       for value in ({"space": "nowhere", "method": "kmeans"}, "joint", {"space": "joint", "method": "kmeans", "n_clusters": 99})]
)


@pytest.fixture(scope="module")
def user(trained_cohort_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("hostile-cache")
    with running_app(trained_cohort_dir, cache) as url:
        visitor = User(int(url.rsplit(":", 1)[1]), random.Random(0))
        visitor.load_page()
        for flag in visitor.panel_flags:  # open every tab once, as a browser would, so each panel is on the page
            visitor.tab(flag[: -len(OPENED_SUFFIX)])
        assert {"compare-a", "cluster-k", "decoder-subjects", "accuracy-task", "cs-k", "variable-table"} <= set(visitor.page.props)
        visitor.tab("explore")
        yield visitor
        visitor.close()


def _dependency(user: User, fragment: str, keys: set[tuple[str, str]]) -> dict:
    for dependency in user.dependencies:
        names = {(item["id"], item["property"]) for item in dependency["inputs"] + dependency.get("state", [])}
        if fragment in dependency["output"] and keys <= names | {("main-tabs", "active_tab")} | {key for key in keys if key[0].endswith(VISIBLE_SUFFIX)}:
            return dependency
    raise AssertionError(f"no callback with output {fragment!r} reads {keys}")


def _clean(status: int, data: bytes) -> None:
    assert status in (200, 204, 400, 413), (status, data[:300])
    assert b"Traceback" not in data and b"Internal Server Error" not in data, data[:300]


def test_the_corpus_is_large_enough():
    assert len(CASES) + 5 >= 60


@pytest.mark.parametrize(("fragment", "tab", "overrides", "refusal"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_a_hostile_callback_input_gets_a_clean_answer(user, fragment, tab, overrides, refusal):
    shown = {("main-tabs", "active_tab"): tab, (visible_id(tab), "data"): True}  # the tab as the page shows it
    overrides = {**shown, **overrides}
    dependency = _dependency(user, fragment, set(overrides))
    changed = set(overrides) - set(shown)
    status, data = user.exchange(dependency, user.body(dependency, changed, overrides))
    _clean(status, data)
    if refusal:
        assert (refusal if isinstance(refusal, bytes) else REFUSED) in data, data[:300]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"{}", json.dumps({"output": "nowhere.children", "outputs": {}, "inputs": [], "state": []}).encode(),
                                  b'{"output": "view-0.figure", "inputs": "x"}'])
def test_a_malformed_request_gets_a_clean_answer(user, body):
    user.connection.request("POST", "/_dash-update-component", body=body, headers={"Content-Type": "application/json"})
    response = user.connection.getresponse()
    _clean(response.status, response.read())
    assert response.status == 400


def test_a_body_past_the_size_cap_is_refused_before_it_is_read(user):
    from app.validation import MAX_REQUEST_BYTES

    status, data = user.request("POST", "/_dash-update-component", {"output": "x", "padding": "a" * (MAX_REQUEST_BYTES + 1)})
    assert status == 413


def test_the_server_still_serves_after_the_corpus(user):
    status, _ = user.request("GET", "/_dash-layout")
    assert status == 200
    dependency = _dependency(user, "selection-summary.children", {("selection", "data")})
    status, data = user.exchange(dependency, user.body(dependency, {("selection", "data")}, {("selection", "data"): {"rows": [0, 1, 2]}}))
    assert status == 200 and b"3 of" in data
