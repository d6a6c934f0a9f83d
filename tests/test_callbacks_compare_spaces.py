"""Compare-spaces panel callbacks as plain functions on a real app context (300 subjects, two spaces)."""

from __future__ import annotations

import json
import re

import dash
import numpy as np
import pytest

from app import validation
from app.comparisons import aligned_layouts
from app.config import AppConfig
from app.context import AppContext
from app.core.alignment import transition_fractions, transition_frame
from app.core.neighbours import compare_neighbourhoods, exact_neighbours, neighbour_trails
from app.core.projections import ProjectionSpec
from app.core.statistics import compare_groups
from app.panels.compare_spaces import neighbourhoods
from app.panels.compare_spaces import settings as compare_settings
from app.panels.compare_spaces import tables as compare_tables
from app.panels.compare_spaces import views as compare_views
from app.panels.compare_spaces.settings import PANEL_TAB
from app.server import create_app
from app.state import SelectionError, inputs_key, selection_mask
from data_loaders import load_cohort
from tests.figure_checks import assert_unchanged_by_validation, validated
from tests.panels import opened_panel
from tests.typed_arrays import unpacked

A, B = "ecg", "joint"


@pytest.fixture
def context(phenotype_cohort_dir, tmp_path) -> AppContext:
    return AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))


def overview(context, *, k=20, metric="euclidean", brushed=None, selection=None, triggers=frozenset(), method="pca", align=None, space_b=B):
    return compare_views.render_overview(context, A, space_b, method, k, metric, brushed, 0.3, ["on"], align, selection, set(triggers))


def test_the_panel_is_laid_out_and_its_callbacks_registered(phenotype_cohort_dir, tmp_path):
    app = create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path))
    panel = opened_panel(app, PANEL_TAB)
    for component in ("cs-space-a", "cs-space-b", "cs-k", "cs-metric", "cs-map", "cs-histogram", "cs-neighbourhood", "cs-most-changed",
                      "cs-least-changed", "cs-suggestions"):
        assert f'"{component}"' in panel
    outputs = " ".join(app.callback_map)
    assert "cs-map.figure" in outputs and "cs-ready.data" in outputs and "selection.data@" in outputs  # selection written only as a duplicate output


def test_overview_colours_every_subject_by_the_overlap_of_its_full_dimensional_neighbours(context):
    drawn = overview(context)
    figure = validated(drawn.map)
    assert isinstance(drawn.map, dict) and drawn.request is dash.no_update  # 300 subjects: computed in the request, sent as a prebuilt dict
    subjects = figure.data[0]
    assert subjects.type == "scattergl" and sorted(np.asarray(subjects.customdata).tolist()) == list(range(300))
    expected = compare_neighbourhoods(exact_neighbours(context.cohort.spaces[A], 20), exact_neighbours(context.cohort.spaces[B], 20)).overlap
    np.testing.assert_allclose(np.asarray(subjects.marker.color), expected, atol=1e-6)
    cached = sorted(path.name.split("-")[1] for path in (context.config.cache_dir / "neighbours").glob("*.npy"))
    assert cached == ["centroids", "kept", "knn", "knn"]  # a neighbour list per space, what each kept of the other, the trails' targets
    assert np.asarray(validated(drawn.histogram).data[0].y).sum(dtype=int) == 300  # counts go as the narrowest integers that hold them
    most = [row["overlap"] for row in drawn.most]
    least = [row["overlap"] for row in drawn.least]
    assert most == sorted(most) and least == sorted(least, reverse=True) and most[0] == pytest.approx(expected.min(), abs=1e-3)
    assert {"subject", "overlap", "age_years", "sex"} <= set(drawn.most[0])
    assert "20 nearest neighbours" in drawn.title and "ECG only" in drawn.title


def test_the_animation_runs_from_a_layout_to_b_aligned_onto_it_drawn_in_the_browser_from_the_two(context):
    prebuilt = overview(context).map
    figure = validated(prebuilt)
    layout_a = context.cached_projection(A, ProjectionSpec("pca"))
    np.testing.assert_array_equal(np.asarray(figure.data[0].x), layout_a[:, 0])
    transition = prebuilt["layout"]["meta"]["transition"]
    aligned_b = aligned_layouts(context, A, B, "pca")[1]
    np.testing.assert_array_equal(unpacked(transition["y"]), aligned_b[:, 1])
    raw_b = context.cached_projection(B, ProjectionSpec("pca"))
    assert np.abs(aligned_b - layout_a).mean() <= np.abs(raw_b - layout_a).mean()  # alignment brings B towards A
    assert transition["fractions"] == transition_fractions(9) and len(figure.layout.sliders[0].steps) == 9
    assert figure.layout.sliders[0].steps[-1].label == "Joint (ECG + MRI)" and "frames" not in prebuilt  # drawn in the browser
    assert figure.data[1].mode == "lines" and len(figure.data[1].x)  # trails, in the same WebGL figure
    assert figure.data[0].hoverinfo == "none" and figure.data[0].hovertext is None  # no text per point: the tooltip asks the server
    assert_unchanged_by_validation(prebuilt)  # prebuilt: what plotly.py would send after validating it


def test_hovering_a_subject_on_the_map_shows_its_id_and_overlap_looked_up_on_the_server(context):
    overview(context)
    overlap = neighbourhoods.load_comparison(context, A, B, 20, "euclidean").overlap
    hover = {"points": [{"curveNumber": 0, "pointNumber": 4, "customdata": 7, "bbox": {"x0": 3, "y0": 4}}]}
    tooltip = compare_views.map_tooltip(context, hover, A, B, 20, "euclidean")
    text = str(tooltip.children)
    assert tooltip.show and tooltip.bbox == {"x0": 3, "y0": 4} and str(context.cohort.subject_ids[7]) in text and f"overlap {overlap[7]:.2f}" in text
    assert compare_views.map_tooltip(context, {"points": [{"customdata": 300}]}, A, B, 20, "euclidean").show is False
    with pytest.raises(validation.InputRefused):
        compare_views.map_tooltip(context, hover, A, A, 20, "euclidean")


def test_a_selection_and_a_brushed_range_send_what_a_validated_map_would(context):
    brushed = {"range": {"x": [0.2, 0.45]}}
    in_range = np.asarray(validated(overview(context, brushed=brushed).map).data[0].customdata)
    prebuilt = overview(context, selection={"rows": [int(in_range[1]), int(in_range[4])]}, brushed=brushed).map
    assert list(validated(prebuilt).data[0].selectedpoints) == [1, 4]  # positions among the drawn (brushed) subjects
    assert_unchanged_by_validation(prebuilt)


def test_a_new_selection_only_patches_the_highlighted_points(context):
    overview(context)
    patched = overview(context, selection={"rows": [5, 2]}, triggers={"selection"})
    assert isinstance(patched.map, dash.Patch) and patched.most is dash.no_update
    operations = patched.map.to_plotly_json()["operations"]
    assert operations[0]["location"] == ["data", 0, "selectedpoints"] and operations[0]["params"]["value"] == [2, 5]
    assert "Selection (2)" in str(patched.summary)


def test_a_lasso_on_any_frame_travels_as_its_shape_and_selects_exactly_the_points_drawn_inside_it(context):
    """Each frame is named as a view (layout.meta): the shape is resolved on that frame's very coordinates, so the
    selection is a few hundred bytes however many subjects it takes in (rows were ~300 KB for half of 100,000)."""
    figure = overview(context).map
    views = figure["layout"]["meta"]["frame_views"]
    assert views[0] == {"kind": "latent", "space": A, "method": "pca"}  # frame A is A's own projection: the explorer's view of it too
    assert [view["frame"] for view in views[1:]] == list(range(1, 9)) and {view["kind"] for view in views[1:]} == {"transition"}
    transition, rows = figure["layout"]["meta"]["transition"], np.asarray(validated(figure).data[0].customdata)
    start, end = np.column_stack([unpacked(figure["data"][0][axis]) for axis in "xy"]), np.column_stack([unpacked(transition[axis]) for axis in "xy"])
    for index in (0, 3, 8):
        x, y = transition_frame(start, end, transition["fractions"][index]).T  # as the browser draws frame `index` (assets/compare_spaces.js)
        box = {"kind": "box", "x": [float(np.quantile(x, 0.2)), float(np.quantile(x, 0.7))], "y": [float(np.quantile(y, 0.3)), float(np.quantile(y, 0.9))]}
        inside = (x >= box["x"][0]) & (x <= box["x"][1]) & (y >= box["y"][0]) & (y <= box["y"][1])
        mask = selection_mask(context, {"source": "compare-spaces-map", "view": views[index], "shape": box})
        assert 10 < inside.sum() < 290 and set(np.flatnonzero(mask)) == set(rows[inside])
    # Only the drawn subjects may be lassoed: a brushed range or B aligned on the selection leaves the frames unnamed (rows are sent).
    assert "frame_views" not in overview(context, brushed={"range": {"x": [0.2, 0.45]}}).map["layout"]["meta"]
    assert "frame_views" not in overview(context, align=["on"], selection={"rows": [1, 2, 3]}).map["layout"]["meta"]


def test_a_box_drawn_on_a_frame_is_outlined_by_the_server_on_that_frame_only_and_goes_when_the_selection_changes_elsewhere(context):
    views = overview(context).map["layout"]["meta"]["frame_views"]
    box = {"kind": "box", "x": [-1.0, 0.5], "y": [-0.5, 1.0]}
    drawn = {"source": compare_settings.MAP_SOURCE, "view": views[3], "shape": box, "at": 1}
    operations = {tuple(op["location"]): op["params"]["value"] for op in overview(context, selection=drawn, triggers={"selection"}).map.to_plotly_json()["operations"]}
    outline = operations[("layout", "shapes")]
    assert [(shape["name"], shape["type"], shape["x0"], shape["y1"], shape["visible"]) for shape in outline] == [("selection", "rect", -1.0, 1.0, True)]
    assert operations[("layout", "meta", "outline_frame")] == 3
    assert [operations[("frames", frame, "layout")] for frame in range(9)] == [{"shapes": [{"visible": frame == 3}]} for frame in range(9)]
    assert operations[("layout", "selections")] == []  # Plotly's own outline makes way for the server's
    # A full figure (a new setting) carries it too, hidden on A's frame, where the browser starts.
    figure = overview(context, selection=drawn).map
    assert figure["layout"]["meta"]["outline_frame"] == 3 and figure["layout"]["shapes"][0]["visible"] is False
    assert_unchanged_by_validation(figure)
    # A selection made elsewhere (another view, a saved cohort) leaves no outline on any frame, nor Plotly's own.
    for elsewhere in ({"source": "view-0", "view": {"kind": "latent", "space": B, "method": "pca"}, "shape": box}, {"cohort": 1}, None):
        operations = {tuple(op["location"]): op["params"]["value"]
                      for op in overview(context, selection=elsewhere, triggers={"selection"}).map.to_plotly_json()["operations"]}
        assert operations[("layout", "shapes")] == [] and operations[("layout", "meta", "outline_frame")] is None
        assert operations[("frames", 8, "layout")] == {} and operations[("layout", "selections")] == []
    # The explorer's view of A with the same projection is the map's frame A: a box drawn there is outlined on frame 0.
    on_a = {"source": "view-0", "view": views[0], "shape": box}
    assert compare_views.map_outline(views, on_a)[0] == 0 and compare_views.map_outline(None, on_a) is None


def test_b_aligned_on_everyone_is_fitted_once_per_pair_and_read_only(context, monkeypatch):
    overview(context)
    first = aligned_layouts(context, A, B, "pca")[1]
    monkeypatch.setattr("app.comparisons.fit_alignment", lambda *args, **kwargs: pytest.fail("fitted again"))
    assert aligned_layouts(context, A, B, "pca")[1] is first and not first.flags.writeable
    view = {"kind": "transition", "a": A, "b": B, "method": "pca", "frame": 4}
    assert selection_mask(context, {"view": view, "shape": {"kind": "box", "x": [-9, 9], "y": [-9, 9]}}).all()
    with pytest.raises(pytest.fail.Exception, match="fitted again"):
        aligned_layouts(context, A, B, "pca", np.arange(10))  # aligned on a selection: fitted each time


@pytest.mark.parametrize("view", [
    {"kind": "transition", "a": A, "b": B, "method": "pca", "frame": 0},  # frame 0 is named as A's latent view
    {"kind": "transition", "a": A, "b": B, "method": "pca", "frame": 9},
    {"kind": "transition", "a": A, "b": B, "method": "pca", "frame": True},
    {"kind": "transition", "a": A, "b": B, "method": "pca", "frame": 2.0},
    {"kind": "transition", "a": A, "b": A, "method": "pca", "frame": 2},
    {"kind": "transition", "a": A, "b": "nope", "method": "pca", "frame": 2},
    {"kind": "transition", "a": A, "b": B, "method": "magic", "frame": 2},
])
def test_a_frame_the_map_never_draws_is_an_unknown_view(context, view):
    with pytest.raises(SelectionError, match="unknown view"):
        selection_mask(context, {"view": view, "shape": {"kind": "box", "x": [0, 1], "y": [0, 1]}})


def test_a_frame_of_layouts_not_computed_yet_says_so(context):
    view = {"kind": "transition", "a": A, "b": B, "method": "umap", "frame": 2}
    with pytest.raises(SelectionError, match="not computed yet"):
        selection_mask(context, {"view": view, "shape": {"kind": "box", "x": [0, 1], "y": [0, 1]}})


def test_brushing_the_histogram_shows_only_subjects_in_that_overlap_range(context):
    overview(context)
    overlap = neighbourhoods.load_comparison(context, A, B, 20, "euclidean").overlap
    low, high = np.quantile(overlap, [0.0, 0.3])
    brushed = overview(context, brushed={"range": {"x": [float(high), float(low)]}})
    shown = np.asarray(validated(brushed.map).data[0].customdata)
    assert 0 < len(shown) < 300 and set(shown) == set(np.flatnonzero((overlap >= low) & (overlap <= high)))
    assert f"{len(shown):,} subjects" in brushed.title
    assert neighbourhoods.overlap_range(None) is None and neighbourhoods.overlap_range({"points": []}) is None


def test_a_brushed_range_selects_as_the_range_itself_resolved_on_the_cached_neighbours(context):
    """The selection travels as a few words whatever its size (as rows, a 0–0.4 brush at 100,000 subjects was ~600 KB each way)."""
    spec = {"a": A, "b": B, "k": 20, "metric": "euclidean", "range": [0.0, 0.3]}
    with pytest.raises(SelectionError, match="not computed yet"):
        selection_mask(context, {"overlap": spec})  # never computed in a request
    overview(context)
    overlap = neighbourhoods.load_comparison(context, A, B, 20, "euclidean").overlap
    mask = selection_mask(context, {"overlap": spec, "source": "compare-spaces-histogram"})
    assert np.array_equal(mask, (overlap >= 0.0) & (overlap <= 0.3)) and 0 < mask.sum() < 300
    assert len(json.dumps({"overlap": spec})) < 100
    for bad in ("x", {**spec, "b": A}, {**spec, "k": 10**9}, {**spec, "k": "20"}, {**spec, "metric": "manhattan"}, {**spec, "range": [0, 5]},
                {**spec, "range": [0.1]}, {**spec, "range": ["a", 1]}, {**spec, "a": "nowhere"}):
        with pytest.raises(validation.InputRefused):
            selection_mask(context, {"overlap": bad})


def test_the_brushed_range_is_drawn_into_the_histogram_so_a_redraw_keeps_it(context):
    overview(context)
    prebuilt = overview(context, brushed={"range": {"x": [0.2, 0.45]}}).histogram
    histogram = validated(prebuilt)
    box = histogram.layout.selections[0]
    assert (box.x0, box.x1, box.xref) == (0.2, 0.45, "x")
    centres = np.asarray(histogram.data[0].x)
    assert [centres[i] for i in histogram.data[0].selectedpoints] == [c for c in centres if 0.2 <= c <= 0.45]
    assert not validated(overview(context).histogram).layout.selections  # nothing brushed: no box
    assert_unchanged_by_validation(prebuilt)
    assert_unchanged_by_validation(overview(context, selection={"rows": [3, 4]}).histogram)  # with the selection's bars


@pytest.mark.parametrize("brushed", [{"range": {"x": ["a", 1]}}, {"range": {"x": [0.1]}}, {"range": {"x": [True, 0.5]}}, {"range": {"x": 5}}])
def test_a_malformed_brush_is_refused(brushed):
    with pytest.raises(validation.InputRefused, match="overlap range"):
        neighbourhoods.overlap_range(brushed)


def test_large_cohorts_ask_the_background_callback_and_reuse_its_cache(context, monkeypatch):
    monkeypatch.setattr(compare_views, "INLINE_SUBJECTS", 100)
    waiting = overview(context, k=7, metric="cosine")
    assert waiting.request == {"space_a": A, "space_b": B, "method": "pca", "k": 7, "metric": "cosine"}
    assert "nearest neighbours" in validated(waiting.map).layout.annotations[0].text
    assert overview(context, k=7, metric="cosine", triggers={"selection"}).map is dash.no_update
    assert not neighbourhoods.ready_to_draw(context, A, B, "pca", 7, "cosine")  # what the interval polls for
    progress = []
    neighbourhoods.load_comparison(context, A, B, 7, "cosine", compute=True, progress=lambda done, space: progress.append((done, space)))
    assert progress[-1] == (1.0, B) and progress[0][1] == A
    assert neighbourhoods.ready_to_draw(context, A, B, "pca", 7, "cosine")
    drawn = overview(context, k=7, metric="cosine")
    assert drawn.request is dash.no_update  # the cached lists are drawn, not asked for again
    assert sorted(np.asarray(validated(drawn.map).data[0].customdata).tolist()) == list(range(300))


def test_a_missing_umap_layout_is_requested_not_computed_in_the_request(context, refuse_slow_projections):
    drawn = overview(context, method="umap")
    assert drawn.request["method"] == "umap"
    assert not any(context.projection_ready(space, ProjectionSpec(method="umap")) for space in (A, B))


def test_the_same_space_twice_or_too_few_spaces_explain_themselves(context):
    assert "two different spaces" in overview(context, space_b=A).summary
    context.cohort.spaces.pop(B)
    assert "models.encode" in overview(context).summary


def test_subject_chosen_by_click_or_list_row_and_checked(context):
    assert neighbourhoods.subject_from_event(context, "cs-map-click", {"row": 42, "at": 1}) == 42
    assert neighbourhoods.subject_from_event(context, "cs-row-click", {"list": "most", "row": 17, "at": 2}) == 17
    assert neighbourhoods.subject_from_event(context, "cs-row-click", {"list": "gained", "row": 3, "at": 3}) == 3
    assert neighbourhoods.subject_from_event(context, "cs-row-click", None) is None  # the store before any click
    for hostile in (-1, 300, 1.5, True, "7"):
        for trigger in ("cs-map-click", "cs-row-click"):
            with pytest.raises(validation.InputRefused, match="clicked subject"):
                neighbourhoods.subject_from_event(context, trigger, {"list": "most", "row": hostile})
    for hostile_list in ("everyone", None, ["most"]):
        with pytest.raises(validation.InputRefused, match="subject list"):
            neighbourhoods.subject_from_event(context, "cs-row-click", {"list": hostile_list, "row": 1})


def test_a_clicked_subject_is_focused_until_the_selection_changes_and_never_replaces_it(context):
    group = {"rows": [3, 4, 5]}
    focused = {"row": 42, "selection": inputs_key(group)}
    assert neighbourhoods.focused_row(context, focused, group) == 42
    assert neighbourhoods.focused_row(context, focused, {"rows": [7]}) is None  # a new selection takes the focus back
    assert neighbourhoods.focused_row(context, {"row": 42, "selection": inputs_key(None)}, None) == 42
    overview(context)
    view = compare_views.render_subject(context, A, B, "pca", 20, "euclidean", 42, group, None)
    assert view.title.startswith(context.cohort.subject_ids[42]) and "3 selected subjects" in str(view.common)  # focus outside the selection
    assert_unchanged_by_validation(view.neighbourhood)  # prebuilt: what plotly.py would send after validating it
    with pytest.raises(validation.InputRefused):
        neighbourhoods.focused_row(context, {"row": -1, "selection": inputs_key(None)}, None)


def test_lists_sort_by_any_column_with_missing_values_last(context):
    records = [{"id": 0, "subject": "S0", "overlap": 0.5, "age_years": None}, {"id": 1, "subject": "S1", "overlap": 0.1, "age_years": 70.0},
               {"id": 2, "subject": "S2", "overlap": 0.9, "age_years": 50.0}]
    assert [r["id"] for r in compare_tables.sorted_records(records, "overlap", "ascending")] == [1, 0, 2]
    assert [r["id"] for r in compare_tables.sorted_records(records, "age_years", "descending")] == [1, 2, 0]
    assert [r["id"] for r in compare_tables.sorted_records(records, "age_years", "ascending")] == [2, 1, 0]
    assert [r["id"] for r in compare_tables.sorted_records(records, compare_settings.RANK, "ascending")] == [0, 1, 2]  # as ranked
    assert [r["id"] for r in compare_tables.sorted_records(records, compare_settings.RANK, "descending")] == [2, 1, 0]
    table = compare_tables.subject_table(records, compare_tables.table_columns(context), "most").children
    rows = re.findall(r'<tr class="cs-row" tabindex="0" title="[^"]*" data-list="most" data-row="(\d+)"', table)
    assert rows == ["0", "1", "2"]
    assert table.split("<tr")[2].split("<td>")[3].startswith("–")  # a missing age (the subject's first row: header, then S0)


def test_a_subject_list_is_one_component_whose_cells_cannot_become_markup(context):
    hostile = '<img src=x onerror="alert(1)">\n\n# heading'
    records = [{"id": 4, "subject": hostile, "overlap": 0.25, "sex": "a & b"}]
    columns = [{"name": "Subject", "id": "subject"}, {"name": "<b>Overlap</b>", "id": "overlap"}, {"name": "Sex", "id": "sex"}]
    table = compare_tables.subject_table(records, columns, "least")
    assert table.dangerously_allow_html and isinstance(table.children, str) and "\n" not in table.children  # one HTML block
    assert "<img" not in table.children and "<b>" not in table.children and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in table.children
    assert "<td>a &amp; b</td>" in table.children and "<td>0.25</td>" in table.children
    with pytest.raises(ValueError, match="unknown subject list"):
        compare_tables.subject_table(records, columns, "everyone")


def test_a_subjects_neighbourhood_in_both_spaces_and_what_the_selection_has_in_common(context):
    overview(context)
    comparison = neighbourhoods.load_comparison(context, A, B, 20, "euclidean")
    view = compare_views.render_subject(context, A, B, "pca", 20, "euclidean", 11, {"rows": [11]}, None)
    figure, title = validated(view.neighbourhood), view.title
    assert {trace.type for trace in figure.data} == {"scatter"} and figure.layout.xaxis2 is not None  # SVG small multiples, one figure
    names = {trace.name for trace in figure.data}
    assert f"shared ({len(comparison.shared(11))})" in names and f"only in B ({len(comparison.gained(11))})" in names
    assert context.cohort.subject_ids[11] in title and f"overlap {comparison.overlap[11]:.2f}" in title
    group = np.argsort(comparison.overlap)[:15]
    view = compare_views.render_subject(context, A, B, "pca", 20, "euclidean", None, {"rows": group.tolist()}, ["on"])
    most_changed = [context.cohort.subject_ids[row] for row in group if comparison.overlap[row] == comparison.overlap[group[0]]]
    assert view.title.split(":")[0] in most_changed  # no click: the selection's most changed subject (one of them, on a tie)
    text = str(view.common)
    assert "15 selected subjects" in text and 'data-list="gained"' in text and "cs-profile" in text
    hint = compare_views.render_subject(context, A, B, "pca", 20, "euclidean", None, None, None)
    assert "Click a subject" in validated(hint.neighbourhood).layout.annotations[0].text and hint.title == ""


def test_a_suggested_group_becomes_the_selection_or_a_saved_cohort(context):
    suggested = overview(context).suggested
    assert suggested, "the ECG stand-in and joint spaces differ enough for suggestions"
    selected = compare_views.use_suggestion(context, {"type": "cs-suggestion-select", "index": 0}, True, suggested, A, B, 20, 0)
    assert selected.selection == {"rows": suggested[0], "source": "compare-spaces-suggestion"} and selected.cohorts_version is dash.no_update
    saving = compare_views.use_suggestion(context, {"type": "cs-suggestion-save", "index": 0}, True, suggested, A, B, 20, 3)
    assert saving.cohorts_version == 4 and "Saved" in str(saving.feedback) and saving.selection is dash.no_update
    saved = context.store.list()[0]
    assert saved.name == "ECG only vs Joint (ECG + MRI), k=20: group 1"
    assert context.saved_cohort_mask(saved.id).sum() == len(suggested[0])
    again = compare_views.use_suggestion(context, {"type": "cs-suggestion-save", "index": 0}, True, suggested, A, B, 20, 4)
    assert "already saved as “ECG only vs Joint (ECG + MRI), k=20: group 1”" in str(again.feedback) and again.cohorts_version is dash.no_update
    assert len(context.store.list()) == 1
    unchanged = compare_views.use_suggestion(context, {"type": "cs-suggestion-select", "index": 0}, False, suggested, A, B, 20, 0)
    assert unchanged == compare_views.SuggestionUse(dash.no_update, dash.no_update, dash.no_update)  # the buttons being drawn is not a click


def test_what_a_selection_shares_reads_like_table_one_with_q_values_that_never_wrap(context):
    oldest = np.argsort(-context.cohort.phenotypes["age_years"].to_numpy())[:60]
    profile = neighbourhoods.common_profile(context, oldest)
    age = profile[profile["Variable"].str.startswith("Age")].iloc[0]
    assert float(age["Selection"]) > float(age["Everyone else"]) and float(age["Std. difference"]) > 1
    assert "×10⁻" in age["q (BH)"] and not any("e-" in q or " " in q for q in profile["q (BH)"])


def test_a_selections_profile_is_worked_out_once_whatever_the_order_of_its_rows(context, monkeypatch):
    compared = []
    monkeypatch.setattr(neighbourhoods, "compare_groups", lambda *args: compared.append(args) or compare_groups(*args))
    rows = np.arange(40, 100)
    first = neighbourhoods.common_profile(context, rows)
    again = neighbourhoods.common_profile(context, rows[::-1].copy())  # a new k or focused subject: the same selection
    other = neighbourhoods.common_profile(context, np.arange(40, 99))
    assert len(compared) == 2 and again is first and not other.equals(first)


def test_a_map_waiting_for_a_job_that_ended_without_a_result_says_so_and_stops_polling(phenotype_cohort_dir, tmp_path, monkeypatch):
    from app.panels.shown import shown_id, visible_id
    from tests.serving import callback_body

    monkeypatch.setattr(compare_views, "INLINE_SUBJECTS", 100)
    app = create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path))
    opened_panel(app, PANEL_TAB)
    client = app.server.test_client()
    settings = {"cs-space-a.value": A, "cs-space-b.value": B, "cs-layout.value": "pca", "cs-k.value": 7, "cs-metric.value": "cosine",
                "cs-trail-threshold.value": 0.3, "cs-show-trails.value": ["on"], "cs-align-on-selection.value": [], f"{visible_id(PANEL_TAB)}.data": True}
    waiting = inputs_key(A, B, "pca", 7, "cosine", None, 0.3, ["on"], [], None) + compare_settings.WAITING_MARK

    def answer(failed: int, drawn: str) -> dict:
        values = {**settings, "cs-failed.data": failed, "cs-drawn.data": drawn, f"{shown_id(PANEL_TAB)}.data": None}
        posted = client.post("/_dash-update-component", json=callback_body(app, "cs-map.figure", values, ["cs-failed.data"]))
        assert posted.status_code in (200, 204)
        return (posted.get_json(silent=True) or {}).get("response") or {}

    shown = answer(1, waiting)
    assert shown["cs-summary"]["children"] == compare_settings.NEIGHBOURS_NOT_COMPUTED
    assert "not computed" in shown["cs-map-spec"]["data"]["layout"]["annotations"][0]["text"]
    assert shown["cs-drawn"] == {"data": None} and shown["cs-poll"] == {"disabled": True}
    assert answer(2, waiting.removesuffix(compare_settings.WAITING_MARK)) == {}  # a map already drawn is left alone
    same_cache = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))
    neighbourhoods.load_comparison(same_cache, A, B, 7, "cosine", compute=True)
    assert answer(3, waiting) == {}  # its neighbours are there after all: the next poll draws them


def test_subject_records_show_each_listed_subject_with_missing_values_as_empty_cells_or_dashes(context):
    phenotypes = context.cohort.phenotypes  # this test's own copy: missing values in every kind of column
    phenotypes["age_years"] = phenotypes["age_years"].where(np.arange(len(phenotypes)) != 1)
    phenotypes["sex"] = phenotypes["sex"].where(np.arange(len(phenotypes)) != 2)
    phenotypes["atrial_fibrillation"] = phenotypes["atrial_fibrillation"].astype("boolean").where(np.arange(len(phenotypes)) != 3)
    overlap = np.linspace(0, 1, len(phenotypes))
    overlap[2] = np.nan
    records = compare_tables.subject_records(context, overlap, np.array([1, 2, 3, 0]), {"count": np.array([4, 5, 6, 7])})
    assert [record["id"] for record in records] == [1, 2, 3, 0] and [record["count"] for record in records] == [4, 5, 6, 7]
    assert [record["subject"] for record in records] == [str(phenotypes.index[row]) for row in (1, 2, 3, 0)]
    assert records[0]["age_years"] is None and records[1]["sex"] == "–" and records[2]["atrial_fibrillation"] == "–"
    assert records[1]["overlap"] is None and records[0]["overlap"] == round(float(overlap[1]), 3)
    assert records[3]["age_years"] == round(float(phenotypes["age_years"].iloc[0]), 1) and records[3]["sex"] == str(phenotypes["sex"].iloc[0])
    assert records[3]["atrial_fibrillation"] == ("yes" if phenotypes["atrial_fibrillation"].iloc[0] else "no")
    assert all(type(record["id"]) is int and type(record["count"]) is int for record in records)  # plain Python values, as JSON wants


def test_above_the_density_threshold_the_map_is_a_density_of_mean_overlap_and_a_selection_leaves_it(phenotype_cohort_dir, tmp_path):
    """As the explorer's views: above the threshold no point per subject (a million subjects, once per frame, would be ~57 MB)."""
    context = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path, density_threshold=100), load_cohort(phenotype_cohort_dir))
    drawn = overview(context)
    figure = validated(drawn.map)
    cells = figure.data[0]
    assert cells.type == "heatmap" and figure.layout.dragmode == "pan" and "density of 300 subjects" in drawn.title
    expected = compare_neighbourhoods(exact_neighbours(context.cohort.spaces[A], 20), exact_neighbours(context.cohort.spaces[B], 20)).overlap
    z = np.asarray(cells.z, dtype=float)
    assert np.nanmin(z) >= expected.min() - 1e-6 and np.nanmax(z) <= expected.max() + 1e-6 and np.isnan(z).any()
    assert len(figure.frames) == 9 and all(frame.data[0].type == "heatmap" for frame in figure.frames)
    assert drawn.most and drawn.least and drawn.suggestions is not dash.no_update  # the lists still focus and the histogram selects
    reselected = overview(context, selection={"rows": [1, 2, 3]}, triggers={"selection"})
    assert reselected.map is dash.no_update and reselected.histogram is not dash.no_update  # cells have no points to highlight


def test_a_poll_tick_finding_the_map_already_being_drawn_leaves_it_to_that_one():
    """Ticks every 1.5 s piled up a dozen identical million-subject renders while the first was still drawing."""
    from app.panels.compare_spaces.callbacks import InProgress

    drawing = InProgress()
    assert drawing.claim("ecg-joint") and not drawing.claim("ecg-joint") and drawing.claim("other settings")
    drawing.release("ecg-joint")
    assert drawing.claim("ecg-joint")  # drawn, released: the next tick (or another user) may draw again


def test_trails_are_worked_out_once_per_setting_read_only_and_equal_to_the_core_function(context):
    overview(context)
    comparison = neighbourhoods.load_comparison(context, A, B, 20, "euclidean")
    trails = neighbourhoods.changed_trails(context, A, B, "pca", 20, "euclidean", 0.4, 30)
    assert neighbourhoods.changed_trails(context, A, B, "pca", 20, "euclidean", 0.4, 30) is trails  # not gathered again on a brush
    expected = neighbour_trails(context.cached_projection(A, ProjectionSpec(method="pca")), comparison, 0.4, 30)
    np.testing.assert_array_equal(trails[0], expected[0])
    np.testing.assert_array_equal(trails[1], expected[1])
    assert not trails[0].flags.writeable and not trails[1].flags.writeable
    assert neighbourhoods.changed_trails(context, A, B, "pca", 20, "euclidean", 0.2, 30) is not trails
    stored = list((context.config.cache_dir / "neighbours").glob("*-centroids-*.npy"))
    assert len(stored) == 1  # every threshold chooses among the same stored centroids
    np.testing.assert_allclose(np.load(stored[0])[trails[0]], trails[1])


def test_what_each_list_kept_is_read_back_from_disk_by_a_fresh_process(context, monkeypatch):
    from app import comparisons
    from app.core import neighbours as core_neighbours

    first = neighbourhoods.load_comparison(context, A, B, 20, "euclidean", compute=True)
    comparisons._compared.cache_clear()  # as a new server process would start

    def not_again(*_args):
        raise AssertionError("worked out again instead of read from disk")

    monkeypatch.setattr(comparisons, "kept_both_ways", not_again)
    monkeypatch.setattr(core_neighbours, "kept_both_ways", not_again)
    again = neighbourhoods.load_comparison(context, A, B, 20, "euclidean")
    np.testing.assert_array_equal(again.overlap, first.overlap)
    np.testing.assert_array_equal(again.in_a, first.in_a)
    comparisons._compared.cache_clear()
